import Foundation

/// Reads the facts of an IMR Final Determination letter from its text.
///
/// Pure: text in, facts out. The caller extracts the text (for a PDF, with poppler's
/// `pdftotext`, with or without `-layout`). The parser accepts letters with or without the
/// header block, headings wrapped over several lines, partial-certification headings, and
/// extractions with blank lines between every line.
public enum LetterParser {
    /// Parses the text of one letter.
    ///
    /// - Throws: ``LetterParseError/emptyInput`` for an empty text,
    ///   ``LetterParseError/noTextLayer`` for a text of blank space and page breaks only (a
    ///   scanned PDF), ``LetterParseError/notADetermination`` when no decision heading is found.
    public static func parse(_ text: String) throws -> LetterFacts {
        if text.isEmpty { throw LetterParseError.emptyInput }
        if text.allSatisfy({ $0.isWhitespace }) { throw LetterParseError.noTextLayer }

        let lines = LetterText.lines(of: text)
        let sections = Sections(lines: lines)
        var warnings: [String] = []

        let reading = ItemReader(lines: lines, sections: sections).read(warnings: &warnings)
        if reading.items.isEmpty { throw LetterParseError.notADetermination }

        var facts = LetterFacts()
        let headerEnd = sections.headerEnd ?? reading.firstHeadingLine
        HeaderReader.read(Array(lines[0..<headerEnd]), into: &facts, warnings: &warnings)
        facts.reviewerSpecialty = SpecialtyReader.read(lines: lines, sections: sections)
        if facts.reviewerSpecialty == nil {
            warnings.append(
                "No reviewer specialty was found (neither a \"Certification(s)/Specialty:\" line nor a \"Board Certified in ...\" sentence)."
            )
        }
        facts.items = reading.items
        facts.warnings = warnings
        return facts
    }
}

/// Where the fixed headings of the letter are.
struct Sections {
    let how: Int?
    let summary: Int?
    let issues: Int?

    init(lines: [String]) {
        // The headings are set in capitals; the same words in running text are not headings.
        func find(_ needle: String) -> Int? {
            lines.firstIndex { $0.contains(needle) }
        }
        how = find("HOW THE IMR FINAL DETERMINATION")
        summary = find("CLINICAL CASE SUMMARY")
        issues = find("IMR ISSUES, DECISIONS AND RATIONALES") ?? find("IMR ISSUES")
    }

    /// The header block is whatever comes before the first fixed heading.
    var headerEnd: Int? { [how, summary, issues].compactMap { $0 }.min() }
}

// MARK: - Header

enum HeaderReader {
    private enum Field: CaseIterable {
        case caseNumber, dateAssigned, dateOfInjury, decisionDate, urDenialDate, priority, applicationReceived

