import ChildProcess
import EventStore
import Foundation
import IMRWire
import Testing
import Varlink
@testable import IMRService
@testable import Workflow

/// Runs blocking client code on its own thread, leaving the cooperative pool to the server.
private func offPool(_ body: @escaping @Sendable () throws -> Void) async throws {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
        Thread.detachNewThread {
            do {
                try body()
                c.resume()
            } catch { c.resume(throwing: error) }
        }
    }
}

/// A store, the Cases interface and a server on a fresh socket.
/// The servers' clock reads `clock` (by default fixed at 2024-06-01 09:00 Pacific).
private func withCasesServer(
    clock: TestClock = TestClock(Pacific.instant(LocalDate(iso: "2024-06-01")!, hour: 9)),
    _ body: @escaping @Sendable (String, EventStore) throws -> Void
) async throws {
    try await withReadModelDirectory { (store: EventStore, dir: URL) in
        let cases = CasesInterface(service: CaseService(store: store), access: AccessControl(), clock: { clock.read() })
        let admin = AdminInterface(
            store: store,
            access: AccessControl(),
            version: "test",
            startedAt: Date(timeIntervalSinceNow: -5),
            backups: BackupPolicy(
                directory: dir.appendingPathComponent("backups").path,
                protectedPaths: [
                    dir.appendingPathComponent("imr.sock").path, dir.appendingPathComponent("imr-daemon.lock").path,
                ]
            )
        )
        let deadlines = DeadlinesInterface(
            service: CaseService(store: store),
            access: AccessControl(),
            clock: { clock.read() }
        )
        let server = VarlinkServer(
            info: .init(vendor: "imr", product: "imr-daemon", version: "test", url: "https://example.invalid"),
            handlers: [cases, admin, deadlines]
        )
        let path = dir.appendingPathComponent("imr.sock").path
        let (ready, signal) = AsyncStream<Void>.makeStream()
        let running = Task { try await server.run(.path(path, mode: 0o660)) { signal.yield() } }
        for await _ in ready { break }
        var failure: Error?
        do { try await offPool { try body(path, store) } } catch { failure = error }
        server.shutdown()
        try await running.value
        if let failure { throw failure }
    }
}

/// Opens case c1 (claim ADJ-1, coordinator maria) through the socket.
private func openC1(_ c: VarlinkClient) throws {
    _ = try c.call(
        "io.imr.Cases.Open",
        [
            "caseId": "c1", "claimNumber": "ADJ-1", "employer": "Acme", "claimsAdministrator": "Golden TPA",
            "injuredWorkerReference": "J.S.", "dateOfInjury": "2023-11-02", "coordinator": "maria",
        ]
    )
}

private func error(of body: () throws -> Any) -> VarlinkError? {
    do {
        _ = try body()
        return nil
    } catch { return error as? VarlinkError }
}

