import Foundation
import Synchronization

/// Computes the deadlines of `domain/DEADLINES.md`, exactly and with reasons.
///
/// Pure: time comes in as the trigger, never from a clock; nothing is read or written.
/// Conventions: the trigger day is day 0; a day period ends at 23:59:59 Pacific on its last
/// day; an hour period is clock arithmetic with no roll-over; a service extension is added
/// before the roll-over, and only the last day rolls.
public struct DeadlineCalculator: Sendable {
    public let rules: RuleBook
    public let settings: CalendarSettings
    private let calendars: [CalendarID: BusinessCalendar]
    /// Deadlines already computed by this calculator: a case's clocks are derived again on
    /// every command, from the same triggers, and counting them (with every explanation line)
    /// was most of a command's work. A memo of a pure function, shared by copies.
    private let memo = DeadlineMemo()

    public init(rules: RuleBook = .standard, settings: CalendarSettings = .init()) {
        self.rules = rules
        self.settings = settings
        self.calendars = Dictionary(
            uniqueKeysWithValues: CalendarID.allCases.map { ($0, BusinessCalendar($0, settings: settings)) }
        )
    }

    /// The business calendar `id` under this calculator's settings.
    public func calendar(_ id: CalendarID) -> BusinessCalendar { calendars[id]! }

    /// The deadline of rule `rule` for a clock started by `trigger`.
    ///
    /// - Throws: ``DeadlineError`` when the rule is not in the book, is not in force on the
    ///   trigger date, needs a fact that cannot be assumed, or the options contradict each other.
    public func deadline(
        _ rule: RuleID,
        from trigger: DeadlineTrigger,
        options: DeadlineOptions = .init()
    ) throws -> Deadline {
        let key = DeadlineMemo.Key(rule: rule, trigger: trigger, options: options)
        if let known = memo.deadline(for: key) { return known }
        guard let definition = rules[rule] else { throw DeadlineError.ruleNotInBook(rule) }
        var computation = Computation(calculator: self, rule: definition, trigger: trigger, options: options)
        let deadline = try computation.run()
        memo.remember(deadline, for: key)
        return deadline
    }

    /// The deadline of rule `rule` for a clock started at `instant`.
    public func deadline(_ rule: RuleID, from instant: Date, options: DeadlineOptions = .init()) throws -> Deadline {
        try deadline(rule, from: .instant(instant), options: options)
    }

    /// The deadline of rule `rule` for a clock started on `date`, time of day unknown.
    public func deadline(_ rule: RuleID, from date: LocalDate, options: DeadlineOptions = .init()) throws -> Deadline {
        try deadline(rule, from: .date(date), options: options)
    }

    /// The deadline of the rule spelled `ruleName` (e.g. from the command line).
    public func deadline(
        named ruleName: String,
        from trigger: DeadlineTrigger,
        options: DeadlineOptions = .init()
    ) throws -> Deadline {
        try deadline(RuleID.named(ruleName), from: trigger, options: options)
    }
}

/// One computation: collects the explanation and the assumptions as it goes.
private struct Computation {
    let calculator: DeadlineCalculator
    let rule: DeadlineRule
    let trigger: DeadlineTrigger
    let options: DeadlineOptions
    var explanation: [String] = []
    var assumptions: [String] = []

    init(calculator: DeadlineCalculator, rule: DeadlineRule, trigger: DeadlineTrigger, options: DeadlineOptions) {
        self.calculator = calculator
        self.rule = rule
        self.trigger = trigger
        self.options = options
    }

    /// Where the clock starts: the trigger, or the deemed receipt of an RFA.
    struct Start {
        var instant: Date
        var date: LocalDate
        var hasTime: Bool
    }

