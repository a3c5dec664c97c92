import Foundation
import Testing
@testable import Workflow

@Suite struct CaseLifecycleTests {
    @Test func wholeLifecycle_deniedItemGoesThroughIMR_approvedItemStaysDecided() throws {
        var h = CaseHarness(now: Example.now)
        #expect(h.state.facts == nil)

        try h.run(.openCase(Example.opened))
        #expect(h.state.stage == .opened)
        #expect(h.state.facts?.dateOfInjury == Example.dateOfInjury)
        #expect(h.state.facts?.injuredWorkerReference == "J.S.")
        #expect(h.state.coordinator == "maria")
        #expect(h.state.version == 1)

        try h.run(.receiveRFA(Example.rfa))
        #expect(h.state.stage == .rfaReceived)
        let rfa = try #require(h.state.rfa("A"))
        #expect(rfa.receivedAt == Example.rfa.receivedAt)
        #expect(rfa.transmission == .fax)
        #expect(rfa.reviewType == .prospective)
        #expect(rfa.treatmentRecommendedOn == day("2024-02-20"))
        #expect(rfa.itemIds == ["1", "2"])
        #expect(h.state.items.map(\.status) == [.pendingUR, .pendingUR])
        #expect(h.state.item("1")?.history.map(\.on) == [day("2024-02-26")])

        try h.run(.issueURDecision(Example.urDecision))
        #expect(h.state.stage == .urDecided)
        #expect(h.state.item("1")?.status == .denied)
        #expect(h.state.item("2")?.status == .approved)
        #expect(h.state.item("1")?.urDecidedAt == pacific("2024-03-05", 14))

        try h.run(
            .notifyPhysician(
                PhysicianNotified(itemIds: ["1", "2"], notifiedAt: pacific("2024-03-05", 15), method: .fax)
            )
        )
        #expect(h.state.item("2")?.physicianNotifiedAt == pacific("2024-03-05", 15))
        #expect(h.state.item("2")?.physicianNotificationMethod == .fax)

        try h.run(.serveWrittenDecision(Example.written))
        #expect(h.state.stage == .urDecided)
        #expect(h.state.item("1")?.writtenDecisionServedOn == day("2024-03-06"))
        #expect(h.state.item("1")?.writtenDecisionServiceMethod == .mail)
        #expect(h.state.item("1")?.writtenDecisionServiceDestination == .california)

        try h.run(.receiveIMRApplication(Example.application))
        #expect(h.state.stage == .imrApplied)
        #expect(h.state.item("1")?.status == .imrApplied)
        #expect(h.state.item("1")?.imrApplicationReceivedOn == day("2024-03-20"))
        #expect(h.state.item("2")?.status == .approved)

        try h.run(.findEligible(Example.eligible))
        #expect(h.state.stage == .imrEligible)
        #expect(h.state.item("1")?.imrEligibleOn == day("2024-03-28"))

        try h.run(.assignIMR(Example.assigned))
        #expect(h.state.stage == .imrAssigned)
        let assigned = try #require(h.state.item("1"))
        #expect(assigned.imrCaseNumber == Example.caseNumber)
        #expect(assigned.imrAssignedOn == day("2024-03-29"))
        #expect(assigned.imrPriority == .standard)
        #expect(assigned.assignmentNoticeMethod == .mail)

        try h.run(.receiveRecords(Example.records))
        #expect(h.state.stage == .imrAssigned)
        #expect(h.state.item("1")?.recordsReceivedOn == day("2024-04-10"))

        try h.run(.issueDetermination(Example.determination(.overturned)))
        #expect(h.state.stage == .determined)
        let determined = try #require(h.state.item("1"))
        #expect(determined.status == .overturned)
        #expect(determined.determinationDecidedOn == day("2024-04-30"))
        #expect(determined.determinationMailedOn == day("2024-05-01"))
        #expect(determined.reviewerSpecialty == "Physical Medicine and Rehabilitation")
        #expect(determined.guideline == "MTUS Chronic Pain Guidelines")

        try h.run(
            .implementDetermination(
                DeterminationImplemented(itemId: "1", implementedOn: day("2024-05-06"), kind: .authorized)
            )
        )
        #expect(h.state.stage == .implemented)
        #expect(h.state.item("1")?.status == .implemented)
        #expect(h.state.item("1")?.implementationKind == .authorized)

        try h.run(.close(CaseClosed(closedOn: day("2024-05-07"), reason: "all items resolved")))
        #expect(h.state.stage == .closed)
        #expect(h.state.closedOn == day("2024-05-07"))
        #expect(!h.state.isOpen)
        #expect(h.state.version == 12)

        #expect(
            h.state.item("1")?.history.map(\.event) == [
                "RFAReceived", "URDecisionIssued", "PhysicianNotified", "WrittenURDecisionServed",
                "IMRApplicationReceived", "IMREligibilityFound", "IMRAssigned", "IMRRecordsReceived",
                "IMRDeterminationIssued", "DeterminationImplemented",
            ]
        )
        #expect(CaseState.rebuild(from: h.log) == h.state)
    }

    @Test func informationRequestAndDeferral_putTheCaseUnderReview_andAreKeptOnTheRFA() throws {
        var h = try Example.harness(through: 2)
        try h.run(
            .requestMoreInformation(
                MoreInformationRequested(rfaId: "A", requestedOn: day("2024-02-28"), whatIsNeeded: "PT notes")
            )
        )
        #expect(h.state.stage == .underReview)
        try h.run(.receiveInformation(InformationReceived(rfaId: "A", receivedOn: day("2024-03-01"))))
        try h.run(
            .deferUR(URDeferred(rfaId: "A", deferredOn: day("2024-03-01"), liabilityDispute: "body part disputed"))
        )
        let rfa = try #require(h.state.rfa("A"))
        #expect(rfa.informationRequestedOn == day("2024-02-28"))
        #expect(rfa.informationReceivedOn == day("2024-03-01"))
        #expect(rfa.deferredOn == day("2024-03-01"))
        #expect(rfa.liabilityDispute == "body part disputed")
    }

    @Test func itemsMoveOnTheirOwn_secondRFAAndModifiedItemTrackedSeparately() throws {
        var h = try Example.harness(through: 5)
        let second = RFAReceived(
            rfaId: "B",
            receivedAt: pacific("2024-03-10", 9),
            transmission: .email,
            physician: "Dr. Lee",
            reviewType: .retrospective,
            expedited: true,
            formulary: true,
            items: [RequestedItem(id: "3", description: "Tramadol 50mg #60")]
        )
        try h.run(.receiveRFA(second))
        // Item 1 was already decided, so the case's stage is the furthest point reached.
        #expect(h.state.stage == .urDecided)
        #expect(h.state.rfa("B")?.expedited == true)
        #expect(h.state.rfa("B")?.formulary == true)
        try h.run(
            .issueURDecision(
                URDecisionIssued(
                    rfaId: "B",
                    decidedAt: pacific("2024-03-11", 9),
                    decisions: [URItemDecision(itemId: "3", outcome: .modified, authorizedPortion: "#30 for weaning")]
                )
            )
        )
        #expect(h.state.item("3")?.status == .modified)
        #expect(h.state.item("3")?.authorizedPortion == "#30 for weaning")
        #expect(h.state.item("1")?.status == .denied)
        #expect(h.state.items.count == 3)
    }

    @Test func ineligibleApplication_endsIMRForThatItem() throws {
        var h = try Example.harness(through: 6)
        try h.run(.findIneligible(IMRFoundIneligible(itemIds: ["1"], foundOn: day("2024-03-25"), reason: .late)))
        #expect(h.state.item("1")?.status == .imrIneligible)
        #expect(h.state.item("1")?.ineligibilityReason == .late)
        #expect(h.state.stage == .imrIneligible)
        try h.run(.close(CaseClosed(closedOn: day("2024-03-26"), reason: "ineligible")))
        #expect(h.state.stage == .closed)
    }

    @Test func appealRemand_sendsTheItemBackToIMR_andKeepsTheFirstRoundInHistory() throws {
        var h = try Example.harness(through: 10, decision: .upheld)
        #expect(h.state.item("1")?.status == .upheld)
        try h.run(.fileAppeal(WCABAppealFiled(itemIds: ["1"], filedOn: day("2024-05-20"), filedBy: .employee)))
        #expect(h.state.stage == .appealed)
        #expect(h.state.item("1")?.appealFiledBy == .employee)
        try h.run(.resolveAppeal(WCABAppealResolved(itemIds: ["1"], resolvedOn: day("2024-05-28"), outcome: .remanded)))
        let item = try #require(h.state.item("1"))
        #expect(item.status == .imrAssigned)
        #expect(item.imrRound == 2)
        #expect(item.imrDecision == nil)
        #expect(item.history.filter { $0.event == "IMRDeterminationIssued" }.count == 1)
        var redo = Example.determination(.overturned)
        redo.decidedOn = day("2024-05-30")
        redo.mailedOn = day("2024-05-30")
        try h.run(.issueDetermination(redo))
        #expect(h.state.item("1")?.status == .overturned)
    }

    @Test func dismissedAppeal_leavesTheDetermination() throws {
        var h = try Example.harness(through: 10, decision: .upheld)
        try h.run(
            .fileAppeal(WCABAppealFiled(itemIds: ["1"], filedOn: day("2024-05-20"), filedBy: .claimsAdministrator))
        )
        try h.run(
            .resolveAppeal(WCABAppealResolved(itemIds: ["1"], resolvedOn: day("2024-05-28"), outcome: .dismissed))
        )
        #expect(h.state.item("1")?.status == .upheld)
        #expect(h.state.item("1")?.appealOutcome == .dismissed)
    }

    @Test func notesReassignmentAndWithdrawal_areRecorded() throws {
        var h = try Example.harness(through: 2)
        try h.run(.addNote("called the adjuster"))
        try h.run(.reassignCoordinator(to: "li"))
        #expect(h.state.notes.map(\.text) == ["called the adjuster"])
        #expect(h.state.notes.first?.writtenAt == Example.now)
        #expect(h.state.coordinator == "li")
        try h.run(.withdraw(CaseWithdrawn(withdrawnOn: day("2024-03-01"), reason: "claim settled")))
        #expect(h.state.stage == .withdrawn)
        // Notes still go on a withdrawn case.
        try h.run(.addNote("file archived"))
        #expect(h.state.notes.count == 2)
    }
}
