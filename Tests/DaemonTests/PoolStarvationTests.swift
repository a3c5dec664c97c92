import ChildProcess
import EventStore
import Foundation
import TestSupport
import Testing
import Varlink

#if canImport(Glibc)
import Glibc
#endif

/// Issue 12 against the real daemon: no SQLite call runs on Swift's cooperative threads, so
/// the watchdog, the alert scheduler, `status` and a case keep answering while 32 clients
/// append or every bulk reader is busy, and SIGTERM ends the daemon within 10 s whatever is
/// in flight, losing no acknowledged command.
///
/// Only "answered within N seconds" is asserted, with N far above what an idle machine needs,
/// since CI runs other suites beside these on two cores. The watchdog bound is the exception:
/// it is systemd's own (a ping later than WATCHDOG_USEC gets the daemon killed). Each test
/// holds ``LoadTestLock``, so no other storm (the torture's) shares the two cores meanwhile.
@Suite(
    .serialized,
    .timeLimit(.minutes(5)),
    .enabled(if: geteuid() == 0, "recording commands and Verify need a coordinator and an admin: run as root (CI does)")
)
struct PoolStarvationTests {
    /// systemd's watchdog interval given to the daemon; it pings every half of it.
    static let watchdogSeconds = 1.0
    /// What "answered on time" means for status, a case and an alert under load.
    static let answerBound = 2.0

    static func daemon(directory: URL? = nil) throws -> DaemonProcess {
        try DaemonProcess(
            directory: directory,
            environment: ["WATCHDOG_USEC": String(Int(watchdogSeconds * 1_000_000))]
        )
    }

    @Test func theWatchdogStatusAndAlertsAnswerOnTimeWhile32ClientsAppend() async throws {
        try await LoadTestLock.shared.exclusively { try await watchdogStatusAndAlertsUnderAWriteStorm() }
    }

