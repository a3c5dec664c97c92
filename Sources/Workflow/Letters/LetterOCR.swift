import Foundation

/// How a letter was read through OCR. Carried with its facts (``LetterFacts/ocr``), so that
/// the event metadata and `imr-ctl show` say which facts came from OCR and how sure the
/// engine was of them.
public struct LetterOCR: Codable, Sendable, Equatable {
    /// The engine, e.g. "tesseract 5.3.0".
    public var engine: String
    /// The pages read through OCR, from 1 (a PDF's pages with a text layer are read from it).
    public var pages: [Int]
    /// The engine's mean word confidence over those pages, 0 to 100; nil when it gives none.
    public var confidence: Double?
    /// Per fact read through OCR, the lowest confidence of its words (0 to 100): keys
    /// `caseNumber`, `dateAssigned`, `dateOfInjury`, `decisionDate`, `urDenialDate`,
    /// `applicationReceived`, `priority`, `reviewerSpecialty`, `item1.disputed`, `item1.decision`...
    public var fieldConfidence: [String: Double]

    public init(engine: String, pages: [Int], confidence: Double?, fieldConfidence: [String: Double] = [:]) {
        self.engine = engine
        self.pages = pages
        self.confidence = confidence
        self.fieldConfidence = fieldConfidence
    }
}

/// One word as an OCR engine read it.
public struct OCRWord: Sendable, Equatable {
    public var text: String
    /// 0 to 100.
    public var confidence: Double

    public init(text: String, confidence: Double) {
        self.text = text
        self.confidence = confidence
    }
}

/// The text of a letter that was read, wholly or in part, through OCR.
public struct OCRReading: Sendable, Equatable {
    /// The letter's text, pages separated by form feeds.
    public var text: String
    public var engine: String
    /// The pages read through OCR, from 1.
    public var pages: [Int]
    /// Every word of those pages with the engine's confidence.
    public var words: [OCRWord]
    /// A second, independent reading of page 1's header (another resolution and page
    /// segmentation), when page 1 went through OCR: a header fact the first reading missed is
    /// taken from it, one both readings agree on needs no confidence warning, and one they
    /// disagree on is a warning.
    public var header: String?

    public init(text: String, engine: String, pages: [Int], words: [OCRWord], header: String? = nil) {
        self.text = text
        self.engine = engine
        self.pages = pages
        self.words = words
        self.header = header
    }
}

extension LetterParser {
    /// Below this word confidence (0 to 100) a fact read through OCR gets a warning.
    public static let ocrConfidenceFloor = 80.0
    /// Below this confidence a header fact gets a warning even when both readings of the header
    /// agree on it.
    public static let ocrConfirmedFloor = 50.0

    /// Parses a letter read through OCR.
    ///
    /// The text is cleaned of what OCR does to the letters first (stray marks of table rules
    /// and specks, broken decision lines, letters for digits in the case number and the
    /// dates); every correction of a fact is a warning naming the fact, and so is every fact
    /// whose words the engine read with a confidence below ``ocrConfidenceFloor`` (95 for a
    /// disputed text the letter does not repeat), a disputed text the letter repeats with a
    /// word read otherwise, a specialty word no specialty has, a fact with the marks of an OCR
    /// error, a date that does not exist, dates out of their order, and a decision the letter
    /// seems to have but that could not be read. With ``OCRReading/header``, a header fact the
    /// first reading missed is taken from the second with a warning, and the two readings
    /// disagreeing is a warning. Nothing is guessed: a case number or date that does not take a
    /// known shape after the corrections is left out, as for a text letter.
    public static func parse(_ reading: OCRReading) throws -> LetterFacts {
        var corrections = OCRCleanup.Corrections()
        let cleaned = OCRCleanup.clean(reading.text, corrections: &corrections)
        var facts = try parse(cleaned)
        if let number = facts.caseNumber, IMRCaseNumber(number) == nil {
            // OCR added or lost a digit: CM, two digits, a hyphen and seven digits, or nothing.
            facts.warnings.append(
                "OCR read the Case Number as \"\(number)\", which is not an IMR case number (CM, two digits, a hyphen, seven digits); it was left out. Check it against the letter."
            )
            facts.caseNumber = nil
        }
        OCRCleanup.correctSpecialty(&facts)
        let words = OCRCleanup.WordStream(reading.words)
        corrections.disputed = OCRCleanup.settleDisputedTexts(&facts, cleanedText: cleaned, words: words)
        var confirmed: Set<String> = []
        if let header = reading.header {
            confirmed = OCRCleanup.secondReading(header, into: &facts)
        }
        OCRCleanup.review(
            &facts,
            reading: reading,
            words: words,
            corrections: corrections,
            cleanedText: cleaned,
            confirmed: confirmed
        )
        return facts
    }
}

/// The OCR-specific clean-up and checks of `LetterParser.parse(_:)` for an ``OCRReading``. Pure.
enum OCRCleanup {
    struct Corrections {
        /// A case number as read and as corrected.
        var caseNumbers: [(read: String, taken: String)] = []
        /// Dates (MM/DD/YYYY) as read and as corrected.
        var dates: [(read: String, taken: String)] = []
        /// Decision words as read and the vocabulary word they were taken as.
        var decisions: [(read: String, taken: String, heading: String)] = []
        /// Priority values as read and the word of the vocabulary taken.
        var priorities: [(read: String, taken: String)] = []
        /// Header dates with a one-digit month or day: a digit was lost; left out.
        var lostDigits: [String] = []
        /// Labels OCR lost that were put back before a value of their unmistakable shape.
        var labelsAdded: [String] = []
        /// Disputed texts settled by the letter's other readings of them or cleared of specks.
        var disputed: [DisputedCorrection] = []
    }

