import ArgumentParser
import ChildProcess
import Foundation
import Workflow

/// When `imr-ctl import` reads a letter through OCR.
enum OCRMode: String, ExpressibleByArgument, CaseIterable {
    /// Only the pages of a PDF that have no text layer, and images.
    case auto
    /// Every page, also those with a text layer.
    case always
    /// Never: a scan is refused, as before OCR.
    case never
}

/// Reads letters in the client, never in the daemon: text files as they are, PDFs through
/// `pdftotext -layout` and, for pages without a text layer, `pdftoppm` and Tesseract; TIFF,
/// PNG and JPEG images through Tesseract. Each OCR step runs under a time limit per page.
struct LetterReader: Sendable {
    var mode: OCRMode
    /// Seconds one page may take (rendering and OCR); the whole of a TIFF gets this per page.
    var timeoutPerPage: Double
    /// Tesseract runs at once, across letters and pages.
    let slots: OCRSlots

    /// File name extensions of images read through OCR.
    static let imageExtensions: Set<String> = ["tif", "tiff", "png", "jpg", "jpeg"]

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// What reading one file gave: the facts, and the pages read through OCR with their time.
    struct Outcome {
        var facts: LetterFacts
        var ocrPages = 0
        var ocrSeconds = 0.0
    }

    func facts(of path: String) throws -> Outcome {
        let ext = (path as NSString).pathExtension.lowercased()
        if Self.imageExtensions.contains(ext) {
            guard mode != .never else {
                throw Failure(
                    description:
                        "an image (.\(ext)) is read only through OCR, and --ocr never was given; drop --ocr never"
                )
            }
            try checkReadable(path)
            let started = Date()
            let pages: [Tesseract.Page]
            var header: String?
            if let pdf = try? imageAsPDF(path) {
                // Rendered and cleaned as a PDF page is: table rules removed, a time limit a page.
                defer { pdf.directory.remove() }
                let count = pdf.pages
                (pages, header) = try ocrPDFPages(pdf.path, pages: Array(1...max(1, count)))
            } else {
                pages = try ocrImage(path)
            }
            var reading = OCRReading(
                text: pages.map(\.text).joined(separator: "\u{0C}"),
                engine: try Tesseract.version(),
                pages: Array(1...pages.count),
                words: pages.flatMap(\.words)
            )
            reading.header = header
            let facts = try LetterParser.parse(reading)
            return Outcome(facts: facts, ocrPages: pages.count, ocrSeconds: Date().timeIntervalSince(started))
        }
        let text = try LetterText.read(path)
        let isPDF =
            (try? FileHandle(forReadingFrom: URL(fileURLWithPath: path)).read(upToCount: 4)) == Data("%PDF".utf8)
        guard isPDF else {
            // A text file with --ocr always is OCR output made elsewhere: cleaned and checked
            // as OCR text, without word confidences.
            guard mode == .always else { return Outcome(facts: try LetterParser.parse(text)) }
            let pageCount = max(
                1,
                text.components(separatedBy: "\u{0C}").filter { !$0.allSatisfy(\.isWhitespace) }.count
            )
            let reading = OCRReading(text: text, engine: "OCR text file", pages: Array(1...pageCount), words: [])
            return Outcome(facts: try LetterParser.parse(reading))
        }
        // pdftotext ends every page with a form feed.
        var pages = text.components(separatedBy: "\u{0C}")
        if pages.count > 1, pages.last?.allSatisfy(\.isWhitespace) == true { pages.removeLast() }
        let blank = pages.indices.filter { pages[$0].allSatisfy(\.isWhitespace) }
        let toRead: [Int]
        switch mode {
        case .never:
            if !blank.isEmpty, blank.count == pages.count {
                throw Failure(
                    description:
                        "the PDF has no text layer (a scan or a fax) and --ocr never was given; import it with --ocr auto (the default) to read it through OCR, or enter the determination by hand"
                )
            }
            toRead = []
        case .auto: toRead = blank
        case .always: toRead = Array(pages.indices)
        }
        if toRead.isEmpty { return Outcome(facts: try LetterParser.parse(text)) }
        let started = Date()
        let (read, header) = try ocrPDFPages(path, pages: toRead.map { $0 + 1 })
        // Blank pages (a letter's empty back): OCR found nothing, so nothing came from OCR.
        if mode == .auto, read.allSatisfy({ $0.words.isEmpty }), blank.count < pages.count {
            return Outcome(facts: try LetterParser.parse(text))
        }
        var words: [OCRWord] = []
        for (index, page) in zip(toRead, read) {
            pages[index] = page.text
            words += page.words
        }
        var reading = OCRReading(
            text: pages.joined(separator: "\u{0C}"),
            engine: try Tesseract.version(),
            pages: toRead.map { $0 + 1 },
            words: words
        )
        reading.header = header
        let facts = try LetterParser.parse(reading)
        return Outcome(facts: facts, ocrPages: toRead.count, ocrSeconds: Date().timeIntervalSince(started))
    }

