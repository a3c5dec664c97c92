import Foundation
import TestSupport
import Testing
import Varlink

/// scripts/bench-eventsourcing.py, which `imr-bench load --eventsourcing` runs beside imr: it
/// takes every case through its lifecycle in the library's SQLite store and reports what it
/// did in one JSON line (nothing here is timed). The limit guards against a hang: the read
/// benchmark's smoke test takes about 30 s alone on a slow host, and over 3 minutes there beside
/// the rest of the suite.
@Suite(.timeLimit(.minutes(6)))
struct EventsourcingBenchTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("scripts/bench-eventsourcing.py").path

    @Test func theScriptRecordsEveryCaseLifecycleDurablyInSQLite() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-es-bench-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let arguments = ["python3", Self.script, "--clients", "2", "--cases", "5", "--dir", dir.path]
        let result = try await offThePool { try run(arguments) }
        #expect(result.status == 0, "\(result.output)")
        let line = try #require(result.output.split(separator: "\n").last { $0.hasPrefix("{") }, "\(result.output)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect((report["library"] as? String)?.hasPrefix("eventsourcing ") == true, "\(report)")
        #expect(report["clients"] as? Int == 2 && report["cases"] as? Int == 5)
        // Cases alternate between two and three items: 8 commands each plus one UR decision per item.
        #expect(report["commands"] as? Int == 52, "\(report)")
        #expect(report["failures"] as? Int == 0, "\(report)")
        #expect((report["commands_per_second"] as? Double ?? 0) > 0, "\(report)")

        // The library's own table holds one event per command, read back by another client.
        let database = try #require(report["database"] as? String)
        #expect(database.hasPrefix(dir.path))
        let sql = """
            PRAGMA journal_mode;
            SELECT count(*), count(DISTINCT originator_id) FROM stored_events;
            SELECT group_concat(n) FROM (SELECT count(*) AS n FROM stored_events GROUP BY originator_id ORDER BY n);
            SELECT count(*) FROM stored_events AS e WHERE topic LIKE '%Case.Closed'
                AND originator_version = (SELECT max(originator_version) FROM stored_events WHERE originator_id = e.originator_id);
            """
        let rows = try await offThePool { try run(["sqlite3", database, sql]) }
        #expect(rows.status == 0, "\(rows.output)")
        let lines = rows.output.split(separator: "\n").map(String.init)
        #expect(lines.first == "wal", "the library keeps its events in WAL mode: \(rows.output)")
        #expect(lines.dropFirst().first == "52|5", "\(rows.output)")
        #expect(lines.dropFirst(2).first == "10,10,10,11,11", "\(rows.output)")
        #expect(lines.dropFirst(3).first == "5", "every case ends closed: \(rows.output)")
    }

    @Test func theLoadBenchmarkPrintsTheLibrarysRateBesideImrs() async throws {
        let bench = productsDirectory.appendingPathComponent("imr-bench").path
        let result = try await offThePool {
            try run([
                bench, "load", "--clients", "1,2", "--cases", "4", "--raw-commits", "20", "--rounds", "2",
                "--eventsourcing",
                "--eventsourcing-script", Self.script, "--dir", FileManager.default.temporaryDirectory.path,
            ])
        }
        #expect(result.status == 0, "\(result.output)")
        let lines = result.output.split(separator: "\n").filter {
            $0.contains("eventsourcing ") && $0.contains("; imr = ")
        }
        #expect(lines.count == 4, "one comparison per run, two rounds of two client counts: \(result.output)")
        // Four cases of 10 or 11 commands each.
        #expect(lines.allSatisfy { $0.contains("over 42 commands") }, "\(result.output)")
        #expect(!result.output.contains("failed"), "\(result.output)")
        // Each client count's medians include the multiple.
        let medians = result.output.split(separator: "\n").filter { $0.contains(" median of 2: ") }
        #expect(medians.count == 2 && medians.allSatisfy { $0.contains("x eventsourcing") }, "\(result.output)")
    }

    /// `imr-bench seed` on a small caseload: a daemon started on what it wrote serves it.
    @Test func aSeededStoreIsServedByADaemon() async throws {
        let bench = productsDirectory.appendingPathComponent("imr-bench").path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-seed-\(UUID().uuidString.prefix(8))"
        )
        defer { try? FileManager.default.removeItem(at: dir) }
        let state = dir.appendingPathComponent("state").path
        let seeded = try await offThePool {
            try run([bench, "seed", "--cases", "40", "--batch", "15", "--coordinators", "3", "--dir", state])
        }
        #expect(seeded.status == 0, "\(seeded.output)")
        #expect(seeded.output.contains("seeded 40 cases, "), "\(seeded.output)")
        #expect(!seeded.output.contains("refused"), "\(seeded.output)")
        let again = try await offThePool { try run([bench, "seed", "--cases", "5", "--dir", state]) }
        #expect(again.status != 0 && again.output.contains("exists"), "seed writes over nothing: \(again.output)")
        // `imr-bench derive` folds every case of the small store and times working out their
        // deadlines (a smoke test: the figures are only checked to be there).
        let derived = try await offThePool {
            try run([bench, "derive", "--store", state + "/imr.sqlite", "--cases", "40", "--rounds", "2"])
        }
        #expect(derived.status == 0, "\(derived.output)")
        #expect(derived.output.contains("40 cases ("), "\(derived.output)")
        let median = derived.output.split(separator: "\n").first { $0.hasPrefix("median") }?
            .split(separator: " ").compactMap { Double($0) }
        #expect(median?.count == 2 && median!.allSatisfy { $0 > 0 }, "\(derived.output)")

        let daemon = try DaemonProcess(directory: dir)
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() }, "no READY=1 from a daemon on the seeded store")
        let (first, all) = try await offThePool { () -> ([String: JSONValue], Int) in
            let c = try daemon.client()
            let first = try c.call("io.imr.Cases.List", ["open": .null, "limit": 10])
            var all = 0
            try c.stream("io.imr.Cases.List", ["open": .null]) { page in
                if case .array(let cases)? = page["cases"] { all += cases.count }
                return true
            }
            #expect(try c.call("io.imr.Admin.Verify")["intact"] == .bool(true))
            return (first, all)
        }
        #expect(all == 40)
        #expect(first["remaining"] == 30)
    }

    /// `imr-bench seed` of `cases` cases (4 coordinators) into `dir/state`, `dir` a fresh
    /// temporary directory named after `prefix` that the caller removes.
    static func seeded(_ prefix: String, cases: Int) async throws -> (bench: String, dir: URL, state: String) {
        let bench = productsDirectory.appendingPathComponent("imr-bench").path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "\(prefix)-\(UUID().uuidString.prefix(8))"
        )
        let state = dir.appendingPathComponent("state").path
        let seeded = try await offThePool {
            try run([bench, "seed", "--cases", String(cases), "--coordinators", "4", "--dir", state])
        }
        #expect(seeded.status == 0, "\(seeded.output)")
        return (bench, dir, state)
    }

    /// `imr-bench reads` on a small seeded store: every call answers, with writers meanwhile,
    /// and the scheduler's pass is timed (a smoke test: its figures are not checked).
    @Test func theReadBenchmarkAnswersEveryCallOnASeededStore() async throws {
        let (bench, dir, state) = try await Self.seeded("imr-reads", cases: 120)
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try await offThePool {
            try run([bench, "reads", "--dir", state, "--seconds", "2", "--writers", "2"])
        }
        #expect(result.status == 0, "\(result.output)")
        let calls = result.output.split(separator: "\n").filter { $0.contains(" calls") && $0.contains("p99") }
        for name in [
            "deadlines within 7 days", "a case's detail", "one coordinator's cases", "a claim number",
            "an IMR case number",
            "one coordinator's open alerts", "status", "2 writers meanwhile", "alert scheduler pass",
        ] {
            #expect(calls.contains { $0.contains(name) }, "\(name): \(result.output)")
        }
        #expect(!result.output.contains("failed"), "\(result.output)")
        #expect(
            result.output.contains("first answer") && result.output.contains("after a restart following kill -9"),
            "\(result.output)"
        )
    }

    /// `imr-bench rebuild` on a small seeded store: each run reads the whole log (as many
    /// events as the log holds), its phases add up, the medians follow, and the store is still
    /// one the daemon serves; a directory without a store is refused with what to do.
    @Test func theRebuildBenchmarkReadsTheWholeLogInPhases() async throws {
        let (bench, dir, state) = try await Self.seeded("imr-rebuild", cases: 150)
        defer { try? FileManager.default.removeItem(at: dir) }
        func logEvents() throws -> Int {
            let count = try run(["sqlite3", state + "/imr.sqlite", "SELECT COUNT(*) FROM events"])
            return Int(count.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        let before = try logEvents()
        #expect(before > 150, "the seed wrote \(before) events")
        let result = try await offThePool { try run([bench, "rebuild", "--dir", state, "--runs", "2"]) }
        #expect(result.status == 0, "\(result.output)")
        let after = try logEvents()
        let runs = result.output.split(separator: "\n").filter { $0.contains("  run ") }
        #expect(runs.count == 2, "\(result.output)")
        // The number after `phrase` in `line` ("N events in T s (R events/s); first events read after
        // A s, the log read by B s, indexes C s, catch-up D s (the daemon's phases); ...").
        func number(after phrase: String, in line: Substring) -> Double? {
            guard let range = line.range(of: phrase) else { return nil }
            return Double(line[range.upperBound...].prefix { $0.isNumber || $0 == "." || $0 == "-" })
        }
        for line in runs {
            guard let events = number(after: ": ", in: line), let seconds = number(after: " events in ", in: line),
                let first = number(after: "first events read after ", in: line),
                let read = number(after: "the log read by ", in: line),
                let indexes = number(after: "indexes ", in: line), let catchUp = number(after: "catch-up ", in: line)
            else {
                Issue.record("a run's line lacks its figures: \(line)")
                continue
            }
            #expect(Int(events) >= before && Int(events) <= after, "\(line): the log holds \(before)-\(after) events")
            // The daemon's phases, each to the millisecond, add up to its time (printed to a tenth).
            #expect(line.contains("(the daemon's phases)"), "\(line)")
            #expect(first < read && read <= seconds + 0.06 && indexes >= 0 && catchUp >= 0, "\(line)")
            #expect(abs(seconds - read - indexes - catchUp) < 0.07, "\(line)")
            #expect(line.contains("daemon CPU") && line.contains("resident memory at most"), "\(line)")
        }
        #expect(result.output.contains("medians: "), "\(result.output)")
        let reads = try await offThePool {
            try run([bench, "reads", "--dir", state, "--seconds", "1", "--writers", "1"])
        }
        #expect(reads.status == 0 && !reads.output.contains("failed"), "\(reads.output)")
        let empty = try await offThePool { try run([bench, "rebuild", "--dir", dir.path]) }
        #expect(empty.status != 0)
        #expect(
            empty.output.contains("holds no imr.sqlite") && empty.output.contains("imr-bench seed"),
            "\(empty.output)"
        )
    }

    @Test func theScriptRefusesToWriteOverAnEarlierRun() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-es-bench-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let earlier = dir.appendingPathComponent("eventsourcing-1-clients.sqlite").path
        #expect(FileManager.default.createFile(atPath: earlier, contents: Data("kept".utf8)))
        let result = try await offThePool { try run(["python3", Self.script, "--cases", "1", "--dir", dir.path]) }
        #expect(result.status != 0)
        #expect(result.output.contains("exists from an earlier run"), "\(result.output)")
        #expect(FileManager.default.contents(atPath: earlier) == Data("kept".utf8))
    }

    @Test func withoutTheLibraryTheScriptSaysHowToInstallIt() async throws {
        // -S leaves site-packages, where pip installs the library, off the import path.
        let result = try await offThePool { try run(["python3", "-S", "-E", Self.script, "--dir", "/tmp"]) }
        #expect(result.status != 0)
        #expect(result.output.contains("pip install eventsourcing"), "\(result.output)")
    }
}