    mutating func run() throws -> Deadline {
        guard Self.calendarsCover(trigger) else { throw Self.outsideCalendars(rule.id, trigger) }
        try checkOptions()
        let transmissionGiven =
            options.transmission != nil || options.receivingDateStamp != nil
            || (options.service != nil && options.service != .personal)
        if rule.startsAtRFAReceipt && transmissionGiven {
            explanation.append(
                "trigger: RFA transmitted, \(Self.describe(trigger)); the clock starts at its deemed receipt (8 CCR 9792.9.1(a))"
            )
        } else {
            explanation.append("trigger: \(rule.trigger), \(Self.describe(trigger))")
        }

        if rule.id == .rfaDeemedReceipt {
            return try deemedReceiptOnly()
        }

        var start = Start(instant: trigger.instant, date: trigger.date, hasTime: trigger.hasTime)
        if rule.startsAtRFAReceipt {
            if let transmission = try rfaTransmission(required: false) {
                start = try deemedReceipt(transmission)
            } else if let stamp = options.receivingDateStamp {
                start = receiptFromStamp(stamp)
            } else {
                explanation.append(
                    "the trigger is taken as the RFA's (deemed) receipt; give the transmission to apply 8 CCR 9792.9.1(a) first"
                )
            }
        }
        if rule.id == .imrDetermination && options.triggerIsAssignmentDate {
            assumptions.append(
                "the IMRO's receipt of the records is not known: the clock was counted from the assignment date"
            )
        }

        try checkInForce(
            what: "Rule \(rule.id.rawValue)",
            from: rule.effectiveFrom,
            through: rule.effectiveThrough,
            on: start.date
        )
        let (period, variant) = try selectPeriod(on: start.date)
        assumptions.append(contentsOf: rule.assumptions)
        if let variant {
            explanation.append(variant.summary)
            assumptions.append(contentsOf: variant.assumptions)
        } else {
            assumptions.append(contentsOf: rule.periodAssumptions)
        }
        noteIgnoredFlags()

        let confidence = variant?.confidence ?? rule.confidence
        let citation = [rule.citation, variant?.citation].compactMap { $0 }.joined(separator: "; ")

        switch period.unit {
        case .hours:
            let due = start.instant.addingTimeInterval(TimeInterval(period.amount * 3600))
            if !start.hasTime {
                assumptions.append(
                    "only a date is known for the start (\(start.date.shortLabel)): the \(period.label) were counted "
                        + "from 00:00 Pacific, the earliest the clock could have started"
                )
            }
            var line = "\(period.label) from \(Self.describe(start.instant)) (clock time, no roll-over)"
            if Pacific.timeZone.secondsFromGMT(for: start.instant) != Pacific.timeZone.secondsFromGMT(for: due) {
                line += ", across a daylight-saving change"
            }
            explanation.append(line)
            noteCapSetAside(period, due: due)
            return finish(
                start: start,
                due: due,
                exact: true,
                calendar: nil,
                citation: citation,
                confidence: confidence,
                period: period,
                variant: variant?.condition
            )

        case .calendarDays, .businessDays:
            let calendarID = period.calendar.calendar(on: start.date) ?? .judicial
            assumptions += rule.calendarAssumptions.filter { $0.calendar == calendarID }.map(\.assumption)
            var last = count(period, from: start.date, calendarID: calendarID)
            if let cap = period.capDaysAfterTreatmentRecommendation {
                last = applyCap(cap, to: last, period: period, start: start.date)
            }
            noteCapSetAside(period, due: Pacific.endOfDay(last))
            explanation.append("calendar: \(describe(calendarID, chosenBy: period.calendar))")
            return finish(
                start: start,
                due: Pacific.endOfDay(last),
                exact: false,
                calendar: calendarID,
                citation: citation,
                confidence: confidence,
                period: period,
                variant: variant?.condition
            )
        }
    }

    /// The first and last instants of the years the calendars are generated for.
    static let coveredInstants: ClosedRange<Date> = {
        let years = CalendarID.generatedYears
        return Pacific.startOfDay(
            LocalDate(year: years.lowerBound, month: 1, day: 1)!
        )...Pacific.endOfDay(LocalDate(year: years.upperBound, month: 12, day: 31)!)
    }()

    /// Whether the trigger falls in ``CalendarID/generatedYears`` (compared as instants: no
    /// date is worked out on this path, which every computation takes).
    static func calendarsCover(_ trigger: DeadlineTrigger) -> Bool {
        switch trigger {
        case .date(let date): CalendarID.generatedYears.contains(date.year)
        case .instant(let instant): coveredInstants.contains(instant)
        }
    }

    /// The assumption of a count that ran past the last year the calendars are generated for.
    @inline(never)
    static func countPastCalendars(_ calendar: CalendarID, lastYear: Int) -> String {
        "the count ran past \(lastYear)-12-31, the last year the \(calendar.rawValue) calendar is generated for: the "
            + "holidays of \(lastYear + 1) were taken by the rules of \(lastYear); check them against the published list"
    }

