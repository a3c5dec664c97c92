import ArgumentParser
import ChildProcess
import Foundation
import IMRWire
import Varlink
import Workflow

/// `imr-ctl import`: reads IMR Final Determination letters (PDF through pdftotext, or text)
/// and records them into cases through the daemon; with `--dry-run`, only prints the facts
/// they carry, without a daemon.
package struct Import: ParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract:
            "Record IMR Final Determination letters (PDF, scans and faxes, or .txt) into cases, or show the facts they carry.",
        discussion: """
            A directory stands for every .pdf, .txt, .tif, .tiff, .png, .jpg and .jpeg file directly in it, \
            in name order. Every file is read and parsed first; if any cannot be read (a page OCR cannot \
            read, an unrelated PDF, empty input) or lacks the header facts an import needs (IMR case number, \
            decision date), the files at fault are named, nothing is imported, and the exit status is 65. \
            Then each letter is recorded as one daemon call, all of it or nothing: into the case named \
            with --case, else the case whose items carry the letter's IMR case number, else a new case \
            named by that number (opened with the letter's date of injury; claim number, employer and \
            claims administrator read "unknown (imported from letter CM..)"; no RFA or UR time is \
            invented, so no UR clock runs for imported items). Letter items are matched to case items \
            by normalised text, else in order when the counts agree. Importing a letter again changes \
            nothing. A letter that contradicts the case is refused with the differences (field, recorded \
            value, letter value) and nothing is written, unless --force, which records a correction of \
            each difference (a different decision for an item cannot be corrected and stays refused). \
            A refused letter does not undo the others. Letters for different IMR case numbers go over \
            up to 8 connections at once, so the daemon commits those waiting in one transaction; the \
            letters of one case number are recorded in file order, and lines are printed in file order.

            Exit status: 0 all recorded (or already recorded); 1 a letter was refused (contradiction, \
            unmatched items, lifecycle refusal); 65 a file is unreadable or lacks facts (nothing \
            imported); 69 no daemon; 77 not a coordinator.

            --json prints an array with one object per file: file, case_number, case_id, status \
            ("opened", "recorded", "corrected", "already-recorded" or "refused"), opened_case, \
            events (type names written), determined_items (case item ids), items (letter_index, \
            item_id, how: "new", "text" or "order"), differences (field, item_id, recorded, letter, \
            correctable: the contradictions, or with --force those corrected) and message (null unless \
            refused).

            --dry-run --json prints a JSON array, one object per file, with exactly: file, case_number, \
            date_assigned, date_of_injury, decision_date, ur_denial_date, application_received, priority, \
            reviewer_specialty, items (disputed, decision, original_request, authorized_portion, guideline) \
            warnings and ocr (null unless read through OCR: engine, pages, confidence, fieldConfidence). A fact \
            the letter does not carry is null. PDFs need pdftotext (poppler-utils).

            Scans and faxes: a PDF page with no text layer, and a TIFF, PNG or JPEG image (a TIFF may hold \
            several pages; a PNG or JPEG is one image), is read in imr-ctl through Tesseract OCR (tesseract-ocr, \
            English; pages fed sideways or upside down are turned, skew is straightened), as many pages at \
            once as there are cores, with a progress line on standard error. --ocr always reads every PDF page \
            through OCR (and takes a text file as OCR output made elsewhere: cleaned and checked as OCR text, \
            without confidences); --ocr never refuses a scan. OCR is checked against what a letter can say: a case \
            number must read CM, two digits, a hyphen and seven digits, dates must exist and come in order, \
            decisions are Upheld or Overturned; letters read as digits there (l, I, O) are corrected with a \
            warning naming the fact, and every fact the engine read with a word confidence below 80% is a \
            warning too. A letter whose case number or decision date cannot be read is refused, as a text \
            letter is. Every event recorded from an OCR reading carries importedFromOCR (engine, \
            confidence per fact) in its metadata, and `imr-ctl show` lists those facts to check.
            """
    )

    @Flag(name: .customLong("dry-run"), help: "Only read the letters; write nothing (needs no daemon).")
    var dryRun = false

    @Flag(help: "Print JSON.")
    var json = false

    @Option(
        name: .customLong("case"),
        help: ArgumentHelp("Record into this case (opened when it does not exist).", valueName: "case-id")
    )
    var caseId: String?

    @Flag(help: "Record corrections for the facts the letter contradicts, instead of refusing it.")
    var force = false

    @Option(
        help: ArgumentHelp(
            "When to read through OCR: auto (PDF pages without a text layer, and images), always (every page), never.",
            valueName: "when"
        )
    )
    var ocr: OCRMode = .auto

    @Option(
        name: .customLong("ocr-timeout"),
        help: ArgumentHelp("Seconds OCR may take for one page before the letter is refused.", valueName: "seconds")
    )
    var ocrTimeout: Double = 120

    @OptionGroup var connection: ConnectionOptions

    @Argument(
        help:
            "The letters: .pdf, text or image (.tif .png .jpg) files, or directories (every such file directly in them, by name)."
    )
    var files: [String]

    package init() {}

    package func validate() throws {
        guard !files.isEmpty else { throw ValidationError("name at least one letter (a .pdf or .txt file)") }
        if dryRun, force || caseId != nil {
            throw ValidationError(
                "--dry-run records nothing, so --case and --force do not apply; leave them out or drop --dry-run"
            )
        }
        if let caseId, caseId.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--case needs a case id")
        }
        guard ocrTimeout > 0, ocrTimeout <= 3600 else {
            throw ValidationError("--ocr-timeout takes seconds a page, more than 0 and at most 3600")
        }
    }

    package func run() throws {
        var letters: [(file: String, facts: LetterFacts)] = []
        var failures: [String] = []
        var paths: [String] = []
        for argument in files {
            do { paths += try LetterText.files(in: argument) } catch { failures.append("\(argument): \(error)") }
        }
        let read = readAll(paths)
        for (file, outcome) in zip(paths, read) {
            do {
                let facts = try outcome.get()
                if !dryRun {
                    let missing = LetterImport.missingFacts(facts)
                    if !missing.isEmpty {
                        failures.append(
                            "\(file): the letter carries \(missing.joined(separator: ", ")) (no header block), so it cannot be tied to an IMR review; record its determination by hand or import a copy with the header"
                        )
                        continue
                    }
                }
                letters.append((file, facts))
            } catch {
                failures.append("\(file): \(error)")
            }
        }
        if dryRun {
            printDryRun(letters.map { $0.facts.dryRunRecord(file: $0.file) })
        }
        if !failures.isEmpty {
            for failure in failures { Output.error("import: \(failure)") }
            if !dryRun { Output.error("import: nothing was imported; fix or leave out the files named above") }
            throw ExitCode(ExitStatus.dataError.rawValue)
        }
        if dryRun { return }

        let outcome = recordAll(letters)
        let reports = outcome.reports
        if let failure = outcome.failure {
            if json { Output.json(.array(reports.map(\.json))) }
            Output.error(
                failure.message
                    + (reports.isEmpty
                        ? "" : " (\(reports.count) of \(letters.count) letters were handled before this)")
            )
            throw ExitCode(failure.status.rawValue)
        }
        if json { Output.json(.array(reports.map(\.json))) }
        let refused = reports.filter { $0.status == "refused" }.count
        if refused > 0 {
            Output.error(
                "import: \(refused) of \(reports.count) letter\(reports.count == 1 ? "" : "s") refused; nothing was written for \(refused == 1 ? "it" : "them")"
            )
            throw ExitCode(ExitStatus.refused.rawValue)
        }
    }

    /// Reads every file, as many at once as there are cores (OCR is what takes time); a
    /// progress line on standard error once a letter needed OCR.
    private func readAll(_ paths: [String]) -> [Result<LetterFacts, Error>] {
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let reader = LetterReader(mode: ocr, timeoutPerPage: ocrTimeout, slots: OCRSlots(count: cores))
        let progress = ReadProgress(total: paths.count)
        let results = concurrentMap(paths.count, width: cores) { index in
            let outcome = Result { try reader.facts(of: paths[index]) }
            progress.done((try? outcome.get()).map { ($0.ocrPages, $0.ocrSeconds) })
            return outcome.map(\.facts)
        }
        progress.finish()
        return results
    }

    private func printDryRun(_ records: [LetterDryRunRecord]) {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: (try? encoder.encode(records)) ?? Data("[]".utf8), as: UTF8.self))
        } else {
            for record in records {
                let f = record.facts
                print(
                    "\(record.file): \(f.caseNumber ?? "no case number"), decided \(f.decisionDate?.iso ?? "?"), \(f.items.count) item(s)"
                )
                if let ocr = f.ocr {
                    print(
                        "  read through OCR (\(ocr.engine), pages \(ocr.pages.map(String.init).joined(separator: ",")), mean confidence \(ocr.confidence.map { "\(Int($0.rounded()))%" } ?? "not given"))"
                    )
                }
                for item in f.items { print("  \(item.decision.rawValue): \(item.disputed)") }
                for warning in f.warnings { print("  warning: \(warning)") }
            }
        }
    }

    /// Letters for different cases go over up to ``parallelConnections`` connections at once,
    /// so the daemon's writer commits them together (group commit: one transaction and one
    /// fsync for the letters waiting, each letter still all or nothing); the letters naming
    /// one IMR case number go in file order over one connection. Lines are printed in file
    /// order as soon as each letter and those before it are done. A failure that is not a
    /// refusal (no daemon, no permission) stops the others after their current letter.
    private func recordAll(
        _ letters: [(file: String, facts: LetterFacts)]
    ) -> (reports: [ImportReport], failure: CommandFailure?) {
        var lanes: [[Int]] = []
        var laneOf: [String: Int] = [:]
        for (index, letter) in letters.enumerated() {
            let key = caseId ?? letter.facts.caseNumber ?? "file:\(letter.file)"
            if let lane = laneOf[key] {
                lanes[lane].append(index)
            } else {
                laneOf[key] = lanes.count
                lanes.append([index])
            }
        }
        // Fewer connections than case numbers: each takes whole lanes, so a case's letters keep their order.
        let width = min(Self.parallelConnections, lanes.count)
        var work = Array(repeating: [Int](), count: width)
        for (n, lane) in lanes.enumerated() { work[n % width] += lane }
        let state = ImportProgress(count: letters.count, printLines: !json)
        let assigned = work
        DispatchQueue.concurrentPerform(iterations: width) { worker in
            for index in assigned[worker] {
                if state.stopped { return }
                do {
                    state.done(index, try record(letters[index].facts, file: letters[index].file))
                } catch let failure as CommandFailure {
                    state.fail(failure)
                    return
                } catch {
                    state.fail(CommandFailure("\(letters[index].file): \(error)", status: .software))
                    return
                }
            }
        }
        return state.result
    }

    /// Connections an import keeps busy at once.
    static let parallelConnections = 8

    /// One letter, one `io.imr.Cases.ImportDetermination` call.
    private func record(_ facts: LetterFacts, file: String) throws -> ImportReport {
        let source = LetterImport.sourceDescription(facts, file: URL(fileURLWithPath: file).lastPathComponent)
        let request = ImportDeterminationRequest(letter: facts, caseId: caseId, force: force, source: source)
        var report = ImportReport(file: file, caseNumber: facts.caseNumber)
        let reply: [String: JSONValue]
        do {
            reply = try DaemonClient(connection).call(
                request,
                passing: [
                    "io.imr.Cases.LetterContradicts", "io.imr.Cases.LetterNotImportable",
                    "io.imr.Cases.TransitionRefused",
                ]
            )
        } catch let error as VarlinkError {
            report.status = "refused"
            report.caseId = error.parameters["caseId"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? caseId
            report.message = error.parameters["message"]?.stringValue ?? error.name
            report.differences = try DaemonClient.decode(
                [LetterDifference].self,
                value: error.parameters["differences"] ?? .array([]),
                method: ImportDeterminationRequest.method
            )
            return report
        }
        let imported = try DaemonClient.decode(
            ImportDeterminationReply.self,
            reply,
            method: ImportDeterminationRequest.method
        ).imported
        report.caseId = imported.caseId
        report.openedCase = imported.openedCase
        report.events = imported.events
        report.determinedItems = imported.determinedItems
        report.items = imported.items
        report.differences = imported.corrected
        if imported.alreadyRecorded {
            report.status = "already-recorded"
        } else if report.openedCase {
            report.status = "opened"
        } else if !report.differences.isEmpty {
            report.status = "corrected"
        } else {
            report.status = "recorded"
        }
        return report
    }
}