@Suite struct CasesInterfaceTests {
    @Test func aWholeLifecycleIsRecordedAndReadBackThroughTheSocket() async throws {
        try await withCasesServer { path, _ in
            let c = try VarlinkClient(path: path)
            func call(_ m: String, _ p: [String: JSONValue]) throws -> [String: JSONValue] {
                try c.call("io.imr.Cases." + m, p)
            }
            _ = try call(
                "Open",
                [
                    "caseId": "c1", "claimNumber": "ADJ-1", "employer": "Acme", "claimsAdministrator": "Golden TPA",
                    "injuredWorkerReference": "J.S.", "dateOfInjury": "2023-11-02", "coordinator": "maria",
                ]
            )
            _ = try call(
                "ReceiveRFA",
                [
                    "caseId": "c1", "rfaId": "A", "receivedAt": "2024-02-26T10:15", "receivedTimeOfDayKnown": true,
                    "transmission": "fax", "physician": "Dr. Lee", "reviewType": "prospective", "expedited": false,
                    "formulary": false,
                    "items": .array([
                        .object(["id": "1", "description": "8 massage visits"]),
                        .object(["id": "2", "description": "MRI lumbar spine"]),
                    ]),
                ]
            )
            _ = try call(
                "DecideUR",
                [
                    "caseId": "c1", "rfaId": "A", "decidedAt": "2024-03-05T14:00:00-08:00",
                    "decisions": .array([
                        .object(["itemId": "1", "outcome": "denied"]), .object(["itemId": "2", "outcome": "approved"]),
                    ]),
                ]
            )
            _ = try call(
                "ServeWrittenDecision",
                [
                    "caseId": "c1", "itemIds": .array(["1", "2"]), "servedOn": "2024-03-06", "method": "mail",
                    "destination": "california",
                ]
            )
            _ = try call(
                "ReceiveIMRApplication",
                ["caseId": "c1", "itemIds": .array(["1"]), "receivedOn": "2024-03-20"]
            )
            _ = try call("FindEligible", ["caseId": "c1", "itemIds": .array(["1"]), "foundOn": "2024-03-28"])
            _ = try call(
                "AssignIMR",
                [
                    "caseId": "c1", "itemIds": .array(["1"]), "imrCaseNumber": "CM24-0012345",
                    "assignedOn": "2024-03-29",
                    "priority": "standard", "noticeMethod": "mail",
                ]
            )
            _ = try call(
                "ReceiveRecords",
                ["caseId": "c1", "imrCaseNumber": "CM24-0012345", "receivedOn": "2024-04-10"]
            )
            _ = try call(
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
            _ = try call(
                "RecordImplementation",
                ["caseId": "c1", "itemId": "1", "implementedOn": "2024-05-06", "kind": "authorized"]
            )
            let closed = try call("Close", ["caseId": "c1", "closedOn": "2024-05-31", "reason": "done"])
            #expect(closed["recorded"]?["version"] == .int(11))
            #expect(closed["recorded"]?["events"] == .array(["CaseClosed"]))

            let detail = try call("Get", ["caseId": "c1"])["case"]
            #expect(detail?["stage"] == "closed")
            #expect(detail?["isOpen"] == .bool(false))
            guard case .array(let items)? = detail?["items"] else {
                Issue.record("no items")
                return
            }
            #expect(items.map { $0["status"] } == ["implemented", "approved"])
            #expect(items[0]["imrCaseNumber"] == "CM24-0012345")
            if case .array(let timeline)? = detail?["timeline"] {
                #expect(timeline.count == 11)
                #expect(timeline.last?["type"] == "CaseClosed")
                #expect(timeline.first?["actor"]?.stringValue?.hasPrefix("uid:\(getuid()) ") == true)
            } else {
                Issue.record("no timeline")
            }
            if case .array(let rfas)? = detail?["rfas"] {
                #expect(rfas.first?["receivedAt"] == .string("2024-02-26T10:15:00-08:00"))
            } else {
                Issue.record("no rfas")
            }

            let list = try call("List", ["imrCaseNumber": "CM24-0012345"])["cases"]
            #expect(
                list
                    == .array([
                        .object([
                            "caseId": "c1", "claimNumber": "ADJ-1", "employer": "Acme",
                            "claimsAdministrator": "Golden TPA", "coordinator": "maria",
                            "dateOfInjury": "2023-11-02", "stage": "closed", "isOpen": false,
                            "imrCaseNumbers": .array(["CM24-0012345"]), "items": 2, "version": 11,
                        ])
                    ]),
                "a closed case has no running deadline, so no nextDue or nextRule"
            )
            guard case .array(let history)? = try call("History", ["caseId": "c1"])["events"] else {
                Issue.record("no history")
                return
            }
            #expect(history.count == 11)
            #expect(history[0]["actor"] == .string("uid:\(getuid()) \(AccessPolicy.userName(uid: getuid()) ?? "")"))
            #expect(history[2]["type"] == "URDecisionIssued")
        }
    }

