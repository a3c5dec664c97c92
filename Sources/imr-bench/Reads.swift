import ArgumentParser
import CSQLite
import EventStore
import Foundation
import IMRService
import Varlink

#if canImport(Glibc)
import Glibc
#endif

/// `imr-bench reads`: the coordinator's read calls through a real daemon's socket on a seeded
/// store, while other clients record commands; then the alert scheduler's pass on that store.
struct Reads: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reads",
        abstract:
            "Read latency through a real imr-daemon's socket on a seeded store while clients record commands, and the alert scheduler's pass cost.",
        discussion: """
            Starts the imr-daemon beside this binary (or --daemon) on --dir, a state directory written by \
            `imr-bench seed` (it is written to: new cases are recorded), and times, on one connection, round after \
            round for --seconds (each call timed from its request to its reply's last byte; the bench's own parse \
            of the reply, shown apart, is not the daemon's time): one coordinator's deadlines due within 7 days (first page), a case's detail (Get), \
            the first page of one coordinator's cases, a lookup by claim number, a lookup by IMR case number, one \
            coordinator's open alerts (first page) and status; the coordinators, cases and numbers are drawn from the \
            store. Every reply is checked to hold what was asked (rows of that coordinator, the case with that \
            number): a reply that did not apply its filter counts as a failed call. Meanwhile --writers clients \
            record the synthetic caseload's lifecycle commands (new cases). \
            Prints each call's p50/p99/max, the writers' commands/s, the daemon's time to answer after start and its \
            resident memory; then stops it and times the alert scheduler's pass with nothing due on the same file. \
            See BENCHMARKS.md.
            """
    )

    @Option(help: "The seeded state directory (imr-bench seed --dir).") var dir: String
    @Option(help: "Clients recording commands meanwhile.") var writers: Int = 8
    @Option(help: "How long to measure.") var seconds: Double = 20
    @Option(help: "The imr-daemon binary.") var daemon: String?
    @Option(help: "The daemon's store.state_cache_cases (its default when not given).") var stateCacheCases: Int?

    func validate() throws {
        guard (0...256).contains(writers) else { throw ValidationError("--writers takes 0 to 256, not \(writers)") }
        guard seconds > 0, seconds <= 3600 else {
            throw ValidationError("--seconds takes more than 0 and at most 3600")
        }
    }

    /// Values drawn from the seeded store to ask about.
    struct ReadKind: Sendable {
        var name: String
        var method: String
        var parameters: @Sendable (Int) -> [String: JSONValue]
        /// What the reply must hold, checked on every call (nil: it does): a reply that did
        /// not apply the call's filter is counted as a failure, not timed as the query.
        var check: @Sendable (Int, [String: JSONValue]) -> String?
        init(
            _ name: String,
            _ method: String,
            _ parameters: @escaping @Sendable (Int) -> [String: JSONValue],
            check: @escaping @Sendable (Int, [String: JSONValue]) -> String? = { _, _ in nil }
        ) {
            self.name = name
            self.method = method
            self.parameters = parameters
            self.check = check
        }

        /// Every row of the reply's `list` has `field` equal to `value(n)`, and at least one row
        /// when `nonEmpty`.
        static func rows(
            _ list: String,
            _ field: String,
            nonEmpty: Bool = false,
            equal value: @escaping @Sendable (Int) -> String
        ) -> @Sendable (Int, [String: JSONValue]) -> String? {
            { n, reply in
                guard case .array(let rows)? = reply[list] else { return "the reply has no \(list)" }
                if nonEmpty && rows.isEmpty { return "no \(list) for \(field) \(value(n))" }
                for row in rows {
                    guard let got = row.objectValue?[field]?.stringValue else { continue }
                    if got != value(n) { return "\(list) of \(field) \(got) answered for \(value(n)): not filtered" }
                }
                return nil
            }
        }
    }

    struct Sample: Sendable {
        var coordinators: [String] = []
        var cases: [String] = []
        var claims: [String] = []
        var imrNumbers: [String] = []
        /// The case of each of ``imrNumbers``.
        var imrCases: [String] = []
    }

    static func sample(path: String) throws -> Sample {
        var handle: OpaquePointer?
        SQLiteConnection.configureBeforeFirstUse()
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY, nil) == SQLITE_OK, let db = handle else {
            throw ValidationError("cannot open \(path); seed it first with imr-bench seed --dir")
        }
        defer { sqlite3_close(db) }
        /// The first column of `sql`'s rows, with `every` bound to its one parameter.
        func column(_ sql: String, every: Int = 1) -> [String] {
            var stmt: OpaquePointer?
            guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK else { return [] }
            defer { sqlite3_finalize(stmt) }
            if sqlite3_bind_parameter_count(stmt) == 1 { sqlite3_bind_int64(stmt, 1, Int64(every)) }
            var values: [String] = []
            while sqlite3_step(stmt) == SQLITE_ROW {
                if let text = sqlite3_column_text(stmt, 0) { values.append(String(cString: text)) }
            }
            return values
        }
        // Spread over the store: about 500 rows of each, every n-th by rowid.
        func stride(_ table: String) -> Int {
            max(1, (Int(column("SELECT COUNT(*) FROM \(table)").first ?? "") ?? 0) / 500)
        }
        let cases = stride("case_list")
        let numbers = stride("case_imr_numbers")
        var sample = Sample()
        sample.coordinators = column(
            "SELECT DISTINCT coordinator FROM case_list WHERE rowid % ? = 0 LIMIT 200",
            every: max(1, cases / 2)
        )
        sample.cases = column("SELECT case_id FROM case_list WHERE rowid % ? = 0 LIMIT 1000", every: cases)
        sample.claims = column("SELECT claim_number FROM case_list WHERE (rowid + 1) % ? = 0 LIMIT 1000", every: cases)
        for pair in column(
            "SELECT imr_case_number || char(31) || case_id FROM case_imr_numbers WHERE rowid % ? = 0 LIMIT 1000",
            every: numbers
        ) {
            let parts = pair.split(separator: "\u{1F}", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            sample.imrNumbers.append(parts[0])
            sample.imrCases.append(parts[1])
        }
        guard !sample.coordinators.isEmpty, !sample.cases.isEmpty, !sample.claims.isEmpty, !sample.imrNumbers.isEmpty
        else {
            throw ValidationError("\(path) holds too few cases to sample; seed more")
        }
        return sample
    }

    func run() throws {
        let daemonBinary = try Binaries.daemon(daemon)
        let path = URL(fileURLWithPath: dir).appendingPathComponent("imr.sqlite").path
        let sample = try Self.sample(path: path)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("imr-reads-\(getpid())").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let target = TortureDaemon(binary: daemonBinary, directory: work, stateDirectory: dir)
        let cache = stateCacheCases.map { "[store]\nstate_cache_cases = \($0)\n" } ?? ""
        try "[server]\nmax_connections_per_user = 1024\n\(cache)".write(
            toFile: work + "/imr-daemon.toml",
            atomically: true,
            encoding: .utf8
        )
        target.arguments = ["--config", work + "/imr-daemon.toml"]
        let startSeconds = try target.start(timeout: 600)
        defer { target.stop() }
        print(
            String(
                format: "imr-bench reads: %@, %d cases sampled, %d coordinators; first answer %.2f s after start",
                path,
                sample.cases.count,
                sample.coordinators.count,
                startSeconds
            )
        )

        let kinds: [ReadKind] = [
            ReadKind(
                "deadlines within 7 days, one coordinator",
                "io.imr.Deadlines.List",
                { n in
                    ["coordinator": .string(sample.coordinators[n % sample.coordinators.count]), "withinDays": .int(7)]
                },
                check: ReadKind.rows("deadlines", "coordinator") { sample.coordinators[$0 % sample.coordinators.count] }
            ),
            ReadKind(
                "a case's detail (Get)",
                "io.imr.Cases.Get",
                { n in ["caseId": .string(sample.cases[n % sample.cases.count])] }
            ),
            ReadKind(
                "one coordinator's cases",
                "io.imr.Cases.List",
                { n in
                    ["coordinator": .string(sample.coordinators[n % sample.coordinators.count])]
                },
                check: ReadKind.rows("cases", "coordinator") { sample.coordinators[$0 % sample.coordinators.count] }
            ),
            ReadKind(
                "a claim number",
                "io.imr.Cases.List",
                { n in ["claimNumber": .string(sample.claims[n % sample.claims.count])] },
                check: ReadKind.rows("cases", "claimNumber", nonEmpty: true) { sample.claims[$0 % sample.claims.count] }
            ),
            ReadKind(
                "an IMR case number",
                "io.imr.Cases.List",
                { n in ["imrCaseNumber": .string(sample.imrNumbers[n % sample.imrNumbers.count])] },
                check: { n, reply in
                    let wanted = sample.imrCases[n % sample.imrCases.count]
                    guard case .array(let rows)? = reply["cases"] else { return "the reply has no cases" }
                    return rows.contains { $0.objectValue?["caseId"]?.stringValue == wanted }
                        ? nil
                        : "case \(wanted) not found by its IMR case number \(sample.imrNumbers[n % sample.imrNumbers.count])"
                }
            ),
            ReadKind(
                "one coordinator's open alerts",
                "io.imr.Alerts.List",
                { n in
                    ["coordinator": .string(sample.coordinators[n % sample.coordinators.count])]
                },
                check: ReadKind.rows("alerts", "coordinator") { sample.coordinators[$0 % sample.coordinators.count] }
            ),
            ReadKind("status", "io.imr.Admin.Status", { _ in [:] }),
        ]
        let boxes = kinds.map { _ in LatencyBox() }
        let parses = kinds.map { _ in LatencyBox() }
        let written = LatencyBox()
        let failures = FailureBox()
        let stop = StopFlag()
        let calls =
            writers > 0
            ? ClientCall.caseload(cases: 200_000, clients: writers, seed: UInt64(getpid()), prefix: "R\(getpid())-")
            : []
        let started = ContinuousClock.now
        onThreads(writers + 1) { [socket = target.socketPath, seconds] k in
            guard let c = try? RawConnection(path: socket, timeout: 60) else {
                return failures.add("client \(k) could not connect")
            }
            if k == writers {
                // The reader: each kind in turn, one call at a time.
                var n = 0
                while (ContinuousClock.now - started).seconds < seconds {
                    let kind = kinds[n % kinds.count]
                    let t = ContinuousClock.now
                    do {
                        // Timed to the reply's last byte (the daemon's answer through the
                        // socket); the bench's own parse of it is timed apart.
                        guard c.send(kind.method, kind.parameters(n / kinds.count)), let frame = c.receiveFrame() else {
                            throw TortureFailure("no reply (connection closed or timed out)")
                        }
                        let answered = ContinuousClock.now
                        boxes[n % kinds.count].add((answered - t).seconds * 1000)
                        let reply = try RawConnection.parameters(of: try VarlinkReply.parse(frame: frame))
                        parses[n % kinds.count].add((ContinuousClock.now - answered).seconds * 1000)
                        if let wrong = kind.check(n / kinds.count, reply) {
                            failures.add("\(kind.name): \(wrong)")
                        }
                    } catch {
                        failures.add("\(kind.name): \(error)")
                    }
                    n += 1
                }
                stop.set()
                return
            }
            for call in calls where call.client == k {
                if stop.isSet { return }
                let t = ContinuousClock.now
                do {
                    _ = try c.call("io.imr.Cases." + call.method, call.parameters)
                    written.add((ContinuousClock.now - t).seconds * 1000)
                } catch {
                    failures.add("\(call.method): \(error)")
                }
            }
        }
        let elapsed = (ContinuousClock.now - started).seconds
        for (n, kind) in kinds.enumerated() {
            print(
                String(
                    format: "  %-42@ %@; parsed by the bench in p50 %.1f ms more",
                    kind.name as NSString,
                    boxes[n].value.summary,
                    parses[n].value.percentile(0.5)
                )
            )
        }
        let w = written.value
        print(
            String(
                format: "  %-42@ %.0f commands/s, %@",
                "\(writers) writers meanwhile" as NSString,
                Double(w.samples.count) / elapsed,
                w.summary
            )
        )
        let resources = target.resources()
        print(
            String(
                format: "  daemon resident memory %.1f MiB, %d open descriptors",
                Double(resources.rssKiB) / 1024,
                resources.descriptors
            )
        )
        if failures.count > 0 {
            print("  \(failures.count) calls failed, e.g. \(failures.messages.prefix(3).joined(separator: "; "))")
        }
        let stopped = target.stop()
        print(String(format: "  stopped in %.2f s after SIGTERM%@", stopped.seconds, stopped.clean ? "" : " (killed)"))
        let restart = try target.start(timeout: 600)
        print(String(format: "  first answer %.2f s after a restart following a clean stop", restart))
        target.kill9()
        let afterCrash = try target.start(timeout: 600)
        print(String(format: "  first answer %.2f s after a restart following kill -9", afterCrash))
        target.stop()

        // The scheduler's pass on the same file, as the daemon runs it, with nothing due.
        let store = try EventStore(path: path, options: .init(synchronous: .normal), projections: ReadModels.all())
        defer { store.close() }
        let scheduler = AlertScheduler(store: store)
        var backlog = 0
        while true {
            let pass = try scheduler.raiseDue(now: Date())
            backlog += pass.raised.count
            guard pass.backlog else { break }
        }
        var passes = Latencies()
        for _ in 0..<200 {
            let t = ContinuousClock.now
            try scheduler.raiseDue(now: Date())
            passes.add((ContinuousClock.now - t).seconds * 1000)
        }
        let openDeadlines = try store.read {
            try $0.query("SELECT COUNT(*) FROM deadlines WHERE is_open = 1").first?[0].int64 ?? 0
        }
        print(
            String(
                format:
                    "  alert scheduler pass with nothing due: %@ (%lld running deadlines; %d alerts were still due first)",
                passes.summary,
                openDeadlines,
                backlog
            )
        )
    }
}
