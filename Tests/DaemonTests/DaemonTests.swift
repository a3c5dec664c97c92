import EventStore
import Foundation
import TestSupport
import Testing
import Varlink

#if canImport(Glibc)
import Glibc
#endif

/// The real imr-daemon binary on real sockets. Serialized: each test starts processes.
@Suite(.serialized, .timeLimit(.minutes(3))) struct DaemonTests {
    @Test func saysReadyThenRecordsALifecycleThenStopsCleanlyOnSIGTERM() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanup() }
        let notes = try #require(await offThePool { daemon.waitUntilReady() }, "no READY=1 from the daemon")
        #expect(notes.joined(separator: "\n").contains("STATUS=serving 0 open cases"))
        try await offThePool {
            let c = try daemon.client()
            _ = try c.call("io.imr.Cases.Open", openParameters)
            _ = try c.call(
                "io.imr.Cases.ReceiveRFA",
                [
                    "caseId": "c1", "rfaId": "A", "receivedAt": "2024-02-26T10:15", "receivedTimeOfDayKnown": true,
                    "transmission": "fax",
                    "physician": "Dr. Lee", "reviewType": "prospective", "expedited": false, "formulary": false,
                    "items": .array([.object(["id": "1", "description": "8 massage visits"])]),
                ]
            )
            _ = try c.call(
                "io.imr.Cases.DecideUR",
                [
                    "caseId": "c1", "rfaId": "A", "decidedAt": "2024-02-28T09:00",
                    "decisions": .array([.object(["itemId": "1", "outcome": "denied"])]),
                ]
            )
            let detail = try c.call("io.imr.Cases.Get", ["caseId": "c1"])["case"]
            #expect(detail?["stage"] == "urDecided")
            #expect(try c.call("io.imr.Admin.Status")["openCases"] == 1)
        }
        // STATUS= follows the log: one open case now, whose 2024 clocks had all passed when they
        // were recorded: history, so nothing is overdue and no deadline is next.
        let statusLine = await
            (try? offThePool { daemon.notify.waitFor(timeout: 30) { $0 == "STATUS=serving 1 open cases" } })
        #expect(statusLine != nil)
        // The rest of the lifecycle, through IMR to closure, and read back.
        try await offThePool {
            let c = try daemon.client()
            func call(_ m: String, _ p: [String: JSONValue]) throws { _ = try c.call("io.imr.Cases." + m, p) }
            try call(
                "NotifyPhysician",
                ["caseId": "c1", "itemIds": .array(["1"]), "notifiedAt": "2024-02-28T10:00", "method": "fax"]
            )
            try call(
                "ServeWrittenDecision",
                [
                    "caseId": "c1", "itemIds": .array(["1"]), "servedOn": "2024-02-29", "method": "mail",
                    "destination": "california",
                ]
            )
            try call("ReceiveIMRApplication", ["caseId": "c1", "itemIds": .array(["1"]), "receivedOn": "2024-03-20"])
            try call("FindEligible", ["caseId": "c1", "itemIds": .array(["1"]), "foundOn": "2024-03-28"])
            try call(
                "AssignIMR",
                [
                    "caseId": "c1", "itemIds": .array(["1"]), "imrCaseNumber": "CM24-0012345",
                    "assignedOn": "2024-03-29",
                    "priority": "standard", "noticeMethod": "mail",
                ]
            )
            try call("ReceiveRecords", ["caseId": "c1", "imrCaseNumber": "CM24-0012345", "receivedOn": "2024-04-10"])
            try call(
                "RecordDetermination",
                [
                    "caseId": "c1", "imrCaseNumber": "CM24-0012345", "decidedOn": "2024-04-30",
                    "mailedOn": "2024-05-01",
                    "reviewerSpecialty": "Physical Medicine and Rehabilitation",
                    "items": .array([
                        .object([
                            "itemId": "1", "decision": "overturned", "guideline": "MTUS",
                            "rationaleSummary": "necessary",
                        ])
                    ]),
                ]
            )
            try call(
                "RecordImplementation",
                ["caseId": "c1", "itemId": "1", "implementedOn": "2024-05-06", "kind": "authorized"]
            )
            try call("Close", ["caseId": "c1", "closedOn": "2024-06-10", "reason": "implemented"])
            let detail = try c.call("io.imr.Cases.Get", ["caseId": "c1"])["case"]
            #expect(detail?["stage"] == "closed")
            if case .array(let items)? = detail?["items"] {
                #expect(items.first?["status"] == "implemented")
            } else {
                Issue.record("no items")
            }
            if case .array(let deadlines)? = detail?["deadlines"] {
                #expect(deadlines.first { $0["rule"] == "imr.application" }?["status"] == "met")
                #expect(deadlines.first { $0["rule"] == "imr.implementation" }?["status"] == "met")
            } else {
                Issue.record("no deadlines")
            }
            #expect(
                try c.call("io.imr.Cases.List", ["open": false])["cases"].flatMap {
                    if case .array(let a) = $0 { a.count } else { nil }
                } == 1
            )
        }
        daemon.signal(SIGTERM)
        #expect(await (try? offThePool { daemon.notify.waitFor("STOPPING=1", timeout: 30) }) != nil)
        let (status, output) = daemon.wait()
        #expect(status == 0, "\(output)")
        // Without a journal the same structured fields go to stderr, one entry per line.
        let recorded = output.split(separator: "\n").filter {
            $0.contains("MESSAGE_ID=9baa2f47bd2e47c9abf173345f3bbcc6")
        }
        #expect(recorded.count == 12)
        #expect(recorded.allSatisfy { $0.contains("IMR_CASE=c1") && $0.contains("IMR_ACTOR=") })
        // The log is intact and holds every event after the daemon closed it.
        let store = try EventStore(path: daemon.storePath)
        defer { store.close() }
        let types = try await store.read(stream: "case-c1").map(\.type)
        #expect(types.count == 12)
        #expect(types.prefix(3) == ["CaseOpened", "RFAReceived", "URDecisionIssued"])
        #expect(types.last == "CaseClosed")
        await #expect(try store.verify().isIntact)
    }

    /// A read model at a new version (as after an upgrade) is rebuilt once the daemon serves,
    /// not before READY=1: at 2,000,000 cases that took minutes in which the daemon answered
    /// nothing (and, after a `kill -9` during a rebuild, READY came minutes late). Meanwhile
    /// status names it, its lists answer ReadModelRebuilding, the journal says how it goes; then
    /// it is whole. (A seeded store of 3,000 cases: its rebuild takes seconds in a debug build,
    /// the calls below milliseconds after READY.)
    @Test func aReadModelAtANewVersionIsRebuiltWhileTheDaemonServes() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-upgrade-\(UUID().uuidString.prefix(8))"
        )
        defer { try? FileManager.default.removeItem(at: dir) }
        let state = dir.appendingPathComponent("state").path
        let bench = productsDirectory.appendingPathComponent("imr-bench").path
        let seeded = try await offThePool {
            try run([bench, "seed", "--cases", "3000", "--coordinators", "3", "--dir", state])
        }
        #expect(seeded.status == 0, "\(seeded.output)")
        // As a build whose deadline read model changed finds it.
        let marked = try await offThePool {
            try run([
                "sqlite3", state + "/imr.sqlite",
                "UPDATE projection_checkpoints SET version = 1 WHERE name = 'deadlines'",
            ])
        }
        #expect(marked.status == 0, "\(marked.output)")

        let daemon = try DaemonProcess(directory: dir)
        defer { daemon.process.killAndWait() }
        let notes = try #require(try await offThePool { daemon.waitUntilReady() }, "no READY=1")
        let text = notes.joined(separator: "\n")
        let beforeReady = notes.prefix { !$0.contains("READY=1") }.joined(separator: "\n")
        #expect(!beforeReady.contains("rebuilding"), "a read model was rebuilt before READY=1: \(text)")
        #expect(text.contains("READY=1\nSTATUS=serving; rebuilding case_list, deadlines from the log"), "\(text)")
        try await offThePool {
            let c = try daemon.client()
            // The case list reads the deadlines (each case's next deadline): it is rebuilt too.
            #expect(try daemon.rebuilding() == ["deadlines", "case_list"])
            #expect {
                try c.call("io.imr.Deadlines.List", ["limit": 5])
            } throws: { ($0 as? VarlinkError)?.name == "io.imr.Cases.ReadModelRebuilding" }
            #expect(try daemon.waitUntilRebuilt(timeout: 300), "the rebuild did not end")
            let status = try c.call("io.imr.Admin.Status")
            guard case .array(let models)? = status["projections"], case .int(let head)? = status["headPosition"] else {
                Issue.record("no read models in \(status)")
                return
            }
            #expect(models.first { $0["name"] == "deadlines" }?["checkpoint"] == .int(head))
            guard case .array(let board)? = try c.call("io.imr.Deadlines.List", ["limit": 5])["deadlines"] else {
                Issue.record("no deadlines after the rebuild")
                return
            }
            #expect(board.count == 5)
        }
        let stopped = daemon.stop()
        #expect(stopped.status == 0)
        #expect(
            stopped.output.contains("rebuilding case_list, deadlines from the log while serving"),
            "\(stopped.output)"
        )
        #expect(stopped.output.contains("rebuilt case_list, deadlines from the log: "), "\(stopped.output)")
    }

    /// Read models behind the log (events appended by a tool that kept none) are caught up as
    /// the daemon opens the log, before READY=1: systemd hears how far it is (STATUS=) and that
    /// start-up needs longer (EXTEND_TIMEOUT_USEC=); they are at the head once it is ready.
    @Test func readModelsBehindTheLogAreCaughtUpBeforeReady_reportedToSystemd() async throws {
        let first = try DaemonProcess()
        let directory = first.directory
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try await offThePool { first.waitUntilReady() } != nil)
        try await offThePool { _ = try first.client().call("io.imr.Cases.Open", openParameters) }
        #expect(first.stop().status == 0)
        do {
            // As a tool without the daemon's read models appends.
            let bare = try EventStore(path: first.storePath)
            defer { bare.close() }
            for n in 0..<25 {
                _ = try await bare.append(
                    batch: (0..<100).map { k in
                        AppendRequest(
                            streamId: "tool-\(n)-\(k)",
                            expected: .noStream,
                            events: [NewEvent(type: "ToolNote", payload: Array("{}".utf8), metadata: EventMetadata())]
                        )
                    }
                )
            }
        }
        let second = try DaemonProcess(directory: directory, environment: ["IMR_TEST_OPENING_REPORT_MS": "0"])
        defer { second.process.killAndWait() }
        let notes = try #require(try await offThePool { second.waitUntilReady() }, "no READY=1 after the catch-up")
        let beforeReady = notes.prefix { !$0.contains("READY=1") }.joined(separator: "\n")
        #expect(beforeReady.contains("EXTEND_TIMEOUT_USEC=60000000"), "\(beforeReady)")
        #expect(beforeReady.contains("STATUS=opening the event log: catching up "), "\(beforeReady)")
        try await offThePool {
            let status = try second.client().call("io.imr.Admin.Status")
            guard case .array(let models)? = status["projections"], case .int(let head)? = status["headPosition"] else {
                Issue.record("no read models in \(status)")
                return
            }
            #expect(head > 2500)
            #expect(models.count == 4 && models.allSatisfy { $0["checkpoint"] == .int(head) }, "\(models)")
        }
    }

    /// A WAL that cannot be checkpointed is the operator's to hear of (it grows until it can):
    /// the daemon logs the first failure as a warning and the recovery as a notice, one line each
    /// whatever the commands in between. The checkpoint thread opens its connection at its first
    /// request: with the file renamed away it cannot, and it can once the file is back.
    @Test func aCheckpointThatFailsIsLoggedOnce_andItsRecoveryToo() async throws {
        let first = try DaemonProcess()
        let directory = first.directory
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try await offThePool { first.waitUntilReady() } != nil)
        #expect(first.stop().status == 0)
        let daemon = try DaemonProcess(directory: directory, environment: ["IMR_TEST_CHECKPOINT_FRAMES": "20"])
        defer { daemon.process.killAndWait() }
        #expect(try await offThePool { daemon.waitUntilReady() } != nil)
        let path = daemon.storePath
        func open(_ cases: Range<Int>) async throws {
            try await offThePool {
                let client = try daemon.client()
                for n in cases {
                    var parameters = openParameters
                    parameters["caseId"] = .string("CKPT-\(n)")
                    parameters["claimNumber"] = .string("ADJ-CKPT-\(n)")
                    _ = try client.call("io.imr.Cases.Open", parameters)
                }
            }
        }
        try FileManager.default.moveItem(atPath: path, toPath: path + ".away")
        try await open(0..<40)
        try await Task.sleep(for: .milliseconds(500))
        try FileManager.default.moveItem(atPath: path + ".away", toPath: path)
        try await open(40..<80)
        try await Task.sleep(for: .milliseconds(500))
        try await open(80..<120)
        let (status, output) = daemon.stop()
        #expect(status == 0)
        let lines = output.split(separator: "\n").filter { $0.contains("MESSAGE_ID=6bf9fb0cbcde4c47b61ab801c326dcf6") }
        #expect(lines.count == 2, "\(lines)")
        #expect(lines.first?.contains("cannot checkpoint the WAL of \(path)") == true, "\(lines)")
        #expect(lines.first?.contains("PRIORITY=4") == true, "\(lines)")  // warning
        #expect(lines.last?.contains("checkpointed the WAL of \(path) into the main file again") == true, "\(lines)")
        #expect(lines.last?.contains("PRIORITY=5") == true, "\(lines)")  // notice
        // Every command was recorded meanwhile.
        let again = try DaemonProcess(directory: directory)
        defer { again.process.killAndWait() }
        #expect(try await offThePool { again.waitUntilReady() } != nil)
        try await offThePool {
            let found = try again.client().call("io.imr.Cases.Get", ["caseId": "CKPT-119"])
            #expect(found["case"] != nil, "\(found)")
        }
    }

    @Test func servesTheSocketSystemdPasses() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-activate-\(UUID().uuidString.prefix(8))"
        )
        let listen = dir.appendingPathComponent("imr.sock").path
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let daemon = try DaemonProcess(
            directory: dir,
            arguments: ["--socket", dir.appendingPathComponent("unused.sock").path],
            launcher: ["/usr/bin/systemd-socket-activate", "-l", listen, "--fdname=varlink"]
        )
        defer { daemon.cleanup() }
        // systemd-socket-activate binds the socket, then starts the daemon on the first connection.
        let info = try await offThePool { () -> [String: JSONValue] in
            // The socket file appears at bind(), a moment before listen(): until then a connect is refused.
            let deadline = Date().addingTimeInterval(30)
            while true {
                do {
                    return try VarlinkClient(path: listen).call("org.varlink.service.GetInfo")
                } catch let error as VarlinkClient.ConnectionError where Date() < deadline {
                    guard case .unavailable = error else { throw error }
                    usleep(20_000)
                }
            }
        }
        #expect(info["product"] == "imr-daemon")
        #expect(
            info["interfaces"]
                == .array(["org.varlink.service", "io.imr.Admin", "io.imr.Alerts", "io.imr.Cases", "io.imr.Deadlines"])
        )
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("unused.sock").path))
        let (status, _) = daemon.stop()
        #expect(status == 0)
    }

    @Test func aSecondDaemonOnTheSameStateDirectoryRefusesToStart() async throws {
        let first = try DaemonProcess()
        defer { first.cleanup() }
        _ = try #require(await offThePool { first.waitUntilReady() })
        let second = try run([
            productsDirectory.appendingPathComponent("imr-daemon").path, "--state-dir", first.stateDirectory,
            "--socket", first.directory.appendingPathComponent("other.sock").path,
        ])
        #expect(second.status == 75)
        #expect(second.output.contains("another imr-daemon (pid \(first.process.processIdentifier))"))
        // A second daemon on another state directory but the same live socket is refused too.
        let third = try run([
            productsDirectory.appendingPathComponent("imr-daemon").path, "--state-dir",
            first.directory.appendingPathComponent("state2").path,
            "--socket", first.socketPath,
        ])
        #expect(third.status == 75)
        #expect(third.output.contains(first.socketPath))
        // The first one still serves.
        #expect(try await offThePool { try first.client().call("io.imr.Admin.Status")["version"] } != nil)
    }

    @Test func aStaleSocketFromAKilledDaemonIsReplaced() async throws {
        let first = try DaemonProcess()
        _ = try #require(await offThePool { first.waitUntilReady() })
        first.signal(SIGKILL)
        _ = first.wait()
        #expect(FileManager.default.fileExists(atPath: first.socketPath))
        let second = try DaemonProcess(directory: first.directory)
        defer { second.cleanup() }
        _ = try #require(await offThePool { second.waitUntilReady() })
        #expect(try await offThePool { try second.client().call("io.imr.Admin.Status")["headPosition"] } == 0)
    }

    @Test func sigtermDuringABurstOfAppendsLosesNoAcknowledgedEvent() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        try await offThePool { _ = try daemon.client().call("io.imr.Cases.Open", openParameters) }
        let writers = 3
        let acknowledgedSoFar = AcknowledgementCount()
        let acknowledged = try await withThrowingTaskGroup(of: [String].self) { group in
            for w in 0..<writers {
                group.addTask {
                    try await offThePool {
                        var acked: [String] = []
                        guard let c = try? daemon.client() else { return acked }
                        for i in 0..<100_000 {
                            let text = "w\(w)-\(i)"
                            do {
                                _ = try c.call("io.imr.Cases.AddNote", ["caseId": "c1", "text": .string(text)])
                                acked.append(text)
                                acknowledgedSoFar.add()
                            } catch {
                                return acked
                            }
                        }
                        return acked
                    }
                }
            }
            // SIGTERM once the burst is under way (more than 10 acknowledged), not after a guessed delay.
            let deadline = ContinuousClock.now + .seconds(60)
            while acknowledgedSoFar.value <= 10 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            daemon.signal(SIGTERM)
            return try await group.reduce(into: [String]()) { $0 += $1 }
        }
        let (status, output) = daemon.wait()
        #expect(status == 0, "\(output)")
        #expect(acknowledged.count > 10)
        let store = try EventStore(path: daemon.storePath)
        defer { store.close() }
        let stored = await Set(
            try store.read(stream: "case-c1").compactMap { event -> String? in
                guard event.type == "NoteAdded" else { return nil }
                return (try? JSONDecoder().decode([String: JSONValue].self, from: event.payloadData))?["text"]?
                    .stringValue
            }
        )
        let lost = Set(acknowledged).subtracting(stored)
        #expect(lost.isEmpty, "\(lost.count) acknowledged notes are missing")
        await #expect(try store.verify().isIntact)
    }

    @Test func malformedAndOversizeFramesCloseOnlyTheirConnection_andPipeliningKeepsOrder() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        try await offThePool {
            let bystander = try daemon.client()
            let big = try daemon.client()
            try? big.writeAll([UInt8](repeating: UInt8(ascii: " "), count: (1 << 20) + 4096))
            #expect(try big.receive().error == "org.varlink.service.InvalidParameter")
            let garbage = try daemon.client()
            try garbage.writeAll(Array("{\"method\": ".utf8) + [0])
            #expect(try garbage.receive().error == "org.varlink.service.InvalidParameter")

            // Pipelined: three calls written at once come back in order.
            try bystander.send(VarlinkCall(method: "io.imr.Cases.Get", parameters: ["caseId": "nope"]))
            try bystander.send(VarlinkCall(method: "org.varlink.service.GetInfo"))
            try bystander.send(VarlinkCall(method: "io.imr.Admin.Status"))
            #expect(try bystander.receive().error == "io.imr.Cases.CaseNotFound")
            #expect(try bystander.receive().parameters?["product"] == "imr-daemon")
            #expect(try bystander.receive().parameters?["version"] != nil)
        }
    }

    @Test func aClientOutsideTheGroupsIsRefused_andAReaderMayOnlyRead() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-access-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let config = dir.appendingPathComponent("imr-daemon.toml")
        // nobody's primary group (nogroup) reads; the coordinator and admin groups are ones nobody is in.
        try "[access]\nreaders = [\"nogroup\"]\ncoordinators = [\"imr-coordinators\"]\nadmins = [\"imr-admins\"]\n"
            .write(to: config, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(directory: dir, arguments: ["--config", config.path])
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        chmod(dir.path, 0o755)
        chmod(daemon.socketPath, 0o666)
        // A client process running as nobody (uid and gid 65534, no supplementary groups).
        let ctl = productsDirectory.appendingPathComponent("imr-ctl").path
        func asNobody(_ method: String, _ parameters: String) throws -> (status: Int32, output: String) {
            try run([
                "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ctl, "call", "--socket",
                daemon.socketPath, method, parameters,
            ])
        }
        let list = try asNobody("io.imr.Cases.List", "{}")
        #expect(list.status == 0, "\(list.output)")
        #expect(list.output.contains("\"cases\""))
        let open = try asNobody(
            "io.imr.Cases.Open",
            #"{"caseId":"x1","claimNumber":"ADJ","employer":"Acme","claimsAdministrator":"TPA","injuredWorkerReference":"A.B.","dateOfInjury":"2023-01-01","coordinator":"li"}"#
        )
        #expect(open.status == 1)
        #expect(open.output.contains("org.varlink.service.PermissionDenied"))
        #expect(try await offThePool { try daemon.client().call("io.imr.Admin.Status")["headPosition"] } == 0)

        // With the readers' group changed to one nobody is not in, SIGHUP makes nobody a stranger.
        try "[access]\nreaders = [\"imr-readers-test\"]\n".write(to: config, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        _ = try #require(await offThePool { daemon.notify.waitFor("READY=1", timeout: 30) })
        let stranger = try asNobody("io.imr.Cases.List", "{}")
        #expect(stranger.status == 1)
        #expect(stranger.output.contains("PermissionDenied"), "\(stranger.output)")
    }

    /// A reload sent while the daemon is still starting (reading its configuration, opening the
    /// store, raising late alerts) is not its end, as SIGHUP's default action would make it.
    @Test func aReloadWhileTheDaemonStartsDoesNotEndIt() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanup() }
        // From the daemon's first word to the systemd notify socket until READY=1: a SIGHUP every millisecond.
        let sent = try await offThePool { () -> Int? in
            guard let first = daemon.notify.receive(timeout: 60) else { return nil }
            if first.contains("READY=1") { return 0 }
            var sent = 0
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                daemon.signal(SIGHUP)
                sent += 1
                if let message = daemon.notify.receive(timeout: 0.001) {
                    // A reload before READY=1 says nothing to systemd: the first READY=1 is start-up's.
                    #expect(!message.contains("RELOADING=1"), "\(message)")
                    if message.contains("READY=1") { return sent }
                }
            }
            return nil
        }
        let reloads = try #require(sent, "the daemon never became ready")
        #expect(reloads > 0, "READY=1 came first: no reload was sent while the daemon started")
        let status = try await offThePool { try daemon.client().call("io.imr.Admin.Status") }
        #expect(status["headPosition"] == 0)
        #expect(daemon.stop().status == 0)
    }

    @Test func thePythonReferenceClientIntrospectsTheDaemon() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        let script = """
            import sys, varlink
            with varlink.Client("unix:" + sys.argv[1]) as client:
                with client.open("org.varlink.service") as svc:
                    print("interfaces", ",".join(svc.GetInfo()["interfaces"]))
                    print("described", "interface io.imr.Admin" in svc.GetInterfaceDescription("io.imr.Admin")["description"])
                with client.open("io.imr.Admin", namespaced=True) as admin:
                    print("verify", admin.Verify().intact)
            """
        let result = try run(["python3", "-c", script, daemon.socketPath])
        #expect(result.status == 0, "\(result.output)")
        #expect(
            result.output.contains(
                "interfaces org.varlink.service,io.imr.Admin,io.imr.Alerts,io.imr.Cases,io.imr.Deadlines"
            )
        )
        #expect(result.output.contains("described True"))
        #expect(result.output.contains("verify True"))
    }

    @Test func aBadConfigurationStopsStartUpNamingFileKeyAndReason() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-config-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("imr-daemon.toml").path
        try "[acess]\nreaders = [\"imr\"]\n".write(toFile: config, atomically: true, encoding: .utf8)
        let result = try run([
            productsDirectory.appendingPathComponent("imr-daemon").path, "--config", config,
            "--state-dir", dir.appendingPathComponent("s").path, "--socket", dir.appendingPathComponent("s.sock").path,
        ])
        #expect(result.status == 78)
        #expect(result.output.contains(config) && result.output.contains("acess"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("s/imr.sqlite").path))
    }
}

/// How many commands the writers of a burst have had acknowledged so far.
/// @unchecked Sendable: the count sits behind a lock.
final class AcknowledgementCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    var value: Int { lock.withLock { count } }

    func add() { lock.withLock { count += 1 } }
}
