import Foundation

/// A calendar date with no time of day and no zone: a California date when the
/// product speaks of "the due date" or "the trigger day".
///
/// Day arithmetic is done on a day number (days since 1970-01-01) so that it
/// never touches a time zone; conversion to and from instants goes through
/// ``Pacific``.
public struct LocalDate: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public let year: Int
    public let month: Int
    public let day: Int

    /// Creates a date, or returns nil when the fields do not name a real day.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), day >= 1, day <= LocalDate.daysInMonth(year: year, month: month) else {
            return nil
        }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Creates a date from its day number (days since 1970-01-01).
    public init(dayNumber: Int) {
        // Howard Hinnant's civil_from_days.
        let z = dayNumber + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        self.year = y
        self.month = m
        self.day = d
    }

    /// Parses `YYYY-MM-DD`: ten ASCII characters, digits and the two dashes (no sign, no space).
    public init?(iso: String) {
        // Exactly "YYYY-MM-DD", read on the bytes (read models parse dates per row).
        func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> (Int, Int, Int)? {
            guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
            func number(_ range: Range<Int>) -> Int? {
                var value = 0
                for index in range {
                    let digit = Int(bytes[index]) - Int(UInt8(ascii: "0"))
                    guard (0...9).contains(digit) else { return nil }
                    value = value * 10 + digit
                }
                return value
            }
            guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10) else { return nil }
            return (year, month, day)
        }
        let parsed = iso.utf8.withContiguousStorageIfAvailable(parse) ?? Array(iso.utf8).withUnsafeBufferPointer(parse)
        guard let (y, m, d) = parsed else { return nil }
        self.init(year: y, month: m, day: d)
    }

    /// Days since 1970-01-01 (negative before).
    public var dayNumber: Int {
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public var weekday: Weekday {
        // 1970-01-01 was a Thursday.
        let index = ((dayNumber % 7) + 7 + 3) % 7  // 0 = Monday
        return Weekday(rawValue: index + 1)!
    }

    public func adding(days: Int) -> LocalDate { LocalDate(dayNumber: dayNumber + days) }

    /// Whole days from `self` to `other` (positive when `other` is later).
    public func days(until other: LocalDate) -> Int { other.dayNumber - dayNumber }

    public var iso: String {
        isoDateText(year: year, month: month, day: day) ?? padded(year, 4) + "-" + padded(month, 2) + "-"
            + padded(day, 2)
    }

    public var description: String { iso }

    public static func < (lhs: LocalDate, rhs: LocalDate) -> Bool { lhs.dayNumber < rhs.dayNumber }

    public static func isLeapYear(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 1, 3, 5, 7, 8, 10, 12: return 31
        case 4, 6, 9, 11: return 30
        case 2: return isLeapYear(year) ? 29 : 28
        default: return 0
        }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let date = LocalDate(iso: text) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "'\(text)' is not a date in the form YYYY-MM-DD"
            )
        }
        if decoder.userInfo[LocalDate.supportedRangeOnly] as? Bool == true, !LocalDate.supportedRange.contains(date) {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: LocalDate.outsideRange("'\(text)'"))
        }
        self = date
    }

    /// The dates imr accepts as input: the calendars, holiday rules and the Pacific
    /// conversion are right over this range (before 1900 the zone data is local mean time).
    public static let supportedRange =
        LocalDate(year: 1900, month: 1, day: 1)!...LocalDate(year: 2199, month: 12, day: 31)!

    /// A decoder whose `userInfo` holds `true` under this key refuses dates (and, in
    /// IMRService's wire format, instants) outside ``supportedRange``. Stored events are
    /// decoded without it, so a log never becomes unreadable.
    public static let supportedRangeOnly = CodingUserInfoKey(rawValue: "imr.supportedRangeOnly")!

    /// The sentence for a value outside ``supportedRange``.
    public static func outsideRange(_ value: String) -> String {
        "\(value) is outside the dates imr accepts: \(supportedRange.lowerBound.iso) to \(supportedRange.upperBound.iso) (Pacific)"
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(iso)
    }
}

/// ISO weekday numbering: Monday is 1, Sunday is 7.
public enum Weekday: Int, Sendable, CaseIterable, Codable {
    case monday = 1
    case tuesday, wednesday, thursday, friday, saturday, sunday

    public var name: String {
        switch self {
        case .monday: "Monday"
        case .tuesday: "Tuesday"
        case .wednesday: "Wednesday"
        case .thursday: "Thursday"
        case .friday: "Friday"
        case .saturday: "Saturday"
        case .sunday: "Sunday"
        }
    }

    /// The first three letters of ``name`` ("Mon").
    public var abbreviation: String {
        switch self {
        case .monday: "Mon"
        case .tuesday: "Tue"
        case .wednesday: "Wed"
        case .thursday: "Thu"
        case .friday: "Fri"
        case .saturday: "Sat"
        case .sunday: "Sun"
        }
    }

    public var isWeekend: Bool { self == .saturday || self == .sunday }
}

/// California time: every date the rules speak of is a date in America/Los_Angeles.
public enum Pacific {
    public static let timeZone = TimeZone(identifier: "America/Los_Angeles")!