    func watchdogStatusAndAlertsUnderAWriteStorm() async throws {
        let daemon = try Self.daemon()
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() }, "no READY=1 from the daemon")
        let socket = daemon.socketPath
        let notes = NotifyLog(daemon.notify)
        #expect(
            try await offThePool { notes.waitForPing(timeout: Self.watchdogSeconds * 3) },
            "no watchdog ping from an idle daemon"
        )
        // The storm lasts six watchdog intervals: a daemon whose pings waited behind the
        // appends would miss several.
        let stormStart = Date()
        let storm = WriteStorm(socket: socket, clients: 32, prefix: "S", until: stormStart.addingTimeInterval(6))
        let status = Poller(socket: socket, method: "io.imr.Admin.Status")
        let alerts = try AlertProbe(socket: socket)
        try await offThePool {
            for round in 1...3 {
                usleep(1_500_000)
                try alerts.raise(caseId: "PROBE-\(round)", number: round)
            }
        }
        try await offThePool { storm.wait() }
        let stormEnd = Date()
        status.stop()
        // A ping after the storm's end closes the last interval.
        try await Task.sleep(for: .milliseconds(Int(Self.watchdogSeconds * 1200)))
        notes.stop()
        alerts.stop()

        #expect(!daemon.process.hasExited, "the daemon died during the storm: \(daemon.stop().output.suffix(2000))")
        let (acknowledged, failures, perClient) = storm.outcome
        #expect(failures.isEmpty, "\(failures.count) commands failed during the storm, e.g. \(failures.prefix(5))")
        #expect(perClient.allSatisfy { $0 > 0 }, "some clients recorded nothing: commands per client \(perClient)")
        #expect(
            acknowledged.count >= 100,
            "only \(acknowledged.count) commands were recorded in \(Int(stormEnd.timeIntervalSince(stormStart))) s by 32 clients"
        )
        Self.expectPingsOnTime(notes.pings, from: stormStart, to: stormEnd)
        Self.expectAnsweredOnTime(status, "io.imr.Admin.Status", during: stormEnd.timeIntervalSince(stormStart))
        for (caseId, lag) in alerts.lags {
            #expect(
                lag != nil && lag! < Self.answerBound * 2.5,
                "the alert of \(caseId) (an expedited RFA of 71 hours ago, alerting at once) reached its follower \(lag.map { String(format: "%.2f s", $0) } ?? "never") after the command"
            )
        }
        #expect(alerts.lags.count == 3, "the probe raised \(alerts.lags.count) of its 3 alerts")
        // Still answering once the storm is over.
        let after = try await offThePool { try daemon.client().call("io.imr.Admin.Status") }
        #expect(after["headPosition"]?.integer ?? 0 >= Int64(acknowledged.count), "status after the storm: \(after)")
        let stopped = daemon.stop()
        #expect(stopped.status == 0, "\(stopped.output.suffix(2000))")
    }

    @Test func longReadsOnEveryBulkReaderDoNotStarveStatusACaseOrTheWatchdog() async throws {
        try await LoadTestLock.shared.exclusively { try await statusACaseAndTheWatchdogUnderLongReads() }
    }

    func statusACaseAndTheWatchdogUnderLongReads() async throws {
        let daemon = try Self.daemon()
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() }, "no READY=1 from the daemon")
        let socket = daemon.socketPath
        let notes = NotifyLog(daemon.notify)
        let populated = try await offThePool { try Self.populate(socket) }
        let start = Date()
        // Eight readers for the daemon's three bulk reader threads (store.readers 4, one kept for
        // interactive reads): each of those is always busy and reads queue behind them.
        let reads = ReadStorm(socket: socket, connections: 8)
        let status = Poller(socket: socket, method: "io.imr.Admin.Status")
        let oneCase = Poller(socket: socket, method: "io.imr.Cases.Get", ["caseId": .string(populated.someCase)])
        try await Task.sleep(for: .seconds(6))
        let end = Date()
        status.stop()
        oneCase.stop()
        reads.stop()
        try await Task.sleep(for: .milliseconds(Int(Self.watchdogSeconds * 1200)))
        notes.stop()

        #expect(!daemon.process.hasExited, "the daemon died under the reads: \(daemon.stop().output.suffix(2000))")
        let outcome = reads.outcome
        #expect(
            outcome.failures.isEmpty,
            "\(outcome.failures.count) bulk reads failed, e.g. \(outcome.failures.prefix(5))"
        )
        // Each kind of long read really ran, over the whole caseload.
        for method in ReadStorm.calls.map(\.method) {
            #expect(
                (outcome.completed[method] ?? 0) >= 1,
                "\(method) completed \(outcome.completed[method] ?? 0) times in 6 s: the readers were not busy"
            )
        }
        #expect(
            outcome.largestList >= populated.cases,
            "Cases.List returned \(outcome.largestList) cases of the \(populated.cases) recorded"
        )
        Self.expectPingsOnTime(notes.pings, from: start, to: end)
        Self.expectAnsweredOnTime(status, "io.imr.Admin.Status", during: end.timeIntervalSince(start))
        Self.expectAnsweredOnTime(oneCase, "io.imr.Cases.Get", during: end.timeIntervalSince(start))
        let stopped = daemon.stop()
        #expect(stopped.status == 0, "\(stopped.output.suffix(2000))")
    }

    @Test func sigtermDuringReadAndWriteStormsEndsTheDaemonWithin10sAndLosesNothingAcknowledged() async throws {
        try await LoadTestLock.shared.exclusively { try await sigtermUnderReadAndWriteStorms() }
    }

    func sigtermUnderReadAndWriteStorms() async throws {
        let first = try Self.daemon()
        defer { first.cleanup() }
        _ = try #require(await offThePool { first.waitUntilReady() }, "no READY=1 from the daemon")
        let socket = first.socketPath
        let notes = NotifyLog(first.notify)
        // Enough cases that the reads in flight at SIGTERM take longer than the bound to finish
        // (in a debug build one io.imr.Cases.List of 2,000 cases takes about 12 s today): the
        // daemon is on time only if it interrupts them.
        _ = try await offThePool { try Self.populate(socket, cases: 2000) }
        let start = Date()
        let reads = ReadStorm(socket: socket, connections: 8)
        let storm = WriteStorm(socket: socket, clients: 32, prefix: "T", until: Date().addingTimeInterval(120))
        try await Task.sleep(for: .seconds(3))
        // Over this caseload a list can take longer than the wait: the reads are in flight, not yet answered.
        #expect(
            reads.outcome.asked >= 8 && storm.outcome.acknowledged.count > 0,
            "the storms had not started when SIGTERM was sent: \(reads.outcome.asked) reads asked, \(storm.outcome.acknowledged.count) commands recorded"
        )
        let inFlight = reads.outcome.completed
        storm.daemonStops()
        reads.daemonStops()
        let sent = Date()
        first.signal(SIGTERM)
        let exited = try await offThePool { first.process.waitForExit(seconds: 10) != nil }
        let seconds = Date().timeIntervalSince(sent)
        if !exited {
            Issue.record(
                "the daemon was still running \(String(format: "%.1f", seconds)) s after SIGTERM with reads and writes in flight; its threads:\n\(threadStacks(first.process.processIdentifier))"
            )
            first.signal(SIGKILL)
        }
        let (status, output) = try await offThePool { first.wait() }
        notes.stop()
        // Up to one interval before SIGTERM: the daemon may stop pinging once it stops.
        Self.expectPingsOnTime(notes.pings, from: start, to: sent.addingTimeInterval(-Self.watchdogSeconds))
        #expect(
            exited && status == 0,
            "exit status \(status) \(String(format: "%.1f", seconds)) s after SIGTERM: \(output.suffix(3000))"
        )
        try await offThePool { storm.wait() }
        try await offThePool { reads.wait() }
        let (acknowledged, failures, _) = storm.outcome
        #expect(failures.isEmpty, "\(failures.count) commands failed before SIGTERM, e.g. \(failures.prefix(5))")
        #expect(
            reads.outcome.failures.isEmpty,
            "\(reads.outcome.failures.count) reads failed before SIGTERM, e.g. \(reads.outcome.failures.prefix(5))"
        )

        // Restarted on the same state: the log is intact and holds every command a client saw
        // acknowledged, at the positions its reply named.
        let second = try Self.daemon(directory: first.directory)
        defer { second.cleanup() }
        _ = try #require(
            await offThePool { second.waitUntilReady() },
            "no READY=1 from the daemon restarted after SIGTERM: \(second.stop().output.suffix(2000))"
        )
        let secondNotes = NotifyLog(second.notify)
        defer { secondNotes.stop() }
        let (verify, missing) = try await offThePool { () -> ([String: JSONValue], [String]) in
            let c = try second.client()
            let verify = try c.call("io.imr.Admin.Verify")
            var missing: [String] = []
            for (caseId, commands) in Dictionary(grouping: acknowledged, by: { $0.value.caseId }) {
                var logged: [String: [Int64]] = [:]
                if case .array(let events)? = try c.call("io.imr.Cases.History", ["caseId": .string(caseId)])["events"]
                {
                    for event in events {
                        if let command = event["commandId"]?.stringValue, let position = event["position"]?.integer {
                            logged[command.lowercased(), default: []].append(position)
                        }
                    }
                }
                for (command, ack) in commands where logged[command] != ack.positions {
                    missing.append(
                        "\(caseId) command \(command): acknowledged at \(ack.positions), in the log at \(logged[command] ?? [])"
                    )
                }
            }
            return (verify, missing)
        }
        #expect(verify["intact"] == .bool(true), "verify after the restart: \(verify)")
        #expect(
            missing.isEmpty,
            "\(missing.count) of \(acknowledged.count) acknowledged commands are not in the log as acknowledged, e.g. \(missing.prefix(5))"
        )
        #expect(
            acknowledged.count > 0,
            "no command was acknowledged before SIGTERM (reads completed before it: \(inFlight))"
        )
        let stopped = second.stop()
        #expect(stopped.status == 0, "\(stopped.output.suffix(2000))")
    }

    // MARK: - Checks

    /// Every stretch without a ping that overlaps the window is shorter than the watchdog interval.
    static func expectPingsOnTime(
        _ pings: [Date],
        from start: Date,
        to end: Date,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let before = pings.last { $0 <= start }
        let after = pings.first { $0 >= end }
        #expect(
            before != nil && after != nil,
            "no watchdog ping \(before == nil ? "before" : "after") the load (\(pings.count) pings in all)",
            sourceLocation: sourceLocation
        )
        let inside = pings.filter { $0 > start && $0 < end }
        let marks = [before ?? start] + inside + [after ?? end]
        let gaps = zip(marks, marks.dropFirst()).map { ($0.timeIntervalSince(start), $1.timeIntervalSince($0)) }
        let late = gaps.filter { $0.1 >= watchdogSeconds }
        let silences = late.map { String(format: "%.2f s from %.2f s into the load", $0.1, $0.0) }.joined(
            separator: ", "
        )
        #expect(
            late.isEmpty,
            "the watchdog (WATCHDOG_USEC \(watchdogSeconds) s, a ping due every \(watchdogSeconds / 2) s) went silent \(silences); systemd would have killed the daemon",
            sourceLocation: sourceLocation
        )
        // Half-interval pings, a few allowed late: fewer means the loop stalled without a long gap.
        let expected = Int(end.timeIntervalSince(start) / (watchdogSeconds / 2))
        #expect(
            inside.count >= expected - 3,
            "\(inside.count) watchdog pings in \(String(format: "%.1f", end.timeIntervalSince(start))) s of load, expected about \(expected)",
            sourceLocation: sourceLocation
        )
    }

    static func expectAnsweredOnTime(
        _ poller: Poller,
        _ method: String,
        during seconds: Double,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let (answers, failures) = poller.outcome
        #expect(
            failures.isEmpty,
            "\(method) failed \(failures.count) times under load, e.g. \(failures.prefix(3))",
            sourceLocation: sourceLocation
        )
        let slow = answers.filter { $0.seconds >= answerBound }
        let times = slow.map { String(format: "%.2f s", $0.seconds) }.joined(separator: ", ")
        #expect(
            slow.isEmpty,
            "\(method) took \(times) under load (bound \(answerBound) s)",
            sourceLocation: sourceLocation
        )
        // Asked every 0.2 s: a call that hung would leave too few answers, even without a slow one recorded.
        #expect(
            answers.count >= Int(seconds / (0.2 + answerBound)),
            "\(method) answered only \(answers.count) times in \(Int(seconds)) s",
            sourceLocation: sourceLocation
        )
    }

    // MARK: - A caseload

    /// Records the first five steps of many cases, from 32 connections at once: cases with
    /// items, running deadlines and alerts, for the long reads to walk.
    static func populate(_ socket: String, cases: Int = 640) throws -> (cases: Int, someCase: String) {
        let storm = WriteStorm(
            socket: socket,
            clients: 32,
            prefix: "P",
            until: Date().addingTimeInterval(600),
            casesPerClient: cases / 32,
            steps: 5
        )
        storm.wait()
        let (acknowledged, failures, _) = storm.outcome
        guard failures.isEmpty else { throw DaemonFailure("populating the store failed: \(failures.prefix(5))") }
        let cases = Set(acknowledged.values.map(\.caseId))
        return (cases.count, cases.sorted().first ?? "")
    }
}

