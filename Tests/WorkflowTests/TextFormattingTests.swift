import Foundation
import PropertyBased
import Testing
@testable import Workflow

/// The hand-written formatting of numbers, dates and instants (the hot path of every command
/// and read model) against independent references.
@Suite struct TextFormattingTests {
    /// What `padded` was before it wrote its digits in place.
    static func referencePadded(_ n: Int, _ width: Int) -> String {
        let digits = String(abs(n))
        let sign = n < 0 ? "-" : ""
        return digits.count >= width
            ? sign + digits : sign + String(repeating: "0", count: width - digits.count) + digits
    }

    @Test func paddedNumbersMatchTheReference() async {
        await propertyCheck(count: 500, input: zip(Gen.int(in: -2_000_000...2_000_000), Gen.int(in: 0...8))) {
            n,
            width in
            #expect(padded(n, width) == Self.referencePadded(n, width), "\(n) \(width)")
        }
        #expect(padded(0, 0) == "0")
        #expect(padded(7, 2) == "07")
        #expect(padded(-7, 3) == "-007")
        #expect(padded(123_456, 2) == "123456")
    }

    @Test func isoDatesMatchTheReferenceForEveryYear() async {
        // Years 1 to 12000: four digits and beyond (the fallback).
        await propertyCheck(count: 500, input: Gen.int(in: -719_162...3_663_000)) { dayNumber in
            let date = LocalDate(dayNumber: dayNumber)
            let reference =
                Self.referencePadded(date.year, 4) + "-" + Self.referencePadded(date.month, 2) + "-"
                + Self.referencePadded(date.day, 2)
            #expect(date.iso == reference)
            #expect(LocalDate(iso: date.iso) == date || date.year > 9999)
        }
    }

    /// Only `YYYY-MM-DD` in ASCII digits: `Int()` alone takes a sign, so "+999" was a year.
    @Test func isoDatesTakeDigitsOnly() {
        #expect(LocalDate(iso: "2026-12-02") == LocalDate(year: 2026, month: 12, day: 2))
        for text in [
            "+999-01-01", "2026-+1-02", "2026-01-+2", "2026-1 -02", " 2026-01-02", "2026-01-0٢", "2026-02-30",
            "26-01-02",
        ] {
            #expect(LocalDate(iso: text) == nil, "\(text)")
        }
    }

    @Test func rfc3339MatchesFoundationsFormatterInPacificTime() async {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "America/Los_Angeles")!
        formatter.formatOptions = [.withInternetDateTime]
        // 1970 to 2100, both sides of every daylight-saving change.
        await propertyCheck(count: 500, input: Gen.int(in: 0...4_102_444_800)) { seconds in
            let instant = Date(timeIntervalSince1970: TimeInterval(seconds))
            #expect(Pacific.rfc3339(instant) == formatter.string(from: instant), "\(seconds)")
        }
    }

    @Test func plainASCIITextTakesTheShortPathWithTheSameAnswers() {
        #expect(throws: Never.self) {
            try CommandValues.text("Lumbar MRI, 2 views (L4-L5)", field: "f", maximum: 40, multiline: false)
        }
        #expect(throws: Never.self) {
            try CommandValues.text("line one\n\tline two", field: "f", maximum: 40, multiline: true)
        }
        // The same refusals as the scalar-by-scalar path.
        #expect { try CommandValues.text("line one\nline two", field: "f", maximum: 40, multiline: false) } throws: {
            "\($0)".contains("control character U+000A")
        }
        #expect { try CommandValues.text("bell\u{7}", field: "f", maximum: 40, multiline: true) } throws: {
            "\($0)".contains("U+0007")
        }
        #expect { try CommandValues.text("delete\u{7F}", field: "f", maximum: 40, multiline: false) } throws: {
            "\($0)".contains("U+007F")
        }
        #expect {
            try CommandValues.text(String(repeating: "a", count: 41), field: "f", maximum: 40, multiline: false)
        } throws: {
            "\($0)".contains("41 characters long; at most 40")
        }
        // Non-ASCII goes the long way: counted in characters, layout controls refused.
        #expect(throws: Never.self) {
            try CommandValues.text(String(repeating: "é", count: 40), field: "f", maximum: 40, multiline: false)
        }
        #expect { try CommandValues.text("a\u{202E}b", field: "f", maximum: 40, multiline: false) } throws: {
            "\($0)".contains("U+202E")
        }
    }
}
