import Foundation

/// What starts a clock: an instant, or a date with no known time.
///
/// A date-only trigger is the start of that Pacific day; the calculator says so whenever the
/// missing time matters (hour periods, the 5:30 p.m. cut-off for faxed RFAs).
public enum DeadlineTrigger: Sendable, Hashable {
    case instant(Date)
    case date(LocalDate)

    /// The instant the clock starts from (00:00 Pacific for a date).
    public var instant: Date {
        switch self {
        case .instant(let instant): instant
        case .date(let date): Pacific.startOfDay(date)
        }
    }

    /// The Pacific day of the trigger: day 0 of a day count.
    public var date: LocalDate {
        switch self {
        case .instant(let instant): Pacific.date(of: instant)
        case .date(let date): date
        }
    }

    /// Whether the time of day is known.
    public var hasTime: Bool {
        if case .instant = self { return true }
        return false
    }
}

extension DeadlineTrigger {
    /// Parses a trigger as a person or a script writes it: `2015-04-17` (a date, time
    /// unknown), `2015-04-17T18:18[:00]` (Pacific wall-clock time), or an RFC 3339 instant
    /// with `Z` or a `±HH:MM` offset.
    ///
    /// - Throws: ``DeadlineError`` with an example of each accepted form.
    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let parts = trimmed.split(separator: "T", maxSplits: 1, omittingEmptySubsequences: false)
        guard let date = LocalDate(iso: String(parts[0])) else { throw DeadlineError.badTrigger(text) }
        guard LocalDate.supportedRange.contains(date) else { throw DeadlineError.triggerOutOfRange(text) }
        guard parts.count == 2 else {
            self = .date(date)
            return
        }
        var clock = Substring(parts[1])
        var offsetSeconds: Int?
        if clock.hasSuffix("Z") || clock.hasSuffix("z") {
            offsetSeconds = 0
            clock = clock.dropLast()
        } else if let signIndex = clock.lastIndex(where: { $0 == "+" || $0 == "-" }) {
            let offset = clock[clock.index(after: signIndex)...].split(separator: ":")
            guard offset.count == 2, offset.allSatisfy({ $0.count == 2 }),
                let hours = Int(offset[0]), let minutes = Int(offset[1]), hours < 24, minutes < 60
            else {
                throw DeadlineError.badTrigger(text)
            }
            offsetSeconds = (hours * 3600 + minutes * 60) * (clock[signIndex] == "-" ? -1 : 1)
            clock = clock[..<signIndex]
        }
        let fields = clock.split(separator: ":", omittingEmptySubsequences: false)
        guard (2...3).contains(fields.count), fields.allSatisfy({ $0.count == 2 }),
            let hour = Int(fields[0]), let minute = Int(fields[1]),
            let second = fields.count == 3 ? Int(fields[2]) : 0,
            (0..<24).contains(hour), (0..<60).contains(minute), (0..<60).contains(second)
        else {
            throw DeadlineError.badTrigger(text)
        }
        if let offsetSeconds {
            let local = date.dayNumber * 86_400 + hour * 3600 + minute * 60 + second
            let instant = Date(timeIntervalSince1970: TimeInterval(local - offsetSeconds))
            guard LocalDate.supportedRange.contains(Pacific.date(of: instant)) else {
                throw DeadlineError.triggerOutOfRange(text)
            }
            self = .instant(instant)
        } else {
            // A wall-clock time names one instant, except in the hour daylight saving skips or
            // repeats: there it names none or two, and guessing would move an hour clock.
            let instants = Pacific.instants(date, hour: hour, minute: minute, second: second)
            guard instants.count == 1 else {
                throw instants.isEmpty
                    ? DeadlineError.skippedLocalTime(text, date: date, clock: String(clock))
                    : DeadlineError.repeatedLocalTime(text, date: date, clock: String(clock))
            }
            self = .instant(instants[0])
        }
    }
}

/// The facts of a case that change a deadline. Every field has a neutral default; when a
/// rule needs a fact that is missing, the calculator assumes one and says so in
/// ``Deadline/assumptions``.
public struct DeadlineOptions: Sendable, Hashable {
    /// How the triggering document was served or sent: the CCP 1013 / 8 CCR 10605 extension
    /// for `imr.application` and `wcab.appeal`; for the RFA rules, how the RFA was sent when
    /// ``transmission`` is not given; for `imr.records`, how the notice of assignment was sent
    /// when ``noticeSentElectronically`` is not given.
    public var service: ServiceMethod?
    /// Where the recipient of a mailed document is.
    public var destination: ServiceDestination
    /// Expedited review (the physician flagged an imminent and serious threat to health).
    public var expedited: Bool
    /// The kind of review; `nil` means the rule's ordinary kind.
    public var review: ReviewType?
    /// A formulary drug (2018 and later).
    public var formulary: Bool
    /// The physician's treatment recommendation date, for the 14-day cap of LC 4610(i)(1).
    public var treatmentRecommendationDate: LocalDate?
    /// UR asked for more information within 5 business days (8 CCR 9792.9.1(f)).
    public var informationRequested: Bool
    /// `imr.implementation`: the services were already given, so the duty is to reimburse.
    public var servicesAlreadyProvided: Bool
    /// How the RFA was transmitted, for `rfa.deemed-receipt` and the UR clocks that start
    /// at the RFA's receipt. When given to a UR rule, the trigger is the transmission and the
    /// deemed receipt is worked out first.
    public var transmission: Transmission?
    /// The receiving date stamp on a faxed RFA: when present it is the receipt date.
    public var receivingDateStamp: LocalDate?
    /// `imr.records`: whether the notice of assignment was sent electronically (12 days)
    /// rather than mailed (15 days).
    public var noticeSentElectronically: Bool?
    /// `imr.determination`: the trigger is the assignment date because the IMRO's receipt of
    /// the records is not known.
    public var triggerIsAssignmentDate: Bool

