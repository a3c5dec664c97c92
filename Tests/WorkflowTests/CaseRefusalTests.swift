import Foundation
import Testing
@testable import Workflow

@Suite struct CaseRefusalTests {
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

    // MARK: Opening

    @Test func commandsBeforeOpening_areRefused() {
        let h = CaseHarness(now: Example.now)
        expectRefusal(
            h,
            .receiveRFA(Example.rfa),
            .caseNotOpen,
            "This case has not been opened; open it with its claim number and date of injury first"
        )
    }

    @Test func openingTheSameCaseTwice_isRefused() throws {
        let h = try Example.harness(through: 1)
        expectRefusal(
            h,
            .openCase(Example.opened),
            .caseAlreadyOpen,
            "Case case-1 is already open (claim ADJ-555); a case id can be opened only once"
        )
    }

    @Test func aNameAsInjuredWorkerReference_isRefused() {
        var opened = Example.opened
        opened.injuredWorkerReference = "John Smith"
        expectRefusal(
            CaseHarness(now: Example.now),
            .openCase(opened),
            .personalDataRefused,
            "Injured-worker reference 'John Smith' is not initials or an internal id; record initials (e.g. J.S.) or your internal reference, never a name"
        )
    }

    // MARK: RFA

    @Test func rfaOnClosedOrWithdrawnCase_isRefused() throws {
        var h = try Example.harness(through: 1)
        try h.run(.withdraw(CaseWithdrawn(withdrawnOn: day("2024-01-05"), reason: "settled")))
        expectRefusal(
            h,
            .receiveRFA(Example.rfa),
            .caseWithdrawn,
            "Case case-1 was withdrawn on 2024-01-05; only notes and corrections can be recorded on it"
        )

        var closed = try Example.harness(through: 1)
        try closed.run(.close(CaseClosed(closedOn: day("2024-01-06"), reason: "no dispute")))
        expectRefusal(
            closed,
            .receiveRFA(Example.rfa),
            .caseClosed,
            "Case case-1 was closed on 2024-01-06; only notes and corrections can be recorded on it"
        )
    }

    @Test func rfaBeforeInjury_orInTheFuture_isRefused() throws {
        let h = try Example.harness(through: 1)
        var early = Example.rfa
        early.receivedAt = pacific("2023-10-01", 9)
        let violation = h.refusal(.receiveRFA(early))
        #expect(violation?.code == .dateBeforeInjury)
        #expect(violation?.message.contains("is before the date of injury (2023-11-02)") == true)

        var late = Example.rfa
        late.receivedAt = pacific("2024-06-02", 9)
        #expect(h.refusal(.receiveRFA(late))?.code == .dateInFuture)
    }

    @Test func reusedIds_andEmptyRFAs_areRefused() throws {
        let h = try Example.harness(through: 2)
        expectRefusal(
            h,
            .receiveRFA(Example.rfa),
            .duplicateRFA,
            "RFA A was already received on 2024-02-26; give a new RFA its own id"
        )
        var reused = Example.rfa
        reused.rfaId = "B"
        expectRefusal(
            h,
            .receiveRFA(reused),
            .duplicateItem,
            "Item 1 is already on RFA A; item ids are unique within a case, so give this item a new id"
        )
        var empty = Example.rfa
        empty.rfaId = "C"
        empty.items = []
        expectRefusal(h, .receiveRFA(empty), .noItems, "RFA C lists no treatment item; record at least one item")
    }

    @Test func recommendationAfterReceipt_isRefused() throws {
        var rfa = Example.rfa
        rfa.treatmentRecommendedOn = day("2024-02-27")
        expectRefusal(
            try Example.harness(through: 1),
            .receiveRFA(rfa),
            .dateBeforeTrigger,
            "RFA A was received (2024-02-26) before its treatment recommendation date (2024-02-27); check both dates"
        )
    }

    // MARK: UR

