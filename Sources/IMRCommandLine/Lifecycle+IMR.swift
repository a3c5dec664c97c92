import ArgumentParser
import Varlink
import Workflow

// imr-ctl imr: application, eligibility, assignment, records, determination; and imr-ctl
// implement, the step after an overturning determination.

package struct IMRGroup: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "imr",
        abstract: "Record Independent Medical Review: application, eligibility, assignment, records, determination.",
        subcommands: [
            IMRApply.self, IMRRequestEligibilityInformation.self, IMRSendEligibilityInformation.self, IMREligible.self,
            IMRIneligible.self, IMRAssign.self, IMRRecords.self, IMRDetermine.self,
        ]
    )
    package init() {}
}

struct IMRApply: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "The Administrative Director received the employee's IMR application."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @OptionGroup var selection: ItemSelection
    @Option(help: "The day it was received.") var received: String = "today"
    func command(_ client: DaemonClient) throws -> CaseCommand {
        let items = try itemsOrDefault(
            selection.items,
            client,
            caseId,
            statuses: ["denied", "modified"],
            what: "denied or modified by UR",
            lacking: "ur-not-decided"
        )
        return .receiveIMRApplication(
            IMRApplicationReceived(itemIds: itemIDs(items), receivedOn: try day(received, option: "--received"))
        )
    }
}

struct IMRRequestEligibilityInformation: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "request-eligibility-info",
        abstract: "The Administrative Director asked the parties for eligibility information."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @OptionGroup var selection: ItemSelection
    @Option(help: "The day the request reached the parties.") var on: String = "today"
    @Option(help: "What is requested.") var what: String
    @Option(name: .customLong("from"), help: "employee and/or claims-administrator (repeat).") var parties: [String] = [
        "employee", "claims-administrator",
    ]
    func command(_ client: DaemonClient) throws -> CaseCommand {
        let parties = try self.parties.map { try choice($0, EligibilityInformationParty.self, option: "--from") }
        let items = try itemsOrDefault(
            selection.items,
            client,
            caseId,
            statuses: ["imrApplied"],
            without: { $0.eligibilityInformationRequestedOn != nil },
            what: "with an IMR application",
            lacking: "no-imr-application"
        )
        return .requestEligibilityInformation(
            IMREligibilityInformationRequested(
                itemIds: itemIDs(items),
                requestedOn: try day(on, option: "--on"),
                whatIsRequested: what,
                requestedFrom: parties
            )
        )
    }
}

struct IMRSendEligibilityInformation: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "send-eligibility-info",
        abstract: "The parties sent the eligibility information asked for."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @OptionGroup var selection: ItemSelection
    @Option(help: "The day it was sent.") var on: String = "today"
    func command(_ client: DaemonClient) throws -> CaseCommand {
        let items = try itemsOrDefault(
            selection.items,
            client,
            caseId,
            statuses: ["imrApplied"],
            without: { $0.eligibilityInformationSentOn != nil },
            what: "awaiting eligibility information"
        )
        return .sendEligibilityInformation(
            IMREligibilityInformationSent(itemIds: itemIDs(items), sentOn: try day(on, option: "--on"))
        )
    }
}

struct IMREligible: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "eligible",
        abstract: "The application was found eligible."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @OptionGroup var selection: ItemSelection
    @Option(help: "The day.") var on: String = "today"
    func command(_ client: DaemonClient) throws -> CaseCommand {
        let items = try itemsOrDefault(
            selection.items,
            client,
            caseId,
            statuses: ["imrApplied"],
            what: "with an IMR application",
            lacking: "no-imr-application"
        )
        return .findEligible(IMREligibilityFound(itemIds: itemIDs(items), foundOn: try day(on, option: "--on")))
    }
}

struct IMRIneligible: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "ineligible",
        abstract: "The application was found ineligible."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @OptionGroup var selection: ItemSelection
    @Option(help: "The day.") var on: String = "today"
    @Option(help: "late, no-ur-denial, untimely-ur, duplicate, already-decided or other.") var reason: String
    @Option(help: "Details.") var detail: String?
    func command(_ client: DaemonClient) throws -> CaseCommand {
        let reason = try choice(reason, IneligibilityReason.self, option: "--reason")
        let items = try itemsOrDefault(
            selection.items,
            client,
            caseId,
            statuses: ["imrApplied"],
            what: "with an IMR application",
            lacking: "no-imr-application"
        )
        return .findIneligible(
            IMRFoundIneligible(
                itemIds: itemIDs(items),
                foundOn: try day(on, option: "--on"),
                reason: reason,
                detail: detail
            )
        )
    }
}

