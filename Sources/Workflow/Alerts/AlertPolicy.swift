import Foundation

/// How close a deadline is when an alert about it is raised. Raw values are stable
/// spellings (events, wire protocol, journal, notification commands): do not rename them.
public enum AlertLevel: String, Codable, Sendable, CaseIterable, Comparable {
    /// The first advance warning: 5 business days before a day deadline, 24 hours before an
    /// hour deadline (by default).
    case notice
    /// The second advance warning: 2 business days, or 4 hours, before (by default).
    case reminder
    /// The morning of the due day (08:00 Pacific by default); day deadlines only.
    case dueToday = "due-today"
    /// The deadline passed with nothing recorded that meets it.
    case overdue

    package var rank: Int {
        switch self {
        case .notice: 0
        case .reminder: 1
        case .dueToday: 2
        case .overdue: 3
        }
    }

    public static func < (a: AlertLevel, b: AlertLevel) -> Bool { a.rank < b.rank }
}

/// A Pacific wall-clock time of day, minute precision ("08:00").
public struct TimeOfDay: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Minutes since midnight, 0..<1440.
    public let minutes: Int

    public init?(hour: Int, minute: Int) {
        guard (0..<24).contains(hour), (0..<60).contains(minute) else { return nil }
        minutes = hour * 60 + minute
    }

    /// Parses `HH:MM` (24-hour clock).
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
            let h = Int(parts[0]), let m = Int(parts[1])
        else { return nil }
        self.init(hour: h, minute: m)
    }

    public var hour: Int { minutes / 60 }
    public var minute: Int { minutes % 60 }
    public var description: String { String(format: "%02d:%02d", hour, minute) }
    public static func < (a: TimeOfDay, b: TimeOfDay) -> Bool { a.minutes < b.minutes }

    /// The instant of this time on a Pacific date.
    public func on(_ date: LocalDate) -> Date { Pacific.instant(date, hour: hour, minute: minute) }
}

/// Pacific hours in which non-urgent alerts wait: one raised inside them is moved to their end.
/// `start` after `end` spans midnight (20:00-07:00).
public struct QuietHours: Sendable, Hashable {
    public var start: TimeOfDay
    public var end: TimeOfDay

    public init(start: TimeOfDay, end: TimeOfDay) {
        self.start = start
        self.end = end
    }

    /// Whether an instant falls inside the quiet hours (start inclusive, end exclusive).
    public func contains(_ instant: Date) -> Bool {
        let minute = Pacific.secondsSinceMidnight(of: instant) / 60
        if start == end { return false }
        if start < end { return minute >= start.minutes && minute < end.minutes }
        return minute >= start.minutes || minute < end.minutes
    }

    /// The first instant at or after `instant` outside the quiet hours.
    public func release(_ instant: Date) -> Date {
        guard contains(instant) else { return instant }
        let day = Pacific.date(of: instant)
        let minute = Pacific.secondsSinceMidnight(of: instant) / 60
        // Inside a span that crosses midnight, before midnight: the end is tomorrow.
        if start > end && minute >= start.minutes { return end.on(day.adding(days: 1)) }
        return end.on(day)
    }
}

/// When the alerts of one kind of deadline are raised.
public struct AlertLeadTimes: Sendable, Hashable {
    /// Day deadlines: business days before the due day for ``AlertLevel/notice`` and
    /// ``AlertLevel/reminder`` (at most two; fewer leaves levels out).
    public var businessDaysBefore: [Int]
    /// Day deadlines: the time of the ``AlertLevel/dueToday`` alert, nil for none.
    public var dueDayAt: TimeOfDay?
    /// Hour deadlines (exact instants): hours before the due instant for notice and reminder.
    public var hoursBefore: [Double]
    /// Whether an ``AlertLevel/overdue`` alert is raised when the deadline passes.
    public var overdue: Bool
    /// False turns every alert of the rule off.
    public var enabled: Bool

    public init(
        businessDaysBefore: [Int] = [5, 2],
        dueDayAt: TimeOfDay? = TimeOfDay(hour: 8, minute: 0),
        hoursBefore: [Double] = [24, 4],
        overdue: Bool = true,
        enabled: Bool = true
    ) {
        self.businessDaysBefore = businessDaysBefore
        self.dueDayAt = dueDayAt
        self.hoursBefore = hoursBefore
        self.overdue = overdue
        self.enabled = enabled
    }

    /// 5 and 2 business days before, 08:00 Pacific on the due day, overdue; for hour rules
    /// 24 and 4 hours before and overdue.
    public static let standard = AlertLeadTimes()
}

/// One alert a deadline will raise (or has raised), with the instant it becomes due.
public struct ScheduledAlert: Sendable, Hashable {
    public var deadlineId: String
    public var caseId: CaseID
    public var rule: RuleID
    public var level: AlertLevel
    /// The deadline's due instant.
    public var due: Date
    /// When the alert becomes due: the lead time, moved to the end of the quiet hours when
    /// it fell inside them and the level is not urgent.
    public var at: Date
    /// The lead time before any quiet-hours move.
    public var nominal: Date
}

