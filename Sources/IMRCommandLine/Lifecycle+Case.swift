import ArgumentParser
import Workflow
import Varlink

// imr-ctl case: open, close, withdraw, reassign, note.

package struct CaseGroup: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "case",
        abstract: "Open, close, withdraw or reassign a case, or add a note.",
        subcommands: [CaseOpen.self, CaseClose.self, CaseWithdraw.self, CaseReassign.self, CaseNote.self]
    )
    package init() {}
}

struct CaseOpen: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "open",
        abstract: "Start tracking a dispute.",
        discussion:
            "Example: imr-ctl case open C-1001 --claim 05A-123456 --employer 'Acme Foods' --administrator 'Pacific Claims' --worker J.D. --injured 2023-06-14 --coordinator alice"
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case id you choose (e.g. your file number): 1 to 64 ASCII letters, digits and - _ . : / #.")
    var caseId: String
    @Option(help: "The claim number: 1 to 64 ASCII letters, digits, spaces and - _ . : / # ( ).") var claim: String
    @Option(help: "The employer.") var employer: String
    @Option(help: "The claims administrator.") var administrator: String
    @Option(help: "The injured worker: initials or an internal reference, never a name.") var worker: String
    @Option(help: "The date of injury (YYYY-MM-DD).") var injured: String
    @Option(
        help:
            "The coordinator who follows the case (default: your user name): 1 to 64 ASCII letters, digits and . _ - @."
    ) var coordinator: String?

    func command(_ client: DaemonClient) throws -> CaseCommand {
        .openCase(
            CaseOpened(
                caseId: CaseID(caseId),
                claimNumber: claim,
                employer: employer,
                claimsAdministrator: administrator,
                injuredWorkerReference: worker,
                dateOfInjury: try day(injured, option: "--injured"),
                coordinator: coordinator ?? currentUserName()
            )
        )
    }
}

struct CaseClose: RecordingCommand {
    static let configuration = CommandConfiguration(commandName: "close", abstract: "Close a case.")
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(help: "The day it closed.") var on: String = "today"
    @Option(help: "Why.") var reason: String
    func command(_ client: DaemonClient) throws -> CaseCommand {
        .close(CaseClosed(closedOn: try day(on, option: "--on"), reason: reason))
    }
}

struct CaseWithdraw: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "withdraw",
        abstract: "Record that the dispute was withdrawn."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(help: "The day it was withdrawn.") var on: String = "today"
    @Option(help: "Why.") var reason: String
    func command(_ client: DaemonClient) throws -> CaseCommand {
        .withdraw(CaseWithdrawn(withdrawnOn: try day(on, option: "--on"), reason: reason))
    }
}

struct CaseReassign: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "reassign",
        abstract: "Move a case to another coordinator."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(help: "The new coordinator.") var to: String
    func command(_ client: DaemonClient) throws -> CaseCommand { .reassignCoordinator(to: to) }
}

struct CaseNote: RecordingCommand {
    static let configuration = CommandConfiguration(commandName: "note", abstract: "Add a free-text note to a case.")
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Argument(help: "The note: at most 10,000 characters; newline and tab are the only control characters allowed.")
    var text: String
    func command(_ client: DaemonClient) throws -> CaseCommand { .addNote(text) }
}
