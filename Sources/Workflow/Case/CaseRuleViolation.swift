/// A command the case cannot accept, with a sentence a coordinator can act on.
///
/// The ``code`` is stable for programs (the wire protocol, tests); the ``message``
/// names the item, the RFA and the dates involved so a person can see what to fix.
public struct CaseRuleViolation: Error, Equatable, Sendable, CustomStringConvertible {
    /// A machine-readable reason. New codes may be added; match the ones you handle.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A value outside its character set or length (``InvalidValue``'s sentence).
        public static let invalidValue = Code(rawValue: "invalid-value")
        public static let caseAlreadyOpen = Code(rawValue: "case-already-open")
        public static let caseNotOpen = Code(rawValue: "case-not-open")
        public static let caseClosed = Code(rawValue: "case-closed")
        public static let caseWithdrawn = Code(rawValue: "case-withdrawn")
        public static let personalDataRefused = Code(rawValue: "personal-data-refused")
        public static let missingText = Code(rawValue: "missing-text")
        public static let duplicateRFA = Code(rawValue: "duplicate-rfa")
        public static let unknownRFA = Code(rawValue: "unknown-rfa")
        public static let noItems = Code(rawValue: "no-items")
        public static let duplicateItem = Code(rawValue: "duplicate-item")
        public static let unknownItem = Code(rawValue: "unknown-item")
        public static let itemNotOnRFA = Code(rawValue: "item-not-on-rfa")
        public static let dateBeforeInjury = Code(rawValue: "date-before-injury")
        public static let dateBeforeTrigger = Code(rawValue: "date-before-trigger")
        public static let dateInFuture = Code(rawValue: "date-in-future")
        public static let alreadyRecorded = Code(rawValue: "already-recorded")
        public static let urAlreadyDecided = Code(rawValue: "ur-already-decided")
        public static let urNotDecided = Code(rawValue: "ur-not-decided")
        public static let informationNotRequested = Code(rawValue: "information-not-requested")
        public static let authorizedPortionMissing = Code(rawValue: "authorized-portion-missing")
        public static let itemNotDisputable = Code(rawValue: "item-not-disputable")
        public static let imrNotApplicable = Code(rawValue: "imr-not-applicable")
        public static let writtenDecisionNotServed = Code(rawValue: "written-decision-not-served")
        public static let noIMRApplication = Code(rawValue: "no-imr-application")
        public static let noParty = Code(rawValue: "no-party")
        public static let duplicateParty = Code(rawValue: "duplicate-party")
        public static let eligibilityAlreadyDecided = Code(rawValue: "eligibility-already-decided")
        public static let notEligible = Code(rawValue: "not-eligible")
        public static let invalidIMRCaseNumber = Code(rawValue: "invalid-imr-case-number")
        public static let imrCaseNumberMismatch = Code(rawValue: "imr-case-number-mismatch")
        public static let unknownIMRCaseNumber = Code(rawValue: "unknown-imr-case-number")
        public static let notAssigned = Code(rawValue: "not-assigned")
        public static let alreadyDetermined = Code(rawValue: "already-determined")
        public static let notDetermined = Code(rawValue: "not-determined")
        public static let notOverturned = Code(rawValue: "not-overturned")
        public static let alreadyImplemented = Code(rawValue: "already-implemented")
        public static let appealPending = Code(rawValue: "appeal-pending")
        public static let noAppeal = Code(rawValue: "no-appeal")
        public static let itemsUnresolved = Code(rawValue: "items-unresolved")
        public static let sameCoordinator = Code(rawValue: "same-coordinator")
        public static let unknownEvent = Code(rawValue: "unknown-event")
        public static let uncorrectableField = Code(rawValue: "uncorrectable-field")
        public static let correctionValueMismatch = Code(rawValue: "correction-value-mismatch")
    }

    public let code: Code
    /// What went wrong and what the coordinator can do about it, in one or two sentences.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
