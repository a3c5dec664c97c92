/// The stable names of the clocks of `domain/DEADLINES.md`, used in code, the wire protocol,
/// output and tests. Raw values must not change.
public enum RuleID: String, CaseIterable, Codable, Sendable {
    case rfaDeemedReceipt = "rfa.deemed-receipt"
    case urDecisionProspective = "ur.decision.prospective"
    case urDecisionExpedited = "ur.decision.expedited"
    case urDecisionRetrospective = "ur.decision.retrospective"
    case urDecisionFormulary = "ur.decision.formulary"
    case urInfoRequest = "ur.info-request"
    case urDeferral = "ur.deferral"
    case urNoticePhysician = "ur.notice.physician"
    case urNoticeWritten = "ur.notice.written"
    case imrApplication = "imr.application"
    case imrEligibilityResponse = "imr.eligibility-response"
    case imroAssignmentNotice = "imro.assignment-notice"
    case imrRecords = "imr.records"
    case imrDetermination = "imr.determination"
    case imrImplementation = "imr.implementation"
    case wcabAppeal = "wcab.appeal"
}

/// How sure the product is of a rule: **H** the operative text was read; **M** consistent
/// secondary sources; **L** inference. "H/M" is a rule whose period is H and whose details
/// (or reach) are M.
public enum Confidence: String, Codable, Sendable, CaseIterable {
    case high = "H"
    case medium = "M"
    case low = "L"
    case highMedium = "H/M"
}

/// The unit a period is counted in.
public enum PeriodUnit: String, Codable, Sendable {
    /// Clock arithmetic from the trigger instant; no roll-over.
    case hours
    /// Calendar days from the trigger day (day 0).
    case calendarDays = "calendar-days"
    /// Business (working) days of the period's calendar, after the trigger day.
    case businessDays = "business-days"
}

/// Which calendar counts business days or rolls the last day.
public enum CalendarChoice: Codable, Sendable, Equatable {
    /// No calendar: an hour period.
    case clock
    /// Always this calendar.
    case fixed(CalendarID)
    /// The UR calendar in force on the trigger date: `ur-pre2020` before 2020-01-01, `calhr` after.
    case utilizationReviewByTriggerDate

    /// The calendar for a trigger on `date`, or nil for the clock.
    public func calendar(on date: LocalDate) -> CalendarID? {
        switch self {
        case .clock: nil
        case .fixed(let id): id
        case .utilizationReviewByTriggerDate: CalendarID.utilizationReview(on: date)
        }
    }
}

/// Which extension for service of the triggering document applies.
public enum ServiceExtension: String, Codable, Sendable {
    /// None: the period runs from the trigger whatever the service method.
    case none
    /// CCP 1013(a): +5 calendar days by mail within California, +10 elsewhere in the United
    /// States, +20 outside it. Electronic service: see the calculator's stated assumption.
    case mailCCP1013 = "ccp-1013-mail"
    /// 8 CCR 10605 (WCAB): the same +5/10/20 for mail, fax and e-mail service.
    case wcabMailFaxEmail = "8-ccr-10605"
}

/// How long a clock runs and how its last day is found.
public struct DeadlinePeriod: Codable, Sendable, Equatable {
    public var amount: Int
    public var unit: PeriodUnit
    public var calendar: CalendarChoice
    public var serviceExtension: ServiceExtension
    /// Whether a last day that is a holiday of `calendar` (Saturdays and Sundays included)
    /// moves to the next day that is not (CCP 12a). Only calendar-day periods roll.
    public var rollsOver: Bool
    /// When set and the treatment recommendation date is known, the deadline is never later
    /// than that many calendar days after it (LC 4610(i)(1): the earlier wins).
    public var capDaysAfterTreatmentRecommendation: Int?
    /// For a period that a treatment recommendation's limit does not shorten although the
    /// case may record that date (an expedited or formulary UR decision, say): why not, so
    /// that a coordinator who gave the date sees it set aside instead of silently dropped.
    public var capSetAside: CapSetAside?

