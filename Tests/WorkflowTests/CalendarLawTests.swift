import Foundation
import Testing
import PropertyBased
@testable import Workflow

/// Laws every calendar must keep, over random dates from 2013 through 2035.
@Suite struct CalendarLawTests {
    static let first = LocalDate(year: 2013, month: 1, day: 1)!.dayNumber
    static let last = LocalDate(year: 2035, month: 12, day: 31)!.dayNumber

    /// Default settings for each calendar, and the two ur-pre2020 switches flipped.
    static let calendars: [BusinessCalendar] =
        CalendarID.allCases.map { BusinessCalendar($0) } + [
            BusinessCalendar(
                .urPre2020,
                settings: CalendarSettings(
                    urPre2020SaturdaysAreWorkingDays: true,
                    urPre2020DayAfterThanksgivingIsWorkingDay: false
                )
            ),
            BusinessCalendar(
                .judicial,
                settings: CalendarSettings(juneteenthJudicialFrom: LocalDate(year: 2023, month: 1, day: 1)!)
            ),
        ]

    static let dayGen = Gen.int(in: first...last)
    static let calendarGen = Gen.int(in: 0...(calendars.count - 1))

    @Test func addingBusinessDaysLandsOnABusinessDay_andSkipsOnlyNonBusinessDays() async {
        await propertyCheck(count: 300, input: Self.dayGen, Gen.int(in: 1...40), Self.calendarGen) { day, n, index in
            let calendar = Self.calendars[index]
            let start = LocalDate(dayNumber: day)
            let result = calendar.addingBusinessDays(n, to: start)
            #expect(calendar.isBusinessDay(result.date))
            #expect(result.date > start)
            // Every day between is either counted or skipped for a reason, never both.
            let between = (start.dayNumber + 1...result.date.dayNumber).map(LocalDate.init(dayNumber:))
            #expect(between.filter(calendar.isBusinessDay).count == n)
            #expect(result.skipped.map(\.date) == between.filter { !calendar.isBusinessDay($0) })
        }
    }

    @Test func nThenMBusinessDaysEqualsNPlusM() async {
        await propertyCheck(count: 300, input: Self.dayGen, Gen.int(in: 0...30), Gen.int(in: 0...30)) { day, n, m in
            for calendar in Self.calendars {
                let start = LocalDate(dayNumber: day)
                let stepwise = calendar.addingBusinessDays(m, to: calendar.addingBusinessDays(n, to: start).date).date
                #expect(
                    stepwise == calendar.addingBusinessDays(n + m, to: start).date,
                    "\(calendar.id.rawValue) \(start) \(n) \(m)"
                )
            }
        }
    }

    @Test func rollOverNeverMovesEarlier_andLandsOnAWeekdayThatIsNoHoliday() async {
        await propertyCheck(count: 300, input: Self.dayGen, Self.calendarGen) { day, index in
            let calendar = Self.calendars[index]
            let date = LocalDate(dayNumber: day)
            let rolled = calendar.rollForward(date)
            #expect(rolled.date >= date)
            #expect(calendar.rollOverReason(rolled.date) == nil)
            #expect(!rolled.date.weekday.isWeekend)
            #expect(calendar.holiday(on: rolled.date) == nil)
            // A day that needs no roll stays; rolling twice changes nothing.
            #expect(calendar.rollForward(rolled.date).date == rolled.date)
            if calendar.rollOverReason(date) == nil { #expect(rolled.date == date) }
            // Never further than a long weekend plus the Thanksgiving pair.
            #expect(date.days(until: rolled.date) <= 4)
        }
    }

    @Test func holidaysExistEveryYear_andNamesAreNonEmpty() async {
        await propertyCheck(count: 50, input: Gen.int(in: 2013...2035)) { year in
            for calendar in Self.calendars {
                let holidays = calendar.holidays(in: year)
                #expect(holidays.count >= 11)
                #expect(holidays.allSatisfy { !$0.name.isEmpty && $0.date.year == year })
                #expect(holidays.allSatisfy { calendar.holiday(on: $0.date) != nil })
                // Observed days are always weekdays.
                #expect(holidays.filter(\.isObserved).allSatisfy { !$0.date.weekday.isWeekend })
            }
        }
    }

    @Test func eachYearHasTheListedNumberOfHolidays() async {
        // Counted by hand from DEADLINES.md: calhr 11 holidays; judicial 13 (Columbus Day swapped
        // for Native American Day in 2022); ur-pre2020 13, plus Native American Day from 2015.
        await propertyCheck(count: 60, input: Gen.int(in: 2013...2035)) { year in
            let own = { (id: CalendarID) in BusinessCalendar(id).holidays(in: year).filter { !$0.isObserved }.count }
            #expect(own(.calhr) == 11)
            #expect(own(.judicial) == 13)
            #expect(own(.urPre2020) == (year >= 2015 ? 14 : 13))
        }
    }

    @Test func rollingRulesEndOnACourtDay_businessDayRulesCountExactly() async {
        let calculator = DeadlineCalculator()
        await propertyCheck(count: 150, input: Self.dayGen) { day in
            let start = LocalDate(dayNumber: day)
            let judicial = calculator.calendar(.judicial)
            for rule in [RuleID.imrApplication, .wcabAppeal] {
                let deadline = try calculator.deadline(rule, from: start, options: DeadlineOptions(service: .mail))
                let unrolled = start.adding(days: 35)
                #expect(judicial.rollOverReason(deadline.dueDate) == nil, "\(rule.rawValue) \(start)")
                #expect(deadline.dueDate >= unrolled)
                #expect(unrolled.days(until: deadline.dueDate) <= 4)
            }
            for rule in [RuleID.urDeferral, .urInfoRequest, .imrEligibilityResponse] {
                let deadline = try calculator.deadline(rule, from: start)
                let calendar = calculator.calendar(try #require(deadline.calendar))
                #expect(calendar.isBusinessDay(deadline.dueDate), "\(rule.rawValue) \(start)")
                let between = (start.dayNumber + 1...deadline.dueDate.dayNumber).map(LocalDate.init(dayNumber:))
                #expect(between.filter(calendar.isBusinessDay).count == 5)
            }
        }
    }
}
