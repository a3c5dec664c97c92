import Foundation

/// Disputed texts read through OCR, settled by the letter's other readings of them.
///
/// A letter names each disputed item in its decision heading and, most of the time, again in
/// its summary ("utilization review determined ... was not medically necessary") and its
/// rationale ("the request for ... is"). OCR makes its errors (a speck read as a full stop, an
/// `n` read as `ri`, a lower-case `m` as a capital) in one of those places and rarely in the
/// same word twice, so where the readings differ, word by word, the reading most of them agree
/// on is taken, but for a word the engine read surely (``OCRCleanup/sureConfidence``): the body
/// of a letter is set in a lighter type than its headings, and a fax can misread the same word
/// of it the same way every time ("wecks" three times against the heading's "weeks"). A mark
/// between words that English does not write there (`one.tablet`, `Left'L5-S1`, `14-days`) is
/// taken for a speck even where the letter names the item once.
/// Every change is recorded as a correction and becomes a warning naming the item.
extension OCRCleanup {
    /// A disputed text as its heading was read and as it was taken.
    struct DisputedCorrection: Equatable {
        /// The item's number, from 1.
        var item: Int
        var read: String
        var taken: String
        /// What decided it.
        var basis: Set<Basis>
    }

    enum Basis: Hashable {
        /// Most of the letter's readings of the phrase have it so.
        case otherReadings
        /// A mark English does not write there, taken for a speck.
        case specks
        /// A word the letter has nowhere else, one OCR confusion from a word it uses often.
        case lettersWords
    }

    /// Settles each item's disputed text against the other readings of it in `cleanedText`.
    /// `words`: the engine's words with their confidences; the words of a heading read with
    /// ``sureConfidence`` or more are kept as read.
    static func settleDisputedTexts(
        _ facts: inout LetterFacts,
        cleanedText: String,
        words: WordStream = WordStream([])
    ) -> [DisputedCorrection] {
        let flat = Array(
            LetterText.collapse(cleanedText.replacingOccurrences(of: "\u{0C}", with: " ")).unicodeScalars
        )
        var frequency: [String: Int] = [:]
        var lowered: [String: Int] = [:]
        for token in String(String.UnicodeScalarView(flat)).split(separator: " ") {
            frequency[bare(token), default: 0] += 1
            lowered[bare(token).lowercased(), default: 0] += 1
        }
        let lettersWords = LettersWords(counts: lowered)
        var corrections: [DisputedCorrection] = []
        for index in facts.items.indices {
            let read = facts.items[index].disputed
            guard !read.isEmpty else { continue }
            var basis: Set<Basis> = []
            let cleared = withoutStraySeparators(read)
            if cleared != read { basis.insert(.specks) }
            let ownWords = LetterText.collapse(cleared).split(separator: " ").map(key)
            let sure = surelyRead(ownWords, in: words)
            let voted = vote(cleared, flat: flat, frequency: frequency, sure: sure)
            if voted != cleared { basis.insert(.otherReadings) }
            // A word every occurrence of which in the heading was read surely.
            let sureWords = Set(ownWords.indices.filter { sure[$0] }.map { ownWords[$0] })
                .subtracting(ownWords.indices.filter { !sure[$0] }.map { ownWords[$0] })
            let taken = lettersWords.apply(to: voted, sure: sureWords)
            if taken != voted { basis.insert(.lettersWords) }
            if taken != read {
                facts.items[index].disputed = taken
                corrections.append(DisputedCorrection(item: index + 1, read: read, taken: taken, basis: basis))
            }
        }
        return corrections
    }

    /// Letters OCR takes for others, written as the one they are taken for, so that words
    /// compare as OCR sees them: `rn` and `m`, `ri` and `n`, `li` or `ti` and `h`, `cl` and
    /// `d`, `c` and `e`, `vv` and `w`, `y` and `v`.
    static func asOCRSeesIt(_ word: String) -> String {
        var out = word.lowercased()
        for (from, to) in [
            ("rn", "m"), ("ri", "n"), ("li", "h"), ("ti", "h"), ("cl", "d"), ("vv", "w"), ("c", "e"), ("y", "v"),
        ] {
            out = out.replacingOccurrences(of: from, with: to)
        }
        return out
    }

    /// `text` with each word the letter has nowhere else (four letters or more, no digit)
    /// replaced by the one word the letter uses twice or more that it is, as OCR sees
    /// letters, at most one letter from (`spirie`: `spine`; `sean`: `scan`), a word's plural or
    /// singular excepted. `counts`: the letter's words, lower case, and how often it has them.
    static func withLettersWords(_ text: String, counts: [String: Int]) -> String {
        LettersWords(counts: counts).apply(to: text)
    }

