import Foundation

/// A value the case log does not accept, whatever the state of the case: which field,
/// what is wrong with it and what is allowed. ``decide(_:state:now:)`` checks every command's
/// values first (``CommandValues/validate(_:)``), so the daemon and the offline paths refuse
/// the same values with the same sentence.
public struct InvalidValue: Error, Sendable, Equatable, CustomStringConvertible {
    /// The parameter as the wire names it, e.g. `caseId` or `items[1].description`.
    public let field: String
    /// One sentence: the field, what is wrong, what is allowed.
    public let message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { message }
}

/// The character sets and lengths of the values a case holds (README "Values imr accepts").
///
/// - Identifiers (case ids, RFA ids, item ids): 1 to 64 ASCII letters, digits and `- _ . : / #`.
/// - Claim numbers: 1 to 64 ASCII letters, digits, spaces and `- _ . : / # ( )`.
/// - Coordinator names (Unix user names): 1 to 64 ASCII letters, digits and `. _ - @`.
/// - IMR case numbers: `CM`, two digits, a hyphen, seven digits (``IMRCaseNumber``).
/// - Command ids: UUIDs (checked where they are parsed).
/// - Short text (employer, claims administrator, physician, reviewer specialty): at most
///   200 characters, no control characters.
/// - Long text (item descriptions, portions, reasons, guidelines, summaries, requests): at
///   most 2,000 characters; newline and tab are the only control characters allowed.
/// - Notes: at most 10,000 characters; newline and tab are the only control characters allowed.
/// - No free text may hold bidirectional overrides, embeddings, isolates or marks, nor the
///   Unicode line and paragraph separators.
public enum CommandValues {
    public static let identifierMaximum = 64
    /// U+200E/U+200F marks, U+202A-U+202E embeddings and overrides, U+2066-U+2069 isolates,
    /// U+2028/U+2029 line and paragraph separators.
    static let layoutControls: Set<UInt32> = Set(
        [0x200E, 0x200F, 0x2028, 0x2029] + Array(0x202A...0x202E) + Array(0x2066...0x2069)
    )
    public static let shortTextMaximum = 200
    public static let longTextMaximum = 2_000
    public static let noteMaximum = 10_000

    static let identifierExtras: Set<UInt8> = Set("-_.:/#".utf8)
    static let claimExtras: Set<UInt8> = Set(" -_.:/#()".utf8)
    static let coordinatorExtras: Set<UInt8> = Set("._-@".utf8)

    /// A case id as the log may hold it.
    public static func caseId(_ text: String, field: String = "caseId") throws(InvalidValue) -> CaseID {
        try identifier(text, field: field, what: "a case id")
        return CaseID(text)
    }

    /// Checks an identifier: 1 to 64 ASCII letters, digits and `- _ . : / #`.
    public static func identifier(_ text: String, field: String, what: String) throws(InvalidValue) {
        try restricted(
            text,
            field: field,
            what: what,
            extras: identifierExtras,
            allowed: "ASCII letters, digits and - _ . : / #"
        )
    }

    /// Checks a claim number: 1 to 64 ASCII letters, digits, spaces and `- _ . : / # ( )`.
    public static func claimNumber(_ text: String, field: String = "claimNumber") throws(InvalidValue) {
        try restricted(
            text,
            field: field,
            what: "a claim number",
            extras: claimExtras,
            allowed: "ASCII letters, digits, spaces and - _ . : / # ( )"
        )
    }

    /// Checks a coordinator's name: 1 to 64 ASCII letters, digits and `. _ - @`.
    public static func coordinator(_ text: String, field: String = "coordinator") throws(InvalidValue) {
        try restricted(
            text,
            field: field,
            what: "a coordinator name",
            extras: coordinatorExtras,
            allowed: "ASCII letters, digits and . _ - @"
        )
    }

    /// Checks free text: at most `maximum` characters; control characters refused, except
    /// newline and tab when `multiline`.
    public static func text(_ text: String, field: String, maximum: Int, multiline: Bool) throws(InvalidValue) {
        // Printable ASCII (nearly every value): nothing to look up, one character per byte.
        if text.utf8.allSatisfy({ ($0 >= 0x20 && $0 < 0x7F) || (multiline && ($0 == 0x0A || $0 == 0x09)) }) {
            let count = text.utf8.count
            if count > maximum {
                throw InvalidValue(
                    field: field,
                    message:
                        "\(field) is \(count) characters long; at most \(maximum.formatted()) are allowed: shorten it"
                )
            }
            return
        }
        let count = text.unicodeScalars.count
        if count > maximum {
            throw InvalidValue(
                field: field,
                message: "\(field) is \(count) characters long; at most \(maximum.formatted()) are allowed: shorten it"
            )
        }
        for scalar in text.unicodeScalars {
            if scalar.properties.generalCategory == .control {
                if multiline && (scalar == "\n" || scalar == "\t") { continue }
                let allowed = multiline ? "only newline and tab are allowed" : "none is allowed"
                throw InvalidValue(
                    field: field,
                    message:
                        "\(field) contains the control character \(codePoint(scalar)); \(allowed) in this field: remove it"
                )
            }
            // Characters that change how the text around them is shown: bidirectional
            // overrides and isolates (which can make a note read differently from what it
            // holds), and the Unicode line and paragraph separators (a newline in disguise).
            if Self.layoutControls.contains(scalar.value) {
                throw InvalidValue(
                    field: field,
                    message:
                        "\(field) contains \(codePoint(scalar)), which changes how the text around it is shown; remove it"
                )
            }
        }
    }

