import Foundation

/// One fact of a dispute, as a payload the log stores under a stable type name.
///
/// The ``typeName`` is the storage layer's key and never changes; when the payload's
/// shape changes, ``schemaVersion`` goes up and ``CaseEventCodec`` gains an upcaster
/// for the old shape.
public protocol CaseEventPayload: Codable, Sendable, Equatable {
    static var typeName: String { get }
    static var schemaVersion: Int { get }
}

// MARK: - Opening

/// A dispute starts being tracked.
public struct CaseOpened: CaseEventPayload {
    public static let typeName = "CaseOpened"
    public static let schemaVersion = 1

    public var caseId: CaseID
    public var claimNumber: String
    public var employer: String
    public var claimsAdministrator: String
    /// Initials or an internal reference: never a name or any other personal data.
    public var injuredWorkerReference: String
    public var dateOfInjury: LocalDate
    public var coordinator: String

    public init(
        caseId: CaseID,
        claimNumber: String,
        employer: String,
        claimsAdministrator: String,
        injuredWorkerReference: String,
        dateOfInjury: LocalDate,
        coordinator: String
    ) {
        self.caseId = caseId
        self.claimNumber = claimNumber
        self.employer = employer
        self.claimsAdministrator = claimsAdministrator
        self.injuredWorkerReference = injuredWorkerReference
        self.dateOfInjury = dateOfInjury
        self.coordinator = coordinator
    }
}

// MARK: - Request for authorization and utilization review

/// One treatment the physician asks to have authorized.
public struct RequestedItem: Codable, Sendable, Equatable {
    public var id: ItemID
    /// As the RFA words it, e.g. "8 massage therapy visits over 1 month lumbar spine".
    public var description: String

    public init(id: ItemID, description: String) {
        self.id = id
        self.description = description
    }
}

/// The claims administrator received a Request for Authorization (schema version 2).
///
/// Version 1 carried one `treatment` string and a `receivedDate` without time; the
/// upcaster in ``CaseEventCodec`` turns it into this shape.
public struct RFAReceived: CaseEventPayload {
    public static let typeName = "RFAReceived"
    public static let schemaVersion = 2

    public var rfaId: RFAID
    /// When it arrived; with ``transmission`` this decides the deemed-receipt day
    /// (a fax after 5:30 p.m. Pacific counts from the next business day).
    public var receivedAt: Date
    /// False when only the day of receipt is known (old records): ``receivedAt`` is then
    /// the start of that Pacific day and the deadline engine should say so.
    public var receivedTimeOfDayKnown: Bool
    public var transmission: Transmission
    public var physician: String
    public var treatmentRecommendedOn: LocalDate?
    public var reviewType: ReviewType
    public var expedited: Bool
    public var formulary: Bool
    public var items: [RequestedItem]

    public init(
        rfaId: RFAID,
        receivedAt: Date,
        receivedTimeOfDayKnown: Bool = true,
        transmission: Transmission,
        physician: String,
        treatmentRecommendedOn: LocalDate? = nil,
        reviewType: ReviewType,
        expedited: Bool = false,
        formulary: Bool = false,
        items: [RequestedItem]
    ) {
        self.rfaId = rfaId
        self.receivedAt = receivedAt
        self.receivedTimeOfDayKnown = receivedTimeOfDayKnown
        self.transmission = transmission
        self.physician = physician
        self.treatmentRecommendedOn = treatmentRecommendedOn
        self.reviewType = reviewType
        self.expedited = expedited
        self.formulary = formulary
        self.items = items
    }
}

/// UR asked the physician for more information (this stretches the UR clock).
public struct MoreInformationRequested: CaseEventPayload {
    public static let typeName = "MoreInformationRequested"
    public static let schemaVersion = 1

    public var rfaId: RFAID
    public var requestedOn: LocalDate
    public var whatIsNeeded: String

    public init(rfaId: RFAID, requestedOn: LocalDate, whatIsNeeded: String) {
        self.rfaId = rfaId
        self.requestedOn = requestedOn
        self.whatIsNeeded = whatIsNeeded
    }
}

/// The information UR asked for arrived.
public struct InformationReceived: CaseEventPayload {
    public static let typeName = "InformationReceived"
    public static let schemaVersion = 1

    public var rfaId: RFAID
    public var receivedOn: LocalDate

    public init(rfaId: RFAID, receivedOn: LocalDate) {
        self.rfaId = rfaId
        self.receivedOn = receivedOn
    }
}

