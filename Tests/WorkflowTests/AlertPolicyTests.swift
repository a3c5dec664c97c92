import Foundation
import Testing
@testable import Workflow

/// Lead times of deadline alerts, computed from real deadlines of the engine.
@Suite struct AlertPolicyTests {
    /// The live deadline of `rule` for a case with one faxed RFA received at `receivedAt`.
    func deadline(_ rule: RuleID, receivedAt: Date, expedited: Bool = false) throws -> CaseDeadline {
        var h = try engineCase(now: receivedAt.addingTimeInterval(3600), injured: day("2023-11-02"))
        try h.run(.receiveRFA(faxedRFA("r1", at: receivedAt, items: ["i1"], expedited: expedited)))
        return try #require(DeadlineEngine.deadlines(for: h.state, now: h.now).live(rule))
    }

    func levels(_ alerts: [ScheduledAlert]) -> [AlertLevel] { alerts.map(\.level) }

    @Test func dayRule_defaults_twoBusinessDaysBefore_dueDayMorning_andOverdue() throws {
        // Received Monday 4 March 2024 10:00: the 5-business-day UR decision is due Monday 11 March.
        let d = try deadline(.urDecisionProspective, receivedAt: pacific("2024-03-04", 10))
        #expect(d.dueDate == day("2024-03-11"))
        let alerts = AlertPolicy.standard.schedule(for: d, calculator: .init())
        // 5 business days before is Monday 4 March 08:00, before the clock started: left out.
        #expect(levels(alerts) == [.reminder, .dueToday, .overdue])
        #expect(
            alerts.map(\.at) == [
                pacific("2024-03-07", 8),  // Thursday: 2 business days before Monday
                pacific("2024-03-11", 8),
                pacific("2024-03-12", 0),  // the first second after the due day
            ]
        )
        #expect(alerts.allSatisfy { $0.deadlineId == d.id && $0.due == d.due })
    }

    @Test func businessDaysBefore_passOverWeekendsAndHolidays() {
        let calhr = BusinessCalendar(.calhr)
        // Monday 2 December 2024: Thanksgiving (28th) and the day after (29th) are CalHR holidays.
        #expect(AlertPolicy.businessDays(5, before: day("2024-12-02"), calendar: calhr) == day("2024-11-21"))
        #expect(AlertPolicy.businessDays(2, before: day("2024-12-02"), calendar: calhr) == day("2024-11-26"))
        // On the judicial calendar the day after Thanksgiving is a holiday too; a plain week otherwise.
        #expect(
            AlertPolicy.businessDays(5, before: day("2024-03-15"), calendar: BusinessCalendar(.judicial))
                == day("2024-03-08")
        )
        // Independence Day (Thursday 4 July 2024) is skipped.
        #expect(AlertPolicy.businessDays(2, before: day("2024-07-05"), calendar: calhr) == day("2024-07-02"))
    }

    @Test func dayRule_acrossThanksgiving_countsTheRuleCalendar() throws {
        // Received Friday 22 November 2024: 5 CalHR business days skip Thanksgiving and the
        // Friday after, so the decision is due Tuesday 3 December.
        let d = try deadline(.urDecisionProspective, receivedAt: pacific("2024-11-22", 9))
        #expect(d.dueDate == day("2024-12-03"))
        let alerts = AlertPolicy.standard.schedule(for: d, calculator: .init())
        let reminder = try #require(alerts.first { $0.level == .reminder })
        // Two business days before Tuesday 3 December: Monday 2nd, then Wednesday 27 November.
        #expect(reminder.at == pacific("2024-11-27", 8))
    }

    @Test func hourRule_defaults_24And4HoursBefore_andOverdueAtTheInstant() throws {
        let d = try deadline(.urDecisionExpedited, receivedAt: pacific("2024-03-04", 10), expedited: true)
        #expect(d.isExactInstant)
        #expect(d.due == pacific("2024-03-07", 10))
        let alerts = AlertPolicy.standard.schedule(for: d, calculator: .init())
        #expect(levels(alerts) == [.notice, .reminder, .overdue])
        #expect(alerts.map(\.at) == [pacific("2024-03-06", 10), pacific("2024-03-07", 6), pacific("2024-03-07", 10)])
    }

    @Test func quietHours_delayOnlyTheNonUrgentLevels() throws {
        // Received at 02:00: due 02:00 three days later.
        let d = try deadline(.urDecisionExpedited, receivedAt: pacific("2024-03-04", 2), expedited: true)
        let alerts = AlertPolicy.standard.schedule(for: d, calculator: .init())
        let byLevel = Dictionary(uniqueKeysWithValues: alerts.map { ($0.level, $0) })
        // The 24-hour notice falls at 02:00, inside 20:00-07:00: raised at 07:00.
        #expect(byLevel[.notice]?.nominal == pacific("2024-03-06", 2))
        #expect(byLevel[.notice]?.at == pacific("2024-03-06", 7))
        // The 4-hour reminder (22:00) and overdue are urgent: not moved.
        #expect(byLevel[.reminder]?.at == pacific("2024-03-06", 22))
        #expect(byLevel[.overdue]?.at == pacific("2024-03-07", 2))
        // Without quiet hours nothing moves.
        var loud = AlertPolicy.standard
        loud.quietHours = nil
        #expect(
            loud.schedule(for: d, calculator: .init()).first { $0.level == .notice }?.at == pacific("2024-03-06", 2)
        )
    }

    @Test func quietHours_spanningMidnight_releaseAtTheirEnd() throws {
        let quiet = QuietHours(start: try #require(TimeOfDay("20:00")), end: try #require(TimeOfDay("07:00")))
        #expect(quiet.release(pacific("2024-03-06", 21, 30)) == pacific("2024-03-07", 7))
        #expect(quiet.release(pacific("2024-03-06", 3)) == pacific("2024-03-06", 7))
        #expect(quiet.release(pacific("2024-03-06", 7)) == pacific("2024-03-06", 7))
        #expect(quiet.release(pacific("2024-03-06", 19, 59)) == pacific("2024-03-06", 19, 59))
        let lunch = QuietHours(start: try #require(TimeOfDay("12:00")), end: try #require(TimeOfDay("13:00")))
        #expect(lunch.release(pacific("2024-03-06", 12, 30)) == pacific("2024-03-06", 13))
        // Across the spring daylight-saving change: 07:00 PDT on 10 March 2024.
        #expect(quiet.release(pacific("2024-03-09", 23)) == pacific("2024-03-10", 7))
    }

    @Test func perRuleLeadTimes_replaceTheGlobalOnes() throws {
        let d = try deadline(.urDecisionExpedited, receivedAt: pacific("2024-03-04", 10), expedited: true)
        var policy = AlertPolicy.standard
        policy.perRule[.urDecisionExpedited] = AlertLeadTimes(hoursBefore: [48], overdue: false)
        let alerts = policy.schedule(for: d, calculator: .init())
        #expect(levels(alerts) == [.notice])
        #expect(alerts.first?.at == pacific("2024-03-05", 10))
        policy.perRule[.urDecisionExpedited] = AlertLeadTimes(enabled: false)
        #expect(policy.schedule(for: d, calculator: .init()).isEmpty)
        // The optional information request raises no alerts by default; enabled, no overdue one.
        let info = try deadline(.urInfoRequest, receivedAt: pacific("2024-03-04", 10))
        #expect(AlertPolicy.standard.schedule(for: info, calculator: .init()).isEmpty)
        policy.perRule[.urInfoRequest]?.enabled = true
        #expect(levels(policy.schedule(for: info, calculator: .init())) == [.reminder, .dueToday])
    }

    @Test func timeOfDay_parsesOnlyHHMM() {
        #expect(TimeOfDay("08:00")?.minutes == 480)
        #expect(TimeOfDay("23:59")?.description == "23:59")
        #expect(TimeOfDay("24:00") == nil)
        #expect(TimeOfDay("8:00") == nil)
        #expect(TimeOfDay("08-00") == nil)
    }
}
