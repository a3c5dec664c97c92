import ArgumentParser
import Varlink
import Workflow

// imr-ctl ur: decide, defer, notify, serve.

package struct URGroup: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "ur",
        abstract: "Record Utilization Review: decision, deferral, notice to the physician, written service.",
        subcommands: [URDecide.self, URDefer.self, URNotify.self, URServe.self]
    )
    package init() {}
}

struct URDecide: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "decide",
        abstract: "UR decided some or all items of an RFA.",
        discussion: """
            Example: imr-ctl ur decide C-1001 --rfa R1 --item 1=denied --item 2=approved --at 2024-03-05T11:00
            A modification names the authorized portion: --item '3=modified:6 sessions'.
            """
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(help: "The RFA.") var rfa: String = "R1"
    @Option(name: .customLong("item"), help: "ITEM=approved|denied|modified:PORTION (repeat for each item).")
    var decisions: [String] = []
    @Option(help: "When UR decided: an instant.") var at: String = "now"

    func validate() throws {
        if decisions.isEmpty {
            throw ValidationError("give each decided item with --item ITEM=approved|denied|modified:PORTION")
        }
    }

    func command(_ client: DaemonClient) throws -> CaseCommand {
        let decisions = try self.decisions.map { text in
            let (item, value) = try pair(text, option: "--item", example: "1=denied")
            let parts = value.split(separator: ":", maxSplits: 1).map(String.init)
            let outcome = try choice(parts[0], URItemOutcome.self, option: "--item \(item)")
            var portion: String?
            if outcome == .modified {
                guard parts.count == 2, !parts[1].isEmpty else {
                    throw ValidationError(
                        "--item \(item)=modified needs the authorized portion: --item '\(item)=modified:6 sessions'"
                    )
                }
                portion = parts[1]
            }
            return URItemDecision(itemId: ItemID(item), outcome: outcome, authorizedPortion: portion)
        }
        return .issueURDecision(
            URDecisionIssued(rfaId: RFAID(rfa), decidedAt: try instant(at, option: "--at").at, decisions: decisions)
        )
    }
}

struct URDefer: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "defer",
        abstract: "UR deferred the decision because liability is disputed."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(help: "The RFA.") var rfa: String = "R1"
    @Option(help: "The day UR deferred.") var on: String = "today"
    @Option(name: .customLong("liability-dispute"), help: "The liability dispute.") var liabilityDispute: String
    func command(_ client: DaemonClient) throws -> CaseCommand {
        .deferUR(
            URDeferred(rfaId: RFAID(rfa), deferredOn: try day(on, option: "--on"), liabilityDispute: liabilityDispute)
        )
    }
}

struct URNotify: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify",
        abstract: "The requesting physician was told of the UR decision."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(name: .customLong("item"), help: "An item (repeat; default: every decided item).") var items: [String] = []
    @Option(help: "When (an instant).") var at: String = "now"
    @Option(help: "How: fax, email, mail, electronic or personal.") var via: ServiceMethod
    func command(_ client: DaemonClient) throws -> CaseCommand {
        let items = try itemsOrDefault(
            self.items,
            client,
            caseId,
            statuses: ["approved", "modified", "denied"],
            without: { $0.physicianNotifiedAt != nil },
            what: "with a UR decision the physician has not been told of"
        )
        return .notifyPhysician(
            PhysicianNotified(itemIds: itemIDs(items), notifiedAt: try instant(at, option: "--at").at, method: via)
        )
    }
}

struct URServe: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "The written UR decision was served on the parties."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(name: .customLong("item"), help: "An item (repeat; default: every decided item).") var items: [String] = []
    @Option(help: "The day it was served.") var on: String = "today"
    @Option(help: "How: mail, fax, email, electronic or personal.") var via: ServiceMethod = .mail
    @Option(help: "Where the employee's address is: california, other-state or outside-us.") var destination: String =
        "california"
    func command(_ client: DaemonClient) throws -> CaseCommand {
        let destination = try choice(destination, ServiceDestination.self, option: "--destination")
        let items = try itemsOrDefault(
            self.items,
            client,
            caseId,
            statuses: ["approved", "modified", "denied"],
            without: { $0.writtenDecisionServedOn != nil },
            what: "with a UR decision not yet served"
        )
        return .serveWrittenDecision(
            WrittenURDecisionServed(
                itemIds: itemIDs(items),
                servedOn: try day(on, option: "--on"),
                method: via,
                destination: destination
            )
        )
    }
}