/// UR deferred the RFA because liability for the claim or body part is disputed.
public struct URDeferred: CaseEventPayload {
    public static let typeName = "URDeferred"
    public static let schemaVersion = 1

    public var rfaId: RFAID
    public var deferredOn: LocalDate
    public var liabilityDispute: String

    public init(rfaId: RFAID, deferredOn: LocalDate, liabilityDispute: String) {
        self.rfaId = rfaId
        self.deferredOn = deferredOn
        self.liabilityDispute = liabilityDispute
    }
}

/// The UR outcome of one item.
public struct URItemDecision: Codable, Sendable, Equatable {
    public var itemId: ItemID
    public var outcome: URItemOutcome
    /// For a modification: the part UR authorized, e.g. "4 of 8 visits". Nil otherwise.
    public var authorizedPortion: String?

    public init(itemId: ItemID, outcome: URItemOutcome, authorizedPortion: String? = nil) {
        self.itemId = itemId
        self.outcome = outcome
        self.authorizedPortion = authorizedPortion
    }
}

/// UR decided one or more items of an RFA. Items of one RFA may be decided at different times.
public struct URDecisionIssued: CaseEventPayload {
    public static let typeName = "URDecisionIssued"
    public static let schemaVersion = 1

    public var rfaId: RFAID
    public var decidedAt: Date
    public var decisions: [URItemDecision]

    public init(rfaId: RFAID, decidedAt: Date, decisions: [URItemDecision]) {
        self.rfaId = rfaId
        self.decidedAt = decidedAt
        self.decisions = decisions
    }
}

/// The requesting physician was told of the UR decision (due within 24 hours).
public struct PhysicianNotified: CaseEventPayload {
    public static let typeName = "PhysicianNotified"
    public static let schemaVersion = 1

    public var itemIds: [ItemID]
    public var notifiedAt: Date
    public var method: ServiceMethod

    public init(itemIds: [ItemID], notifiedAt: Date, method: ServiceMethod) {
        self.itemIds = itemIds
        self.notifiedAt = notifiedAt
        self.method = method
    }
}

/// The written UR decision was served; its date and method start the IMR application clock.
public struct WrittenURDecisionServed: CaseEventPayload {
    public static let typeName = "WrittenURDecisionServed"
    public static let schemaVersion = 1

    public var itemIds: [ItemID]
    public var servedOn: LocalDate
    public var method: ServiceMethod
    public var destination: ServiceDestination

    public init(itemIds: [ItemID], servedOn: LocalDate, method: ServiceMethod, destination: ServiceDestination) {
        self.itemIds = itemIds
        self.servedOn = servedOn
        self.method = method
        self.destination = destination
    }
}

// MARK: - Items known from an imported letter

/// One treatment item as an imported document shows it: the UR outcome it went to IMR with.
public struct ImportedItem: Codable, Sendable, Equatable {
    public var id: ItemID
    /// The treatment as originally requested (for a partial certification, the original request).
    public var description: String
    /// `denied` or `modified`: only those go to IMR.
    public var urOutcome: URItemOutcome
    /// For a modification: what the claims administrator authorized.
    public var authorizedPortion: String?
    /// For a modification: the remaining portion IMR decided on; nil when the whole item was disputed.
    public var disputedPortion: String?

    public init(
        id: ItemID,
        description: String,
        urOutcome: URItemOutcome,
        authorizedPortion: String? = nil,
        disputedPortion: String? = nil
    ) {
        self.id = id
        self.description = description
        self.urOutcome = urOutcome
        self.authorizedPortion = authorizedPortion
        self.disputedPortion = disputedPortion
    }
}

/// The case learned of disputed items from a document that starts mid-way through the
/// lifecycle: an IMR Final Determination letter. It proves the items, that UR denied or
/// modified them and (when its header says so) on which day; it does not give the RFA's
/// receipt, the UR decision's time or its notices. So the items carry their UR outcome but no
/// RFA clocks run for them: nothing here invents a date a deadline would count from.
///
/// ``rfaId`` names the unknown RFA (e.g. `letter-CM16-0213037`) so every item keeps an RFA id;
/// no `RFAReceived` exists for it. Items it creates are "imported" (``ItemState/importedFrom``):
/// ``decide(_:state:now:)`` lets them reach IMR without a recorded written service or
/// eligibility finding, because the letter proves those steps happened on days it does not give.
public struct DisputedItemsImported: CaseEventPayload {
    public static let typeName = "DisputedItemsImported"
    public static let schemaVersion = 1