/// The lifecycle of one dispute, from the RFA to closure, as a coordinator records it; the
/// dates are in 2024, so every clock it starts had passed when recorded: history, no alert.
func lifecycle(
    _ caseId: String,
    number: Int,
    coordinator: String = "maria"
) -> [(method: String, parameters: [String: JSONValue])] {
    let imr = JSONValue.string(String(format: "CM24-%07d", number % 10_000_000))
    let items: JSONValue = .array(["1"])
    let calls: [(String, [String: JSONValue])] = [
        (
            "Open",
            [
                "claimNumber": .string("ADJ-\(number)"), "employer": "Acme", "claimsAdministrator": "Golden TPA",
                "injuredWorkerReference": "J.S.", "dateOfInjury": "2023-11-02", "coordinator": .string(coordinator),
            ]
        ),
        (
            "ReceiveRFA",
            [
                "rfaId": "A", "receivedAt": "2024-02-26T10:15", "receivedTimeOfDayKnown": true, "transmission": "fax",
                "physician": "Dr. Lee", "reviewType": "prospective", "expedited": false, "formulary": false,
                "items": .array([.object(["id": "1", "description": "8 massage visits"])]),
            ]
        ),
        (
            "DecideUR",
            [
                "rfaId": "A", "decidedAt": "2024-02-28T09:00",
                "decisions": .array([.object(["itemId": "1", "outcome": "denied"])]),
            ]
        ),
        ("NotifyPhysician", ["itemIds": items, "notifiedAt": "2024-02-28T10:00", "method": "fax"]),
        (
            "ServeWrittenDecision",
            ["itemIds": items, "servedOn": "2024-02-29", "method": "mail", "destination": "california"]
        ),
        ("ReceiveIMRApplication", ["itemIds": items, "receivedOn": "2024-03-20"]),
        ("FindEligible", ["itemIds": items, "foundOn": "2024-03-28"]),
        (
            "AssignIMR",
            [
                "itemIds": items, "imrCaseNumber": imr, "assignedOn": "2024-03-29", "priority": "standard",
                "noticeMethod": "mail",
            ]
        ),
        ("ReceiveRecords", ["imrCaseNumber": imr, "receivedOn": "2024-04-10"]),
        (
            "RecordDetermination",
            [
                "imrCaseNumber": imr, "decidedOn": "2024-04-30", "mailedOn": "2024-05-01",
                "reviewerSpecialty": "Physical Medicine and Rehabilitation",
                "items": .array([
                    .object([
                        "itemId": "1", "decision": "overturned", "guideline": "MTUS", "rationaleSummary": "necessary",
                    ])
                ]),
            ]
        ),
        ("RecordImplementation", ["itemId": "1", "implementedOn": "2024-05-06", "kind": "authorized"]),
        ("Close", ["closedOn": "2024-06-10", "reason": "implemented"]),
    ]
    return calls.map { method, parameters in
        var p = parameters
        p["caseId"] = .string(caseId)
        return ("io.imr.Cases." + method, p)
    }
}

