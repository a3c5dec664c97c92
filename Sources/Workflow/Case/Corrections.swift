import Foundation

/// A field of an earlier event that a correction may replace.
///
/// Only dates and the facts that deadlines or routing depend on are correctable; item
/// outcomes are not, because a changed outcome is a new decision, not a typo.
public enum CorrectableField: String, Codable, Sendable, CaseIterable {
    // CaseOpened
    case dateOfInjury, claimNumber
    // RFAReceived
    case receivedAt, transmission, treatmentRecommendedOn, physician, expedited, formulary, reviewType
    // MoreInformationRequested / InformationReceived / IMRApplicationReceived / IMRRecordsReceived /
    // IMREligibilityInformationRequested
    case requestedOn, receivedOn
    // IMREligibilityInformationSent
    case sentOn
    case deferredOn
    // URDecisionIssued, PhysicianNotified (DisputedItemsImported's UR day is `decidedOn`)
    case decidedAt, notifiedAt
    // WrittenURDecisionServed
    case servedOn, serviceMethod, serviceDestination
    // IMR
    case foundOn, assignedOn, priority, noticeMethod, decidedOn, mailedOn, reviewerSpecialty
    case implementedOn, filedOn, resolvedOn, withdrawnOn, closedOn
}

/// The replacement value of a correction.
public enum CorrectionValue: Codable, Sendable, Equatable, CustomStringConvertible {
    case date(LocalDate)
    case instant(Date)
    case text(String)
    case flag(Bool)

    private enum CodingKeys: String, CodingKey { case kind, value }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .kind) {
        case "date": self = .date(try c.decode(LocalDate.self, forKey: .value))
        case "instant": self = .instant(try c.decode(Date.self, forKey: .value))
        case "text": self = .text(try c.decode(String.self, forKey: .value))
        case "flag": self = .flag(try c.decode(Bool.self, forKey: .value))
        case let other:
            throw DecodingError.dataCorruptedError(
                forKey: .kind,
                in: c,
                debugDescription: "unknown correction value kind '\(other)'"
            )
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .date(let d):
            try c.encode("date", forKey: .kind)
            try c.encode(d, forKey: .value)
        case .instant(let i):
            try c.encode("instant", forKey: .kind)
            try c.encode(i, forKey: .value)
        case .text(let t):
            try c.encode("text", forKey: .kind)
            try c.encode(t, forKey: .value)
        case .flag(let f):
            try c.encode("flag", forKey: .kind)
            try c.encode(f, forKey: .value)
        }
    }

    public var description: String {
        switch self {
        case .date(let d): d.iso
        case .instant(let i): Pacific.rfc3339(i)
        case .text(let t): t
        case .flag(let f): f ? "yes" : "no"
        }
    }

    /// The calendar day this value names, for checks against the date of injury and the clock.
    var day: LocalDate? {
        switch self {
        case .date(let d): d
        case .instant(let i): Pacific.date(of: i)
        case .text, .flag: nil
        }
    }
}

extension CaseEvent {
    /// This event as it would read with `field` set to `value`.
    ///
    /// Throws when the event has no such field or the value has the wrong kind, so a
    /// correction that the fold could not apply never reaches the log.
    public func correcting(_ field: CorrectableField, to value: CorrectionValue) throws(CaseRuleViolation) -> CaseEvent
    {
        func mismatch(_ expected: String) -> CaseRuleViolation {
            CaseRuleViolation(
                .correctionValueMismatch,
                "Correction of \(field.rawValue) on \(typeName) needs \(expected), not '\(value)'"
            )
        }
        func date() throws(CaseRuleViolation) -> LocalDate {
            guard case .date(let d) = value else { throw mismatch("a date (YYYY-MM-DD)") }
            return d
        }
        func instant() throws(CaseRuleViolation) -> Date {
            guard case .instant(let i) = value else { throw mismatch("an instant (date and time)") }
            return i
        }
        func text() throws(CaseRuleViolation) -> String {
            guard case .text(let t) = value, !t.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw mismatch("non-empty text")
            }
            return t
        }
        func flag() throws(CaseRuleViolation) -> Bool {
            guard case .flag(let f) = value else { throw mismatch("yes or no") }
            return f
        }
        func choice<T: RawRepresentable>(_: T.Type) throws(CaseRuleViolation) -> T
        where T.RawValue == String, T: CaseIterable {
            guard case .text(let t) = value, let v = T(rawValue: t) else {
                let options = T.allCases.map(\.rawValue).joined(separator: ", ")
                throw mismatch("one of \(options)")
            }
            return v
        }