    /// The refusal of a trigger outside the calendars, built away from the computation's path.
    @inline(never)
    static func outsideCalendars(_ rule: RuleID, _ trigger: DeadlineTrigger) -> DeadlineError {
        DeadlineError.outsideCalendars(rule, trigger: trigger.date)
    }

    // MARK: - Options

    /// Expedited by the flag, or by the rule itself (`ur.decision.expedited`).
    var isExpedited: Bool { options.expedited || rule.id == .urDecisionExpedited }

    func checkOptions() throws {
        if rule.id == .urDecisionRetrospective,
            options.expedited || options.review == .prospective || options.review == .concurrent
        {
            throw DeadlineError.contradictoryOptions(
                "ur.decision.retrospective is for retrospective review only: drop the expedited flag and the review type, "
                    + "or use ur.decision.prospective or ur.decision.expedited."
            )
        }
        if isExpedited && options.review == .retrospective {
            throw DeadlineError.contradictoryOptions(
                "An expedited review cannot be retrospective: drop the expedited flag or give the review as prospective or concurrent."
            )
        }
        if let stamp = options.receivingDateStamp {
            if let sent = try rfaTransmission(required: false), sent != .fax {
                throw DeadlineError.contradictoryOptions(
                    "A receiving date stamp fixes the receipt of a faxed RFA (8 CCR 9792.9.1(a)); this RFA was sent by "
                        + "\(sent.rawValue): drop the stamp, or give the transmission as fax."
                )
            }
            if stamp < trigger.date {
                throw DeadlineError.contradictoryOptions(
                    "The receiving date stamp (\(stamp.iso)) is before the RFA was sent (\(trigger.date.iso)): check both dates."
                )
            }
        }
        if options.servicesAlreadyProvided && rule.id != .imrImplementation {
            throw DeadlineError.contradictoryOptions(
                "'services already provided' only applies to imr.implementation, not to \(rule.id.rawValue): drop it or use imr.implementation."
            )
        }
    }

    /// Flags that the chosen rule has no variant for are said to change nothing, so that a
    /// coordinator who passed them does not think they were used.
    mutating func noteIgnoredFlags() {
        let conditions = Set(rule.variants.map(\.condition))
        let flags: [(Bool, VariantCondition, String)] = [
            (options.expedited, .expedited, "expedited"),
            (options.formulary, .formulary, "formulary"),
            (options.informationRequested, .informationRequested, "information requested"),
        ]
        for (set, condition, name) in flags where set && !conditions.contains(condition) {
            // The RFA rules use "expedited" for the after-hours rule of the deemed receipt.
            if condition == .expedited && rule.startsAtRFAReceipt { continue }
            if condition == .formulary && rule.id == .urDecisionFormulary { continue }
            explanation.append("\(name): no different period under \(rule.id.rawValue)")
        }
    }

    /// The period of the first variant that applies, in the rule's order (the more urgent
    /// first: expedited before formulary before information requested). Another variant the
    /// caller asked for as well is set aside, and the explanation says which and why.
    mutating func selectPeriod(on date: LocalDate) throws -> (DeadlinePeriod, RuleVariant?) {
        for (index, variant) in rule.variants.enumerated() where try holds(variant.condition) {
            try checkInForce(
                what: "The \(variant.condition.rawValue) variant of \(rule.id.rawValue)",
                from: variant.effectiveFrom,
                through: nil,
                on: date
            )
            let setAside = rule.variants[(index + 1)...].filter { other in
                givenExplicitly(other.condition) && other.effectiveFrom.map { date >= $0 } ?? true
            }
            if !setAside.isEmpty {
                let names = ([variant] + setAside).map { Self.name(of: $0.condition) }
                explanation.append(
                    "\(names.joined(separator: " and ")) given: the \(Self.name(of: variant.condition)) period applies "
                        + "(under \(rule.id.rawValue) the first of its variants that applies is used, the more urgent first); set aside: "
                        + setAside.map(\.summary).joined(separator: "; ")
                )
            }
            return (variant.period, variant)
        }
        return (rule.period, nil)
    }