// MARK: - Load

/// Clients on threads of their own, each on its own connection, recording lifecycles of cases
/// of their own (a case's commands in order, each with a command id) until `until`.
/// @unchecked Sendable: every field the threads share is behind `lock`.
final class WriteStorm: @unchecked Sendable {
    struct Ack {
        let caseId: String
        let positions: [Int64]
    }
    private let lock = NSLock()
    private var acknowledged: [String: Ack] = [:]
    private var failures: [String] = []
    private var perClient: [Int]
    private var stopping = false
    private let done = DispatchGroup()

    init(socket: String, clients: Int, prefix: String, until: Date, casesPerClient: Int = .max, steps: Int = 12) {
        perClient = Array(repeating: 0, count: clients)
        for k in 0..<clients {
            done.enter()
            Thread.detachNewThread { [self] in
                defer { done.leave() }
                client(k, socket: socket, prefix: prefix, until: until, cases: casesPerClient, steps: steps)
            }
        }
    }

    private func client(_ k: Int, socket: String, prefix: String, until: Date, cases: Int, steps: Int) {
        let c: VarlinkClient
        do { c = try VarlinkClient(path: socket) } catch {
            fail("client \(k) could not connect: \(error)")
            return
        }
        c.setReceiveTimeout(30)
        var n = 0
        while n < cases && Date() < until {
            let caseId = "\(prefix)\(k)-\(n)"
            for (method, parameters) in lifecycle(caseId, number: k * 100_000 + n).prefix(steps) {
                guard Date() < until else { return }
                let commandId = UUID().uuidString.lowercased()
                var p = parameters
                p["commandId"] = .string(commandId)
                do {
                    let recorded = try c.call(method, p)["recorded"]
                    var positions: [Int64] = []
                    if case .array(let list)? = recorded?["positions"] { positions = list.compactMap(\.integer) }
                    lock.withLock {
                        acknowledged[commandId] = Ack(caseId: caseId, positions: positions)
                        perClient[k] += 1
                    }
                } catch {
                    // Once the daemon is told to stop, a refused or unanswered call is expected;
                    // the client stops there (its case's later steps would be refused).
                    if !lock.withLock({ stopping }) { fail("\(method) \(caseId): \(error)") }
                    return
                }
            }
            n += 1
        }
    }