        switch (self, field) {
        case (.caseOpened(var e), .dateOfInjury):
            e.dateOfInjury = try date()
            return .caseOpened(e)
        case (.caseOpened(var e), .claimNumber):
            e.claimNumber = try text()
            return .caseOpened(e)
        case (.rfaReceived(var e), .receivedAt):
            e.receivedAt = try instant()
            e.receivedTimeOfDayKnown = true
            return .rfaReceived(e)
        case (.rfaReceived(var e), .transmission):
            e.transmission = try choice(Transmission.self)
            return .rfaReceived(e)
        case (.rfaReceived(var e), .treatmentRecommendedOn):
            e.treatmentRecommendedOn = try date()
            return .rfaReceived(e)
        case (.rfaReceived(var e), .physician):
            e.physician = try text()
            return .rfaReceived(e)
        case (.rfaReceived(var e), .expedited):
            e.expedited = try flag()
            return .rfaReceived(e)
        case (.rfaReceived(var e), .formulary):
            e.formulary = try flag()
            return .rfaReceived(e)
        case (.rfaReceived(var e), .reviewType):
            e.reviewType = try choice(ReviewType.self)
            return .rfaReceived(e)
        case (.moreInformationRequested(var e), .requestedOn):
            e.requestedOn = try date()
            return .moreInformationRequested(e)
        case (.informationReceived(var e), .receivedOn):
            e.receivedOn = try date()
            return .informationReceived(e)
        case (.urDeferred(var e), .deferredOn):
            e.deferredOn = try date()
            return .urDeferred(e)
        case (.urDecisionIssued(var e), .decidedAt):
            e.decidedAt = try instant()
            return .urDecisionIssued(e)
        case (.physicianNotified(var e), .notifiedAt):
            e.notifiedAt = try instant()
            return .physicianNotified(e)
        case (.physicianNotified(var e), .serviceMethod):
            e.method = try choice(ServiceMethod.self)
            return .physicianNotified(e)
        case (.writtenURDecisionServed(var e), .servedOn):
            e.servedOn = try date()
            return .writtenURDecisionServed(e)
        case (.writtenURDecisionServed(var e), .serviceMethod):
            e.method = try choice(ServiceMethod.self)
            return .writtenURDecisionServed(e)
        case (.writtenURDecisionServed(var e), .serviceDestination):
            e.destination = try choice(ServiceDestination.self)
            return .writtenURDecisionServed(e)
        case (.disputedItemsImported(var e), .decidedOn):
            e.urDecidedOn = try date()
            return .disputedItemsImported(e)
        case (.imrApplicationReceived(var e), .receivedOn):
            e.receivedOn = try date()
            return .imrApplicationReceived(e)
        case (.imrEligibilityInformationRequested(var e), .requestedOn):
            e.requestedOn = try date()
            return .imrEligibilityInformationRequested(e)
        case (.imrEligibilityInformationSent(var e), .sentOn):
            e.sentOn = try date()
            return .imrEligibilityInformationSent(e)
        case (.imrEligibilityFound(var e), .foundOn):
            e.foundOn = try date()
            return .imrEligibilityFound(e)
        case (.imrFoundIneligible(var e), .foundOn):
            e.foundOn = try date()
            return .imrFoundIneligible(e)
        case (.imrAssigned(var e), .assignedOn):
            e.assignedOn = try date()
            return .imrAssigned(e)
        case (.imrAssigned(var e), .priority):
            e.priority = try choice(IMRPriority.self)
            return .imrAssigned(e)
        case (.imrAssigned(var e), .noticeMethod):
            e.noticeMethod = try choice(AssignmentNoticeMethod.self)
            return .imrAssigned(e)
        case (.imrRecordsReceived(var e), .receivedOn):
            e.receivedOn = try date()
            return .imrRecordsReceived(e)
        case (.imrDeterminationIssued(var e), .decidedOn):
            e.decidedOn = try date()
            return .imrDeterminationIssued(e)
        case (.imrDeterminationIssued(var e), .mailedOn):
            e.mailedOn = try date()
            return .imrDeterminationIssued(e)
        case (.imrDeterminationIssued(var e), .reviewerSpecialty):
            e.reviewerSpecialty = try text()
            return .imrDeterminationIssued(e)
        case (.determinationImplemented(var e), .implementedOn):
            e.implementedOn = try date()
            return .determinationImplemented(e)
        case (.wcabAppealFiled(var e), .filedOn):
            e.filedOn = try date()
            return .wcabAppealFiled(e)
        case (.wcabAppealResolved(var e), .resolvedOn):
            e.resolvedOn = try date()
            return .wcabAppealResolved(e)
        case (.caseWithdrawn(var e), .withdrawnOn):
            e.withdrawnOn = try date()
            return .caseWithdrawn(e)
        case (.caseClosed(var e), .closedOn):
            e.closedOn = try date()
            return .caseClosed(e)
        default:
            throw CaseRuleViolation(
                .uncorrectableField,
                "\(typeName) has no correctable field \(field.rawValue); correct a field the event records, or record a new event instead"
            )
        }
    }
}

extension RecordedCaseEvent {
    /// This event as its corrections make it read: each of `corrections` that names this
    /// event (its version and id) is applied in order; the rest are passed over. The one place
    /// corrections are applied, for the fold (``evolve(_:_:)``) and for `decide`'s replay.
    ///
    /// - Parameter skippingMisfits: pass over a correction that does not fit the event instead
    ///   of throwing: the fold of a stored log, where `decide` accepted each one, never stops.
    /// - Throws: a correction that does not fit (no such field, a value of the wrong kind), as
    ///   `decide` refuses it; never when `skippingMisfits`.
    func readThrough(
        _ corrections: [EventCorrected],
        skippingMisfits: Bool = false
    ) throws(CaseRuleViolation) -> CaseEvent {
        var event = self.event
        for c in corrections where c.correctedVersion == version && c.correctedEventId == eventId {
            do {
                event = try event.correcting(c.field, to: c.value)
            } catch {
                if !skippingMisfits { throw error }
            }
        }
        return event
    }
}
