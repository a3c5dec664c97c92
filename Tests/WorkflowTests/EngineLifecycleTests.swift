import Foundation
import Testing
@testable import Workflow

/// Deadlines appear, are met, are cancelled, become missed, recompute after corrections
/// and stop on withdrawal, as a case's events arrive.
@Suite struct EngineLifecycleTests {
    static let injured = day("2023-11-02")

    /// RFA Mon 2024-03-04 09:00 by fax with items 1 and 2; `steps` more facts: UR decision on
    /// Thu 03-07 (1 denied, 2 approved), physician notice, written service by mail Fri 03-08.
    static func scenario(through steps: Int) throws -> CaseHarness {
        var h = try engineCase(now: pacific("2024-03-20", 12), injured: injured, caseId: "c7")
        let commands: [CaseCommand] = [
            .receiveRFA(faxedRFA("A", at: pacific("2024-03-04", 9), items: ["1", "2"])),
            .issueURDecision(urDecision("A", at: pacific("2024-03-07", 10), [("1", .denied), ("2", .approved)])),
            .notifyPhysician(
                PhysicianNotified(itemIds: ["1", "2"], notifiedAt: pacific("2024-03-07", 11), method: .fax)
            ),
            .serveWrittenDecision(
                WrittenURDecisionServed(
                    itemIds: ["1", "2"],
                    servedOn: day("2024-03-08"),
                    method: .mail,
                    destination: .california
                )
            ),
        ]
        for command in commands.prefix(steps) { try h.run(command) }
        return h
    }

    @Test func urClocksAppearWithTheRFA_andAreMetByTheDecisionAndNotices() throws {
        let received = try Self.scenario(through: 1)
        let open = DeadlineEngine.deadlines(for: received.state, now: pacific("2024-03-05", 9))
        #expect(open.map(\.rule) == [.urInfoRequest, .urDecisionProspective])
        let decision = try #require(open.live(.urDecisionProspective))
        #expect(decision.status == .pending)
        #expect(decision.dueDate == day("2024-03-11"))
        #expect(decision.id == "c7/ur.decision.prospective/A")
        #expect(decision.itemIds == ["1", "2"])
        #expect(decision.party == .claimsAdministrator)
        #expect(decision.satisfiedBy == nil)

        let done = try Self.scenario(through: 4)
        let all = DeadlineEngine.deadlines(for: done.state, now: pacific("2024-03-20", 12))
        #expect(all.live(.urDecisionProspective)?.status == .met)
        #expect(all.live(.urDecisionProspective)?.satisfiedBy?.at == pacific("2024-03-07", 10))
        #expect(all.live(.urNoticePhysician)?.status == .met)
        #expect(all.live(.urNoticePhysician)?.due == pacific("2024-03-08", 10))
        #expect(all.live(.urNoticeWritten)?.status == .met)
        #expect(all.live(.urNoticeWritten)?.dueDate == day("2024-03-11"))
        // UR decided without asking for information: that optional window no longer applies.
        #expect(all.live(.urInfoRequest)?.status == .notApplicable)
    }

    @Test func approvedItemNeedsNoIMR_deniedItemGetsAnApplicationClock() throws {
        let h = try Self.scenario(through: 4)
        let deadlines = DeadlineEngine.deadlines(for: h.state, now: pacific("2024-03-20", 12))
        let applications = deadlines.filter { $0.rule == .imrApplication }
        #expect(applications.map(\.itemIds) == [["1"]])
        let application = try #require(applications.first)
        // 03-08 + 30 = Sun 04-07, + 5 for mail in California = Fri 04-12.
        #expect(application.dueDate == day("2024-04-12"))
        #expect(application.status == .pending)
        #expect(application.id == "c7/imr.application/1")
        #expect(application.trigger.eventVersion == 5)
    }

    @Test func pendingClockBecomesMissedWhenNowPassesItsEndOfDay() throws {
        let h = try Self.scenario(through: 1)
        let lastMinute = DeadlineEngine.deadlines(for: h.state, now: pacific("2024-03-11", 23, 59))
        #expect(lastMinute.live(.urDecisionProspective)?.status == .pending)
        let nextDay = DeadlineEngine.deadlines(for: h.state, now: pacific("2024-03-12", 0))
        let missed = try #require(nextDay.live(.urDecisionProspective))
        #expect(missed.status == .missed)
        #expect(missed.statusNote?.contains("Dubon II") == true)
    }

    @Test func correctionOfWrittenServiceDate_movesTheIMRDeadline_andKeepsTheOldOneAsSuperseded() throws {
        var h = try Self.scenario(through: 4)
        let before = try #require(
            DeadlineEngine.deadlines(for: h.state, now: pacific("2024-03-20", 12)).live(.imrApplication)
        )
        try h.run(
            .correct(
                CorrectEvent(
                    version: 5,
                    field: .servedOn,
                    value: .date(day("2024-03-11")),
                    reason: "proof of service says Monday"
                )
            )
        )

