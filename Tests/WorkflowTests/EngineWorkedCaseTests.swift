import Foundation
import Testing
@testable import Workflow

/// The worked cases of `domain/DEADLINES.md`, through a case's events and the engine.
@Suite struct EngineWorkedCaseTests {
    @Test func rivera_faxWithoutStampOnFriday_urDueNextFriday_decisionOnMondayIsLate() throws {
        var h = try engineCase(now: pacific("2014-06-01", 9), injured: day("2013-05-01"))
        try h.run(.receiveRFA(faxedRFA("A", at: Pacific.startOfDay(day("2013-07-05")), timeKnown: false, items: ["1"])))

        let before = DeadlineEngine.deadlines(for: h.state, now: pacific("2013-07-12", 17))
        let pending = try #require(before.live(.urDecisionProspective))
        #expect(pending.dueDate == day("2013-07-12"))
        #expect(pending.due == Pacific.endOfDay(day("2013-07-12")))
        #expect(pending.status == .pending)
        #expect(pending.assumptions.contains("time of transmission not given: assumed before 5:30 p.m. Pacific"))
        #expect(pending.explanation.contains("skipped Sat 2013-07-06 and Sun 2013-07-07 (weekend)"))

        let weekend = DeadlineEngine.deadlines(for: h.state, now: pacific("2013-07-13", 9))
        #expect(weekend.live(.urDecisionProspective)?.status == .missed)

        try h.run(.issueURDecision(urDecision("A", at: pacific("2013-07-15", 11), [("1", .denied)])))
        let after = DeadlineEngine.deadlines(for: h.state, now: pacific("2013-07-16", 9))
        let late = try #require(after.live(.urDecisionProspective))
        #expect(late.status == .metLate)
        #expect(late.satisfiedBy?.eventType == "URDecisionIssued")
        #expect(late.satisfiedBy?.eventVersion == 3)
        #expect(late.consequenceIfMissed.kind == .urInvalid)
        #expect(late.statusNote?.contains("WCAB decides the treatment") == true)
        // The item's IMR clock says IMR is not the route.
        let application = try #require(after.live(.imrApplication, item: "1"))
        #expect(application.statusNote?.contains("the WCAB decides the treatment") == true)
    }

