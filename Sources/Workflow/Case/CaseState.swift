import Foundation

/// Where a dispute stands, as a coordinator's list would show it.
///
/// Items move on their own, so the case's stage is the furthest stage any of its items
/// has reached (an open appeal outranks everything, closure and withdrawal end the case);
/// each ``ItemState`` carries its own ``ItemStatus``.
public enum CaseStage: String, Codable, Sendable, CaseIterable, Comparable {
    /// Opened, no RFA yet.
    case opened
    case rfaReceived
    /// UR asked for more information or deferred, and has decided nothing yet.
    case underReview
    case urDecided
    case imrApplied
    case imrIneligible
    case imrEligible
    case imrAssigned
    case determined
    case implemented
    case appealed
    case closed
    case withdrawn

    private var rank: Int { CaseStage.allCases.firstIndex(of: self)! }
    public static func < (lhs: CaseStage, rhs: CaseStage) -> Bool { lhs.rank < rhs.rank }
}

/// Where one treatment item stands.
public enum ItemStatus: String, Codable, Sendable, CaseIterable {
    case pendingUR
    case approved, modified, denied
    case imrApplied, imrEligible, imrIneligible, imrAssigned
    case upheld, overturned
    case implemented
    /// A WCAB appeal of the determination is pending.
    case appealed
}

/// The facts a case was opened with (corrected where a correction says so).
public struct CaseFacts: Equatable, Sendable {
    public var caseId: CaseID
    public var claimNumber: String
    public var employer: String
    public var claimsAdministrator: String
    public var injuredWorkerReference: String
    public var dateOfInjury: LocalDate
}

/// One RFA and the inputs the UR clocks start from.
public struct RFAState: Equatable, Sendable {
    public var id: RFAID
    /// With ``transmission``: the inputs of the deemed-receipt rule.
    public var receivedAt: Date
    public var receivedTimeOfDayKnown: Bool
    public var transmission: Transmission
    public var physician: String
    public var treatmentRecommendedOn: LocalDate?
    public var reviewType: ReviewType
    public var expedited: Bool
    public var formulary: Bool
    public var itemIds: [ItemID]
    public var informationRequestedOn: LocalDate?
    public var informationRequested: String?
    public var informationReceivedOn: LocalDate?
    /// Set when UR deferred for a liability dispute.
    public var deferredOn: LocalDate?
    public var liabilityDispute: String?

    /// The Pacific day the RFA arrived (before any deemed-receipt shift).
    public var receivedOn: LocalDate { Pacific.date(of: receivedAt) }
}

/// A dated step in one item's history, kept across remands.
public struct ItemMilestone: Equatable, Sendable {
    /// The type name of the event that made the step, e.g. "IMRAssigned".
    public var event: String
    public var on: LocalDate
    /// The stream version of that event.
    public var version: Int
}

/// One treatment item and every date a deadline engine needs about it.
///
/// Fields hold the current IMR round; a WCAB remand clears the determination,
/// implementation and appeal fields for a new determination, and ``history`` keeps
/// the earlier round's dates.
public struct ItemState: Equatable, Sendable {
    public var id: ItemID
    public var rfaId: RFAID
    public var description: String

    /// The document the item was imported from (``DisputedItemsImported``); nil for an item
    /// that came on a recorded RFA. An imported item has no RFA clocks and may reach IMR
    /// without a recorded written service or eligibility finding.
    public var importedFrom: String?

    // Utilization review
    public var urOutcome: URItemOutcome?
    public var authorizedPortion: String?
    /// For a modification imported from a letter: the remaining portion IMR decided on.
    public var disputedPortion: String?
    /// The UR decision's instant; for an imported item only its day is known (the start of
    /// that Pacific day, with ``urDecisionTimeKnown`` false), or nothing.
    public var urDecidedAt: Date?
    public var urDecisionTimeKnown: Bool = true
    public var physicianNotifiedAt: Date?
    public var physicianNotificationMethod: ServiceMethod?
    public var writtenDecisionServedOn: LocalDate?
    public var writtenDecisionServiceMethod: ServiceMethod?
    public var writtenDecisionServiceDestination: ServiceDestination?

    // IMR
    public var imrApplicationReceivedOn: LocalDate?
    /// Set when the AD asked the parties for information to decide eligibility.
    public var eligibilityInformationRequestedOn: LocalDate?
    public var eligibilityInformationRequested: String?
    public var eligibilityInformationRequestedFrom: [EligibilityInformationParty] = []
    public var eligibilityInformationSentOn: LocalDate?
    public var imrEligibleOn: LocalDate?
    public var imrIneligibleOn: LocalDate?
    public var ineligibilityReason: IneligibilityReason?
    public var imrCaseNumber: IMRCaseNumber?
    public var imrAssignedOn: LocalDate?
    public var imrPriority: IMRPriority?
    public var assignmentNoticeMethod: AssignmentNoticeMethod?
    public var recordsReceivedOn: LocalDate?
    public var determinationDecidedOn: LocalDate?
    public var determinationMailedOn: LocalDate?
    public var imrDecision: IMRItemDecision?
    public var guideline: String?
    public var rationaleSummary: String?
    public var reviewerSpecialty: String?
    public var implementedOn: LocalDate?
    public var implementationKind: ImplementationKind?

