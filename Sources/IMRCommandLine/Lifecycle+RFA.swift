import ArgumentParser
import IMRWire
import Varlink
import Workflow

// imr-ctl rfa: receive a Request for Authorization, UR's requests for information.

package struct RFAGroup: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "rfa",
        abstract: "Record a Request for Authorization and UR's requests for information.",
        subcommands: [RFAReceive.self, RFARequestInformation.self, RFAInformationReceived.self]
    )
    package init() {}
}

struct RFAReceive: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "receive",
        abstract: "A Request for Authorization reached the claims administrator.",
        discussion: """
            Example: imr-ctl rfa receive C-1001 --item "Lumbar MRI" --item "Physical therapy x12" --received 2024-03-01T16:10 --via fax
            Items are numbered 1, 2, ... in the order given, continuing after the case's earlier items; \
            later commands name them by these numbers. A --received date without a time means the time of day is unknown.
            """
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(help: "The RFA's id within the case (default: R1, R2, ... in order).") var rfa: String?
    @Option(name: .customLong("item"), help: "A requested treatment (repeat for each).") var items: [String] = []
    @Option(help: "When it was received: YYYY-MM-DDTHH:MM (Pacific), RFC 3339, or a date.") var received: String
    @Option(help: "How it came: fax, email or mail.") var via: Transmission
    @Option(help: "The requesting physician.") var physician: String = "not recorded"
    @Option(help: "prospective, concurrent or retrospective.") var review: ReviewType = .prospective
    @Flag(help: "Expedited review (imminent and serious threat to health).") var expedited = false
    @Flag(help: "A formulary drug request.") var formulary = false
    @Option(help: "The day the physician recommended the treatment (caps UR at 14 days).") var recommended: String?

    func validate() throws {
        if items.isEmpty { throw ValidationError("name at least one requested treatment with --item \"...\"") }
    }

    func command(_ client: DaemonClient) throws -> CaseCommand {
        let (at, timeKnown) = try instant(received, option: "--received")
        let existing = try caseDetail(client, caseId)
        let first = existing.items.count + 1
        let rfaId = rfa ?? "R\(existing.rfas.count + 1)"
        return .receiveRFA(
            RFAReceived(
                rfaId: RFAID(rfaId),
                receivedAt: at,
                receivedTimeOfDayKnown: timeKnown,
                transmission: via,
                physician: physician,
                treatmentRecommendedOn: try recommended.map { try day($0, option: "--recommended") },
                reviewType: review,
                expedited: expedited,
                formulary: formulary,
                items: items.enumerated().map {
                    RequestedItem(id: ItemID(String(first + $0.offset)), description: $0.element)
                }
            )
        )
    }
}

struct RFARequestInformation: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "request-info",
        abstract: "UR asked the physician for more information."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(help: "The RFA.") var rfa: String = "R1"
    @Option(help: "The day UR asked.") var on: String = "today"
    @Option(help: "What is needed.") var need: String
    func command(_ client: DaemonClient) throws -> CaseCommand {
        .requestMoreInformation(
            MoreInformationRequested(rfaId: RFAID(rfa), requestedOn: try day(on, option: "--on"), whatIsNeeded: need)
        )
    }
}

struct RFAInformationReceived: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "info-received",
        abstract: "The information UR asked for arrived."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(help: "The RFA.") var rfa: String = "R1"
    @Option(help: "The day it arrived.") var on: String = "today"
    func command(_ client: DaemonClient) throws -> CaseCommand {
        .receiveInformation(InformationReceived(rfaId: RFAID(rfa), receivedOn: try day(on, option: "--on")))
    }
}
