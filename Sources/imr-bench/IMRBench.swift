// imr-bench: measures the event store against raw SQLite on the same schema and file system.
// Build in release (`swift build -c release --product imr-bench`); see BENCHMARKS.md.
import ArgumentParser
import CSQLite
import EventStore
import Foundation
import IMRWire
import IMRCommandLine
import IMRService
import Varlink
import Workflow

@main
struct IMRBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imr-bench",
        abstract: "imr's benchmark and torture tools (see BENCHMARKS.md and RELIABILITY.md).",
        subcommands: [
            StoreBench.self, Load.self, Seed.self, Reads.self, Rebuild.self, Torture.self, Attack.self, Decode.self,
            Derive.self,
        ],
        defaultSubcommand: StoreBench.self
    )
}

struct StoreBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Measure durable appends: raw SQLite next to the imr event store, on one file system (the default).",
        discussion: """
            Four measurements on fresh files in --dir, each with synchronous=FULL unless --synchronous normal:
              raw single     one INSERT per transaction, same schema and indexes, no event-store logic
              raw batched    --batch INSERTs per transaction
              store single   EventStore.append of one event per call (hash chain, expectation check, idempotency lookup)
              store batched  EventStore.append(batch:) of --batch one-event requests per transaction
            Payloads are about 200 bytes of JSON spread over --streams streams.
            Then the daemon's own work without the socket: the demo's synthetic caseload (--cases cases, about seven
            lifecycle commands each) through CaseService, each command decided against its case and appended with the
            daemon's read models (case list, case items, deadlines) updated in the same transaction; and the alert
            scheduler's passes over that caseload (the first raises what is due, the next find nothing new).
            """
    )

    @Option(help: "Directory for the benchmark files (the file system under test).")
    var dir: String = FileManager.default.temporaryDirectory.path

    @Option(help: "Single-row commits to time for each single measurement.")
    var singles: Int = 2000

    @Option(help: "Rows to write for each batched measurement.")
    var rows: Int = 50_000

    @Option(help: "Rows per transaction in the batched measurements.")
    var batch: Int = 1000

    @Option(help: "Distinct streams the events are spread over.")
    var streams: Int = 10_000

    @Option(help: "full or normal.")
    var synchronous: String = "full"

    @Option(help: "Synthetic cases for the lifecycle measurement (0 skips it).")
    var cases: Int = 1000

    func validate() throws {
        guard ["full", "normal"].contains(synchronous) else {
            throw ValidationError("--synchronous must be 'full' or 'normal', not '\(synchronous)'")
        }
        guard singles > 0, rows > 0, batch > 0, streams > 0 else {
            throw ValidationError("--singles, --rows, --batch and --streams must be positive")
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw ValidationError("--dir \(dir) is not a directory; create it or name another")
        }
    }

    func run() throws {
        let work = URL(fileURLWithPath: dir).appendingPathComponent("imr-bench-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let payload = Array(
            #"{"claim":"ADJ12345678","item":"8 massage therapy visits over 1 month lumbar spine","outcome":"denied","at":"2024-03-05T16:10:00-08:00","by":"UR"}"#
                .utf8
        )

        print(
            "imr-bench: \(ProcessInfo.processInfo.hostName), \(ProcessInfo.processInfo.activeProcessorCount) cores, SQLite \(String(cString: sqlite3_libversion())), synchronous=\(synchronous.uppercased()), dir \(dir)"
        )
        let rawSingle = try measure(count: singles) {
            try RawWriter(path: work.appendingPathComponent("raw1.sqlite").path, synchronous: synchronous)
        } body: { w, n in
            try w.insert(rows: 1, start: n, payload: payload, streams: streams)
        }
        let rawBatched =
            try measure(count: rows / batch) {
                try RawWriter(path: work.appendingPathComponent("raw2.sqlite").path, synchronous: synchronous)
            } body: { w, n in
                try w.insert(rows: batch, start: n * batch, payload: payload, streams: streams)
            } * Double(batch)

        let options = EventStore.Options(synchronous: synchronous == "full" ? .full : .normal)
        let storeSingle = try measure(count: singles) {
            try EventStore(path: work.appendingPathComponent("store1.sqlite").path, options: options)
        } body: { s, n in
            try s.append(to: "case-\(n % streams)", expected: .any, events: [NewEvent(type: "Bench", payload: payload)])
        }
        let storeBatched =
            try measure(count: rows / batch) {
                try EventStore(path: work.appendingPathComponent("store2.sqlite").path, options: options)
            } body: { s, n in
                let requests = (0..<batch).map { i in
                    AppendRequest(
                        streamId: "case-\((n * batch + i) % streams)",
                        expected: .any,
                        events: [NewEvent(type: "Bench", payload: payload)]
                    )
                }
                _ = try s.append(batch: requests)
            } * Double(batch)

        func line(_ name: String, _ raw: Double, _ store: Double) {
            let ratio = store / raw
            print(
                String(
                    format: "%-22@ raw %10.0f/s   store %10.0f/s   store/raw %5.2f",
                    name as NSString,
                    raw,
                    store,
                    ratio
                )
            )
        }
        line("single durable commits", rawSingle, storeSingle)
        line("batched (\(batch)/txn)", rawBatched, storeBatched)

        guard cases > 0 else { return }
        var caseload = SyntheticCaseload(
            now: Date(),
            count: cases,
            seed: 2026,
            coordinators: ["maria", "jorge", "priya", "li"]
        )
        let commands = try caseload.calls().map { call in
            (
                caseId: CaseID(call.parameters["caseId"]?.stringValue ?? ""),
                command: try RecordingCall.command(
                    for: VarlinkCall(method: "io.imr.Cases.\(call.method)", parameters: call.parameters)
                )
            )
        }
        let casesPath = work.appendingPathComponent("cases.sqlite").path
        let lifecycle = try measure(count: commands.count) {
            CaseService(store: try EventStore(path: casesPath, options: options, projections: ReadModels.all()))
        } body: { service, n in
            _ = try service.execute(
                commands[n].command,
                on: commands[n].caseId,
                actor: Actor(uid: 0, name: "bench"),
                commandId: UUID(),
                now: Date()
            )
        }
        print(
            String(
                format:
                    "%-22@ %10.0f lifecycle commands/s (%d commands over %d cases, read models updated in each append)",
                "caseload" as NSString,
                lifecycle,
                commands.count,
                cases
            )
        )

        // The alert scheduler over that caseload: the first pass raises every alert due now,
        // the later ones (what runs after each commit) find nothing due.
        let store = try EventStore(path: casesPath, options: options, projections: ReadModels.all())
        defer { store.close() }
        let scheduler = AlertScheduler(store: store)
        let openDeadlines = try store.read {
            try $0.query("SELECT COUNT(*) FROM deadlines WHERE is_open = 1").first?[0].int64 ?? 0
        }
        var start = ContinuousClock.now
        let first = try scheduler.raiseDue(now: Date())
        let firstPass = ContinuousClock.now - start
        let passes = 20
        start = ContinuousClock.now
        for _ in 0..<passes { try scheduler.raiseDue(now: Date()) }
        let quietPass = (ContinuousClock.now - start) / passes
        func ms(_ d: Duration) -> Double {
            Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
        }
        print(
            String(
                format:
                    "%-22@ first pass %.0f ms (raised %d alerts), then %.2f ms a pass with nothing due (%lld open deadlines)",
                "alert scheduler" as NSString,
                ms(firstPass),
                first.raised.count,
                ms(quietPass),
                openDeadlines
            )
        )
    }

    /// Runs `body` `count` times on a fresh target and returns calls per second.
    func measure<T>(count: Int, make: () throws -> T, body: (T, Int) throws -> Void) throws -> Double {
        let target = try make()
        let start = ContinuousClock.now
        for n in 0..<count { try body(target, n) }
        let elapsed = ContinuousClock.now - start
        let seconds = elapsed.seconds
        if let store = target as? EventStore { store.close() }
        if let service = target as? CaseService { service.store.close() }
        return Double(count) / seconds
    }
}

