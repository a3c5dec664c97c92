import Synchronization
/// Why a day was passed over while counting or rolling a deadline.
public enum SkipReason: Sendable, Equatable, Hashable {
    /// A Saturday or a Sunday.
    case weekend
    /// A named holiday of the calendar (including Governor-declared days on `calhr`).
    case holiday(Holiday)
    /// A configured whole-day closure of the organisation (CCP 12b).
    case closure(NamedDay)

    /// The reason as explanations show it: "weekend", "Independence Day (observed)".
    public var text: String {
        switch self {
        case .weekend: "weekend"
        case .holiday(let holiday): holiday.displayName
        case .closure(let day): "organisation closed: \(day.name)"
        }
    }
}

/// A day passed over, with its reason.
public struct SkippedDay: Sendable, Equatable, Hashable {
    public let date: LocalDate
    public let reason: SkipReason
}

/// The result of counting or rolling: the day reached and every day passed over on the way.
public struct DayCount: Sendable, Equatable {
    public let date: LocalDate
    public let skipped: [SkippedDay]

    /// The skipped days as explanation lines: consecutive weekend days share a line
    /// ("skipped Sat 2013-07-06 and Sun 2013-07-07 (weekend)"), every holiday has its own
    /// ("skipped Thu 2013-07-04 (Independence Day)").
    public var skippedLines: [String] {
        var lines: [String] = []
        var index = 0
        while index < skipped.count {
            let day = skipped[index]
            if day.reason == .weekend {
                var run = [day.date]
                while index + 1 < skipped.count, skipped[index + 1].reason == .weekend,
                    skipped[index + 1].date.dayNumber == run.last!.dayNumber + 1
                {
                    index += 1
                    run.append(skipped[index].date)
                }
                lines.append("skipped \(run.map(\.shortLabel).joined(separator: " and ")) (weekend)")
            } else {
                lines.append("skipped \(day.date.shortLabel) (\(day.reason.text))")
            }
            index += 1
        }
        return lines
    }
}

extension LocalDate {
    /// "Fri 2013-07-05": the form explanations use.
    public var shortLabel: String { weekday.abbreviation + " " + iso }
}

/// One of the business calendars of `domain/DEADLINES.md` under a set of settings: which
/// days are business days, how business days are counted, and how a last day rolls over.
///
/// Pure: every holiday is generated from rules (``HolidayRules``), so any year works.
public struct BusinessCalendar: Sendable {
    public let id: CalendarID
    public let settings: CalendarSettings
    private let rules: [HolidayRule]
    private let governorDays: [LocalDate: NamedDay]
    private let closures: [LocalDate: NamedDay]
    /// Each year's holidays by date, worked out once per calendar: counting a deadline asks
    /// about every day it passes, and the rules are the same every time.
    private let byYear = HolidayTable()

    public init(_ id: CalendarID, settings: CalendarSettings = .init()) {
        self.id = id
        self.settings = settings
        self.rules = HolidayRules.rules(for: id, settings: settings)
        // Governor-declared holidays belong to the CalHR measure only (LC 4600.4(b)).
        self.governorDays =
            id == .calhr
            ? Dictionary(
                settings.governorDeclaredHolidays.map { ($0.date, $0) },
                uniquingKeysWith: { first, _ in first }
            )
            : [:]
        self.closures = Dictionary(
            settings.organisationClosures.map { ($0.date, $0) },
            uniquingKeysWith: { first, _ in first }
        )
    }

    /// Every holiday of `year` in date order, observed days included, Governor-declared days
    /// included on `calhr`. When two fall on one date the statutory one is listed.
    public func holidays(in year: Int) -> [Holiday] {
        var byDate: [LocalDate: Holiday] = [:]
        // A Saturday 1 January observed on Friday 31 December belongs to the year before.
        for sourceYear in [year, year + 1, year - 1] {
            for rule in rules {
                for holiday in rule.occurrences(in: sourceYear)
                where holiday.date.year == year && byDate[holiday.date] == nil {
                    byDate[holiday.date] = holiday
                }
            }
        }
        for (date, day) in governorDays where date.year == year && byDate[date] == nil {
            byDate[date] = Holiday(date: date, name: day.name)
        }
        return byDate.values.sorted { $0.date < $1.date }
    }

