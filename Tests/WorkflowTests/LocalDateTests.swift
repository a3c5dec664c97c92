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
}