    public var rfaId: RFAID
    public var items: [ImportedItem]
    /// The UR decision's day as the document states it ("UR Denial Date"); nil when it does not.
    public var urDecidedOn: LocalDate?
    /// The document, e.g. "IMR Final Determination CM16-0213037 (CM16-0213037.pdf)".
    public var source: String

    public init(rfaId: RFAID, items: [ImportedItem], urDecidedOn: LocalDate?, source: String) {
        self.rfaId = rfaId
        self.items = items
        self.urDecidedOn = urDecidedOn
        self.source = source
    }
}

// MARK: - Independent medical review

/// The AD received the employee's IMR application for these items.
public struct IMRApplicationReceived: CaseEventPayload {
    public static let typeName = "IMRApplicationReceived"
    public static let schemaVersion = 1

    public var itemIds: [ItemID]
    public var receivedOn: LocalDate

    public init(itemIds: [ItemID], receivedOn: LocalDate) {
        self.itemIds = itemIds
        self.receivedOn = receivedOn
    }
}

/// The AD found the application eligible for IMR.
public struct IMREligibilityFound: CaseEventPayload {
    public static let typeName = "IMREligibilityFound"
    public static let schemaVersion = 1

    public var itemIds: [ItemID]
    public var foundOn: LocalDate

    public init(itemIds: [ItemID], foundOn: LocalDate) {
        self.itemIds = itemIds
        self.foundOn = foundOn
    }
}

/// A party the AD can ask for the information it needs to decide eligibility.
public enum EligibilityInformationParty: String, Codable, Sendable, CaseIterable {
    case employee
    case claimsAdministrator = "claims-administrator"
}

/// The AD asked the parties for information it needs to decide whether the IMR application
/// for these items is eligible (8 CCR 9792.10.3(c)); the parties asked have 5 business days
/// to answer (`imr.eligibility-response`).
///
/// ``requestedOn`` is the day the request reached the parties, which starts the clock; when
/// only the date on the AD's letter is known, record that date (the engine says it took it
/// as the day of receipt).
public struct IMREligibilityInformationRequested: CaseEventPayload {
    public static let typeName = "IMREligibilityInformationRequested"
    public static let schemaVersion = 1

    public var itemIds: [ItemID]
    public var requestedOn: LocalDate
    /// As the AD's request words it, e.g. "copy of the UR denial letter".
    public var whatIsRequested: String
    /// Who must answer; at least one party.
    public var requestedFrom: [EligibilityInformationParty]

    public init(
        itemIds: [ItemID],
        requestedOn: LocalDate,
        whatIsRequested: String,
        requestedFrom: [EligibilityInformationParty]
    ) {
        self.itemIds = itemIds
        self.requestedOn = requestedOn
        self.whatIsRequested = whatIsRequested
        self.requestedFrom = requestedFrom
    }
}

/// The parties sent the AD the eligibility information it asked for; this satisfies
/// `imr.eligibility-response`.
public struct IMREligibilityInformationSent: CaseEventPayload {
    public static let typeName = "IMREligibilityInformationSent"
    public static let schemaVersion = 1

    public var itemIds: [ItemID]
    public var sentOn: LocalDate

    public init(itemIds: [ItemID], sentOn: LocalDate) {
        self.itemIds = itemIds
        self.sentOn = sentOn
    }
}

/// Why the AD refused an IMR application.
public enum IneligibilityReason: String, Codable, Sendable, CaseIterable {
    /// Received after the 30-day (+ service extension) limit.
    case late
    /// No UR denial or modification attached or on file.
    case noURDenial = "no-ur-denial"
    /// The UR itself was untimely: the WCAB, not IMR, decides the treatment.
    case untimelyUR = "untimely-ur"
    case duplicate
    case alreadyDecided = "already-decided"
    case other
}

/// The AD found the application ineligible; the items leave IMR.
public struct IMRFoundIneligible: CaseEventPayload {
    public static let typeName = "IMRFoundIneligible"
    public static let schemaVersion = 1

    public var itemIds: [ItemID]
    public var foundOn: LocalDate
    public var reason: IneligibilityReason
    public var detail: String?