    /// Whether the caller set this variant's condition in so many words (not by default or by
    /// an assumption).
    func givenExplicitly(_ condition: VariantCondition) -> Bool {
        switch condition {
        case .expedited: options.expedited
        case .retrospective: options.review == .retrospective
        case .concurrent: options.review == .concurrent
        case .formulary: options.formulary
        case .informationRequested: options.informationRequested
        case .servicesAlreadyProvided: options.servicesAlreadyProvided
        case .noticeSentElectronically: options.noticeSentElectronically == true
        }
    }

    static func name(of condition: VariantCondition) -> String {
        switch condition {
        case .informationRequested: "information requested"
        case .servicesAlreadyProvided: "services already provided"
        case .noticeSentElectronically: "notice sent electronically"
        default: condition.rawValue
        }
    }

    mutating func holds(_ condition: VariantCondition) throws -> Bool {
        switch condition {
        case .expedited, .retrospective, .formulary, .informationRequested, .servicesAlreadyProvided:
            return givenExplicitly(condition)
        case .concurrent:
            if options.review == nil {
                assumptions.append("review type not given: assumed prospective review")
            } else if options.review == .retrospective {
                assumptions.append(
                    "the rule gives a retrospective review no period of its own: a prospective review's was applied"
                )
            }
            return options.review == .concurrent
        case .noticeSentElectronically:
            if let electronic = options.noticeSentElectronically { return electronic }
            switch options.service {
            case .some(.mail): return false
            case .some(.fax):
                assumptions.append(
                    "the notice of assignment came by fax: a fax is treated as sent electronically (12 days, not 15)"
                )
                return true
            case .some(.email), .some(.electronic): return true
            case .some(.personal):
                assumptions.append(
                    "the notice of assignment was delivered in person, which 8 CCR 9792.10.5(a)(1) does not name "
                        + "(15 days mailed, 12 electronic): counted as mailed"
                )
                return false
            case .none:
                assumptions.append("how the notice of assignment was sent is not given: assumed mailed")
                return false
            }
        }
    }

    func checkInForce(what: String, from: LocalDate?, through: LocalDate?, on date: LocalDate) throws {
        if let from, date < from {
            throw DeadlineError.notInForce(what, from: from, through: through, trigger: date)
        }
        if let through, date > through {
            throw DeadlineError.notInForce(what, from: from, through: through, trigger: date)
        }
    }

    // MARK: - Deemed receipt of an RFA

    /// How the RFA was sent: the explicit transmission, else the service method.
    func rfaTransmission(required: Bool) throws -> Transmission? {
        if let transmission = options.transmission { return transmission }
        switch options.service {
        case .some(.fax): return .fax
        case .some(.email), .some(.electronic): return .email
        case .some(.mail): return .mail
        case .some(.personal):
            throw DeadlineError.missingFact(
                "An RFA delivered in person has no deemed-receipt rule: give the date it was received as the trigger of the UR rule instead."
            )
        case .none:
            if required && options.receivingDateStamp == nil {
                throw DeadlineError.missingFact(
                    "rfa.deemed-receipt needs to know how the RFA was sent: give the transmission as fax, email or mail (e.g. --service fax)."
                )
            }
            return nil
        }
    }

    /// The after-hours cut-off as people write it, e.g. "5:30 p.m.".
    var cutoff: String {
        let minutes = policy.cutoffSecondsAfterMidnight / 60
        let hour = minutes / 60
        let twelve = hour % 12 == 0 ? 12 : hour % 12
        return "\(twelve):" + padded(minutes % 60, 2) + (hour < 12 ? " a.m." : " p.m.")
    }

    var policy: DeemedReceiptPolicy {
        calculator.rules[.rfaDeemedReceipt]?.deemedReceipt
            ?? RuleBook.standard[.rfaDeemedReceipt]!.deemedReceipt!
    }

    mutating func receiptFromStamp(_ stamp: LocalDate) -> Start {
        explanation.append("receiving date stamp \(stamp.shortLabel): the RFA counts as received that day")
        if options.transmission == nil && options.service == nil {
            assumptions.append(
                "how the RFA was sent is not given: it was taken as faxed, the RFA a receiving date stamp is for"
            )
        }
        let instant = stamp == trigger.date ? trigger.instant : Pacific.startOfDay(stamp)
        return Start(instant: instant, date: stamp, hasTime: stamp == trigger.date && trigger.hasTime)
    }

