import Foundation
import Testing

@testable import IMRCommandLine

/// The iCalendar export's hand-written date and text formatting (faster than `Calendar` and
/// chained replacements, which took most of an export's time) against those references.
@Suite struct ICalendarTests {
    static func referenceUTC(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    static func referenceEscape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ";", with: "\\;")
            .replacingOccurrences(of: ",", with: "\\,").replacingOccurrences(of: "\r\n", with: "\\n")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    @Test func utcMatchesTheCalendar_overTwoCenturies() {
        var generator = SystemRandomNumberGenerator()
        var instants: [Double] = [0, 951_782_400, 951_868_799, 4_107_542_399, 1_767_225_599.5]  // leap days, year ends
        for _ in 0..<20_000 { instants.append(Double.random(in: 0..<4_102_444_800, using: &generator)) }
        for seconds in instants {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(ICalendar.utc(date) == Self.referenceUTC(date), "\(seconds)")
        }
    }

    @Test func escapeMatchesTheRFCReplacements() {
        for text in [
            "", "plain", "a,b;c\\d", "line\nbreak", "crlf\r\nend", "lone\rcr", "\r\r\n", "trailing\r", "é, ü; 日本\n",
            "MTUS ACOEM; Chapter 8, page 3\\4",
        ] {
            #expect(ICalendar.escape(text) == Self.referenceEscape(text), "\(text.debugDescription)")
        }
    }

    @Test func foldKeepsShortLines_andFoldsLongOnesAt75Octets() {
        #expect(ICalendar.fold("SUMMARY:short") == "SUMMARY:short")
        let long = "DESCRIPTION:" + String(repeating: "é", count: 80)
        let folded = ICalendar.fold(long)
        #expect(folded.replacingOccurrences(of: "\r\n ", with: "") == long)
        #expect(folded.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 75 })
    }
}
