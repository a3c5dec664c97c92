import ChildProcess
import EventStore
import Foundation
import TestSupport
import Testing
import Varlink

#if canImport(Glibc)
import Glibc
#endif

/// The instant of a Pacific wall-clock time ("2024-03-07 07:59:58").
private func pacific(_ text: String) -> Date {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "America/Los_Angeles")
    formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
    return formatter.date(from: text)!
}

/// An AlertRaised as the log holds it (read without the service's types, as an outsider would).
struct LoggedAlert {
    let position: Int64
    let alertId: String
    let deadlineId: String
    let level: String
    let late: Bool
    let scheduledAt: Int64
    var key: String { "\(deadlineId)#\(level)" }
}

/// Every AlertRaised in the log at `path`, in log order, and how many alert streams exist.
func loggedAlerts(_ path: String) throws -> (alerts: [LoggedAlert], streams: Int) {
    let store = try EventStore(path: path)
    defer { store.close() }
    #expect(try store.verify().isIntact)
    let events = try store.readAll(from: 1, limit: 1_000_000)
    let alerts = events.filter { $0.type == "AlertRaised" }.map { e -> LoggedAlert in
        let o = (try? JSONSerialization.jsonObject(with: e.payloadData)) as? [String: Any] ?? [:]
        return LoggedAlert(
            position: e.position,
            alertId: (o["alertId"] as? String ?? "").lowercased(),
            deadlineId: o["deadlineId"] as? String ?? "",
            level: o["level"] as? String ?? "",
            late: o["late"] as? Bool ?? false,
            scheduledAt: (o["scheduledAt"] as? NSNumber)?.int64Value ?? 0
        )
    }
    return (alerts, Set(events.map(\.streamId).filter { $0.hasPrefix("alert-") }).count)
}