    public init(
        _ amount: Int,
        _ unit: PeriodUnit,
        calendar: CalendarChoice,
        serviceExtension: ServiceExtension = .none,
        rollsOver: Bool = false,
        capDaysAfterTreatmentRecommendation: Int? = nil,
        capSetAside: CapSetAside? = nil
    ) {
        self.amount = amount
        self.unit = unit
        self.calendar = calendar
        self.serviceExtension = serviceExtension
        self.rollsOver = rollsOver
        self.capDaysAfterTreatmentRecommendation = capDaysAfterTreatmentRecommendation
        self.capSetAside = capSetAside
    }

    /// "5 business days", "72 hours", "30 calendar days".
    public var label: String {
        let unitName: String
        switch unit {
        case .hours: unitName = amount == 1 ? "hour" : "hours"
        case .calendarDays: unitName = amount == 1 ? "calendar day" : "calendar days"
        case .businessDays: unitName = amount == 1 ? "business day" : "business days"
        }
        return "\(amount) \(unitName)"
    }
}

/// A limit counted from the treatment recommendation (LC 4610(i)(1)'s 14 days) that a period
/// does not take, and the reason, for the explanation.
public struct CapSetAside: Codable, Sendable, Equatable {
    /// The limit's calendar days after the recommendation, to show what it would have given.
    public var days: Int
    /// Why the period is counted without it, with its authority.
    public var reason: String
    /// Whether the reading is settled; when not, the date the limit would give is an assumption.
    public var verified: Bool

    public init(days: Int, reason: String, verified: Bool) {
        self.days = days
        self.reason = reason
        self.verified = verified
    }
}

/// The fact of a case that selects a variant of a rule.
public enum VariantCondition: String, Codable, Sendable {
    case expedited
    case concurrent
    case retrospective
    case formulary
    case informationRequested = "information-requested"
    case servicesAlreadyProvided = "services-already-provided"
    case noticeSentElectronically = "notice-sent-electronically"
}

/// A different period for one kind of case (expedited, retrospective, formulary...).
public struct RuleVariant: Codable, Sendable, Equatable {
    public var condition: VariantCondition
    public var period: DeadlinePeriod
    /// What the variant is, for the explanation: "expedited review: 72 hours".
    public var summary: String
    public var citation: String?
    public var confidence: Confidence?
    /// The variant applies to triggers on or after this date (e.g. formulary from 2018-01-01).
    public var effectiveFrom: LocalDate?
    /// Unverified points this variant relies on; each computation using it lists them.
    public var assumptions: [String]

    public init(
        when condition: VariantCondition,
        _ period: DeadlinePeriod,
        summary: String,
        citation: String? = nil,
        confidence: Confidence? = nil,
        effectiveFrom: LocalDate? = nil,
        assumptions: [String] = []
    ) {
        self.condition = condition
        self.period = period
        self.summary = summary
        self.citation = citation
        self.confidence = confidence
        self.effectiveFrom = effectiveFrom
        self.assumptions = assumptions
    }
}

/// What a missed deadline means, as the product must show it ("Legal effect when missed").
public struct MissConsequence: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// The UR is invalid and not subject to IMR; the WCAB decides the treatment.
        case urInvalid = "ur-invalid"
        /// The IMR application is ineligible.
        case ineligible
        /// Late, but still binding (directory, not mandatory): show "late", never "void".
        case lateNotVoid = "late-not-void"
        /// An administrative penalty (8 CCR 9792.12).
        case administrativePenalty = "administrative-penalty"
        /// The appeal is dismissed.
        case dismissed
        /// No effect of its own: the rule only fixes a date other clocks start from.
        case none
    }

    public var kind: Kind
    /// A sentence for the coordinator, with its authority.
    public var summary: String

    public init(_ kind: Kind, _ summary: String) {
        self.kind = kind
        self.summary = summary
    }
}