    private static let calendar: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = timeZone
        return c
    }()

    /// The Pacific calendar date of an instant.
    public static func date(of instant: Date) -> LocalDate {
        LocalDate(dayNumber: localSeconds(instant).day)
    }

    /// The Pacific wall-clock reading of an instant: its day number and the seconds since
    /// that day's midnight (the zone's offset at that instant applied).
    private static func localSeconds(_ instant: Date) -> (day: Int, second: Int) {
        let local = Int(instant.timeIntervalSince1970.rounded(.down)) + timeZone.secondsFromGMT(for: instant)
        let day = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        return (day, local - day * 86_400)
    }

    /// The Pacific wall-clock time of an instant, in seconds since local midnight.
    public static func secondsSinceMidnight(of instant: Date) -> Int {
        localSeconds(instant).second
    }

    /// Every instant at which a Pacific clock read this wall-clock time on this date: one on
    /// an ordinary day, none in the hour skipped when daylight saving begins (02:00-02:59 on
    /// its Sunday in March), two in the hour repeated when it ends (01:00-01:59 in November),
    /// the earlier first.
    public static func instants(_ date: LocalDate, hour: Int, minute: Int, second: Int = 0) -> [Date] {
        let local = date.dayNumber * 86_400 + hour * 3600 + minute * 60 + second
        // Pacific is UTC-8 (PST) or UTC-7 (PDT): try the daylight offset first (the earlier instant).
        return [-7 * 3600, -8 * 3600].compactMap { offset -> Date? in
            let candidate = Date(timeIntervalSince1970: TimeInterval(local - offset))
            return timeZone.secondsFromGMT(for: candidate) == offset ? candidate : nil
        }
    }

    /// The instant of a Pacific wall-clock time on a date.
    public static func instant(_ date: LocalDate, hour: Int = 0, minute: Int = 0, second: Int = 0) -> Date {
        let components = DateComponents(
            year: date.year,
            month: date.month,
            day: date.day,
            hour: hour,
            minute: minute,
            second: second
        )
        return calendar.date(from: components)!
    }

    /// The first instant of a Pacific day.
    public static func startOfDay(_ date: LocalDate) -> Date { instant(date) }

    /// The last whole second of a Pacific day (23:59:59): a day deadline is met by
    /// an act at any time on its last day.
    public static func endOfDay(_ date: LocalDate) -> Date { instant(date, hour: 23, minute: 59, second: 59) }

    /// RFC 3339 with the Pacific offset, e.g. `2024-03-07T23:59:59-08:00`.
    public static func rfc3339(_ instant: Date) -> String {
        let offset = timeZone.secondsFromGMT(for: instant)
        let (dayNumber, time) = localSeconds(instant)
        let minutes = abs(offset) / 60
        let date = LocalDate(dayNumber: dayNumber)
        // `T hh:mm:ss ±hh:mm` after the date, 15 bytes, written in place.
        if time >= 0, time < 86_400, minutes < 6_000,
            let text = isoDateText(
                year: date.year,
                month: date.month,
                day: date.day,
                tail: 15,
                { buffer in
                    buffer[10] = 0x54
                    writeDigits(time / 3600, count: 2, into: buffer, at: 11)
                    buffer[13] = 0x3A
                    writeDigits(time % 3600 / 60, count: 2, into: buffer, at: 14)
                    buffer[16] = 0x3A
                    writeDigits(time % 60, count: 2, into: buffer, at: 17)
                    buffer[19] = offset < 0 ? 0x2D : 0x2B
                    writeDigits(minutes / 60, count: 2, into: buffer, at: 20)
                    buffer[22] = 0x3A
                    writeDigits(minutes % 60, count: 2, into: buffer, at: 23)
                }
            )
        {
            return text
        }
        return date.iso + "T" + padded(time / 3600, 2) + ":" + padded(time % 3600 / 60, 2) + ":" + padded(time % 60, 2)
            + (offset < 0 ? "-" : "+") + padded(minutes / 60, 2) + ":" + padded(minutes % 60, 2)
    }
}

/// `n` in decimal, zero-padded to `width` digits (String(format:) costs far more in the read
/// models' hot path).
func padded(_ n: Int, _ width: Int) -> String {
    guard n >= 0 else { return "-" + padded(-n, width) }
    var length = 1
    var rest = n / 10
    while rest > 0 {
        length += 1
        rest /= 10
    }
    length = max(length, width)
    return String(unsafeUninitializedCapacity: length) { buffer in
        writeDigits(n, count: length, into: buffer, at: 0)
        return length
    }
}

/// Writes the last `count` decimal digits of `n` (≥ 0), zero-padded, at `offset`.
@inline(__always)
func writeDigits(_ n: Int, count: Int, into buffer: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
    var rest = n
    for index in stride(from: offset + count - 1, through: offset, by: -1) {
        buffer[index] = 0x30 + UInt8(rest % 10)
        rest /= 10
    }
}

/// `yyyy-mm-dd` followed by `tail` bytes written by `writeTail` (at offset 10), in one
/// allocation; nil when the year does not have four digits.
@inline(__always)
func isoDateText(
    year: Int,
    month: Int,
    day: Int,
    tail: Int = 0,
    _ writeTail: (UnsafeMutableBufferPointer<UInt8>) -> Void = { _ in }
) -> String? {
    guard (0...9999).contains(year) else { return nil }
    return String(unsafeUninitializedCapacity: 10 + tail) { buffer in
        writeDigits(year, count: 4, into: buffer, at: 0)
        buffer[4] = 0x2D
        writeDigits(month, count: 2, into: buffer, at: 5)
        buffer[7] = 0x2D
        writeDigits(day, count: 2, into: buffer, at: 8)
        writeTail(buffer)
        return 10 + tail
    }
}
