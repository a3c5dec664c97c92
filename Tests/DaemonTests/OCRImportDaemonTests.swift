import Foundation
import TestSupport
import Testing
import Varlink

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
private let letters = repository.deletingLastPathComponent().appendingPathComponent("shared/fixtures/letters")

/// Issue 17: a letter read through OCR is recorded with every event marked as such, and
/// `imr-ctl show` lists the facts that came from OCR with the engine's confidence.
@Suite(.serialized, .timeLimit(.minutes(5))) struct OCRImportDaemonTests {
    @Test func aFaxedLetterIsRecordedWithItsOCRFactsMarked_andShowListsThem() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-ocr-daemon-\(UUID().uuidString.prefix(8))"
        )
        defer { try? FileManager.default.removeItem(at: dir) }
        let rendered = try await offThePool {
            try run([
                repository.appendingPathComponent("scripts/render-scans").path, "--seed", "17", "--out", dir.path,
                "--variant", "fax", "--rotate", "0", letters.appendingPathComponent("pdf/CM16-0229336.pdf").path,
            ])
        }
        try #require(rendered.status == 0, "\(rendered.output)")
        let fax = dir.appendingPathComponent("fax/CM16-0229336.pdf").path

        let daemon = try DaemonProcess()
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        let ctl = productsDirectory.appendingPathComponent("imr-ctl").path
        let imported = try await offThePool { try run([ctl, "import", "--socket", daemon.socketPath, fax]) }
        #expect(imported.status == 0, "\(imported.output)")
        #expect(imported.output.contains("opened case CM16-0229336"), "\(imported.output)")

        // Every event carries the OCR mark beside importedFrom; the facts name the case item.
        let history = try await offThePool {
            try daemon.client().call("io.imr.Cases.History", ["caseId": .string("CM16-0229336")])
        }
        let events = try #require(history["events"]?.elements)
        #expect(events.count == 5)
        for event in events {
            #expect(event["importedFrom"] == "IMR Final Determination CM16-0229336 (CM16-0229336.pdf)")
            let ocr = try #require(event["importedFromOCR"])
            #expect(ocr["ocr"] == .bool(true))
            #expect(ocr["engine"]?.stringValue?.hasPrefix("tesseract") == true)
            #expect(ocr["pages"]?.elements?.count == 2)
            let facts = try #require(ocr["facts"]?.elements)
            #expect(facts.contains { $0["fact"] == "decisionDate" && ($0["itemId"] ?? .null) == .null })
            #expect(facts.contains { $0["fact"] == "decision" && $0["itemId"] == "1" })
            #expect(facts.allSatisfy { ($0["confidence"]?.numeric ?? -1) >= 0 })
        }
        // The timeline of Get says the same.
        let detail = try #require(
            try await offThePool {
                try daemon.client().call("io.imr.Cases.Get", ["caseId": .string("CM16-0229336")])["case"]
            }
        )
        #expect(detail["timeline"]?.elements?.allSatisfy { $0["importedFromOCR"]?["ocr"] == .bool(true) } == true)

        let shown = try await offThePool { try run([ctl, "show", "--socket", daemon.socketPath, "CM16-0229336"]) }
        #expect(shown.status == 0, "\(shown.output)")
        #expect(shown.output.contains("Read through OCR"), "\(shown.output)")
        #expect(shown.output.contains("decisionDate:"), "\(shown.output)")
        #expect(shown.output.contains("item 1 decision:"), "\(shown.output)")

        // A letter read from its text layer is not marked.
        let text = try await offThePool {
            try run([
                ctl, "import", "--socket", daemon.socketPath,
                letters.appendingPathComponent("pdf/CM16-0213037.pdf").path,
            ])
        }
        #expect(text.status == 0, "\(text.output)")
        let plain = try await offThePool {
            try daemon.client().call("io.imr.Cases.History", ["caseId": .string("CM16-0213037")])
        }
        #expect(plain["events"]?.elements?.allSatisfy { $0["importedFromOCR"] == nil } == true)
        let plainShown = try await offThePool { try run([ctl, "show", "--socket", daemon.socketPath, "CM16-0213037"]) }
        #expect(!plainShown.output.contains("Read through OCR"))
    }
}

extension JSONValue {
    /// The elements of an array; nil for anything else.
    fileprivate var elements: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    /// A number, integer or not; nil for anything else.
    fileprivate var numeric: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }
}