    /// Every holiday from `first` through `last`, in date order (for listings and calendar exports).
    public func holidays(from first: LocalDate, through last: LocalDate) -> [Holiday] {
        guard first <= last else { return [] }
        return (first.year...last.year).flatMap(holidays(in:)).filter { $0.date >= first && $0.date <= last }
    }

    /// The holiday on `date`, named, or nil. Weekends are not holidays by name; see
    /// ``isBusinessDay(_:)``.
    public func holiday(on date: LocalDate) -> Holiday? {
        if let hit = byYear.table(for: date.year, rules: rules)[date] { return hit }
        // Observed days stay within a day of their holiday, so only 31 December (a Saturday
        // New Year's Day observed on Friday) can belong to the next year's rules.
        if date.month == 12 && date.day == 31, let hit = byYear.table(for: date.year + 1, rules: rules)[date] {
            return hit
        }
        if let day = governorDays[date] { return Holiday(date: date, name: day.name) }
        return nil
    }

    /// The configured organisation closure on `date`, if any (CCP 12b).
    public func closure(on date: LocalDate) -> NamedDay? { closures[date] }

    /// Whether `date` is a weekend day for business-day counting: Sunday always, Saturday
    /// unless the `ur-pre2020` Saturday switch makes it a working day.
    public func isWeekend(_ date: LocalDate) -> Bool {
        switch date.weekday {
        case .sunday: true
        case .saturday: !(id == .urPre2020 && settings.urPre2020SaturdaysAreWorkingDays)
        default: false
        }
    }

    /// Why `date` is not a business day, or nil when it is one. A holiday that falls on a
    /// weekend is reported by name, which is the more useful reason.
    public func nonBusinessReason(_ date: LocalDate) -> SkipReason? {
        if let holiday = holiday(on: date) { return .holiday(holiday) }
        if isWeekend(date) { return .weekend }
        return nil
    }

    /// Whether `date` is a business day of this calendar.
    public func isBusinessDay(_ date: LocalDate) -> Bool { nonBusinessReason(date) == nil }

    /// The n-th business day after `start` (day 0 is `start` itself, which need not be a
    /// business day), with every non-business day passed over on the way.
    ///
    /// - Precondition: `n >= 0`.
    public func addingBusinessDays(_ n: Int, to start: LocalDate) -> DayCount {
        precondition(n >= 0, "business days are only counted forward")
        var date = start
        var counted = 0
        var skipped: [SkippedDay] = []
        while counted < n {
            date = date.adding(days: 1)
            if let reason = nonBusinessReason(date) {
                skipped.append(SkippedDay(date: date, reason: reason))
            } else {
                counted += 1
            }
        }
        return DayCount(date: date, skipped: skipped)
    }

    /// The first business day strictly after `date`.
    public func nextBusinessDay(after date: LocalDate) -> DayCount {
        addingBusinessDays(1, to: date)
    }

    /// Why `date` cannot be the last day of a rolling period, or nil when it can: CCP 12a
    /// always counts Saturdays and Sundays as holidays for this (whatever the Saturday switch
    /// says about business days), and CCP 12b adds whole-day closures.
    public func rollOverReason(_ date: LocalDate) -> SkipReason? {
        if let holiday = holiday(on: date) { return .holiday(holiday) }
        if date.weekday.isWeekend { return .weekend }
        if let closure = closures[date] { return .closure(closure) }
        return nil
    }

    /// `date` itself when it is not a holiday, else the next day that is not (CCP 12a, 12b).
    public func rollForward(_ date: LocalDate) -> DayCount {
        var current = date
        var skipped: [SkippedDay] = []
        while let reason = rollOverReason(current) {
            skipped.append(SkippedDay(date: current, reason: reason))
            current = current.adding(days: 1)
        }
        return DayCount(date: current, skipped: skipped)
    }
}

/// The holidays each rule gives in a year, by date (the first rule to name a date wins, as in
/// the rules' order). A memo of a pure function, shared by copies of one calendar.
final class HolidayTable: Sendable {
    private let years = Mutex<[Int: [LocalDate: Holiday]]>([:])

    func table(for year: Int, rules: [HolidayRule]) -> [LocalDate: Holiday] {
        if let known = years.withLock({ $0[year] }) { return known }
        var byDate: [LocalDate: Holiday] = [:]
        for rule in rules {
            for holiday in rule.occurrences(in: year) where byDate[holiday.date] == nil {
                byDate[holiday.date] = holiday
            }
        }
        years.withLock { $0[year] = byDate }
        return byDate
    }
}