    private func fail(_ text: String) { lock.withLock { failures.append(text) } }

    /// From now on a failed call ends its client quietly: the daemon is being stopped.
    func daemonStops() { lock.withLock { stopping = true } }

    func wait() { done.wait() }

    var outcome: (acknowledged: [String: Ack], failures: [String], perClient: [Int]) {
        lock.withLock { (acknowledged, failures, perClient) }
    }
}

/// Connections that loop over the daemon's long reads (the whole case list page after page, every deadline,
/// the hash chain over the whole log) until stopped.
/// @unchecked Sendable: every field the threads share is behind `lock`.
final class ReadStorm: @unchecked Sendable {
    static let calls: [(method: String, parameters: [String: JSONValue])] = [
        ("io.imr.Cases.List", [:]), ("io.imr.Deadlines.List", [:]), ("io.imr.Admin.Verify", [:]),
    ]
    private let lock = NSLock()
    private var completed: [String: Int] = [:]
    private var failures: [String] = []
    private var largestList = 0
    private var asked = 0
    private var stopped = false
    private var stopping = false
    private let done = DispatchGroup()

    init(socket: String, connections: Int) {
        for k in 0..<connections {
            done.enter()
            Thread.detachNewThread { [self] in
                defer { done.leave() }
                let c: VarlinkClient
                do { c = try VarlinkClient(path: socket) } catch {
                    lock.withLock { failures.append("reader \(k) could not connect: \(error)") }
                    return
                }
                c.setReceiveTimeout(60)
                var i = k
                while !lock.withLock({ stopped }) {
                    let (method, parameters) = Self.calls[i % Self.calls.count]
                    i += 1
                    lock.withLock { asked += 1 }
                    do {
                        var reply: [String: JSONValue] = [:]
                        var listed = 0
                        if method == "io.imr.Cases.List" {
                            // The whole list, page after page in one call.
                            try c.stream(method, ["limit": 1000]) { page in
                                if case .array(let cases)? = page["cases"] { listed += cases.count }
                                return true
                            }
                        } else {
                            reply = try c.call(method, parameters)
                        }
                        if method == "io.imr.Admin.Verify" && reply["intact"] != .bool(true) {
                            lock.withLock { failures.append("verify under load: \(reply)") }
                        }
                        lock.withLock {
                            completed[method, default: 0] += 1
                            largestList = max(largestList, listed)
                        }
                    } catch {
                        if !lock.withLock({ stopping }) { lock.withLock { failures.append("\(method): \(error)") } }
                        return
                    }
                }
            }
        }
    }