    public init(itemIds: [ItemID], foundOn: LocalDate, reason: IneligibilityReason, detail: String? = nil) {
        self.itemIds = itemIds
        self.foundOn = foundOn
        self.reason = reason
        self.detail = detail
    }
}

/// How the IMRO sent its notice of assignment: it decides the records deadline (15 or 12 days).
public enum AssignmentNoticeMethod: String, Codable, Sendable, CaseIterable {
    case mail, electronic
}

/// The IMRO was assigned the review and gave it a case number (schema version 2).
///
/// Version 1 always carried ``noticeMethod``; version 2 lets it be nil when the method is not
/// known (an assignment imported from a Final Determination letter, which does not say how
/// the notice went). Version 1 payloads read as they are.
public struct IMRAssigned: CaseEventPayload {
    public static let typeName = "IMRAssigned"
    public static let schemaVersion = 2

    public var itemIds: [ItemID]
    public var imrCaseNumber: IMRCaseNumber
    public var assignedOn: LocalDate
    public var priority: IMRPriority
    /// How the notice of assignment was sent; nil when not known. Decides `imr.records`.
    public var noticeMethod: AssignmentNoticeMethod?

    public init(
        itemIds: [ItemID],
        imrCaseNumber: IMRCaseNumber,
        assignedOn: LocalDate,
        priority: IMRPriority,
        noticeMethod: AssignmentNoticeMethod?
    ) {
        self.itemIds = itemIds
        self.imrCaseNumber = imrCaseNumber
        self.assignedOn = assignedOn
        self.priority = priority
        self.noticeMethod = noticeMethod
    }
}

/// The IMRO received the medical records for a review.
public struct IMRRecordsReceived: CaseEventPayload {
    public static let typeName = "IMRRecordsReceived"
    public static let schemaVersion = 1

    public var imrCaseNumber: IMRCaseNumber
    public var receivedOn: LocalDate

    public init(imrCaseNumber: IMRCaseNumber, receivedOn: LocalDate) {
        self.imrCaseNumber = imrCaseNumber
        self.receivedOn = receivedOn
    }
}

/// The reviewer's decision on one item, as the Final Determination letter gives it.
public struct IMRItemDetermination: Codable, Sendable, Equatable {
    public var itemId: ItemID
    public var decision: IMRItemDecision
    public var guideline: String
    public var rationaleSummary: String

    public init(itemId: ItemID, decision: IMRItemDecision, guideline: String, rationaleSummary: String) {
        self.itemId = itemId
        self.decision = decision
        self.guideline = guideline
        self.rationaleSummary = rationaleSummary
    }
}

/// The IMRO issued its Final Determination (schema version 2).
///
/// Version 1 always carried ``mailedOn``; version 2 lets it be nil when the mailing date is
/// not known (a determination imported from the letter itself, which is dated by its decision
/// date only). Version 1 payloads read as they are.
public struct IMRDeterminationIssued: CaseEventPayload {
    public static let typeName = "IMRDeterminationIssued"
    public static let schemaVersion = 2

    public var imrCaseNumber: IMRCaseNumber
    public var decidedOn: LocalDate
    /// Starts the WCAB appeal and implementation clocks. Nil when not known: the deadline
    /// engine then counts from ``decidedOn`` and says it assumed so.
    public var mailedOn: LocalDate?
    public var reviewerSpecialty: String
    public var items: [IMRItemDetermination]

    public init(
        imrCaseNumber: IMRCaseNumber,
        decidedOn: LocalDate,
        mailedOn: LocalDate?,
        reviewerSpecialty: String,
        items: [IMRItemDetermination]
    ) {
        self.imrCaseNumber = imrCaseNumber
        self.decidedOn = decidedOn
        self.mailedOn = mailedOn
        self.reviewerSpecialty = reviewerSpecialty
        self.items = items
    }
}

/// How the claims administrator complied with an overturning determination.
public enum ImplementationKind: String, Codable, Sendable, CaseIterable {
    /// Services not yet given were authorized (5 working days).
    case authorized
    /// Services already given were paid for (20 days).
    case reimbursed
}

/// The claims administrator implemented an overturned item.
public struct DeterminationImplemented: CaseEventPayload {
    public static let typeName = "DeterminationImplemented"
    public static let schemaVersion = 1

    public var itemId: ItemID
    public var implementedOn: LocalDate
    public var kind: ImplementationKind

