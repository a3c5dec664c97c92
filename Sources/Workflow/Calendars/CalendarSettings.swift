/// The business calendars of `domain/DEADLINES.md`. Raw values are the product's stable
/// spellings (wire protocol, command line, output): do not rename them.
public enum CalendarID: String, CaseIterable, Codable, Sendable {
    /// UR business days from 2020-01-01: the CalHR holiday list (LC 4600.4(b), SB 537).
    case calhr
    /// UR business and working days before 2020-01-01: Gov. Code 6700 holidays.
    case urPre2020 = "ur-pre2020"
    /// Court days and roll-over of calendar-day deadlines (CCP 12a, CCP 135) and WCAB filings.
    case judicial

    /// The calendar that counts UR business days for a clock triggered on `triggerDate`:
    /// SB 537 made the CalHR list the measure from 2020-01-01; before that the Gov. Code 6700
    /// holidays applied. A deadline uses the calendar in force on its trigger date, even when
    /// the count runs past the switch.
    public static func utilizationReview(on triggerDate: LocalDate) -> CalendarID {
        triggerDate < RuleBook.calhrCalendarFrom ? .urPre2020 : .calhr
    }

    /// The years whose holidays the calendars are generated and checked for: from 2013, when
    /// IMR began (SB 863), to 2035. A clock whose trigger falls outside them is not counted;
    /// one whose count runs past 2035 says that the next year's holidays follow 2035's rules.
    public static let generatedYears = 2013...2035
}

/// A dated day with a name, for days that configuration adds to a calendar.
public struct NamedDay: Sendable, Codable, Equatable, Hashable {
    public var date: LocalDate
    public var name: String

    public init(date: LocalDate, name: String) {
        self.date = date
        self.name = name
    }
}

/// The parts of the calendars that are not fixed by statute, or whose legal answer is not
/// verified: each organisation may set them, and every default is the reading
/// `domain/DEADLINES.md` recommends.
public struct CalendarSettings: Sendable, Codable, Equatable {
    /// Days an office of the organisation is closed for the whole day (CCP 12b). They only
    /// move the last day of a rolling (calendar-day) period forward; they never stretch a
    /// business-day count, because a private closure does not extend a UR clock.
    public var organisationClosures: [NamedDay]

    /// Extra state holidays the Governor declares (LC 4600.4(b) counts them as non-business
    /// days from 2020). They belong to the `calhr` calendar only.
    public var governorDeclaredHolidays: [NamedDay]

    /// Whether Saturdays are working days on the `ur-pre2020` calendar. Default `false`:
    /// Pa'u v. Cal Fire (significant panel decision, 2019) held Saturday is not a working day
    /// under LC 4610.
    public var urPre2020SaturdaysAreWorkingDays: Bool

    /// Whether the day after Thanksgiving is a working day on the `ur-pre2020` calendar.
    /// Default `true`: it is not a Gov. Code 6700 holiday (Gomez, writ denied 2018).
    public var urPre2020DayAfterThanksgivingIsWorkingDay: Bool

    /// The first date from which Juneteenth (19 June) is a judicial holiday, or `nil` when it
    /// is not one. Not verified in CCP 135, so the default is `nil` (not a judicial holiday).
    public var juneteenthJudicialFrom: LocalDate?

    /// Whether a judicial holiday that falls on a Saturday is observed on the Friday before
    /// (California Rules of Court, rule 1.11). Default `false`, as `domain/DEADLINES.md`
    /// lists only Veterans Day as moving from Saturday to Friday; the calculator says so
    /// whenever such a Friday could have changed a deadline.
    public var judicialSaturdayHolidaysObservedFriday: Bool

    public init(
        organisationClosures: [NamedDay] = [],
        governorDeclaredHolidays: [NamedDay] = [],
        urPre2020SaturdaysAreWorkingDays: Bool = false,
        urPre2020DayAfterThanksgivingIsWorkingDay: Bool = true,
        juneteenthJudicialFrom: LocalDate? = nil,
        judicialSaturdayHolidaysObservedFriday: Bool = false
    ) {
        self.organisationClosures = organisationClosures
        self.governorDeclaredHolidays = governorDeclaredHolidays
        self.urPre2020SaturdaysAreWorkingDays = urPre2020SaturdaysAreWorkingDays
        self.urPre2020DayAfterThanksgivingIsWorkingDay = urPre2020DayAfterThanksgivingIsWorkingDay
        self.juneteenthJudicialFrom = juneteenthJudicialFrom
        self.judicialSaturdayHolidaysObservedFriday = judicialSaturdayHolidaysObservedFriday
    }

    private enum CodingKeys: String, CodingKey {
        case organisationClosures, governorDeclaredHolidays, urPre2020SaturdaysAreWorkingDays,
            urPre2020DayAfterThanksgivingIsWorkingDay, juneteenthJudicialFrom, judicialSaturdayHolidaysObservedFriday
    }

    /// Decodes a partial configuration: every missing key keeps its default, so a settings
    /// file names only what an organisation changes.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = CalendarSettings()
        organisationClosures =
            try container.decodeIfPresent([NamedDay].self, forKey: .organisationClosures)
            ?? defaults.organisationClosures
        governorDeclaredHolidays =
            try container.decodeIfPresent([NamedDay].self, forKey: .governorDeclaredHolidays)
            ?? defaults.governorDeclaredHolidays
        urPre2020SaturdaysAreWorkingDays =
            try container.decodeIfPresent(Bool.self, forKey: .urPre2020SaturdaysAreWorkingDays)
            ?? defaults.urPre2020SaturdaysAreWorkingDays
        urPre2020DayAfterThanksgivingIsWorkingDay =
            try container.decodeIfPresent(Bool.self, forKey: .urPre2020DayAfterThanksgivingIsWorkingDay)
            ?? defaults.urPre2020DayAfterThanksgivingIsWorkingDay
        juneteenthJudicialFrom = try container.decodeIfPresent(LocalDate.self, forKey: .juneteenthJudicialFrom)
        judicialSaturdayHolidaysObservedFriday =
            try container.decodeIfPresent(Bool.self, forKey: .judicialSaturdayHolidaysObservedFriday)
            ?? defaults.judicialSaturdayHolidaysObservedFriday
    }
}
