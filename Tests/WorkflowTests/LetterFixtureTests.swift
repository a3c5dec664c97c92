import ChildProcess
import Foundation
import Testing
@testable import Workflow

/// Every letter of `../shared/fixtures/letters/` against `expected.json`: the five text seeds
/// as they are, the PDFs through `pdftotext` both with and without `-layout`.
@Suite struct LetterFixtureTests {
    enum Extraction: String, CustomStringConvertible, CaseIterable, Sendable {
        case layout = "pdftotext -layout"
        case plain = "pdftotext"
        var description: String { rawValue }
    }

    @Test(arguments: Extraction.allCases)
    func everyFixtureLetter_yieldsTheExpectedFacts(extraction: Extraction) throws {
        let fixtures = try Fixtures.load()
        let pdftotext = try #require(
            Fixtures.pdftotext,
            "pdftotext (poppler-utils) is not installed: run scripts/setup, then run the tests again."
        )

        var mismatches: [Mismatch] = []
        var exact = 0
        for name in fixtures.expected.keys.sorted() {
            let expected = fixtures.expected[name]!
            let text: String
            if name.hasSuffix(".pdf") {
                text = try Fixtures.extract(
                    fixtures.directory.appendingPathComponent(name),
                    with: pdftotext,
                    layout: extraction == .layout
                )
            } else {
                text = try String(contentsOf: fixtures.directory.appendingPathComponent(name), encoding: .utf8)
            }
            let found: [Mismatch]
            do {
                found = compare(expected, try LetterParser.parse(text), file: name)
            } catch {
                found = [Mismatch(file: name, field: "parse", expected: "facts", got: "\(error)")]
            }
            if found.isEmpty { exact += 1 }
            mismatches += found
        }
        for mismatch in mismatches {
            Issue.record("\(extraction): \(mismatch)")
        }
        #expect(
            exact == fixtures.expected.count,
            "\(extraction): \(exact)/\(fixtures.expected.count) letters read exactly"
        )
        #expect(fixtures.expected.count == 44, "the fixture set should hold 44 letters")
    }

    /// Ways the same letter reaches the parser from other text extractions.
    enum Variant: String, CaseIterable, CustomStringConvertible, Sendable {
        case crlfLineEnds = "CRLF line ends"
        case trailingSpacesAndTabs = "trailing spaces and tabs"
        case blankLineAfterEveryLine = "a blank line after every line, space-only paragraph breaks"
        var description: String { rawValue }

        func apply(_ text: String) -> String {
            let lines = text.components(separatedBy: "\n")
            switch self {
            case .crlfLineEnds:
                return lines.joined(separator: "\r\n")
            case .trailingSpacesAndTabs:
                return lines.enumerated().map { $1 + ($0 % 2 == 0 ? "   " : " \t") }.joined(separator: "\n")
            case .blankLineAfterEveryLine:
                return lines.map { $0.trimmingCharacters(in: .whitespaces).isEmpty ? " " : $0 + " " }
                    .joined(separator: "\n\n")
            }
        }
    }

    @Test(arguments: Variant.allCases)
    func everyPDFLetter_yieldsTheSameFacts_afterReformatting(variant: Variant) throws {
        let fixtures = try Fixtures.load()
        let pdftotext = try #require(
            Fixtures.pdftotext,
            "pdftotext (poppler-utils) is not installed: run scripts/setup, then run the tests again."
        )
        for name in fixtures.expected.keys.sorted() where name.hasSuffix(".pdf") {
            for layout in [true, false] {
                let text = try Fixtures.extract(
                    fixtures.directory.appendingPathComponent(name),
                    with: pdftotext,
                    layout: layout
                )
                let original = try LetterParser.parse(text)
                let reformatted = try LetterParser.parse(variant.apply(text))
                #expect(
                    original.items == reformatted.items && original.reviewerSpecialty == reformatted.reviewerSpecialty
                        && original.caseNumber == reformatted.caseNumber
                        && original.decisionDate == reformatted.decisionDate,
                    "\(variant), \(layout ? "pdftotext -layout" : "pdftotext"): \(name) reads differently"
                )
            }
        }
    }

    /// The corrections of OCR text (issue 17: disputed texts settled by the letter's other
    /// readings, specialties) change nothing in a letter read without an error: every text
    /// layer, read as if OCR had given it, keeps every disputed text and its specialty as
    /// expected.json has them.
    @Test func everyPDFLetterReadAsOCRText_keepsItsDisputedTextsAndSpecialty() throws {
        let fixtures = try Fixtures.load()
        let pdftotext = try #require(
            Fixtures.pdftotext,
            "pdftotext (poppler-utils) is not installed: run scripts/setup, then run the tests again."
        )
        var items = 0
        for name in fixtures.expected.keys.sorted() where name.hasSuffix(".pdf") {
            for layout in [true, false] {
                let text = try Fixtures.extract(
                    fixtures.directory.appendingPathComponent(name),
                    with: pdftotext,
                    layout: layout
                )
                let facts = try LetterParser.parse(OCRReading(text: text, engine: "test", pages: [1], words: []))
                let want = fixtures.expected[name]!.items.map { Self.normalized($0.disputed) }
                #expect(facts.items.map { Self.normalized($0.disputed) } == want, "\(name), layout \(layout)")
                #expect(!facts.warnings.contains { $0.contains("taken as \"") }, "\(name): \(facts.warnings)")
                #expect(facts.reviewerSpecialty == fixtures.expected[name]!.reviewer_specialty, "\(name)")
                items += want.count
            }
        }
        #expect(items > 150)
    }

    // MARK: Comparison

    struct Mismatch: CustomStringConvertible {
        let file: String
        let field: String
        let expected: String
        let got: String
        var description: String { "\(file): \(field): expected \(expected), got \(got)" }
    }

    /// Free text is compared with whitespace collapsed: extractions differ in line breaks and
    /// spacing, never in words.
    static func normalized(_ text: String?) -> String {
        guard let text else { return "null" }
        return text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    func compare(_ expected: ExpectedLetter, _ facts: LetterFacts, file: String) -> [Mismatch] {
        var out: [Mismatch] = []
        func check(_ field: String, _ want: String?, _ got: String?) {
            let (w, g) = (Self.normalized(want), Self.normalized(got))
            if w != g { out.append(Mismatch(file: file, field: field, expected: w, got: g)) }
        }
        check("case_number", expected.case_number, facts.caseNumber)
        check("date_assigned", expected.date_assigned, facts.dateAssigned?.iso)
        check("date_of_injury", expected.date_of_injury, facts.dateOfInjury?.iso)
        check("decision_date", expected.decision_date, facts.decisionDate?.iso)
        check("ur_denial_date", expected.ur_denial_date, facts.urDenialDate?.iso)
        check("application_received", expected.application_received, facts.applicationReceived?.iso)
        check("priority", expected.priority, facts.priority?.rawValue)
        check("reviewer_specialty", expected.reviewer_specialty, facts.reviewerSpecialty)
        check("items.count", String(expected.items.count), String(facts.items.count))
        for (index, want) in expected.items.enumerated() {
            let got = index < facts.items.count ? facts.items[index] : nil
            check("items[\(index)].disputed", want.disputed, got?.disputed)
            check("items[\(index)].decision", want.decision, got?.decision.rawValue)
        }
        return out
    }
}