    @Test func urDecisionForUnknownItem_orTwice_isRefused() throws {
        let h = try Example.harness(through: 2)
        let unknown = URDecisionIssued(
            rfaId: "A",
            decidedAt: pacific("2024-03-05", 14),
            decisions: [URItemDecision(itemId: "9", outcome: .denied)]
        )
        expectRefusal(h, .issueURDecision(unknown), .unknownItem, "Item 9 is not on this case; its items are 1, 2")

        let decided = try Example.harness(through: 3)
        let again = URDecisionIssued(
            rfaId: "A",
            decidedAt: pacific("2024-03-06", 9),
            decisions: [URItemDecision(itemId: "1", outcome: .approved)]
        )
        expectRefusal(
            decided,
            .issueURDecision(again),
            .urAlreadyDecided,
            "UR already decided item 1 (denied) on 2024-03-05; a new decision needs a new RFA with new item ids"
        )
    }

    @Test func urDecisionBeforeRFAReceipt_isRefused() throws {
        var early = Example.urDecision
        early.decidedAt = pacific("2024-02-26", 9)
        expectRefusal(
            try Example.harness(through: 2),
            .issueURDecision(early),
            .dateBeforeTrigger,
            "The UR decision at 2024-02-26T09:00:00-08:00 is before RFA A was received at 2024-02-26T10:15:00-08:00; check both"
        )
    }

    @Test func modificationWithoutAuthorizedPortion_isRefused() throws {
        let modified = URDecisionIssued(
            rfaId: "A",
            decidedAt: pacific("2024-03-05", 14),
            decisions: [URItemDecision(itemId: "1", outcome: .modified)]
        )
        expectRefusal(
            try Example.harness(through: 2),
            .issueURDecision(modified),
            .missingText,
            "The authorized portion of modified item 1 is empty; record it as the document states it"
        )
    }

    @Test func itemOfAnotherRFA_isRefused() throws {
        var h = try Example.harness(through: 2)
        try h.run(
            .receiveRFA(
                RFAReceived(
                    rfaId: "B",
                    receivedAt: pacific("2024-02-27", 9),
                    transmission: .mail,
                    physician: "Dr. Lee",
                    reviewType: .prospective,
                    items: [RequestedItem(id: "3", description: "TENS unit")]
                )
            )
        )
        let wrong = URDecisionIssued(
            rfaId: "A",
            decidedAt: pacific("2024-03-05", 14),
            decisions: [URItemDecision(itemId: "3", outcome: .denied)]
        )
        expectRefusal(
            h,
            .issueURDecision(wrong),
            .itemNotOnRFA,
            "Item 3 is on RFA B, not RFA A; decide it under its own RFA"
        )
    }

    @Test func noticesBeforeTheDecision_areRefused() throws {
        let h = try Example.harness(through: 2)
        expectRefusal(
            h,
            .serveWrittenDecision(Example.written),
            .urNotDecided,
            "UR has not decided item 1; service of the written decision follows the UR decision"
        )
        let decided = try Example.harness(through: 3)
        expectRefusal(
            decided,
            .notifyPhysician(PhysicianNotified(itemIds: ["1"], notifiedAt: pacific("2024-03-05", 13), method: .fax)),
            .dateBeforeTrigger,
            "Notice to the physician at 2024-03-05T13:00:00-08:00 is before UR decided item 1 at 2024-03-05T14:00:00-08:00; check both"
        )
    }

    @Test func informationRequests_needAnOpenDecision_andAreNotReceivedUnasked() throws {
        let h = try Example.harness(through: 2)
        expectRefusal(
            h,
            .receiveInformation(InformationReceived(rfaId: "A", receivedOn: day("2024-03-01"))),
            .informationNotRequested,
            "UR has not requested more information for RFA A; record the request first"
        )
        let decided = try Example.harness(through: 3)
        expectRefusal(
            decided,
            .requestMoreInformation(
                MoreInformationRequested(rfaId: "A", requestedOn: day("2024-03-06"), whatIsNeeded: "notes")
            ),
            .urAlreadyDecided,
            "UR already decided every item of RFA A; more information can only be requested before the decision"
        )
        expectRefusal(
            decided,
            .deferUR(URDeferred(rfaId: "Z", deferredOn: day("2024-03-06"), liabilityDispute: "AOE/COE")),
            .unknownRFA,
            "RFA Z is not on this case; its RFAs are A"
        )
    }

    // MARK: IMR

