import Foundation

/// Reads the "IMR ISSUES, DECISIONS AND RATIONALES" section: one item per heading ending in
/// ": Upheld" or ": Overturned", each followed by its guideline and rationale blocks.
struct ItemReader {
    let lines: [String]
    let sections: Sections

    struct Result {
        var items: [LetterItem]
        /// The first line of the first heading, where the header block ends at the latest.
        var firstHeadingLine: Int
    }

    /// Where a decision word was found.
    private struct Marker {
        let decision: IMRItemDecision
        /// The line holding the decision word.
        let line: Int
        /// The last line of the heading text: `line` itself, or the line before a decision word
        /// that was wrapped onto a line of its own.
        let lastHeadingLine: Int
        /// The heading text on `lastHeadingLine`, without the colon and the decision.
        let tail: String
    }

    private static let inlineDecision = Pattern(#"^(.*):\s*(Upheld|Overturned)\s*\.?$"#)
    private static let decisionAlone = Pattern(#"^(Upheld|Overturned)\s*\.?$"#)
    private static let originalRequestPhrase = Pattern(#"was\s+the\s+original\s+request"#)
    private static let rationaleLabel = Pattern(#"^Decision\s+rationale\s*:\s*(.*)$"#)
    private static let claimsAdministratorLabel = Pattern(#"^Claims\s+Administrator\s+guideline\s*:\s*(.*)$"#)
    // The IMRO names itself in capitals ("MAXIMUS guideline:"); a heading such as "Acupuncture
    // per ODG guideline: Upheld" must not read as a label.
    private static let imroLabel = Pattern(
        #"^[A-Z][A-Z0-9&.\- ]{1,40}\s+guideline\s*:\s*(.*)$"#,
        caseInsensitive: false
    )
    private static let sentenceBoundary = Pattern(#"(?<=[.!?])["”')]*\s+(?=["“(]?[A-Z0-9])"#, caseInsensitive: false)

    private enum BodyLabel {
        case claimsAdministratorGuideline, imroGuideline, rationale
    }

    func read(warnings: inout [String]) -> Result {
        let start = regionStart(warnings: &warnings)
        let markers = findMarkers(from: start)
        guard !markers.isEmpty else { return Result(items: [], firstHeadingLine: lines.count) }

        let starts = markers.indices.map { index in
            headingStart(
                of: markers[index],
                floor: index == 0 ? start : markers[index - 1].line + 1
            )
        }

        var items: [LetterItem] = []
        for (index, marker) in markers.enumerated() {
            let headingLines = Array(lines[starts[index]..<marker.lastHeadingLine]) + [marker.tail]
            let heading = LetterText.join(headingLines)
            let number = index + 1
            var item = Self.item(from: heading, decision: marker.decision, number: number, warnings: &warnings)
            if item.disputed.isEmpty {
                warnings.append("Item \(number) has a decision but no readable heading text.")
            }
            // A rationale that ends without a full stop would run into the next heading.
            if item.disputed.count > 200 || item.disputed.lowercased().contains("medically necessary") {
                warnings.append(
                    "The disputed text of item \(number) is unusually long or reads like a rationale; check where its heading starts: \"\(item.disputed)\"."
                )
            }

            let bodyEnd = index + 1 < markers.count ? starts[index + 1] : lines.count
            let body = marker.line + 1 < bodyEnd ? Array(lines[(marker.line + 1)..<bodyEnd]) : []
            readBody(body, into: &item, number: number, warnings: &warnings)
            items.append(item)
        }
        return Result(items: items, firstHeadingLine: starts[0])
    }

    /// The first line after "... set forth below:", or the whole text when the letter lacks
    /// the section heading.
    private func regionStart(warnings: inout [String]) -> Int {
        guard let issues = sections.issues else {
            warnings.append(
                "The letter has no \"IMR ISSUES, DECISIONS AND RATIONALES\" heading; decision headings were looked for in the whole text."
            )
            return 0
        }
        let window = (issues + 1)..<min(lines.count, issues + 6)
        // "The Final Determination was based on decisions for the disputed items/services set
        // forth below:" may wrap; its colon ends it.
        if let below = window.first(where: {
            let line = lines[$0].lowercased()
            return line.contains("set forth below") || line.hasSuffix("below:")
        }) {
            return below + 1
        }
        return issues + 1
    }

    private func findMarkers(from start: Int) -> [Marker] {
        var markers: [Marker] = []
        var index = start
        while index < lines.count {
            let line = lines[index]
            if let match = Self.inlineDecision.first(in: line), let word = match[2], Self.bodyLabel(line) == nil {
                markers.append(
                    Marker(
                        decision: Self.decision(word),
                        line: index,
                        lastHeadingLine: index,
                        tail: match[1] ?? ""
                    )
                )
            } else if let match = Self.decisionAlone.first(in: line), let word = match[1],
                let previous = (start..<index).last(where: { !lines[$0].isEmpty }),
                previous > (markers.last?.line ?? start - 1), lines[previous].hasSuffix(":"),
                Self.bodyLabel(lines[previous]) == nil
            {
                // The decision word wrapped onto a line of its own.
                markers.append(
                    Marker(
                        decision: Self.decision(word),
                        line: index,
                        lastHeadingLine: previous,
                        tail: String(lines[previous].dropLast())
                    )
                )
            }
            index += 1
        }
        return markers
    }

    private static func decision(_ word: String) -> IMRItemDecision {
        word.lowercased() == "overturned" ? .overturned : .upheld
    }

    /// The first line of a heading. A heading starts a paragraph: the line after a blank line
    /// or after a line that ends a sentence (the previous rationale). Partial-certification
    /// headings hold sentences of their own, so for them the paragraph that says "... was the
    /// original request." is where the heading starts.
    private func headingStart(of marker: Marker, floor lowest: Int) -> Int {
        var floor = lowest
        for index in lowest..<marker.lastHeadingLine where Self.bodyLabel(lines[index]) != nil {
            floor = index + 1
        }
        func paragraphStart(from line: Int) -> Int {
            var start = line
            while start > floor, !lines[start - 1].isEmpty, !LetterText.endsSentence(lines[start - 1]) {
                start -= 1
            }
            return start
        }

        var start = paragraphStart(from: marker.lastHeadingLine)
        let candidate = LetterText.join(Array(lines[start..<marker.lastHeadingLine]) + [marker.tail]).lowercased()
        if candidate.contains("original request") || candidate.contains("eligible")
            || candidate.contains("authorized")
        {
            let window = lines[floor...marker.lastHeadingLine].joined(separator: "\n")
            if let phrase = Self.originalRequestPhrase.all(in: window).last {
                let before = (window as NSString).substring(to: phrase.location)
                let line = floor + before.filter { $0 == "\n" }.count
                start = min(start, paragraphStart(from: line))
            }
        }
        return start
    }

    private static func bodyLabel(_ line: String) -> (BodyLabel, String)? {
        if let match = rationaleLabel.first(in: line) {
            return (.rationale, match[1] ?? "")
        }
        if let match = claimsAdministratorLabel.first(in: line) {
            return (.claimsAdministratorGuideline, match[1] ?? "")
        }
        if let match = imroLabel.first(in: line) {
            return (.imroGuideline, match[1] ?? "")
        }
        return nil
    }

    // MARK: Heading

    static func item(
        from heading: String,
        decision: IMRItemDecision,
        number: Int,
        warnings: inout [String]
    ) -> LetterItem {
        // "X was the original request. Y was authorized by the Claims Administrator. The
        // remaining IMR eligible portion of the original request, Z is"
        let remaining = Pattern(
            #"^(.+?)\s+was\s+the\s+original\s+request\.\s*(.+?)\s+was\s+authorized\s+by\s+the\s+Claims\s+Administrator\.\s*The\s+remaining\s+IMR\s+eligible\s+portion\s+of\s+the\s+original\s+request\s*,?\s*(.+?)(?:\s+is)?$"#
        )
        if let match = remaining.first(in: heading) {
            return LetterItem(
                disputed: match[3] ?? "",
                decision: decision,
                originalRequest: match[1],
                authorizedPortion: match[2]
            )
        }
        // "X was the original request. The Claims Administrator authorized Y, leaving the
        // original request IMR eligible. The original request, X is"
        let leaving = Pattern(
            #"^(.+?)\s+was\s+the\s+original\s+request\.\s*The\s+Claims\s+Administrator\s+authorized\s+(.+?),?\s+leaving\s+the\s+original\s+request\s+IMR\s+eligible\.\s*The\s+original\s+request\s*,?\s*(.+?)(?:\s+is)?$"#
        )
        if let match = leaving.first(in: heading) {
            return LetterItem(
                disputed: match[3] ?? "",
                decision: decision,
                originalRequest: match[1],
                authorizedPortion: match[2]
            )
        }
        if heading.lowercased().contains("original request") {
            // A partial heading of a shape not seen before: keep what can be told apart.
            let original = Pattern(#"^(.+?)\s+was\s+the\s+original\s+request\b"#).first(in: heading)?[1]
            var disputed = heading
            if let last = heading.range(of: "original request,", options: [.caseInsensitive, .backwards]) {
                disputed = String(heading[last.upperBound...]).trimmingCharacters(in: .whitespaces)
                if disputed.hasSuffix(" is") { disputed = String(disputed.dropLast(3)) }
            }
            warnings.append(
                "Item \(number) has a partial-certification heading of an unfamiliar shape; check the disputed text \"\(disputed)\" against the letter."
            )
            return LetterItem(disputed: disputed, decision: decision, originalRequest: original)
        }
        return LetterItem(disputed: heading, decision: decision)
    }

    // MARK: Body

    private func readBody(_ body: [String], into item: inout LetterItem, number: Int, warnings: inout [String]) {
        var blocks: [BodyLabel: [String]] = [:]
        var current: BodyLabel?
        for line in body {
            if let (label, rest) = Self.bodyLabel(line) {
                current = label
                blocks[label, default: []].append(rest)
            } else if let current {
                blocks[current, default: []].append(line)
            }
        }
        func text(_ label: BodyLabel) -> String? {
            guard let parts = blocks[label] else { return nil }
            let joined = LetterText.join(parts)
            return joined.isEmpty ? nil : joined
        }
        item.claimsAdministratorGuideline = text(.claimsAdministratorGuideline)
        item.guideline = text(.imroGuideline)
        if item.guideline == nil {
            warnings.append("Item \(number) (\(item.disputed)) has no IMRO guideline line.")
        }
        if let rationale = text(.rationale) {
            item.rationale = Self.summary(of: rationale)
        } else {
            warnings.append("Item \(number) (\(item.disputed)) has no decision rationale.")
        }
    }

    /// The sentence that states the conclusion ("... is not medically necessary."), else the
    /// first sentence; long sentences are cut at a word.
    static func summary(of rationale: String) -> String {
        let boundaries = sentenceBoundary.all(in: rationale)
        let ns = rationale as NSString
        var sentences: [String] = []
        var from = 0
        for boundary in boundaries {
            sentences.append(ns.substring(with: NSRange(location: from, length: boundary.location - from)))
            from = boundary.location
        }
        sentences.append(ns.substring(from: from))
        sentences = sentences.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }

        let conclusive = [
            "medically necessary", "medically appropriate", "not necessary", "non-certif", "recommendation is",
        ]
        var chosen =
            sentences.last { sentence in
                conclusive.contains { sentence.lowercased().contains($0) }
            } ?? sentences.first ?? rationale
        if chosen.count > 300 {
            let cut = chosen.prefix(300)
            chosen = (cut.lastIndex(of: " ").map { String(cut[..<$0]) } ?? String(cut)) + " …"
        }
        return chosen
    }
}