struct IMRAssign: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "assign",
        abstract: "The IMR organization was assigned.",
        discussion: "Example: imr-ctl imr assign C-1001 --imr-case CM24-0012345 --assigned 2024-04-02"
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @OptionGroup var selection: ItemSelection
    @Option(name: .customLong("imr-case"), help: "The IMR case number, e.g. CM24-0012345.") var imrCase: String
    @Option(help: "The day of assignment.") var assigned: String = "today"
    @Option(help: "standard or expedited.") var priority: IMRPriority = .standard
    @Option(help: "How the notice of assignment was sent: mail or electronic.") var notice: String = "mail"
    func command(_ client: DaemonClient) throws -> CaseCommand {
        let notice = try choice(notice, AssignmentNoticeMethod.self, option: "--notice")
        let items = try itemsOrDefault(
            selection.items,
            client,
            caseId,
            statuses: ["imrApplied", "imrEligible"],
            what: "with an IMR application"
        )
        return .assignIMR(
            IMRAssigned(
                itemIds: itemIDs(items),
                imrCaseNumber: try imrCaseNumber(imrCase),
                assignedOn: try day(assigned, option: "--assigned"),
                priority: priority,
                noticeMethod: notice
            )
        )
    }
}

struct IMRRecords: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "records",
        abstract: "The IMR organization received the medical records."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(name: .customLong("imr-case"), help: "The IMR case number.") var imrCase: String
    @Option(help: "The day they were received.") var received: String = "today"
    func command(_ client: DaemonClient) throws -> CaseCommand {
        .receiveRecords(
            IMRRecordsReceived(
                imrCaseNumber: try imrCaseNumber(imrCase),
                receivedOn: try day(received, option: "--received")
            )
        )
    }
}

struct IMRDetermine: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "determine",
        abstract: "Record the IMR Final Determination.",
        discussion: """
            Example: imr-ctl imr determine C-1001 --imr-case CM24-0012345 --decided 2024-05-10 --item 1=overturned --item 2=upheld \\
                       --guideline '1=MTUS ACOEM Low Back' --specialty 'Orthopedic Surgery'
            To import the letter itself, use 'imr-ctl import FILE'.
            """
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(name: .customLong("imr-case"), help: "The IMR case number.") var imrCase: String
    @Option(help: "The day of the determination.") var decided: String
    @Option(help: "The day it was mailed (when unknown, the deadlines count from the determination and say so).")
    var mailed: String?
    @Option(help: "The reviewer's specialty.") var specialty: String = "not stated"
    @Option(name: .customLong("item"), help: "ITEM=upheld|overturned (repeat for each item).") var decisions: [String] =
        []
    @Option(name: .customLong("guideline"), help: "ITEM=guideline the reviewer relied on (repeat).") var guidelines:
        [String] = []
    @Option(name: .customLong("rationale"), help: "ITEM=summary of the rationale (repeat).") var rationales: [String] =
        []

    func validate() throws {
        if decisions.isEmpty { throw ValidationError("give each item's decision with --item ITEM=upheld|overturned") }
    }

    func command(_ client: DaemonClient) throws -> CaseCommand {
        let guideline = Dictionary(
            try guidelines.map { try pair($0, option: "--guideline", example: "1='MTUS Chronic Pain'") },
            uniquingKeysWith: { $1 }
        )
        let rationale = Dictionary(
            try rationales.map { try pair($0, option: "--rationale", example: "1='not medically necessary'") },
            uniquingKeysWith: { $1 }
        )
        let items = try decisions.map { text in
            let (item, value) = try pair(text, option: "--item", example: "1=overturned")
            let decision = try choice(value, IMRItemDecision.self, option: "--item \(item)")
            return IMRItemDetermination(
                itemId: ItemID(item),
                decision: decision,
                guideline: guideline[item] ?? "",
                rationaleSummary: rationale[item] ?? ""
            )
        }
        let decidedOn = try day(decided, option: "--decided")
        return .issueDetermination(
            IMRDeterminationIssued(
                imrCaseNumber: try imrCaseNumber(imrCase),
                decidedOn: decidedOn,
                mailedOn: try mailed.map { try day($0, option: "--mailed") },
                reviewerSpecialty: specialty,
                items: items
            )
        )
    }
}

// MARK: - implement

struct Implement: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "implement",
        abstract: "An overturned item was implemented (authorized or reimbursed)."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(help: "The item.") var item: String
    @Option(help: "The day.") var on: String = "today"
    @Option(help: "authorized or reimbursed.") var kind: String = "authorized"
    func command(_ client: DaemonClient) throws -> CaseCommand {
        let kind = try choice(kind, ImplementationKind.self, option: "--kind")
        return .implementDetermination(
            DeterminationImplemented(itemId: ItemID(item), implementedOn: try day(on, option: "--on"), kind: kind)
        )
    }
}

extension IMRPriority: ExpressibleByArgument {}
