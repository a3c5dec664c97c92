import Foundation
import Testing
@testable import Workflow

/// Holiday lists written by hand from a printed calendar (not computed by the code under
/// test): every date of `BusinessCalendar.holidays(in:)`, weekend holidays and observed days
/// included, in date order.
@Suite struct CalendarHolidayTests {
    static func dates(_ year: Int, _ monthDays: [String]) -> [LocalDate] {
        monthDays.map { LocalDate(iso: "\(year)-\($0)")! }
    }

    static func day(_ iso: String) -> LocalDate { LocalDate(iso: iso)! }

    static let handMade: [(CalendarID, Int, [String])] = [
        // 2013: Cesar Chavez Day on Sunday 31 March, observed Monday 1 April.
        (
            .calhr, 2013,
            [
                "01-01", "01-21", "02-18", "03-31", "04-01", "05-27", "07-04", "09-02", "11-11", "11-28", "11-29",
                "12-25",
            ]
        ),
        (
            .urPre2020, 2013,
            [
                "01-01", "01-21", "02-12", "02-18", "03-31", "04-01", "05-27", "07-04", "09-02", "09-09", "10-14",
                "11-11", "11-28", "12-25",
            ]
        ),
        (
            .judicial, 2013,
            [
                "01-01", "01-21", "02-12", "02-18", "03-31", "04-01", "05-27", "07-04", "09-02", "10-14", "11-11",
                "11-28", "11-29", "12-25",
            ]
        ),
        (
            .calhr, 2014,
            ["01-01", "01-20", "02-17", "03-31", "05-26", "07-04", "09-01", "11-11", "11-27", "11-28", "12-25"]
        ),
        (
            .urPre2020, 2014,
            [
                "01-01", "01-20", "02-12", "02-17", "03-31", "05-26", "07-04", "09-01", "09-09", "10-13", "11-11",
                "11-27", "12-25",
            ]
        ),
        (
            .judicial, 2014,
            [
                "01-01", "01-20", "02-12", "02-17", "03-31", "05-26", "07-04", "09-01", "10-13", "11-11", "11-27",
                "11-28", "12-25",
            ]
        ),
        // 2019/2020: the last ur-pre2020 year and the first calhr year (Independence Day 2020
        // on Saturday: no Friday off).
        (
            .urPre2020, 2019,
            [
                "01-01", "01-21", "02-12", "02-18", "03-31", "04-01", "05-27", "07-04", "09-02", "09-09", "09-27",
                "10-14", "11-11", "11-28", "12-25",
            ]
        ),
        (
            .calhr, 2020,
            ["01-01", "01-20", "02-17", "03-31", "05-25", "07-04", "09-07", "11-11", "11-26", "11-27", "12-25"]
        ),
        // 2021: Independence Day on Sunday, observed Monday 5 July; Columbus Day still judicial;
        // Christmas on Saturday gives no weekday off.
        (
            .calhr, 2021,
            [
                "01-01", "01-18", "02-15", "03-31", "05-31", "07-04", "07-05", "09-06", "11-11", "11-25", "11-26",
                "12-25",
            ]
        ),
        (
            .judicial, 2021,
            [
                "01-01", "01-18", "02-12", "02-15", "03-31", "05-31", "07-04", "07-05", "09-06", "10-11", "11-11",
                "11-25", "11-26", "12-25",
            ]
        ),
        // 2022: Native American Day (23 Sep) judicial, Columbus Day (10 Oct) not; Christmas on
        // Sunday observed Monday 26 December.
        (
            .calhr, 2022,
            [
                "01-01", "01-17", "02-21", "03-31", "05-30", "07-04", "09-05", "11-11", "11-24", "11-25", "12-25",
                "12-26",
            ]
        ),
        (
            .judicial, 2022,
            [
                "01-01", "01-17", "02-12", "02-21", "03-31", "05-30", "07-04", "09-05", "09-23", "11-11", "11-24",
                "11-25", "12-25", "12-26",
            ]
        ),
        (
            .calhr, 2024,
            [
                "01-01", "01-15", "02-19", "03-31", "04-01", "05-27", "07-04", "09-02", "11-11", "11-28", "11-29",
                "12-25",
            ]
        ),
        (
            .urPre2020, 2024,
            [
                "01-01", "01-15", "02-12", "02-19", "03-31", "04-01", "05-27", "07-04", "09-02", "09-09", "09-27",
                "10-14", "11-11", "11-28", "12-25",
            ]
        ),
        (
            .judicial, 2024,
            [
                "01-01", "01-15", "02-12", "02-19", "03-31", "04-01", "05-27", "07-04", "09-02", "09-27", "11-11",
                "11-28", "11-29", "12-25",
            ]
        ),
        // 2035: Cesar Chavez Day on Saturday (no weekday off), Admission Day and Veterans Day on Sunday.
        (
            .calhr, 2035,
            [
                "01-01", "01-15", "02-19", "03-31", "05-28", "07-04", "09-03", "11-11", "11-12", "11-22", "11-23",
                "12-25",
            ]
        ),
        (
            .urPre2020, 2035,
            [
                "01-01", "01-15", "02-12", "02-19", "03-31", "05-28", "07-04", "09-03", "09-09", "09-10", "09-28",
                "10-08", "11-11", "11-12", "11-22", "12-25",
            ]
        ),
        (
            .judicial, 2035,
            [
                "01-01", "01-15", "02-12", "02-19", "03-31", "05-28", "07-04", "09-03", "09-28", "11-11", "11-12",
                "11-22", "11-23", "12-25",
            ]
        ),
    ]

