/// One day off on a calendar, named so that an explanation can list every skipped day.
public struct Holiday: Sendable, Codable, Equatable, Hashable {
    /// The day that is not a business day.
    public let date: LocalDate
    /// The holiday's name, e.g. "Cesar Chavez Day".
    public let name: String
    /// True when `date` is the weekday on which a weekend holiday is observed.
    public let isObserved: Bool

    public init(date: LocalDate, name: String, isObserved: Bool = false) {
        self.date = date
        self.name = name
        self.isObserved = isObserved
    }

    /// The name as explanations show it, e.g. "Cesar Chavez Day (observed)".
    public var displayName: String { isObserved ? "\(name) (observed)" : name }
}

/// How a holiday's date is found in a given year.
public enum HolidayDateRule: Sendable, Codable, Equatable, Hashable {
    /// The same month and day every year (Independence Day: 7, 4).
    case fixed(month: Int, day: Int)
    /// The n-th given weekday of a month (Thanksgiving: 4th Thursday of November).
    case nthWeekday(Int, Weekday, month: Int)
    /// The last given weekday of a month (Memorial Day: last Monday of May).
    case lastWeekday(Weekday, month: Int)
    /// The day after the n-th weekday (the day after Thanksgiving).
    case dayAfterNthWeekday(Int, Weekday, month: Int)

    /// The holiday's own date in `year`.
    public func date(in year: Int) -> LocalDate {
        switch self {
        case .fixed(let month, let day):
            return LocalDate(year: year, month: month, day: day)!
        case .nthWeekday(let n, let weekday, let month):
            return Self.nth(n, weekday, month: month, year: year)
        case .lastWeekday(let weekday, let month):
            let last = LocalDate(year: year, month: month, day: LocalDate.daysInMonth(year: year, month: month))!
            let back = (last.weekday.rawValue - weekday.rawValue + 7) % 7
            return last.adding(days: -back)
        case .dayAfterNthWeekday(let n, let weekday, let month):
            return Self.nth(n, weekday, month: month, year: year).adding(days: 1)
        }
    }

    private static func nth(_ n: Int, _ weekday: Weekday, month: Int, year: Int) -> LocalDate {
        let first = LocalDate(year: year, month: month, day: 1)!
        let forward = (weekday.rawValue - first.weekday.rawValue + 7) % 7
        return first.adding(days: forward + 7 * (n - 1))
    }
}

/// Which weekday, if any, is given off when a holiday falls on a weekend.
public enum Observance: String, Sendable, Codable, Equatable, Hashable {
    /// No other day off (the weekday holidays, and Saturday holidays on the CalHR list).
    case onTheDayOnly = "on-the-day-only"
    /// On a Sunday, observed the following Monday (Gov. Code 6701).
    case sundayToMonday = "sunday-to-monday"
    /// Sunday to Monday, and on a Saturday observed the Friday before (Veterans Day, Gov. Code 6700, 6701).
    case sundayToMondaySaturdayToFriday = "sunday-to-monday-saturday-to-friday"
}

/// A holiday of a calendar as a rule: its name, how its date is found, how a weekend
/// occurrence is observed, and the dates between which the rule is law (compared with
/// the holiday's own date, so Columbus Day 2021 is judicial and Columbus Day 2022 is not).
public struct HolidayRule: Sendable, Codable, Equatable, Hashable {
    public var name: String
    public var date: HolidayDateRule
    public var observance: Observance
    public var validFrom: LocalDate?
    public var validThrough: LocalDate?

    public init(
        _ name: String,
        _ date: HolidayDateRule,
        observance: Observance = .onTheDayOnly,
        validFrom: LocalDate? = nil,
        validThrough: LocalDate? = nil
    ) {
        self.name = name
        self.date = date
        self.observance = observance
        self.validFrom = validFrom
        self.validThrough = validThrough
    }

    /// The days off this rule gives in `year`: the holiday itself and, when it falls on a
    /// weekend and the observance says so, the weekday observed in its place.
    public func occurrences(in year: Int) -> [Holiday] {
        let actual = date.date(in: year)
        if let validFrom, actual < validFrom { return [] }
        if let validThrough, actual > validThrough { return [] }
        var days = [Holiday(date: actual, name: name)]
        switch (observance, actual.weekday) {
        case (.sundayToMonday, .sunday), (.sundayToMondaySaturdayToFriday, .sunday):
            days.append(Holiday(date: actual.adding(days: 1), name: name, isObserved: true))
        case (.sundayToMondaySaturdayToFriday, .saturday):
            days.append(Holiday(date: actual.adding(days: -1), name: name, isObserved: true))
        default:
            break
        }
        return days
    }
}

