import ArgumentParser
import Foundation
import Workflow

/// Dates and instants as a coordinator types them: ISO dates (`2024-03-05`, also `2024-3-5`),
/// Pacific times (`2024-03-05T09:30`), RFC 3339, and the words today, yesterday, tomorrow and
/// now. A US date (`03/05/2024`) is refused with the ISO date it most likely means.
package enum When {
    /// The words every date and instant option takes.
    static let words = "today, yesterday, tomorrow or now"

    /// A calendar date: YYYY-MM-DD, an instant (its Pacific date), or one of the words.
    package static func date(_ text: String, option: String, now: Date = Date()) throws -> String {
        if let day = relativeDay(text, now: now) { return day.iso }
        let normal = try normalised(text, option: option)
        do {
            return try parse(normal, text: text, option: option).day.iso
        } catch is DeadlineError {
            throw ValidationError(
                "\(option) '\(text)' is not a date: write YYYY-MM-DD (a California date), an instant, or \(words)"
            )
        }
    }

    /// The trigger `normal` names. A date outside the accepted range is a value imr cannot
    /// accept (exit 65); a Pacific time that daylight saving skipped or repeated is refused
    /// with the reason and the spellings that work; any other error is the caller's to word.
    static func parse(_ normal: String, text: String, option: String) throws -> DeadlineTrigger {
        do {
            return try DeadlineTrigger(parsing: normal)
        } catch let error as DeadlineError where error.isTriggerOutOfRange {
            throw CommandFailure(
                "\(option) '\(text)' is outside the dates imr accepts: \(LocalDate.supportedRange.lowerBound.iso) to "
                    + "\(LocalDate.supportedRange.upperBound.iso)",
                status: .dataError
            )
        } catch let error as DeadlineError where error.isLocalTimeNotUnique {
            throw ValidationError("\(option): \(error)")
        }
    }

    /// An instant: RFC 3339, YYYY-MM-DDTHH:MM (Pacific), `now`; a bare date or today,
    /// yesterday, tomorrow (then the time of day is unknown and the second value is false).
    package static func instant(_ text: String, option: String, now: Date = Date()) throws -> (String, timeKnown: Bool)
    {
        if text.trimmingCharacters(in: .whitespaces).lowercased() == "now" { return (Pacific.rfc3339(now), true) }
        if let day = relativeDay(text, now: now) { return (Pacific.rfc3339(Pacific.startOfDay(day)), false) }
        let trigger: DeadlineTrigger
        do {
            trigger = try parse(try normalised(text, option: option), text: text, option: option)
        } catch is DeadlineError {
            throw ValidationError(
                "\(option) '\(text)' is not an instant: write YYYY-MM-DDTHH:MM (Pacific time), RFC 3339 (2024-03-01T16:10:00-08:00), a date, or \(words)"
            )
        }
        switch trigger {
        case .instant(let instant): return (Pacific.rfc3339(instant), true)
        case .date(let day): return (Pacific.rfc3339(Pacific.startOfDay(day)), false)
        }
    }

    /// A trigger as `calc --from` takes it: the same forms, `now` an instant, the day words dates.
    package static func trigger(_ text: String, option: String, now: Date = Date()) throws -> DeadlineTrigger {
        if text.trimmingCharacters(in: .whitespaces).lowercased() == "now" { return .instant(now) }
        if let day = relativeDay(text, now: now) { return .date(day) }
        do {
            return try parse(try normalised(text, option: option), text: text, option: option)
        } catch let error as DeadlineError {
            throw ValidationError("\(option) '\(text)': \(error)")
        }
    }

    /// today, yesterday, tomorrow (and `now` where a date is asked for): the Pacific date.
    static func relativeDay(_ text: String, now: Date) -> LocalDate? {
        let today = Pacific.date(of: now)
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "today", "now": return today
        case "yesterday": return today.adding(days: -1)
        case "tomorrow": return today.adding(days: 1)
        default: return nil
        }
    }

    /// `2024-3-5` (and `2024-3-5T9:30`) with its month, day and hour zero-padded; a US date
    /// (MM/DD/YYYY) refused with the ISO date it most likely means.
    static func normalised(_ text: String, option: String) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let us = trimmed.split(separator: "/", omittingEmptySubsequences: false)
        if us.count == 3, us.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
            let m = Int(us[0]), let d = Int(us[1]), let y = Int(us[2]), us[2].count == 4
        {
            let guess = LocalDate(year: y, month: m, day: d)
            throw ValidationError(
                "\(option) '\(text)' is not a date imr reads: write year-month-day"
                    + (guess.map { ", did you mean \($0.iso)?" } ?? " (YYYY-MM-DD)")
            )
        }
        let (datePart, rest): (Substring, Substring) = {
            if let t = trimmed.firstIndex(where: { $0 == "T" || $0 == "t" || $0 == " " }) {
                return (trimmed[..<t], trimmed[t...])
            }
            return (trimmed[...], "")
        }()
        let fields = datePart.split(separator: "-", omittingEmptySubsequences: false)
        guard fields.count == 3, fields[0].count == 4, (1...2).contains(fields[1].count),
            (1...2).contains(fields[2].count),
            fields.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } })
        else { return trimmed }
        func pad(_ s: Substring) -> String { s.count == 1 ? "0" + s : String(s) }
        var time = String(rest)
        // T9:30 → T09:30; a space between date and time as the T.
        if let first = time.first, first == " " || first == "t" { time = "T" + time.dropFirst() }
        if time.count >= 2, time.dropFirst().prefix(while: { $0 != ":" }).count == 1 { time = "T0" + time.dropFirst() }
        return "\(fields[0])-\(pad(fields[1]))-\(pad(fields[2]))" + time
    }
}

extension DeadlineTrigger {
    var day: LocalDate {
        switch self {
        case .date(let d): d
        case .instant(let i): Pacific.date(of: i)
        }
    }
}
