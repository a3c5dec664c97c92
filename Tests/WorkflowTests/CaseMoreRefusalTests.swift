import Foundation
import Testing
@testable import Workflow

/// Refusals of facts recorded twice, texts left empty and rules of the law's effective dates.
@Suite struct CaseMoreRefusalTests {
    private func expectRefusal(
        _ h: CaseHarness,
        _ command: CaseCommand,
        _ code: CaseRuleViolation.Code,
        _ message: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let violation = h.refusal(command, sourceLocation: sourceLocation)
        #expect(violation?.code == code, sourceLocation: sourceLocation)
        #expect(violation?.message == message, sourceLocation: sourceLocation)
    }

    @Test func factsRecordedTwice_areRefused() throws {
        var h = try Example.harness(through: 2)
        let request = CaseCommand.requestMoreInformation(
            MoreInformationRequested(rfaId: "A", requestedOn: day("2024-02-27"), whatIsNeeded: "PT notes")
        )
        try h.run(request)
        expectRefusal(h, request, .alreadyRecorded, "More information for RFA A was already requested on 2024-02-27")
        let received = CaseCommand.receiveInformation(InformationReceived(rfaId: "A", receivedOn: day("2024-02-28")))
        try h.run(received)
        expectRefusal(h, received, .alreadyRecorded, "The information for RFA A was already received on 2024-02-28")
        let deferral = CaseCommand.deferUR(
            URDeferred(rfaId: "A", deferredOn: day("2024-02-28"), liabilityDispute: "AOE/COE")
        )
        try h.run(deferral)
        expectRefusal(h, deferral, .alreadyRecorded, "UR of RFA A was already deferred on 2024-02-28")

        let full = try Example.harness(through: 9)
        expectRefusal(
            full,
            .notifyPhysician(PhysicianNotified(itemIds: ["2"], notifiedAt: pacific("2024-03-06", 9), method: .email)),
            .alreadyRecorded,
            "The physician was already notified of the decision on item 2 at 2024-03-05T15:00:00-08:00"
        )
        expectRefusal(
            full,
            .serveWrittenDecision(Example.written),
            .alreadyRecorded,
            "The written UR decision on item 1 was already served on 2024-03-06"
        )
        expectRefusal(
            full,
            .receiveIMRApplication(Example.application),
            .alreadyRecorded,
            "IMR application for item 1 refused: an IMR application for item 1 was already received on 2024-03-20"
        )
        expectRefusal(
            full,
            .assignIMR(Example.assigned),
            .alreadyRecorded,
            "Item 1 was already assigned to IMR case CM24-0012345 on 2024-03-29"
        )
        expectRefusal(
            full,
            .receiveRecords(Example.records),
            .alreadyRecorded,
            "The IMRO already received the records for CM24-0012345 on 2024-04-10"
        )
    }

    @Test func deferralAfterADecision_isRefused() throws {
        let h = try Example.harness(through: 3)
        expectRefusal(
            h,
            .deferUR(URDeferred(rfaId: "A", deferredOn: day("2024-03-06"), liabilityDispute: "AOE/COE")),
            .urAlreadyDecided,
            "UR already decided items of RFA A; a deferral for disputed liability comes before any decision"
        )
    }

    @Test func secondAppealAfterResolution_isRefused() throws {
        var h = try Example.harness(through: 10, decision: .upheld)
        let appeal = CaseCommand.fileAppeal(
            WCABAppealFiled(itemIds: ["1"], filedOn: day("2024-05-20"), filedBy: .employee)
        )
        try h.run(appeal)
        try h.run(.resolveAppeal(WCABAppealResolved(itemIds: ["1"], resolvedOn: day("2024-05-28"), outcome: .denied)))
        expectRefusal(
            h,
            appeal,
            .alreadyRecorded,
            "The determination of item 1 was already appealed on 2024-05-20 (denied)"
        )
    }

    @Test func emptyTexts_andFutureDates_areRefused() throws {
        var opened = Example.opened
        opened.claimNumber = "  "
        expectRefusal(
            CaseHarness(now: Example.now),
            .openCase(opened),
            .missingText,
            "The claim number is empty; record it as the document states it"
        )
        var future = Example.opened
        future.dateOfInjury = day("2024-06-02")
        expectRefusal(
            CaseHarness(now: Example.now),
            .openCase(future),
            .dateInFuture,
            "Date of injury (2024-06-02) is in the future (today is 2024-06-01); check the date"
        )
        let h = try Example.harness(through: 5)
        expectRefusal(
            h,
            .receiveIMRApplication(IMRApplicationReceived(itemIds: ["1"], receivedOn: day("2024-06-03"))),
            .dateInFuture,
            "The IMR application (2024-06-03) is in the future (today is 2024-06-01); record facts once they happen"
        )
        expectRefusal(h, .addNote(""), .missingText, "The note is empty; record it as the document states it")
        expectRefusal(
            CaseHarness(now: Example.now),
            .addNote("hello"),
            .caseNotOpen,
            "This case has not been opened; open it with its claim number and date of injury first"
        )
    }

    @Test func injuryBefore2013_withUREarlierThanJuly2013_isNotForIMR() throws {
        var opened = Example.opened
        opened.dateOfInjury = day("2012-05-01")
        var h = CaseHarness(now: Example.now)
        try h.run(.openCase(opened))
        var rfa = Example.rfa
        rfa.receivedAt = pacific("2013-06-03", 9)
        rfa.treatmentRecommendedOn = nil
        try h.run(.receiveRFA(rfa))
        try h.run(
            .issueURDecision(
                URDecisionIssued(
                    rfaId: "A",
                    decidedAt: pacific("2013-06-07", 9),
                    decisions: [URItemDecision(itemId: "1", outcome: .denied)]
                )
            )
        )
        var served = h
        try served.run(
            .serveWrittenDecision(
                WrittenURDecisionServed(
                    itemIds: ["1"],
                    servedOn: day("2013-06-10"),
                    method: .mail,
                    destination: .california
                )
            )
        )
        expectRefusal(
            served,
            .receiveIMRApplication(IMRApplicationReceived(itemIds: ["1"], receivedOn: day("2013-07-02"))),
            .imrNotApplicable,
            "IMR application for item 1 refused: the injury of 2012-05-01 predates 2013 and the UR decision on item 1 was served on 2013-06-10, before IMR began on 2013-07-01; the WCAB decides this dispute"
        )
        // Served from 2013-07-01 on, the same old injury goes to IMR.
        try h.run(
            .serveWrittenDecision(
                WrittenURDecisionServed(
                    itemIds: ["1"],
                    servedOn: day("2013-07-01"),
                    method: .mail,
                    destination: .california
                )
            )
        )
        try h.run(.receiveIMRApplication(IMRApplicationReceived(itemIds: ["1"], receivedOn: day("2013-07-02"))))
        #expect(h.state.item("1")?.status == .imrApplied)
    }

    @Test func instantsFromARealClock_areKeptToTheSecond_soTheStoredCopyFoldsTheSame() throws {
        var h = try Example.harness(through: 2)
        h.now = Example.now.addingTimeInterval(0.734)
        let events = try h.run(.addNote("fractional"))
        guard case .noteAdded(let note) = events.first else {
            Issue.record("expected a note, got \(events)")
            return
        }
        #expect(note.writtenAt == Example.now)
        let encoded = try CaseEventCodec.encode(events[0])
        #expect(
            try CaseEventCodec.decode(
                type: encoded.type,
                schemaVersion: encoded.schemaVersion,
                payload: encoded.payload
            ) == events[0]
        )
    }
}
