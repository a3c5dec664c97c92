import EventStore
import Varlink

/// Failures that are not the caller's doing, as errors each interface declares, so the client
/// gets the daemon's sentence instead of a generic Varlink error:
///
/// - `<interface>.StorageFailed(kind, message)`: the event log failed (disk full, read-only,
///   corrupt, locked, closed, I/O error); `kind` is the ``EventStoreError/Kind``.
/// - `<interface>.InternalError(message)`: anything else (a bug, an event this imr cannot read).
enum ServiceFailure {
    static func error(for failure: any Error, interface: String) -> VarlinkError {
        if let store = failure as? EventStoreError { return storageFailed(store, interface: interface) }
        if case .storage(let store)? = failure as? CaseServiceError {
            return storageFailed(store, interface: interface)
        }
        return VarlinkError("\(interface).InternalError", parameters: ["message": .string("\(failure)")])
    }

    private static func storageFailed(_ error: EventStoreError, interface: String) -> VarlinkError {
        VarlinkError(
            "\(interface).StorageFailed",
            parameters: ["kind": .string(error.kind.description), "message": .string(error.message)]
        )
    }
}