        var pattern: Pattern {
            switch self {
            case .caseNumber: Pattern(#"\bCase\s+(?:Number|No\.?)\s*:"#)
            case .dateAssigned: Pattern(#"\bDate\s+Assigned\s*:"#)
            case .dateOfInjury: Pattern(#"\bDate\s+of\s+Injury\s*:"#)
            case .decisionDate: Pattern(#"\bDecision\s+Date\s*:"#)
            case .urDenialDate: Pattern(#"\bUR\s+Denial\s+Date\s*:"#)
            case .priority: Pattern(#"\bPriority\s*:"#)
            // `pdftotext -layout` puts the value between "Application" and "Received:".
            case .applicationReceived: Pattern(#"\bApplication\b(?:\s+Received\s*:)?"#)
            }
        }

        var name: String {
            switch self {
            case .caseNumber: "Case Number"
            case .dateAssigned: "Date Assigned"
            case .dateOfInjury: "Date of Injury"
            case .decisionDate: "Decision Date"
            case .urDenialDate: "UR Denial Date"
            case .priority: "Priority"
            case .applicationReceived: "Application Received"
            }
        }

        var isDate: Bool { self != .caseNumber && self != .priority }
    }

    private struct Label {
        let field: Field
        let location: Int
        let end: Int
    }

    private struct DateValue {
        let text: String
        let date: LocalDate?
        let location: Int
    }

    static func read(_ lines: [String], into facts: inout LetterFacts, warnings: inout [String]) {
        let text = lines.joined(separator: "\n")
        let ns = text as NSString
        var labels: [Label] = []
        for field in Field.allCases {
            if let match = field.pattern.first(in: text) {
                labels.append(Label(field: field, location: match.location, end: match.location + match.length))
            }
        }
        if labels.isEmpty {
            warnings.append(
                "The letter has no header block, so its case number, dates and priority are unknown: enter them by hand."
            )
            return
        }
        for field in Field.allCases where !labels.contains(where: { $0.field == field }) {
            warnings.append("The header has no \(field.name) label.")
        }

        if labels.contains(where: { $0.field == .caseNumber }) {
            if let match = Pattern(#"\b([A-Z]{2}\d{2}-\d{4,})\b"#, caseInsensitive: false).first(in: text) {
                facts.caseNumber = match[1]
            } else {
                warnings.append("The header names a Case Number but its value could not be read.")
            }
        }
        if labels.contains(where: { $0.field == .priority }) {
            if let match = Pattern(#"\b(Standard|Expedited)\b"#).first(in: text), let word = match[1] {
                facts.priority = IMRPriority(rawValue: word.lowercased())
            } else {
                warnings.append("The header names a Priority but its value is neither Standard nor Expedited.")
            }
        }

        let dates = Pattern(#"\b(\d{1,2})/(\d{1,2})/(\d{4})\b"#).all(in: text).map { match in
            DateValue(
                text: match[0] ?? "",
                date: LocalDate(
                    year: Int(match[3] ?? "") ?? 0,
                    month: Int(match[1] ?? "") ?? 0,
                    day: Int(match[2] ?? "") ?? 0
                ),
                location: match.location
            )
        }
        let dateLabels = labels.filter { $0.field.isDate }.sorted { $0.location < $1.location }

        // Labels and values come in the same order in every extraction: side by side
        // (tab-separated or -layout) or in separate blocks (plain pdftotext). When the counts
        // differ a value is missing, and pairing by order would shift the others: then only a
        // value on the label's own line is trusted.
        var values: [Field: DateValue] = [:]
        if dateLabels.count == dates.count {
            for (label, value) in zip(dateLabels, dates) { values[label.field] = value }
        } else {
            warnings.append(
                "The header has \(dateLabels.count) date labels but \(dates.count) dates; only dates on the same line as their label were taken."
            )
            let allLabels = labels.sorted { $0.location < $1.location }
            for label in dateLabels {
                let lineEnd = ns.range(
                    of: "\n",
                    range: NSRange(location: label.end, length: ns.length - label.end)
                ).location
                let limit = min(
                    lineEnd == NSNotFound ? ns.length : lineEnd,
                    allLabels.first { $0.location > label.location }?.location ?? ns.length
                )
                values[label.field] = dates.first { $0.location >= label.end && $0.location < limit }
            }
        }

        for label in dateLabels {
            guard let value = values[label.field] else {
                warnings.append("The header's \(label.field.name) could not be read.")
                continue
            }
            guard let date = value.date else {
                warnings.append("The header's \(label.field.name) \"\(value.text)\" is not a real date.")
                continue
            }
            switch label.field {
            case .dateAssigned: facts.dateAssigned = date
            case .dateOfInjury: facts.dateOfInjury = date
            case .decisionDate: facts.decisionDate = date
            case .urDenialDate: facts.urDenialDate = date
            case .applicationReceived: facts.applicationReceived = date
            case .caseNumber, .priority: break
            }
        }
    }
}

// MARK: - Reviewer specialty

enum SpecialtyReader {
    static func read(lines: [String], sections: Sections) -> String? {
        let certification = Pattern(#"^Certifications?(?:\(s\))?\s*/\s*Specialt(?:y|ies)\s*:\s*(.*)$"#)
        for (index, line) in lines.enumerated() {
            guard let match = certification.first(in: line) else { continue }
            var value = LetterText.collapse(match[1] ?? "")
            var next = index + 1
            // A long list wraps: a value that is empty or ends in a joiner continues below.
            while next < lines.count, !lines[next].isEmpty, !isHeading(lines[next]),
                value.isEmpty || value.hasSuffix(",") || value.hasSuffix("&") || value.lowercased().hasSuffix(" and")
            {
                value = LetterText.join([value, lines[next]])
                next += 1
            }
            if !value.isEmpty { return value }
        }

        // Older letters say it in a sentence: "The physician reviewer is Board Certified in
        // Physical Medicine and Rehabilitation and is licensed to practice in California."
        let end = sections.summary ?? sections.issues ?? lines.count
        let prose = LetterText.join(lines[0..<end])
        let sentence = Pattern(
            #"Board[\s-]+Certified\s+in\s+(.+?)(?=\s*(?:;|,\s+(?:has|is|and|who|with|licensed|a|an)\b|\.(?:\s|$)|\s+and\s+(?:is|has|was|holds|in)\b|\s+with\b|,?$))"#
        )
        if let match = sentence.first(in: prose), let value = match[1] {
            let specialty = LetterText.collapse(value)
            return specialty.isEmpty ? nil : specialty
        }
        return nil
    }

    /// An all-capitals line is a section heading, never part of a specialty.
    private static func isHeading(_ line: String) -> Bool {
        line == line.uppercased() && line.contains(where: { $0.isLetter })
            || line.lowercased().hasPrefix("state(s) of licensure")
    }
}