    /// Ends the loops after their current read, and waits for them.
    func stop() {
        lock.withLock { stopped = true }
        done.wait()
    }

    func daemonStops() { lock.withLock { stopping = true } }

    func wait() { done.wait() }

    var outcome: (completed: [String: Int], asked: Int, failures: [String], largestList: Int) {
        lock.withLock { (completed, asked, failures, largestList) }
    }
}

/// Calls one method on a fresh connection every 0.2 s, as a person or a monitor would, and
/// keeps how long each answer took.
/// @unchecked Sendable: every field the thread shares is behind `lock`.
final class Poller: @unchecked Sendable {
    private let lock = NSLock()
    private var answers: [(at: Date, seconds: Double)] = []
    private var failures: [String] = []
    private var stopped = false
    private let done = DispatchSemaphore(value: 0)

    init(socket: String, method: String, _ parameters: [String: JSONValue] = [:]) {
        Thread.detachNewThread { [self] in
            while !lock.withLock({ stopped }) {
                let started = Date()
                do {
                    let c = try VarlinkClient(path: socket)
                    // Far above the bound: a late answer is measured, not lost.
                    c.setReceiveTimeout(30)
                    _ = try c.call(method, parameters)
                    lock.withLock { answers.append((started, Date().timeIntervalSince(started))) }
                } catch {
                    lock.withLock {
                        failures.append("\(error) after \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
                    }
                }
                usleep(200_000)
            }
            done.signal()
        }
    }

    func stop() {
        lock.withLock { stopped = true }
        done.wait()
    }

    var outcome: (answers: [(at: Date, seconds: Double)], failures: [String]) { lock.withLock { (answers, failures) } }
}

/// A coordinator following the alerts of cases of their own ("probe"), and the lag between
/// recording a command that makes a clock overdue and hearing of its alert.
/// @unchecked Sendable: every field the threads share is behind `lock`.
final class AlertProbe: @unchecked Sendable {
    private let socket: String
    private let lock = NSLock()
    private var recordedAt: [String: Date] = [:]
    private var heardAt: [String: Date] = [:]
    private var stopped = false
    private let done = DispatchSemaphore(value: 0)