    /// A letter's words as ``withLettersWords(_:counts:)`` uses them, worked out once a letter.
    struct LettersWords {
        let counts: [String: Int]
        /// The words the letter uses twice or more, keyed as OCR sees them.
        let common: [String: String]

        init(counts: [String: Int]) {
            self.counts = counts
            let words = counts.filter { $0.value >= 2 && $0.key.count >= 4 && $0.key.allSatisfy(\.isLetter) }.keys
            common = Dictionary(words.map { (asOCRSeesIt($0), $0) }, uniquingKeysWith: { a, _ in a })
        }

        /// `text` with its words replaced; never one of `sure` (keyed by ``key(_:)``).
        func apply(to text: String, sure: Set<String> = []) -> String {
            let words = text.split(separator: " ", omittingEmptySubsequences: false).map { token -> String in
                let word = bare(token)
                let lower = word.lowercased()
                guard word.count >= 4, word.allSatisfy(\.isLetter), (counts[lower] ?? 0) <= 1, !sure.contains(lower)
                else {
                    return String(token)
                }
                let key = asOCRSeesIt(word)
                let near = Set(
                    common.filter { candidate, original in
                        original != lower && !isInflection(original, of: lower) && editDistance(key, candidate) <= 1
                    }.values
                )
                guard near.count == 1, let found = near.first else { return String(token) }
                let cased = word.first?.isUppercase == true ? found.prefix(1).uppercased() + found.dropFirst() : found
                return String(token).replacingOccurrences(of: word, with: cased)
            }
            return words.joined(separator: " ")
        }
    }

    /// For each of a heading's words (keyed by ``key(_:)``), whether the engine read it with
    /// ``sureConfidence`` or more where it read them in a row (``WordStream/bestRun(of:)``).
    /// All false when they never occur as they are (cleaning split or joined one).
    static func surelyRead(_ tokens: [String], in words: WordStream) -> [Bool] {
        // Marks alone ("-", "&") have no key and no place in the stream.
        let keyed = tokens.indices.filter { !tokens[$0].isEmpty }
        var sure = Array(repeating: false, count: tokens.count)
        guard let run = words.bestRun(of: keyed.map { tokens[$0] }) else { return sure }
        for (word, index) in zip(run, keyed) { sure[index] = word.confidence >= sureConfidence }
        return sure
    }

    /// Whether one word is the other with a plural's or a verb's ending.
    static func isInflection(_ a: String, of b: String) -> Bool {
        let (short, long) = a.count < b.count ? (a, b) : (b, a)
        return ["s", "es", "ed", "d", "ing", "al"].contains { long == short + $0 }
    }

    /// The reading of `read` that the letter's readings of it agree on most, word by word; a
    /// word `sure` marks (one flag a word of `read`, split at its spaces) stays as read.
    static func vote(
        _ read: String,
        flat: [Unicode.Scalar],
        frequency: [String: Int],
        sure: [Bool] = []
    ) -> String {
        let pattern = Array(LetterText.collapse(read).unicodeScalars)
        let words = wordSpans(pattern)
        guard !words.isEmpty, pattern.count >= 6 else { return read }
        let own = words.map { String(String.UnicodeScalarView(pattern[$0])) }
        let kept = sure.count == own.count ? sure : Array(repeating: false, count: own.count)
        var readings: [[String]] = []
        for span in approximateOccurrences(of: pattern, in: flat, within: max(2, pattern.count / 8)) {
            // The letters write a word in capitals in a heading and in lower case in a sentence:
            // letter case alone is no difference.
            let variants = zip(own, align(pattern, words: words, with: Array(flat[span]))).map { word, variant in
                inCaseOf(word, withoutStraySeparators(variant))
            }
            // Another phrase (a different item, "for 3 weeks (6)") is not a reading of this one.
            // A word read surely is not voted on: its other readings differing in letters
            // ("wocks" for "weeks") say nothing against the phrase, a different number does.
            let differing = zip(own.indices, zip(own, variants)).filter { $1.0 != $1.1 }
            guard differing.count <= (own.count >= 4 ? max(2, own.count / 3) : 1),
                differing.allSatisfy({ index, pair in
                    confusable(pair) || kept[index] && pair.0.filter(\.isNumber) == pair.1.filter(\.isNumber)
                })
            else { continue }
            readings.append(variants)
        }
        // The heading's own reading is one of them (found above unless cleaning moved it).
        if !readings.contains(own) { readings.append(own) }
        guard readings.count > 1 else { return read }
        var result: [String] = []
        for (position, word) in own.enumerated() {
            if kept[position] {
                result.append(word)
                continue
            }
            var votes: [String: Int] = [:]
            for reading in readings { votes[reading[position], default: 0] += 1 }
            func rank(_ variant: String) -> (Int, Int, Int, Int) {
                // How often the letter has the word elsewhere (a word split in two counts nothing).
                let seen = variant.contains(" ") ? 0 : frequency[bare(variant)] ?? 0
                let marks = variant.unicodeScalars.filter(CharacterSet.punctuationCharacters.contains).count
                return (votes[variant] ?? 0, -strayMarks(variant), -marks, seen)
            }
            var best = word
            for variant in votes.keys.sorted() where rank(variant) > rank(best) { best = variant }
            if !best.isEmpty { result.append(best) }
        }
        return result == own ? read : result.joined(separator: " ")
    }