/// One difference between a letter and a case, as the daemon reports it.
extension LetterDifference {
    var text: String {
        "\(field)\(itemId.map { " (item \($0.rawValue))" } ?? ""): recorded \(recorded), letter \(letter)"
    }

    var json: JSONValue {
        .object([
            "field": .string(field), "item_id": itemId.map { .string($0.rawValue) } ?? .null,
            "recorded": .string(recorded),
            "letter": .string(letter), "correctable": .bool(correctable),
        ])
    }
}

/// What happened to one file.
struct ImportReport {
    var file: String
    var caseNumber: String?
    var caseId: String?
    var status = "refused"
    var openedCase = false
    var events: [String] = []
    var determinedItems: [String] = []
    var items: [LetterItemMatch] = []
    var differences: [LetterDifference] = []
    var message: String?

    /// One line per file (refusals add an indented line per difference).
    var line: String {
        let name = caseNumber ?? file
        let count = determinedItems.count
        let determined = "recorded determination for \(count) item\(count == 1 ? "" : "s")"
        switch status {
        case "opened": return "\(name): opened case \(caseId ?? "?"), \(determined)"
        case "already-recorded": return "\(name): already recorded on case \(caseId ?? "?"), nothing changed"
        case "corrected":
            return
                "\(name): corrected \(differences.count) fact\(differences.count == 1 ? "" : "s") on case \(caseId ?? "?")"
                + (count > 0 ? ", \(determined)" : "") + differences.map { "\n  corrected \($0.text)" }.joined()
        case "recorded": return "\(name): \(determined) on case \(caseId ?? "?")"
        default:
            let detail =
                differences.isEmpty
                ? "\(message ?? "refused")"
                : "the letter contradicts case \(caseId ?? "?"), nothing recorded"
                    + differences.map { "\n  \($0.text)\($0.correctable ? "" : " (cannot be corrected)")" }.joined()
                    + "\n  import with --force to record corrections"
            return "\(name): refused: \(detail)"
        }
    }