struct ExpectedLetter: Decodable {
    let case_number: String?
    let date_assigned: String?
    let date_of_injury: String?
    let decision_date: String?
    let ur_denial_date: String?
    let priority: String?
    let application_received: String?
    let reviewer_specialty: String?
    let items: [ExpectedItem]
}

struct ExpectedItem: Decodable {
    let disputed: String
    let decision: String
}

/// The shared fixture directory and the tools to read it. Test-only I/O: the parser never
/// touches files or processes.
enum Fixtures {
    struct Loaded {
        let directory: URL
        let expected: [String: ExpectedLetter]
    }

    /// `<repo>/../shared/fixtures/letters`, found from this file's path
    /// (`<repo>/Tests/WorkflowTests/LetterFixtureTests.swift`).
    static var directory: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // WorkflowTests
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()  // <repo>
            .deletingLastPathComponent()
            .appendingPathComponent("shared/fixtures/letters", isDirectory: true)
    }

    static func load() throws -> Loaded {
        let expectedURL = directory.appendingPathComponent("expected.json")
        guard FileManager.default.fileExists(atPath: expectedURL.path) else {
            throw FixtureError(
                "The letter fixtures are missing: expected \(expectedURL.path). Check out the shared fixtures beside the repository."
            )
        }
        let data = try Data(contentsOf: expectedURL)
        let expected = try JSONDecoder().decode([String: ExpectedLetter].self, from: data)
        return Loaded(directory: directory, expected: expected)
    }

    /// The `pdftotext` executable on the PATH (or in /usr/bin), nil when it is not installed.
    static var pdftotext: URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let candidates = path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"]
        for dir in candidates {
            let url = URL(fileURLWithPath: dir).appendingPathComponent("pdftotext")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return nil
    }

    static func extract(_ pdf: URL, with pdftotext: URL, layout: Bool) throws -> String {
        let process = SpawnedProcess()
        process.executableURL = pdftotext
        process.arguments = (layout ? ["-layout"] : []) + ["-enc", "UTF-8", pdf.path, "-"]
        let output = Pipe.forChild()
        let errors = Pipe.forChild()
        process.standardOutput = output
        process.standardError = errors
        try process.start()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        let exit = process.waitForExit()
        guard exit.succeeded else {
            throw FixtureError(
                "pdftotext failed on \(pdf.lastPathComponent) (\(exit)): \(String(decoding: errorData, as: UTF8.self))"
            )
        }
        return String(decoding: data, as: UTF8.self)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