/// Which alerts a deadline raises, and when: lead times (globally and per rule) and quiet
/// hours. Pure: the due instants come from ``CaseDeadline`` and the business days from a
/// ``BusinessCalendar``; no clock is read. The daemon's scheduler, the calendar export
/// (VALARMs) and tests share it.
///
/// Urgency: quiet hours delay the advance levels of day deadlines (``AlertLevel/notice`` and
/// ``AlertLevel/reminder``) and the ``AlertLevel/notice`` of hour deadlines; the due-day
/// alert, an hour deadline's reminder (hours away) and overdue are raised at once.
public struct AlertPolicy: Sendable, Hashable {
    /// Lead times of every rule without an entry in ``perRule``.
    public var leadTimes: AlertLeadTimes
    /// Lead times of particular rules, in place of ``leadTimes``.
    public var perRule: [RuleID: AlertLeadTimes]
    /// Hours in which non-urgent alerts wait; nil for none.
    public var quietHours: QuietHours?
    /// The Pacific time at which "N business days before" alerts are raised on their day.
    public var businessDayAlertTime: TimeOfDay

    public init(
        leadTimes: AlertLeadTimes = .standard,
        perRule: [RuleID: AlertLeadTimes] = AlertPolicy.standardPerRule,
        quietHours: QuietHours? = QuietHours(
            start: TimeOfDay(hour: 20, minute: 0)!,
            end: TimeOfDay(hour: 7, minute: 0)!
        ),
        businessDayAlertTime: TimeOfDay = TimeOfDay(hour: 8, minute: 0)!
    ) {
        self.leadTimes = leadTimes
        self.perRule = perRule
        self.quietHours = quietHours
        self.businessDayAlertTime = businessDayAlertTime
    }

    /// The defaults' one exception: asking for more information (`ur.info-request`) is
    /// optional and its window closes with the UR decision's, which alerts already; so it
    /// raises no alerts unless configured to.
    public static let standardPerRule: [RuleID: AlertLeadTimes] = [
        .urInfoRequest: AlertLeadTimes(overdue: false, enabled: false)
    ]

    public static let standard = AlertPolicy()

    /// The lead times that apply to a rule.
    public func leadTimes(for rule: RuleID) -> AlertLeadTimes { perRule[rule] ?? leadTimes }

    /// The business calendar that counts "business days before" for a deadline: the one its
    /// rule counts in, else the judicial calendar (court days).
    public static func calendar(for deadline: CaseDeadline, calculator: DeadlineCalculator) -> BusinessCalendar {
        let id = calculator.rules[deadline.rule]?.period.calendar.calendar(on: deadline.trigger.date) ?? .judicial
        return calculator.calendar(id)
    }

    /// Every alert the deadline raises, in the order they become due, with the calendar
    /// chosen by ``calendar(for:calculator:)``.
    public func schedule(for deadline: CaseDeadline, calculator: DeadlineCalculator) -> [ScheduledAlert] {
        schedule(for: deadline, calendar: Self.calendar(for: deadline, calculator: calculator))
    }

    /// Every alert the deadline raises, in the order they become due.
    ///
    /// A level whose instant comes before the deadline's clock started is left out: the
    /// deadline did not exist then, and the later levels say more.
    public func schedule(for deadline: CaseDeadline, calendar: BusinessCalendar) -> [ScheduledAlert] {
        let times = leadTimes(for: deadline.rule)
        guard times.enabled else { return [] }
        var alerts: [ScheduledAlert] = []
        func add(_ level: AlertLevel, _ nominal: Date, quiet: Bool) {
            var at = nominal
            if quiet, let quietHours { at = quietHours.release(nominal) }
            alerts.append(
                ScheduledAlert(
                    deadlineId: deadline.id,
                    caseId: deadline.caseId,
                    rule: deadline.rule,
                    level: level,
                    due: deadline.due,
                    at: at,
                    nominal: nominal
                )
            )
        }
        let advance: [AlertLevel] = [.notice, .reminder]
        if deadline.isExactInstant {
            for (index, hours) in times.hoursBefore.prefix(2).enumerated() {
                add(advance[index], deadline.due.addingTimeInterval(-hours * 3600), quiet: index == 0)
            }
        } else {
            for (index, days) in times.businessDaysBefore.prefix(2).enumerated() {
                let day = Self.businessDays(days, before: deadline.dueDate, calendar: calendar)
                add(advance[index], businessDayAlertTime.on(day), quiet: true)
            }
            if let at = times.dueDayAt { add(.dueToday, at.on(deadline.dueDate), quiet: false) }
        }
        if times.overdue {
            // A day deadline is met by an act at any time on its day: overdue from the next second.
            add(.overdue, deadline.isExactInstant ? deadline.due : deadline.due.addingTimeInterval(1), quiet: false)
        }
        return
            alerts
            .filter { $0.at >= deadline.clockStart || $0.level == .overdue }
            .sorted { ($0.at, $0.level) < ($1.at, $1.level) }
    }

    /// The date `n` business days before `date`: stepping back a day at a time, counting
    /// only business days of the calendar (weekends and holidays passed over).
    public static func businessDays(_ n: Int, before date: LocalDate, calendar: BusinessCalendar) -> LocalDate {
        var day = date
        var counted = 0
        while counted < max(0, n) {
            day = day.adding(days: -1)
            if calendar.isBusinessDay(day) { counted += 1 }
        }
        return day
    }
}