    mutating func deemedReceipt(_ transmission: Transmission) throws -> Start {
        if let stamp = options.receivingDateStamp, transmission == .fax {
            return receiptFromStamp(stamp)
        }
        let sentOn = trigger.date
        let calendarID = policy.calendar.calendar(on: sentOn) ?? .calhr
        let calendar = calculator.calendar(calendarID)
        switch transmission {
        case .mail:
            let count = calendar.addingBusinessDays(policy.mailBusinessDays, to: sentOn)
            explanation.append(
                "mailed \(sentOn.shortLabel): deemed received \(policy.mailBusinessDays) business days after deposit, "
                    + "on \(count.date.shortLabel) (\(calendarID.rawValue) calendar)"
            )
            explanation.append(contentsOf: count.skippedLines)
            assumptions.append(
                "an RFA sent by mail was taken as received \(policy.mailBusinessDays) business days after deposit; "
                    + "whether the rule means \(policy.mailBusinessDays) calendar days or business days is not verified"
            )
            noteCalendarSwitches(calendarID, from: sentOn, to: count.date)
            return Start(instant: Pacific.startOfDay(count.date), date: count.date, hasTime: false)
        case .fax, .email:
            let how = transmission == .fax ? "faxed" : "e-mailed"
            let when = Self.describe(trigger)
            if isExpedited || options.review == .concurrent {
                let kind = isExpedited ? "expedited" : "concurrent"
                explanation.append(
                    "\(how) \(when): \(kind) review, so the after-hours rule does not apply and the RFA counts as received when sent"
                )
                return Start(instant: trigger.instant, date: sentOn, hasTime: trigger.hasTime)
            }
            if !trigger.hasTime {
                assumptions.append("time of transmission not given: assumed before \(cutoff) Pacific")
            }
            let afterHours =
                trigger.hasTime && Pacific.secondsSinceMidnight(of: trigger.instant) > policy.cutoffSecondsAfterMidnight
            let reason = calendar.nonBusinessReason(sentOn)
            if afterHours || reason != nil {
                let next = calendar.nextBusinessDay(after: sentOn)
                let why =
                    afterHours
                    ? "after \(cutoff) Pacific"
                    : "on a non-business day (\(reason!.text))"
                // The calendar is named here: the days this step skips are its holidays.
                explanation.append(
                    "\(how) \(when), \(why): deemed received the next business day on the \(calendarID.rawValue) calendar, \(next.date.shortLabel)"
                )
                explanation.append(contentsOf: next.skippedLines)
                noteCalendarSwitches(calendarID, from: sentOn, to: next.date)
                return Start(instant: Pacific.startOfDay(next.date), date: next.date, hasTime: false)
            }
            explanation.append(
                trigger.hasTime
                    ? "\(how) \(when), a business day, not after \(cutoff) Pacific: received that day"
                    : "\(how) \(when), a business day: received that day"
            )
            return Start(instant: trigger.instant, date: sentOn, hasTime: trigger.hasTime)
        }
    }

    mutating func deemedReceiptOnly() throws -> Deadline {
        let start: Start
        if let transmission = try rfaTransmission(required: true) {
            start = try deemedReceipt(transmission)
        } else {
            start = receiptFromStamp(options.receivingDateStamp!)
        }
        let calendarID = policy.calendar.calendar(on: trigger.date) ?? .calhr
        explanation.append("calendar: \(describe(calendarID, chosenBy: policy.calendar))")
        return finish(
            start: start,
            due: Pacific.endOfDay(start.date),
            exact: false,
            calendar: calendarID,
            citation: rule.citation,
            confidence: rule.confidence,
            period: rule.period,
            variant: nil
        )
    }

    // MARK: - Counting