/// The real imr-daemon under a shifted wall clock (IMR_TEST_CLOCK_OFFSET: the clock starts
/// at the given instant and runs on), restarted on one state directory.
final class ShiftedDaemons: @unchecked Sendable {
    let directory: URL
    var socketPath: String { directory.appendingPathComponent("imr.sock").path }
    var storePath: String { directory.appendingPathComponent("state/imr.sqlite").path }
    var outputs: [String] = []
    var daemons: [DaemonProcess] = []

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-alerts-e2e-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Starts the daemon with its clock at `instant` (Pacific) and waits for READY=1 (by
    /// then the alerts due while it was stopped are raised).
    func start(at instant: String, arguments: [String] = []) throws -> DaemonProcess {
        // The daemon's test-only clock control. (Debian's faketime cannot do this: under a
        // clock shifted backwards Swift's Task.sleep never returns, so no alert would come on time.)
        let daemon = try DaemonProcess(
            directory: directory,
            arguments: arguments,
            environment: ["IMR_TEST_CLOCK_OFFSET": String(pacific(instant).timeIntervalSinceNow)]
        )
        daemons.append(daemon)
        guard daemon.waitUntilReady() != nil else {
            daemon.signal(SIGTERM)
            let (_, output) = daemon.wait()
            throw DaemonFailure("no READY=1 from the daemon started at \(instant): \(output)")
        }
        return daemon
    }

    /// SIGTERM, and the exit status must be 0; keeps the output.
    func stop(_ daemon: DaemonProcess) {
        daemon.signal(SIGTERM)
        let (status, output) = daemon.wait()
        #expect(status == 0, "\(output)")
        outputs.append(output)
    }

    func cleanup() {
        // Each one gone before the directory is: a daemon still exiting would write into it again.
        for daemon in daemons { daemon.process.killAndWait() }
        try? FileManager.default.removeItem(at: directory)
    }
}

struct DaemonFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Opens case `caseId` (coordinator maria) with one prospective RFA received at `receivedAt` (Pacific).
func openCaseWithRFA(
    _ c: VarlinkClient,
    _ caseId: String,
    receivedAt: String,
    expedited: Bool = false,
    rfaId: String = "A"
) throws {
    var open = openParameters
    open["caseId"] = .string(caseId)
    _ = try c.call("io.imr.Cases.Open", open)
    try receiveRFA(c, caseId, rfaId: rfaId, receivedAt: receivedAt, expedited: expedited)
}

func receiveRFA(_ c: VarlinkClient, _ caseId: String, rfaId: String, receivedAt: String, expedited: Bool = false) throws
{
    _ = try c.call(
        "io.imr.Cases.ReceiveRFA",
        [
            "caseId": .string(caseId), "rfaId": .string(rfaId), "receivedAt": .string(receivedAt),
            "receivedTimeOfDayKnown": true,
            "transmission": "fax", "physician": "Dr. Lee", "reviewType": "prospective", "expedited": .bool(expedited),
            "formulary": false,
            "items": .array([.object(["id": .string("\(rfaId)1"), "description": "MRI lumbar spine"])]),
        ]
    )
}

func openAlerts(_ c: VarlinkClient, _ parameters: [String: JSONValue] = [:]) throws -> [[String: JSONValue]] {
    guard case .array(let list)? = try c.call("io.imr.Alerts.List", parameters)["alerts"] else { return [] }
    return list.compactMap(\.objectValue)
}

@Suite(.serialized, .timeLimit(.minutes(5))) struct AlertDaemonTests {
    @Test func eachAlertIsRaisedExactlyOnceAcross20Restarts_andAMetDeadlineStaysSilent() async throws {
        let daemons = try ShiftedDaemons()
        defer { daemons.cleanup() }
        // Monday 4 March 2024 10:30, then every 10 hours, 20 starts, to Tuesday 12 March.
        let start = pacific("2024-03-04 10:30:00")
        let format = DateFormatter()
        format.locale = Locale(identifier: "en_US_POSIX")
        format.timeZone = TimeZone(identifier: "America/Los_Angeles")
        format.dateFormat = "yyyy-MM-dd HH:mm:ss"
        for run in 0..<20 {
            let at = format.string(from: start.addingTimeInterval(Double(run) * 10 * 3600))
            let daemon = try await offThePool { try daemons.start(at: at) }
            try await offThePool {
                let c = try daemon.client()
                if run == 0 {
                    // c1: the UR decision is due Monday 11 March. c2: the same, but decided on
                    // Tuesday 5 March, before its first alert (Thursday's reminder).
                    try openCaseWithRFA(c, "c1", receivedAt: "2024-03-04T10:00")
                    try openCaseWithRFA(c, "c2", receivedAt: "2024-03-04T10:00")
                }
                if run == 2 {  // Tuesday 5 March 06:30
                    _ = try c.call(
                        "io.imr.Cases.DecideUR",
                        [
                            "caseId": "c2", "rfaId": "A", "decidedAt": "2024-03-05T06:00",
                            "decisions": .array([.object(["itemId": "A1", "outcome": "approved"])]),
                        ]
                    )
                }
                _ = try openAlerts(c)
            }
            try await offThePool { daemons.stop(daemon) }
        }
        let (alerts, streams) = try loggedAlerts(daemons.storePath)
        let keys = alerts.map(\.key)
        #expect(keys.count == Set(keys).count, "an alert was raised twice: \(keys)")
        #expect(streams == alerts.count)
        let decision = alerts.filter { $0.deadlineId == "c1/ur.decision.prospective/A" }
        #expect(decision.map(\.level) == ["reminder", "due-today", "overdue"])
        #expect(
            decision.map(\.scheduledAt)
                == [pacific("2024-03-07 08:00:00"), pacific("2024-03-11 08:00:00"), pacific("2024-03-12 00:00:00")]
                .map { Int64($0.timeIntervalSince1970) }
        )
        // Never running at those instants, the daemon raised them at its next start: late.
        #expect(decision.allSatisfy { $0.late })
        #expect(!alerts.contains { $0.deadlineId == "c2/ur.decision.prospective/A" })
        // Each raised alert went to the journal (stderr here) once, in whichever run raised it.
        let journal = daemons.outputs.joined(separator: "\n").split(separator: "\n")
        let overdue = journal.filter {
            $0.contains("MESSAGE_ID=38893cd1167c41f59de4435f91e1b223")
                && $0.contains("IMR_DEADLINE=c1/ur.decision.prospective/A")
        }
        #expect(overdue.count == 1)
        #expect(
            overdue.first.map {
                $0.contains("IMR_CASE=c1") && $0.contains("IMR_RULE=ur.decision.prospective")
                    && $0.contains("IMR_DUE=2024-03-11T23:59:59-07:00") && $0.contains("IMR_COORDINATOR=maria")
            } == true
        )
        #expect(
            journal.filter { $0.contains("IMR_ALERT_ID=") && $0.contains("CODE_FUNC=log(_:late:)") }.count
                == alerts.count
        )
    }

    @Test func anAlertComesOnTimeWhileRunning_andAThreeDayOutageIsCaughtUpLateInDueOrder() async throws {
        let daemons = try ShiftedDaemons()
        defer { daemons.cleanup() }
        // Friday 1 March 10:00: the decision is due Friday 8 March; its reminder is Wednesday 6 March 08:00.
        let first = try await offThePool { try daemons.start(at: "2024-03-06 07:59:57") }
        let reminder = try await offThePool { () -> [String: JSONValue]? in
            let c = try first.client()
            try openCaseWithRFA(c, "c1", receivedAt: "2024-03-01T10:00")
            for _ in 0..<600 {
                if let r = try openAlerts(c).first(where: { $0["deadlineId"] == "c1/ur.decision.prospective/A" }) {
                    return r
                }
                usleep(50_000)
            }
            return nil
        }
        #expect(reminder?["level"] == "reminder")
        #expect(reminder?["scheduledAt"] == "2024-03-06T08:00:00-08:00")
        #expect(reminder?["late"] == false, "raised while running, at its time")
        try await offThePool { daemons.stop(first) }
        let before = try loggedAlerts(daemons.storePath).alerts.count

        // Down from Wednesday 08:00 to Saturday 9 March 08:00.
        let second = try await offThePool { try daemons.start(at: "2024-03-09 08:00:00") }
        let figures = try await offThePool { try second.client().call("io.imr.Admin.Status")["figures"]?["service"] }
        try await offThePool { daemons.stop(second) }
        let caughtUp = Array(try loggedAlerts(daemons.storePath).alerts.dropFirst(before))
        // Late by the daemon (it was stopped), none by recording; the operator's lag is the
        // outage's: at least the eight hours since the overdue alert's midnight.
        #expect(figures?["alertsRaisedLate"]?.intValue == Int64(caughtUp.count))
        #expect(figures?["alertsRaisedLateByRecording"]?.intValue == 0)
        #expect((figures?["largestAlertLagSeconds"]?.doubleValue ?? 0) >= 8 * 3_600)
        let decision = caughtUp.filter { $0.deadlineId == "c1/ur.decision.prospective/A" }
        // Due-today and overdue both came due while it was down: overdue alone, which supersedes it.
        #expect(decision.map(\.level) == ["overdue"])
        #expect(!caughtUp.isEmpty && caughtUp.allSatisfy { $0.late })
        #expect(caughtUp.map(\.scheduledAt) == caughtUp.map(\.scheduledAt).sorted(), "raised in due order")
        #expect(
            daemons.outputs[1].contains("raised \(caughtUp.count) alerts that came due while the daemon was stopped")
        )
    }

    /// The morning digest: at [alerts] digest_at (here a start after that time on the same
    /// day), each coordinator with something due this week gets a journal entry and a run of
    /// the notification command with the digest on stdin; `imr-ctl digest` prints the same.
    @Test func theMorningDigestReachesTheJournalAndTheCommand_andImrCtlPrintsIt() async throws {
        let daemons = try ShiftedDaemons()
        defer { daemons.cleanup() }
        // Recorded on Monday 11 March at 07:00: c1 due that day, c2 due Wednesday 13 March.
        let first = try await offThePool { try daemons.start(at: "2024-03-11 07:00:00") }
        try await offThePool {
            let c = try first.client()
            try openCaseWithRFA(c, "c1", receivedAt: "2024-03-04T10:00")
            try openCaseWithRFA(c, "c2", receivedAt: "2024-03-06T10:00")
        }
        try await offThePool { daemons.stop(first) }

        let dir = daemons.directory.path
        let script = daemons.directory.appendingPathComponent("notify.sh")
        try """
        #!/bin/sh
        if [ "$IMR_DIGEST" = "1" ]; then cat > "\(dir)/digest-$IMR_COORDINATOR.json"; echo "$IMR_COORDINATOR $IMR_DIGEST_DAY $IMR_DIGEST_OVERDUE $IMR_DIGEST_DUE_TODAY $IMR_DIGEST_THIS_WEEK" >> "\(dir)/digests.log"; fi
        """.write(to: script, atomically: true, encoding: .utf8)
        let config = daemons.directory.appendingPathComponent("imr-daemon.toml")
        try """
        [alerts]
        command = ["/bin/sh", "\(script.path)"]
        digest_at = "08:00"
        """.write(to: config, atomically: true, encoding: .utf8)
        let second = try await offThePool {
            try daemons.start(at: "2024-03-11 08:00:05", arguments: ["--config", config.path])
        }
        let log = daemons.directory.appendingPathComponent("digests.log")
        let sent = try await offThePool { () -> String in
            for _ in 0..<400 {
                if let text = try? String(contentsOf: log, encoding: .utf8), !text.isEmpty { return text }
                usleep(50_000)
            }
            return ""
        }
        let json = try Data(contentsOf: daemons.directory.appendingPathComponent("digest-maria.json"))
        let digest = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        func section(_ key: String) -> (count: Int, cases: Set<String>, rules: Set<String>) {
            let s = digest[key] as? [String: Any] ?? [:]
            let rows = s["deadlines"] as? [[String: Any]] ?? []
            #expect(s["count"] as? Int == rows.count, "\(key)")
            return (
                s["count"] as? Int ?? -1, Set(rows.compactMap { $0["caseId"] as? String }),
                Set(rows.compactMap { $0["rule"] as? String })
            )
        }
        #expect(digest["coordinator"] as? String == "maria" && digest["day"] as? String == "2024-03-11")
        #expect(section("overdue").count == 0)
        let today = section("dueToday")
        let week = section("thisWeek")
        #expect(today.cases == ["c1"] && today.rules.contains("ur.decision.prospective"), "\(today)")
        #expect(week.cases == ["c2"] && week.rules.contains("ur.decision.prospective"), "\(week)")
        #expect(sent == "maria 2024-03-11 0 \(today.count) \(week.count)\n")

        let env = ["IMR_SOCKET": daemons.socketPath]
        let ctl = productsDirectory.appendingPathComponent("imr-ctl").path
        let printed = try await offThePool { try run([ctl, "digest", "--coordinator", "maria"], environment: env) }
        #expect(printed.status == 0, "\(printed.output)")
        #expect(
            printed.output.contains("Digest for maria, Mon 2024-03-11")
                && printed.output.contains("Due today (\(today.count))")
                && printed.output.contains("Due this week (\(week.count))") && !printed.output.contains("Overdue"),
            "\(printed.output)"
        )
        let nobody = try await offThePool { try run([ctl, "digest", "--coordinator", "nobody"], environment: env) }
        #expect(nobody.output.contains("nothing overdue, due today or due this week"), "\(nobody.output)")
        try await offThePool { daemons.stop(second) }
        let journal = daemons.outputs.last ?? ""
        #expect(journal.contains("MESSAGE_ID=08c9871798d44419b4f8dd1fbb10aa54"), "\(journal)")
        #expect(
            journal.contains(
                "digest for maria, Mon 2024-03-11: 0 overdue, \(today.count) due today, \(week.count) more this week"
            )
        )
    }

    @Test func aFailingNotificationCommandIsRetried_withoutDelayingOtherAlerts() async throws {
        let daemons = try ShiftedDaemons()
        defer { daemons.cleanup() }
        let dir = daemons.directory.path
        let script = daemons.directory.appendingPathComponent("notify.sh")
        // The overdue alert of the UR decision hangs until killed at the timeout; the others succeed.
        try """
        #!/bin/sh
        cat > "\(dir)/stdin-$IMR_ALERT_ID-$IMR_ATTEMPT.json"
        echo "$IMR_ALERT_ID $IMR_RULE $IMR_LEVEL $IMR_ATTEMPT start $IMR_CASE $IMR_COORDINATOR $IMR_LATE" >> "\(dir)/calls.log"
        if [ "$IMR_RULE" = "ur.decision.prospective" ] && [ "$IMR_LEVEL" = "overdue" ]; then exec sleep 30; fi
        echo "$IMR_ALERT_ID $IMR_RULE $IMR_LEVEL $IMR_ATTEMPT done" >> "\(dir)/calls.log"
        """.write(to: script, atomically: true, encoding: .utf8)
        let config = daemons.directory.appendingPathComponent("imr-daemon.toml")
        try """
        [alerts]
        command = ["/bin/sh", "\(script.path)"]
        command_timeout_seconds = 1
        command_attempts = 3
        command_retry_seconds = 0.2
        """.write(to: config, atomically: true, encoding: .utf8)
        let daemon = try await offThePool {
            try daemons.start(at: "2024-03-11 23:59:55", arguments: ["--config", config.path])
        }
        let log = daemons.directory.appendingPathComponent("calls.log")
        @Sendable func lines() -> [[String]] {
            ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").map {
                $0.split(separator: " ").map(String.init)
            }
        }
        try await offThePool {
            let c = try daemon.client()
            try openCaseWithRFA(c, "c1", receivedAt: "2024-03-04T10:00")
            for _ in 0..<600 {
                if lines().filter({ $0[1] == "ur.decision.prospective" && $0[2] == "overdue" && $0[4] == "start" })
                    .count >= 3
                {
                    break
                }
                usleep(50_000)
            }
        }
        try await offThePool { daemons.stop(daemon) }
        let calls = lines()
        let (alerts, _) = try loggedAlerts(daemons.storePath)
        let failing = try #require(
            alerts.first { $0.deadlineId == "c1/ur.decision.prospective/A" && $0.level == "overdue" }
        )
        let others = alerts.filter { $0.alertId != failing.alertId }
        #expect(!others.isEmpty)
        // The hanging one: three attempts, none finished.
        #expect(
            calls.filter { $0[0] == failing.alertId }.map { "\($0[3]) \($0[4])" } == ["1 start", "2 start", "3 start"]
        )
        // Every other alert ran once, successfully, before the hanging one's first retry.
        let firstRetry = try #require(calls.firstIndex { $0[0] == failing.alertId && $0[3] == "2" })
        for other in others {
            let done = calls.firstIndex { $0[0] == other.alertId && $0[4] == "done" }
            #expect(done != nil && done! < firstRetry, "alert \(other.key) waited for the failing command")
            #expect(calls.filter { $0[0] == other.alertId }.count == 2)
        }
        // The reminder and due-today alerts were raised late, at the recording; overdue on time.
        #expect(
            calls.allSatisfy {
                $0.count < 6
                    || ($0[5] == "c1" && $0[6] == "maria" && $0[7] == ($0[0] == failing.alertId ? "false" : "true"))
            }
        )
        // The alert as JSON on stdin.
        let json = try Data(contentsOf: daemons.directory.appendingPathComponent("stdin-\(failing.alertId)-1.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object["alertId"] as? String == failing.alertId)
        #expect(object["deadlineId"] as? String == "c1/ur.decision.prospective/A")
        #expect(object["level"] as? String == "overdue")
        #expect(object["due"] as? String == "2024-03-11T23:59:59-07:00")
        // Each failure was logged with its MESSAGE_ID before the next attempt.
        let failures = daemons.outputs[0].split(separator: "\n").filter {
            $0.contains("MESSAGE_ID=fdc818e0581949acb5821d9c393b4e2d")
        }
        #expect(failures.count >= 2)
        #expect(failures.first?.contains("timed out after") == true)
    }

    @Test func imrCtlListsAcknowledgesSnoozesAndFollowsAlerts() async throws {
        let daemons = try ShiftedDaemons()
        defer { daemons.cleanup() }
        let daemon = try await offThePool { try daemons.start(at: "2024-03-11 23:59:55") }
        let env = ["IMR_SOCKET": daemons.socketPath]
        let ctl = productsDirectory.appendingPathComponent("imr-ctl").path
        try await offThePool {
            let c = try daemon.client()
            // c1 is due Monday 11 March (its due-today alert comes at once, its overdue one at
            // midnight); c2 and c3 are due Wednesday 13 and Tuesday 12 March (their reminders
            // are due; their notices came before their RFAs).
            try openCaseWithRFA(c, "c1", receivedAt: "2024-03-04T10:00")
            try openCaseWithRFA(c, "c2", receivedAt: "2024-03-06T10:00")
            try openCaseWithRFA(c, "c3", receivedAt: "2024-03-05T09:00")
            // The scheduler answers the commits; wait until the overdue alert and both reminders are open.
            for _ in 0..<600
            where try !(openAlerts(c).contains(where: { $0["level"] == "overdue" }) && openAlerts(c).count >= 3) {
                usleep(50_000)
            }

            let listed = try run([ctl, "alerts", "--all", "--json"], environment: env)
            #expect(listed.status == 0, "\(listed.output)")
            let all = try #require(try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]])
            func levels(_ caseId: String, _ alerts: [[String: Any]]) -> [String] {
                alerts.filter { $0["deadlineId"] as? String == "\(caseId)/ur.decision.prospective/A" }.compactMap {
                    $0["level"] as? String
                }
            }
            // c1's due-today alert was raised, then superseded by overdue: one alert shows.
            #expect(levels("c1", all) == ["overdue"])
            #expect(
                try loggedAlerts(daemons.storePath).alerts.filter { $0.deadlineId == "c1/ur.decision.prospective/A" }
                    .map(\.level) == ["due-today", "overdue"]
            )
            #expect(levels("c2", all) == ["reminder"] && levels("c3", all) == ["reminder"])
            // In due order; each shows its deadline's items and, for a day deadline, its date.
            #expect(all.compactMap { $0["caseId"] as? String } == ["c1", "c3", "c2"])
            #expect(
                all.allSatisfy {
                    ($0["itemIds"] as? [String]) == ["A1"] && $0["isExactInstant"] as? Bool == false
                        && $0["dueDate"] is String
                }
            )
            // One page at a time (--limit), with a last line saying how many more and how to see them.
            let first = try run([ctl, "alerts", "--all", "--limit", "2"], environment: env)
            let lines = first.output.split(separator: "\n").map(String.init)
            #expect(first.status == 0 && lines.count == 4, "header, two alerts, the rest: \(first.output)")
            #expect(
                lines.dropFirst().first?.contains(" c1 ") == true && lines.dropFirst(2).first?.contains(" c3 ") == true
            )
            let more = lines.last ?? ""
            #expect(
                more.hasPrefix("1 more open alert: add --every-page to see them all; the next page: --after ad1."),
                "\(first.output)"
            )
            let next = String(more.split(separator: " ").last ?? "")
            let second = try run([ctl, "alerts", "--all", "--limit", "2", "--after", next], environment: env)
            #expect(second.status == 0 && second.output.split(separator: "\n").count == 2, "\(second.output)")
            #expect(second.output.contains(" c2 ") && !second.output.contains("more open alert"), "\(second.output)")
            // Every page, a page a reply: the same alerts as one page of all of them, in due order.
            let every = try run([ctl, "alerts", "--all", "--limit", "1", "--every-page", "--json"], environment: env)
            #expect(
                (try JSONSerialization.jsonObject(with: Data(every.output.utf8)) as? [[String: Any]])?.compactMap {
                    $0["alertId"] as? String
                } == all.compactMap { $0["alertId"] as? String },
                "\(every.output)"
            )
            // --json: the page on stdout, the line about the rest on stderr.
            let jsonPage = try run(
                ["sh", "-c", "\"$0\" alerts --all --limit 1 --json 2>/dev/null", ctl],
                environment: env
            )
            #expect(
                (try JSONSerialization.jsonObject(with: Data(jsonPage.output.utf8)) as? [[String: Any]])?.count == 1,
                "\(jsonPage.output)"
            )
            // A case id in other letters, also when every page is streamed.
            let otherLetters = try run([ctl, "alerts", "--all", "--case", "C1", "--every-page"], environment: env)
            #expect(otherLetters.status == 0 && otherLetters.output.contains(" c1 "), "\(otherLetters.output)")
            for bad in [
                ["--limit", "0"], ["--limit", "1001"], ["--follow", "--every-page"], ["--follow", "--after", next],
            ] {
                #expect(try run([ctl, "alerts"] + bad, environment: env).status == 64, "\(bad)")
            }
            let c1Table = try run([ctl, "alerts", "--all", "--case", "c1"], environment: env)
            #expect(
                c1Table.status == 0 && c1Table.output.contains("ITEMS") && c1Table.output.contains("2024-03-11  A1"),
                "\(c1Table.output)"
            )
            #expect(!c1Table.output.contains("23:59") && !c1Table.output.contains(" c2 "), "\(c1Table.output)")
            let overdueOnly = try run([ctl, "alerts", "--all", "--level", "overdue", "--json"], environment: env)
            #expect(
                (try JSONSerialization.jsonObject(with: Data(overdueOnly.output.utf8)) as? [[String: Any]])?.compactMap
                { $0["caseId"] as? String } == ["c1"]
            )
            #expect(
                try run([ctl, "alerts", "--all", "--rule", "imr.application"], environment: env).output.contains(
                    "no open alerts matching"
                )
            )
            #expect(try run([ctl, "alerts", "--all", "--case", "nope"], environment: env).status == 66)
            #expect(try run([ctl, "alerts", "--all", "--level", "urgent"], environment: env).status == 64)
            func id(_ caseId: String) -> String {
                all.first { $0["deadlineId"] as? String == "\(caseId)/ur.decision.prospective/A" }?["alertId"]
                    as? String ?? "?"
            }
            let ids = ["overdue": id("c1"), "reminder": id("c2"), "third": id("c3")]

            let table = try run([ctl, "alerts", "--coordinator", "maria"], environment: env)
            #expect(table.status == 0)
            #expect(
                table.output.contains("ALERT") && table.output.contains("overdue") && table.output.contains("(late)")
            )
            #expect(table.output.contains(String(ids["overdue"]!.prefix(8))))
            // Mine: the caller (root) coordinates nothing.
            #expect(try run([ctl, "alerts"], environment: env).output.contains("no open alerts for root"))

            let ack = try run([ctl, "ack", String(ids["overdue"]!.prefix(8))], environment: env)
            #expect(ack.status == 0, "\(ack.output)")
            #expect(
                ack.output.contains(
                    "acknowledged \(ids["overdue"]!): overdue ur.decision.prospective of case c1 (by root)"
                )
            )
            let missing = try run([ctl, "ack", "00000000-0000-5000-8000-000000000000"], environment: env)
            #expect(missing.status == 66, "\(missing.output)")
            // The start of no open alert's id (the daemon looks it up).
            let taken = Set(ids.values.map { $0.prefix(4) })
            let unused = (0..<65_536).lazy.map { String(format: "%04x", $0) }.first { !taken.contains(Substring($0)) }!
            let noMatch = try run([ctl, "snooze", unused, "--until", "2h"], environment: env)
            #expect(
                noMatch.status == 66 && noMatch.output.contains("no open alert whose id starts with '\(unused)'"),
                "\(noMatch.output)"
            )

            let snooze = try run([ctl, "snooze", ids["reminder"]!, "--until", "2024-03-13T09:00"], environment: env)
            #expect(snooze.status == 0, "\(snooze.output)")
            #expect(snooze.output.contains("until 2024-03-13T09:00:00-07:00"))
            let again = try run([ctl, "snooze", ids["overdue"]!, "--until", "2024-03-13T09:00"], environment: env)
            #expect(again.status == 1, "\(again.output)")
            #expect(again.output.contains("already acknowledged"))
            let bad = try run([ctl, "snooze", ids["third"]!, "--until", "soon"], environment: env)
            #expect(bad.status == 64)

            // Reassigned: it leaves maria's alerts and shows in jorge's.
            let reassign = try run(
                [ctl, "reassign", String(ids["third"]!.prefix(8)), "--to", "jorge"],
                environment: env
            )
            #expect(reassign.status == 0, "\(reassign.output)")
            #expect(reassign.output.contains("reassigned \(ids["third"]!) to jorge"))
            let jorge = try run([ctl, "alerts", "--coordinator", "jorge", "--json"], environment: env)
            let jorges = try #require(
                try JSONSerialization.jsonObject(with: Data(jorge.output.utf8)) as? [[String: Any]]
            )
            #expect(jorges.compactMap { $0["alertId"] as? String } == [ids["third"]!])
            #expect(
                !(try run([ctl, "alerts", "--coordinator", "maria"], environment: env).output.contains(
                    String(ids["third"]!.prefix(8))
                ))
            )
            _ = try run([ctl, "reassign", ids["third"]!, "--to", "maria"], environment: env)

            let left = try run([ctl, "alerts", "--all", "--json"], environment: env)
            let open = try #require(try JSONSerialization.jsonObject(with: Data(left.output.utf8)) as? [[String: Any]])
            // c1's overdue alert is acknowledged and its due-today one stays superseded; c2's is snoozed.
            #expect(levels("c1", open).isEmpty && levels("c2", open).isEmpty && levels("c3", open) == ["reminder"])

            // --follow: the open alerts first, then a new one as it is raised.
            let follower = SpawnedProcess()
            follower.executableURL = URL(fileURLWithPath: ctl)
            follower.arguments = ["alerts", "--follow", "--json", "--coordinator", "maria"]
            follower.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
            let pipe = Pipe.forChild()
            follower.standardOutput = pipe
            try follower.start()
            defer { follower.killAndWait() }
            // A follower that stops writing must not hang the run: each line is waited for at
            // most 30 seconds (poll), then nextLine() gives up with nil.
            let fd = pipe.fileHandleForReading.fileDescriptor
            var buffer: [UInt8] = []
            var seen: [String] = []
            func nextLine() -> [String: Any]? {
                let deadline = Date().addingTimeInterval(30)
                while !buffer.contains(0x0A) {
                    var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    let left = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
                    guard left > 0, poll(&ready, 1, left) > 0 else { return nil }
                    var chunk = [UInt8](repeating: 0, count: 4096)
                    let n = read(fd, &chunk, chunk.count)
                    guard n > 0 else { return nil }
                    buffer += chunk[0..<n]
                }
                let end = buffer.firstIndex(of: 0x0A)!
                let line = Array(buffer[..<end])
                buffer.removeFirst(end + 1)
                seen.append(String(decoding: line, as: UTF8.self))
                return try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
            }
            let replayed = (0..<open.count).compactMap { _ in nextLine() }
            #expect(replayed.count == open.count)
            #expect(replayed.allSatisfy { $0["replayed"] as? Bool == true })
            // Due 2024-03-12 02:00, so still running at the daemon's midnight: its notice and
            // reminder are due at once, and the reminder alone is raised (one due already when
            // recorded would be history).
            try receiveRFA(c, "c1", rfaId: "B", receivedAt: "2024-03-09T01:00", expedited: true)
            var live: [String: Any]?
            for _ in 0..<20 {
                guard let line = nextLine() else { break }
                if line["replayed"] as? Bool == false {
                    live = line
                    break
                }
            }
            let alert = live?["alert"] as? [String: Any]
            #expect(alert?["deadlineId"] as? String == "c1/ur.decision.expedited/B", "follower printed: \(seen)")

            // In bulk, one event per alert: a case's alerts, then mine due before a date.
            let byCase = try run([ctl, "ack", "--case", "c3"], environment: env)
            #expect(byCase.status == 0 && byCase.output.contains("acknowledged \(ids["third"]!)"), "\(byCase.output)")
            let expedited = try #require(alert?["alertId"] as? String)
            _ = try run([ctl, "reassign", expedited, "--to", "root"], environment: env)
            #expect(try run([ctl, "ack", "--all-mine"], environment: env).status == 64)
            let none = try run([ctl, "ack", "--all-mine", "--before", "2024-03-12"], environment: env)
            #expect(none.status == 0 && none.output.contains("nothing acknowledged"), "\(none.output)")
            let mine = try run([ctl, "ack", "--all-mine", "--before", "2024-03-13"], environment: env)
            #expect(
                mine.status == 0 && mine.output.contains("acknowledged \(expedited)")
                    && mine.output.contains("(by root)"),
                "\(mine.output)"
            )
            let log = try EventStore(path: daemons.storePath)
            let acknowledgements = try log.readAll(from: 1, limit: 1_000_000).filter { $0.type == "AlertAcknowledged" }
                .count
            log.close()
            #expect(acknowledgements == 3, "the overdue one earlier, then one event for each of these two")
        }
        try await offThePool { daemons.stop(daemon) }
    }
}
