import Foundation
import Testing
@testable import Workflow

/// Which clock a case's facts select, and clocks that are unavailable.
@Suite struct EngineRuleChoiceTests {
    static func rfa(_ review: ReviewType, formulary: Bool = false, at: Date) -> RFAReceived {
        RFAReceived(
            rfaId: "R",
            receivedAt: at,
            transmission: .fax,
            physician: "Dr. B",
            reviewType: review,
            formulary: formulary,
            items: [RequestedItem(id: "1", description: "x")]
        )
    }

    @Test func retrospectiveRFA_hasThirtyCalendarDays() throws {
        var h = try engineCase(now: pacific("2024-06-01", 9), injured: day("2023-01-01"))
        try h.run(.receiveRFA(Self.rfa(.retrospective, at: pacific("2024-03-04", 9))))
        let deadlines = DeadlineEngine.deadlines(for: h.state, now: pacific("2024-03-05", 9))
        #expect(deadlines.map(\.rule) == [.urDecisionRetrospective])
        #expect(deadlines.first?.dueDate == day("2024-04-03"))
    }

    @Test func formularyDrugFrom2018_hasTheFormularyClock_before2018TheProspectiveOne() throws {
        var recent = try engineCase(now: pacific("2024-06-01", 9), injured: day("2023-01-01"))
        try recent.run(.receiveRFA(Self.rfa(.prospective, formulary: true, at: pacific("2024-03-04", 9))))
        let formulary = DeadlineEngine.deadlines(for: recent.state, now: pacific("2024-03-05", 9))
        #expect(formulary.map(\.rule) == [.urDecisionFormulary])
        #expect(formulary.first?.dueDate == day("2024-03-11"))

        var old = try engineCase(now: pacific("2018-06-01", 9), injured: day("2016-01-01"))
        try old.run(.receiveRFA(Self.rfa(.prospective, formulary: true, at: pacific("2017-03-06", 9))))
        let prospective = DeadlineEngine.deadlines(for: old.state, now: pacific("2017-03-07", 9))
        #expect(prospective.live(.urDecisionProspective) != nil)
        #expect(prospective.live(.urDecisionFormulary) == nil)
    }

    @Test func expeditedIMR_recordsIn24Hours_determinationIn3Days() throws {
        var h = try EngineLifecycleTests.scenario(through: 4)
        let number = imrNumber("CM24-0000777")
        try h.run(.receiveIMRApplication(IMRApplicationReceived(itemIds: ["1"], receivedOn: day("2024-03-12"))))
        try h.run(.findEligible(IMREligibilityFound(itemIds: ["1"], foundOn: day("2024-03-13"))))
        try h.run(
            .assignIMR(
                IMRAssigned(
                    itemIds: ["1"],
                    imrCaseNumber: number,
                    assignedOn: day("2024-03-14"),
                    priority: .expedited,
                    noticeMethod: .electronic
                )
            )
        )
        let deadlines = DeadlineEngine.deadlines(for: h.state, now: pacific("2024-03-14", 12))
        let records = try #require(deadlines.live(.imrRecords))
        #expect(records.isExactInstant)
        #expect(records.due == Pacific.startOfDay(day("2024-03-15")))
        #expect(records.assumptions.contains { $0.contains("only a date is known") })
        let determination = try #require(deadlines.live(.imrDetermination))
        // 3 calendar days from the assignment (records not yet received): Sun 03-17, rolled to Mon 03-18.
        #expect(determination.dueDate == day("2024-03-18"))
        #expect(determination.assumptions.contains { $0.contains("counted from the assignment date") })
        #expect(determination.party == .imro)
    }

