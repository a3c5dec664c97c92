import EventStore
import Foundation
import IMRWire
import TestSupport
import Testing
import Varlink
@testable import IMRService
@testable import Workflow

private func pacific(_ iso: String, _ hour: Int, _ minute: Int = 0) -> Date {
    Pacific.instant(LocalDate(iso: iso)!, hour: hour, minute: minute)
}

private func error(of body: () throws -> Any) -> VarlinkError? {
    do {
        _ = try body()
        return nil
    } catch { return error as? VarlinkError }
}

/// io.imr.Alerts over a real socket, on the alert fixture's log with its alerts raised as of
/// Tuesday 12 March 2024 09:00 (the interface's clock).
@Suite(.timeLimit(.minutes(2))) struct AlertsInterfaceTests {
    let now = pacific("2024-03-12", 9)

    func withAlertsServer(
        replayPage: Int = AlertProjection.maximumPage,
        _ body: @escaping @Sendable (String, AlertFixture, AlertsInterface) throws -> Void
    ) async throws {
        let f = try AlertFixture()
        defer { f.close() }
        let now = self.now
        try AlertScheduler(store: f.store).raiseDue(now: now)
        try await withAlertsSocket(f.store, in: f.dir, now: now, replayPage: replayPage) { path, alerts in
            try body(path, f, alerts)
        }
    }

    @Test func listAcknowledgeSnoozeAndReassign_areEventsAndShapeTheOpenList() async throws {
        try await withAlertsServer { path, f, _ in
            let c = try VarlinkClient(path: path)
            func open(_ p: [String: JSONValue] = [:]) throws -> [[String: JSONValue]] {
                (try c.call("io.imr.Alerts.List", p)["alerts"]?.elements ?? []).compactMap { $0.objectValue }
            }
            try Self.raise(2, in: f)  // three open alerts in all, one per act below
            let all = try open()
            #expect(all.count == (try f.raisedEvents().count))
            #expect(try open(["coordinator": "maria"]).count == all.count)
            #expect(try open(["coordinator": "nobody"]).isEmpty)
            // The test runs as root: "mine" is root's, and root coordinates nothing here.
            #expect(try open(["mine": true]).isEmpty)
            let first = try #require(all.first)
            let id = try #require(first["alertId"]?.stringValue)
            #expect(first["caseId"] == "c1")
            #expect(first["late"] == true)
            #expect(
                first["due"]?.stringValue?.hasSuffix("-07:00") == true
                    || first["due"]?.stringValue?.hasSuffix("-08:00") == true
            )

            let acked = try c.call("io.imr.Alerts.Acknowledge", ["alertId": .string(id)])["alert"]?.objectValue
            #expect(acked?["acknowledgedBy"] == "root")
            #expect(try open().count == all.count - 1)
            // Again: nothing new is recorded.
            let version = try f.store.version(of: AlertStreams.streamId(UUID(uuidString: id)!))
            _ = try c.call("io.imr.Alerts.Acknowledge", ["alertId": .string(id)])
            #expect(try f.store.version(of: AlertStreams.streamId(UUID(uuidString: id)!)) == version)
            #expect(
                error { try c.call("io.imr.Alerts.Snooze", ["alertId": .string(id), "until": "2024-03-13T09:00"]) }?
                    .name == "io.imr.Alerts.AlreadyAcknowledged"
            )

            let second = try #require(all.dropFirst().first?["alertId"]?.stringValue)
            let snoozed = try c.call(
                "io.imr.Alerts.Snooze",
                ["alertId": .string(second), "until": "2024-03-13T09:00"]
            )["alert"]?.objectValue
            #expect(snoozed?["snoozedUntil"] == "2024-03-13T09:00:00-07:00")
            #expect(try !open().contains { $0["alertId"]?.stringValue == second })
            // Open again once the snooze ends.
            let later = try AlertProjection.open(in: f.store, now: pacific("2024-03-13", 9, 1))
            #expect(later.contains { $0.alertId == second })

            let third = try #require(all.dropFirst(2).first?["alertId"]?.stringValue)
            _ = try c.call("io.imr.Alerts.Reassign", ["alertId": .string(third), "coordinator": "lee"])
            #expect(try open(["coordinator": "lee"]).map { $0["alertId"]?.stringValue } == [third])

            let acts = try f.store.readAll(from: 1, limit: 10_000).filter {
                $0.streamId.hasPrefix(AlertStreams.prefix) && $0.type != AlertRaised.typeName
            }
            #expect(acts.map(\.type) == ["AlertAcknowledged", "AlertSnoozed", "AlertReassigned"])
            // Each names who acted in its metadata, as a case event does (the audit trail, `imr-ctl history`).
            let actors = Set(acts.map(\.metadata.actor))
            #expect(actors.count == 1 && actors.first??.hasPrefix("uid:") == true, "\(actors)")
        }
    }

    @Test func badRequests_nameWhatIsWrong() async throws {
        try await withAlertsServer { path, _, _ in
            let c = try VarlinkClient(path: path)
            let missing = error {
                try c.call("io.imr.Alerts.Acknowledge", ["alertId": "6f1c1f0e-0000-5000-8000-000000000000"])
            }
            #expect(missing?.name == "io.imr.Alerts.AlertNotFound")
            let notUUID = error { try c.call("io.imr.Alerts.Acknowledge", ["alertId": "x"]) }
            #expect(notUUID?.name == "io.imr.Alerts.InvalidValue")
            #expect(notUUID?.parameters["parameter"] == "alertId")
            let id = try #require(
                try c.call("io.imr.Alerts.List")["alerts"]?.elements?.first?.objectValue?["alertId"]?.stringValue
            )
            let past = error {
                try c.call("io.imr.Alerts.Snooze", ["alertId": .string(id), "until": "2024-03-01T09:00"])
            }
            #expect(past?.name == "io.imr.Alerts.InvalidValue")
            #expect(past?.parameters["message"]?.stringValue?.contains("not in the future") == true)
            let nul = error {
                try c.call("io.imr.Alerts.Reassign", ["alertId": .string(id), "coordinator": "lee\u{0}root"])
            }
            #expect(nul?.name == "io.imr.Alerts.InvalidValue")
            #expect(nul?.parameters["parameter"] == "coordinator")
            #expect(nul?.parameters["message"]?.stringValue?.contains("U+0000") == true)
            let garbage = error { try c.call("io.imr.Alerts.Snooze", ["alertId": .string(id), "until": "tomorrow"]) }
            #expect(garbage?.parameters["parameter"] == "until")
            #expect(error { try c.call("io.imr.Alerts.Follow") }?.name == "org.varlink.service.ExpectedMore")
        }
    }

    /// The replay reads the open alerts a page at a time (here two alerts a page).
    @Test func follow_replaysOpenAlerts_thenStreamsNewOnes() async throws {
        try await withAlertsServer(replayPage: 2) { path, f, alerts in
            let c = try VarlinkClient(path: path)
            try Self.raise(4, in: f, coordinator: "li")
            let open = try AlertProjection.open(in: f.store, now: pacific("2024-03-12", 9)).map(\.alertId)
            #expect(open.count > 4)
            var replayed: [String] = []
            var live: [String] = []
            try c.stream("io.imr.Alerts.Follow", [:]) { reply in
                guard let alert = reply["alert"]?.objectValue, let id = alert["alertId"]?.stringValue else {
                    return false
                }
                if reply["replayed"] == true {
                    replayed.append(id)
                    if replayed.count == open.count {
                        // Caught up: a new deadline's alert is raised now (an expedited RFA of 71
                        // hours ago: its notice and reminder are due, the reminder alone is raised;
                        // one already over would be history).
                        try f.service.execute(
                            .receiveRFA(
                                RFAReceived(
                                    rfaId: "B",
                                    receivedAt: pacific("2024-03-09", 10),
                                    transmission: .fax,
                                    physician: "Dr. Lee",
                                    treatmentRecommendedOn: nil,
                                    reviewType: .prospective,
                                    expedited: true,
                                    items: [RequestedItem(id: "2", description: "surgery")]
                                )
                            ),
                            on: "c1",
                            actor: f.actor,
                            commandId: UUID(),
                            now: pacific("2024-03-12", 9)
                        )
                        try AlertScheduler(store: f.store).raiseDue(now: pacific("2024-03-12", 9))
                    }
                } else {
                    live.append(alert["deadlineId"]?.stringValue ?? "")
                }
                return live.filter { $0 == "c1/ur.decision.expedited/B" }.isEmpty
            }
            #expect(replayed == open)
            #expect(live.filter { $0 == "c1/ur.decision.expedited/B" }.count == 1)
            _ = alerts
        }
    }

    @Test func follow_showsASnoozedAlertAgainWhenItsSnoozeEnds() async throws {
        let f = try AlertFixture()
        defer { f.close() }
        let clock = TestClock(pacific("2024-03-12", 9))
        try AlertScheduler(store: f.store).raiseDue(now: clock.read())
        let alerts = AlertsInterface(
            store: f.store,
            access: AccessControl(),
            clock: { clock.read() },
            snoozeCheck: .milliseconds(20)
        )
        let server = VarlinkServer(
            info: .init(vendor: "imr", product: "imr-daemon", version: "test", url: "https://example.invalid"),
            handlers: [alerts]
        )
        let path = f.dir.appendingPathComponent("imr.sock").path
        let (ready, signal) = AsyncStream<Void>.makeStream()
        let running = Task { try await server.run(.path(path, mode: 0o660)) { signal.yield() } }
        for await _ in ready { break }
        defer {
            alerts.stopFollowers()
            server.shutdown()
        }
        let open = try AlertProjection.open(in: f.store, now: clock.read()).map(\.alertId)
        try #require(!open.isEmpty)
        let snoozed = open[0]
        let seen = try await offThePool { () -> [String] in
            let follower = try VarlinkClient(path: path)
            var replayed = 0
            var live: [String] = []
            try follower.stream("io.imr.Alerts.Follow", [:]) { reply in
                guard let id = reply["alert"]?["alertId"]?.stringValue else { return false }
                if reply["replayed"] == true {
                    replayed += 1
                    if replayed == open.count {
                        // Snoozed for an hour, then two hours pass: it comes back on its own.
                        _ = try VarlinkClient(path: path).call(
                            "io.imr.Alerts.Snooze",
                            [
                                "alertId": .string(snoozed),
                                "until": .string(Pacific.rfc3339(pacific("2024-03-12", 10))),
                            ]
                        )
                        clock.set(pacific("2024-03-12", 11))
                        // Should it never come back, the stream ends after 10 s and the test fails.
                        Thread.detachNewThread {
                            sleep(10)
                            alerts.stopFollowers()
                        }
                    }
                    return true
                }
                live.append(id)
                return false
            }
            return live
        }
        #expect(seen == [snoozed])
        alerts.stopFollowers()
        server.shutdown()
        try await running.value
    }

    /// Appends `count` AlertRaised events as the scheduler would (each on its own stream).
    /// An alert's wire form, built by hand, is what the Codable encoder writes: with and
    /// without its optional fields.
    @Test func anAlertsWireFormIsWhatTheEncoderWrites() throws {
        let due = Pacific.instant(LocalDate(iso: "2024-03-11")!, hour: 23, minute: 59, second: 59)
        var view = AlertView(
            alertId: "0a1b",
            deadlineId: "c1/ur.decision.prospective/A",
            caseId: "c1",
            rule: "ur.decision.prospective",
            level: "overdue",
            due: due,
            scheduledAt: due.addingTimeInterval(1),
            raisedAt: due.addingTimeInterval(61.5),
            late: true,
            coordinator: "maria \"m\" ñ",
            acknowledgedBy: nil,
            acknowledgedAt: nil,
            snoozedUntil: nil,
            position: 42
        )
        #expect(JSONValue.object(view.wire) == JSONValue.object(try WireFormat.object(view)))
        view.acknowledgedBy = "jorge"
        view.acknowledgedAt = Pacific.instant(LocalDate(iso: "2024-07-01")!, hour: 9, minute: 30)
        view.snoozedUntil = Pacific.instant(LocalDate(iso: "2024-11-03")!, hour: 1, minute: 30)
        view.late = false
        view.itemIds = ["1", "2"]
        view.dueDate = "2024-03-11"
        view.isExactInstant = false
        #expect(JSONValue.object(view.wire) == JSONValue.object(try WireFormat.object(view)))
        #expect(view.wire.count == 17)
    }

    static func raise(_ count: Int, in f: AlertFixture, coordinator: String = "maria") throws {
        let due = pacific("2024-03-20", 17)
        for _ in 0..<count {
            // At the level the scheduler raised (overdue): a lower one would be superseded by it.
            let raised = AlertRaised(
                alertId: UUID(),
                caseId: "c1",
                rule: .urDecisionProspective,
                deadlineId: AlertFixture.decisionId,
                level: .overdue,
                due: due,
                scheduledAt: due,
                raisedAt: due,
                late: false,
                coordinator: coordinator
            )
            try appendRaised(raised, to: f.store)
        }
    }

    @Test(.timeLimit(.minutes(3))) func aFollowerThatNeverReadsIsDroppedWithFollowerTooSlow_andOthersKeepTheirs()
        async throws
    {
        let f = try AlertFixture()
        defer { f.close() }
        let now = pacific("2024-03-12", 9)
        let alerts = AlertsInterface(store: f.store, access: AccessControl(), clock: { now }, followerQueue: 8)
        var limits = VarlinkServerLimits()
        limits.maximumUnsentOutput = 4096  // the sleeper's replies soon wait for it to read
        let server = VarlinkServer(
            info: .init(vendor: "imr", product: "imr-daemon", version: "test", url: "https://example.invalid"),
            handlers: [alerts],
            limits: limits
        )
        let path = f.dir.appendingPathComponent("imr.sock").path
        let (ready, signal) = AsyncStream<Void>.makeStream()
        let running = Task { try await server.run(.path(path, mode: 0o660)) { signal.yield() } }
        for await _ in ready { break }
        let outcome = try await offThePool { () -> (sleeper: [VarlinkReply], reader: Int) in
            let sleeper = try VarlinkClient(path: path)
            try sleeper.send(VarlinkCall(method: "io.imr.Alerts.Follow", parameters: [:], more: true))
            let reader = try VarlinkClient(path: path)
            try reader.send(VarlinkCall(method: "io.imr.Alerts.Follow", parameters: [:], more: true))
            #expect(waitFor { alerts.followerCount == 2 })
            // 300 alerts of 400-odd bytes each: the sleeper's socket and its 8 places fill up. The
            // reader takes each batch of 4 (half its queue) before the next is raised.
            // Generous: this server's handlers share the test process's two cooperative threads
            // with every other test, and tests that block them (subprocess waits, long CPU-bound
            // checks) held them for over 30 s in CI.
            reader.setReceiveTimeout(90)
            for round in 0..<75 {
                try AlertsInterfaceTests.raise(4, in: f)
                var read = 0
                while read < 4 {
                    let reply: VarlinkReply
                    do { reply = try reader.receive() } catch {
                        // A stall says where the feed stood.
                        throw ReaderStalled(
                            description: "\(error); round \(round), \(read) of 4 read; \(alerts.feedDiagnosis)"
                        )
                    }
                    if let error = reply.error { throw VarlinkError(error, parameters: reply.parameters ?? [:]) }
                    // A follower registered before it reads the open alerts: alerts raised in
                    // between come in its replay (replayed: true) and are skipped live. Either
                    // way the reader has each alert once. (Counting only live ones made this
                    // test wait forever when the first batch beat the reader's replay.)
                    if reply.parameters?["alert"] != nil { read += 1 }
                }
            }
            #expect(waitFor { alerts.followerCount == 1 }, "the sleeper was dropped")
            // The sleeper's stream ends with the error, after what its socket already held.
            var replies: [VarlinkReply] = []
            sleeper.setReceiveTimeout(5)
            while let reply = try? sleeper.receive() {
                replies.append(reply)
                if reply.continues != true { break }
            }
            return (replies, 300)
        }
        #expect(outcome.sleeper.last?.error == "io.imr.Alerts.FollowerTooSlow")
        #expect(outcome.sleeper.last?.parameters?["queued"] == 8)
        #expect(outcome.sleeper.count < 300, "\(outcome.sleeper.count) replies")
        alerts.stopFollowers()
        server.shutdown()
        try await running.value
    }

    @Test func followersBeyondTheLimitAreRefused() async throws {
        let f = try AlertFixture()
        defer { f.close() }
        let now = pacific("2024-03-12", 9)
        let alerts = AlertsInterface(store: f.store, access: AccessControl(), clock: { now }, maximumFollowers: 2)
        let server = VarlinkServer(
            info: .init(vendor: "imr", product: "imr-daemon", version: "test", url: "https://example.invalid"),
            handlers: [alerts]
        )
        let path = f.dir.appendingPathComponent("imr.sock").path
        let (ready, signal) = AsyncStream<Void>.makeStream()
        let running = Task { try await server.run(.path(path, mode: 0o660)) { signal.yield() } }
        for await _ in ready { break }
        try await offThePool {
            let first = try VarlinkClient(path: path)
            let second = try VarlinkClient(path: path)
            for c in [first, second] {
                try c.send(
                    VarlinkCall(method: "io.imr.Alerts.Follow", parameters: ["coordinator": "nobody"], more: true)
                )
            }
            #expect(waitFor { alerts.followerCount == 2 })
            let third = error {
                try VarlinkClient(path: path).stream("io.imr.Alerts.Follow", ["coordinator": "nobody"]) { _ in true }
            }
            #expect(third?.name == "io.imr.Alerts.TooManyFollowers")
            #expect(third?.parameters["limit"] == 2)
        }
        alerts.stopFollowers()
        server.shutdown()
        try await running.value
    }

    @Test func stoppingFollowers_endsTheStreamWithALastReply() async throws {
        try await withAlertsServer { path, _, alerts in
            let c = try VarlinkClient(path: path)
            var last: [String: JSONValue]?
            // Whether the stop comes before or during the call, the stream ends the same way.
            Thread.detachNewThread {
                usleep(50_000)
                alerts.stopFollowers()
            }
            try c.stream("io.imr.Alerts.Follow", ["coordinator": "nobody"]) { reply in
                last = reply
                return true
            }
            #expect(last?["alert"] == nil)
            #expect(last?["replayed"] == false)
            _ = alerts
        }
    }
}

/// A follower's replies stopped coming; the description says where the feed stood.
struct ReaderStalled: Error, CustomStringConvertible {
    let description: String
}

func waitFor(_ seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

extension JSONValue {
    var elements: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
}
