import Foundation
import Testing
@testable import Workflow

/// The worked cases of `domain/DEADLINES.md`, from public decisions, through the calculator.
@Suite struct DeadlineWorkedCaseTests {
    let calculator = DeadlineCalculator()

    static func day(_ iso: String) -> LocalDate { LocalDate(iso: iso)! }
    static func at(_ iso: String, _ hour: Int, _ minute: Int) -> Date {
        Pacific.instant(day(iso), hour: hour, minute: minute)
    }

    @Test func rivera_faxFridayBeforeJuly2013Weekend_dueFollowingFriday() throws {
        let deadline = try calculator.deadline(
            .urDecisionProspective,
            from: Self.day("2013-07-05"),
            options: DeadlineOptions(transmission: .fax)
        )
        #expect(deadline.dueDate == Self.day("2013-07-12"))
        #expect(deadline.due == Pacific.endOfDay(Self.day("2013-07-12")))
        #expect(deadline.calendar == .urPre2020)
        #expect(deadline.explanation.contains("skipped Sat 2013-07-06 and Sun 2013-07-07 (weekend)"))
        #expect(deadline.assumptions.contains("time of transmission not given: assumed before 5:30 p.m. Pacific"))
        // Decisions on 07-15 and 07-16 were late.
        #expect(!deadline.isMet(by: Self.at("2013-07-15", 9, 0)))
        #expect(deadline.isMet(by: Self.at("2013-07-12", 23, 0)))
        #expect(deadline.consequenceIfMissed.kind == .urInvalid)
    }

    @Test func green_faxAfter530Friday_deemedReceivedMonday_dueMondayAfter() throws {
        let faxed = Self.at("2015-04-17", 18, 18)
        let receipt = try calculator.deadline(
            .rfaDeemedReceipt,
            from: faxed,
            options: DeadlineOptions(transmission: .fax)
        )
        #expect(receipt.dueDate == Self.day("2015-04-20"))
        #expect(receipt.explanation.contains { $0.contains("after 5:30 p.m. Pacific") })

        let decision = try calculator.deadline(
            .urDecisionProspective,
            from: faxed,
            options: DeadlineOptions(transmission: .fax)
        )
        #expect(decision.dueDate == Self.day("2015-04-27"))
        #expect(decision.isMet(by: Self.at("2015-04-27", 18, 5)))
        #expect(!decision.isMet(by: Self.at("2015-04-28", 0, 0)))
        // The same result from the deemed receipt date given directly.
        let direct = try calculator.deadline(.urDecisionProspective, from: Self.day("2015-04-20"))
        #expect(direct.due == decision.due)
        // The same fax before 5:30 p.m. counts that Friday: due Friday 2015-04-24.
        let early = try calculator.deadline(
            .urDecisionProspective,
            from: Self.at("2015-04-17", 17, 29),
            options: DeadlineOptions(service: .fax)
        )
        #expect(early.dueDate == Self.day("2015-04-24"))
    }

    @Test func pau_saturdayIsNotAWorkingDay() throws {
        let deadline = try calculator.deadline(.urDecisionProspective, from: Self.day("2018-03-12"))
        #expect(deadline.dueDate == Self.day("2018-03-19"))
        #expect(deadline.isMet(by: Self.at("2018-03-19", 16, 0)))
        #expect(deadline.assumptions.contains { $0.contains("Pa'u") })
        // Counting Saturdays (the reading Pa'u rejected) would have made it Saturday 2018-03-17.
        let saturdays = DeadlineCalculator(settings: CalendarSettings(urPre2020SaturdaysAreWorkingDays: true))
        #expect(
            try saturdays.deadline(.urDecisionProspective, from: Self.day("2018-03-12")).dueDate
                == Self.day("2018-03-17")
        )
    }

    @Test func bodam_physicianNoticeDue24HoursAfterDecision() throws {
        let deadline = try calculator.deadline(.urNoticePhysician, from: Self.day("2013-10-31"))
        #expect(deadline.dueDate == Self.day("2013-11-01"))
        #expect(deadline.isExactInstant)
        #expect(!deadline.isMet(by: Self.at("2013-11-05", 9, 0)))
        #expect(deadline.consequenceIfMissed.kind == .urInvalid)
        #expect(deadline.assumptions.contains { $0.contains("only a date is known") })
        let withTime = try calculator.deadline(.urNoticePhysician, from: Self.at("2013-10-31", 15, 30))
        #expect(withTime.due == Self.at("2013-11-01", 15, 30))
    }

    @Test func matute_mailedDetermination_appealDueThirtyPlusFive() throws {
        let deadline = try calculator.deadline(
            .wcabAppeal,
            from: Self.day("2014-11-06"),
            options: DeadlineOptions(service: .mail)
        )
        #expect(deadline.dueDate == Self.day("2014-12-11"))
        #expect(deadline.isMet(by: Self.at("2014-12-10", 12, 0)))
        #expect(deadline.explanation.contains { $0.hasPrefix("plus 5 calendar days") })
        #expect(deadline.consequenceIfMissed.kind == .dismissed)
        #expect(deadline.summary.due == "2014-12-11T23:59:59-08:00")
        // Outside California the extension is 10 days: Tue 2014-12-16.
        let other = try calculator.deadline(
            .wcabAppeal,
            from: Self.day("2014-11-06"),
            options: DeadlineOptions(service: .mail, destination: .otherState)
        )
        #expect(other.dueDate == Self.day("2014-12-16"))
    }

    @Test func avila_imrApplicationDueTuesday_receivedWednesdayIsLate() throws {
        let deadline = try calculator.deadline(
            .imrApplication,
            from: Self.day("2013-12-24"),
            options: DeadlineOptions(service: .mail)
        )
        #expect(deadline.dueDate == Self.day("2014-01-28"))
        #expect(!deadline.isMet(by: Self.at("2014-01-29", 10, 0)))
        #expect(deadline.consequenceIfMissed.kind == .ineligible)
        #expect(deadline.calendar == .judicial)
        // Without a service method the calculator assumes mail in California, and says so.
        let assumed = try calculator.deadline(.imrApplication, from: Self.day("2013-12-24"))
        #expect(assumed.dueDate == Self.day("2014-01-28"))
        #expect(assumed.assumptions.contains("service method not given: assumed served by mail in California"))
    }
}
