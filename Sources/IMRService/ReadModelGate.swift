import EventStore
import Varlink

/// Lists refuse to read a read model that is being rebuilt: its rows are incomplete and its
/// list indexes are created only at the end of the rebuild (a list would scan the table).
enum ReadModelGate {
    static func require(_ readModels: [String], of store: EventStore, interface: String = "io.imr.Cases") throws {
        let rebuilding = store.rebuildsInProgress()
        guard let name = readModels.first(where: { rebuilding[$0] != nil }), let to = rebuilding[name] else { return }
        throw VarlinkError(
            interface + ".ReadModelRebuilding",
            parameters: [
                "readModel": .string(name), "rebuildingTo": .int(to),
                "message": .string(
                    "the \(name) read model is being rebuilt from the log (up to position \(to)) and its lists are "
                        + "incomplete until it ends; try again when `imr-ctl status` no longer says it is being rebuilt"
                ),
            ]
        )
    }
}
