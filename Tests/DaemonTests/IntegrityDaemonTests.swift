import CSQLite
import EventStore
import Foundation
import TestSupport
import Testing
import Varlink

#if canImport(Glibc)
import Glibc
#endif

/// Issue 11 through the real daemon: hostile values, reused command ids, a truncated log,
/// file modes.
@Suite(.serialized, .timeLimit(.minutes(3))) struct IntegrityDaemonTests {
    /// The Varlink error a call ends with; nil when it succeeds.
    static func failure(_ body: () throws -> Any) -> VarlinkError? {
        do {
            _ = try body()
            return nil
        } catch { return error as? VarlinkError }
    }

    /// Runs SQL on the file as an intruder would; nil on success or SQLite's message.
    @discardableResult
    static func intrude(_ path: String, _ sql: String) -> String? {
        var db: OpaquePointer?
        SQLiteConnection.configureBeforeFirstUse()  // the test process's own stores open after
        guard sqlite3_open(path, &db) == SQLITE_OK else { return "cannot open \(path)" }
        defer { sqlite3_close(db) }
        sqlite3_busy_timeout(db, 5000)
        var error: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(db, sql, nil, nil, &error) == SQLITE_OK else {
            defer { sqlite3_free(error) }
            return error.map { String(cString: $0) } ?? "failed"
        }
        return nil
    }

    @Test func aNulOrControlCharacterOrYear0000IsRefusedNamingTheField_andTheLogStaysIntact() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        try await offThePool {
            let c = try daemon.client()
            var open = openParameters
            open["caseId"] = "A\u{0}B"
            let nul = Self.failure { try c.call("io.imr.Cases.Open", open) }
            #expect(nul?.name == "io.imr.Cases.InvalidValue")
            #expect(nul?.parameters["parameter"] == "caseId")
            #expect(nul?.parameters["message"]?.stringValue?.contains("U+0000") == true)
            #expect(nul?.parameters["message"]?.stringValue?.contains("- _ . : / #") == true)

            open["caseId"] = "OK-1"
            _ = try c.call("io.imr.Cases.Open", open)
            open["caseId"] = "A"
            _ = try c.call("io.imr.Cases.Open", open)  // not "already open": nothing of "A\0B" was stored

            let note = Self.failure { try c.call("io.imr.Cases.AddNote", ["caseId": "OK-1\u{0}zzz", "text": "hello"]) }
            #expect(note?.name == "io.imr.Cases.InvalidValue")
            #expect(note?.parameters["parameter"] == "caseId")
            let escape = Self.failure {
                try c.call("io.imr.Cases.AddNote", ["caseId": "OK-1", "text": "bad \u{1b}[31m"])
            }
            #expect(escape?.parameters["parameter"] == "text")
            #expect(escape?.parameters["message"]?.stringValue?.contains("U+001B") == true)
            _ = try c.call("io.imr.Cases.AddNote", ["caseId": "OK-1", "text": "two\nlines\tand a tab"])
            let long = Self.failure {
                try c.call(
                    "io.imr.Cases.AddNote",
                    ["caseId": "OK-1", "text": .string(String(repeating: "x", count: 10_001))]
                )
            }
            #expect(long?.parameters["parameter"] == "text")
            let coordinator = Self.failure {
                try c.call("io.imr.Cases.Reassign", ["caseId": "OK-1", "coordinator": "maria\u{0}root"])
            }
            #expect(coordinator?.parameters["parameter"] == "coordinator")
            open["caseId"] = "C2"
            open["employer"] = "Acme\u{7}"
            #expect(Self.failure { try c.call("io.imr.Cases.Open", open) }?.parameters["parameter"] == "employer")

            // Year 0000 (and 2300) are outside the supported range, dates and instants alike.
            open["employer"] = "Acme"
            open["dateOfInjury"] = "0000-01-01"
            let year0 = Self.failure { try c.call("io.imr.Cases.Open", open) }
            #expect(year0?.name == "io.imr.Cases.InvalidValue")
            #expect(year0?.parameters["parameter"] == "dateOfInjury")
            #expect(year0?.parameters["message"]?.stringValue?.contains("1900-01-01 to 2199-12-31") == true)
            let instant = Self.failure {
                try c.call(
                    "io.imr.Cases.ReceiveRFA",
                    [
                        "caseId": "OK-1", "rfaId": "R1", "receivedAt": "0000-03-01T10:00:00-07:52",
                        "receivedTimeOfDayKnown": true,
                        "transmission": "fax", "physician": "Dr. Lee", "reviewType": "prospective", "expedited": false,
                        "formulary": false,
                        "items": .array([.object(["id": "1", "description": "MRI"])]),
                    ]
                )
            }
            #expect(instant?.parameters["parameter"] == "receivedAt")
            #expect(instant?.parameters["message"]?.stringValue?.contains("1900-01-01") == true)
            let future = Self.failure {
                try c.call("io.imr.Cases.Close", ["caseId": "OK-1", "closedOn": "2300-01-01", "reason": "x"])
            }
            #expect(future?.parameters["parameter"] == "closedOn")

            let verify = try c.call("io.imr.Admin.Verify")
            #expect(verify["intact"] == .bool(true))
            #expect(verify["eventsChecked"] == 3)
            if case .array(let cases)? = try c.call("io.imr.Cases.List", ["open": true])["cases"] {
                #expect(Set(cases.compactMap { $0["caseId"]?.stringValue }) == ["A", "OK-1"])
            } else {
                Issue.record("no case list")
            }
        }
        // imr-ctl says it in a sentence and exits 65.
        let r = try await ControlCommandTests.ctl(["case", "note", "OK-1", "bell \u{7}"], socket: daemon.socketPath)
        #expect(r.status == 65)
        #expect(r.err.contains("text contains the control character U+0007"))
        #expect(!r.err.contains("text: text"))
    }

    @Test func aCommandIdReusedForADifferentCommandIsRefused_theSameCommandStaysIdempotent() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        let s = daemon.socketPath
        let u = UUID().uuidString.lowercased()
        let open = try await ControlCommandTests.ctl(
            [
                "case", "open", "C-1", "--claim", "ADJ1", "--employer", "Acme", "--administrator", "TPA", "--worker",
                "J.D.",
                "--injured", "2024-01-15", "--coordinator", "maria", "--command-id", u,
            ],
            socket: s
        )
        #expect(open.status == 0, "\(open.err)")
        let again = try await ControlCommandTests.ctl(
            [
                "case", "open", "C-1", "--claim", "ADJ1", "--employer", "Acme", "--administrator", "TPA", "--worker",
                "J.D.",
                "--injured", "2024-01-15", "--coordinator", "maria", "--command-id", u,
            ],
            socket: s
        )
        #expect(again.status == 0)
        #expect(again.out.contains("recorded before; nothing changed"))

        let note = try await ControlCommandTests.ctl(
            ["case", "note", "C-1", "call the adjuster", "--command-id", u],
            socket: s
        )
        #expect(note.status == 65)
        #expect(
            note.err.contains(
                "command id \(u) was already used for a different command (CaseOpened on case 'C-1', at position 1)"
            )
        )
        #expect(!note.out.contains("nothing changed"))

        try await offThePool {
            let c = try daemon.client()
            // The same id with a changed open (another employer) and on another case: refused, naming the first.
            var changed = openParameters
            changed["caseId"] = "C-1"
            changed["commandId"] = .string(u)
            let sameCase = Self.failure { try c.call("io.imr.Cases.Open", changed) }
            #expect(sameCase?.name == "io.imr.Cases.CommandIdReused")
            #expect(sameCase?.parameters["caseId"] == "C-1")
            #expect(sameCase?.parameters["events"] == .array(["CaseOpened"]))
            #expect(sameCase?.parameters["positions"] == .array([1]))
            changed["caseId"] = "C-2"
            let otherCase = Self.failure { try c.call("io.imr.Cases.Open", changed) }
            #expect(otherCase?.name == "io.imr.Cases.CommandIdReused")
            #expect(otherCase?.parameters["caseId"] == "C-1")
            #expect(otherCase?.parameters["commandId"] == .string(u))
            // Nothing was written by any of them.
            #expect(try c.call("io.imr.Admin.Status")["headPosition"] == 1)
            #expect(
                Self.failure { try c.call("io.imr.Cases.Get", ["caseId": "C-2"]) }?.name == "io.imr.Cases.CaseNotFound"
            )
        }
    }

    @Test func aTruncatedLogIsReportedByVerify_refusedAtStart_andServedOnlyWhenAcceptedWhichIsRecorded() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-daemon-\(UUID().uuidString.prefix(8))"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try DaemonProcess(directory: directory)
        defer { first.cleanup() }
        _ = try #require(await offThePool { first.waitUntilReady() })
        try await offThePool {
            let c = try first.client()
            _ = try c.call("io.imr.Cases.Open", openParameters)
            for i in 1...5 { _ = try c.call("io.imr.Cases.AddNote", ["caseId": "c1", "text": .string("note \(i)")]) }
        }
        // An intruder cuts the last three events while the daemon runs.
        #expect(
            Self.intrude(first.storePath, "DROP TRIGGER events_refuse_delete; DELETE FROM events WHERE position > 3")
                == nil
        )
        let verify = try await ControlCommandTests.ctl(["verify"], socket: first.socketPath)
        #expect(verify.status == 1)
        #expect(verify.err.contains("truncated"))
        #expect(verify.err.contains("from position 4 to 6"))
        let json = try await ControlCommandTests.ctl(["verify", "--json"], socket: first.socketPath)
        let reply = try #require(try ControlCommandTests.json(json.out) as? [String: Any])
        #expect(reply["missingFrom"] as? Int == 4)
        #expect(reply["firstBadPosition"] as? Int == 4)
        #expect(reply["anchorPosition"] as? Int == 6)
        let stopped = first.stop()
        #expect(stopped.status == 0)
        #expect(stopped.output.contains("event log head at position 6"))

        // Restarted on that log: refused, exit 65, saying what was found.
        let refused = try DaemonProcess(directory: directory)
        defer { refused.cleanup() }
        let end = refused.wait()
        #expect(end.status == 65)
        #expect(end.output.contains("tampered with"))
        #expect(end.output.contains("from position 4 to 6"))
        #expect(end.output.contains("--accept-tampered-log"))

        // Accepted: it starts, records the acceptance on the admin stream, and serves.
        let accepted = try DaemonProcess(directory: directory, arguments: ["--accept-tampered-log"])
        defer { accepted.cleanup() }
        _ = try #require(await offThePool { accepted.waitUntilReady() }, "no READY=1 with --accept-tampered-log")
        try await offThePool {
            let c = try accepted.client()
            #expect(try c.call("io.imr.Admin.Verify")["intact"] == .bool(true))
            let recorded = try c.call("io.imr.Cases.AddNote", ["caseId": "c1", "text": "after the acceptance"])
            #expect(recorded["recorded"]?["version"] == 4)
            #expect(recorded["recorded"]?["positions"] == .array([5]))
            // The read models are rebuilt from the log as it stands (once the daemon answers).
            #expect(try accepted.waitUntilRebuilt())
            if case .array(let cases)? = try c.call("io.imr.Cases.List", ["open": true])["cases"] {
                #expect(cases.first?["version"] == 4)
            } else {
                Issue.record("no case list")
            }
        }
        let acceptedEnd = accepted.stop()
        #expect(acceptedEnd.status == 0)
        #expect(acceptedEnd.output.contains("starting anyway"))

        let store = try EventStore(path: accepted.storePath)
        defer { store.close() }
        let admin = try await store.read(stream: "admin")
        #expect(admin.count == 1)
        #expect(admin.first?.position == 4)
        #expect(admin.first?.type == "TamperedLogAccepted")
        let fact = try #require(try JSONSerialization.jsonObject(with: admin.first!.payloadData) as? [String: Any])
        #expect(fact["missingFrom"] as? Int == 4)
        #expect(fact["anchorPosition"] as? Int == 6)
        #expect(fact["lastPosition"] as? Int == 3)
        #expect((fact["acceptedBy"] as? String)?.hasPrefix("uid:\(getuid()) ") == true)
        #expect((fact["found"] as? String)?.contains("truncated") == true)
        await #expect(try store.verify().isIntact)
        #expect(try EventStore.checkHead(path: accepted.storePath).isIntact)
    }

    @Test func theDaemonKeepsItsFilesFromOtherUsers_evenStartedWithUmask000() async throws {
        let daemon = try DaemonProcess(launcher: ["/bin/sh", "-c", "umask 000; exec \"$0\" \"$@\""])
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        let backup = daemon.directory.appendingPathComponent("state/backups/backup.sqlite").path
        try await offThePool {
            let c = try daemon.client()
            _ = try c.call("io.imr.Cases.Open", openParameters)
            _ = try c.call("io.imr.Admin.Backup", ["name": "backup.sqlite"])
        }
        func mode(_ path: String) throws -> Int {
            try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        }
        for suffix in ["", "-wal", "-shm"] {
            let m = try mode(daemon.storePath + suffix)
            #expect(m & 0o007 == 0, "imr.sqlite\(suffix) is \(String(m, radix: 8))")
            #expect(m & 0o020 == 0, "imr.sqlite\(suffix) is group-writable: \(String(m, radix: 8))")
        }
        #expect(try mode(backup) & 0o027 == 0)
        #expect(try mode(daemon.stateDirectory) & 0o007 == 0)
        #expect(try mode(daemon.stateDirectory + "/backups") & 0o077 == 0)
        #expect(daemon.stop().status == 0)
    }
}