    public init(itemId: ItemID, implementedOn: LocalDate, kind: ImplementationKind) {
        self.itemId = itemId
        self.implementedOn = implementedOn
        self.kind = kind
    }
}

// MARK: - Appeal

/// Who appealed a determination to the WCAB.
public enum AppealingParty: String, Codable, Sendable, CaseIterable {
    case employee
    case claimsAdministrator = "claims-administrator"
}

/// A petition appealing the determination was filed with the WCAB.
public struct WCABAppealFiled: CaseEventPayload {
    public static let typeName = "WCABAppealFiled"
    public static let schemaVersion = 1

    public var itemIds: [ItemID]
    public var filedOn: LocalDate
    public var filedBy: AppealingParty

    public init(itemIds: [ItemID], filedOn: LocalDate, filedBy: AppealingParty) {
        self.itemIds = itemIds
        self.filedOn = filedOn
        self.filedBy = filedBy
    }
}

/// What the WCAB did with an appeal.
public enum AppealOutcome: String, Codable, Sendable, CaseIterable {
    case dismissed, denied
    /// The determination is set aside; the items go back to IMR for a new determination.
    case remanded
}

/// The WCAB resolved an appeal.
public struct WCABAppealResolved: CaseEventPayload {
    public static let typeName = "WCABAppealResolved"
    public static let schemaVersion = 1

    public var itemIds: [ItemID]
    public var resolvedOn: LocalDate
    public var outcome: AppealOutcome

    public init(itemIds: [ItemID], resolvedOn: LocalDate, outcome: AppealOutcome) {
        self.itemIds = itemIds
        self.resolvedOn = resolvedOn
        self.outcome = outcome
    }
}

// MARK: - Case administration

/// The dispute was withdrawn; nothing more happens on it.
public struct CaseWithdrawn: CaseEventPayload {
    public static let typeName = "CaseWithdrawn"
    public static let schemaVersion = 1

    public var withdrawnOn: LocalDate
    public var reason: String

    public init(withdrawnOn: LocalDate, reason: String) {
        self.withdrawnOn = withdrawnOn
        self.reason = reason
    }
}

/// Every item is resolved and the coordinator closed the case.
public struct CaseClosed: CaseEventPayload {
    public static let typeName = "CaseClosed"
    public static let schemaVersion = 1

    public var closedOn: LocalDate
    public var reason: String

    public init(closedOn: LocalDate, reason: String) {
        self.closedOn = closedOn
        self.reason = reason
    }
}

/// Another coordinator now owns the case.
public struct CoordinatorReassigned: CaseEventPayload {
    public static let typeName = "CoordinatorReassigned"
    public static let schemaVersion = 1

    public var from: String
    public var to: String

    public init(from: String, to: String) {
        self.from = from
        self.to = to
    }
}

/// A free-text note by a coordinator.
public struct NoteAdded: CaseEventPayload {
    public static let typeName = "NoteAdded"
    public static let schemaVersion = 1

    public var writtenAt: Date
    public var text: String

    public init(writtenAt: Date, text: String) {
        self.writtenAt = writtenAt
        self.text = text
    }
}

/// An earlier event recorded a wrong date or fact. The original stays in the log;
/// the fold reads the event as if it had carried ``value`` in ``field``.
public struct EventCorrected: CaseEventPayload {
    public static let typeName = "EventCorrected"
    public static let schemaVersion = 1

    public var correctedEventId: UUID
    /// The corrected event's 1-based position in the case's stream.
    public var correctedVersion: Int
    public var field: CorrectableField
    public var value: CorrectionValue
    public var reason: String

    public init(
        correctedEventId: UUID,
        correctedVersion: Int,
        field: CorrectableField,
        value: CorrectionValue,
        reason: String
    ) {
        self.correctedEventId = correctedEventId
        self.correctedVersion = correctedVersion
        self.field = field
        self.value = value
        self.reason = reason
    }
}

// MARK: - The closed set of events