    /// Confusions of letters for digits in a place that holds only digits.
    static func digits(_ text: String) -> String? {
        var out = ""
        for character in text {
            switch character {
            case "0"..."9": out.append(character)
            case "O", "o", "Q", "D": out.append("0")
            case "l", "I", "i", "|", "!", "L", "]", "[": out.append("1")
            case "S", "s": out.append("5")
            case "B": out.append("8")
            case "Z", "z": out.append("2")
            case "g": out.append("9")
            default: return nil
            }
        }
        return out
    }

    // Any mark before a line's first letter or digit but an opening parenthesis, quote, # or $.
    private static let leadingJunk = Pattern(##"^[^\p{L}\p{N}(\"#$\s][^\p{L}\p{N}(\"#$]*(?=\S)"##)
    // A speck after the end of a line, also one read as a full stop (a sentence's own full
    // stop follows its word without a space), or as a sign the letters do not use ("©").
    private static let trailingJunk = Pattern(#"(?:\s+[‘’'`_—–*•·,;|~=+»«„.:°"©®]+)+$"#)
    // A mark standing alone between two words that the letters never set apart ("The » original
    // request"). Dashes and "&" stand alone in the letters; ":;.," are left to the decision fixes.
    private static let loneMark = Pattern(#"(?<=\S)\s+[‘’'`_*•·|~=+»«„°"“”^¦]+(?=\s+\S)"#)
    // A quote mark at the front of a word with no other quote mark on the line: a speck.
    private static let loneQuote = Pattern(#"(?<=\s)'(?=[A-Za-z])"#)
    // After the decision: specks, or a letter or digit or two of them.
    private static let afterDecision = #"(?:[^A-Za-z0-9]*|(?:\s+[^\s]{1,2}){1,3}[^A-Za-z0-9]*)$"#
    private static let decisionLine = Pattern(
        #"^(.*?\S)\s*[:;.,]+[\s:;.,‘’'`_—–*•·|~-]*(Upheld|Overturned)\b"# + afterDecision
    )
    private static let decisionAloneLine = Pattern(#"^[:;.,\s]*(Upheld|Overturned)\b"# + afterDecision)
    private static let fuzzyDecisionAlone = Pattern(#"^[:;.,\s]*([A-Za-z01|!]{5,11})"# + afterDecision)
    private static let fuzzyDecisionLine = Pattern(
        #"^(.*?\S)\s*[:;.,]+[\s:;.,‘’'`_—–*•·|~-]*([A-Za-z01|!]{5,11})"# + afterDecision
    )
    // A speck stuck to the front of a word: "-Orthopedic".
    private static let speckOnWord = Pattern(#"(?<=\s)[-_~]+(?=[A-Z])"#, caseInsensitive: false)
    private static let bodyLabels: [(Pattern, String)] = [
        (Pattern(#"^Claims\W{0,3}Administrator\W{0,3}guideline\s*[:;.,]?\s*"#), "Claims Administrator guideline: "),
        (Pattern(#"^Decision\W{0,3}rationale\s*[:;.,]?\s*"#), "Decision rationale: "),
        (Pattern(#"^MAXIMUS\W{0,3}guideline\s*[:;.,]?\s*"#), "MAXIMUS guideline: "),
        (Pattern(#"^C\w{4,15}\W{0,3}\w{0,2}\W{0,3}Specialt(?:y|ies)\w*\s*[:;.,]?\s*"#), "Certification(s)/Specialty: "),
    ]
    private static let headerLabels: [(Pattern, String)] = [
        (Pattern(#"\bCase\W{0,2}\s*(?:Number|No\b\.?)\s*[:;.,]?"#), "Case Number:"),
        (Pattern(#"\bDate\W{0,2}\s*Assigned\s*[:;.,]?"#), "Date Assigned:"),
        (Pattern(#"\bDate\W{0,2}\s*of\W{0,2}\s*Injury\s*[:;.,]?"#), "Date of Injury:"),
        (Pattern(#"\bDecision\W{0,2}\s*Date\s*[:;.,]?"#), "Decision Date:"),
        (Pattern(#"(?:(?:\bU?R|\b[UV][RK])\b\W{0,2}\s*)?\bDenial\W{0,2}\s*Date\s*[:;.,]?"#), "UR Denial Date:"),
        (Pattern(#"\bPriority\s*[:;.,]?"#), "Priority:"),
    ]
    private static let caseNumberLike = Pattern(
        #"(?<![A-Za-z0-9])([CcGO0©(][MmN])\s?([0-9OoIlSsBQDZ|!][-.]?[0-9OoIlSsBQDZ|!])\s?[-–—~_.]?\s?([0-9OoIlSsBQDZ|!]{7})(?![A-Za-z0-9])"#,
        caseInsensitive: false
    )
    // A digit may be split from the next by a space ("1 1/02/201 6").
    private static let dateLike = Pattern(
        #"(?<![\w/])([0-9OoIlQD|!](?: ?[0-9OoIlQD|!])?)\s?[/]\s?([0-9OoIlQD|!](?: ?[0-9OoIlQD|!])?)\s?[/]\s?((?:[0-9OoIlSsQD|!] ?){3}[0-9OoIlSsQD|!])(?![\w/])"#,
        caseInsensitive: false
    )

    /// The cleaned text: one pass over the lines, the header (before "HOW THE IMR ...")
    /// cleaned of table rules and its labels, case number and dates put back in shape.
    static func clean(_ text: String, corrections: inout Corrections) -> String {
        var text = text.replacingOccurrences(of: "\r\n", with: "\n")
        for (from, to) in [("‘", "'"), ("’", "'"), ("“", "\""), ("”", "\""), ("ﬁ", "fi"), ("ﬂ", "fl")] {
            text = text.replacingOccurrences(of: from, with: to)
        }
        // The letters are in English: an accent is OCR's ("Retrospectivé").
        text = text.folding(options: [.diacriticInsensitive], locale: Locale(identifier: "en_US_POSIX"))
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let headerEnd =
            lines.firstIndex {
                let upper = $0.uppercased()
                return upper.contains("HOW THE IMR") || upper.contains("CLINICAL CASE SUMMARY")
            } ?? 0
        let labelled = lines[0..<headerEnd].contains { Pattern(#"\bCase\W{0,2}\s*(?:Number|No\b)"#).matches($0) }
        for index in lines.indices {
            var line = lines[index]
            if index < headerEnd {
                // Table rules read as bars, brackets and underscores.
                line = String(line.map { "|[]{}_".contains($0) ? " " : $0 })
                for (pattern, label) in headerLabels {
                    line = pattern.replace(in: line, with: label)
                }
                let before = corrections.caseNumbers.count
                let fixed = fixCaseNumbers(line, corrections: &corrections)
                // The label lost to a table rule: a number of this exact shape is the case number.
                if !labelled,
                    fixed != line || corrections.caseNumbers.count > before
                        || Pattern(#"\bCM\d\d-\d{7}\b"#, caseInsensitive: false).matches(fixed),
                    !fixed.contains("Case Number")
                {
                    line = "Case Number: " + fixed.trimmingCharacters(in: .whitespaces)
                    corrections.labelsAdded.append("Case Number")
                } else {
                    line = fixed
                }
                line = fixDates(line, corrections: &corrections)
                line = fixPriority(line, corrections: &corrections)
            }
            for (pattern, label) in bodyLabels { line = pattern.replace(in: line, with: label) }
            line = speckOnWord.replace(in: line, with: "")
            if line.filter({ $0 == "'" }).count == 1 { line = loneQuote.replace(in: line, with: "") }
            // A double quote with no other on the line, in front of it: a speck.
            if line.filter({ $0 == "\"" }).count == 1, line.hasPrefix("\"") {
                line = leadingJunk.replace(in: String(line.dropFirst()), with: "")
            }
            if line.hasPrefix("Certification(s)/Specialty: ") {
                // The value ends the line: a mark after its last word, or before one, is a speck.
                line = Pattern(#"[^A-Za-z0-9)]+$"#).replace(in: line, with: "")
                line = Pattern(#"(?<=\s)[^A-Za-z0-9(\s&]+(?=[A-Za-z])"#).replace(in: line, with: "")
            }
            let formFeed = line.hasPrefix("\u{0C}")
            if formFeed { line.removeFirst() }
            // The section heading with a word misread ("IMR TISSUES, DECISIONS AND RATIONALES").
            if line.contains("DECISIONS AND RATIONALES") { line = "IMR ISSUES, DECISIONS AND RATIONALES" }
            line = leadingJunk.replace(in: line, with: "")
            line = trailingJunk.replace(in: line, with: "")
            line = loneMark.replace(in: line, with: "")
            line = fixDecision(line, corrections: &corrections)
            // A decision wrapped onto a line of its own after a heading whose colon was read as
            // a semicolon ("... bilateral knees;" then "Upheld").
            if let match = fuzzyDecisionAlone.first(in: line), let read = match[1],
                ["Upheld", "Overturned"].contains(nearestDecision(read) ?? read),
                let previous = lines[..<index].lastIndex(where: { !LetterText.isBlank($0) }),
                lines[previous].hasSuffix(";")
            {
                lines[previous] = String(lines[previous].dropLast()) + ":"
            }
            // A decision word wrapped onto a line of its own, misread ("Upheid ;").
            if let match = fuzzyDecisionAlone.first(in: line), let read = match[1], let word = nearestDecision(read),
                let previous = lines[..<index].last(where: { !LetterText.isBlank($0) }), previous.hasSuffix(":")
            {
                corrections.decisions.append((read, word, String(previous.dropLast())))
                line = word
            }
            // "was the original. request": a speck read as a full stop inside the set phrase.
            line = Pattern(#"\boriginal[.,;]\s+request\b"#).replace(in: line, with: "original request")
            line = Pattern(#"\bset forth[.,;]\s+below\b"#).replace(in: line, with: "set forth below")
            lines[index] = formFeed ? "\u{0C}" + line : line
        }
        // A speck read as a full stop after a word no sentence ends with, before a line that goes
        // on in lower case ("... 120mg to." / "the right knee: Overturned"): the heading goes on.
        for index in lines.indices.dropLast() {
            let next = lines[index + 1].trimmingCharacters(in: .whitespaces)
            guard next.first?.isLowercase == true else { continue }
            lines[index] = unendedLine.replace(in: lines[index], with: "$1")
        }
        rejoinBrokenSentences(&lines, from: headerEnd)
        return lines.joined(separator: "\n")
    }

    // A line's last word, with a full stop after it or not.
    private static let lastWord = Pattern(#"(?<![\p{L}\p{N}])(\p{L}{2,})(\.?)$"#, caseInsensitive: false)
    // A line that goes on in lower case, after a page break or not.
    private static let firstLowerWord = Pattern(#"^\f?([a-z]{2,})\b"#, caseInsensitive: false)

    /// Puts back together a sentence that OCR broke: a speck read as a full stop after a line's
    /// last word, a paragraph break between two lines of one paragraph, or both ("... 7-10 days
    /// for left." and, after a blank line, "foot fracture was the original request."). A line
    /// that goes on in lower case is taken to continue the line before it when the two words
    /// around the break are a phrase the letter writes elsewhere without a mark between them
    /// ("left foot"); then the full stop and the blank lines between are dropped. A line ending
    /// in a colon (a label, "set forth below:") is never continued. Lines before `start` (the
    /// header) are left as they are.
    static func rejoinBrokenSentences(_ lines: inout [String], from start: Int) {
        // The letter's pairs of words with nothing between them but a space, within a paragraph.
        var pairs: Set<String> = []
        var previous: String?
        for line in lines {
            let text = line.replacingOccurrences(of: "\u{0C}", with: "")
            if LetterText.isBlank(text) {
                previous = nil
                continue
            }
            for token in text.split(separator: " ") {
                // A mark after a word ends a pair with it ("left foot.") but starts none.
                let word = token.trimmingCharacters(in: CharacterSet(charactersIn: ".,;:"))
                let isWord = !word.isEmpty && word.allSatisfy(\.isLetter)
                if isWord, let previous { pairs.insert(previous + " " + word.lowercased()) }
                previous = isWord && word.count == token.count ? word.lowercased() : nil
            }
        }

        var index = max(0, start)
        while index < lines.count {
            defer { index += 1 }
            guard let end = lastWord.first(in: lines[index]), let before = end[1]?.lowercased() else { continue }
            guard let next = lines[(index + 1)...].firstIndex(where: { !LetterText.isBlank($0) }),
                let after = firstLowerWord.first(in: lines[next])?[1]
            else { continue }
            let fullStop = end[2] == "."
            // Nothing is broken: the line simply wraps.
            guard fullStop || next > index + 1 else { continue }
            // Pairs are not taken across a blank line or a mark: the break itself makes none.
            guard pairs.contains(before + " " + after) else { continue }
            if fullStop { lines[index].removeLast() }
            lines.removeSubrange((index + 1)..<next)
        }
    }

    private static let unendedLine = Pattern(
        #"(\b(?:to|of|the|and|for|with|a|an|in|on|at|by|or|per|from|into|over))\s*[.,;]\s*$"#
    )

    /// "Pnority:" is the Priority label, and "Standad" the value Standard (a letter or two off,
    /// in the header only), each noted.
    private static func fixPriority(_ line: String, corrections: inout Corrections) -> String {
        var out = line
        for match in Pattern(#"\b([A-Za-z1|]{6,10})\s*[:;]"#).all(in: line).reversed() {
            guard let word = match[1], word != "Priority", editDistance(word.lowercased(), "priority") <= 2,
                let range = out.range(of: match[0] ?? "")
            else { continue }
            out.replaceSubrange(range, with: "Priority:")
        }
        guard out.contains("Priority:") else { return out }
        for word in out.split(separator: " ").map(String.init) where word.count >= 6 {
            let bare = word.trimmingCharacters(in: .punctuationCharacters)
            for value in ["Standard", "Expedited"]
            where bare != value && editDistance(bare.lowercased(), value.lowercased()) <= 2 {
                corrections.priorities.append((bare, value))
                out = out.replacingOccurrences(of: bare, with: value)
            }
        }
        return out
    }

    private static func fixCaseNumbers(_ line: String, corrections: inout Corrections) -> String {
        var out = line as NSString
        for match in caseNumberLike.all(in: line).reversed() {
            guard let year = match[2].map({ $0.filter { $0 != "-" && $0 != "." } }).flatMap(digits),
                let serial = match[3].flatMap(digits)
            else { continue }
            let taken = "CM\(year)-\(serial)"
            let read = match[0] ?? ""
            if read != taken { corrections.caseNumbers.append((read, taken)) }
            out =
                out.replacingCharacters(in: NSRange(location: match.location, length: match.length), with: taken)
                as NSString
        }
        return out as String
    }

    private static func fixDates(_ line: String, corrections: inout Corrections) -> String {
        var out = line as NSString
        for match in dateLike.all(in: line).reversed() {
            func squeezed(_ group: Int) -> String? { match[group].map { $0.filter { $0 != " " } }.flatMap(digits) }
            guard let month = squeezed(1), let day = squeezed(2), let year = squeezed(3) else { continue }
            let taken = "\(month)/\(day)/\(year)"
            let read = match[0] ?? ""
            // The letters write the month and the day with two digits: one means a digit was lost.
            if month.count == 1 || day.count == 1 {
                corrections.lostDigits.append(read)
                out =
                    out.replacingCharacters(
                        in: NSRange(location: match.location, length: match.length),
                        with: "(unreadable date \(read.replacingOccurrences(of: "/", with: "-")))"
                    ) as NSString
                continue
            }
            if read != taken { corrections.dates.append((read, taken)) }
            out =
                out.replacingCharacters(in: NSRange(location: match.location, length: match.length), with: taken)
                as NSString
        }
        return out as String
    }

    /// "X is;. Overturned ‘" becomes "X is: Overturned"; a word a letter or two away from a
    /// decision of the vocabulary ("Overtumed") is taken as it, with a correction noted.
    private static func fixDecision(_ line: String, corrections: inout Corrections) -> String {
        if let match = decisionLine.first(in: line), let heading = match[1], let word = match[2] {
            return "\(heading): \(word.prefix(1).uppercased() + word.dropFirst().lowercased())"
        }
        if let match = decisionAloneLine.first(in: line), let word = match[1] {
            return word.prefix(1).uppercased() + word.dropFirst().lowercased()
        }
        if let match = fuzzyDecisionLine.first(in: line), let heading = match[1], let read = match[2],
            let word = nearestDecision(read)
        {
            corrections.decisions.append((read, word, heading))
            return "\(heading): \(word)"
        }
        return line
    }

    /// The decision word of the vocabulary `read` is one or two edits from ("Uplield",
    /// "Overtumed"), as written or as OCR sees letters (``asOCRSeesIt(_:)``: "Overtiumed" is
    /// three edits from "Overturned", one from its "overtumed"), if exactly one is.
    static func nearestDecision(_ read: String) -> String? {
        let lowered = read.lowercased()
        let near = ["Upheld", "Overturned"].filter { word in
            guard lowered != word.lowercased() else { return false }
            let distance = min(
                editDistance(lowered, word.lowercased()),
                editDistance(asOCRSeesIt(lowered), asOCRSeesIt(word))
            )
            return distance <= 2
        }
        return near.count == 1 ? near[0] : nil
    }

    // MARK: - Review

    /// Whether `line`, the text before a decision word on its line (or on the line before a
    /// decision wrapped onto a line of its own), ends the heading that names `disputed`: the
    /// heading is all on the line, or the line holds its last words after a wrap. A
    /// partial-certification heading ends "The original request, X is", so a closing "is" is
    /// not part of the disputed text.
    static func endsHeading(_ line: String, of disputed: String) -> Bool {
        let text = LetterText.collapse(line)
        if text.hasSuffix(disputed) { return true }
        let tail = text.hasSuffix(" is") ? String(text.dropLast(3)) : text
        // Two words at least: a lone word ("knee") ends too many headings to tell them apart.
        return tail.contains(" ") && (disputed == tail || disputed.hasSuffix(" " + tail))
    }

    /// The confidence at and above which a word of a heading is taken as read: the other
    /// readings of its disputed text do not outvote it, nor does a word the letter uses more
    /// often (in the fixture letters' renders looked at, misread words had 42-92, the headings'
    /// words read right 95-97).
    static let sureConfidence = 95.0

    /// The engine's words in reading order with their confidences, keyed by ``key(_:)`` (a word
    /// of marks alone, which has no key, left out), and where each key occurs.
    struct WordStream {
        let words: [(key: String, confidence: Double)]
        private let places: [String: [Int]]

        init(_ read: [OCRWord]) {
            words = read.map { (key: key($0.text), confidence: $0.confidence) }.filter { !$0.key.isEmpty }
            var places: [String: [Int]] = [:]
            for (index, word) in words.enumerated() { places[word.key, default: []].append(index) }
            self.places = places
        }

        /// Where the words `keys` occur one after another, the best-read place (the highest
        /// least confidence; the first of equals); nil when they never do.
        func bestRun(of keys: [String]) -> ArraySlice<(key: String, confidence: Double)>? {
            guard let first = keys.first else { return nil }
            var best: (run: ArraySlice<(key: String, confidence: Double)>, least: Double)?
            for start in places[first] ?? [] where start + keys.count <= words.count {
                let run = words[start..<(start + keys.count)]
                guard zip(run, keys).allSatisfy({ $0.0.key == $0.1 }) else { continue }
                let least = run.map(\.confidence).min() ?? 0
                if least > best?.least ?? -1 { best = (run, least) }
            }
            return best?.run
        }
    }

    /// A word as the confidence table keys it: lower case, outer punctuation dropped.
    static func key(_ word: some StringProtocol) -> String {
        word.lowercased().trimmingCharacters(in: CharacterSet.alphanumerics.inverted)
    }

    /// Warnings for corrections, low confidence, impossible or disordered dates and decisions
    /// the letter seems to have but that were not read; fills ``LetterFacts/ocr``.
    static func review(
        _ facts: inout LetterFacts,
        reading: OCRReading,
        words: WordStream,
        corrections: Corrections,
        cleanedText: String,
        confirmed: Set<String> = []
    ) {
        var lowest: [String: Double] = [:]
        var total = 0.0
        for word in words.words {
            lowest[word.key] = min(lowest[word.key] ?? 100, word.confidence)
            total += word.confidence
        }
        var warnings: [String] = []
        var fieldConfidence: [String: Double] = [:]
        // A specialty wrapped onto a second line brings a speck or a full stop at its end.
        if let specialty = facts.reviewerSpecialty {
            let trimmed = Pattern(#"[^A-Za-z0-9)]+$"#).replace(in: specialty, with: "")
            facts.reviewerSpecialty = trimmed.isEmpty ? nil : trimmed
        }
        // How sure the engine was of a value: where its words occur in the OCR text in a row,
        // the lowest confidence of the words of its best-read occurrence; else the lowest
        // confidence any of its words had anywhere; nil when none was on an OCR page.
        func confidence(of value: String) -> Double? {
            let tokens = value.split(whereSeparator: { $0.isWhitespace }).map(key).filter { !$0.isEmpty }
            guard !tokens.isEmpty else { return nil }
            return words.bestRun(of: tokens)?.map(\.confidence).min() ?? tokens.compactMap { lowest[$0] }.min()
        }
        func check(_ field: String, _ name: String, _ value: String?, floor: Double = LetterParser.ocrConfidenceFloor) {
            guard let value else { return }
            guard let c = confidence(of: value) else {
                // Taken from the second reading of the header: no word of the first has it.
                if facts.warnings.contains(where: { $0.contains("second OCR reading") && $0.contains(name) }) {
                    fieldConfidence[field] = 0
                }
                return
            }
            fieldConfidence[field] = c
            // Two readings of the header gave the same value: enough, unless the engine was less
            // than half sure (both readings see the same speck: a case number's 3 read as 8
            // twice at 22%).
            if confirmed.contains(field), c < floor, c >= LetterParser.ocrConfirmedFloor { return }
            if c < floor {
                warnings.append(
                    "OCR read the \(name) \"\(value)\" with a confidence of \(Int(c.rounded()))%; check it against the letter."
                )
            } else if let why = oddShape(value) {
                warnings.append("OCR read the \(name) as \"\(value)\", which has \(why); check it against the letter.")
            }
        }
        // A phrase the letter says twice (a heading and its rationale's "the request for ...")
        // was read the same way twice.
        let flat = LetterText.collapse(cleanedText.replacingOccurrences(of: "\u{0C}", with: " "))
        let flatWords = flat.split(separator: " ").map(String.init)
        let flatKeys = flatWords.map { key($0) }
        // The same phrase read differently elsewhere (the rationale's "the request for ...
        // is"): every word the same but one or two, which differ as OCR errors do (in letter
        // case, or by a letter or two).
        func readOtherwise(_ value: String) -> String? {
            func bare(_ word: String) -> String { word.trimmingCharacters(in: .punctuationCharacters) }
            let words = value.split(separator: " ").map(String.init)
            let keys = words.map { key($0) }
            guard words.count >= 2, flatWords.count >= words.count else { return nil }
            for start in 0...(flatWords.count - words.count) where flatKeys[start] == keys[0] || words.count > 2 {
                var near = 0
                var fits = true
                for (offset, word) in words.enumerated() {
                    let other = flatWords[start + offset]
                    if bare(other) == bare(word) { continue }
                    let (a, b) = (key(other), keys[offset])
                    guard a == b || (a.count >= 4 && b.count >= 4 && editDistance(a, b) <= 2) else {
                        fits = false
                        break
                    }
                    near += 1
                }
                if fits, near > 0, near * 3 <= words.count {
                    return flatWords[start..<(start + words.count)].joined(separator: " ")
                }
            }
            return nil
        }
        func saidTwice(_ value: String) -> Bool {
            guard !value.isEmpty, let first = flat.range(of: value) else { return false }
            return flat.range(of: value, range: first.upperBound..<flat.endIndex) != nil
        }
        func us(_ date: LocalDate?) -> String? {
            date.map { String(format: "%02d/%02d/%04d", $0.month, $0.day, $0.year) }
        }
        let dates: [(String, String, LocalDate?)] = [
            ("dateAssigned", "Date Assigned", facts.dateAssigned),
            ("dateOfInjury", "Date of Injury", facts.dateOfInjury),
            ("decisionDate", "Decision Date", facts.decisionDate),
            ("urDenialDate", "UR Denial Date", facts.urDenialDate),
            ("applicationReceived", "Application Received", facts.applicationReceived),
        ]
        if let number = facts.caseNumber {
            check("caseNumber", "Case Number", number)
            if corrections.labelsAdded.contains("Case Number") {
                warnings.append(
                    "OCR lost the \"Case Number\" label; \(number) was taken as the case number by its shape. Check it against the letter."
                )
            }
            for c in corrections.caseNumbers where c.taken == number {
                warnings.append(
                    "OCR read the Case Number as \"\(c.read)\"; it was taken as \(number) (letters for digits). Check it against the letter."
                )
                fieldConfidence["caseNumber"] = min(fieldConfidence["caseNumber"] ?? 100, confidence(of: c.read) ?? 0)
            }
        }
        for (field, name, date) in dates {
            guard let text = us(date) else { continue }
            check(field, name, text)
            for c in corrections.dates where c.taken == text {
                warnings.append(
                    "OCR read the \(name) as \"\(c.read)\"; it was taken as \(text) (letters for digits). Check it against the letter."
                )
                fieldConfidence[field] = min(fieldConfidence[field] ?? 100, confidence(of: c.read) ?? 0)
            }
        }
        for read in corrections.lostDigits {
            warnings.append(
                "OCR read a header date as \"\(read)\", with one digit for the month or the day where the letters write two: a digit was lost, so it was left out; check the header dates against the letter."
            )
        }
        for c in corrections.priorities where facts.priority?.rawValue == c.taken.lowercased() {
            warnings.append(
                "OCR read the Priority as \"\(c.read)\"; it was taken as \(c.taken). Check it against the letter."
            )
        }
        check("priority", "Priority", facts.priority.map { $0.rawValue.capitalized })
        check("reviewerSpecialty", "reviewer specialty", facts.reviewerSpecialty)
        if let specialty = facts.reviewerSpecialty, let odd = unknownSpecialtyWord(specialty) {
            warnings.append(
                "OCR read the reviewer specialty as \"\(specialty)\", whose \(odd); check it against the letter."
            )
        }
        for (index, item) in facts.items.enumerated() {
            let n = index + 1
            let settled = corrections.disputed.first { $0.item == n }
            if let c = settled {
                let why = [
                    c.basis.contains(.otherReadings) ? "as most of the letter's readings of it have it" : nil,
                    c.basis.contains(.lettersWords)
                        ? "a word the letter has nowhere else taken for one it uses often" : nil,
                    c.basis.contains(.specks) ? "a mark English does not write there taken for a speck" : nil,
                ].compactMap { $0 }.joined(separator: "; ")
                warnings.append(
                    "OCR read the disputed text of item \(n) as \"\(c.read)\" in its heading; it was taken as \"\(c.taken)\" (\(why)). Check it against the letter."
                )
            } else if let other = readOtherwise(item.disputed) {
                warnings.append(
                    "OCR read the disputed text of item \(n) as \"\(item.disputed)\" in its heading but \"\(other)\" elsewhere in the letter; check it against the letter."
                )
            }
            if item.disputed.first?.isLowercase == true {
                warnings.append(
                    "OCR read the disputed text of item \(n) as \"\(item.disputed)\", which starts with a lower-case word: its heading may begin on the line before. Check it against the letter."
                )
            }
            // Read once only: every word must have been read with high confidence.
            check(
                "item\(n).disputed",
                "disputed text of item \(n)",
                item.disputed,
                floor: saidTwice(item.disputed) ? LetterParser.ocrConfidenceFloor : 95
            )
            if settled != nil { fieldConfidence["item\(n).disputed"] = 0 }
            check("item\(n).decision", "decision of item \(n)", item.decision.rawValue.capitalized)
            let heading = settled?.read ?? item.disputed
            for c in corrections.decisions where endsHeading(c.heading, of: heading) {
                warnings.append(
                    "OCR read the decision of item \(n) as \"\(c.read)\"; it was taken as \(c.taken). Check it against the letter."
                )
                fieldConfidence["item\(n).decision"] = 0
            }
        }

        // Dates out of their order: one of them was misread.
        let order: [(String, LocalDate?, String, LocalDate?)] = [
            ("Date of Injury", facts.dateOfInjury, "UR Denial Date", facts.urDenialDate),
            ("UR Denial Date", facts.urDenialDate, "Application Received", facts.applicationReceived),
            ("Application Received", facts.applicationReceived, "Date Assigned", facts.dateAssigned),
            ("Date Assigned", facts.dateAssigned, "Decision Date", facts.decisionDate),
        ]
        for (earlierName, earlier, laterName, later) in order {
            if let earlier, let later, earlier > later {
                warnings.append(
                    "The \(earlierName) \(earlier.iso) comes after the \(laterName) \(later.iso): OCR may have misread one of them; check both against the letter."
                )
            }
        }
        for (_, name, date) in dates {
            if let date, date.year < 1950 || date.year > 2099 {
                warnings.append("The \(name) \(date.iso) is not a plausible date: OCR may have misread it; check it.")
            }
        }

        // Each item has a "Claims Administrator guideline" line: more of them than decisions
        // read means a decision heading was not read.
        let guidelines = cleanedText.split(separator: "\n").filter {
            $0.hasPrefix("Claims Administrator guideline:")
        }.count
        if guidelines > facts.items.count {
            warnings.append(
                "The letter seems to have \(guidelines) disputed items (\"Claims Administrator guideline\" lines) but only \(facts.items.count) decisions were read: OCR missed a decision heading; check the items against the letter."
            )
        }

        facts.warnings += warnings
        facts.ocr = LetterOCR(
            engine: reading.engine,
            pages: reading.pages,
            confidence: words.words.isEmpty ? nil : (total / Double(words.words.count) * 10).rounded() / 10,
            fieldConfidence: fieldConfidence.mapValues { ($0 * 10).rounded() / 10 }
        )
    }
}

extension OCRCleanup {
    /// Merges a second reading of the header into `facts`: what the first missed is taken
    /// from it with a warning, a disagreement is a warning (the first reading's value stays);
    /// returns the fields both readings agree on.
    static func secondReading(_ text: String, into facts: inout LetterFacts) -> Set<String> {
        var corrections = Corrections()
        // Everything of this text is header: a heading line marks where the header ends.
        let cleaned = clean(text + "\nHOW THE IMR FINAL DETERMINATION WAS MADE", corrections: &corrections)
        var lines = LetterText.lines(of: cleaned)
        lines.removeLast()
        var second = LetterFacts()
        var ignored: [String] = []
        HeaderReader.read(lines, into: &second, warnings: &ignored)
        if let number = second.caseNumber, IMRCaseNumber(number) == nil { second.caseNumber = nil }
        var confirmed: Set<String> = []
        func merge<T: Equatable>(
            _ field: String,
            _ name: String,
            _ path: WritableKeyPath<LetterFacts, T?>,
            _ text: (T) -> String
        ) {
            guard let other = second[keyPath: path] else { return }
            guard let first = facts[keyPath: path] else {
                facts[keyPath: path] = other
                facts.warnings.append(
                    "The \(name) \(text(other)) was taken from a second OCR reading of the header (the first could not read it); check it against the letter."
                )
                return
            }
            if first == other {
                confirmed.insert(field)
            } else {
                facts.warnings.append(
                    "Two OCR readings of the header disagree on the \(name): \(text(first)) and \(text(other)); the first was taken. Check it against the letter."
                )
            }
        }
        func iso(_ date: LocalDate) -> String { date.iso }
        merge("caseNumber", "Case Number", \.caseNumber) { $0 }
        merge("dateAssigned", "Date Assigned", \.dateAssigned, iso)
        merge("dateOfInjury", "Date of Injury", \.dateOfInjury, iso)
        merge("decisionDate", "Decision Date", \.decisionDate, iso)
        merge("urDenialDate", "UR Denial Date", \.urDenialDate, iso)
        merge("applicationReceived", "Application Received", \.applicationReceived, iso)
        merge("priority", "Priority", \.priority) { $0.rawValue.capitalized }
        return confirmed
    }

    private static let oddShapes: [(Pattern, String)] = [
        (Pattern(#"[a-z]{3,}-\d|\S-\s|\s-[a-z]"#, caseInsensitive: false), "a hyphen out of place"),
        (Pattern(#"[a-z]\.[a-z]{2}|[a-z]{2}\.\s+[a-z&]"#, caseInsensitive: false), "a full stop inside it"),
        (Pattern(##"(?:^|\s)[^A-Za-z0-9\s&#%/()\-]+(?=\s|$)|^[^A-Za-z0-9(\"#$]"##), "a stray mark"),
    ]

    /// Words of the reviewer specialties the letters name (the American Board of Medical
    /// Specialties' boards and certificates, and the other licensed professions).
    /// Words that end a specialty's name, and words that start one and never follow an end
    /// within a name ("Pediatric Rehabilitation Medicine" has Medicine after Rehabilitation).
    static let specialtyEnds: Set<String> = [
        "anesthesiology", "chiropractor", "management", "medicine", "neurology", "practice", "psychiatry",
        "rehabilitation", "surgery", "toxicology",
    ]
    static let specialtyStarts: Set<String> = [
        "anesthesiology", "chiropractor", "emergency", "family", "hospice", "internal", "neurology",
        "occupational", "oriental", "orthopedic", "orthopaedic", "pain", "pediatric", "physical", "preventive",
        "psychiatry", "sports",
    ]

    static let specialtyWords: Set<String> = [
        "acupuncture", "addiction", "adolescent", "allergy", "and", "anesthesiology", "behavioral", "board",
        "brain", "cardiology", "cardiovascular", "care", "chiropractic", "chiropractor", "child", "clinical",
        "colon", "critical", "dermatology", "developmental", "diagnostic", "disease", "diseases", "emergency",
        "endocrinology", "family", "forensic", "gastroenterology", "general", "geriatric", "hand", "health",
        "hematology", "hospice", "immunology", "infectious", "injury", "internal", "interventional",
        "management", "medical", "medicine", "metabolism", "neurological", "neurology", "neuromuscular",
        "neurophysiology", "neuroradiology", "neurosurgery", "nuclear", "obstetrics", "occupational", "oncology",
        "ophthalmology", "oriental", "orthopaedic", "orthopedic", "orthopaedics", "orthopedics", "osteopathic",
        "otolaryngology", "pain", "palliative", "pathology", "pediatric", "pediatrics", "pharmacology", "pharmacy",
        "physical", "physician", "plastic", "podiatric", "podiatry", "practice", "preventive", "psychiatry",
        "psychologist", "psychology", "public", "pulmonary", "radiology", "reconstructive", "rectal",
        "rehabilitation", "rheumatology", "sleep", "spinal", "spine", "sports", "surgery", "therapist", "therapy",
        "thoracic", "toxicology", "trauma", "urology", "vascular", "with",
    ]

    /// A specialty's words put back in the specialties' vocabulary: a word of four letters or
    /// more a letter or two from exactly one word of it ("Toxicolog", "Rehabilitaton") is taken
    /// as that word, a lone letter or mark beside "&" dropped; with a warning when anything changed.
    static func correctSpecialty(_ facts: inout LetterFacts) {
        guard let read = facts.reviewerSpecialty else { return }
        var words: [String] = []
        for token in read.split(separator: " ").map(String.init) {
            var core = token
            var tail = ""
            while let last = core.last, ",".contains(last) {
                tail = String(last) + tail
                core.removeLast()
            }
            core = core.trimmingCharacters(in: CharacterSet(charactersIn: ".;:'`\""))
                .replacingOccurrences(of: "¢", with: "c")
            // "Medicine,.Occupational": the comma and a speck joined two specialties.
            if let comma = core.firstIndex(of: ","), core[..<comma].allSatisfy(\.isLetter),
                core[core.index(after: comma)...].contains(where: \.isLetter)
            {
                let rest = core[core.index(after: comma)...].drop { !$0.isLetter }
                words.append(String(core[..<comma]) + ",")
                core = String(rest)
            }
            if core.count == 1, core != "&" { continue }  // a speck read as a letter
            if core.contains("&") { core = "&" }
            if core.count >= 4, core.allSatisfy(\.isLetter), !specialtyWords.contains(core.lowercased()) {
                let near = specialtyWords.filter { $0.count >= 4 && editDistance($0, core.lowercased()) <= 2 }
                let best = near.map { ($0, editDistance($0, core.lowercased())) }.sorted { $0.1 < $1.1 }
                if let first = best.first, best.filter({ $0.1 == first.1 }).count == 1 {
                    core = first.0.prefix(1).uppercased() + first.0.dropFirst()
                }
            }
            if !core.isEmpty { words.append(core + tail) }
        }
        // A comma OCR lost or blurred between two specialties ("Rehabilitation Pain Management",
        // "Medicine,.Occupational"): a word that ends a specialty before one that starts another.
        for index in words.indices.dropLast() {
            let (word, next) = (words[index], words[index + 1])
            guard specialtyEnds.contains(word.lowercased()), specialtyStarts.contains(next.lowercased()) else {
                continue
            }
            words[index] = word + ","
        }
        let taken = words.joined(separator: " ")
        guard taken != read, !taken.isEmpty else { return }
        facts.reviewerSpecialty = taken
        facts.warnings.append(
            "OCR read the reviewer specialty as \"\(read)\"; it was taken as \"\(taken)\" (the specialties' words). Check it against the letter."
        )
    }

    /// What in a specialty is not among the specialties' words or marks, if anything.
    static func unknownSpecialtyWord(_ specialty: String) -> String? {
        if let mark = specialty.first(where: { !$0.isLetter && !" ,&()/-".contains($0) }) {
            return "mark \"\(mark)\" is not in any specialty"
        }
        for word in specialty.split(whereSeparator: { !$0.isLetter }) where word.count > 1 {
            if !specialtyWords.contains(word.lowercased()) {
                return "word \"\(word)\" is not among the specialties' words"
            }
        }
        return nil
    }

    /// Why a fact's text looks like an OCR error rather than what a letter says, if it does.
    static func oddShape(_ value: String) -> String? {
        if value.unicodeScalars.contains(where: { $0.value > 126 }) { return "a character the letters do not use" }
        return oddShapes.first { $0.0.matches(value) }?.1
    }
}

extension Pattern {
    /// Every match replaced by `template` ($1 for a group).
    func replace(in text: String, with template: String) -> String {
        expression.stringByReplacingMatches(
            in: text,
            range: NSRange(location: 0, length: (text as NSString).length),
            withTemplate: template
        )
    }
}