    public init(
        service: ServiceMethod? = nil,
        destination: ServiceDestination = .california,
        expedited: Bool = false,
        review: ReviewType? = nil,
        formulary: Bool = false,
        treatmentRecommendationDate: LocalDate? = nil,
        informationRequested: Bool = false,
        servicesAlreadyProvided: Bool = false,
        transmission: Transmission? = nil,
        receivingDateStamp: LocalDate? = nil,
        noticeSentElectronically: Bool? = nil,
        triggerIsAssignmentDate: Bool = false
    ) {
        self.service = service
        self.destination = destination
        self.expedited = expedited
        self.review = review
        self.formulary = formulary
        self.treatmentRecommendationDate = treatmentRecommendationDate
        self.informationRequested = informationRequested
        self.servicesAlreadyProvided = servicesAlreadyProvided
        self.transmission = transmission
        self.receivingDateStamp = receivingDateStamp
        self.noticeSentElectronically = noticeSentElectronically
        self.triggerIsAssignmentDate = triggerIsAssignmentDate
    }
}

/// A computed deadline with everything needed to show it and to defend it.
public struct Deadline: Sendable, Equatable {
    public let rule: RuleID
    /// The instant the clock started from (after any deemed receipt).
    public let start: Date
    /// The last instant at which the act is in time: 23:59:59 Pacific on the last day for a
    /// day period, the exact instant for an hour period. For `rfa.deemed-receipt` it is the
    /// end of the day the RFA counts as received (day 0 of the UR clocks).
    public let due: Date
    /// The Pacific date of ``due``.
    public let dueDate: LocalDate
    /// Whether ``due`` is an exact instant (hour period) rather than the end of a day.
    public let isExactInstant: Bool
    public let citation: String
    /// Human lines: the trigger, the count with every skipped day named, extensions, the
    /// roll-over, the calendar.
    public let explanation: [String]
    /// Every assumption made for a missing or unverified fact.
    public let assumptions: [String]
    /// The calendar used, or nil for an hour period.
    public let calendar: CalendarID?
    public let confidence: Confidence
    /// The period that was counted (the rule's own, or its variant's).
    public let period: DeadlinePeriod
    /// The variant that replaced the rule's ordinary period, if any (expedited, formulary...).
    public let variant: VariantCondition?
    public let whoMustAct: String
    public let satisfiedBy: String
    public let consequenceIfMissed: MissConsequence

    /// Whether an act at `instant` meets the deadline.
    public func isMet(by instant: Date) -> Bool { instant <= due }

    /// ``due`` in RFC 3339 with the Pacific offset.
    public var dueRFC3339: String { Pacific.rfc3339(due) }

    /// The fields `imr-ctl calc --json` prints, in its spelling.
    public var summary: DeadlineSummary {
        DeadlineSummary(
            rule: rule.rawValue,
            due: dueRFC3339,
            dueDate: dueDate.iso,
            citation: citation,
            explanation: explanation,
            assumptions: assumptions
        )
    }
}

/// The command-line view of a ``Deadline``: `rule, due, due_date, citation, explanation,
/// assumptions`.
public struct DeadlineSummary: Sendable, Codable, Equatable {
    public let rule: String
    public let due: String
    public let dueDate: String
    public let citation: String
    public let explanation: [String]
    public let assumptions: [String]

    enum CodingKeys: String, CodingKey {
        case rule, due
        case dueDate = "due_date"
        case citation, explanation, assumptions
    }
}

