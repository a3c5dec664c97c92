import ArgumentParser
import ChildProcess
import Foundation
import IMRWire
import Synchronization
import Varlink
import Workflow

#if canImport(Glibc)
import Glibc
#endif

/// `imr-ctl demo`: a daemon of its own on a private state directory and socket, a synthetic
/// caseload, the board, and how to go on.
package struct Demo: ParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Start a demonstration daemon with a synthetic caseload, show the board, and leave it running.",
        discussion: """
            The demo starts imr-daemon (found beside imr-ctl) on a private state directory and socket, records a \
            synthetic caseload (invented cases at every stage, dated relative to today so that deadlines fall due in \
            the coming days; the same seed gives the same cases), then shows the deadlines falling due this week, your \
            open alerts and the statistics. The daemon keeps running so that you can try every command against it; \
            'imr-ctl demo --stop' stops it. Running the demo again replaces the previous demo's data, never anything else: \
            it refuses a directory that is not a demo's.
            """
    )

    @Option(help: "The demo's directory (default: $TMPDIR/imr-demo-UID).") var dir: String?
    @Option(help: "How many cases to invent.") var cases: Int = 300
    @Option(help: "The seed of the caseload.") var seed: UInt64 = 2026
    @Flag(help: "Stop the demo daemon and remove its files.") var stop = false

    package init() {}

    static let marker = "imr-demo"

    var directory: URL {
        if let dir { return URL(fileURLWithPath: dir) }
        let tmp = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        return URL(fileURLWithPath: tmp).appendingPathComponent("imr-demo-\(getuid())")
    }

    var socketPath: String { directory.appendingPathComponent("imr.sock").path }
    var pidFile: URL { directory.appendingPathComponent("daemon.pid") }
    var logFile: URL { directory.appendingPathComponent("daemon.log") }

    package func validate() throws {
        if !(1...20_000).contains(cases) { throw ValidationError("--cases must be between 1 and 20000") }
    }

    package func run() throws {
        do {
            try stopRunningDemo()
            if stop {
                try? FileManager.default.removeItem(at: directory)
                return
            }
            try start()
        } catch let failure as CommandFailure {
            Output.error(failure.message)
            throw ExitCode(failure.status.rawValue)
        }
    }

    /// Stops the demo daemon of this directory, if one runs, and clears the directory.
    func stopRunningDemo() throws {
        let fm = FileManager.default
        guard fm.fileExists(atPath: directory.path) else {
            if stop { print("no demo runs in \(directory.path)") }
            return
        }
        guard fm.fileExists(atPath: directory.appendingPathComponent(Self.marker).path) else {
            throw CommandFailure(
                "\(directory.path) exists and is not an imr demo directory; choose another with --dir",
                status: .usage
            )
        }
        if let text = try? String(contentsOf: pidFile, encoding: .utf8),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)),
            kill(pid, 0) == 0
        {
            kill(pid, SIGTERM)
            for _ in 0..<100 where kill(pid, 0) == 0 { usleep(100_000) }
            print("stopped the demo daemon (pid \(pid))")
        }
        try fm.removeItem(at: directory)
    }

    func start() throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // The marker lets `--stop` remove this directory (and no other): without it, stop here.
        try Data("an imr-ctl demo directory\n".utf8).write(to: directory.appendingPathComponent(Self.marker))
        let daemonPath = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent()
            .appendingPathComponent("imr-daemon").path
        guard fm.isExecutableFile(atPath: daemonPath) else {
            throw CommandFailure(
                "imr-daemon is not beside imr-ctl (\(daemonPath)); build it with 'swift build --product imr-daemon'",
                status: .unavailable
            )
        }
        try Data().write(to: logFile)
        let log = try FileHandle(forWritingTo: logFile)
        let daemon = SpawnedProcess()
        daemon.executableURL = URL(fileURLWithPath: daemonPath)
        // Demo data needs no protection against power loss: "normal" records it about three times faster.
        let config = directory.appendingPathComponent("imr-daemon.toml")
        try Data("# The demo daemon's configuration (imr-ctl demo).\n[store]\nsynchronous = \"normal\"\n".utf8).write(
            to: config
        )
        daemon.arguments = [
            "--config", config.path, "--state-dir", directory.appendingPathComponent("state").path, "--socket",
            socketPath,
        ]
        var environment = ProcessInfo.processInfo.environment
        for key in ["NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "JOURNAL_STREAM", "WATCHDOG_USEC"] {
            environment[key] = nil
        }
        daemon.environment = environment
        daemon.standardInput = FileHandle.nullDevice
        daemon.standardOutput = log
        daemon.standardError = log
        try daemon.start()
        try Data("\(daemon.processIdentifier)\n".utf8).write(to: pidFile)
        print("started imr-daemon (pid \(daemon.processIdentifier)) on \(socketPath)")

        let client = try waitForDaemon(daemon)
        var caseload = SyntheticCaseload(
            now: Date(),
            count: cases,
            seed: seed,
            coordinators: [currentUserName(), "maria", "jorge", "priya"]
        )
        let calls = caseload.calls()
        print("recording \(cases) synthetic cases (\(calls.count) lifecycle facts, seed \(seed)) ...")
        let started = Date()
        try Self.record(calls, at: socketPath, connections: Self.recordingConnections)
        print(String(format: "recorded in %.1f s\n", Date().timeIntervalSince(started)))

        let socket = ["--socket", socketPath]
        let overduePage = try DaemonClient.decode(
            DeadlinePage.self,
            try client.call(
                DeadlineBoardFilter.method,
                try WireFormat.object(DeadlineBoardFilter(overdue: true, limit: 1))
            ),
            method: DeadlineBoardFilter.method
        )
        let overdue = overduePage.deadlines.count + Int(overduePage.remaining)
        print(
            Output.styled(
                "Deadlines falling due in the next 7 days (imr-ctl deadlines --within 7d --pending --limit 20)",
                .bold
            )
        )
        let board = try Deadlines.parse(socket + ["--within", "7d", "--pending", "--limit", "20"])
        try board.run()
        let atLeast = overduePage.remainingAtLeast ? "at least " : ""
        print(
            "... and \(atLeast)\(overdue) already overdue (imr-ctl deadlines --overdue). A deadline that had passed before "
                + "its case was entered is kept as history, not overdue: imr-ctl deadlines --overdue --include-history."
        )
        print("")
        let alerts = try waitForAlerts(client)
        print(
            Output.styled(
                "Your open alerts (imr-ctl alerts --limit 12; everyone's: \(alerts) open, imr-ctl alerts --all)",
                .bold
            )
        )
        let mine = try Alerts.parse(socket + ["--limit", "12"])
        try mine.run()
        print("")
        print(Output.styled("Statistics (imr-ctl stats)", .bold))
        let stats = try Stats.parse(socket)
        try stats.run()
        print(
            """

            The demo daemon keeps running (pid \(daemon.processIdentifier); log \(logFile.path)).
            Go on with, for example:
            \(aliasLine)  export IMR_SOCKET=\(socketPath)
              imr-ctl cases --mine             # your cases (you are one of the four coordinators)
              imr-ctl deadlines --overdue      # what is already late (misses from before entry: add --include-history)
              imr-ctl show DEMO-0001 --explain # one case, every deadline with how it was counted
              imr-ctl alerts --all             # every open alert; imr-ctl ack ID, imr-ctl snooze ID --until 2h
              imr-ctl export ics -o imr.ics    # the board for a calendar app
            Stop it with: imr-ctl demo --stop\(dir.map { " --dir \($0)" } ?? "")   (or scripts/demo --stop)
            """
        )
    }

    /// `alias imr-ctl=...` when the imr-ctl that runs is not the one on PATH (a build tree).
    var aliasLine: String {
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
        let onPath = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map {
            URL(fileURLWithPath: String($0)).appendingPathComponent("imr-ctl").resolvingSymlinksInPath().path
        }.first { FileManager.default.isExecutableFile(atPath: $0) }
        return onPath == me ? "" : "  alias imr-ctl=\(me)\n"
    }

    /// Waits until the daemon's alert scheduler has caught up with the caseload (the number of
    /// open alerts stops growing), and returns that number.
    func waitForAlerts(_ client: VarlinkClient) throws -> Int {
        var last = -1
        for _ in 0..<50 {
            let page = try DaemonClient.decode(
                AlertListPage.self,
                try client.call(AlertListRequest.method, try WireFormat.object(AlertListRequest(limit: 1))),
                method: AlertListRequest.method
            )
            let count = page.alerts.count + Int(page.remaining)
            if count == last { return count }
            last = count
            usleep(300_000)
        }
        return last
    }

    /// Connections the caseload is recorded over at once. The daemon decides what arrives
    /// together and commits it as one group, so eight clients record three to four times what one
    /// does (BENCHMARKS.md, `imr-bench load`); more add little on two cores.
    static let recordingConnections = 8

    /// Records `calls` (a case's calls one after another, as ``SyntheticCaseload/calls()`` gives
    /// them) over `connections` connections of their own, each case's calls in order on one of
    /// them, the cases dealt in turn. The first refusal or failure stops every connection after
    /// its call in flight, and is what is thrown.
    package static func record(_ calls: [SyntheticCaseload.Call], at socketPath: String, connections: Int) throws {
        var cases: [ArraySlice<SyntheticCaseload.Call>] = []
        var first = calls.startIndex
        for index in calls.indices.dropFirst()
        where calls[index].parameters["caseId"] != calls[first].parameters["caseId"] {
            cases.append(calls[first..<index])
            first = index
        }
        if first < calls.endIndex { cases.append(calls[first...]) }
        let runs = cases
        let lanes = min(max(connections, 1), runs.count)
        let failure = Mutex<CommandFailure?>(nil)
        let done = DispatchGroup()
        for lane in 0..<lanes {
            done.enter()
            let thread = Thread {
                defer { done.leave() }
                let client: VarlinkClient
                do {
                    client = try VarlinkClient(path: socketPath)
                } catch {
                    let lost = DaemonClient.failure(error, method: "io.imr.Cases", socket: socketPath)
                    failure.withLock { if $0 == nil { $0 = lost } }
                    return
                }
                for k in stride(from: lane, to: runs.count, by: lanes) {
                    for call in runs[k] {
                        guard failure.withLock({ $0 == nil }) else { return }
                        do {
                            _ = try client.call("io.imr.Cases.\(call.method)", call.parameters)
                        } catch {
                            let refused = DaemonClient.failure(error, method: call.method, socket: socketPath)
                                .prefixed(
                                    "the synthetic case \(call.parameters["caseId"]?.text ?? "?") was refused (\(call.method))"
                                )
                            failure.withLock { if $0 == nil { $0 = refused } }
                            return
                        }
                    }
                }
            }
            thread.start()
        }
        done.wait()
        if let refused = failure.withLock({ $0 }) { throw refused }
    }

    /// Waits until the daemon answers, or explains why it did not start.
    func waitForDaemon(_ daemon: SpawnedProcess) throws -> VarlinkClient {
        for _ in 0..<300 {
            if let exit = daemon.poll() {
                let log = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
                throw CommandFailure("imr-daemon exited (\(exit)): \(log.suffix(600))", status: .software)
            }
            if let client = try? VarlinkClient(path: socketPath), (try? client.call("io.imr.Admin.Status")) != nil {
                return client
            }
            usleep(100_000)
        }
        throw CommandFailure(
            "imr-daemon did not answer on \(socketPath) within 30 s; see \(logFile.path)",
            status: .unavailable
        )
    }
}

extension CommandFailure {
    func prefixed(_ context: String) -> CommandFailure { CommandFailure("\(context): \(message)", status: status) }
}