    @Test func eligibilityInformationIsRequestedAndSentThroughTheSocket_andItsClockAppears() async throws {
        try await withCasesServer { path, _ in
            let c = try VarlinkClient(path: path)
            func call(_ m: String, _ p: [String: JSONValue]) throws -> [String: JSONValue] {
                try c.call("io.imr.Cases." + m, p)
            }
            _ = try call(
                "Open",
                [
                    "caseId": "c1", "claimNumber": "ADJ-1", "employer": "Acme", "claimsAdministrator": "Golden TPA",
                    "injuredWorkerReference": "J.S.", "dateOfInjury": "2023-11-02", "coordinator": "maria",
                ]
            )
            _ = try call(
                "ReceiveRFA",
                [
                    "caseId": "c1", "rfaId": "A", "receivedAt": "2024-02-26T10:15", "receivedTimeOfDayKnown": true,
                    "transmission": "fax", "physician": "Dr. Lee", "reviewType": "prospective", "expedited": false,
                    "formulary": false, "items": .array([.object(["id": "1", "description": "8 massage visits"])]),
                ]
            )
            _ = try call(
                "DecideUR",
                [
                    "caseId": "c1", "rfaId": "A", "decidedAt": "2024-03-05T14:00:00-08:00",
                    "decisions": .array([.object(["itemId": "1", "outcome": "denied"])]),
                ]
            )
            _ = try call(
                "ServeWrittenDecision",
                [
                    "caseId": "c1", "itemIds": .array(["1"]), "servedOn": "2024-03-06", "method": "mail",
                    "destination": "california",
                ]
            )
            _ = try call(
                "ReceiveIMRApplication",
                ["caseId": "c1", "itemIds": .array(["1"]), "receivedOn": "2024-03-20"]
            )
            let requested = try call(
                "RequestEligibilityInformation",
                [
                    "caseId": "c1", "itemIds": .array(["1"]), "requestedOn": "2024-03-29",
                    "whatIsRequested": "UR denial letter",
                    "requestedFrom": .array(["claims-administrator"]),
                ]
            )
            #expect(requested["recorded"]?["events"] == .array(["IMREligibilityInformationRequested"]))

            func responseClock() throws -> JSONValue? {
                guard case .array(let deadlines)? = try call("Get", ["caseId": "c1"])["case"]?["deadlines"] else {
                    return nil
                }
                return deadlines.first { $0["rule"] == "imr.eligibility-response" }
            }
            // The server's clock reads 2024-06-01: nothing was sent, so the clock is missed.
            #expect(try responseClock()?["dueDate"] == "2024-04-08")
            #expect(try responseClock()?["status"] == "missed")
            #expect(try responseClock()?["party"] == "claims-administrator")

            let sent = try call(
                "SendEligibilityInformation",
                ["caseId": "c1", "itemIds": .array(["1"]), "sentOn": "2024-04-05"]
            )
            #expect(sent["recorded"]?["events"] == .array(["IMREligibilityInformationSent"]))
            #expect(sent["recorded"]?["version"] == .int(7))
            #expect(try responseClock()?["status"] == "met")
            if case .array(let items)? = try call("Get", ["caseId": "c1"])["case"]?["items"] {
                #expect(items.first?["eligibilityInformationRequestedOn"] == "2024-03-29")
                #expect(items.first?["eligibilityInformationSentOn"] == "2024-04-05")
            } else {
                Issue.record("no items")
            }

            let badParty = error {
                try call(
                    "RequestEligibilityInformation",
                    [
                        "caseId": "c1", "itemIds": .array(["1"]), "requestedOn": "2024-03-29", "whatIsRequested": "x",
                        "requestedFrom": .array(["physician"]),
                    ]
                )
            }
            #expect(badParty != nil)
            let again = error {
                try call(
                    "SendEligibilityInformation",
                    ["caseId": "c1", "itemIds": .array(["1"]), "sentOn": "2024-04-06"]
                )
            }
            #expect(again?.name == "io.imr.Cases.TransitionRefused")
            #expect(again?.parameters["code"] == "already-recorded")
        }
    }