    @Test func imrApplicationForApprovedItem_isRefused() throws {
        let h = try Example.harness(through: 5)
        expectRefusal(
            h,
            .receiveIMRApplication(IMRApplicationReceived(itemIds: ["2"], receivedOn: day("2024-03-20"))),
            .itemNotDisputable,
            "IMR application for item 2 refused: UR approved item 2 on 2024-03-05; only denied or modified items can go to IMR"
        )
    }

    @Test func imrApplicationBeforeWrittenDecision_isRefused() throws {
        let h = try Example.harness(through: 4)
        expectRefusal(
            h,
            .receiveIMRApplication(Example.application),
            .writtenDecisionNotServed,
            "IMR application for item 1 refused: the written UR decision on item 1 has not been served; record its service first"
        )
        let served = try Example.harness(through: 5)
        expectRefusal(
            served,
            .receiveIMRApplication(IMRApplicationReceived(itemIds: ["1"], receivedOn: day("2024-03-05"))),
            .dateBeforeTrigger,
            "The IMR application for item 1 (2024-03-05) is before service of the written UR decision (2024-03-06); check both dates"
        )
    }

    @Test func eligibilityWithoutApplication_orTwice_isRefused() throws {
        let h = try Example.harness(through: 5)
        expectRefusal(
            h,
            .findEligible(Example.eligible),
            .noIMRApplication,
            "No IMR application for item 1 has been received; record the application first"
        )
        let eligible = try Example.harness(through: 7)
        expectRefusal(
            eligible,
            .findIneligible(IMRFoundIneligible(itemIds: ["1"], foundOn: day("2024-03-29"), reason: .duplicate)),
            .eligibilityAlreadyDecided,
            "Item 1 was already found eligible for IMR on 2024-03-28"
        )
    }

    @Test func assignmentWithoutEligibility_isRefused() throws {
        let applied = try Example.harness(through: 6)
        expectRefusal(
            applied,
            .assignIMR(Example.assigned),
            .notEligible,
            "Item 1 cannot be assigned to IMR: no application for it has been found eligible"
        )
        var ineligible = applied
        try ineligible.run(
            .findIneligible(IMRFoundIneligible(itemIds: ["1"], foundOn: day("2024-03-25"), reason: .untimelyUR))
        )
        expectRefusal(
            ineligible,
            .assignIMR(Example.assigned),
            .notEligible,
            "Item 1 cannot be assigned to IMR: its application was found ineligible on 2024-03-25"
        )
    }