    /// The last day of a day period: the count, then the service extension, then the roll-over.
    mutating func count(_ period: DeadlinePeriod, from start: LocalDate, calendarID: CalendarID) -> LocalDate {
        let calendar = calculator.calendar(calendarID)
        var last: LocalDate
        switch period.unit {
        case .businessDays:
            let count = calendar.addingBusinessDays(period.amount, to: start)
            explanation.append(
                "\(period.label) after \(start.shortLabel) on the \(calendarID.rawValue) calendar: \(count.date.shortLabel)"
            )
            explanation.append(contentsOf: count.skippedLines)
            last = count.date
        case .calendarDays:
            last = start.adding(days: period.amount)
            explanation.append("\(period.label) from \(start.shortLabel): \(last.shortLabel)")
        case .hours:
            preconditionFailure("hour periods are not counted in days")
        }
        noteCalendarSwitches(calendarID, from: start, to: last)

        let extra = serviceExtension(period.serviceExtension, triggerDate: start)
        if extra.days > 0 {
            last = last.adding(days: extra.days)
            explanation.append("plus \(extra.days) calendar days \(extra.reason ?? "for service"): \(last.shortLabel)")
        } else if let reason = extra.reason {
            explanation.append(reason)
        }

        if period.rollsOver {
            let rolled = calendar.rollForward(last)
            if rolled.date == last {
                explanation.append(
                    "\(last.shortLabel) is not a holiday on the \(calendarID.rawValue) calendar: no roll-over"
                )
            } else {
                explanation.append(
                    "\(last.shortLabel) is a weekend day or holiday on the \(calendarID.rawValue) calendar: "
                        + "rolled forward to \(rolled.date.shortLabel) (CCP 12a)"
                )
                explanation.append(contentsOf: rolled.skippedLines)
            }
            noteJuneteenth(calendarID, from: last, to: rolled.date)
            noteSaturdayHolidays(calendarID, from: last, to: rolled.date)
            last = rolled.date
        } else if period.unit == .calendarDays {
            explanation.append("no roll-over for this period")
        }
        return last
    }

    /// Days added for service of the triggering document, and why (or why none).
    mutating func serviceExtension(_ kind: ServiceExtension, triggerDate: LocalDate) -> (days: Int, reason: String?) {
        let byDestination: Int
        switch options.destination {
        case .california: byDestination = 5
        case .otherState: byDestination = 10
        case .outsideUnitedStates: byDestination = 20
        }
        let place: String
        switch options.destination {
        case .california: place = "within California"
        case .otherState: place = "elsewhere in the United States"
        case .outsideUnitedStates: place = "outside the United States"
        }
        switch kind {
        case .none:
            if let service = options.service, service != .personal, !rule.startsAtRFAReceipt, rule.id != .imrRecords {
                return (0, "service by \(service.rawValue) does not extend this period")
            }
            return (0, nil)
        case .mailCCP1013:
            let method = serviceMethodOrAssumeMail(place: place)
            switch method {
            case .mail:
                return (byDestination, "for service by mail \(place) (CCP 1013(a))")
            case .fax, .email, .electronic:
                assumptions.append(
                    "a document served by \(method.rawValue) was given no extension; whether CCP 1010.6's two court days, "
                        + "8 CCR 10605's five days or none applies is not verified"
                )
                return (0, "service by \(method.rawValue): no extension")
            case .personal:
                return (0, "personal service: no extension")
            }
        case .wcabMailFaxEmail:
            let method = serviceMethodOrAssumeMail(place: place)
            let rule = triggerDate < RuleBook.calhrCalendarFrom ? "8 CCR 10507, now 10605" : "8 CCR 10605"
            switch method {
            case .mail, .fax, .email:
                return (byDestination, "for service by \(method.rawValue) \(place) (\(rule); CCP 1013(a))")
            case .electronic:
                assumptions.append("electronic service was treated as e-mail service under 8 CCR 10605")
                return (byDestination, "for electronic service \(place), treated as e-mail (\(rule))")
            case .personal:
                return (0, "personal service: no extension")
            }
        }
    }

    mutating func serviceMethodOrAssumeMail(place: String) -> ServiceMethod {
        if let service = options.service { return service }
        assumptions.append(
            "service method not given: assumed served by mail \(place == "within California" ? "in California" : place)"
        )
        return .mail
    }