    private func checkReadable(_ path: String) throws {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw Failure(description: "cannot read the file; check its permissions")
        }
    }

    // MARK: PDF pages

    /// The pages (from 1) rendered at 300 dpi grey and read, in order; up to the free OCR
    /// slots at once.
    private func ocrPDFPages(_ path: String, pages: [Int]) throws -> (pages: [Tesseract.Page], header: String?) {
        // With page 1, a second reading of its header, on a thread beside the pages.
        let withHeader = pages.first == 1
        let results = concurrentMap(pages.count + (withHeader ? 1 : 0), width: slots.count) { index in
            index < pages.count
                ? Result { try self.ocrPDFPage(path, page: pages[index]) }
                : Result { Tesseract.Page(text: (try? self.ocrHeader(path)) ?? "", words: []) }
        }
        let read = try results.prefix(pages.count).map { try $0.get() }
        let header = withHeader ? try results.last?.get().text : nil
        return (read, header.flatMap { $0.allSatisfy(\.isWhitespace) ? nil : $0 })
    }

    /// The header of page 1 read a second time, differently: the top 4.4 inches at 400 dpi,
    /// table rules removed, as one block of text (Tesseract's page segmentation 6), which reads
    /// the header table row by row. Nil when it cannot be read in the time of a page.
    private func ocrHeader(_ path: String) throws -> String? {
        try slots.run {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let started = Date()
            let image = dir.path + "/header"
            let render = try Tool.run(
                "pdftoppm",
                [
                    "-r", "400", "-gray", "-f", "1", "-l", "1", "-x", "0", "-y", "0", "-W", "3400", "-H", "1760",
                    "-singlefile", path, image,
                ],
                timeout: timeoutPerPage,
                install: "poppler-utils"
            )
            guard render.exit?.succeeded == true else { return nil }
            TableRules.remove(inPGM: image + ".pgm", longerThan: 80)
            let left = timeoutPerPage - Date().timeIntervalSince(started)
            guard left > 0 else { return nil }
            let read = try Tool.run(
                "tesseract",
                [image + ".pgm", "-", "--psm", "6", "-l", "eng"],
                timeout: left,
                install: "tesseract-ocr and tesseract-ocr-eng",
                environment: ["OMP_THREAD_LIMIT": "1"]
            )
            return read.exit?.succeeded == true ? read.output : nil
        }
    }

    private func ocrPDFPage(_ path: String, page: Int) throws -> Tesseract.Page {
        try slots.run {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let started = Date()
            let image = dir.path + "/page"
            let render = try Tool.run(
                "pdftoppm",
                ["-r", "300", "-gray", "-f", String(page), "-l", String(page), "-singlefile", path, image],
                timeout: timeoutPerPage,
                install: "poppler-utils"
            )
            guard render.exit != nil else { throw timedOut(page: page) }
            guard render.exit?.succeeded == true else {
                throw Failure(
                    description: "page \(page): pdftoppm could not render it (\(render.errors)); is the PDF damaged?"
                )
            }
            // The header's table rules make Tesseract read its cells column by column, or not at all.
            TableRules.remove(inPGM: image + ".pgm", longerThan: 60)
            let left = timeoutPerPage - Date().timeIntervalSince(started)
            guard left > 0 else { throw timedOut(page: page) }
            let pages = try Tesseract.read(image + ".pgm", in: dir.path, timeout: left, pageLabel: "page \(page)")
            guard let first = pages.first else { throw timedOut(page: page) }
            return first
        }
    }

    private func timedOut(page: Int) -> Failure {
        Failure(
            description:
                "page \(page): OCR took longer than \(Self.seconds(timeoutPerPage)) (--ocr-timeout); the page may be damaged or huge: try a longer --ocr-timeout, or enter the determination by hand"
        )
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : String(format: "%.2f s", value)
    }

    // MARK: Images

    /// The image wrapped in a PDF by img2pdf (a page per TIFF page), with its page count; nil
    /// when img2pdf is missing or cannot read it (then Tesseract reads the image itself).
    private func imageAsPDF(_ path: String) throws -> (path: String, pages: Int, directory: TemporaryDirectory)? {
        let dir = try TemporaryDirectory()
        let pdf = dir.path + "/image.pdf"
        let wrap = try? Tool.run("img2pdf", [path, "-o", pdf], timeout: timeoutPerPage, install: "img2pdf")
        guard wrap?.exit?.succeeded == true,
            let text = try? Tool.run("pdftotext", [pdf, "-"], timeout: timeoutPerPage, install: "poppler-utils")
        else {
            dir.remove()
            return nil
        }
        var pages = text.output.components(separatedBy: "\u{0C}").count - 1
        if pages < 1 { pages = 1 }
        return (pdf, pages, dir)
    }

    private func ocrImage(_ path: String) throws -> [Tesseract.Page] {
        let pageCount = max(1, TIFF.pageCount(path) ?? 1)
        return try slots.run {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let timeout = timeoutPerPage * Double(pageCount)
            do {
                return try Tesseract.read(path, in: dir.path, timeout: timeout, pageLabel: "the image")
            } catch let error as Tesseract.TimedOut {
                throw Failure(
                    description:
                        "\(error.pageLabel): OCR took longer than \(Self.seconds(timeout)) (\(pageCount) page\(pageCount == 1 ? "" : "s") at --ocr-timeout \(Self.seconds(timeoutPerPage)) a page); try a longer --ocr-timeout, or enter the determination by hand"
                )
            }
        }
    }
}