    @Test func aFailingEventLogComesBackAsStorageFailedWithItsSentence_notAsMethodNotImplemented() async throws {
        try await withCasesServer { path, store in
            let c = try VarlinkClient(path: path)
            store.close()  // every read and append now fails with the store's own sentence
            let open = error {
                try c.call(
                    "io.imr.Cases.Open",
                    [
                        "caseId": "c1", "claimNumber": "ADJ-1", "employer": "Acme",
                        "claimsAdministrator": "Golden TPA", "injuredWorkerReference": "J.S.",
                        "dateOfInjury": "2023-11-02", "coordinator": "maria",
                    ]
                )
            }
            #expect(open?.name == "io.imr.Cases.StorageFailed")
            #expect(open?.parameters["kind"] == "closed")
            #expect(
                open?.parameters["message"]?.stringValue?.contains("is closed") == true,
                "\(String(describing: open))"
            )
            #expect(error { try c.call("io.imr.Cases.List") }?.name == "io.imr.Cases.StorageFailed")
            #expect(error { try c.call("io.imr.Deadlines.List") }?.name == "io.imr.Deadlines.StorageFailed")
            #expect(error { try c.call("io.imr.Admin.Status") }?.name == "io.imr.Admin.StorageFailed")
            // The declared error of each interface.
            for name in ["io.imr.Cases", "io.imr.Deadlines", "io.imr.Admin"] {
                let description =
                    try c.call("org.varlink.service.GetInterfaceDescription", ["interface": .string(name)])[
                        "description"
                    ]?.stringValue ?? ""
                #expect(description.contains("error StorageFailed (kind: string, message: string)"), "\(name)")
                #expect(description.contains("error InternalError (message: string)"), "\(name)")
            }
        }
    }

    /// A filter nested under a name the method does not declare is refused by that name, not
    /// read as no filter (every case); the same filter as declared finds its case.
    @Test func undeclaredParametersAreRefused_notReadAsNoFilter() async throws {
        try await withCasesServer { path, store in
            let c = try VarlinkClient(path: path)
            try openC1(c)
            #expect(
                error { try c.call("io.imr.Cases.List", ["filter": .object(["claimNumber": "ADJ-none"])]) }
                    == .invalidParameter("filter")
            )
            #expect(
                error { try c.call("io.imr.Cases.AddNote", ["caseId": "c1", "text": "hi", "txt": "x"]) }
                    == .invalidParameter("txt")
            )
            #expect(try c.call("io.imr.Cases.List", ["claimNumber": "ADJ-none"])["cases"] == .array([]))
            let byClaim = try c.call("io.imr.Cases.List", ["claimNumber": "ADJ-1"])["cases"]
            if case .array(let rows)? = byClaim {
                #expect(rows.map { $0["caseId"] } == [.string("c1")])
            } else {
                Issue.record("no cases in \(String(describing: byClaim))")
            }
            #expect(try store.headPosition() == 1)
        }
    }

    @Test func failuresComeBackAsTheInterfacesErrors() async throws {
        try await withCasesServer { path, store in
            let c = try VarlinkClient(path: path)
            let open: [String: JSONValue] = [
                "caseId": "c1", "claimNumber": "ADJ-1", "employer": "Acme", "claimsAdministrator": "Golden TPA",
                "injuredWorkerReference": "J.S.", "dateOfInjury": "2023-11-02", "coordinator": "maria",
                "commandId": "6f1c2a6e-0000-4000-8000-000000000001",
            ]
            let first = try c.call("io.imr.Cases.Open", open)
            let retry = try c.call("io.imr.Cases.Open", open)
            #expect(retry["recorded"]?["alreadyRecorded"] == .bool(true))
            #expect(retry["recorded"]?["positions"] == first["recorded"]?["positions"])

            #expect(
                error { try c.call("io.imr.Cases.Get", ["caseId": "nope"]) }
                    == VarlinkError(
                        "io.imr.Cases.CaseNotFound",
                        parameters: ["caseId": "nope", "didYouMean": .array([])]
                    )
            )
            var again = open
            again["commandId"] = nil
            let refused = error { try c.call("io.imr.Cases.Open", again) }
            #expect(refused?.name == "io.imr.Cases.TransitionRefused")
            #expect(refused?.parameters["code"] == "case-already-open")

            let badDate = error {
                try c.call("io.imr.Cases.Withdraw", ["caseId": "c1", "withdrawnOn": "2024-13-01", "reason": "x"])
            }
            #expect(badDate?.name == "io.imr.Cases.InvalidValue")
            #expect(badDate?.parameters["parameter"] == "withdrawnOn")
            #expect(badDate?.parameters["message"]?.stringValue?.contains("2024-13-01") == true)
            #expect(
                error { try c.call("io.imr.Cases.Withdraw", ["caseId": "c1", "reason": "x"]) }
                    == .invalidParameter("withdrawnOn")
            )
            let badCommandId = error {
                try c.call("io.imr.Cases.AddNote", ["caseId": "c1", "text": "hi", "commandId": "not-a-uuid"])
            }
            #expect(badCommandId?.name == "io.imr.Cases.InvalidValue")
            #expect(badCommandId?.parameters["parameter"] == "commandId")
            #expect(try store.headPosition() == 1)
        }
    }

    @Test func theInterfaceTextIsTheRepositoryFile_andPythonParsesIt() async throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("Sources/IMRService/Interfaces/io.imr.Cases.varlink")
        let text = try String(contentsOf: file, encoding: .utf8)
        try await withCasesServer { path, _ in
            let described = try VarlinkClient(path: path).call(
                "org.varlink.service.GetInterfaceDescription",
                ["interface": "io.imr.Cases"]
            )
            #expect(described["description"]?.stringValue == text)
            let script = """
                import sys, varlink
                with varlink.Client("unix:" + sys.argv[1]) as client, client.open("io.imr.Cases", namespaced=True) as cases:
                    r = cases.Open("py1", "ADJ-9", "Acme", "Golden TPA", "A.B.", "2023-01-05", "li", None)
                    print("version", r.recorded.version)
                    print("cases", [x.caseId for x in cases.List(True, None, "li", None, None, None).cases])
                    try:
                        cases.Get("missing")
                    except varlink.VarlinkError as e:
                        print("error", e.error())
                """
            let output = try runPythonClient(script, socket: path)
            #expect(output.contains("version 1"))
            #expect(output.contains("cases ['py1']"))
            #expect(output.contains("error io.imr.Cases.CaseNotFound"))
        }
    }

    @Test func rolesFollowGroupsAndRootIsAdmin() {
        let policy = AccessPolicy()
        #expect(policy.role(of: PeerCredentials(pid: 1, uid: 0, gid: 0)) == .admin)
        #expect(policy.role(of: nil) == .none)
        // nobody belongs to none of imr's groups.
        #expect(policy.role(of: PeerCredentials(pid: 1, uid: 65534, gid: 65534)) == .none)
        // A policy naming a group nobody's primary group has: membership by primary gid counts.
        let nogroup = AccessPolicy(readerGroups: ["nogroup"], coordinatorGroups: ["imr-x"], adminGroups: ["imr-y"])
        #expect(nogroup.role(of: PeerCredentials(pid: 1, uid: 65534, gid: 65534)) == .reader)
    }
}

