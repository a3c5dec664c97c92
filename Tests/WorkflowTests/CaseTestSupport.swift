import Foundation
import Testing
@testable import Workflow

/// A day by its ISO spelling; test data only.
func day(_ iso: String) -> LocalDate { LocalDate(iso: iso)! }

/// A Pacific wall-clock instant; test data only.
func pacific(_ iso: String, _ hour: Int, _ minute: Int = 0) -> Date {
    Pacific.instant(day(iso), hour: hour, minute: minute)
}

func imrNumber(_ text: String) -> IMRCaseNumber { IMRCaseNumber(text)! }

/// Deterministic event ids, so two folds of the same commands build equal logs.
func eventId(_ n: Int) -> UUID {
    UUID(uuidString: String(format: "00000000-0000-4000-8000-%012d", n))!
}

/// Runs commands through `decide` and folds what they return, as the service layer will.
struct CaseHarness {
    var state = CaseState()
    var log: [RecordedCaseEvent] = []
    var now: Date

    init(now: Date) { self.now = now }

    @discardableResult
    mutating func run(_ command: CaseCommand) throws -> [CaseEvent] {
        let events = try decide(command, state: state, now: now)
        for event in events {
            let recorded = RecordedCaseEvent(
                event: event,
                version: log.count + 1,
                eventId: eventId(log.count + 1),
                recordedAt: now
            )
            log.append(recorded)
            state = evolve(state, recorded)
        }
        return events
    }

    /// The refusal `command` meets; records a test failure when it is accepted.
    func refusal(_ command: CaseCommand, sourceLocation: SourceLocation = #_sourceLocation) -> CaseRuleViolation? {
        #expect(throws: CaseRuleViolation.self, sourceLocation: sourceLocation) {
            try decide(command, state: state, now: now)
        }
    }
}

/// The running example: one RFA with two items, both decided on 2024-03-05.
enum Example {
    static let dateOfInjury = day("2023-11-02")
    static let now = pacific("2024-06-01", 9)
    static let caseNumber = imrNumber("CM24-0012345")

    static let opened = CaseOpened(
        caseId: "case-1",
        claimNumber: "ADJ-555",
        employer: "Acme Produce",
        claimsAdministrator: "Golden TPA",
        injuredWorkerReference: "J.S.",
        dateOfInjury: dateOfInjury,
        coordinator: "maria"
    )

    static let rfa = RFAReceived(
        rfaId: "A",
        receivedAt: pacific("2024-02-26", 10, 15),
        transmission: .fax,
        physician: "Dr. Lee",
        treatmentRecommendedOn: day("2024-02-20"),
        reviewType: .prospective,
        items: [
            RequestedItem(id: "1", description: "8 massage therapy visits lumbar spine"),
            RequestedItem(id: "2", description: "MRI lumbar spine"),
        ]
    )

    static let urDecision = URDecisionIssued(
        rfaId: "A",
        decidedAt: pacific("2024-03-05", 14),
        decisions: [URItemDecision(itemId: "1", outcome: .denied), URItemDecision(itemId: "2", outcome: .approved)]
    )

    static let written = WrittenURDecisionServed(
        itemIds: ["1", "2"],
        servedOn: day("2024-03-06"),
        method: .mail,
        destination: .california
    )

    static let application = IMRApplicationReceived(itemIds: ["1"], receivedOn: day("2024-03-20"))
    static let eligible = IMREligibilityFound(itemIds: ["1"], foundOn: day("2024-03-28"))
    static let assigned = IMRAssigned(
        itemIds: ["1"],
        imrCaseNumber: caseNumber,
        assignedOn: day("2024-03-29"),
        priority: .standard,
        noticeMethod: .mail
    )
    static let records = IMRRecordsReceived(imrCaseNumber: caseNumber, receivedOn: day("2024-04-10"))
    static func determination(_ decision: IMRItemDecision) -> IMRDeterminationIssued {
        IMRDeterminationIssued(
            imrCaseNumber: caseNumber,
            decidedOn: day("2024-04-30"),
            mailedOn: day("2024-05-01"),
            reviewerSpecialty: "Physical Medicine and Rehabilitation",
            items: [
                IMRItemDetermination(
                    itemId: "1",
                    decision: decision,
                    guideline: "MTUS Chronic Pain Guidelines",
                    rationaleSummary: "Massage is recommended as an adjunct for up to 6 visits"
                )
            ]
        )
    }

    /// A harness with the case carried through `steps` commands of the lifecycle.
    static func harness(through steps: Int, decision: IMRItemDecision = .overturned) throws -> CaseHarness {
        var h = CaseHarness(now: now)
        let commands: [CaseCommand] = [
            .openCase(opened), .receiveRFA(rfa), .issueURDecision(urDecision),
            .notifyPhysician(
                PhysicianNotified(itemIds: ["1", "2"], notifiedAt: pacific("2024-03-05", 15), method: .fax)
            ),
            .serveWrittenDecision(written), .receiveIMRApplication(application), .findEligible(eligible),
            .assignIMR(assigned), .receiveRecords(records), .issueDetermination(determination(decision)),
        ]
        for command in commands.prefix(steps) { try h.run(command) }
        return h
    }
}