/// Tesseract, run as a child process with a time limit.
enum Tesseract {
    struct Page {
        var text: String
        var words: [OCRWord]
        var meanConfidence: Double { words.isEmpty ? 0 : words.map(\.confidence).reduce(0, +) / Double(words.count) }
    }

    struct TimedOut: Error { let pageLabel: String }

    /// Below this mean word confidence a page is read again with orientation detection: it
    /// may have been fed sideways or upside down.
    static let rotationRetryBelow = 60.0

    private static let versionCache = VersionCache()

    /// "tesseract 5.3.0".
    static func version() throws -> String {
        if let cached = versionCache.value { return cached }
        let result = try Tool.run("tesseract", ["--version"], timeout: 30, install: "tesseract-ocr")
        let first = (result.output + "\n" + result.errors).split(separator: "\n").first.map(String.init) ?? "tesseract"
        let value = first.trimmingCharacters(in: .whitespaces)
        versionCache.value = value
        return value
    }

    /// Reads every page of an image (a TIFF may have several): page segmentation 3 (automatic,
    /// no orientation detection), and again with 1 (orientation and script detection first)
    /// for the pages read poorly; the better reading of each page is kept.
    static func read(_ image: String, in dir: String, timeout: Double, pageLabel: String) throws -> [Page] {
        let started = Date()
        var pages = try run(image, out: dir + "/psm3", psm: "3", timeout: timeout, pageLabel: pageLabel)
        if pages.contains(where: { $0.meanConfidence < rotationRetryBelow || $0.words.count < 20 }) {
            let left = timeout - Date().timeIntervalSince(started)
            guard left > 0 else { throw TimedOut(pageLabel: pageLabel) }
            let again = try run(image, out: dir + "/psm1", psm: "1", timeout: left, pageLabel: pageLabel)
            for index in pages.indices where index < again.count {
                if again[index].meanConfidence > pages[index].meanConfidence { pages[index] = again[index] }
            }
        }
        return pages
    }