    var json: JSONValue {
        .object([
            "file": .string(file), "case_number": caseNumber.map { .string($0) } ?? .null,
            "case_id": caseId.map { .string($0) } ?? .null, "status": .string(status), "opened_case": .bool(openedCase),
            "events": .array(events.map { .string($0) }),
            "determined_items": .array(determinedItems.map { .string($0) }),
            "items": .array(
                items.map { item in
                    .object([
                        "letter_index": .int(Int64(item.letterIndex)), "item_id": .string(item.itemId.rawValue),
                        "how": .string(item.how),
                    ])
                }
            ),
            "differences": .array(differences.map(\.json)), "message": message.map { .string($0) } ?? .null,
        ])
    }
}

/// Reads a letter's text: PDFs through `pdftotext -layout`, anything else as UTF-8 text.
enum LetterText {
    struct Failure: Error, CustomStringConvertible { let description: String }

    /// The letters an argument names: the file itself, or every .pdf and .txt file directly in
    /// a directory (sorted by name; hidden files left out). A directory with none is an error.
    static func files(in argument: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
            throw Failure(description: "no such file or directory; check the path")
        }
        guard isDirectory.boolValue else { return [argument] }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: argument) else {
            throw Failure(description: "cannot list the directory; check its permissions")
        }
        let base = argument.hasSuffix("/") ? argument : argument + "/"
        let letters = names.filter { name in
            let ext = (name as NSString).pathExtension.lowercased()
            return !name.hasPrefix(".") && (["pdf", "txt"].contains(ext) || LetterReader.imageExtensions.contains(ext))
        }.sorted().map { base + $0 }.filter { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
        }
        guard !letters.isEmpty else {
            throw Failure(
                description:
                    "a directory with no .pdf or .txt file (nor a .tif, .tiff, .png, .jpg or .jpeg image) in it; name the letters, or a directory that holds them"
            )
        }
        return letters
    }

    static func read(_ path: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw Failure(description: "no such file; check the path")
        }
        guard !isDirectory.boolValue else {
            throw Failure(description: "a directory, not a letter")
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw Failure(description: "cannot read the file; check its permissions")
        }
        // Foundation's own error text (NSCocoaErrorDomain ...) never reaches the user.
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path)) else {
            throw Failure(description: "cannot read the file (is it a special file, or on a disk that failed?)")
        }
        if data.starts(with: Array("%PDF".utf8)) {
            return try pdfText(path)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw Failure(description: "neither a PDF nor UTF-8 text; give the letter as a PDF or a .txt file")
        }
        return text
    }

    static func pdfText(_ path: String) throws -> String {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["pdftotext", "-layout", "-enc", "UTF-8", path, "-"]
        let out = Pipe.forChild()
        // Its complaints go to a file: a damaged PDF can print more than a pipe holds while
        // standard output is still being read.
        let errPath = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-pdftotext-\(getpid())-\(UUID().uuidString.prefix(8))"
        ).path
        // Should it not be made, the handle below is nil and the complaints reach our own stderr.
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errPath) }
        process.standardOutput = out
        process.standardError = FileHandle(forWritingAtPath: errPath)
        do { try process.start() } catch {
            throw Failure(
                description: "pdftotext could not be started (\(error)); install poppler-utils (scripts/setup)"
            )
        }
        let text = out.fileHandleForReading.readDataToEndOfFile()
        let exit = process.waitForExit()
        let problem = String(
            String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self).prefix(400)
        )
        if exit == ChildExit(status: 127, signalled: false) {
            throw Failure(description: "pdftotext is not installed; install poppler-utils (scripts/setup)")
        }
        guard exit.succeeded else {
            throw Failure(
                description:
                    "pdftotext could not read it (\(problem.trimmingCharacters(in: .whitespacesAndNewlines))); is it a damaged PDF?"
            )
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// The reports of an import as its connections finish them, printed in file order.
final class ImportProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var reports: [ImportReport?]
    private var printed = 0
    private var failure: CommandFailure?
    private let printLines: Bool

    init(count: Int, printLines: Bool) {
        reports = Array(repeating: nil, count: count)
        self.printLines = printLines
    }

    var stopped: Bool { lock.withLock { failure != nil } }

    func done(_ index: Int, _ report: ImportReport) {
        lock.withLock {
            reports[index] = report
            while printed < reports.count, let next = reports[printed] {
                if printLines { print(next.line) }
                printed += 1
            }
        }
    }

    func fail(_ error: CommandFailure) {
        lock.withLock { if failure == nil { failure = error } }
    }

    /// The reports done, in file order, and the failure that stopped the import if one did.
    var result: (reports: [ImportReport], failure: CommandFailure?) {
        lock.withLock { (reports.compactMap { $0 }, failure) }
    }
}

