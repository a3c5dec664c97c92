import Foundation
import Testing
@testable import Workflow

/// Corrections, partial decisions, closure and the wire shape of derived deadlines.
@Suite struct EngineCorrectionTests {
    let now = pacific("2024-03-20", 12)

    @Test func correctedRFAArrivalAfter530_movesTheURClockByOneBusinessDay() throws {
        var h = try EngineLifecycleTests.scenario(through: 1)
        try h.run(
            .correct(
                CorrectEvent(
                    version: 2,
                    field: .receivedAt,
                    value: .instant(pacific("2024-03-04", 18)),
                    reason: "fax log shows 6 p.m."
                )
            )
        )
        let deadlines = DeadlineEngine.deadlines(for: h.state, now: pacific("2024-03-05", 9))
        let decision = try #require(deadlines.live(.urDecisionProspective))
        #expect(decision.dueDate == day("2024-03-12"))
        #expect(decision.explanation.contains { $0.contains("after 5:30 p.m.") })
        #expect(decision.correctionNotes.contains { $0.contains("receivedAt") && $0.contains("fax log shows 6 p.m.") })
        #expect(deadlines.superseded(.urDecisionProspective)?.dueDate == day("2024-03-11"))
    }

    @Test func correctedExpeditedFlag_replacesTheProspectiveClockWithTheExpeditedOne() throws {
        var h = try EngineLifecycleTests.scenario(through: 1)
        try h.run(
            .correct(
                CorrectEvent(version: 2, field: .expedited, value: .flag(true), reason: "physician marked it urgent")
            )
        )
        let deadlines = DeadlineEngine.deadlines(for: h.state, now: pacific("2024-03-05", 9))
        let expedited = try #require(deadlines.live(.urDecisionExpedited))
        #expect(expedited.due == pacific("2024-03-07", 9))
        #expect(deadlines.live(.urDecisionProspective) == nil)
        let old = try #require(deadlines.superseded(.urDecisionProspective))
        #expect(old.supersededBy == expedited.id)
        #expect(expedited.correctionNotes.contains { $0.contains("physician marked it urgent") })
        // The information-request window does not exist for expedited review: superseded, replaced by nothing.
        let request = try #require(deadlines.superseded(.urInfoRequest))
        #expect(request.supersededBy == nil)
    }

    @Test func correctedDecisionTime_turnsAMetDeadlineLate_andSaysSo() throws {
        var h = try EngineLifecycleTests.scenario(through: 2)
        #expect(DeadlineEngine.deadlines(for: h.state, now: now).live(.urDecisionProspective)?.status == .met)
        try h.run(
            .correct(
                CorrectEvent(
                    version: 3,
                    field: .decidedAt,
                    value: .instant(pacific("2024-03-12", 10)),
                    reason: "date typed wrong"
                )
            )
        )
        let deadlines = DeadlineEngine.deadlines(for: h.state, now: now)
        let decision = try #require(deadlines.live(.urDecisionProspective))
        #expect(decision.status == .metLate)
        #expect(decision.correctionNotes.first == "status after a correction: met-late (was met)")
        // The physician notice clock starts from the corrected decision.
        #expect(deadlines.live(.urNoticePhysician)?.due == pacific("2024-03-13", 10))
        #expect(deadlines.superseded(.urNoticePhysician)?.due == pacific("2024-03-08", 10))
    }

    @Test func partialDecisions_keepTheClockOpen_untilTheLastItem_whichJudgesIt() throws {
        var h = try EngineLifecycleTests.scenario(through: 1)
        try h.run(.issueURDecision(urDecision("A", at: pacific("2024-03-07", 10), [("1", .denied)])))
        let partial = try #require(
            DeadlineEngine.deadlines(for: h.state, now: pacific("2024-03-08", 9)).live(.urDecisionProspective)
        )
        #expect(partial.status == .pending)
        #expect(partial.satisfiedBy == nil)
        #expect(partial.explanation.contains("1 of 2 items decided; the deadline is met only when every item is"))

        try h.run(.issueURDecision(urDecision("A", at: pacific("2024-03-12", 9), [("2", .modified)])))
        let deadlines = DeadlineEngine.deadlines(for: h.state, now: now)
        let decision = try #require(deadlines.live(.urDecisionProspective))
        #expect(decision.status == .metLate)
        #expect(decision.satisfiedBy?.eventVersion == 4)
        #expect(decision.explanation.contains { $0.contains("judged by the last item decided: item 2") })
        // One physician-notice clock per decision event; both missed by now.
        let notices = deadlines.filter { $0.rule == .urNoticePhysician }
        #expect(notices.map(\.id) == ["c7/ur.notice.physician/A/1", "c7/ur.notice.physician/A/2"])
        #expect(notices.allSatisfy { $0.status == .missed })
        // Both items' IMR clocks carry the untimely-UR effect.
        #expect(deadlines.filter { $0.rule == .imrApplication }.count == 2)
        #expect(
            deadlines.filter { $0.rule == .imrApplication }.allSatisfy {
                $0.statusNote?.contains("WCAB decides") == true
            }
        )
    }

    @Test func closure_turnsTheStillRunningAppealWindowNotApplicable() throws {
        var h = try Example.harness(through: 10, decision: .upheld)
        let open = DeadlineEngine.deadlines(for: h.state, now: pacific("2024-05-10", 9))
        #expect(open.live(.wcabAppeal)?.status == .pending)
        try h.run(.close(CaseClosed(closedOn: day("2024-05-15"), reason: "determination upheld")))
        let closed = DeadlineEngine.deadlines(for: h.state, now: pacific("2024-05-16", 9))
        let appeal = try #require(closed.live(.wcabAppeal))
        #expect(appeal.status == .notApplicable)
        #expect(appeal.statusNote?.contains("closed") == true)
    }

    @Test func deadlinesRoundTripThroughJSON() throws {
        var h = try EngineLifecycleTests.scenario(through: 4)
        try h.run(
            .correct(CorrectEvent(version: 5, field: .servedOn, value: .date(day("2024-03-11")), reason: "proof"))
        )
        let deadlines = DeadlineEngine.deadlines(for: h.state, now: now)
        let data = try JSONEncoder().encode(deadlines)
        #expect(try JSONDecoder().decode([CaseDeadline].self, from: data) == deadlines)
        let text = try #require(String(data: data, encoding: .utf8))
        #expect(text.contains("\"met-late\"") || text.contains("\"pending\""))
    }

    @Test func noCaseOpened_noDeadlines() {
        #expect(DeadlineEngine.deadlines(for: CaseState(), now: now).isEmpty)
    }
}