    init(socket: String) throws {
        self.socket = socket
        let following = DispatchSemaphore(value: 0)
        let failure = FailureBox()
        Thread.detachNewThread { [self] in
            defer { done.signal() }
            let follower: VarlinkClient
            do {
                follower = try VarlinkClient(path: socket)
                try follower.send(
                    VarlinkCall(method: "io.imr.Alerts.Follow", parameters: ["coordinator": "probe"], more: true)
                )
                follower.setReceiveTimeout(0.3)
            } catch {
                failure.error = error
                following.signal()
                return
            }
            following.signal()
            while !lock.withLock({ stopped }) {
                // A timeout only lets the loop look at `stopped`; the buffer keeps what was read.
                guard let reply = try? follower.receive(),
                    let caseId = reply.parameters?["alert"]?["caseId"]?.stringValue
                else { continue }
                lock.withLock { if heardAt[caseId] == nil { heardAt[caseId] = Date() } }
            }
        }
        following.wait()
        if let error = failure.error { throw error }
    }

    /// Opens a case of the probe's coordinator with an RFA received in 2024: its UR clock is overdue at once.
    func raise(caseId: String, number: Int) throws {
        let c = try VarlinkClient(path: socket)
        c.setReceiveTimeout(30)
        var calls = Array(lifecycle(caseId, number: 9_000_000 + number, coordinator: "probe").prefix(2))
        // An expedited RFA of 71 hours ago: its 72-hour clock still runs when recorded (a clock
        // that had passed by then would be history, with no alert), and the levels before its
        // due instant are raised at once.
        calls[1].parameters["expedited"] = true
        calls[1].parameters["receivedAt"] = .string(
            ISO8601DateFormatter().string(from: Date().addingTimeInterval(-71 * 3600))
        )
        for (method, parameters) in calls { _ = try c.call(method, parameters) }
        lock.withLock { recordedAt[caseId] = Date() }
    }

    func stop() {
        lock.withLock { stopped = true }
        done.wait()
    }

    /// Seconds from each probe's command to its first alert; nil when none came.
    var lags: [(caseId: String, seconds: Double?)] {
        lock.withLock {
            recordedAt.sorted { $0.key < $1.key }.map { caseId, at in
                (caseId, heardAt[caseId].map { max(0, $0.timeIntervalSince(at)) })
            }
        }
    }
}

/// The daemon's notify datagrams, read on a thread of their own, each with the time the
/// kernel received it (SO_TIMESTAMP): a test thread slow to be scheduled on a loaded machine
/// does not make a ping look late. Start one as soon as the daemon is ready and keep it until
/// the daemon stops: the daemon's sd_notify blocks once ten datagrams wait unread
/// (net.unix.max_dgram_qlen), and with the watchdog's two pings a second that stalls its
/// cooperative threads within seconds.
/// @unchecked Sendable: every field the thread shares is behind `lock`.
final class NotifyLog: @unchecked Sendable {
    private let lock = NSLock()
    private var datagrams: [(text: String, at: Date)] = []
    private var stopped = false
    private let done = DispatchSemaphore(value: 0)

    init(_ notify: NotifySocket) {
        var on: Int32 = 1
        setsockopt(notify.fd, SOL_SOCKET, Self.soTimestamp, &on, socklen_t(MemoryLayout<Int32>.size))
        Thread.detachNewThread { [self] in
            while !lock.withLock({ stopped }) {
                if let datagram = Self.receive(notify.fd, timeout: 0.1) { lock.withLock { datagrams.append(datagram) } }
            }
            done.signal()
        }
    }

    func stop() {
        lock.withLock { stopped = true }
        done.wait()
    }