    private static func run(
        _ image: String,
        out: String,
        psm: String,
        timeout: Double,
        pageLabel: String
    ) throws
        -> [Page]
    {
        let result = try Tool.run(
            "tesseract",
            [image, out, "--psm", psm, "-l", "eng", "txt", "tsv"],
            timeout: timeout,
            install: "tesseract-ocr and tesseract-ocr-eng",
            // One thread a run: imr-ctl runs as many runs as there are cores.
            environment: ["OMP_THREAD_LIMIT": "1"]
        )
        guard let exit = result.exit else { throw TimedOut(pageLabel: pageLabel) }
        guard exit.succeeded else {
            throw LetterReader.Failure(
                description:
                    "\(pageLabel): tesseract could not read it (\(result.errors.isEmpty ? exit.description : result.errors)); is it a damaged or unsupported image?"
            )
        }
        let text = (try? String(contentsOfFile: out + ".txt", encoding: .utf8)) ?? ""
        let tsv = (try? String(contentsOfFile: out + ".tsv", encoding: .utf8)) ?? ""
        // Tesseract ends each page's text with a form feed.
        var texts = text.components(separatedBy: "\u{0C}")
        if texts.count > 1, texts.last?.allSatisfy(\.isWhitespace) == true { texts.removeLast() }
        var words: [Int: [OCRWord]] = [:]
        for row in tsv.split(separator: "\n").dropFirst() {
            let columns = row.split(separator: "\t", omittingEmptySubsequences: false)
            guard columns.count >= 12, columns[0] == "5", let page = Int(columns[1]),
                let confidence = Double(columns[10]), confidence >= 0
            else { continue }
            let word = columns[11...].joined(separator: "\t").trimmingCharacters(in: .whitespaces)
            if !word.isEmpty { words[page, default: []].append(OCRWord(text: word, confidence: confidence)) }
        }
        return texts.indices.map { Page(text: texts[$0], words: words[$0 + 1] ?? []) }
    }
}

private final class VersionCache: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: String?
    var value: String? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// At most `count` OCR runs at once, shared by every letter and page of an import.
final class OCRSlots: @unchecked Sendable {
    let count: Int
    private let semaphore: DispatchSemaphore

    init(count: Int) {
        self.count = max(1, count)
        semaphore = DispatchSemaphore(value: self.count)
    }

    func run<T>(_ body: () throws -> T) rethrows -> T {
        semaphore.wait()
        defer { semaphore.signal() }
        return try body()
    }
}

/// `body` of 0..<count on up to `width` threads of their own (never Swift's cooperative pool:
/// each waits for child processes), in order of the indices; returns when all are done.
func concurrentMap<T>(_ count: Int, width: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
    guard count > 0 else { return [] }
    if count == 1 || width <= 1 { return (0..<count).map(body) }
    let work = SharedWork<T>(count: count)
    let group = DispatchGroup()
    for _ in 0..<min(width, count) {
        group.enter()
        Thread.detachNewThread {
            while let index = work.take() { work.put(index, body(index)) }
            group.leave()
        }
    }
    group.wait()
    return work.results
}