    /// `variant` in the letter case of `word` where their letters are the same but for case
    /// (a heading writes "Physical", a sentence "physical."): case alone is no difference.
    static func inCaseOf(_ word: String, _ variant: String) -> String {
        let letters = word.filter(\.isLetter)
        guard variant.filter(\.isLetter).lowercased() == letters.lowercased() else { return variant }
        if variant.lowercased() == word.lowercased() { return word }
        var cased = letters.makeIterator()
        return String(variant.map { $0.isLetter ? (cased.next() ?? $0) : $0 })
    }

    /// A word without the marks around it, as the letter-wide word counts key it.
    static func bare(_ word: some StringProtocol) -> String {
        word.trimmingCharacters(in: .punctuationCharacters.union(.symbols))
    }

    /// Whether `other` is how OCR might have read `word` (or the other way round): the same
    /// letters and digits but for a letter or two, in letter case or in marks and spaces; never
    /// a different number.
    static func confusable(_ pair: (word: String, other: String)) -> Bool {
        func letters(_ text: String) -> String {
            String(
                String.UnicodeScalarView(text.lowercased().unicodeScalars.filter(CharacterSet.alphanumerics.contains))
            )
        }
        // l, I and O for 1 and 0, as OCR confuses them.
        func digitsFor(_ text: String) -> String {
            String(text.map { "li|".contains($0) ? "1" : $0 == "o" ? "0" : $0 })
        }
        let (a, b) = (letters(pair.word), letters(pair.other))
        // A speck read as a letter or two (or as a round 0), or not read at all.
        if a.isEmpty || b.isEmpty {
            return max(a.count, b.count) <= 2 && !(a + b).contains(where: \.isNumber) || a + b == "0"
        }
        guard
            a.filter(\.isNumber) == b.filter(\.isNumber)
                || digitsFor(a).filter(\.isNumber) == digitsFor(b).filter(\.isNumber)
        else {
            return false
        }
        let distance = editDistance(a, b)
        // A letter in a short word, two in a long one.
        return distance == 0
            || distance <= (min(a.count, b.count) >= 8 ? 2 : 1) && distance * 3 <= min(a.count, b.count)
    }