    private static func restricted(
        _ text: String,
        field: String,
        what: String,
        extras: Set<UInt8>,
        allowed: String
    ) throws(InvalidValue) {
        let rule = "\(what) is 1 to \(identifierMaximum) \(allowed)"
        if text.isEmpty { throw InvalidValue(field: field, message: "\(field) is empty; \(rule)") }
        let count = text.unicodeScalars.count
        if count > identifierMaximum {
            throw InvalidValue(field: field, message: "\(field) is \(count) characters long; \(rule)")
        }
        for scalar in text.unicodeScalars {
            let ok =
                scalar.isASCII
                && {
                    let b = UInt8(scalar.value)
                    return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                        || extras.contains(b)
                }()
            if !ok {
                let shown =
                    scalar.properties.generalCategory == .control || scalar == " "
                    ? codePoint(scalar) : "'\(scalar)' (\(codePoint(scalar)))"
                throw InvalidValue(field: field, message: "\(field) contains \(shown), which is not allowed; \(rule)")
            }
        }
    }

    private static func codePoint(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    // MARK: Commands

    /// Checks every identifier and text value a command carries (not the case's rules:
    /// those are ``decide(_:state:now:)``'s).
    public static func validate(_ command: CaseCommand) throws(InvalidValue) {
        func id(_ v: String, _ field: String, _ what: String) throws(InvalidValue) {
            try identifier(v, field: field, what: what)
        }
        func items(_ ids: [ItemID], _ field: String = "itemIds") throws(InvalidValue) {
            for (i, item) in ids.enumerated() { try id(item.rawValue, "\(field)[\(i)]", "an item id") }
        }
        func short(_ v: String?, _ field: String) throws(InvalidValue) {
            if let v { try text(v, field: field, maximum: shortTextMaximum, multiline: false) }
        }
        func long(_ v: String?, _ field: String) throws(InvalidValue) {
            if let v { try text(v, field: field, maximum: longTextMaximum, multiline: true) }
        }
        switch command {
        case .openCase(let e):
            _ = try caseId(e.caseId.rawValue)
            try claimNumber(e.claimNumber)
            try short(e.employer, "employer")
            try short(e.claimsAdministrator, "claimsAdministrator")
            try short(e.injuredWorkerReference, "injuredWorkerReference")
            try coordinator(e.coordinator)
        case .receiveRFA(let e):
            try id(e.rfaId.rawValue, "rfaId", "an RFA id")
            try short(e.physician, "physician")
            for (i, item) in e.items.enumerated() {
                try id(item.id.rawValue, "items[\(i)].id", "an item id")
                try long(item.description, "items[\(i)].description")
            }
        case .requestMoreInformation(let e):
            try id(e.rfaId.rawValue, "rfaId", "an RFA id")
            try long(e.whatIsNeeded, "whatIsNeeded")
        case .receiveInformation(let e):
            try id(e.rfaId.rawValue, "rfaId", "an RFA id")
        case .deferUR(let e):
            try id(e.rfaId.rawValue, "rfaId", "an RFA id")
            try long(e.liabilityDispute, "liabilityDispute")
        case .issueURDecision(let e):
            try id(e.rfaId.rawValue, "rfaId", "an RFA id")
            for (i, d) in e.decisions.enumerated() {
                try id(d.itemId.rawValue, "decisions[\(i)].itemId", "an item id")
                try long(d.authorizedPortion, "decisions[\(i)].authorizedPortion")
            }
        case .notifyPhysician(let e): try items(e.itemIds)
        case .serveWrittenDecision(let e): try items(e.itemIds)
        case .importDisputedItems(let e):
            try id(e.rfaId.rawValue, "rfaId", "an RFA id")
            try long(e.source, "source")
            for (i, item) in e.items.enumerated() {
                try id(item.id.rawValue, "items[\(i)].id", "an item id")
                try long(item.description, "items[\(i)].description")
                try long(item.authorizedPortion, "items[\(i)].authorizedPortion")
                try long(item.disputedPortion, "items[\(i)].disputedPortion")
            }
        case .receiveIMRApplication(let e): try items(e.itemIds)
        case .requestEligibilityInformation(let e):
            try items(e.itemIds)
            try long(e.whatIsRequested, "whatIsRequested")
        case .sendEligibilityInformation(let e): try items(e.itemIds)
        case .findEligible(let e): try items(e.itemIds)
        case .findIneligible(let e):
            try items(e.itemIds)
            try long(e.detail, "detail")
        case .assignIMR(let e): try items(e.itemIds)
        case .receiveRecords: break
        case .issueDetermination(let e):
            try short(e.reviewerSpecialty, "reviewerSpecialty")
            for (i, item) in e.items.enumerated() {
                try id(item.itemId.rawValue, "items[\(i)].itemId", "an item id")
                try long(item.guideline, "items[\(i)].guideline")
                try long(item.rationaleSummary, "items[\(i)].rationaleSummary")
            }
        case .implementDetermination(let e): try id(e.itemId.rawValue, "itemId", "an item id")
        case .fileAppeal(let e): try items(e.itemIds)
        case .resolveAppeal(let e): try items(e.itemIds)
        case .withdraw(let e): try long(e.reason, "reason")
        case .close(let e): try long(e.reason, "reason")
        case .reassignCoordinator(let to): try coordinator(to)
        case .addNote(let note): try text(note, field: "text", maximum: noteMaximum, multiline: true)
        case .correct(let c):
            try long(c.reason, "reason")
            if case .text(let value) = c.value {
                if c.field == .claimNumber { try claimNumber(value, field: "value") } else { try short(value, "value") }
            }
        }
    }
}