@Suite struct AdminInterfaceTests {
    @Test func statusVerifyBackupAndRebuildAnswerAnAdmin() async throws {
        try await withCasesServer { path, store in
            let c = try VarlinkClient(path: path)
            try openC1(c)
            let status = try c.call("io.imr.Admin.Status")
            #expect(status["openCases"] == 1)
            #expect(status["headPosition"] == 1)
            #expect(status["version"] == "test")
            #expect((status["uptimeSeconds"].flatMap { if case .int(let i) = $0 { i } else { nil } } ?? -1) >= 5)
            #expect(
                status["projections"]
                    == .array([
                        .object(["name": "alerts", "checkpoint": 1]), .object(["name": "case_items", "checkpoint": 1]),
                        .object(["name": "case_list", "checkpoint": 1]),
                        .object(["name": "deadlines", "checkpoint": 1]),
                    ])
            )

            let verify = try c.call("io.imr.Admin.Verify")
            #expect(verify["intact"] == .bool(true))
            #expect(verify["eventsChecked"] == 1)

            let target = URL(fileURLWithPath: store.path).deletingLastPathComponent().appendingPathComponent(
                "backups/copy.sqlite"
            ).path
            let backup = try c.call("io.imr.Admin.Backup", ["name": "copy.sqlite"])
            #expect(backup["events"] == 1)
            #expect(backup["path"] == .string(target))
            let copy = try EventStore(path: target)
            #expect(try copy.read(stream: "case-c1").count == 1)
            copy.close()

            #expect(
                try c.call("io.imr.Admin.Rebuild")["rebuilt"]
                    == .array(["alerts", "case_items", "case_list", "deadlines"])
            )
            #expect(
                error { try c.call("io.imr.Admin.Rebuild", ["projection": "nope"]) }?.name
                    == "io.imr.Admin.ProjectionNotFound"
            )
            #expect(
                try c.call("io.imr.Cases.List")["cases"].flatMap { if case .array(let a) = $0 { a.count } else { nil } }
                    == 1
            )
        }
    }
}

/// Backups go only into the configured directory, by file name, never over an existing file
/// without `force`, never over the daemon's own files, mode 0600, with no partial file left.
@Suite struct BackupPolicyTests {
    private func mode(_ path: String) -> mode_t? {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o777 : nil
    }

