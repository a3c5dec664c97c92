import Foundation
import Testing
@testable import IMRService
import Workflow

/// A deadline's alert plan is stored as text and read back on the bytes; it must read every
/// text as the plain reading (split on spaces, `Int64` of the instant) did.
@Suite struct AlertPlanTextTests {
    /// The reading the plans were first read with: the reference.
    static func plainReading(_ text: String) -> [AlertPlan.Entry]? {
        var entries: [AlertPlan.Entry] = []
        for part in text.split(separator: " ") {
            guard let at = part.firstIndex(of: "@"), let level = AlertLevel(rawValue: String(part[..<at])),
                let micros = Int64(part[part.index(after: at)...])
            else { return nil }
            entries.append(AlertPlan.Entry(level: level, atMicros: micros))
        }
        return entries
    }

    @Test func aPlanReadsBackAsWritten() {
        let plan = AlertPlan(entries: [
            .init(level: .notice, atMicros: 1_709_827_200_000_000),
            .init(level: .reminder, atMicros: 1_710_086_400_000_000),
            .init(level: .dueToday, atMicros: 1_710_169_200_000_000),
            .init(level: .overdue, atMicros: -5),
        ])
        #expect(AlertPlan(text: plan.text) == plan)
        #expect(AlertPlan(text: "") == AlertPlan.none)
    }

    @Test(arguments: [
        "", " ", "notice@1", "notice@1 reminder@2", "  notice@1   due-today@3 ", "notice@+7", "notice@-7",
        "notice@", "notice@-", "@5", "notice5", "Notice@1", "notice@1x", "notice@1@2", "nope@1",
        "notice@9223372036854775807", "notice@9223372036854775808", "notice@-9223372036854775808",
        "notice@-9223372036854775809", "overdue@0 notice@12 reminder@ab", "due-today@1\tnotice@2",
        "noticé@1", "due-today@00012",
    ])
    func everyTextReadsAsThePlainReadingDid(text: String) {
        #expect(AlertPlan(text: text)?.entries == Self.plainReading(text), "\(text.debugDescription)")
    }
}