/// The indices handed out and the results put back, under a lock.
private final class SharedWork<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private var values: [T?]

    init(count: Int) { values = Array(repeating: nil, count: count) }

    func take() -> Int? {
        lock.withLock {
            guard next < values.count else { return nil }
            next += 1
            return next - 1
        }
    }

    func put(_ index: Int, _ value: T) { lock.withLock { values[index] = value } }

    var results: [T] { lock.withLock { values.map { $0! } } }
}

/// A private directory under the temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path =
            FileManager.default.temporaryDirectory.appendingPathComponent(
                "imr-ocr-\(getpid())-\(UUID().uuidString.prefix(8))"
            ).path
        do {
            try FileManager.default.createDirectory(
                atPath: path,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw LetterReader.Failure(description: "cannot make a temporary directory for OCR under \(path)")
        }
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A command-line tool run with a time limit; its output and complaints go to files, so a
/// chatty child never blocks on a full pipe.
enum Tool {
    struct Result {
        /// Nil when the time limit ran out (the child was killed).
        var exit: ChildExit?
        var output: String
        var errors: String
    }

    static func run(
        _ tool: String,
        _ arguments: [String],
        timeout: Double,
        install: String,
        environment: [String: String] = [:]
    ) throws -> Result {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let outPath = dir.path + "/out"
        let errPath = dir.path + "/err"
        guard FileManager.default.createFile(atPath: outPath, contents: nil),
            FileManager.default.createFile(atPath: errPath, contents: nil)
        else {
            throw LetterReader.Failure(
                description:
                    "cannot create \(tool)'s output files in \(dir.path); check the temporary directory ($TMPDIR)"
            )
        }
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        do { try process.start() } catch {
            throw LetterReader.Failure(
                description: "\(tool) could not be started (\(error)); install \(install) (scripts/setup)"
            )
        }
        let exit = process.waitForExit(seconds: max(0.001, timeout))
        if exit == nil { process.killAndWait() }
        if exit == ChildExit(status: 127, signalled: false) {
            throw LetterReader.Failure(description: "\(tool) is not installed; install \(install) (scripts/setup)")
        }
        func read(_ path: String) -> String {
            String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        }
        return Result(
            exit: exit,
            output: read(outPath),
            errors: String(read(errPath).prefix(400)).trimmingCharacters(in: .whitespacesAndNewlines)
        )
    }
}

/// The number of pages (image file directories) of a TIFF; nil for another format.
enum TIFF {
    static func pageCount(_ path: String) -> Int? {
        guard let data = FileManager.default.contents(atPath: path), data.count >= 8 else { return nil }
        let bytes = [UInt8](data)
        let little: Bool
        switch (bytes[0], bytes[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= bytes.count else { return nil }
            return little ? Int(bytes[at]) | Int(bytes[at + 1]) << 8 : Int(bytes[at]) << 8 | Int(bytes[at + 1])
        }
        func u32(_ at: Int) -> Int? {
            guard let a = u16(at), let b = u16(at + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard u16(2) == 42, var offset = u32(4) else { return nil }
        var count = 0
        var seen = Set<Int>()
        // Bounded: a damaged file cannot loop.
        while offset != 0, count < 10_000, seen.insert(offset).inserted, let entries = u16(offset) {
            count += 1
            guard let next = u32(offset + 2 + entries * 12) else { break }
            offset = next
        }
        return count
    }
}

/// Removes the rules of tables and frames from a page image: the page is straightened
/// (``Deskew``) and made black and white (a little under Otsu's threshold), then runs of black
/// longer than `longerThan`
/// along a row or a column (no letter of the letters' type is that long at 300 dpi) are made
/// white. Works on 8-bit PGM (P5), as pdftoppm -gray writes it; another file is left as it is.
enum TableRules {
    static func remove(inPGM path: String, longerThan limit: Int) {
        guard var data = FileManager.default.contents(atPath: path) else { return }
        guard let (width, height, start) = header(data), data.count - start == width * height else { return }
        data.withUnsafeMutableBytes { raw in
            let pixels = UnsafeMutableBufferPointer(rebasing: raw.bindMemory(to: UInt8.self)[start...])
            // A little under Otsu's level: thinner strokes keep 3 from 8 and 0 from 9 (measured on
            // the fixture renders: 128 rather than 145 on a grey scan).
            // On a page already black and white Otsu's level is 1: there, half way, for the grey
            // a turn interpolates between black and white.
            let level = otsu(pixels)
            let threshold = level <= 1 ? 128 : UInt8(Double(level) * 0.88)
            // Straight first: a rule 1.5 degrees askew breaks into runs shorter than the limit.
            // Turned in grey, then made black and white: a black-and-white page turned breaks
            // its strokes into steps.
            Deskew.straighten(pixels, width: width, height: height, inkBelow: threshold)
            for i in pixels.indices { pixels[i] = pixels[i] < threshold ? 0 : 255 }
            let source = [UInt8](pixels)
            for y in 0..<height {
                let row = y * width
                var x = 0
                while x < width {
                    guard source[row + x] == 0 else {
                        x += 1
                        continue
                    }
                    let runStart = x
                    while x < width, source[row + x] == 0 { x += 1 }
                    guard x - runStart >= limit else { continue }
                    // With the row above and below: a rule straightened by a turn of the page
                    // leaves a ragged edge of short runs along it.
                    for r in [row - width, row, row + width] where r >= 0 && r + width <= pixels.count {
                        for i in runStart..<x { pixels[r + i] = 255 }
                    }
                }
            }
            for x in 0..<width {
                var y = 0
                while y < height {
                    guard source[y * width + x] == 0 else {
                        y += 1
                        continue
                    }
                    let runStart = y
                    while y < height, source[y * width + x] == 0 { y += 1 }
                    if y - runStart >= limit { for i in runStart..<y { pixels[i * width + x] = 255 } }
                }
            }
        }
        try? data.write(to: URL(fileURLWithPath: path))
    }

    /// Width, height and where the pixels start, for an 8-bit P5 PGM.
    private static func header(_ data: Data) -> (Int, Int, Int)? {
        let bytes = [UInt8](data.prefix(64))
        guard bytes.count > 8, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "5") else { return nil }
        var fields: [Int] = []
        var index = 2
        while fields.count < 3 {
            while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
            var value = 0
            var digits = 0
            while index < bytes.count, (0x30...0x39).contains(bytes[index]), digits < 7 {
                value = value * 10 + Int(bytes[index] - 0x30)
                index += 1
                digits += 1
            }
            guard digits > 0 else { return nil }
            fields.append(value)
        }
        guard fields[2] == 255, fields[0] > 0, fields[1] > 0 else { return nil }
        return (fields[0], fields[1], data.startIndex + index + 1)
    }

    /// Otsu's threshold: the grey level that best splits the page into ink and paper.
    static func otsu(_ pixels: UnsafeMutableBufferPointer<UInt8>) -> UInt8 {
        var histogram = [Int](repeating: 0, count: 256)
        for value in pixels { histogram[Int(value)] += 1 }
        let total = Double(pixels.count)
        let sum = histogram.enumerated().reduce(0.0) { $0 + Double($1.offset * $1.element) }
        var sumBelow = 0.0
        var weightBelow = 0.0
        var best = 0.0
        var threshold = 128
        for level in 0..<256 {
            weightBelow += Double(histogram[level])
            guard weightBelow > 0 else { continue }
            let weightAbove = total - weightBelow
            guard weightAbove > 0 else { break }
            sumBelow += Double(level * histogram[level])
            let meanBelow = sumBelow / weightBelow
            let meanAbove = (sum - sumBelow) / weightAbove
            let between = weightBelow * weightAbove * (meanBelow - meanAbove) * (meanBelow - meanAbove)
            if between > best {
                best = between
                threshold = level + 1
            }
        }
        return UInt8(min(255, threshold))
    }
}