    /// LC 4610(i)(1): never more than 14 calendar days after the treatment recommendation.
    mutating func applyCap(_ days: Int, to last: LocalDate, period: DeadlinePeriod, start: LocalDate) -> LocalDate {
        guard let recommended = options.treatmentRecommendationDate else {
            assumptions.append(
                "treatment recommendation date not given: the limit of \(days) calendar days after it was not applied"
            )
            return last
        }
        let cap = recommended.adding(days: days)
        if cap < last {
            explanation.append(
                "\(days) calendar days after the treatment recommendation (\(recommended.shortLabel)) is \(cap.shortLabel), "
                    + "earlier than \(last.shortLabel): the \(days)-day limit wins"
            )
            if cap < start {
                explanation.append("the \(days)-day limit had already passed when the RFA was received")
                assumptions.append(
                    "LC 4610(i)(1) read literally (the earlier wins): the \(days)-day limit binds even though it passed before "
                        + "the RFA was received, so the decision was due before receipt; not verified"
                )
            }
            return cap
        }
        explanation.append(
            "\(days) calendar days after the treatment recommendation (\(recommended.shortLabel)) is \(cap.shortLabel), "
                + "not earlier than \(last.shortLabel): the \(period.label) win"
        )
        return last
    }

    /// A treatment recommendation date given to a period that does not take its limit: the
    /// explanation says it was set aside and why, and, when the limit would have ended
    /// earlier on a reading that is not settled, the assumption gives that date.
    mutating func noteCapSetAside(_ period: DeadlinePeriod, due: Date) {
        guard let recommended = options.treatmentRecommendationDate, let setAside = period.capSetAside else { return }
        let cap = recommended.adding(days: setAside.days)
        explanation.append(
            "treatment recommendation \(recommended.shortLabel): the limit of \(setAside.days) calendar days after it "
                + "(\(cap.shortLabel)) is set aside: \(setAside.reason)"
        )
        if !setAside.verified && Pacific.endOfDay(cap) < due {
            assumptions.append(
                "the \(setAside.days)-day limit after the treatment recommendation was read as not shortening the \(period.label); "
                    + "if it does, the decision was due by the end of \(cap.shortLabel); not verified"
            )
        }
    }

    // MARK: - Assumptions about unverified calendar points

    /// States the configurable `ur-pre2020` answers when they mattered to the count.
    mutating func noteCalendarSwitches(_ calendarID: CalendarID, from: LocalDate, to: LocalDate) {
        guard calendarID == .urPre2020, from < to else { return }
        let days = (from.dayNumber + 1...to.dayNumber).map(LocalDate.init(dayNumber:))
        if days.contains(where: { $0.weekday == .saturday }) {
            let line =
                calculator.settings.urPre2020SaturdaysAreWorkingDays
                ? "Saturdays were counted as working days before 2020 (configured; Pa'u v. Cal Fire, 2019, holds otherwise)"
                : "Saturdays were not counted as working days before 2020 (Pa'u v. Cal Fire, 2019; configurable)"
            if !assumptions.contains(line) { assumptions.append(line) }
        }
        let dayAfter = Set([from.year, to.year]).map { HolidayRules.dayAfterThanksgiving.date.date(in: $0) }
        if dayAfter.contains(where: { $0 > from && $0 <= to }) {
            let line =
                calculator.settings.urPre2020DayAfterThanksgivingIsWorkingDay
                ? "the day after Thanksgiving was counted as a working day before 2020 (Gomez, writ denied 2018; configurable)"
                : "the day after Thanksgiving was not counted as a working day (configured)"
            if !assumptions.contains(line) { assumptions.append(line) }
        }
    }

    /// Juneteenth is not verified as a judicial holiday: say so when it could have moved the last day.
    mutating func noteJuneteenth(_ calendarID: CalendarID, from: LocalDate, to: LocalDate) {
        guard calendarID == .judicial else { return }
        let touched = (from.dayNumber...to.dayNumber).map(LocalDate.init(dayNumber:)).contains {
            $0.month == 6 && ($0.day == 19 || ($0.day == 20 && $0.weekday == .monday))
        }
        guard touched else { return }
        if let from = calculator.settings.juneteenthJudicialFrom {
            assumptions.append(
                "Juneteenth was treated as a judicial holiday from \(from.iso) (configured; not verified)"
            )
        } else {
            assumptions.append("Juneteenth was not treated as a judicial holiday (not verified; configurable)")
        }
    }

