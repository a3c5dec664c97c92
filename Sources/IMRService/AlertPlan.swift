import Foundation
import Workflow

/// When the alerts of one running deadline become due, as the deadlines read model stores
/// them beside the deadline (`alert_plan`), so that the scheduler never decodes a deadline or
/// re-reads the policy to know what a deadline owes.
///
/// Stored as text, one `level@instant` per alert in the order they become due, the instant
/// in microseconds since 1970: `notice@1709827200000000 reminder@1710086400000000`. Empty for
/// a deadline that raises no alert (settled, or a rule whose alerts are turned off).
struct AlertPlan: Equatable, Sendable {
    struct Entry: Equatable, Sendable {
        var level: AlertLevel
        var atMicros: Int64
    }

    var entries: [Entry]

    init(entries: [Entry]) { self.entries = entries }

    static let none = AlertPlan(entries: [])

    /// The plan of a deadline's schedule (``AlertPolicy/schedule(for:calculator:)``).
    init(_ schedule: [ScheduledAlert]) {
        entries = schedule.map { Entry(level: $0.level, atMicros: $0.at.unixMicroseconds) }
    }

    /// Nil when `text` is not a plan this build writes.
    /// (Read on the bytes: a rebuild reads back the plan of every running deadline, and
    /// splitting the text into strings was a twentieth of the applying thread's time.)
    init?(text: String) {
        var text = text
        guard let entries = text.withUTF8(Self.entries(in:)) else { return nil }
        self.entries = entries
    }

    /// The entries of a plan's text: `level@micros` parts between spaces (empty parts skipped),
    /// or nil when a part is not one.
    private static func entries(in bytes: UnsafeBufferPointer<UInt8>) -> [Entry]? {
        let space = UInt8(ascii: " ")
        var entries: [Entry] = []
        var start = 0
        while start < bytes.count {
            if bytes[start] == space {
                start += 1
                continue
            }
            var end = start
            while end < bytes.count && bytes[end] != space { end += 1 }
            guard let entry = entry(UnsafeBufferPointer(rebasing: bytes[start..<end])) else { return nil }
            entries.append(entry)
            start = end
        }
        return entries
    }

    /// One `level@micros` part (micros: an optional sign and decimal digits, as `Int64(_:)` reads).
    private static func entry(_ part: UnsafeBufferPointer<UInt8>) -> Entry? {
        guard let at = part.firstIndex(of: UInt8(ascii: "@")) else { return nil }
        let name = UnsafeBufferPointer(rebasing: part[..<at])
        guard let level = AlertLevel.allCases.first(where: { $0.rawValue.utf8.elementsEqual(name) }) else { return nil }
        var index = at + 1
        var negative = false
        if index < part.count, part[index] == UInt8(ascii: "-") || part[index] == UInt8(ascii: "+") {
            negative = part[index] == UInt8(ascii: "-")
            index += 1
        }
        guard index < part.count else { return nil }
        var micros: Int64 = 0
        while index < part.count {
            let digit = part[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (tens, overflowed) = micros.multipliedReportingOverflow(by: 10)
            let (next, overflowedAgain) =
                negative ? tens.subtractingReportingOverflow(Int64(digit)) : tens.addingReportingOverflow(Int64(digit))
            guard !overflowed && !overflowedAgain else { return nil }
            micros = next
            index += 1
        }
        return Entry(level: level, atMicros: micros)
    }

    var text: String { entries.map { "\($0.level.rawValue)@\($0.atMicros)" }.joined(separator: " ") }

    /// The instant the first alert not yet raised becomes due, nil when none is left. A level
    /// below one already raised is never owed: the higher one superseded it.
    func next(raised: Set<AlertLevel>) -> Int64? {
        owed(raised: raised).first?.atMicros
    }

    /// The entries still owed: those above every level raised, in due order.
    func owed(raised: Set<AlertLevel>) -> [Entry] {
        guard let top = raised.max() else { return entries }
        return entries.filter { $0.level > top }
    }
}

extension AlertPolicy {
    /// Every setting that moves an alert, as one line: the deadlines read model keeps the line
    /// its plans were worked out with and works them out again when the configured policy
    /// differs.
    var fingerprint: String {
        func describe(_ times: AlertLeadTimes) -> String {
            "days=\(times.businessDaysBefore) due-day=\(times.dueDayAt?.description ?? "none") hours=\(times.hoursBefore) "
                + "overdue=\(times.overdue) enabled=\(times.enabled)"
        }
        var parts = ["all{\(describe(leadTimes))}"]
        for rule in perRule.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
            parts.append("\(rule.rawValue){\(describe(perRule[rule]!))}")
        }
        parts.append("quiet=\(quietHours.map { "\($0.start)-\($0.end)" } ?? "none")")
        parts.append("business-day-at=\(businessDayAlertTime)")
        return parts.joined(separator: " ")
    }
}
