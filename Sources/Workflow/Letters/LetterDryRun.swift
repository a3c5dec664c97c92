import Foundation

/// One file's entry in the output of `imr-ctl import --dry-run --json`.
///
/// Encodes exactly the keys `file`, `case_number`, `date_assigned`, `date_of_injury`,
/// `decision_date`, `ur_denial_date`, `application_received`, `priority`,
/// `reviewer_specialty`, `items`, `warnings` and `ocr` (``LetterOCR``, null unless the letter
/// was read through OCR); each item has `disputed`, `decision`,
/// `original_request`, `authorized_portion` and `guideline`. A fact the letter does not carry
/// is written as `null`, never left out, so that scripts can tell "absent" from "forgotten".
public struct LetterDryRunRecord: Encodable, Sendable, Equatable {
    /// The file name as the user gave it on the command line.
    public var file: String
    /// What the parser read from the file.
    public var facts: LetterFacts

    /// Pairs a file with the facts read from it.
    public init(file: String, facts: LetterFacts) {
        self.file = file
        self.facts = facts
    }

    private enum Keys: String, CodingKey {
        case file
        case caseNumber = "case_number"
        case dateAssigned = "date_assigned"
        case dateOfInjury = "date_of_injury"
        case decisionDate = "decision_date"
        case urDenialDate = "ur_denial_date"
        case applicationReceived = "application_received"
        case priority
        case reviewerSpecialty = "reviewer_specialty"
        case items
        case warnings
        case ocr
    }

    private enum ItemKeys: String, CodingKey {
        case disputed, decision
        case originalRequest = "original_request"
        case authorizedPortion = "authorized_portion"
        case guideline
    }

    private struct Item: Encodable {
        let item: LetterItem

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: ItemKeys.self)
            try container.encode(item.disputed, forKey: .disputed)
            try container.encode(item.decision.rawValue, forKey: .decision)
            try container.encodeOrNull(item.originalRequest, forKey: .originalRequest)
            try container.encodeOrNull(item.authorizedPortion, forKey: .authorizedPortion)
            try container.encodeOrNull(item.guideline, forKey: .guideline)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(file, forKey: .file)
        try container.encodeOrNull(facts.caseNumber, forKey: .caseNumber)
        try container.encodeOrNull(facts.dateAssigned?.iso, forKey: .dateAssigned)
        try container.encodeOrNull(facts.dateOfInjury?.iso, forKey: .dateOfInjury)
        try container.encodeOrNull(facts.decisionDate?.iso, forKey: .decisionDate)
        try container.encodeOrNull(facts.urDenialDate?.iso, forKey: .urDenialDate)
        try container.encodeOrNull(facts.applicationReceived?.iso, forKey: .applicationReceived)
        try container.encodeOrNull(facts.priority?.rawValue, forKey: .priority)
        try container.encodeOrNull(facts.reviewerSpecialty, forKey: .reviewerSpecialty)
        try container.encode(facts.items.map(Item.init), forKey: .items)
        try container.encode(facts.warnings, forKey: .warnings)
        try container.encodeOrNull(facts.ocr, forKey: .ocr)
    }
}

extension KeyedEncodingContainer {
    /// `encodeIfPresent` leaves the key out; the dry-run format wants an explicit null.
    fileprivate mutating func encodeOrNull<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
}

extension LetterFacts {
    /// This letter's entry in `imr-ctl import --dry-run --json`, as an `Encodable` value.
    public func dryRunRecord(file: String) -> LetterDryRunRecord {
        LetterDryRunRecord(file: file, facts: self)
    }

    /// This letter's entry in `imr-ctl import --dry-run --json` as a JSON object for
    /// `JSONSerialization`: absent facts are `NSNull`, dates are `YYYY-MM-DD`.
    public func dryRunJSON(file: String) -> [String: Any] {
        func orNull(_ value: String?) -> Any { value.map { $0 as Any } ?? NSNull() }
        return [
            "file": file,
            "case_number": orNull(caseNumber),
            "date_assigned": orNull(dateAssigned?.iso),
            "date_of_injury": orNull(dateOfInjury?.iso),
            "decision_date": orNull(decisionDate?.iso),
            "ur_denial_date": orNull(urDenialDate?.iso),
            "application_received": orNull(applicationReceived?.iso),
            "priority": orNull(priority?.rawValue),
            "reviewer_specialty": orNull(reviewerSpecialty),
            "items": items.map { item -> [String: Any] in
                [
                    "disputed": item.disputed,
                    "decision": item.decision.rawValue,
                    "original_request": orNull(item.originalRequest),
                    "authorized_portion": orNull(item.authorizedPortion),
                    "guideline": orNull(item.guideline),
                ]
            },
            "warnings": warnings,
            "ocr": ocr.map { ocr -> Any in
                [
                    "engine": ocr.engine, "pages": ocr.pages,
                    "confidence": ocr.confidence.map { $0 as Any } ?? NSNull(),
                    "fieldConfidence": ocr.fieldConfidence,
                ] as [String: Any]
            } ?? NSNull(),
        ]
    }
}