    @Test func backupsGoOnlyIntoTheBackupDirectoryByName() async throws {
        try await withCasesServer { path, store in
            let c = try VarlinkClient(path: path)
            try openC1(c)
            let state = URL(fileURLWithPath: store.path).deletingLastPathComponent()
            let backups = state.appendingPathComponent("backups")

            // Paths, traversal, hidden files and control characters are names it refuses.
            for name in [
                "/etc/imr-owned.sqlite", "../imr.sqlite", "..", ".hidden", "a/b", "x\u{1B}[2J", "",
                String(repeating: "a", count: 129),
            ] {
                let refusal = error { try c.call("io.imr.Admin.Backup", ["name": .string(name)]) }
                #expect(refusal?.name == "io.imr.Admin.BackupRefused", "\(name)")
            }
            #expect(!FileManager.default.fileExists(atPath: "/etc/imr-owned.sqlite"))
            #expect(try store.headPosition() == 1)
            #expect(try store.verify().isIntact)

            // A new name: written, 0600, its directory created 0700, no partial file.
            let first = try c.call("io.imr.Admin.Backup", ["name": "monday.sqlite"])
            #expect(first["path"] == .string(backups.appendingPathComponent("monday.sqlite").path))
            #expect(mode(backups.appendingPathComponent("monday.sqlite").path) == 0o600)
            #expect(mode(backups.path) == 0o700)
            #expect(
                !FileManager.default.fileExists(atPath: backups.appendingPathComponent("monday.sqlite.partial").path)
            )

            // The same name again: refused without force, replaced with it.
            let again = error { try c.call("io.imr.Admin.Backup", ["name": "monday.sqlite"]) }
            #expect(again?.name == "io.imr.Admin.BackupRefused")
            #expect(again?.parameters["message"]?.stringValue?.contains("--force") == true)
            _ = try c.call("io.imr.Cases.AddNote", ["caseId": "c1", "text": "after the first backup"])
            let forced = try c.call("io.imr.Admin.Backup", ["name": "monday.sqlite", "force": true])
            #expect(forced["events"] == 2)

            // A link planted in the directory is never followed, even with force.
            let outside = state.appendingPathComponent("outside.txt")
            try Data("keep me".utf8).write(to: outside)
            try FileManager.default.createSymbolicLink(
                atPath: backups.appendingPathComponent("link.sqlite").path,
                withDestinationPath: outside.path
            )
            #expect(
                error { try c.call("io.imr.Admin.Backup", ["name": "link.sqlite", "force": true]) }?.name
                    == "io.imr.Admin.BackupRefused"
            )
            #expect(try String(contentsOf: outside, encoding: .utf8) == "keep me")

            // Without a name, a dated one.
            let dated = try c.call("io.imr.Admin.Backup")
            #expect(dated["path"]?.stringValue?.hasPrefix(backups.appendingPathComponent("imr-").path) == true)
        }
    }

    @Test func theDaemonsOwnFilesAreNeverABackupTarget() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-backup-own-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let storePath = dir.appendingPathComponent("imr.sqlite").path
        let store = try EventStore(path: storePath, options: .init(synchronous: .normal))
        defer { store.close() }
        _ = try store.append(to: "s", expected: .any, events: [NewEvent(type: "t", payload: Array("{}".utf8))])
        let lock = dir.appendingPathComponent("imr-daemon.lock").path
        #expect(FileManager.default.createFile(atPath: lock, contents: Data()), "could not create \(lock)")
        // A backup directory that is the state directory itself (a careless configuration).
        let policy = BackupPolicy(directory: dir.path, protectedPaths: [storePath, storePath + "-wal", lock])
        for name in ["imr.sqlite", "imr-daemon.lock"] {
            #expect(throws: VarlinkError.self) { try policy.destination(for: name, replacing: true) }
        }
        // The store refuses its own files even when asked through another spelling of the path.
        #expect(throws: EventStoreError.self) { try store.backup(to: dir.path + "/./imr.sqlite", replacing: true) }
        #expect(try store.read(stream: "s").count == 1)
        #expect(try store.verify().isIntact)
    }

    @Test func aBackupThatCannotBeWrittenLeavesNoPartialFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-backup-fail-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try EventStore(
            path: dir.appendingPathComponent("imr.sqlite").path,
            options: .init(synchronous: .normal)
        )
        defer { store.close() }
        // The destination is a directory: the copy is written, the rename fails.
        try FileManager.default.createDirectory(
            at: dir.appendingPathComponent("taken"),
            withIntermediateDirectories: true
        )
        #expect(throws: EventStoreError.self) {
            try store.backup(to: dir.appendingPathComponent("taken").path, replacing: true)
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("taken.partial").path))
        // A missing directory: refused with the reason, nothing created.
        let missing = dir.appendingPathComponent("nope/copy.sqlite").path
        let failure = #expect(throws: EventStoreError.self) { try store.backup(to: missing) }
        #expect(failure?.message.contains("nope/copy.sqlite.partial") == true)
    }
}