    // Appeal
    public var appealFiledOn: LocalDate?
    public var appealFiledBy: AppealingParty?
    public var appealResolvedOn: LocalDate?
    public var appealOutcome: AppealOutcome?
    /// 1 for the first IMR determination, 2 after one remand, and so on.
    public var imrRound: Int = 1

    public var history: [ItemMilestone] = []

    public var isAppealPending: Bool { appealFiledOn != nil && appealResolvedOn == nil }

    /// The Pacific day of the UR decision, the trigger of the written-notice rule.
    public var urDecidedOn: LocalDate? { urDecidedAt.map(Pacific.date(of:)) }

    /// Derived from the recorded dates, so it can never disagree with them.
    public var status: ItemStatus {
        if isAppealPending { return .appealed }
        if implementedOn != nil { return .implemented }
        if let imrDecision { return imrDecision == .upheld ? .upheld : .overturned }
        if imrAssignedOn != nil { return .imrAssigned }
        if imrIneligibleOn != nil { return .imrIneligible }
        if imrEligibleOn != nil { return .imrEligible }
        if imrApplicationReceivedOn != nil { return .imrApplied }
        switch urOutcome {
        case .approved: return .approved
        case .modified: return .modified
        case .denied: return .denied
        case nil: return .pendingUR
        }
    }
}

/// A note a coordinator wrote.
public struct CaseNote: Equatable, Sendable {
    public var writtenAt: Date
    public var text: String
    public var version: Int
}

/// A correction the fold has applied, with the stream version that recorded it.
public struct AppliedCorrection: Equatable, Sendable {
    public var version: Int
    public var correction: EventCorrected
}

/// The fold of one case's stream: what ``decide(_:state:now:)`` checks commands against
/// and what projections and the deadline engine read.
///
/// The state keeps the recorded events (``recorded``) because a correction re-reads
/// an earlier event with a new value: the fold replays the stream with corrected
/// events, so everything derived from the corrected date (later checks, deadlines)
/// follows it. A case holds tens of events, so this costs little.
public struct CaseState: Equatable, Sendable {
    /// Nil until the case is opened.
    public internal(set) var facts: CaseFacts?
    public internal(set) var coordinator: String?
    public internal(set) var rfas: [RFAState] = []
    /// In the order the RFAs listed them.
    public internal(set) var items: [ItemState] = []
    public internal(set) var notes: [CaseNote] = []
    public internal(set) var corrections: [AppliedCorrection] = []
    public internal(set) var withdrawnOn: LocalDate?
    public internal(set) var closedOn: LocalDate?
    /// The stream version of the last event folded in; 0 for a new stream.
    public internal(set) var version: Int = 0
    /// Every event folded in, as recorded (uncorrected).
    public internal(set) var recorded: [RecordedCaseEvent] = []

    /// The state of a stream with no events.
    public init() {}

    /// Folds a whole stream.
    public static func rebuild(from events: [RecordedCaseEvent]) -> CaseState {
        events.reduce(CaseState(), evolve)
    }

    public var isOpen: Bool { facts != nil && withdrawnOn == nil && closedOn == nil }

    public func rfa(_ id: RFAID) -> RFAState? { rfas.first { $0.id == id } }
    public func item(_ id: ItemID) -> ItemState? { items.first { $0.id == id } }
    /// The items the IMRO reviews under `number` in its current round.
    public func items(assignedTo number: IMRCaseNumber) -> [ItemState] {
        items.filter { $0.imrCaseNumber == number }
    }

    public var stage: CaseStage {
        if withdrawnOn != nil { return .withdrawn }
        if closedOn != nil { return .closed }
        return items.map(stageOf).max() ?? .opened
    }

    private func stageOf(_ item: ItemState) -> CaseStage {
        switch item.status {
        case .pendingUR:
            let rfa = rfa(item.rfaId)
            return rfa?.informationRequestedOn != nil || rfa?.deferredOn != nil ? .underReview : .rfaReceived
        case .approved, .modified, .denied: return .urDecided
        case .imrApplied: return .imrApplied
        case .imrIneligible: return .imrIneligible
        case .imrEligible: return .imrEligible
        case .imrAssigned: return .imrAssigned
        case .upheld, .overturned: return .determined
        case .implemented: return .implemented
        case .appealed: return .appealed
        }
    }
}