    @Test func malformedIMRCaseNumber_isRefused() {
        #expect(IMRCaseNumber("CM24-0012345") != nil)
        for bad in [
            "CM2-0012345", "CM24-001234", "cm24-0012345", "CM24_0012345", "CM24-00123456", "XX24-0012345",
            "CM2A-0012345",
        ] {
            #expect(IMRCaseNumber(bad) == nil, "\(bad)")
        }
        let violation = #expect(throws: CaseRuleViolation.self) { try IMRCaseNumber.parse("CM24-12345") }
        #expect(violation?.code == .invalidIMRCaseNumber)
        #expect(
            violation?.message
                == "IMR case number 'CM24-12345' is not valid: it must read CM, two digits, a hyphen and seven digits, e.g. CM13-0050377"
        )
    }

    @Test func determinationForUnassignedItem_orWrongCaseNumber_isRefused() throws {
        let h = try Example.harness(through: 9)
        var wrongNumber = Example.determination(.upheld)
        wrongNumber.imrCaseNumber = imrNumber("CM24-0099999")
        expectRefusal(
            h,
            .issueDetermination(wrongNumber),
            .imrCaseNumberMismatch,
            "Item 1 is assigned to IMR case CM24-0012345, not CM24-0099999; check the letter's case number"
        )
        var unassigned = Example.determination(.upheld)
        unassigned.items[0].itemId = "2"
        expectRefusal(
            h,
            .issueDetermination(unassigned),
            .notAssigned,
            "Item 2 is not assigned to IMR; a final determination can only decide assigned items"
        )
        expectRefusal(
            h,
            .receiveRecords(
                IMRRecordsReceived(imrCaseNumber: imrNumber("CM24-0099999"), receivedOn: day("2024-04-10"))
            ),
            .unknownIMRCaseNumber,
            "No item of this case is assigned to IMR case CM24-0099999; its IMR case numbers are CM24-0012345"
        )
        var mailedEarly = Example.determination(.upheld)
        mailedEarly.mailedOn = day("2024-04-29")
        expectRefusal(
            h,
            .issueDetermination(mailedEarly),
            .dateBeforeTrigger,
            "The mailing of determination CM24-0012345 (2024-04-29) is before its decision date (2024-04-30); check both dates"
        )
    }

    @Test func secondDetermination_isRefused() throws {
        let h = try Example.harness(through: 10, decision: .upheld)
        expectRefusal(
            h,
            .issueDetermination(Example.determination(.overturned)),
            .alreadyDetermined,
            "IMR already decided item 1 (upheld) on 2024-04-30 under CM24-0012345"
        )
    }

    @Test func implementingAnUpheldItem_orTwice_isRefused() throws {
        let upheld = try Example.harness(through: 10, decision: .upheld)
        let implement = CaseCommand.implementDetermination(
            DeterminationImplemented(itemId: "1", implementedOn: day("2024-05-06"), kind: .authorized)
        )
        expectRefusal(
            upheld,
            implement,
            .notOverturned,
            "Item 1 cannot be implemented: IMR upheld the UR decision on 2024-04-30; only overturned items are implemented"
        )
        var overturned = try Example.harness(through: 10)
        try overturned.run(implement)
        expectRefusal(overturned, implement, .alreadyImplemented, "Item 1 was already implemented on 2024-05-06")
        expectRefusal(
            try Example.harness(through: 9),
            implement,
            .notDetermined,
            "Item 1 has no IMR determination; only an overturned item is implemented"
        )
    }

    // MARK: Appeal and closing

    @Test func appealBeforeDetermination_isRefused() throws {
        let h = try Example.harness(through: 9)
        expectRefusal(
            h,
            .fileAppeal(WCABAppealFiled(itemIds: ["1"], filedOn: day("2024-05-20"), filedBy: .employee)),
            .notDetermined,
            "Appeal of item 1 refused: IMR has not determined item 1; the WCAB hears appeals of final determinations only"
        )
    }

    @Test func secondAppealWhilePending_andResolutionWithoutAppeal_areRefused() throws {
        var h = try Example.harness(through: 10, decision: .upheld)
        let resolve = CaseCommand.resolveAppeal(
            WCABAppealResolved(itemIds: ["1"], resolvedOn: day("2024-05-28"), outcome: .denied)
        )
        expectRefusal(h, resolve, .noAppeal, "No appeal of item 1 is pending; record the appeal first")
        let appeal = CaseCommand.fileAppeal(
            WCABAppealFiled(itemIds: ["1"], filedOn: day("2024-05-20"), filedBy: .employee)
        )
        try h.run(appeal)
        expectRefusal(h, appeal, .appealPending, "An appeal of item 1 filed on 2024-05-20 is still pending")
    }

    @Test func closingWithUnresolvedItems_isRefused() throws {
        let h = try Example.harness(through: 8)
        expectRefusal(
            h,
            .close(CaseClosed(closedOn: day("2024-04-01"), reason: "done")),
            .itemsUnresolved,
            "Case case-1 cannot be closed: item 1 awaits the IMR determination (CM24-0012345); record those steps or withdraw the case"
        )
    }

    @Test func itemsNamedTwice_orNone_areRefused() throws {
        let h = try Example.harness(through: 3)
        expectRefusal(
            h,
            .serveWrittenDecision(
                WrittenURDecisionServed(
                    itemIds: ["1", "1"],
                    servedOn: day("2024-03-06"),
                    method: .fax,
                    destination: .california
                )
            ),
            .duplicateItem,
            "The written UR decision names item 1 twice"
        )
        expectRefusal(
            h,
            .serveWrittenDecision(
                WrittenURDecisionServed(
                    itemIds: [],
                    servedOn: day("2024-03-06"),
                    method: .fax,
                    destination: .california
                )
            ),
            .noItems,
            "The written UR decision names no item; name the items it covers"
        )
    }

    @Test func reassigningToTheSameCoordinator_isRefused() throws {
        expectRefusal(
            try Example.harness(through: 1),
            .reassignCoordinator(to: "maria"),
            .sameCoordinator,
            "maria already coordinates this case"
        )
    }
}
