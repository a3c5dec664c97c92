import Foundation

/// Where a deadline of a case stands at a given instant.
public enum DeadlineStatus: String, Codable, Sendable, CaseIterable {
    /// Not yet due and not yet satisfied.
    case pending
    /// Satisfied at or before the due instant.
    case met
    /// Satisfied, but after the due instant: the rule's consequence applies.
    case metLate = "met-late"
    /// Due instant passed with nothing that satisfies it.
    case missed
    /// The clock no longer runs: the case was withdrawn or closed before it was due, UR
    /// deferred the request, or an optional act's window closed unused.
    case notApplicable = "not-applicable"
    /// A correction changed a fact this deadline was computed from; the entry whose
    /// ``CaseDeadline/supersededBy`` names it is the one that counts.
    case superseded
}

/// Who must act before a deadline.
public enum DeadlineParty: String, Codable, Sendable, CaseIterable {
    /// The claims administrator or its utilization review organization.
    case claimsAdministrator = "claims-administrator"
    /// The injured worker (or their attorney).
    case employee
    /// The independent medical review organization.
    case imro
    /// The Administrative Director of the DWC.
    case administrativeDirector = "administrative-director"
    /// Either side (a WCAB appeal).
    case eitherParty = "either-party"
}

/// The event that started a deadline's clock.
public struct DeadlineTriggerFact: Codable, Sendable, Equatable {
    /// What happened, e.g. "written UR decision served on the employee".
    public var description: String
    /// The Pacific day of the trigger as the case records it (before any deemed-receipt shift).
    public var date: LocalDate
    /// The instant, when the time of day is recorded.
    public var at: Date?
    /// The stream version of the event that recorded the trigger; nil when the trigger
    /// was assumed (e.g. service not recorded, so the decision date was used).
    public var eventVersion: Int?
}

/// The recorded fact that satisfied a deadline.
public struct SatisfyingFact: Codable, Sendable, Equatable {
    /// The event's stable type name, e.g. "URDecisionIssued".
    public var eventType: String
    /// The event's 1-based position in the case's stream.
    public var eventVersion: Int
    public var eventId: UUID?
    /// The instant of the act, when the event records one.
    public var at: Date?
    /// The Pacific day of the act.
    public var on: LocalDate
}

/// One legal deadline of one case, derived from its events by ``DeadlineEngine``.
///
/// Everything needed to show it, alert on it and defend it: the due instant, whether it
/// was met and by what, and the reasons (trigger, count, skipped days, extensions,
/// roll-over, assumptions) in words a coordinator can check.
public struct CaseDeadline: Sendable, Equatable, Codable, Identifiable {
    /// Stable and deterministic: `<caseId>/<ruleId>/<rfaId or item ids or IMR case number>[/r<round>]`,
    /// so alerts can key on it. A pre-correction copy adds `/superseded`.
    public var id: String
    public var rule: RuleID
    public var caseId: CaseID
    public var rfaId: RFAID?
    public var itemIds: [ItemID]
    /// The IMR round (1 before any WCAB remand); 1 for UR deadlines.
    public var round: Int
    public var trigger: DeadlineTriggerFact
    /// The instant the count started from: the trigger, or for the UR clocks the RFA's deemed
    /// receipt (a fax after 5:30 p.m. counts from the next business day, 8 CCR 9792.9.1(a)).
    ///
    /// This is where `rfa.deemed-receipt` shows: it is a computed fact, not an entry of its
    /// own, because nobody must act by it; the UR clocks' ``explanation`` names the deemed
    /// receipt day and why it differs from the day the RFA arrived.
    public var clockStart: Date
    /// End of the Pacific day for day rules; the exact instant for hour rules.
    public var due: Date
    public var dueDate: LocalDate
    public var isExactInstant: Bool
    public var status: DeadlineStatus
    public var satisfiedBy: SatisfyingFact?
    public var party: DeadlineParty
    public var citation: String
    public var confidence: Confidence
    /// The trigger and its date, the count with each skipped day named, extensions, the
    /// roll-over, and what the case's events add (partial decisions, legal effects).
    public var explanation: [String]
    /// Every assumption made for a missing or unverified fact.
    public var assumptions: [String]
    public var consequenceIfMissed: MissConsequence
    /// Why the status is what it is when that is not obvious (not applicable, only some
    /// items acted on, a consequence that already applies).
    public var statusNote: String?
    /// Set when a correction changed this deadline: what it was before and which correction.
    public var correctionNotes: [String]
    /// On a superseded entry: the id of the entry that replaces it (nil when the corrected
    /// facts no longer produce such a deadline).
    public var supersededBy: String?
    /// Set on a missed deadline that nobody can act on any more, saying why: its trigger was
    /// recorded only after it had passed (an imported letter, an old case entered late), or a
    /// later fact settled it (the IMRO decided without the records' receipt on record). It
    /// stays `missed` in the case's history, but it is off the board and raises no alert.
    public var history: String?

    /// Whether a correction recomputed this deadline or changed its status.
    public var isRecomputed: Bool { !correctionNotes.isEmpty }

    /// Whether the deadline still asks for an act: pending, or missed and not ``history``.
    public var isOpen: Bool { status == .pending || (status == .missed && history == nil) }
}