// @unchecked Sendable: an Import is its parsed options (strings, flags, the connection's
// socket path), read and never changed while its letters are recorded from several threads.
extension Import: @unchecked Sendable {}

/// The progress line of a long read: shown on standard error once a letter needed OCR,
/// rewritten in place on a terminal, one line per letter otherwise.
final class ReadProgress: @unchecked Sendable {
    private let lock = NSLock()
    private let total: Int
    private var done = 0
    private var pages = 0
    private let started = Date()
    private var shown = false
    private let terminal = isatty(2) != 0

    init(total: Int) { self.total = total }

    /// One letter read; `ocr` is its OCR pages and their time, nil when it failed.
    func done(_ ocr: (pages: Int, seconds: Double)?) {
        lock.withLock {
            done += 1
            if let ocr, ocr.pages > 0 { pages += ocr.pages }
            guard pages > 0 else { return }
            shown = true
            let line =
                "import: read \(done) of \(total) letter\(total == 1 ? "" : "s"), \(pages) page\(pages == 1 ? "" : "s") through OCR"
                + String(format: " in %.0f s", Date().timeIntervalSince(started))
            FileHandle.standardError.write(Data((terminal ? "\r\(line)" : line + "\n").utf8))
        }
    }

    func finish() {
        lock.withLock { if shown, terminal { FileHandle.standardError.write(Data("\n".utf8)) } }
    }
}
