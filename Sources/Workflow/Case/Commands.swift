import Foundation

/// Asks to correct one field of an earlier event of the case.
public struct CorrectEvent: Sendable, Equatable {
    /// The corrected event's 1-based position in the stream.
    public var version: Int
    /// When given, must be the id of the event at ``version``: a guard against
    /// correcting the wrong event when the caller read an older copy of the stream.
    public var eventId: UUID?
    public var field: CorrectableField
    public var value: CorrectionValue
    public var reason: String

    public init(version: Int, eventId: UUID? = nil, field: CorrectableField, value: CorrectionValue, reason: String) {
        self.version = version
        self.eventId = eventId
        self.field = field
        self.value = value
        self.reason = reason
    }
}

/// What a coordinator (or an import) asks the case to record.
///
/// Most commands carry the fact they want recorded, in the shape of its event: the
/// command is the claim "this happened", ``decide(_:state:now:)`` checks it against the
/// case and returns the event when it fits. Commands whose event needs something the
/// caller does not know (the current instant, the corrected event's id, the previous
/// coordinator) have their own shape.
public enum CaseCommand: Sendable, Equatable {
    case openCase(CaseOpened)
    case receiveRFA(RFAReceived)
    case requestMoreInformation(MoreInformationRequested)
    case receiveInformation(InformationReceived)
    case deferUR(URDeferred)
    case issueURDecision(URDecisionIssued)
    case notifyPhysician(PhysicianNotified)
    case serveWrittenDecision(WrittenURDecisionServed)
    /// Items known from an imported letter (see ``DisputedItemsImported``).
    case importDisputedItems(DisputedItemsImported)
    case receiveIMRApplication(IMRApplicationReceived)
    case requestEligibilityInformation(IMREligibilityInformationRequested)
    case sendEligibilityInformation(IMREligibilityInformationSent)
    case findEligible(IMREligibilityFound)
    case findIneligible(IMRFoundIneligible)
    case assignIMR(IMRAssigned)
    case receiveRecords(IMRRecordsReceived)
    case issueDetermination(IMRDeterminationIssued)
    case implementDetermination(DeterminationImplemented)
    case fileAppeal(WCABAppealFiled)
    case resolveAppeal(WCABAppealResolved)
    case withdraw(CaseWithdrawn)
    case close(CaseClosed)
    case reassignCoordinator(to: String)
    /// The note is stamped with the command's `now`.
    case addNote(String)
    case correct(CorrectEvent)
}