/// The holiday lists of `domain/DEADLINES.md`, as data.
public enum HolidayRules {
    static func day(_ year: Int, _ month: Int, _ day: Int) -> LocalDate {
        LocalDate(year: year, month: month, day: day)!
    }

    public static let newYearsDay = HolidayRule("New Year's Day", .fixed(month: 1, day: 1), observance: .sundayToMonday)
    public static let martinLutherKingJrDay = HolidayRule(
        "Martin Luther King Jr. Day",
        .nthWeekday(3, .monday, month: 1)
    )
    public static let lincolnDay = HolidayRule("Lincoln Day", .fixed(month: 2, day: 12), observance: .sundayToMonday)
    public static let presidentsDay = HolidayRule("Presidents' Day", .nthWeekday(3, .monday, month: 2))
    public static let cesarChavezDay = HolidayRule(
        "Cesar Chavez Day",
        .fixed(month: 3, day: 31),
        observance: .sundayToMonday
    )
    public static let memorialDay = HolidayRule("Memorial Day", .lastWeekday(.monday, month: 5))
    public static let independenceDay = HolidayRule(
        "Independence Day",
        .fixed(month: 7, day: 4),
        observance: .sundayToMonday
    )
    public static let laborDay = HolidayRule("Labor Day", .nthWeekday(1, .monday, month: 9))
    public static let admissionDay = HolidayRule("Admission Day", .fixed(month: 9, day: 9), observance: .sundayToMonday)
    public static let columbusDay = HolidayRule("Columbus Day", .nthWeekday(2, .monday, month: 10))
    public static let nativeAmericanDay = HolidayRule("Native American Day", .nthWeekday(4, .friday, month: 9))
    public static let veteransDay = HolidayRule(
        "Veterans Day",
        .fixed(month: 11, day: 11),
        observance: .sundayToMondaySaturdayToFriday
    )
    public static let thanksgiving = HolidayRule("Thanksgiving Day", .nthWeekday(4, .thursday, month: 11))
    public static let dayAfterThanksgiving = HolidayRule(
        "Day after Thanksgiving",
        .dayAfterNthWeekday(4, .thursday, month: 11)
    )
    public static let christmas = HolidayRule("Christmas Day", .fixed(month: 12, day: 25), observance: .sundayToMonday)
    /// Only when configured: not verified as a judicial holiday. Sunday-to-Monday observance
    /// is assumed, as for the other fixed-date holidays.
    public static let juneteenth = HolidayRule("Juneteenth", .fixed(month: 6, day: 19), observance: .sundayToMonday)

    /// The rules of a calendar under the given settings. Versioned rules carry their own
    /// validity dates; settings switch the unverified ones.
    public static func rules(for calendar: CalendarID, settings: CalendarSettings) -> [HolidayRule] {
        switch calendar {
        case .calhr:
            // The CalHR list has no Lincoln Day, Admission Day, Columbus Day or Native American Day.
            return [
                newYearsDay, martinLutherKingJrDay, presidentsDay, cesarChavezDay, memorialDay,
                independenceDay, laborDay, veteransDay, thanksgiving, dayAfterThanksgiving, christmas,
            ]
        case .urPre2020:
            var rules = [
                newYearsDay, martinLutherKingJrDay, lincolnDay, presidentsDay, cesarChavezDay, memorialDay,
                independenceDay, laborDay, admissionDay,
                with(nativeAmericanDay, from: day(2015, 1, 1)),
                columbusDay, veteransDay, thanksgiving, christmas,
            ]
            if !settings.urPre2020DayAfterThanksgivingIsWorkingDay {
                rules.append(dayAfterThanksgiving)
            }
            return rules
        case .judicial:
            // CCP 135 excludes Admission Day; AB 855 swapped Columbus Day for Native American Day in 2022.
            var rules = [
                newYearsDay, martinLutherKingJrDay, lincolnDay, presidentsDay, cesarChavezDay, memorialDay,
                independenceDay, laborDay,
                with(nativeAmericanDay, from: day(2022, 1, 1)),
                with(columbusDay, through: day(2021, 12, 31)),
                veteransDay, thanksgiving, dayAfterThanksgiving, christmas,
            ]
            if let from = settings.juneteenthJudicialFrom {
                rules.append(with(juneteenth, from: from))
            }
            if settings.judicialSaturdayHolidaysObservedFriday {
                // CRC 1.11: every judicial holiday on a Saturday is observed the Friday before.
                rules = rules.map { rule in
                    guard case .fixed = rule.date else { return rule }
                    var copy = rule
                    copy.observance = .sundayToMondaySaturdayToFriday
                    return copy
                }
            }
            return rules
        }
    }

    private static func with(_ rule: HolidayRule, from: LocalDate? = nil, through: LocalDate? = nil) -> HolidayRule {
        var copy = rule
        copy.validFrom = from
        copy.validThrough = through
        return copy
    }
}
