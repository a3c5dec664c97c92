import ArgumentParser
import Varlink
import Workflow

// imr-ctl appeal: file, resolve.

package struct AppealGroup: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "appeal",
        abstract: "Record a WCAB appeal of a determination, and how it was resolved.",
        subcommands: [AppealFile.self, AppealResolve.self],
        defaultSubcommand: AppealFile.self
    )
    package init() {}
}

struct AppealFile: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "file",
        abstract: "A WCAB appeal was filed (the default: 'imr-ctl appeal CASE ...')."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @OptionGroup var selection: ItemSelection
    @Option(help: "The day it was filed.") var filed: String = "today"
    @Option(help: "employee or claims-administrator.") var by: String
    var method: String { "FileAppeal" }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        let by = try choice(by, AppealingParty.self, option: "--by")
        let items = try itemsOrDefault(
            selection.items,
            client,
            caseId,
            statuses: ["upheld", "overturned"],
            what: "with an IMR determination",
            lacking: "not-determined"
        )
        return [
            "itemIds": strings(items), "filedOn": .string(try When.date(filed, option: "--filed")),
            "filedBy": .string(by.rawValue),
        ]
    }
}

struct AppealResolve: RecordingCommand {
    static let configuration = CommandConfiguration(commandName: "resolve", abstract: "The WCAB resolved an appeal.")
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @OptionGroup var selection: ItemSelection
    @Option(help: "The day.") var on: String = "today"
    @Option(help: "dismissed, denied or remanded.") var outcome: String
    var method: String { "ResolveAppeal" }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        let outcome = try choice(outcome, AppealOutcome.self, option: "--outcome")
        let items = try itemsOrDefault(
            selection.items,
            client,
            caseId,
            statuses: ["appealed"],
            what: "under appeal",
            lacking: "no-appeal"
        )
        return [
            "itemIds": strings(items), "resolvedOn": .string(try When.date(on, option: "--on")),
            "outcome": .string(outcome.rawValue),
        ]
    }
}