        let after = DeadlineEngine.deadlines(for: h.state, now: pacific("2024-03-20", 12))
        let current = try #require(after.live(.imrApplication))
        // 03-11 + 30 = Wed 04-10, + 5 = Mon 04-15.
        #expect(current.dueDate == day("2024-04-15"))
        #expect(current.id == before.id)
        #expect(current.status == .pending)
        #expect(current.isRecomputed)
        #expect(current.correctionNotes.contains { $0.contains("was due end of Fri 2024-04-12") })
        #expect(current.explanation.contains { $0.hasPrefix("recomputed after a correction") })
        #expect(current.explanation.contains { $0.contains("servedOn") && $0.contains("proof of service says Monday") })

        let old = try #require(after.superseded(.imrApplication))
        #expect(old.dueDate == day("2024-04-12"))
        #expect(old.supersededBy == current.id)
        #expect(old.id == current.id + "/superseded")
        // Deadlines the correction did not touch are neither marked nor duplicated.
        #expect(after.filter { $0.rule == .urDecisionProspective }.count == 1)
        #expect(after.live(.urDecisionProspective)?.correctionNotes == [])
    }

    @Test func withdrawal_turnsRunningClocksNotApplicable_keepsMetOnes() throws {
        var h = try Self.scenario(through: 4)
        try h.run(.withdraw(CaseWithdrawn(withdrawnOn: day("2024-03-20"), reason: "settled")))
        let deadlines = DeadlineEngine.deadlines(for: h.state, now: pacific("2024-05-01", 9))
        let application = try #require(deadlines.live(.imrApplication))
        #expect(application.status == .notApplicable)
        #expect(application.statusNote?.contains("withdrawn") == true)
        #expect(deadlines.live(.urDecisionProspective)?.status == .met)
        #expect(!deadlines.contains { $0.status == .pending || $0.status == .missed })
    }

    @Test func idsAreStable_acrossDerivationsAndUnrelatedEvents() throws {
        var h = try Self.scenario(through: 4)
        let now = pacific("2024-03-20", 12)
        let first = DeadlineEngine.deadlines(for: h.state, now: now)
        #expect(DeadlineEngine.deadlines(for: h.state, now: now) == first)
        #expect(Set(first.map(\.id)).count == first.count)
        try h.run(.addNote("called the adjuster"))
        try h.run(.reassignCoordinator(to: "ben"))
        let later = DeadlineEngine.deadlines(for: h.state, now: now)
        #expect(later.map(\.id) == first.map(\.id))
        #expect(later == first)
        // Rebuilding from the log gives the same deadlines as the incremental fold.
        #expect(DeadlineEngine.deadlines(for: CaseState.rebuild(from: h.log), now: now) == first)
    }

    @Test func informationRequestedInTime_givesFourteenCalendarDays() throws {
        var h = try Self.scenario(through: 1)
        try h.run(
            .requestMoreInformation(
                MoreInformationRequested(rfaId: "A", requestedOn: day("2024-03-06"), whatIsNeeded: "PT notes")
            )
        )
        let deadlines = DeadlineEngine.deadlines(for: h.state, now: pacific("2024-03-12", 9))
        #expect(deadlines.live(.urInfoRequest)?.status == .met)
        let decision = try #require(deadlines.live(.urDecisionProspective))
        #expect(decision.dueDate == day("2024-03-18"))
        #expect(decision.status == .pending)
        #expect(decision.explanation.contains { $0.contains("information requested in time") })
    }

    @Test func timelyDeferral_suspendsTheDecisionClock() throws {
        var h = try Self.scenario(through: 1)
        try h.run(.deferUR(URDeferred(rfaId: "A", deferredOn: day("2024-03-06"), liabilityDispute: "AOE/COE")))
        let deadlines = DeadlineEngine.deadlines(for: h.state, now: pacific("2024-03-15", 9))
        #expect(deadlines.live(.urDeferral)?.status == .met)
        let decision = try #require(deadlines.live(.urDecisionProspective))
        #expect(decision.status == .notApplicable)
        #expect(decision.statusNote?.contains("liability") == true)
    }

    @Test func expeditedRFA_hasA72ClockHourClockFromArrival_acrossTheSpringDSTChange() throws {
        var h = try engineCase(now: pacific("2024-03-20", 12), injured: Self.injured)
        try h.run(.receiveRFA(faxedRFA("E", at: pacific("2024-03-08", 19), items: ["9"], expedited: true)))
        let deadlines = DeadlineEngine.deadlines(for: h.state, now: pacific("2024-03-09", 9))
        let decision = try #require(deadlines.live(.urDecisionExpedited))
        // 72 real hours from Fri 19:00 PST end Mon 20:00 PDT: clocks sprang forward on Sun 03-10.
        #expect(decision.due == pacific("2024-03-11", 20))
        #expect(decision.isExactInstant)
        #expect(decision.explanation.contains { $0.contains("daylight-saving") })
        #expect(deadlines.live(.urInfoRequest) == nil)
    }

    @Test func everyDeadlineOfAFullLifecycle_namesItsTriggerAndDate() throws {
        var h = try Example.harness(through: 10, decision: .overturned)
        try h.run(
            .implementDetermination(
                DeterminationImplemented(itemId: "1", implementedOn: day("2024-05-06"), kind: .authorized)
            )
        )
        let deadlines = DeadlineEngine.deadlines(for: h.state, now: Example.now)
        let rules = Set(deadlines.map(\.rule))
        #expect(
            rules.isSuperset(of: [
                .urDecisionProspective, .urNoticePhysician, .urNoticeWritten, .imrApplication, .imroAssignmentNotice,
                .imrRecords, .imrDetermination, .imrImplementation, .wcabAppeal,
            ])
        )
        for deadline in deadlines {
            #expect(deadline.explanation.contains { $0.hasPrefix("trigger:") }, "\(deadline.id)")
            #expect(deadline.explanation.contains { $0.contains(deadline.trigger.date.iso) }, "\(deadline.id)")
            #expect(deadline.dueDate >= deadline.trigger.date, "\(deadline.id)")
        }
        let implementation = try #require(deadlines.live(.imrImplementation))
        #expect(implementation.status == .met)
        #expect(implementation.assumptions.contains { $0.contains("receipt of the determination is not recorded") })
        // The determination was issued, so the assumption about the records' receipt is absent.
        #expect(deadlines.live(.imrDetermination)?.trigger.description.contains("received the records") == true)
    }

    @Test func remand_opensASecondIMRRound_andKeepsTheFirstRoundsClocks() throws {
        var h = try Example.harness(through: 10, decision: .overturned)
        try h.run(
            .implementDetermination(
                DeterminationImplemented(itemId: "1", implementedOn: day("2024-05-06"), kind: .authorized)
            )
        )
        try h.run(
            .fileAppeal(WCABAppealFiled(itemIds: ["1"], filedOn: day("2024-05-10"), filedBy: .claimsAdministrator))
        )
        try h.run(.resolveAppeal(WCABAppealResolved(itemIds: ["1"], resolvedOn: day("2024-05-20"), outcome: .remanded)))

        let deadlines = DeadlineEngine.deadlines(for: h.state, now: pacific("2024-05-21", 9))
        let ids = deadlines.map(\.id)
        #expect(ids.contains("case-1/imr.determination/CM24-0012345"))
        #expect(ids.contains("case-1/imr.determination/CM24-0012345/r2"))
        #expect(deadlines.first { $0.id == "case-1/wcab.appeal/CM24-0012345" }?.status == .met)
        #expect(deadlines.first { $0.id == "case-1/imr.implementation/1" }?.status == .met)
        let second = try #require(deadlines.first { $0.id == "case-1/imr.determination/CM24-0012345/r2" })
        #expect(second.round == 2)
        #expect(second.status == .pending)
        #expect(second.trigger.date == day("2024-05-20"))
        #expect(second.assumptions.contains { $0.contains("remand") })
    }

    @Test func aDeterminationRecordedByHand_settlesTheRecordsClock_asAnImportedOneDoes() throws {
        var h = try Example.harness(through: 8)
        #expect(
            DeadlineEngine.deadlines(for: h.state, now: pacific("2024-04-05", 9)).live(.imrRecords)?.status == .pending
        )
        try h.run(.issueDetermination(Example.determination(.upheld)))
        let records = try #require(
            DeadlineEngine.deadlines(for: h.state, now: pacific("2024-06-01", 9)).live(.imrRecords)
        )
        #expect(records.status == .notApplicable)
        #expect(
            records.statusNote
                == "the IMRO decided on Tue 2024-04-30, so it had the records; the day they arrived is not recorded"
        )
        #expect(!records.isOpen)
    }

    @Test func eligibilityDecidedWithoutTheInformation_settlesTheResponseClock() throws {
        var h = try Example.harness(through: 6)
        h.now = pacific("2024-03-21", 9)
        try h.run(
            .requestEligibilityInformation(
                IMREligibilityInformationRequested(
                    itemIds: ["1"],
                    requestedOn: day("2024-03-21"),
                    whatIsRequested: "UR letter",
                    requestedFrom: [.employee]
                )
            )
        )
        var before = h
        // Decided before the response was due: the clock no longer applies.
        h.now = pacific("2024-03-25", 9)
        try h.run(.findEligible(IMREligibilityFound(itemIds: ["1"], foundOn: day("2024-03-25"))))
        let early = try #require(
            DeadlineEngine.deadlines(for: h.state, now: pacific("2024-06-01", 9)).live(.imrEligibilityResponse)
        )
        #expect(early.status == .notApplicable)
        #expect(early.statusNote?.contains("the AD decided eligibility without the information on") == true)
        // Decided after it passed: the miss stays in the history, off the board.
        before.now = pacific("2024-05-20", 9)
        try before.run(
            .findIneligible(
                IMRFoundIneligible(itemIds: ["1"], foundOn: day("2024-05-20"), reason: IneligibilityReason.allCases[0])
            )
        )
        let late = try #require(
            DeadlineEngine.deadlines(for: before.state, now: pacific("2024-06-01", 9)).live(.imrEligibilityResponse)
        )
        #expect(late.status == .missed)
        #expect(late.history?.contains("kept as missed in the case's history") == true)
        #expect(!late.isOpen)
    }

    @Test func aDeadlineThatHadPassedWhenItsTriggerWasRecorded_isHistory_notOnTheBoard() throws {
        // Entered on time: the miss is the coordinator's to act on.
        var onTime = try engineCase(now: pacific("2024-03-01", 12), injured: Self.injured)
        try onTime.run(.receiveRFA(faxedRFA("A", at: pacific("2024-03-01", 10), items: ["1"])))
        let running = try #require(
            DeadlineEngine.deadlines(for: onTime.state, now: pacific("2024-06-01", 9)).live(.urDecisionProspective)
        )
        #expect(running.status == .missed)
        #expect(running.history == nil)
        #expect(running.isOpen)
        // The same RFA entered in June (an old case back-entered): missed, in history.
        var late = try engineCase(now: pacific("2024-06-01", 8), injured: Self.injured)
        try late.run(.receiveRFA(faxedRFA("A", at: pacific("2024-03-01", 10), items: ["1"])))
        let old = try #require(
            DeadlineEngine.deadlines(for: late.state, now: pacific("2024-06-01", 9)).live(.urDecisionProspective)
        )
        #expect(old.status == .missed)
        #expect(old.due == running.due)
        #expect(
            old.history
                == "its trigger was recorded on Sat 2024-06-01, after it had passed: kept as missed in the case's history, with nothing left to act on"
        )
        #expect(old.explanation.last == old.history)
        #expect(!old.isOpen)
    }

    @Test func itemsDeniedTogether_shareOneApplicationDeadline_untilOneOfThemIsAppliedFor() throws {
        var h = try engineCase(now: pacific("2024-03-04", 12), injured: Self.injured, caseId: "c8")
        try h.run(.receiveRFA(faxedRFA("A", at: pacific("2024-03-04", 9), items: ["1", "2", "3"])))
        h.now = pacific("2024-03-08", 12)
        try h.run(
            .issueURDecision(
                urDecision("A", at: pacific("2024-03-07", 10), [("1", .denied), ("2", .modified), ("3", .denied)])
            )
        )
        try h.run(
            .serveWrittenDecision(
                WrittenURDecisionServed(
                    itemIds: ["1", "2", "3"],
                    servedOn: day("2024-03-08"),
                    method: .mail,
                    destination: .california
                )
            )
        )
        let together = DeadlineEngine.deadlines(for: h.state, now: pacific("2024-03-20", 12)).filter {
            $0.rule == .imrApplication
        }
        #expect(together.map(\.id) == ["c8/imr.application/1+2+3"])
        let one = try #require(together.first)
        #expect(one.itemIds == ["1", "2", "3"])
        #expect(one.dueDate == day("2024-04-12"))
        // The outcome each item was decided with is still said.
        #expect(
            one.explanation.contains { $0.contains("denied") } && one.explanation.contains { $0.contains("modified") }
        )

        // Item 2 applied for alone: its clock is met, the others still run, as one.
        h.now = pacific("2024-03-25", 9)
        try h.run(.receiveIMRApplication(IMRApplicationReceived(itemIds: ["2"], receivedOn: day("2024-03-25"))))
        let apart = DeadlineEngine.deadlines(for: h.state, now: pacific("2024-03-26", 12)).filter {
            $0.rule == .imrApplication
        }
        #expect(apart.map(\.id).sorted() == ["c8/imr.application/1+3", "c8/imr.application/2"])
        #expect(apart.first { $0.id.hasSuffix("/2") }?.status == .met)
        #expect(apart.first { $0.id.hasSuffix("/1+3") }?.status == .pending)
    }
}
