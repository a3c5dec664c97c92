import ArgumentParser
import EventStore
import Foundation

/// `imr-ctl demo`: a short, self-contained tour of the event log on a private file.
///
/// Until the daemon exists this shows what the foundation guarantees: appends with
/// expected versions, idempotent retries, a live subscription, the hash chain catching a
/// tampered row, and an online backup.
public struct Demo: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Run a short demonstration of the imr event log on a private state directory.")

    @Option(name: .customLong("state-dir"), help: "Directory for the demo's files (default: a new temporary directory).")
    var stateDirectory: String?

    @Flag(help: "Keep the demo's files instead of removing them at the end.")
    var keep = false

    public init() {}

    public func run() async throws {
        let dir = stateDirectory.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("imr-demo-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("imr.sqlite").path
        if FileManager.default.fileExists(atPath: path) {
            throw ValidationError("\(path) already exists; give --state-dir a new directory so the demo does not add to real data")
        }
        defer {
            if !keep && stateDirectory == nil { try? FileManager.default.removeItem(at: dir) }
        }
        let store = try EventStore(path: path)
        defer { store.close() }
        say("Event log: \(path) (SQLite, WAL, synchronous=FULL)")

        // A live subscriber, as the daemon's alert scheduler will be.
        let follower = Task { () -> [String] in
            var seen: [String] = []
            for try await e in store.subscribe(from: 1) {
                seen.append("\(e.position) \(e.streamId) v\(e.streamVersion) \(e.type)")
                if seen.count == 6 { break }
            }
            return seen
        }

        let actor = EventMetadata(actor: "uid:\(getuid()) demo", correlationId: UUID().uuidString.lowercased())
        func json(_ object: [String: String]) -> [UInt8] {
            Array(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
        }
        let opened = NewEvent(type: "CaseOpened", payload: json(["claim": "ADJ0000001", "coordinator": "demo"]), metadata: actor)
        let rfa = NewEvent(type: "RFAReceived", payload: json(["rfa": "R1", "item": "8 massage therapy visits", "via": "fax"]), metadata: actor)
        let first = try store.append(to: "case-DEMO-1", expected: .noStream, events: [opened, rfa])
        say("Appended \(first.events.count) events to case-DEMO-1 at positions \(first.events.map(\.position)); stream now at version \(first.streamVersion)")

        let retry = try store.append(to: "case-DEMO-1", expected: .noStream, events: [opened, rfa])
        say("Re-sent the same two events (a client retry): already stored = \(retry.wasAlreadyStored); head still \(try store.headPosition())")

        do {
            try store.append(to: "case-DEMO-1", expected: .exact(1), events: [NewEvent(type: "URDecisionIssued", payload: json(["item": "1", "outcome": "denied"]), metadata: actor)])
        } catch {
            say("A writer holding a stale version is refused: \(error)")
        }
        try store.append(to: "case-DEMO-1", expected: .exact(2), events: [NewEvent(type: "URDecisionIssued", payload: json(["item": "1", "outcome": "denied"]), metadata: actor)])
        try store.append(to: "case-DEMO-2", expected: .noStream, events: [
            NewEvent(type: "CaseOpened", payload: json(["claim": "ADJ0000002", "coordinator": "demo"]), metadata: actor),
            NewEvent(type: "RFAReceived", payload: json(["rfa": "R1", "item": "MRI lumbar spine", "via": "mail"]), metadata: actor),
            NewEvent(type: "NoteAdded", payload: json(["text": "called the adjuster"]), metadata: actor),
        ])

        let seen = try await follower.value
        say("A subscriber caught up and then followed live, in order:")
        for line in seen { say("    \(line)") }

        let report = try store.verify()
        say("Hash chain verified: \(report.eventsChecked) events, intact = \(report.isIntact)")

        let backupPath = dir.appendingPathComponent("backup.sqlite").path
        let backup = try store.backup(to: backupPath)
        say("Online backup written to \(backup.path): \(backup.events) events up to position \(backup.headPosition)")

        say("History of case-DEMO-1:")
        for e in try store.read(stream: "case-DEMO-1") {
            say("    v\(e.streamVersion) \(e.type) \(String(decoding: e.payload, as: UTF8.self)) by \(e.metadata.actor ?? "?") hash \(e.hash.hexString.prefix(12))")
        }
        if keep || stateDirectory != nil {
            say("Files kept in \(dir.path). Inspect with: sqlite3 \(path) 'SELECT position, stream_id, event_type FROM events'")
        }
    }

    private func say(_ line: String) { print(line) }
}