@Suite struct DeadlinesInterfaceTests {
    @Test func theBoardShowsRunningClocksByDueTimeAndDropsMetOnes() async throws {
        // The RFA is recorded the day it arrives; the board is read months later.
        let clock = TestClock(Pacific.instant(LocalDate(iso: "2024-02-26")!, hour: 11))
        try await withCasesServer(clock: clock) { path, store in
            let c = try VarlinkClient(path: path)
            func board(_ p: [String: JSONValue] = [:]) throws -> [JSONValue] {
                guard case .array(let a)? = try c.call("io.imr.Deadlines.List", p)["deadlines"] else { return [] }
                return a
            }
            try openC1(c)
            #expect(try board().isEmpty)
            // Faxed Monday 2024-02-26 10:15: five business days end Monday 2024-03-04.
            _ = try c.call(
                "io.imr.Cases.ReceiveRFA",
                [
                    "caseId": "c1", "rfaId": "A", "receivedAt": "2024-02-26T10:15", "receivedTimeOfDayKnown": true,
                    "transmission": "fax", "physician": "Dr. Lee", "reviewType": "prospective", "expedited": false,
                    "formulary": false, "items": .array([.object(["id": "1", "description": "8 massage visits"])]),
                ]
            )
            clock.set(Pacific.instant(LocalDate(iso: "2024-06-01")!, hour: 9))
            let running = try board(["rule": "ur.decision.prospective"])
            #expect(running.count == 1)
            #expect(running.first?["dueDate"] == "2024-03-04")
            #expect(running.first?["due"] == "2024-03-04T23:59:59-08:00")
            #expect(running.first?["status"] == "missed")  // the test clock is 2024-06-01
            #expect(running.first?["coordinator"] == "maria")
            #expect(running.first?["citation"]?.stringValue?.contains("4610") == true)
            #expect(try board(["coordinator": "li"]).isEmpty)
            let overdueCount = try board(["overdue": true]).count
            #expect(try board().count == overdueCount)

            clock.set(Pacific.instant(LocalDate(iso: "2024-03-01")!, hour: 10))
            _ = try c.call(
                "io.imr.Cases.DecideUR",
                [
                    "caseId": "c1", "rfaId": "A", "decidedAt": "2024-03-01T09:00",
                    "decisions": .array([.object(["itemId": "1", "outcome": "denied"])]),
                ]
            )
            clock.set(Pacific.instant(LocalDate(iso: "2024-06-01")!, hour: 9))
            #expect(try board(["rule": "ur.decision.prospective"]).isEmpty)
            let rules = try board().compactMap { $0["rule"]?.stringValue }
            #expect(rules.contains("ur.notice.physician"))
            #expect(rules.contains("imr.application"))

            guard case .array(let all)? = try c.call("io.imr.Deadlines.ForCase", ["caseId": "c1"])["deadlines"] else {
                Issue.record("no deadlines")
                return
            }
            #expect(all.first { $0["rule"] == "ur.decision.prospective" }?["status"] == "met")
            let detail = try c.call("io.imr.Cases.Get", ["caseId": "c1"])["case"]
            #expect(detail?["deadlines"] == .array(all))

            let before = try board()
            // The rows written from their stored text (spliced) read as the rows parsed and
            // printed again, each with its status and coordinator.
            let parsed = try DeadlineProjection.board(in: store, matching: DeadlineBoardFilter(), now: clock.read())
            #expect(before.count >= 2 && before == parsed.map { .object($0) })
            #expect(before.allSatisfy { $0["status"] == "missed" })  // read months after the RFA
            #expect(before.allSatisfy { $0["coordinator"] == "maria" })
            try store.rebuildProjection(named: "deadlines")
            #expect(try board() == before)
            #expect(
                error { try c.call("io.imr.Deadlines.List", ["rule": "ur.nope"]) }?.name == "io.imr.Cases.InvalidValue"
            )
            #expect(
                error { try c.call("io.imr.Deadlines.ForCase", ["caseId": "zz"]) }?.name == "io.imr.Cases.CaseNotFound"
            )
            // A coordinator filter no case can have is refused, naming it, on the lists and the digest.
            for (method, parameters) in [
                ("io.imr.Deadlines.List", ["coordinator": "jane doe"]),
                ("io.imr.Cases.List", ["coordinator": "jane\u{7}"]),
                ("io.imr.Deadlines.Digest", ["coordinator": .string(String(repeating: "j", count: 65))]),
                ("io.imr.Deadlines.Digest", ["coordinator": ""]),
            ] as [(String, [String: JSONValue])] {
                let refused = error { try c.call(method, parameters) }
                #expect(refused?.name.hasSuffix(".InvalidValue") == true, "\(method): \(String(describing: refused))")
                #expect(refused?.parameters["parameter"] == "coordinator", "\(method)")
            }
            #expect(try c.call("io.imr.Deadlines.List", ["coordinator": "j.doe@example"])["deadlines"] == .array([]))
        }
    }
}