    @Test func green_faxAfter530Friday_deemedMonday_decisionAt1805OnLastDayIsTimely() throws {
        var h = try engineCase(now: pacific("2016-01-01", 9), injured: day("2015-01-05"))
        try h.run(.receiveRFA(faxedRFA("A", at: pacific("2015-04-17", 18, 18), items: ["1"])))
        try h.run(.issueURDecision(urDecision("A", at: pacific("2015-04-27", 18, 5), [("1", .denied)])))

        let deadlines = DeadlineEngine.deadlines(for: h.state, now: pacific("2015-05-01", 9))
        let decision = try #require(deadlines.live(.urDecisionProspective))
        #expect(decision.dueDate == day("2015-04-27"))
        #expect(decision.status == .met)
        #expect(
            decision.explanation.contains { $0.contains("after 5:30 p.m. Pacific") && $0.contains("Mon 2015-04-20") }
        )
        #expect(decision.trigger.at == pacific("2015-04-17", 18, 18))
        // The count starts at the deemed receipt, Monday, not at the Friday fax.
        #expect(Pacific.date(of: decision.clockStart) == day("2015-04-20"))
    }

    @Test func pau_saturdayNotAWorkingDay_denialOnMondayIsTimely() throws {
        var h = try engineCase(now: pacific("2019-01-01", 9), injured: day("2017-06-01"))
        try h.run(.receiveRFA(faxedRFA("A", at: pacific("2018-03-12", 10), items: ["1"])))
        try h.run(.issueURDecision(urDecision("A", at: pacific("2018-03-19", 16), [("1", .denied)])))

        let decision = try #require(
            DeadlineEngine.deadlines(for: h.state, now: pacific("2018-04-01", 9)).live(.urDecisionProspective)
        )
        #expect(decision.dueDate == day("2018-03-19"))
        #expect(decision.status == .met)
        #expect(decision.assumptions.contains { $0.contains("Pa'u") })
    }

    @Test func bodam_physicianToldOnlyByLetterFiveDaysLater_noticeLate_urUntimely() throws {
        var h = try engineCase(now: pacific("2014-06-01", 9), injured: day("2013-02-01"))
        try h.run(.receiveRFA(faxedRFA("A", at: pacific("2013-10-28", 10), items: ["1"])))
        try h.run(.issueURDecision(urDecision("A", at: pacific("2013-10-31", 15, 30), [("1", .denied)])))

        let waiting = DeadlineEngine.deadlines(for: h.state, now: pacific("2013-11-02", 9))
        let missed = try #require(waiting.live(.urNoticePhysician))
        #expect(missed.dueDate == day("2013-11-01"))
        #expect(missed.due == pacific("2013-11-01", 15, 30))
        #expect(missed.isExactInstant)
        #expect(missed.status == .missed)
        // The decision itself was in time.
        #expect(waiting.live(.urDecisionProspective)?.status == .met)

        try h.run(
            .notifyPhysician(PhysicianNotified(itemIds: ["1"], notifiedAt: pacific("2013-11-05", 10), method: .mail))
        )
        try h.run(
            .serveWrittenDecision(
                WrittenURDecisionServed(
                    itemIds: ["1"],
                    servedOn: day("2013-11-05"),
                    method: .mail,
                    destination: .california
                )
            )
        )
        let after = DeadlineEngine.deadlines(for: h.state, now: pacific("2013-11-06", 9))
        let late = try #require(after.live(.urNoticePhysician))
        #expect(late.status == .metLate)
        #expect(late.consequenceIfMissed.kind == .urInvalid)
        #expect(late.consequenceIfMissed.summary.contains("Bodam"))
        #expect(late.explanation.contains { $0.contains("told by mail") })
        let application = try #require(after.live(.imrApplication, item: "1"))
        #expect(application.statusNote?.contains("Bodam") == true)
        #expect(application.statusNote?.contains("not subject to IMR") == true)
    }

    @Test func matute_determinationMailedThursday_appealWithinThirtyPlusFive_isTimely() throws {
        let number = imrNumber("CM14-0000001")
        var h = try engineCase(now: pacific("2015-06-01", 9), injured: day("2014-01-10"))
        try h.run(.receiveRFA(faxedRFA("A", at: pacific("2014-09-02", 10), items: ["1"])))
        try h.run(.issueURDecision(urDecision("A", at: pacific("2014-09-05", 10), [("1", .denied)])))
        try h.run(
            .notifyPhysician(PhysicianNotified(itemIds: ["1"], notifiedAt: pacific("2014-09-05", 11), method: .fax))
        )
        try h.run(
            .serveWrittenDecision(
                WrittenURDecisionServed(
                    itemIds: ["1"],
                    servedOn: day("2014-09-08"),
                    method: .mail,
                    destination: .california
                )
            )
        )
        try h.run(.receiveIMRApplication(IMRApplicationReceived(itemIds: ["1"], receivedOn: day("2014-09-20"))))
        try h.run(.findEligible(IMREligibilityFound(itemIds: ["1"], foundOn: day("2014-09-25"))))
        try h.run(
            .assignIMR(
                IMRAssigned(
                    itemIds: ["1"],
                    imrCaseNumber: number,
                    assignedOn: day("2014-09-26"),
                    priority: .standard,
                    noticeMethod: .mail
                )
            )
        )
        try h.run(.receiveRecords(IMRRecordsReceived(imrCaseNumber: number, receivedOn: day("2014-10-03"))))
        try h.run(
            .issueDetermination(
                IMRDeterminationIssued(
                    imrCaseNumber: number,
                    decidedOn: day("2014-11-05"),
                    mailedOn: day("2014-11-06"),
                    reviewerSpecialty: "Orthopedics",
                    items: [
                        IMRItemDetermination(itemId: "1", decision: .upheld, guideline: "MTUS", rationaleSummary: "r")
                    ]
                )
            )
        )

        let open = DeadlineEngine.deadlines(for: h.state, now: pacific("2014-12-01", 9))
        let appeal = try #require(open.live(.wcabAppeal))
        #expect(appeal.dueDate == day("2014-12-11"))
        #expect(appeal.status == .pending)
        #expect(appeal.id == "w/wcab.appeal/CM14-0000001")
        #expect(appeal.explanation.contains { $0.hasPrefix("plus 5 calendar days") })

        try h.run(.fileAppeal(WCABAppealFiled(itemIds: ["1"], filedOn: day("2014-12-10"), filedBy: .employee)))
        let filed = DeadlineEngine.deadlines(for: h.state, now: pacific("2014-12-20", 9))
        #expect(filed.live(.wcabAppeal)?.status == .met)
        #expect(filed.live(.wcabAppeal)?.satisfiedBy?.on == day("2014-12-10"))

        // The determination came after its 30 days (records 10-03 → Sun 11-02, rolled to Mon 11-03):
        // late, but binding (Margaris) — shown as late, never as void.
        let determination = try #require(filed.live(.imrDetermination))
        #expect(determination.dueDate == day("2014-11-03"))
        #expect(determination.status == .metLate)
        #expect(determination.consequenceIfMissed.kind == .lateNotVoid)
        #expect(determination.statusNote?.contains("not void") == true)
        #expect(filed.live(.imrRecords)?.status == .met)
        #expect(filed.live(.imroAssignmentNotice)?.status == .met)
        #expect(filed.live(.imrApplication)?.status == .met)
    }

    @Test func avila_writtenDecisionMailedDec24_applicationReceivedJan29_isLateAndIneligible() throws {
        var h = try engineCase(now: pacific("2014-06-01", 9), injured: day("2013-03-01"))
        try h.run(.receiveRFA(faxedRFA("A", at: pacific("2013-12-16", 10), items: ["1"])))
        try h.run(.issueURDecision(urDecision("A", at: pacific("2013-12-20", 10), [("1", .denied)])))
        try h.run(
            .notifyPhysician(PhysicianNotified(itemIds: ["1"], notifiedAt: pacific("2013-12-20", 11), method: .fax))
        )
        // Before written service is recorded: the decision date, mail in California, said so.
        let unserved = try #require(
            DeadlineEngine.deadlines(for: h.state, now: pacific("2013-12-21", 9)).live(.imrApplication)
        )
        #expect(unserved.dueDate == day("2014-01-24"))
        #expect(
            unserved.assumptions.contains(
                "service date not recorded: assumed served by mail in California on the decision date (2013-12-20)"
            )
        )
        #expect(unserved.trigger.eventVersion == 3)

        try h.run(
            .serveWrittenDecision(
                WrittenURDecisionServed(
                    itemIds: ["1"],
                    servedOn: day("2013-12-24"),
                    method: .mail,
                    destination: .california
                )
            )
        )
        let served = try #require(
            DeadlineEngine.deadlines(for: h.state, now: pacific("2014-01-02", 9)).live(.imrApplication)
        )
        #expect(served.dueDate == day("2014-01-28"))
        #expect(served.status == .pending)
        #expect(!served.assumptions.contains { $0.contains("service date not recorded") })

        try h.run(.receiveIMRApplication(IMRApplicationReceived(itemIds: ["1"], receivedOn: day("2014-01-29"))))
        let late = try #require(
            DeadlineEngine.deadlines(for: h.state, now: pacific("2014-02-01", 9)).live(.imrApplication)
        )
        #expect(late.status == .metLate)
        #expect(late.consequenceIfMissed.kind == .ineligible)
        #expect(late.statusNote?.contains("ineligible") == true)
        #expect(late.party == .employee)
    }
}