/// Every fact a case stream can hold.
public enum CaseEvent: Codable, Sendable, Equatable {
    case caseOpened(CaseOpened)
    case rfaReceived(RFAReceived)
    case moreInformationRequested(MoreInformationRequested)
    case informationReceived(InformationReceived)
    case urDeferred(URDeferred)
    case urDecisionIssued(URDecisionIssued)
    case physicianNotified(PhysicianNotified)
    case writtenURDecisionServed(WrittenURDecisionServed)
    case disputedItemsImported(DisputedItemsImported)
    case imrApplicationReceived(IMRApplicationReceived)
    case imrEligibilityInformationRequested(IMREligibilityInformationRequested)
    case imrEligibilityInformationSent(IMREligibilityInformationSent)
    case imrEligibilityFound(IMREligibilityFound)
    case imrFoundIneligible(IMRFoundIneligible)
    case imrAssigned(IMRAssigned)
    case imrRecordsReceived(IMRRecordsReceived)
    case imrDeterminationIssued(IMRDeterminationIssued)
    case determinationImplemented(DeterminationImplemented)
    case wcabAppealFiled(WCABAppealFiled)
    case wcabAppealResolved(WCABAppealResolved)
    case caseWithdrawn(CaseWithdrawn)
    case caseClosed(CaseClosed)
    case coordinatorReassigned(CoordinatorReassigned)
    case noteAdded(NoteAdded)
    case eventCorrected(EventCorrected)

    /// The payload, for code that handles every event alike (the codec).
    public var payload: any CaseEventPayload {
        switch self {
        case .caseOpened(let e): e
        case .rfaReceived(let e): e
        case .moreInformationRequested(let e): e
        case .informationReceived(let e): e
        case .urDeferred(let e): e
        case .urDecisionIssued(let e): e
        case .physicianNotified(let e): e
        case .writtenURDecisionServed(let e): e
        case .disputedItemsImported(let e): e
        case .imrApplicationReceived(let e): e
        case .imrEligibilityInformationRequested(let e): e
        case .imrEligibilityInformationSent(let e): e
        case .imrEligibilityFound(let e): e
        case .imrFoundIneligible(let e): e
        case .imrAssigned(let e): e
        case .imrRecordsReceived(let e): e
        case .imrDeterminationIssued(let e): e
        case .determinationImplemented(let e): e
        case .wcabAppealFiled(let e): e
        case .wcabAppealResolved(let e): e
        case .caseWithdrawn(let e): e
        case .caseClosed(let e): e
        case .coordinatorReassigned(let e): e
        case .noteAdded(let e): e
        case .eventCorrected(let e): e
        }
    }

    /// The stable name the log stores, e.g. "URDecisionIssued". (A switch: going through
    /// ``payload`` copied the event into an existential box first.)
    public var typeName: String {
        switch self {
        case .caseOpened: CaseOpened.typeName
        case .rfaReceived: RFAReceived.typeName
        case .moreInformationRequested: MoreInformationRequested.typeName
        case .informationReceived: InformationReceived.typeName
        case .urDeferred: URDeferred.typeName
        case .urDecisionIssued: URDecisionIssued.typeName
        case .physicianNotified: PhysicianNotified.typeName
        case .writtenURDecisionServed: WrittenURDecisionServed.typeName
        case .disputedItemsImported: DisputedItemsImported.typeName
        case .imrApplicationReceived: IMRApplicationReceived.typeName
        case .imrEligibilityInformationRequested: IMREligibilityInformationRequested.typeName
        case .imrEligibilityInformationSent: IMREligibilityInformationSent.typeName
        case .imrEligibilityFound: IMREligibilityFound.typeName
        case .imrFoundIneligible: IMRFoundIneligible.typeName
        case .imrAssigned: IMRAssigned.typeName
        case .imrRecordsReceived: IMRRecordsReceived.typeName
        case .imrDeterminationIssued: IMRDeterminationIssued.typeName
        case .determinationImplemented: DeterminationImplemented.typeName
        case .wcabAppealFiled: WCABAppealFiled.typeName
        case .wcabAppealResolved: WCABAppealResolved.typeName
        case .caseWithdrawn: CaseWithdrawn.typeName
        case .caseClosed: CaseClosed.typeName
        case .coordinatorReassigned: CoordinatorReassigned.typeName
        case .noteAdded: NoteAdded.typeName
        case .eventCorrected: EventCorrected.typeName
        }
    }
}

/// An event as read back from the case's stream, with the envelope facts the fold needs.
public struct RecordedCaseEvent: Codable, Sendable, Equatable {
    public var event: CaseEvent
    /// 1-based position in the case's stream.
    public var version: Int
    public var eventId: UUID
    public var recordedAt: Date

    public init(event: CaseEvent, version: Int, eventId: UUID, recordedAt: Date) {
        self.event = event
        self.version = version
        self.eventId = eventId
        self.recordedAt = recordedAt
    }
}
