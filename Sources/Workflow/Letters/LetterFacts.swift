import Foundation

/// One disputed item of a Final Determination letter: a heading under "IMR ISSUES, DECISIONS
/// AND RATIONALES" and the blocks that follow it.
public struct LetterItem: Codable, Sendable, Equatable {
    /// The treatment the IMR decided on, as the heading names it. For a modified UR decision
    /// this is the part still in dispute: the "remaining IMR eligible portion" (or, when the
    /// claims administrator authorized something else, the original request itself).
    public var disputed: String
    /// The IMRO's decision on this item.
    public var decision: IMRItemDecision
    /// The original request when the heading is a partial-certification heading; nil otherwise.
    public var originalRequest: String?
    /// What the claims administrator authorized, when the heading says so; nil unless partial.
    public var authorizedPortion: String?
    /// The claims administrator's guideline line ("Decision based on ..."), when present.
    public var claimsAdministratorGuideline: String?
    /// The IMRO's own guideline basis for this item ("MAXIMUS guideline: ..."), when present.
    public var guideline: String?
    /// A one-sentence summary of the decision rationale: the concluding sentence that states
    /// necessity when there is one, else the rationale's first sentence. Nil when the item has
    /// no "Decision rationale:" block.
    public var rationale: String?

    /// Creates an item; the optional parts default to absent.
    public init(
        disputed: String,
        decision: IMRItemDecision,
        originalRequest: String? = nil,
        authorizedPortion: String? = nil,
        claimsAdministratorGuideline: String? = nil,
        guideline: String? = nil,
        rationale: String? = nil
    ) {
        self.disputed = disputed
        self.decision = decision
        self.originalRequest = originalRequest
        self.authorizedPortion = authorizedPortion
        self.claimsAdministratorGuideline = claimsAdministratorGuideline
        self.guideline = guideline
        self.rationale = rationale
    }
}

/// What an IMR Final Determination letter states. A fact the letter does not carry is nil:
/// the parser never guesses one.
public struct LetterFacts: Codable, Sendable, Equatable {
    /// The IMR case number of the header ("CM16-0213037"); nil for a letter without a header.
    public var caseNumber: String?
    /// The header's "Date Assigned": when the IMRO assigned the case to a reviewer.
    public var dateAssigned: LocalDate?
    /// The header's "Date of Injury".
    public var dateOfInjury: LocalDate?
    /// The header's "Decision Date": the date of the Final Determination.
    public var decisionDate: LocalDate?
    /// The header's "UR Denial Date": the date of the utilization review decision in dispute.
    public var urDenialDate: LocalDate?
    /// The header's "Application Received": when the IMRO received the application for IMR.
    public var applicationReceived: LocalDate?
    /// The header's "Priority".
    public var priority: IMRPriority?
    /// The reviewer's certification or specialty, from a `Certification(s)/Specialty:` line or
    /// a "Board Certified in ..." sentence.
    public var reviewerSpecialty: String?
    /// The disputed items in letter order.
    public var items: [LetterItem]
    /// What the parser was unsure of, as sentences for the person importing the letter.
    public var warnings: [String]
    /// How the letter was read through OCR; nil for a letter read from its text.
    public var ocr: LetterOCR?

    /// Creates facts; every fact defaults to absent.
    public init(
        caseNumber: String? = nil,
        dateAssigned: LocalDate? = nil,
        dateOfInjury: LocalDate? = nil,
        decisionDate: LocalDate? = nil,
        urDenialDate: LocalDate? = nil,
        applicationReceived: LocalDate? = nil,
        priority: IMRPriority? = nil,
        reviewerSpecialty: String? = nil,
        items: [LetterItem] = [],
        warnings: [String] = [],
        ocr: LetterOCR? = nil
    ) {
        self.caseNumber = caseNumber
        self.dateAssigned = dateAssigned
        self.dateOfInjury = dateOfInjury
        self.decisionDate = decisionDate
        self.urDenialDate = urDenialDate
        self.applicationReceived = applicationReceived
        self.priority = priority
        self.reviewerSpecialty = reviewerSpecialty
        self.items = items
        self.warnings = warnings
        self.ocr = ocr
    }
}

/// Why a text could not be read as a Final Determination letter.
///
/// A struct around a private code, so that new reasons do not break callers; compare with the
/// static values (`error == .noTextLayer`).
public struct LetterParseError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Code: Sendable, Equatable {
        case emptyInput, noTextLayer, notADetermination
    }

    private let code: Code

    /// The text is empty.
    public static let emptyInput = LetterParseError(code: .emptyInput)
    /// The text holds only whitespace and page breaks, as `pdftotext` gives for a scanned PDF.
    public static let noTextLayer = LetterParseError(code: .noTextLayer)
    /// The text has words but no decision heading ending in ": Upheld" or ": Overturned".
    public static let notADetermination = LetterParseError(code: .notADetermination)

    public var description: String {
        switch code {
        case .emptyInput:
            "The letter text is empty. Check that the right file was given and that the text extraction (pdftotext) produced output."
        case .noTextLayer:
            "The letter has no text layer: its text is only blank space and page breaks, as for a scanned PDF. Import it with OCR (imr-ctl import --ocr auto, the default), or enter the determination by hand."
        case .notADetermination:
            "No decision heading ending in \": Upheld\" or \": Overturned\" was found, so this is not a readable IMR Final Determination letter. Check that the file is the Final Determination itself (not an application, a notice or a UR letter)."
        }
    }
}

extension LetterParseError: LocalizedError {
    public var errorDescription: String? { description }
}
