import ArgumentParser
import EventStore
import Foundation
import Varlink

#if canImport(Glibc)
import Glibc
#endif

/// `imr-bench load`: lifecycle commands through the real socket from concurrent clients, next
/// to raw SQLite's durable one-row commits on the same file system in the same run.
struct Load: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract:
            "Lifecycle commands/s and latency through a real imr-daemon's socket from N clients, beside raw SQLite durable commits/s.",
        discussion: """
            Starts the imr-daemon beside this binary (or --daemon) on a fresh state directory in --dir with \
            store.synchronous as --synchronous, records the synthetic caseload's lifecycle commands for --cases cases \
            (open, RFA with items, information requests, UR decision, notice, service, IMR application, eligibility, \
            assignment, records, determination, implementation, appeal, close: the demo's mix) from --clients concurrent \
            connections, a case's commands in order on one connection, and prints commands/s and latency p50/p99/max. \
            Raw SQLite's one-row durable commits/s on the same file system (the event store's table, no event-store \
            logic; --raw-commits of them) is timed before the first run and again after every run, and each run's ratio \
            takes the mean of the raw figures just before and just after it: this VM's disk moves by a quarter within \
            minutes. After each run, the daemon's commits and the pages they wrote (from io.imr.Admin.Status) and raw \
            SQLite commits writing as many pages each (one-row tables rewritten, nothing else; up to 2 s of them): \
            the most calls/s the disk allows at that size of commit, as a share of the one-row rate. \
            --rounds K runs each client count K times (each on a fresh daemon) and ends it with a line of the \
            medians (commands/s, ratio, raw, p99, the eventsourcing multiple). With --eventsourcing, after each run, \
            the Python eventsourcing library does the same number of cases from as many threads through \
            scripts/bench-eventsourcing.py (reload the case from its events, apply one, save durably to SQLite in --dir; \
            python3 from PATH with `pip install eventsourcing`), and imr's rate is given as a multiple of it. \
            See BENCHMARKS.md.
            """
    )

    @Option(help: "Directory for the daemon's state and the raw SQLite file (the file system under test).")
    var dir: String = FileManager.default.temporaryDirectory.path
    @Option(help: "Concurrent client connections (comma-separated for several runs, e.g. 1,8,32).") var clients:
        String = "1,32"
    @Option(help: "Synthetic cases recorded per run.") var cases: Int = 1000
    @Option(help: "full or normal.") var synchronous: String = "full"
    @Option(help: "Raw SQLite one-row commits to time.") var rawCommits: Int = 2000
    @Option(help: "Runs of each client count, each between two raw SQLite timings; K > 1 adds a line of medians.")
    var rounds: Int = 1
    @Option(help: "The imr-daemon binary.") var daemon: String?
    @Option(help: "Seed for the caseload.") var seed: UInt64 = 2026
    @Flag(
        help:
            "After each client count, the same load through the Python eventsourcing library on SQLite, for comparison."
    )
    var eventsourcing = false
    @Option(help: "scripts/bench-eventsourcing.py, when it is not above this binary.") var eventsourcingScript: String?

    func validate() throws {
        guard ["full", "normal"].contains(synchronous) else {
            throw ValidationError("--synchronous must be 'full' or 'normal', not '\(synchronous)'")
        }
        // The script's saves are always fsynced; against imr at NORMAL the ratio would mislead.
        guard !eventsourcing || synchronous == "full" else {
            throw ValidationError("--eventsourcing compares durable commands: use it with --synchronous full")
        }
        guard cases > 0, rawCommits > 0 else { throw ValidationError("--cases and --raw-commits must be positive") }
        guard (1...100).contains(rounds) else { throw ValidationError("--rounds takes 1 to 100, not \(rounds)") }
        guard !clientCounts.isEmpty, clientCounts.allSatisfy({ (1...1000).contains($0) }) else {
            throw ValidationError("--clients takes numbers from 1 to 1000, comma-separated, not '\(clients)'")
        }
    }

    var clientCounts: [Int] {
        clients.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    func run() throws {
        let binaries = Binaries.directory
        let daemonBinary = try Binaries.daemon(daemon)
        // Checked before anything runs, so a missing library fails in a second, not after imr's first run.
        let comparison =
            try eventsourcing ? EventsourcingComparison(explicit: eventsourcingScript, binaries: binaries) : nil
        try comparison?.check()
        let work = URL(fileURLWithPath: dir).appendingPathComponent("imr-load-\(getpid())").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }

        // Raw SQLite, one durable row per transaction, on the same file system.
        let raw = try RawWriter(path: work + "/raw.sqlite", synchronous: synchronous)
        let payload = Array(#"{"claim":"ADJ12345678","item":"8 massage therapy visits","outcome":"denied"}"#.utf8)
        var rawRows = 0
        func measureRaw() throws -> Double {
            let rawStart = ContinuousClock.now
            for n in rawRows..<(rawRows + rawCommits) {
                try raw.insert(rows: 1, start: n, payload: payload, streams: 1000)
            }
            rawRows += rawCommits
            return Double(rawCommits) / (ContinuousClock.now - rawStart).seconds
        }
        print(
            "imr-bench load: \(ProcessInfo.processInfo.activeProcessorCount) cores, synchronous=\(synchronous.uppercased()), dir \(dir)"
        )

        // Commits of the daemon's size (its pages a commit, measured in each run), nothing else.
        let rawPages = try RawPageWriter(path: work + "/raw-pages.sqlite", synchronous: synchronous)
        var rawBefore = try measureRaw()
        print(String(format: "raw SQLite           %8.0f durable one-row commits/s", rawBefore))
        for count in clientCounts {
            var runs: [(rate: Double, ratio: Double, raw: Double, p99: Double, times: Double?, ceiling: Double?)] = []
            for round in 1...rounds {
                let run = try runClients(count, round: round, daemonBinary: daemonBinary, work: work)
                let rawAfter = try measureRaw()
                let rawRate = (rawBefore + rawAfter) / 2
                print(
                    String(
                        format: "%3d client%@          %8.0f commands/s (%.0f%% of raw), latency %@ (%d cases)",
                        count,
                        count == 1 ? " " : "s",
                        run.rate,
                        run.rate / rawRate * 100,
                        run.latencies.summary,
                        cases
                    )
                )
                if !run.failures.messages.isEmpty {
                    print(
                        "    \(run.failures.count) commands failed, e.g. \(run.failures.messages.prefix(3).joined(separator: "; "))"
                    )
                }
                print(
                    String(
                        format:
                            "raw SQLite           %8.0f durable one-row commits/s (the run's raw: %.0f, the mean of the two around it)",
                        rawAfter,
                        rawRate
                    )
                )
                rawBefore = rawAfter
                var ceiling: Double?
                if let writes = run.writes, writes.commits > 0 {
                    // The same pages a commit as the daemon's, timed on raw SQLite: with its
                    // calls a commit (as the rate counts them; a few of the caseload's write
                    // nothing), the most calls/s a design writing these pages allows.
                    let pagesPerCommit = Double(writes.pages) / Double(writes.commits)
                    let pages = Int(pagesPerCommit.rounded())
                    let callsPerCommit = Double(run.latencies.samples.count) / Double(writes.commits)
                    let shape = try rawPages.commits(pages: pages, count: rawCommits, seconds: 2)
                    ceiling = shape.perSecond * callsPerCommit / rawRate
                    print(
                        String(
                            format:
                                "    its commits: %.1f calls and %.1f pages each; raw SQLite commits of %d pages: %.0f/s (%.1f pages counted), so at most %.0f calls/s (%.0f%% of raw)",
                            callsPerCommit,
                            pagesPerCommit,
                            pages,
                            shape.perSecond,
                            shape.pagesPerCommit,
                            shape.perSecond * callsPerCommit,
                            (ceiling ?? 0) * 100
                        )
                    )
                }
                var times: Double?
                if let comparison {
                    // A directory a run: the script will not write over an earlier run's file.
                    let esDirectory = work + "/eventsourcing-\(count)-\(round)"
                    try FileManager.default.createDirectory(atPath: esDirectory, withIntermediateDirectories: true)
                    defer { try? FileManager.default.removeItem(atPath: esDirectory) }
                    let es = try comparison.run(clients: count, cases: cases, directory: esDirectory)
                    times = run.rate / es.commandsPerSecond
                    print(
                        String(
                            format:
                                "    %@ %8.0f commands/s, latency p50 %.1f ms, p99 %.1f ms, max %.1f ms over %d commands; imr = %.1fx",
                            es.library,
                            es.commandsPerSecond,
                            es.p50Ms ?? .nan,
                            es.p99Ms ?? .nan,
                            es.maxMs ?? .nan,
                            es.commands,
                            times ?? .nan
                        )
                    )
                    if es.failures > 0 { print("    eventsourcing: \(es.failures) commands failed: \(es.message)") }
                }
                runs.append((run.rate, run.rate / rawRate, rawRate, run.latencies.percentile(0.99), times, ceiling))
            }
            if rounds > 1 {
                let multiples = runs.compactMap(\.times)
                let ceilings = runs.compactMap(\.ceiling)
                print(
                    String(
                        format:
                            "%3d client%@ median of %d: %8.0f commands/s, %.0f%% of raw (runs %.0f-%.0f%%), raw %.0f, p99 %.1f ms%@%@",
                        count,
                        count == 1 ? " " : "s",
                        rounds,
                        InProcessTiming.median(runs.map(\.rate)),
                        InProcessTiming.median(runs.map(\.ratio)) * 100,
                        (runs.map(\.ratio).min() ?? 0) * 100,
                        (runs.map(\.ratio).max() ?? 0) * 100,
                        InProcessTiming.median(runs.map(\.raw)),
                        InProcessTiming.median(runs.map(\.p99)),
                        ceilings.isEmpty
                            ? ""
                            : String(
                                format: "; raw SQLite at its pages a commit %.0f%%",
                                InProcessTiming.median(ceilings) * 100
                            ),
                        multiples.isEmpty
                            ? "" : String(format: "; imr = %.1fx eventsourcing", InProcessTiming.median(multiples))
                    )
                )
            }
        }
    }

    /// One run of `count` clients on a fresh daemon (stopped when it returns, so an idle daemon
    /// takes nothing from the raw timing or the comparison that follow).
    private func runClients(
        _ count: Int,
        round: Int,
        daemonBinary: String,
        work: String
    ) throws -> (rate: Double, latencies: Latencies, failures: FailureBox, writes: (commits: Int64, pages: Int64)?) {
        let directory = work + "/clients-\(count)-\(round)"
        let target = TortureDaemon(binary: daemonBinary, directory: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let config = directory + "/imr-daemon.toml"
        try "[store]\nsynchronous = \"\(synchronous)\"\n[server]\nmax_connections_per_user = 1024\n".write(
            toFile: config,
            atomically: true,
            encoding: .utf8
        )
        target.arguments = ["--config", config]
        try target.start()
        defer {
            target.stop()
            // Each round starts on a fresh store; the last one's files would only fill the disk.
            try? FileManager.default.removeItem(atPath: directory)
        }
        let calls = ClientCall.caseload(cases: cases, clients: count, seed: seed, prefix: "L-")
        let before = Self.storeWrites(socket: target.socketPath)
        let latencies = LatencyBox()
        let failures = FailureBox()
        let started = ContinuousClock.now
        onThreads(count) { [socket = target.socketPath] k in
            guard let c = try? RawConnection(path: socket, timeout: 60) else {
                return failures.add("client \(k) could not connect")
            }
            for call in calls where call.client == k {
                let t = ContinuousClock.now
                do {
                    _ = try c.call("io.imr.Cases." + call.method, call.parameters)
                    latencies.add((ContinuousClock.now - t).seconds * 1000)
                } catch {
                    failures.add("\(call.method) on \(call.parameters["caseId"]?.stringValue ?? "?"): \(error)")
                }
            }
        }
        let elapsed = (ContinuousClock.now - started).seconds
        let after = Self.storeWrites(socket: target.socketPath)
        let l = latencies.value
        let writes = before.flatMap { b in after.map { (commits: $0.commits - b.commits, pages: $0.pages - b.pages) } }
        return (Double(l.samples.count) / elapsed, l, failures, writes)
    }

    /// The daemon's commits and the pages they wrote so far (`io.imr.Admin.Status`); nil when
    /// its status does not say (an older daemon given with --daemon).
    static func storeWrites(socket: String) -> (commits: Int64, pages: Int64)? {
        guard let connection = try? RawConnection(path: socket, timeout: 60),
            let status = try? connection.call("io.imr.Admin.Status"),
            let store = status["figures"]?.objectValue?["store"]?.objectValue,
            let commits = store["commits"]?.intValue, let pages = store["pagesWritten"]?.intValue
        else { return nil }
        return (commits, pages)
    }
}

final class FailureBox: @unchecked Sendable {
    private var list: [String] = []
    private var total = 0
    private let lock = NSLock()
    func add(_ message: String) {
        lock.withLock {
            total += 1
            if list.count < 10 { list.append(message) }
        }
    }
    var messages: [String] { lock.withLock { list } }
    var count: Int { lock.withLock { total } }
}
