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
    func command(_ client: DaemonClient) throws -> CaseCommand {
        let by = try choice(by, AppealingParty.self, option: "--by")
        let items = try itemsOrDefault(
            selection.items,
            client,
            caseId,
            statuses: ["upheld", "overturned"],
            what: "with an IMR determination",
            lacking: "not-determined"
        )
        return .fileAppeal(
            WCABAppealFiled(itemIds: itemIDs(items), filedOn: try day(filed, option: "--filed"), filedBy: by)
        )
    }
}

struct AppealResolve: RecordingCommand {
    static let configuration = CommandConfiguration(commandName: "resolve", abstract: "The WCAB resolved an appeal.")
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @OptionGroup var selection: ItemSelection
    @Option(help: "The day.") var on: String = "today"
    @Option(help: "dismissed, denied or remanded.") var outcome: String
    func command(_ client: DaemonClient) throws -> CaseCommand {
        let outcome = try choice(outcome, AppealOutcome.self, option: "--outcome")
        let items = try itemsOrDefault(
            selection.items,
            client,
            caseId,
            statuses: ["appealed"],
            what: "under appeal",
            lacking: "no-appeal"
        )
        return .resolveAppeal(
            WCABAppealResolved(itemIds: itemIDs(items), resolvedOn: try day(on, option: "--on"), outcome: outcome)
        )
    }
}
