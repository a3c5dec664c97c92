import Foundation

/// Text clean-up shared by the letter parser: turns the output of any PDF-to-text step into
/// trimmed lines where an empty string is a paragraph break.
enum LetterText {
    /// Splits a letter into trimmed lines.
    ///
    /// Some extractions put an empty line after every line of text and mark paragraph breaks
    /// with a line holding only a space. When most lines of text are followed by an empty line,
    /// the empty lines carry no meaning and are dropped, and the space-only lines become the
    /// paragraph breaks.
    static func lines(of text: String) -> [String] {
        var text = text.replacingOccurrences(of: "\r\n", with: "\n")
        text = text.replacingOccurrences(of: "\r", with: "\n")
        // A page break falls anywhere, also inside a heading: dropping it keeps the paragraph whole.
        text = text.replacingOccurrences(of: "\u{0C}", with: "")
        text = text.replacingOccurrences(of: "\u{00A0}", with: " ")
        text = text.replacingOccurrences(of: "\u{00AD}", with: "")
        let raw = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)

        var textLines = 0
        var followedByEmpty = 0
        for (index, line) in raw.enumerated() where !isBlank(line) {
            textLines += 1
            if index + 1 < raw.count, raw[index + 1].isEmpty { followedByEmpty += 1 }
        }
        let doubleSpaced = textLines >= 4 && Double(followedByEmpty) >= 0.6 * Double(textLines)
        let kept = doubleSpaced ? raw.filter { !$0.isEmpty } : raw
        return kept.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    static func isBlank(_ line: String) -> Bool {
        line.allSatisfy { $0.isWhitespace }
    }

    /// Joins lines of one passage with single spaces. A line ending in a hyphen right after a
    /// character ("non-", "L4-") continues the same word on the next line: the letters are
    /// typed, not hyphenated by a typesetter, so the hyphen is part of the word and is kept.
    static func join<S: Sequence>(_ parts: S) -> String where S.Element == String {
        var out = ""
        for part in parts {
            let piece = collapse(part)
            if piece.isEmpty { continue }
            if out.isEmpty {
                out = piece
            } else if out.hasSuffix("-"), !out.hasSuffix(" -"), !out.hasSuffix("--") {
                out += piece
            } else {
                out += " " + piece
            }
        }
        return out
    }

    /// Collapses every run of whitespace (also redaction gaps and tabs) to one space.
    static func collapse(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// Whether a line ends a sentence, so that the next line starts a new passage.
    static func endsSentence(_ line: String) -> Bool {
        var trimmed = Substring(line)
        while let last = trimmed.last, "\"'”’)]".contains(last) {
            trimmed = trimmed.dropLast()
        }
        guard let last = trimmed.last else { return false }
        return last == "." || last == "?" || last == "!"
    }
}

/// A small case-insensitive regular expression helper over `NSRegularExpression`, which is
/// pure and gives the capture groups as strings.
///
/// `@unchecked Sendable`: an `NSRegularExpression` is immutable once made and documented as
/// safe to use from several threads, so a pattern can be compiled once and shared.
struct Pattern: @unchecked Sendable {
    let expression: NSRegularExpression

    init(_ pattern: String, caseInsensitive: Bool = true) {
        // The patterns are literals of this module: a bad one is a programming error.
        expression = try! NSRegularExpression(
            pattern: pattern,
            options: caseInsensitive ? [.caseInsensitive] : []
        )
    }

    struct Match {
        /// Group 0 is the whole match; a group that did not take part is nil.
        let groups: [String?]
        /// The whole match's offset in UTF-16 units.
        let location: Int
        let length: Int
        subscript(_ index: Int) -> String? { index < groups.count ? groups[index] : nil }
    }

    func first(in text: String) -> Match? {
        all(in: text).first
    }

    func all(in text: String) -> [Match] {
        let ns = text as NSString
        return expression.matches(in: text, range: NSRange(location: 0, length: ns.length)).map { result in
            let groups = (0..<result.numberOfRanges).map { index -> String? in
                let range = result.range(at: index)
                return range.location == NSNotFound ? nil : ns.substring(with: range)
            }
            return Match(groups: groups, location: result.range.location, length: result.range.length)
        }
    }

    func matches(_ text: String) -> Bool { first(in: text) != nil }
}
