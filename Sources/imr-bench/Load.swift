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
            Before each client count's run, raw SQLite's one-row durable commits/s on the same file system (the event \
            store's table, no event-store logic; --raw-commits of them), so each ratio comes from figures taken a moment \
            apart: this VM's disk moves by a quarter within minutes. With --eventsourcing, after each client count's run, \
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
        guard !clientCounts.isEmpty, clientCounts.allSatisfy({ (1...1000).contains($0) }) else {
            throw ValidationError("--clients takes numbers from 1 to 1000, comma-separated, not '\(clients)'")
        }
    }

    var clientCounts: [Int] {
        clients.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    func run() throws {
        let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent()
        let daemonBinary = daemon ?? binaries.appendingPathComponent("imr-daemon").path
        guard FileManager.default.isExecutableFile(atPath: daemonBinary) else {
            throw ValidationError(
                "no imr-daemon at \(daemonBinary); build it (swift build -c release) or name it with --daemon"
            )
        }
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

        for count in clientCounts {
            let rawRate = try measureRaw()
            print(String(format: "raw SQLite           %8.0f durable one-row commits/s", rawRate))
            let target = TortureDaemon(binary: daemonBinary, directory: work + "/clients-\(count)")
            try FileManager.default.createDirectory(
                atPath: work + "/clients-\(count)",
                withIntermediateDirectories: true
            )
            let config = work + "/clients-\(count)/imr-daemon.toml"
            try "[store]\nsynchronous = \"\(synchronous)\"\n[server]\nmax_connections_per_user = 1024\n".write(
                toFile: config,
                atomically: true,
                encoding: .utf8
            )
            target.arguments = ["--config", config]
            try target.start()
            defer { target.stop() }
            let calls = ClientCall.caseload(cases: cases, clients: count, seed: seed, prefix: "L-")
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
            let l = latencies.value
            let rate = Double(l.samples.count) / elapsed
            print(
                String(
                    format: "%3d client%@          %8.0f commands/s (%.0f%% of raw), latency %@ (%d cases)",
                    count,
                    count == 1 ? " " : "s",
                    rate,
                    rate / rawRate * 100,
                    l.summary,
                    cases
                )
            )
            if !failures.messages.isEmpty {
                print(
                    "    \(failures.count) commands failed, e.g. \(failures.messages.prefix(3).joined(separator: "; "))"
                )
            }
            if let comparison {
                target.stop()  // so the idle daemon takes nothing from the comparison
                let es = try comparison.run(clients: count, cases: cases, directory: work)
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
                        rate / es.commandsPerSecond
                    )
                )
                if es.failures > 0 { print("    eventsourcing: \(es.failures) commands failed: \(es.message)") }
            }
        }
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