    /// DEADLINES.md moves only Veterans Day from Saturday to Friday; California Rules of Court
    /// rule 1.11 moves every judicial holiday. Say so when a Friday that rule 1.11 would close
    /// was the last day or was passed while rolling.
    mutating func noteSaturdayHolidays(_ calendarID: CalendarID, from: LocalDate, to: LocalDate) {
        guard calendarID == .judicial, !calculator.settings.judicialSaturdayHolidaysObservedFriday else { return }
        let judicial = calculator.calendar(.judicial)
        for dayNumber in from.dayNumber...to.dayNumber {
            let friday = LocalDate(dayNumber: dayNumber)
            guard friday.weekday == .friday, judicial.holiday(on: friday) == nil,
                let saturday = judicial.holiday(on: friday.adding(days: 1))
            else { continue }
            assumptions.append(
                "\(friday.shortLabel) was counted as a court day although \(saturday.name) falls on Saturday "
                    + "\(saturday.date.iso); California Rules of Court rule 1.11 observes it on the Friday before "
                    + "(not applied, per DEADLINES.md; configurable)"
            )
        }
    }

    // MARK: - Output

    func finish(
        start: Start,
        due: Date,
        exact: Bool,
        calendar: CalendarID?,
        citation: String,
        confidence: Confidence,
        period: DeadlinePeriod,
        variant: VariantCondition?
    ) -> Deadline {
        var lines = explanation
        var assumptions = assumptions
        let lastYear = CalendarID.generatedYears.upperBound
        if let calendar, due > Self.coveredInstants.upperBound {
            assumptions.append(Self.countPastCalendars(calendar, lastYear: lastYear))
        }
        lines.append(
            exact
                ? "due at \(Pacific.rfc3339(due))"
                : "due by the end of \(Pacific.date(of: due).shortLabel) (23:59:59 Pacific)"
        )
        return Deadline(
            rule: rule.id,
            start: start.instant,
            due: due,
            dueDate: Pacific.date(of: due),
            isExactInstant: exact,
            citation: citation,
            explanation: lines,
            assumptions: assumptions,
            calendar: calendar,
            confidence: confidence,
            period: period,
            variant: variant,
            whoMustAct: rule.whoMustAct,
            satisfiedBy: rule.satisfiedBy,
            consequenceIfMissed: rule.consequenceIfMissed
        )
    }

    /// The calendar a count used, and why this clock uses it: a UR clock takes the UR
    /// calendar of its trigger's year; another clock on CalHR's calendar uses it in every year.
    func describe(_ id: CalendarID, chosenBy choice: CalendarChoice) -> String {
        switch id {
        case .calhr where choice == .fixed(.calhr):
            "calhr (CalHR holidays; \(rule.id.rawValue) counts CalHR working days in every year: it is not a UR clock, "
                + "so the 2020 change of the UR calendar does not apply)"
        case .calhr:
            "calhr (CalHR holidays: UR business days from 2020-01-01, LC 4600.4(b))"
        case .urPre2020:
            "ur-pre2020 (Gov. Code 6700 holidays: UR working days before 2020-01-01)"
        case .judicial:
            "judicial (court holidays, CCP 12a and 135)"
        }
    }

    static func describe(_ trigger: DeadlineTrigger) -> String {
        switch trigger {
        case .instant(let instant): describe(instant)
        case .date(let date): "\(date.shortLabel) (no time given)"
        }
    }

    static func describe(_ instant: Date) -> String {
        let seconds = Pacific.secondsSinceMidnight(of: instant)
        let time = padded(seconds / 3600, 2) + ":" + padded((seconds % 3600) / 60, 2)
        return "\(Pacific.date(of: instant).shortLabel) \(time) Pacific"
    }
}

/// The deadlines a calculator computed, by rule, trigger and options; two generations of at
/// most `half` entries each (the older dropped when the newer fills): 10,000 deadlines with
/// their explanations, about 15-20 MB (cases share their trigger dates: a few thousand keys
/// cover a large caseload's month).
final class DeadlineMemo: Sendable {
    struct Key: Hashable, Sendable {
        let rule: RuleID
        let trigger: DeadlineTrigger
        let options: DeadlineOptions
    }

    private struct Generations {
        var young: [Key: Deadline] = [:]
        var old: [Key: Deadline] = [:]
    }

    private let storage = Mutex(Generations())
    private let half = 5_000

    func deadline(for key: Key) -> Deadline? {
        storage.withLock { $0.young[key] ?? $0.old[key] }
    }

    func remember(_ deadline: Deadline, for key: Key) {
        storage.withLock { g in
            if g.young.count >= half {
                g.old = g.young
                g.young = [:]
            }
            g.young[key] = deadline
        }
    }
}