    @Test(arguments: 0..<handMade.count)
    func holidaysMatchTheHandMadeList(_ index: Int) {
        let (id, year, expected) = Self.handMade[index]
        let actual = BusinessCalendar(id).holidays(in: year).map(\.date)
        #expect(actual == Self.dates(year, expected), "\(id.rawValue) \(year)")
        for date in Self.dates(year, expected) {
            #expect(!BusinessCalendar(id).isBusinessDay(date), "\(id.rawValue) \(date)")
        }
    }

    @Test func everyOtherWeekdayIsABusinessDay_inTheHandMadeYears() {
        for (id, year, expected) in Self.handMade {
            let calendar = BusinessCalendar(id)
            let holidays = Set(Self.dates(year, expected))
            var date = LocalDate(year: year, month: 1, day: 1)!
            while date.year == year {
                let expectedBusiness = !holidays.contains(date) && date.weekday != .sunday && date.weekday != .saturday
                #expect(calendar.isBusinessDay(date) == expectedBusiness, "\(id.rawValue) \(date)")
                date = date.adding(days: 1)
            }
        }
    }

    @Test func holidaysAreNamed_andObservedDaysSaySo() {
        let calhr = BusinessCalendar(.calhr)
        #expect(calhr.holiday(on: Self.day("2024-04-01"))?.displayName == "Cesar Chavez Day (observed)")
        #expect(calhr.holiday(on: Self.day("2024-03-31"))?.displayName == "Cesar Chavez Day")
        #expect(calhr.holiday(on: Self.day("2013-07-04"))?.displayName == "Independence Day")
        #expect(calhr.holiday(on: Self.day("2024-11-29"))?.displayName == "Day after Thanksgiving")
        #expect(calhr.holiday(on: Self.day("2024-11-27")) == nil)
        #expect(
            BusinessCalendar(.judicial).holiday(on: Self.day("2022-12-26"))?.displayName == "Christmas Day (observed)"
        )
        #expect(
            BusinessCalendar(.urPre2020).holiday(on: Self.day("2035-09-10"))?.displayName == "Admission Day (observed)"
        )
    }

    @Test func sundayHolidayIsObservedMonday_yearEnds() {
        for id in CalendarID.allCases {
            let calendar = BusinessCalendar(id)
            // 2022-12-25 is a Sunday; 2023-01-01 is a Sunday.
            #expect(!calendar.isBusinessDay(Self.day("2022-12-26")), "\(id.rawValue)")
            #expect(calendar.isBusinessDay(Self.day("2022-12-27")), "\(id.rawValue)")
            #expect(!calendar.isBusinessDay(Self.day("2023-01-02")), "\(id.rawValue)")
            #expect(calendar.holiday(on: Self.day("2023-01-02"))?.displayName == "New Year's Day (observed)")
            // 2021-12-25 and 2022-01-01 are Saturdays: no Friday off for them.
            #expect(calendar.isBusinessDay(Self.day("2021-12-24")), "\(id.rawValue)")
            #expect(calendar.isBusinessDay(Self.day("2021-12-31")), "\(id.rawValue)")
        }
    }

    @Test func saturdayVeteransDayIsObservedFriday_otherSaturdayHolidaysAreNot() {
        for id in CalendarID.allCases {
            let calendar = BusinessCalendar(id)
            // 2023-11-11 is a Saturday: Friday 2023-11-10 is off everywhere.
            #expect(
                calendar.holiday(on: Self.day("2023-11-10"))?.displayName == "Veterans Day (observed)",
                "\(id.rawValue)"
            )
            #expect(!calendar.isBusinessDay(Self.day("2023-11-10")))
            #expect(calendar.isBusinessDay(Self.day("2023-11-13")))
        }
        // 2026-07-04 is a Saturday: no weekday off on the CalHR list.
        let calhr = BusinessCalendar(.calhr)
        #expect(calhr.holiday(on: Self.day("2026-07-04"))?.name == "Independence Day")
        #expect(calhr.isBusinessDay(Self.day("2026-07-03")))
        #expect(calhr.isBusinessDay(Self.day("2026-07-06")))
    }

    @Test func thanksgivingWeek() {
        let calhr = BusinessCalendar(.calhr)
        #expect(calhr.isBusinessDay(Self.day("2024-11-27")))
        #expect(!calhr.isBusinessDay(Self.day("2024-11-28")))
        #expect(!calhr.isBusinessDay(Self.day("2024-11-29")))
        #expect(calhr.isBusinessDay(Self.day("2024-12-02")))
        // Before 2020 the day after Thanksgiving was a working day (Gomez), unless configured.
        let pre2020 = BusinessCalendar(.urPre2020)
        #expect(!pre2020.isBusinessDay(Self.day("2018-11-22")))
        #expect(pre2020.isBusinessDay(Self.day("2018-11-23")))
        let pre2020Closed = BusinessCalendar(
            .urPre2020,
            settings: CalendarSettings(urPre2020DayAfterThanksgivingIsWorkingDay: false)
        )
        #expect(pre2020Closed.holiday(on: Self.day("2018-11-23"))?.name == "Day after Thanksgiving")
        #expect(!BusinessCalendar(.judicial).isBusinessDay(Self.day("2018-11-23")))
    }

    @Test func judicialColumbusAndNativeAmericanDaySwitchIn2022() {
        let judicial = BusinessCalendar(.judicial)
        #expect(judicial.holiday(on: Self.day("2021-10-11"))?.name == "Columbus Day")
        #expect(judicial.isBusinessDay(Self.day("2022-10-10")))
        #expect(judicial.isBusinessDay(Self.day("2021-09-24")))
        #expect(judicial.holiday(on: Self.day("2022-09-23"))?.name == "Native American Day")
        // ur-pre2020 has Native American Day from 2015 (25 Sep 2015), not in 2014 (26 Sep).
        let pre2020 = BusinessCalendar(.urPre2020)
        #expect(pre2020.holiday(on: Self.day("2015-09-25"))?.name == "Native American Day")
        #expect(pre2020.isBusinessDay(Self.day("2014-09-26")))
        // The CalHR list has neither.
        #expect(BusinessCalendar(.calhr).isBusinessDay(Self.day("2022-09-23")))
        #expect(BusinessCalendar(.calhr).isBusinessDay(Self.day("2019-10-14")))
    }

    @Test func juneteenthIsConfigurable_defaultNotJudicial() {
        // 2024-06-19 is a Wednesday; 2022-06-19 a Sunday (observed Monday 20 June).
        #expect(BusinessCalendar(.judicial).isBusinessDay(Self.day("2024-06-19")))
        let configured = BusinessCalendar(
            .judicial,
            settings: CalendarSettings(juneteenthJudicialFrom: Self.day("2022-01-01"))
        )
        #expect(configured.holiday(on: Self.day("2024-06-19"))?.name == "Juneteenth")
        #expect(configured.holiday(on: Self.day("2022-06-20"))?.displayName == "Juneteenth (observed)")
        #expect(configured.isBusinessDay(Self.day("2021-06-18")))
        #expect(BusinessCalendar(.calhr, settings: configured.settings).isBusinessDay(Self.day("2024-06-19")))
    }

    @Test func governorDaysAreCalhrOnly_closuresOnlyRoll() {
        let settings = CalendarSettings(
            organisationClosures: [NamedDay(date: Self.day("2024-08-15"), name: "office move")],
            governorDeclaredHolidays: [NamedDay(date: Self.day("2024-08-16"), name: "State day of mourning")]
        )
        let calhr = BusinessCalendar(.calhr, settings: settings)
        #expect(calhr.holiday(on: Self.day("2024-08-16"))?.name == "State day of mourning")
        #expect(!calhr.isBusinessDay(Self.day("2024-08-16")))
        #expect(BusinessCalendar(.judicial, settings: settings).isBusinessDay(Self.day("2024-08-16")))
        // A closure does not stretch a business-day count, but the last day of a rolling period moves.
        #expect(calhr.isBusinessDay(Self.day("2024-08-15")))
        let rolled = BusinessCalendar(.judicial, settings: settings).rollForward(Self.day("2024-08-15"))
        #expect(rolled.date == Self.day("2024-08-16"))
        #expect(rolled.skipped.first?.reason.text == "organisation closed: office move")
    }

    @Test func urCalendarFollowsTheTriggerDate() {
        #expect(CalendarID.utilizationReview(on: Self.day("2019-12-31")) == .urPre2020)
        #expect(CalendarID.utilizationReview(on: Self.day("2020-01-01")) == .calhr)
        #expect(CalendarID(rawValue: "ur-pre2020") == .urPre2020)
        #expect(Set(CalendarID.allCases.map(\.rawValue)) == ["calhr", "ur-pre2020", "judicial"])
    }

    @Test func saturdaysAreWorkingDaysOnlyWhenConfigured_butAlwaysRoll() {
        let saturday = Self.day("2018-03-17")
        #expect(!BusinessCalendar(.urPre2020).isBusinessDay(saturday))
        let working = BusinessCalendar(.urPre2020, settings: CalendarSettings(urPre2020SaturdaysAreWorkingDays: true))
        #expect(working.isBusinessDay(saturday))
        #expect(!working.isBusinessDay(Self.day("2018-03-18")))
        // CCP 12a: Saturday is a holiday for roll-over whatever the switch says.
        #expect(working.rollForward(saturday).date == Self.day("2018-03-19"))
        // With working Saturdays, Mon 2018-03-12 + 5 = Sat 2018-03-17.
        #expect(working.addingBusinessDays(5, to: Self.day("2018-03-12")).date == saturday)
    }

    @Test func skippedDaysAreExplainedByName() {
        // From Mon 2013-07-01, five business days on ur-pre2020 skip 4 July and the weekend.
        let count = BusinessCalendar(.urPre2020).addingBusinessDays(5, to: Self.day("2013-07-01"))
        #expect(count.date == Self.day("2013-07-09"))
        #expect(
            count.skippedLines == [
                "skipped Thu 2013-07-04 (Independence Day)",
                "skipped Sat 2013-07-06 and Sun 2013-07-07 (weekend)",
            ]
        )
    }

    @Test func rule1_11SaturdayObservanceIsOffByDefault_andConfigurable() {
        // 2021-12-25 and 2022-01-01 are Saturdays.
        let rule111 = BusinessCalendar(
            .judicial,
            settings: CalendarSettings(judicialSaturdayHolidaysObservedFriday: true)
        )
        #expect(rule111.holiday(on: Self.day("2021-12-24"))?.displayName == "Christmas Day (observed)")
        #expect(rule111.holiday(on: Self.day("2021-12-31"))?.displayName == "New Year's Day (observed)")
        #expect(rule111.holidays(in: 2021).map(\.date).contains(Self.day("2021-12-31")))
        #expect(!rule111.holidays(in: 2022).map(\.date).contains(Self.day("2021-12-31")))
        // Monday holidays never move; the CalHR list is untouched by the judicial switch.
        #expect(rule111.isBusinessDay(Self.day("2026-07-06")))
        #expect(!rule111.isBusinessDay(Self.day("2026-07-03")))
        #expect(BusinessCalendar(.calhr, settings: rule111.settings).isBusinessDay(Self.day("2026-07-03")))
        #expect(BusinessCalendar(.judicial).isBusinessDay(Self.day("2021-12-31")))
    }

    @Test func settingsDecodeFromAPartialFile() throws {
        let json = #"{"urPre2020SaturdaysAreWorkingDays": true, "juneteenthJudicialFrom": "2023-01-01"}"#
        let settings = try JSONDecoder().decode(CalendarSettings.self, from: Data(json.utf8))
        #expect(settings.urPre2020SaturdaysAreWorkingDays)
        #expect(settings.urPre2020DayAfterThanksgivingIsWorkingDay)
        #expect(settings.juneteenthJudicialFrom == Self.day("2023-01-01"))
        #expect(settings.organisationClosures.isEmpty)
        #expect(try JSONDecoder().decode(CalendarSettings.self, from: Data("{}".utf8)) == CalendarSettings())
    }

    @Test func holidaysInARangeCrossYears() {
        let judicial = BusinessCalendar(.judicial)
        let span = judicial.holidays(from: Self.day("2022-12-01"), through: Self.day("2023-01-31"))
        #expect(
            span.map(\.date) == [
                Self.day("2022-12-25"), Self.day("2022-12-26"), Self.day("2023-01-01"), Self.day("2023-01-02"),
                Self.day("2023-01-16"),
            ]
        )
        #expect(judicial.holidays(from: Self.day("2023-01-31"), through: Self.day("2023-01-01")).isEmpty)
    }
}
