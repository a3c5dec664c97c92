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

extension CaseCommand {
    /// The command's kind and values as bytes that are equal exactly when the commands are
    /// (JSON with sorted keys; instants as seconds): what a command id's reuse is checked
    /// against. Independent of the case's state and of the time the command runs.
    public var canonicalEncoding: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .secondsSince1970
        func json<T: Encodable>(_ name: String, _ value: T) -> [UInt8] {
            Array(name.utf8) + [0] + ((try? encoder.encode(value)).map(Array.init) ?? [])
        }
        switch self {
        case .openCase(let e): return json("openCase", e)
        case .receiveRFA(let e): return json("receiveRFA", e)
        case .requestMoreInformation(let e): return json("requestMoreInformation", e)
        case .receiveInformation(let e): return json("receiveInformation", e)
        case .deferUR(let e): return json("deferUR", e)
        case .issueURDecision(let e): return json("issueURDecision", e)
        case .notifyPhysician(let e): return json("notifyPhysician", e)
        case .serveWrittenDecision(let e): return json("serveWrittenDecision", e)
        case .importDisputedItems(let e): return json("importDisputedItems", e)
        case .receiveIMRApplication(let e): return json("receiveIMRApplication", e)
        case .requestEligibilityInformation(let e): return json("requestEligibilityInformation", e)
        case .sendEligibilityInformation(let e): return json("sendEligibilityInformation", e)
        case .findEligible(let e): return json("findEligible", e)
        case .findIneligible(let e): return json("findIneligible", e)
        case .assignIMR(let e): return json("assignIMR", e)
        case .receiveRecords(let e): return json("receiveRecords", e)
        case .issueDetermination(let e): return json("issueDetermination", e)
        case .implementDetermination(let e): return json("implementDetermination", e)
        case .fileAppeal(let e): return json("fileAppeal", e)
        case .resolveAppeal(let e): return json("resolveAppeal", e)
        case .withdraw(let e): return json("withdraw", e)
        case .close(let e): return json("close", e)
        case .reassignCoordinator(let to): return json("reassignCoordinator", ["to": to])
        case .addNote(let text): return json("addNote", ["text": text])
        case .correct(let c):
            struct Canonical: Encodable {
                let version: Int
                let eventId: UUID?
                let field: CorrectableField
                let value: CorrectionValue
                let reason: String
            }
            return json(
                "correct",
                Canonical(version: c.version, eventId: c.eventId, field: c.field, value: c.value, reason: c.reason)
            )
        }
    }
}