/// Plain SQLite on the event store's table shape: no hash computation, no expectation
/// check, no idempotency lookup.
final class RawWriter {
    let db: OpaquePointer
    let insert: OpaquePointer

    init(path: String, synchronous: String) throws {
        var handle: OpaquePointer?
        SQLiteConnection.configureBeforeFirstUse()  // the event store opens in this process too
        guard sqlite3_open(path, &handle) == SQLITE_OK, let handle else { throw BenchError("cannot open \(path)") }
        db = handle
        let setup = """
            PRAGMA journal_mode = WAL; PRAGMA synchronous = \(synchronous.uppercased());
            CREATE TABLE events (position INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, stream_version INTEGER NOT NULL,
              event_id TEXT NOT NULL UNIQUE, event_type TEXT NOT NULL, schema_version INTEGER NOT NULL, payload BLOB NOT NULL,
              metadata BLOB NOT NULL, recorded_at_us INTEGER NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL,
              UNIQUE (stream_id, stream_version));
            """
        guard sqlite3_exec(db, setup, nil, nil, nil) == SQLITE_OK else {
            throw BenchError(String(cString: sqlite3_errmsg(db)))
        }
        var stmt: OpaquePointer?
        sqlite3_prepare_v2(
            db,
            "INSERT INTO events VALUES (?, ?, ?, ?, 'Bench', 1, ?, '{}', 0, zeroblob(32), zeroblob(32))",
            -1,
            &stmt,
            nil
        )
        insert = stmt!
    }

