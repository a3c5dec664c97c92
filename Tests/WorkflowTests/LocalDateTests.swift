import Foundation
import Testing
import PropertyBased
@testable import Workflow

@Suite struct LocalDateTests {
    @Test func dayNumberRoundTrips_andWeekdayIsRight() {
        let d = LocalDate(year: 2024, month: 3, day: 7)!
        #expect(d.weekday == .thursday)
        #expect(LocalDate(dayNumber: d.dayNumber) == d)
        #expect(LocalDate(year: 1970, month: 1, day: 1)!.dayNumber == 0)
        #expect(LocalDate(year: 2024, month: 2, day: 30) == nil)
        #expect(LocalDate(year: 2024, month: 2, day: 29) != nil)
        #expect(LocalDate(year: 2023, month: 2, day: 29) == nil)
        #expect(LocalDate(iso: "2013-07-05")!.weekday == .friday)
        #expect(LocalDate(iso: "2013-7-5") == nil)
    }

    @Test func dayNumberRoundTripsForAnyDay() async {
        await propertyCheck(input: Gen.int(in: -50_000...50_000)) { n in
            let d = LocalDate(dayNumber: n)
            #expect(d.dayNumber == n)
            #expect(LocalDate(iso: d.iso) == d)
            #expect(d.adding(days: 1).weekday.rawValue == d.weekday.rawValue % 7 + 1)
        }
    }

    @Test func pacificEndOfDayCarriesTheRightOffset() {
        let winter = Pacific.endOfDay(LocalDate(iso: "2024-03-07")!)
        #expect(Pacific.rfc3339(winter) == "2024-03-07T23:59:59-08:00")
        let summer = Pacific.endOfDay(LocalDate(iso: "2024-07-05")!)
        #expect(Pacific.rfc3339(summer) == "2024-07-05T23:59:59-07:00")
        // 2015-04-17 18:18 Pacific (Green v. Elle Placement) is a Friday evening.
        let faxed = Pacific.instant(LocalDate(iso: "2015-04-17")!, hour: 18, minute: 18)
        #expect(Pacific.date(of: faxed) == LocalDate(iso: "2015-04-17"))
        #expect(Pacific.secondsSinceMidnight(of: faxed) == 18 * 3600 + 18 * 60)
    }

    /// Pacific's arithmetic (day number plus the zone's offset) agrees with Foundation's
    /// calendar on any instant, across daylight-saving changes and before 1970.
    @Test func pacificDatesTimesAndRFC3339AgreeWithFoundationsCalendar() async {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = Pacific.timeZone
        await propertyCheck(input: Gen.int(in: -1_000_000_000...2_500_000_000)) { seconds in
            let instant = Date(timeIntervalSince1970: Double(seconds) + 0.25)
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: instant)
            #expect(Pacific.date(of: instant) == LocalDate(year: c.year!, month: c.month!, day: c.day!))
            #expect(Pacific.secondsSinceMidnight(of: instant) == c.hour! * 3600 + c.minute! * 60 + c.second!)
            let offset = Pacific.timeZone.secondsFromGMT(for: instant)
            let expected = String(
                format: "%04d-%02d-%02dT%02d:%02d:%02d-%02d:00",
                c.year!,
                c.month!,
                c.day!,
                c.hour!,
                c.minute!,
                c.second!,
                -offset / 3600
            )
            #expect(Pacific.rfc3339(instant) == expected)
        }
    }

    /// A Pacific wall-clock time names one instant, none in the hour daylight saving skips,
    /// two in the hour it repeats; a trigger written that way is refused with the reason.
    @Test func wallClockTimesDaylightSavingSkipsOrRepeats() throws {
        let spring = LocalDate(iso: "2023-03-12")!
        let fall = LocalDate(iso: "2023-11-05")!
        #expect(Pacific.instants(spring, hour: 1, minute: 59).map(Pacific.rfc3339) == ["2023-03-12T01:59:00-08:00"])
        #expect(Pacific.instants(spring, hour: 2, minute: 30).isEmpty)
        #expect(Pacific.instants(spring, hour: 3, minute: 0).map(Pacific.rfc3339) == ["2023-03-12T03:00:00-07:00"])
        #expect(
            Pacific.instants(fall, hour: 1, minute: 30).map(Pacific.rfc3339) == [
                "2023-11-05T01:30:00-07:00", "2023-11-05T01:30:00-08:00",
            ]
        )
        #expect(Pacific.instants(fall, hour: 2, minute: 0).map(Pacific.rfc3339) == ["2023-11-05T02:00:00-08:00"])
        #expect(Pacific.instants(fall, hour: 0, minute: 59).map(Pacific.rfc3339) == ["2023-11-05T00:59:00-07:00"])
        for text in ["2023-03-12T02:30", "2023-11-05T01:30", "2024-03-10T02:00:00"] {
            #expect(throws: DeadlineError.self, "\(text)") { try DeadlineTrigger(parsing: text) }
            do { _ = try DeadlineTrigger(parsing: text) } catch let error as DeadlineError {
                #expect(error.isLocalTimeNotUnique && error.isBadTrigger, "\(text)")
            }
        }
        // With an offset the instant is one, in both hours.
        #expect(
            try DeadlineTrigger(parsing: "2023-03-12T02:30-08:00").instant
                == Pacific.instants(spring, hour: 3, minute: 30)[0]
        )
        #expect(
            try DeadlineTrigger(parsing: "2023-11-05T01:30-08:00").instant
                == Pacific.instants(fall, hour: 1, minute: 30)[1]
        )
    }
}