    /// Waits for a first ping (one interval at most, when the daemon is alive), so that a load
    /// started next has a ping before it to count from.
    func waitForPing(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while pings.isEmpty && Date() < deadline { usleep(10_000) }
        return !pings.isEmpty
    }

    var pings: [Date] {
        lock.withLock { datagrams.filter { $0.text.split(separator: "\n").contains("WATCHDOG=1") }.map(\.at) }
    }

    /// SO_TIMESTAMP (SO_TIMESTAMP_OLD: 64-bit time_t) and SCM_TIMESTAMP; glibc defines them by
    /// macros Swift cannot import.
    static let soTimestamp: Int32 = 29

    private static func receive(_ fd: Int32, timeout: Double) -> (text: String, at: Date)? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(timeout * 1000)) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        var control = [UInt8](repeating: 0, count: 256)
        var controlLength = 0
        let n = buffer.withUnsafeMutableBytes { data in
            control.withUnsafeMutableBytes { ancillary in
                var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    var header = msghdr()
                    header.msg_iov = vectorPointer
                    header.msg_iovlen = 1
                    header.msg_control = ancillary.baseAddress
                    header.msg_controllen = ancillary.count
                    let n = recvmsg(fd, &header, 0)
                    controlLength = Int(header.msg_controllen)
                    return n
                }
            }
        }
        guard n > 0 else { return nil }
        var at = Date()
        // The control messages: cmsghdr, then its data at the next 8-byte boundary.
        let headerSize = (MemoryLayout<cmsghdr>.size + 7) & ~7
        var offset = 0
        control.withUnsafeBytes { raw in
            while offset + headerSize <= controlLength {
                let message = raw.loadUnaligned(fromByteOffset: offset, as: cmsghdr.self)
                if message.cmsg_level == SOL_SOCKET && message.cmsg_type == soTimestamp
                    && offset + headerSize + MemoryLayout<timeval>.size <= controlLength
                {
                    let stamp = raw.loadUnaligned(fromByteOffset: offset + headerSize, as: timeval.self)
                    at = Date(timeIntervalSince1970: Double(stamp.tv_sec) + Double(stamp.tv_usec) / 1_000_000)
                }
                guard message.cmsg_len > 0 else { break }
                offset += (Int(message.cmsg_len) + 7) & ~7
            }
        }
        return (String(decoding: buffer[..<n], as: UTF8.self), at)
    }
}

/// An error handed from a thread. @unchecked Sendable: written before a semaphore is signalled, read after it.
final class FailureBox: @unchecked Sendable {
    var error: (any Error)?
}

extension JSONValue {
    fileprivate var integer: Int64? { if case .int(let i) = self { i } else { nil } }
}

/// Every thread's stack in a process, for a failure message: the top frames of each thread,
/// demangled when swift-demangle is there (gdb or eu-stack, whichever exists).
func threadStacks(_ pid: pid_t) -> String {
    for tool in [
        ["/usr/bin/eu-stack", "-p", "\(pid)"],
        ["/usr/bin/gdb", "-p", "\(pid)", "-batch", "-ex", "thread apply all bt 14"],
    ]
    where FileManager.default.isExecutableFile(atPath: tool[0]) {
        guard let result = try? run(tool), !result.output.isEmpty else { continue }
        var text = result.output
        let demangler = "/opt/swift/usr/bin/swift-demangle"
        if FileManager.default.isExecutableFile(atPath: demangler) {
            let input = FileManager.default.temporaryDirectory.appendingPathComponent("imr-stacks-\(pid).txt")
            if (try? text.write(to: input, atomically: true, encoding: .utf8)) != nil,
                let demangled = try? run(["/bin/sh", "-c", "\(demangler) --simplified < '\(input.path)'"]),
                demangled.status == 0
            {
                text = demangled.output
            }
            try? FileManager.default.removeItem(at: input)
        }
        let lines = text.split(separator: "\n").filter {
            $0.hasPrefix("Thread ") || $0.hasPrefix("TID ") || $0.hasPrefix("#")
        }
        return lines.map { String($0.prefix(220)) }.joined(separator: "\n")
    }
    return "(neither eu-stack nor gdb is installed)"
}