/// Why a deadline cannot be computed, as a sentence that names the problem and the fix.
public struct DeadlineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Kept private so that new kinds of error do not break callers that switch on kinds.
    private enum Code: Sendable, Equatable {
        case unknownRule, ruleNotInBook, notInForce, missingFact, contradictoryOptions, badTrigger, triggerOutOfRange
        case outsideCalendars, localTimeNotUnique
    }

    private let code: Code
    /// The sentence to show.
    public let message: String

    public var description: String { message }

    public var isUnknownRule: Bool { code == .unknownRule }
    public var isMissingFact: Bool { code == .missingFact }
    public var isNotInForce: Bool { code == .notInForce }
    public var isContradictoryOptions: Bool { code == .contradictoryOptions }
    public var isBadTrigger: Bool { code == .badTrigger || code == .triggerOutOfRange || code == .localTimeNotUnique }
    /// The trigger is a date or instant, but outside ``LocalDate/supportedRange``.
    public var isTriggerOutOfRange: Bool { code == .triggerOutOfRange }
    /// The trigger is a valid date, but outside the years the calendars are generated for
    /// (``CalendarID/generatedYears``), so no rule can be counted from it.
    public var isOutsideCalendars: Bool { code == .outsideCalendars }
    /// A Pacific wall-clock time that daylight saving skipped or repeated: it names no
    /// instant, or two.
    public var isLocalTimeNotUnique: Bool { code == .localTimeNotUnique }

    static func badTrigger(_ text: String) -> DeadlineError {
        DeadlineError(
            code: .badTrigger,
            message: "'\(text)' is not a trigger date or instant; write a date as 2015-04-17, a Pacific time as "
                + "2015-04-17T18:18, or an instant with its offset as 2015-04-17T18:18:00-07:00."
        )
    }

    static func triggerOutOfRange(_ text: String) -> DeadlineError {
        DeadlineError(
            code: .triggerOutOfRange,
            message: LocalDate.outsideRange("The trigger '\(text)'") + "; check the year."
        )
    }

    static func skippedLocalTime(_ text: String, date: LocalDate, clock: String) -> DeadlineError {
        DeadlineError(
            code: .localTimeNotUnique,
            message:
                "'\(text)' never happened in California: daylight saving began on \(date.shortLabel) and clocks went "
                + "from 02:00 straight to 03:00 (PST to PDT). Give the time a clock showed, such as \(date.iso)T03:\(clock.dropFirst(3)) "
                + "(PDT), or the instant with its offset, such as \(date.iso)T\(clock)-08:00 (PST, which is 03:\(clock.dropFirst(3).prefix(2)) PDT)."
        )
    }

    static func repeatedLocalTime(_ text: String, date: LocalDate, clock: String) -> DeadlineError {
        DeadlineError(
            code: .localTimeNotUnique,
            message:
                "'\(text)' happened twice in California: daylight saving ended on \(date.shortLabel) and clocks went back "
                + "from 02:00 PDT to 01:00 PST. Say which with the offset: \(date.iso)T\(clock)-07:00 (the first, PDT) or "
                + "\(date.iso)T\(clock)-08:00 (the second, PST, an hour later)."
        )
    }

    static func outsideCalendars(_ rule: RuleID, trigger: LocalDate) -> DeadlineError {
        let years = CalendarID.generatedYears
        return DeadlineError(
            code: .outsideCalendars,
            message:
                "\(rule.rawValue) cannot be counted from \(trigger.iso): imr's calendars and rules cover triggers from "
                + "\(years.lowerBound)-01-01 (IMR began with SB 863 in 2013) to \(years.upperBound)-12-31 (the last year whose "
                + "holidays are generated); check the year."
        )
    }

    static func unknownRule(_ name: String) -> DeadlineError {
        DeadlineError(
            code: .unknownRule,
            message: "There is no deadline rule named '\(name)'; use one of: "
                + RuleID.allCases.map(\.rawValue).joined(separator: ", ") + "."
        )
    }

    static func ruleNotInBook(_ id: RuleID) -> DeadlineError {
        DeadlineError(
            code: .ruleNotInBook,
            message: "The rule book in use has no rule '\(id.rawValue)'; add it to the book or use RuleBook.standard."
        )
    }

    static func notInForce(_ what: String, from: LocalDate?, through: LocalDate?, trigger: LocalDate) -> DeadlineError {
        var range = ""
        if let from { range += "on or after \(from.iso)" }
        if let through { range += (range.isEmpty ? "" : " and ") + "on or before \(through.iso)" }
        return DeadlineError(
            code: .notInForce,
            message: "\(what) applies only to triggers \(range), but the trigger is \(trigger.iso); "
                + "check the trigger date or choose the rule in force on it."
        )
    }

    static func missingFact(_ sentence: String) -> DeadlineError {
        DeadlineError(code: .missingFact, message: sentence)
    }

    static func contradictoryOptions(_ sentence: String) -> DeadlineError {
        DeadlineError(code: .contradictoryOptions, message: sentence)
    }
}

extension RuleID {
    /// The rule named `name` (its raw value, e.g. `ur.decision.prospective`).
    ///
    /// - Throws: ``DeadlineError`` listing the valid names when there is none.
    public static func named(_ name: String) throws -> RuleID {
        guard let id = RuleID(rawValue: name.trimmingCharacters(in: .whitespaces).lowercased()) else {
            throw DeadlineError.unknownRule(name)
        }
        return id
    }
}
