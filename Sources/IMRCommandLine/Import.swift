import ArgumentParser
import Foundation
import Workflow

/// `imr-ctl import --dry-run`: reads IMR Final Determination letters (PDF through
/// pdftotext, or text) and prints the facts they carry, without a daemon.
public struct Import: ParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Read IMR Final Determination letters (PDF or .txt) and show the facts they carry.",
        discussion: """
            --dry-run --json prints a JSON array, one object per file, with exactly: file, case_number,
            date_assigned, date_of_injury, decision_date, ur_denial_date, application_received, priority,
            reviewer_specialty, items (disputed, decision, original_request, authorized_portion, guideline)
            and warnings. A fact the letter does not carry is null. PDFs need pdftotext (poppler-utils).
            This version reads letters only with --dry-run; recording them into cases comes next.
            """)

    @Flag(name: .customLong("dry-run"), help: "Only read the letters; write nothing (needs no daemon).")
    var dryRun = false

    @Flag(help: "Print JSON.")
    var json = false

    @Argument(help: "The letters: .pdf files or text files.")
    var files: [String]

    public init() {}

    public func validate() throws {
        guard dryRun else {
            throw ValidationError("this version of imr-ctl reads letters only with --dry-run; recording them into cases is not available yet")
        }
        guard !files.isEmpty else { throw ValidationError("name at least one letter (a .pdf or .txt file)") }
    }

    public func run() throws {
        var records: [LetterDryRunRecord] = []
        var failures: [String] = []
        for file in files {
            do {
                let text = try LetterText.read(file)
                records.append(try LetterParser.parse(text).dryRunRecord(file: file))
            } catch {
                failures.append("\(file): \(error)")
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(records), as: UTF8.self))
        } else {
            for record in records {
                let f = record.facts
                print("\(record.file): \(f.caseNumber ?? "no case number"), decided \(f.decisionDate?.iso ?? "?"), \(f.items.count) item(s)")
                for item in f.items { print("  \(item.decision.rawValue): \(item.disputed)") }
                for warning in f.warnings { print("  warning: \(warning)") }
            }
        }
        for failure in failures { FileHandle.standardError.write(Data("imr-ctl import: \(failure)\n".utf8)) }
        if !failures.isEmpty { throw ExitCode(65) }
    }
}

/// Reads a letter's text: PDFs through `pdftotext -layout`, anything else as UTF-8 text.
enum LetterText {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static func read(_ path: String) throws -> String {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw Failure(description: "cannot read the file; check the path and its permissions")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        if data.starts(with: Array("%PDF".utf8)) {
            return try pdfText(path)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw Failure(description: "neither a PDF nor UTF-8 text; give the letter as a PDF or a .txt file")
        }
        return text
    }

    static func pdfText(_ path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["pdftotext", "-layout", "-enc", "UTF-8", path, "-"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch {
            throw Failure(description: "pdftotext could not be started (\(error)); install poppler-utils (scripts/setup)")
        }
        let text = out.fileHandleForReading.readDataToEndOfFile()
        let problem = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus == 127 {
            throw Failure(description: "pdftotext is not installed; install poppler-utils (scripts/setup)")
        }
        guard process.terminationStatus == 0 else {
            throw Failure(description: "pdftotext could not read it (\(problem.trimmingCharacters(in: .whitespacesAndNewlines))); is it a damaged PDF?")
        }
        return String(decoding: text, as: UTF8.self)
    }
}