    @Test func injuryBefore2013_decisionBeforeJuly2013_noIMRClock_andTheReasonIsReported() throws {
        var h = try engineCase(now: pacific("2014-01-01", 9), injured: day("2012-06-01"))
        try h.run(.receiveRFA(Self.rfa(.prospective, at: pacific("2013-05-01", 9))))
        try h.run(.issueURDecision(urDecision("R", at: pacific("2013-05-03", 9), [("1", .denied)])))
        let derivation = DeadlineEngine.derivation(for: h.state, now: pacific("2013-05-10", 9))
        #expect(derivation.deadlines.live(.imrApplication) == nil)
        let gap = try #require(derivation.unavailable.first)
        #expect(gap.id == "w/imr.application/1")
        #expect(gap.reason.contains("SB 863"))
        #expect(derivation.deadlines == DeadlineEngine.deadlines(for: h.state, now: pacific("2013-05-10", 9)))

        // Served on or after 2013-07-01, the same dispute goes to IMR.
        try h.run(
            .serveWrittenDecision(
                WrittenURDecisionServed(
                    itemIds: ["1"],
                    servedOn: day("2013-07-02"),
                    method: .mail,
                    destination: .california
                )
            )
        )
        let served = DeadlineEngine.derivation(for: h.state, now: pacific("2013-07-03", 9))
        #expect(served.unavailable.isEmpty)
        #expect(served.deadlines.live(.imrApplication)?.dueDate == day("2013-08-06"))
    }

    /// Issue 16 in the case view: an expedited RFA whose treatment recommendation is recorded
    /// says the 14-day limit was set aside and what it would have given; a prospective one
    /// applies it.
    @Test func theRecordedRecommendationIsAppliedOrSetAsideInTheCaseView() throws {
        for (expedited, rule) in [(true, RuleID.urDecisionExpedited), (false, .urDecisionProspective)] {
            var h = try engineCase(now: pacific("2024-06-01", 9), injured: day("2023-01-01"))
            try h.run(
                .receiveRFA(
                    RFAReceived(
                        rfaId: "R",
                        receivedAt: pacific("2024-03-04", 9),
                        transmission: .fax,
                        physician: "Dr. B",
                        treatmentRecommendedOn: day("2024-02-15"),
                        reviewType: .prospective,
                        expedited: expedited,
                        items: [RequestedItem(id: "1", description: "x")]
                    )
                )
            )
            let decision = try #require(
                DeadlineEngine.deadlines(for: h.state, now: pacific("2024-03-04", 10)).live(rule)
            )
            if expedited {
                #expect(decision.due == pacific("2024-03-07", 9))
                #expect(
                    decision.explanation.contains {
                        $0.hasPrefix(
                            "treatment recommendation Thu 2024-02-15: the limit of 14 calendar days after it (Thu 2024-02-29) is set aside: an expedited review"
                        )
                    },
                    "\(decision.explanation)"
                )
                #expect(
                    decision.assumptions.contains {
                        $0.contains("if it does, the decision was due by the end of Thu 2024-02-29")
                    },
                    "\(decision.assumptions)"
                )
            } else {
                #expect(decision.dueDate == day("2024-02-29"))
                #expect(
                    decision.explanation.contains { $0.contains("the 14-day limit wins") },
                    "\(decision.explanation)"
                )
            }
        }
    }

    /// Issue 16 in the case view: an RFA received before 2013 (outside the calendars) has no
    /// UR clock, and the case says why instead of counting on a calendar imr does not have.
    @Test func aClockOutsideTheCalendarsIsUnavailableWithTheRange() throws {
        var h = try engineCase(now: pacific("2014-01-01", 9), injured: day("2012-06-01"))
        try h.run(.receiveRFA(Self.rfa(.prospective, at: pacific("2012-11-05", 9))))
        let derivation = DeadlineEngine.derivation(for: h.state, now: pacific("2012-11-06", 9))
        #expect(derivation.deadlines.live(.urDecisionProspective) == nil)
        let gap = try #require(derivation.unavailable.first { $0.rule == .urDecisionProspective })
        #expect(
            gap.reason.contains("cannot be counted from 2012-11-05") && gap.reason.contains("2013-01-01")
                && gap.reason.contains("2035-12-31"),
            "\(gap.reason)"
        )
    }
}