    /// Marks OCR puts between words where English writes none: a full stop or comma joining
    /// two words, a quote before a capital or a digit, a hyphen between a number and a plural
    /// unit ("14-days": the compound would be "14-day").
    static let strayMarkPatterns = [
        Pattern(#"[A-Za-z]{2,}[.,;][A-Za-z]"#, caseInsensitive: false),
        Pattern(#"[a-z]['‘’`][A-Z0-9]"#, caseInsensitive: false),
        Pattern(#"\d-(?:days|weeks|months|years|hours|visits|sessions|times|treatments)\b"#),
        Pattern(#"\d, [a-z]"#, caseInsensitive: false),
        Pattern(#"^\d+[,.]$"#, caseInsensitive: false),
        Pattern(#"^[_'‘’`.,:;|~°]|[_‘’`|~°]$"#, caseInsensitive: false),
    ]

    static func strayMarks(_ text: String) -> Int {
        strayMarkPatterns.reduce(0) { $0 + $1.all(in: text).count }
    }

    /// `text` with the marks that can only be specks taken out, where no other reading decided:
    /// a full stop between two words of which the first has three letters or more and the
    /// second starts a word (`b.i.d.` and `q.d.` keep theirs), a quote between a lower-case
    /// letter and a capital or a digit or after a word's last letter, I or l for 1 before a unit
    /// ("Icc") and S for 5, `]` for the I ending a word in capitals, "me" for "mg" after a dose, a
    /// letter between a dose's unit and its slash ("300mgj/g"),
    /// a hyphen between a number and a plural unit or between a word and its dose, a space
    /// after a slash between digits, a cent sign, a mark or specks before the first word.
    static func withoutStraySeparators(_ text: String) -> String {
        straySeparators.reduce(text) { text, fix in fix.pattern.replace(in: text, with: fix.template) }
    }

    static let straySeparators: [(pattern: Pattern, template: String)] = [
        (Pattern(#"\b([a-z]{3,})\.([a-z]{2,})\b"#, caseInsensitive: false), "$1 $2"),
        (Pattern(#"\b([A-Za-z][a-z]{2,})\.([A-Z0-9])"#, caseInsensitive: false), "$1 $2"),
        (Pattern(#"([a-z])['‘’`]([A-Z0-9])"#, caseInsensitive: false), "$1 $2"),
        (Pattern(#"(\d)-(days|weeks|months|years|hours|visits|sessions|treatments)\b"#), "$1 $2"),
        // A quote after a word's last letter (not a plural's "s'").
        (Pattern(#"(?<=[a-rt-z0-9])['‘’`](?=\s|$)"#, caseInsensitive: false), ""),
        // I, l, i, [, { or ! for 1 before a unit: "Icc", "Ipercent", "[percent".
        (
            Pattern(
                #"(?<![A-Za-z0-9])[Iil|!\[\]{}](?=(?:cc|mg|mcg|ml|g|percent|%)(?![A-Za-z0-9]))"#,
                caseInsensitive: false
            ),
            "1"
        ),
        // A quote joining a word to the next.
        (Pattern(#"([a-z0-9])['‘’`]([a-z]{3,})"#, caseInsensitive: false), "$1 $2"),
        // S for 5 before a unit ("Smg"), and in a spinal level ("LS-S1", "L4-LS").
        (Pattern(#"(?<![A-Za-z0-9])S(?=(?:mg|mcg|ml|cc)(?![A-Za-z0-9]))"#, caseInsensitive: false), "5"),
        (Pattern(#"(?<![A-Za-z0-9])[sS](?=/\d)"#, caseInsensitive: false), "5"),
        (Pattern(#"\b([CTL])S(?=-[CTLS]\d)"#, caseInsensitive: false), "$15"),
        (Pattern(#"(?<=[CTLS]\d-)([CTL])S\b"#, caseInsensitive: false), "$15"),
        (Pattern(#"(?<=[CTLS]\d-S)[Il|]\b"#, caseInsensitive: false), "1"),
        // A fragment repeating the start of the next word ("se sessions"), not a short word.
        (Pattern(#"\b(?!(?:a|an|as|at|by|in|is|of|on|or|to|up|and|for|the|per)\b)([a-z]{1,3}) (?=\1[a-z]{2,})"#), ""),
        // ] or | for the I ending a word in capitals ("MR]"), "me" for the "mg" after a dose,
        // a hyphen joining a word to its dose ("Cyclobenzaprine-5mg").
        (Pattern(#"\b([A-Z]{2,})[\]|](?![A-Za-z0-9])"#, caseInsensitive: false), "$1I"),
        (Pattern(#"(?<=\d)me(?=[/\s#,.]|$)"#, caseInsensitive: false), "mg"),
        // A letter between a dose's unit and the slash of its denominator ("300mgj/g").
        (Pattern(#"(?<=\d)(mg|mcg|ml)[a-z](?=/[a-z])"#, caseInsensitive: false), "$1"),
        (Pattern(#"([a-z])-(\d+(?:\.\d+)?(?:mg|mcg|ml|cc|g)\b)"#, caseInsensitive: false), "$1 $2"),
        // Specks read as short lower-case words before the first word ("i aii Physical therapy").
        (Pattern(#"^(?:[a-z]{1,3}\s+)+(?=[A-Z])"#, caseInsensitive: false), ""),
        // "11/ 14/16", "5/ 325mg".
        (Pattern(#"(\d)/ (\d)"#), "$1/$2"),
        // The letters have no cent sign: a "c" at a word's start, else a speck.
        (Pattern(#"(?<![A-Za-z])¢(?=[a-z])"#, caseInsensitive: false), "c"),
        (Pattern(#"¢"#), ""),
        // A mark before the first word.
        (Pattern(#"^[-–—'"‘’“”.,:;_~|°*]+\s*"#), ""),
    ]

    /// The ranges of the words (runs without a space) of `text`.
    static func wordSpans(_ text: [Unicode.Scalar]) -> [Range<Int>] {
        var spans: [Range<Int>] = []
        var start: Int?
        for (index, scalar) in text.enumerated() {
            if scalar == " " {
                if let s = start { spans.append(s..<index) }
                start = nil
            } else if start == nil {
                start = index
            }
        }
        if let s = start { spans.append(s..<text.count) }
        return spans
    }

    /// Where `pattern` occurs in `text` with at most `limit` edits (Sellers' algorithm): the
    /// best-matching span of each place, left to right.
    static func approximateOccurrences(
        of pattern: [Unicode.Scalar],
        in text: [Unicode.Scalar],
        within limit: Int
    ) -> [Range<Int>] {
        let m = pattern.count
        guard m > 0, !text.isEmpty else { return [] }
        var column = Array(0...m)
        // Runs of end positions within the limit: each run is one place; its best end is kept.
        var places: [(end: Int, distance: Int)] = []
        var lastEnd: Int?
        for j in text.indices {
            var diagonal = column[0]
            column[0] = 0
            for i in 1...m {
                let above = column[i]
                column[i] = min(above + 1, column[i - 1] + 1, diagonal + (pattern[i - 1] == text[j] ? 0 : 1))
                diagonal = above
            }
            guard column[m] <= limit else { continue }
            if let lastEnd, j - lastEnd <= limit, let last = places.last {
                if column[m] < last.distance { places[places.count - 1] = (j + 1, column[m]) }
            } else {
                places.append((j + 1, column[m]))
            }
            lastEnd = j
        }
        return places.map { place in
            // The start: the same alignment run backwards from the end, its start free.
            let window = text[max(0, place.end - m - limit)..<place.end].reversed().map { $0 }
            let reversed = Array(pattern.reversed())
            var column = Array(0...m)
            var best = (distance: Int.max, length: 0)
            for j in window.indices {
                var diagonal = column[0]
                column[0] = 0
                for i in 1...m {
                    let above = column[i]
                    column[i] = min(
                        above + 1,
                        column[i - 1] + 1,
                        diagonal + (reversed[i - 1] == window[j] ? 0 : 1)
                    )
                    diagonal = above
                }
                if column[m] <= best.distance { best = (column[m], j + 1) }
            }
            return (place.end - best.length)..<place.end
        }
    }

    /// How `other` reads each word of `pattern`: the part of `other` a least-edit alignment
    /// puts against the word, trimmed (quotes at either end of the phrase dropped).
    static func align(_ pattern: [Unicode.Scalar], words: [Range<Int>], with other: [Unicode.Scalar]) -> [String] {
        let (m, n) = (pattern.count, other.count)
        var cost = Array(repeating: Array(repeating: 0, count: n + 1), count: m + 1)
        for i in 0...m { cost[i][0] = i }
        for j in 0...n { cost[0][j] = j }
        if m > 0, n > 0 {
            for i in 1...m {
                for j in 1...n {
                    cost[i][j] = min(
                        cost[i - 1][j] + 1,
                        cost[i][j - 1] + 1,
                        cost[i - 1][j - 1] + (pattern[i - 1] == other[j - 1] ? 0 : 1)
                    )
                }
            }
        }
        // For each boundary i of the pattern, the first and last place of `other` the path
        // passes at it.
        var first = Array(repeating: n, count: m + 1)
        var last = Array(repeating: 0, count: m + 1)
        var (i, j) = (m, n)
        first[m] = n
        last[m] = n
        while i > 0 || j > 0 {
            if i > 0, j > 0, cost[i][j] == cost[i - 1][j - 1] + (pattern[i - 1] == other[j - 1] ? 0 : 1) {
                i -= 1
                j -= 1
            } else if i > 0, cost[i][j] == cost[i - 1][j] + 1 {
                i -= 1
            } else {
                j -= 1
            }
            first[i] = min(first[i], j)
            last[i] = max(last[i], j)
        }
        let quotes = CharacterSet(charactersIn: "\"'“”‘’")
        return words.enumerated().map { index, span in
            let from = first[span.lowerBound]
            let to = max(from, last[span.upperBound])
            var text = String(String.UnicodeScalarView(other[from..<to])).trimmingCharacters(in: .whitespaces)
            let word = String(String.UnicodeScalarView(pattern[span]))
            if index == 0, let s = text.unicodeScalars.first, quotes.contains(s),
                word.unicodeScalars.first.map({ !quotes.contains($0) }) ?? true
            {
                text = String(text.dropFirst()).trimmingCharacters(in: .whitespaces)
            }
            if index == words.count - 1, let s = text.unicodeScalars.last,
                quotes.contains(s) || ":.,".unicodeScalars.contains(s),
                word.unicodeScalars.last.map({ !quotes.contains($0) && !":.,".unicodeScalars.contains($0) }) ?? true
            {
                text = String(text.dropLast()).trimmingCharacters(in: .whitespaces)
            }
            return text
        }
    }
}