@Suite struct ReadModelRebuildGateTests {
    /// While a read model is rebuilt its rows are incomplete and its list indexes absent: the
    /// lists that read it refuse, naming it; status shows the rebuild; after it, they answer.
    @Test func listsOfARebuildingReadModelAreRefusedNamingIt_andAnswerAfterIt() async throws {
        try await withCasesServer { path, store in
            let c = try VarlinkClient(path: path)
            try openC1(c)
            _ = try c.call("io.imr.Cases.AddNote", ["caseId": "c1", "text": "called the adjuster"])
            let head = try store.headPosition()
            var refused: [String] = []
            var statusDuring: [JSONValue] = []
            try store.rebuildProjections(named: ["deadlines", "case_list"], batchSize: 1) { step in
                guard step.rebuilding, step.indexCreated == nil, refused.isEmpty else { return }
                for (method, parameters) in [
                    ("io.imr.Cases.List", [:]), ("io.imr.Cases.Search", ["text": "ADJ"]),
                    ("io.imr.Deadlines.List", [:]), ("io.imr.Cases.Stats", [:]),
                ] as [(String, [String: JSONValue])] {
                    do {
                        _ = try c.call(method, parameters)
                        refused.append("\(method) answered")
                    } catch let error as VarlinkError {
                        refused.append(
                            "\(error.name) \(error.parameters["readModel"]?.stringValue ?? "-") \(error.parameters["rebuildingTo"] == .int(head) ? "at head" : "elsewhere")"
                        )
                    } catch {
                        refused.append("\(method) \(error)")
                    }
                }
                if case .array(let list)? = (try? c.call("io.imr.Admin.Status", [:]))?["projections"] {
                    statusDuring = list
                }
            }
            #expect(
                refused == [
                    "io.imr.Cases.ReadModelRebuilding case_list at head",
                    "io.imr.Cases.ReadModelRebuilding case_list at head",
                    "io.imr.Cases.ReadModelRebuilding deadlines at head",
                    "io.imr.Cases.ReadModelRebuilding case_list at head",
                ]
            )
            let rebuilding = statusDuring.compactMap { p -> String? in
                guard case .object(let o) = p, let to = o["rebuildingTo"], to != .null else { return nil }
                return "\(o["name"]?.stringValue ?? "?")@\(to == .int(head) ? "head" : "elsewhere")"
            }
            #expect(rebuilding.sorted() == ["case_list@head", "deadlines@head"])
            guard case .array(let listed)? = try c.call("io.imr.Cases.List", [:])["cases"],
                case .array(let found)? = try c.call("io.imr.Cases.Search", ["text": "ADJ-1"])["cases"]
            else {
                Issue.record("no cases in the replies after the rebuild")
                return
            }
            #expect(listed.count == 1 && found.count == 1)
        }
    }
}