/// The after-hours and mail rules for when an RFA counts as received (8 CCR 9792.9.1(a)).
public struct DeemedReceiptPolicy: Codable, Sendable, Equatable {
    /// Fax or e-mail after this Pacific wall-clock time (seconds after midnight) counts as
    /// received the next business day: 5:30 p.m.
    public var cutoffSecondsAfterMidnight: Int
    /// Mail counts as received this many business days after deposit.
    public var mailBusinessDays: Int
    /// The calendar that says what a business day is.
    public var calendar: CalendarChoice

    public init(cutoffSecondsAfterMidnight: Int, mailBusinessDays: Int, calendar: CalendarChoice) {
        self.cutoffSecondsAfterMidnight = cutoffSecondsAfterMidnight
        self.mailBusinessDays = mailBusinessDays
        self.calendar = calendar
    }
}

/// One clock of `domain/DEADLINES.md`, as data: a rule marked M or L is changed by editing
/// (or loading) a value, not code.
public struct DeadlineRule: Codable, Sendable, Equatable {
    public var id: RuleID
    /// Who must act before the deadline.
    public var whoMustAct: String
    /// The event that starts the clock.
    public var trigger: String
    /// The ordinary period; ``variants`` replace it for particular cases.
    public var period: DeadlinePeriod
    /// Checked in order; the first whose condition holds replaces ``period``.
    public var variants: [RuleVariant]
    /// Whether the trigger is the RFA's receipt, so that a transmission given to the
    /// calculator is first turned into a deemed receipt (8 CCR 9792.9.1(a)).
    public var startsAtRFAReceipt: Bool
    /// Only for `rfa.deemed-receipt`.
    public var deemedReceipt: DeemedReceiptPolicy?
    public var effectiveFrom: LocalDate?
    public var effectiveThrough: LocalDate?
    public var citation: String
    public var confidence: Confidence
    /// The act that meets the deadline.
    public var satisfiedBy: String
    public var consequenceIfMissed: MissConsequence
    /// Unverified points the rule relies on; every computation with it lists them.
    public var assumptions: [String]
    /// Unverified points of the ordinary ``period`` alone: listed when no variant replaces it.
    public var periodAssumptions: [String]
    /// Readings said when the period is counted on a given calendar (a UR clock before 2020
    /// counted on the UR working days of the time where the rule's text names only CalHR's).
    public var calendarAssumptions: [CalendarAssumption]

    public init(
        id: RuleID,
        whoMustAct: String,
        trigger: String,
        period: DeadlinePeriod,
        variants: [RuleVariant] = [],
        startsAtRFAReceipt: Bool = false,
        deemedReceipt: DeemedReceiptPolicy? = nil,
        effectiveFrom: LocalDate? = nil,
        effectiveThrough: LocalDate? = nil,
        citation: String,
        confidence: Confidence,
        satisfiedBy: String,
        consequenceIfMissed: MissConsequence,
        assumptions: [String] = [],
        periodAssumptions: [String] = [],
        calendarAssumptions: [CalendarAssumption] = []
    ) {
        self.id = id
        self.whoMustAct = whoMustAct
        self.trigger = trigger
        self.period = period
        self.variants = variants
        self.startsAtRFAReceipt = startsAtRFAReceipt
        self.deemedReceipt = deemedReceipt
        self.effectiveFrom = effectiveFrom
        self.effectiveThrough = effectiveThrough
        self.citation = citation
        self.confidence = confidence
        self.satisfiedBy = satisfiedBy
        self.consequenceIfMissed = consequenceIfMissed
        self.assumptions = assumptions
        self.periodAssumptions = periodAssumptions
        self.calendarAssumptions = calendarAssumptions
    }
}

/// A reading a rule makes when its period is counted on `calendar` (``DeadlineRule/calendarAssumptions``).
public struct CalendarAssumption: Codable, Sendable, Equatable {
    public var calendar: CalendarID
    public var assumption: String

    public init(_ calendar: CalendarID, _ assumption: String) {
        self.calendar = calendar
        self.assumption = assumption
    }
}