    deinit {
        sqlite3_finalize(insert)
        sqlite3_close(db)
    }

    func insert(rows: Int, start: Int, payload: [UInt8], streams: Int) throws {
        sqlite3_exec(db, "BEGIN", nil, nil, nil)
        for i in start..<(start + rows) {
            sqlite3_reset(insert)
            sqlite3_bind_int64(insert, 1, Int64(i + 1))
            sqlite3_bind_text(insert, 2, "case-\(i % streams)", -1, imr_sqlite_transient())
            sqlite3_bind_int64(insert, 3, Int64(i / streams + 1))
            sqlite3_bind_text(insert, 4, UUID().lowercasedText, -1, imr_sqlite_transient())
            _ = payload.withUnsafeBytes {
                sqlite3_bind_blob(insert, 5, $0.baseAddress, Int32($0.count), imr_sqlite_transient())
            }
            guard sqlite3_step(insert) == SQLITE_DONE else { throw BenchError(String(cString: sqlite3_errmsg(db))) }
        }
        guard sqlite3_exec(db, "COMMIT", nil, nil, nil) == SQLITE_OK else {
            throw BenchError(String(cString: sqlite3_errmsg(db)))
        }
    }
}

/// Raw SQLite commits that each rewrite the one row of `pages` tables of one row each: a commit
/// that writes exactly that many pages to the WAL and does nothing else. What the disk charges
/// for a commit of the daemon's size, apart from any of imr's work (`imr-bench load`).
final class RawPageWriter {
    let db: OpaquePointer
    private var updates: [OpaquePointer] = []
    /// The most pages a commit may write here.
    static let maximumPages = 2000

    init(path: String, synchronous: String) throws {
        var handle: OpaquePointer?
        SQLiteConnection.configureBeforeFirstUse()
        guard sqlite3_open(path, &handle) == SQLITE_OK, let handle else { throw BenchError("cannot open \(path)") }
        db = handle
        // The daemon's checkpoint threshold (its checkpoints run off the commit's path; on a
        // file of a few pages, this one's cost little).
        try exec(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = \(synchronous.uppercased()); PRAGMA wal_autocheckpoint = 8000"
        )
    }

    deinit {
        for statement in updates { sqlite3_finalize(statement) }
        sqlite3_close(db)
    }

    private func exec(_ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
            throw BenchError("\(sql.prefix(60)): \(String(cString: sqlite3_errmsg(db)))")
        }
    }

    /// Commits of `pages` pages each, `count` of them or as many as `seconds` allow (at least 20):
    /// commits/s, and the pages a commit SQLite counted writing.
    func commits(pages: Int, count: Int, seconds: Double) throws -> (perSecond: Double, pagesPerCommit: Double) {
        let pages = min(max(pages, 1), Self.maximumPages)
        if updates.count < pages {
            try exec("BEGIN")
            for n in updates.count..<pages {
                try exec("CREATE TABLE p\(n) (v BLOB); INSERT INTO p\(n) VALUES (zeroblob(200))")
                var statement: OpaquePointer?
                guard sqlite3_prepare_v2(db, "UPDATE p\(n) SET v = randomblob(200)", -1, &statement, nil) == SQLITE_OK,
                    let statement
                else { throw BenchError(String(cString: sqlite3_errmsg(db))) }
                updates.append(statement)
            }
            try exec("COMMIT")
        }
        var written: Int32 = 0
        var highest: Int32 = 0
        sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_WRITE, &written, &highest, 1)  // from zero
        let start = ContinuousClock.now
        var done = 0
        while done < max(count, 20) {
            try exec("BEGIN")
            for statement in updates.prefix(pages) {
                guard sqlite3_step(statement) == SQLITE_DONE else {
                    throw BenchError(String(cString: sqlite3_errmsg(db)))
                }
                sqlite3_reset(statement)
            }
            try exec("COMMIT")
            done += 1
            if done >= 20, (ContinuousClock.now - start).seconds >= seconds { break }
        }
        let elapsed = (ContinuousClock.now - start).seconds
        sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_WRITE, &written, &highest, 1)
        return (Double(done) / elapsed, Double(written) / Double(done))
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
