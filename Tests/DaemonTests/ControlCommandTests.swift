import ChildProcess
import Foundation
import TestSupport
import Testing
import Varlink

#if canImport(Glibc)
import Glibc
#endif

/// imr-ctl end to end: the real binary against the real daemon.
@Suite(.serialized) struct ControlCommandTests {
    static let imrCtl = productsDirectory.appendingPathComponent("imr-ctl").path

    /// Runs imr-ctl off the cooperative pool; stdout and stderr apart.
    static func ctl(
        _ arguments: [String],
        socket: String?,
        environment: [String: String] = [:],
        launcher: [String] = []
    ) async throws
        -> (status: Int32, out: String, err: String)
    {
        try await offThePool {
            let p = SpawnedProcess()
            p.executableURL = URL(fileURLWithPath: launcher.first ?? imrCtl)
            p.arguments =
                (launcher.isEmpty ? [] : Array(launcher.dropFirst()) + [imrCtl]) + arguments
                + (socket.map { ["--socket", $0] } ?? [])
            var env = ProcessInfo.processInfo.environment
            env.removeValue(forKey: "IMR_SOCKET")
            for (k, v) in environment { env[k] = v }
            p.environment = env
            let out = Pipe.forChild()
            let err = Pipe.forChild()
            p.standardOutput = out
            p.standardError = err
            p.standardInput = FileHandle.nullDevice
            try p.start()
            let o = out.fileHandleForReading.readDataToEndOfFile()
            let e = err.fileHandleForReading.readDataToEndOfFile()
            return (p.waitForExit().status, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
        }
    }

    static func json(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }

    /// "Now" for the dates the tests write, taken once: a test that runs across midnight in
    /// California writes and expects the same dates (each call reading the clock gave a test
    /// that recorded "14 days ago" before midnight and expected it after a different day).
    static let today = Date()

    /// A date `days` from ``today`` in California.
    static func day(_ days: Int) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "America/Los_Angeles")!
        let d = calendar.date(byAdding: .day, value: days, to: today)!
        let c = calendar.dateComponents([.year, .month, .day], from: d)
        return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
    }

    /// The Pacific UTC offset on the day `days` from today, as RFC 3339 writes it.
    static func offset(_ days: Int) -> String {
        let zone = TimeZone(identifier: "America/Los_Angeles")!
        let seconds = zone.secondsFromGMT(for: today.addingTimeInterval(Double(days) * 86_400))
        return String(format: "-%02d:00", -seconds / 3600)
    }

    @Test func aFullDiskReachesImrCtlAsTheDaemonsSentence_exit74() async throws {
        // The daemon may write files of at most 2 MiB (RLIMIT_FSIZE; SIGXFSZ ignored, so a
        // write past it fails with EFBIG as on a full disk): the write-ahead log soon reaches it.
        let daemon = try DaemonProcess(launcher: [
            "/bin/bash", "-c", "trap '' XFSZ; ulimit -f 2048; exec \"$@\"", "imr-daemon",
        ])
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        let s = daemon.socketPath
        let failure = try await offThePool { () -> VarlinkError? in
            let client = try daemon.client()
            var parameters = openParameters
            parameters["caseId"] = "full-0"
            _ = try client.call("io.imr.Cases.Open", parameters)
            for i in 0..<5000 {
                let note: JSONValue = .string("note \(i) " + String(repeating: "Acme Foods ", count: 800))
                do { _ = try client.call("io.imr.Cases.AddNote", ["caseId": "full-0", "text": note]) } catch let error
                    as VarlinkError
                { return error }
            }
            return nil
        }
        #expect(failure?.name == "io.imr.Cases.StorageFailed", "\(String(describing: failure))")
        let r = try await Self.ctl(["case", "note", "full-0", String(repeating: "Acme Foods ", count: 800)], socket: s)
        #expect(r.status == 74, "\(r.err)")
        #expect(r.err.contains("the daemon's event log failed:"), "\(r.err)")
        #expect(!r.err.contains("older imr-daemon"), "\(r.err)")
        #expect(try await offThePool { try daemon.client().call("io.imr.Admin.Status")["headPosition"] } != nil)
    }

    @Test func aWholeLifecycleThroughTheTypedCommands_readBackAsTablesAndJSON() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        let s = daemon.socketPath
        func ok(_ arguments: [String]) async throws -> String {
            let r = try await Self.ctl(arguments, socket: s)
            #expect(r.status == 0, "imr-ctl \(arguments.joined(separator: " ")): \(r.err)")
            return r.out
        }
        let received = "\(Self.day(-40))T16:10"
        let opened = try await ok([
            "case", "open", "C-7", "--claim", "ADJ-77", "--employer", "Acme", "--administrator", "Golden TPA",
            "--worker", "J.S.", "--injured", Self.day(-400), "--coordinator", "maria",
        ])
        #expect(opened.contains("case C-7: recorded Case opened (CaseOpened, version 1)"), "\(opened)")
        let rfa = try await ok([
            "rfa", "receive", "C-7", "--item", "Lumbar MRI", "--item", "PT x12", "--received", received, "--via", "fax",
        ])
        #expect(
            rfa.contains("recorded RFA received (received at \(Self.day(-40)) 16:10) (RFAReceived, version 2)"),
            "\(rfa)"
        )
        #expect(rfa.contains("  started ur.decision.prospective, due "), "\(rfa)")
        // In words: what was recorded, when, and the deadlines it met and started.
        let decided = try await ok([
            "ur", "decide", "C-7", "--item", "1=denied", "--item", "2=modified:6 sessions", "--at",
            "\(Self.day(-38))T10:00",
        ])
        #expect(decided.contains("recorded UR decision issued (decided at \(Self.day(-38)) 10:00)"), "\(decided)")
        #expect(decided.contains("  met ur.decision.prospective (due "), "\(decided)")
        #expect(decided.contains("  started ur.notice.physician, due "), "\(decided)")
        _ = try await ok(["ur", "notify", "C-7", "--at", "\(Self.day(-38))T11:00", "--via", "fax"])
        _ = try await ok(["ur", "serve", "C-7", "--on", Self.day(-37)])
        // Eligibility before any application: refused, naming the command that records it.
        let early = try await Self.ctl(["imr", "eligible", "C-7", "--on", Self.day(-30)], socket: s)
        #expect(
            early.status == 1
                && early.err.contains("first record the application: imr-ctl imr apply C-7 --received DATE"),
            "\(early.err)"
        )
        _ = try await ok(["imr", "apply", "C-7", "--received", Self.day(-30)])
        _ = try await ok(["imr", "eligible", "C-7", "--on", Self.day(-25)])
        _ = try await ok(["imr", "assign", "C-7", "--imr-case", "CM26-0012345", "--assigned", Self.day(-25)])
        _ = try await ok(["imr", "records", "C-7", "--imr-case", "CM26-0012345", "--received", Self.day(-20)])
        _ = try await ok([
            "imr", "determine", "C-7", "--imr-case", "CM26-0012345", "--decided", Self.day(-3), "--item",
            "1=overturned",
            "--item", "2=upheld", "--guideline", "1=MTUS ACOEM Low Back", "--specialty", "Orthopedic Surgery",
        ])
        _ = try await ok(["case", "note", "C-7", "called the adjuster"])
        _ = try await ok(["case", "reassign", "C-7", "--to", "jorge"])

        // The item defaults followed the case: every denied or modified item went to IMR.
        let detail = try #require(try Self.json(try await ok(["show", "C-7", "--json"])) as? [String: Any])
        let items = try #require(detail["items"] as? [[String: Any]])
        #expect(items.map { $0["status"] as? String } == ["overturned", "upheld"])
        #expect(items.allSatisfy { $0["imrCaseNumber"] as? String == "CM26-0012345" })
        #expect(detail["coordinator"] as? String == "jorge")
        let deadlines = try #require(detail["deadlines"] as? [[String: Any]])
        let implementation = try #require(deadlines.first { $0["rule"] as? String == "imr.implementation" })
        #expect(implementation["status"] as? String == "pending")

        // The board and the case list agree on the running implementation clock.
        let board = try #require(
            try Self.json(try await ok(["deadlines", "--json", "--rule", "imr.implementation"])) as? [[String: Any]]
        )
        #expect(board.count == 1)
        #expect(board.first?["caseId"] as? String == "C-7")
        let keys = Set(board.first.map { Array($0.keys) } ?? [])
        #expect(
            keys.isSuperset(of: [
                "id", "rule", "caseId", "due", "dueDate", "status", "party", "coordinator", "citation", "explanation",
            ])
        )
        let cases = try #require(try Self.json(try await ok(["cases", "--json"])) as? [[String: Any]])
        #expect(cases.count == 1)
        #expect(
            Set(cases[0].keys) == [
                "caseId", "claimNumber", "employer", "claimsAdministrator", "coordinator", "dateOfInjury", "stage",
                "isOpen", "imrCaseNumbers", "items", "version", "nextDue", "nextRule",
            ]
        )
        #expect(cases[0]["nextDue"] as? String == board.first?["due"] as? String)
        let table = try await ok(["cases"])
        #expect(table.hasPrefix("CASE "))
        #expect(table.contains("C-7") && table.contains("imr.implementation"))
        #expect(!table.contains("\u{1B}["), "no colour when stdout is not a terminal")
        #expect(try await ok(["deadlines", "--coordinator", "maria"]).contains("no running deadline matches"))

        // The implementation is recorded; the clock is met and leaves the board.
        _ = try await ok(["implement", "C-7", "--item", "1", "--on", Self.day(-1)])
        #expect(try await ok(["deadlines", "--rule", "imr.implementation"]).contains("no running deadline matches"))
        let shown = try await ok(["show", "C-7"])
        #expect(shown.contains("met") && shown.contains("imr.implementation") && shown.contains("called the adjuster"))

        // A correction through the typed command: the original stays, the fact changes.
        let history = try #require(try Self.json(try await ok(["history", "C-7", "--json"])) as? [[String: Any]])
        #expect(
            Set(history[0].keys) == [
                "position", "version", "eventId", "type", "schemaVersion", "recordedAt", "actor", "commandId",
                "correlationId", "payload",
            ]
        )
        let assign = try #require(history.first { $0["type"] as? String == "IMRAssigned" })
        // By the name `show --json` gives the item's field (imrAssignedOn), which is IMRAssigned's assignedOn.
        _ = try await ok([
            "correct", "C-7", "--version", "\(assign["version"] as! Int)", "--field", "imrAssignedOn", "--value",
            Self.day(-24),
            "--reason", "notice dated a day later",
        ])
        let after = try #require(try Self.json(try await ok(["show", "C-7", "--json"])) as? [String: Any])
        #expect((after["items"] as? [[String: Any]])?.first?["imrAssignedOn"] as? String == Self.day(-24))
        #expect(try await ok(["history", "C-7"]).contains("EventCorrected"))
        // --payload: instants in RFC 3339 (Pacific), not seconds since 1970.
        let payloads = try await ok(["history", "C-7", "--payload"])
        #expect(payloads.contains("\"decidedAt\":\"\(Self.day(-38))T10:00:00-0"), "\(payloads)")
        #expect((after["corrections"] as? [[String: Any]])?.first?["reason"] as? String == "notice dated a day later")
        // Read back plainly: which event, which type, old → new.
        let correctedShown = try await ok(["show", "C-7"])
        #expect(
            correctedShown.contains(
                "corrected event \(assign["version"] as! Int) (IMRAssigned): assignedOn \(Self.day(-25)) → \(Self.day(-24)) (notice dated a day later)"
            ),
            "\(correctedShown)"
        )

        // Appeal and resolution, then closing.
        _ = try await ok(["appeal", "C-7", "--item", "2", "--filed", Self.day(0), "--by", "employee"])
        _ = try await ok(["appeal", "resolve", "C-7", "--on", Self.day(0), "--outcome", "dismissed"])
        _ = try await ok(["case", "close", "C-7", "--reason", "resolved"])
        let closed = try #require(try Self.json(try await ok(["cases", "--closed", "--json"])) as? [[String: Any]])
        #expect(closed.map { $0["caseId"] as? String } == ["C-7"])
        #expect(try await ok(["cases"]).contains("no cases match"))
    }

    @Test func theOtherRecordingCommands_informationDeferralEligibilityAndWithdrawal() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        let s = daemon.socketPath
        func ok(_ arguments: [String]) async throws {
            let r = try await Self.ctl(arguments, socket: s)
            #expect(r.status == 0, "imr-ctl \(arguments.joined(separator: " ")): \(r.err)")
        }
        func item(_ caseId: String) async throws -> [String: Any] {
            let detail = try #require(
                try Self.json(try await Self.ctl(["show", caseId, "--json"], socket: s).out) as? [String: Any]
            )
            return try #require((detail["items"] as? [[String: Any]])?.first)
        }
        func rfa(_ caseId: String) async throws -> [String: Any] {
            let detail = try #require(
                try Self.json(try await Self.ctl(["show", caseId, "--json"], socket: s).out) as? [String: Any]
            )
            return try #require((detail["rfas"] as? [[String: Any]])?.first)
        }
        for id in ["I-1", "I-2", "I-3"] {
            try await ok([
                "case", "open", id, "--claim", "ADJ-\(id)", "--employer", "E", "--administrator", "T", "--worker",
                "A.B.",
                "--injured", Self.day(-200), "--coordinator", "li",
            ])
            // A date without a time: the time of day is unknown.
            try await ok(["rfa", "receive", id, "--item", "Shoulder MRI", "--received", Self.day(-20), "--via", "mail"])
        }
        #expect(try await rfa("I-1")["receivedTimeOfDayKnown"] as? Bool == false)

        try await ok(["rfa", "request-info", "I-1", "--on", Self.day(-18), "--need", "progress notes"])
        try await ok(["rfa", "info-received", "I-1", "--on", Self.day(-15)])
        let r1 = try await rfa("I-1")
        #expect(
            r1["informationRequestedOn"] as? String == Self.day(-18)
                && r1["informationReceivedOn"] as? String == Self.day(-15)
        )

        // Defaults follow the case: a second RFA's items are numbered on, and `ur notify` without
        // --item takes only the decided items the physician has not been told of.
        try await ok(["ur", "decide", "I-1", "--item", "1=approved", "--at", "\(Self.day(-14))T10:00"])
        try await ok(["ur", "notify", "I-1", "--at", "\(Self.day(-14))T11:00", "--via", "fax"])
        try await ok([
            "rfa", "receive", "I-1", "--item", "Elbow brace", "--received", "\(Self.day(-12))T09:00", "--via", "email",
        ])
        try await ok(["ur", "decide", "I-1", "--rfa", "R2", "--item", "2=denied", "--at", "\(Self.day(-11))T10:00"])
        try await ok(["ur", "notify", "I-1", "--at", "\(Self.day(-11))T12:00", "--via", "fax"])
        let both = try #require(
            try Self.json(try await Self.ctl(["show", "I-1", "--json"], socket: s).out) as? [String: Any]
        )
        let notified = (both["items"] as? [[String: Any]] ?? []).map {
            "\($0["itemId"] ?? "") \($0["rfaId"] ?? "") \($0["physicianNotifiedAt"] ?? "")"
        }
        #expect(
            notified == [
                "1 R1 \(Self.day(-14))T11:00:00\(Self.offset(-14))",
                "2 R2 \(Self.day(-11))T12:00:00\(Self.offset(-11))",
            ]
        )

        try await ok(["ur", "defer", "I-2", "--on", Self.day(-19), "--liability-dispute", "AOE/COE denied"])
        #expect(try await rfa("I-2")["deferredOn"] as? String == Self.day(-19))

        try await ok(["ur", "decide", "I-3", "--item", "1=denied", "--at", "\(Self.day(-17))T10:00"])
        try await ok(["ur", "notify", "I-3", "--at", "\(Self.day(-17))T11:00", "--via", "fax"])
        try await ok(["ur", "serve", "I-3", "--on", Self.day(-16), "--via", "mail", "--destination", "other-state"])
        try await ok(["imr", "apply", "I-3", "--received", Self.day(-10)])
        try await ok([
            "imr", "request-eligibility-info", "I-3", "--on", Self.day(-8), "--what", "the UR decision letter",
            "--from", "claims-administrator",
        ])
        #expect(try await item("I-3")["eligibilityInformationRequestedOn"] as? String == Self.day(-8))
        try await ok(["imr", "send-eligibility-info", "I-3", "--on", Self.day(-6)])
        try await ok([
            "imr", "ineligible", "I-3", "--on", Self.day(-4), "--reason", "late", "--detail", "filed after 35 days",
        ])
        let i3 = try await item("I-3")
        #expect(i3["status"] as? String == "imrIneligible" && i3["ineligibilityReason"] as? String == "late")
        #expect(i3["writtenDecisionServiceMethod"] as? String == "mail")

        try await ok(["case", "withdraw", "I-2", "--on", Self.day(0), "--reason", "claim settled"])
        let withdrawn = try #require(
            try Self.json(try await Self.ctl(["cases", "--closed", "--json"], socket: s).out) as? [[String: Any]]
        )
        #expect(withdrawn.map { $0["caseId"] as? String } == ["I-2"])
        #expect(withdrawn.first?["stage"] as? String == "withdrawn")
        // A choice outside the vocabulary is a usage error naming the valid values, before any call.
        let wrong = try await Self.ctl(["imr", "ineligible", "I-1", "--reason", "bored"], socket: s)
        #expect(
            wrong.status == 64
                && wrong.err.contains("late, no-ur-denial, untimely-ur, duplicate, already-decided, other"),
            "\(wrong.err)"
        )
    }

    @Test func colourOnlyOnATerminal_andNeverWithNO_COLOR() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        let open = try await Self.ctl(
            [
                "case", "open", "K-1", "--claim", "A", "--employer", "E", "--administrator", "T", "--worker", "A.B.",
                "--injured", Self.day(-100), "--coordinator", "li",
            ],
            socket: daemon.socketPath
        )
        #expect(open.status == 0, "\(open.err)")
        // script(1) gives imr-ctl a pseudo-terminal as its standard output.
        let command = "\(Self.imrCtl) cases --socket \(daemon.socketPath)"
        let onTerminal = try await offThePool {
            try run(["script", "-qec", command, "/dev/null"], environment: ["NO_COLOR": ""])
        }
        #expect(onTerminal.status == 0, "\(onTerminal.output)")
        #expect(onTerminal.output.contains("\u{1B}[1mCASE"), "the header is bold on a terminal: \(onTerminal.output)")
        let noColour = try await offThePool {
            try run(["script", "-qec", command, "/dev/null"], environment: ["NO_COLOR": "1"])
        }
        #expect(noColour.output.contains("CASE") && !noColour.output.contains("\u{1B}["), "\(noColour.output)")
    }

    /// Stored text reaches a terminal escaped: a note's newline and tab (the control
    /// characters a note may hold) cannot forge a line of the output.
    @Test func storedTextIsEscapedOnTheTerminal() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        let open = try await Self.ctl(
            [
                "case", "open", "E-1", "--claim", "A", "--employer", "E", "--administrator", "T", "--worker", "A.B.",
                "--injured", Self.day(-100), "--coordinator", "li",
            ],
            socket: daemon.socketPath
        )
        #expect(open.status == 0, "\(open.err)")
        let note = try await Self.ctl(
            ["case", "note", "E-1", "first line\nDeadline FAKE due tomorrow\tx"],
            socket: daemon.socketPath
        )
        #expect(note.status == 0, "\(note.err)")
        let show = try await Self.ctl(["show", "E-1"], socket: daemon.socketPath)
        #expect(show.out.contains("first line\\nDeadline FAKE due tomorrow\\tx"), "\(show.out)")
        #expect(!show.out.split(separator: "\n").contains { $0.hasPrefix("Deadline FAKE") })
        // The JSON keeps the text exactly.
        let json = try await Self.ctl(["show", "E-1", "--json"], socket: daemon.socketPath)
        #expect(json.out.contains(#"first line\nDeadline FAKE due tomorrow\tx"#), "\(json.out)")
    }

    @Test func exitStatusesAreTheDocumentedOnes() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        let s = daemon.socketPath
        let open = try await Self.ctl(
            [
                "case", "open", "C-1", "--claim", "A", "--employer", "E", "--administrator", "T", "--worker", "A.B.",
                "--injured", Self.day(-100), "--coordinator", "maria", "--command-id",
                "6f1c1a53-2a1b-4c43-9d43-1d1e1f1a1b1c",
            ],
            socket: s
        )
        #expect(open.status == 0, "\(open.err)")
        // The same command id again: nothing new, and it says so.
        let again = try await Self.ctl(
            [
                "case", "open", "C-1", "--claim", "A", "--employer", "E", "--administrator", "T", "--worker", "A.B.",
                "--injured", Self.day(-100), "--coordinator", "maria", "--command-id",
                "6f1c1a53-2a1b-4c43-9d43-1d1e1f1a1b1c", "--json",
            ],
            socket: s
        )
        #expect(again.status == 0)
        #expect((try Self.json(again.out) as? [String: Any])?["alreadyRecorded"] as? Bool == true)

        // Refused by the lifecycle: 1, with the reason.
        let refused = try await Self.ctl(
            ["ur", "decide", "C-1", "--item", "1=denied", "--at", "\(Self.day(-1))T10:00"],
            socket: s
        )
        #expect(refused.status == 1)
        #expect(refused.err.hasPrefix("imr-ctl: refused: "), "\(refused.err)")
        // ... and the command that shows or records what it lacks.
        #expect(refused.err.contains("; imr-ctl show C-1 lists its RFAs and items"), "\(refused.err)")
        // Not found: 66.
        let missing = try await Self.ctl(["show", "nope"], socket: s)
        #expect(missing.status == 66)
        #expect(missing.err.contains("there is no case 'nope'"))
        // Case ids in any letter case; an unknown one suggests the nearest; a search by prefix.
        let lower = try await Self.ctl(["show", "c-1", "--json"], socket: s)
        #expect(lower.status == 0 && lower.out.contains("\"caseId\" : \"C-1\""), "\(lower.err)")
        let near = try await Self.ctl(["show", "C-11"], socket: s)
        #expect(near.status == 66 && near.err.contains("did you mean 'C-1'?"), "\(near.err)")
        let found = try await Self.ctl(["cases", "--search", "c-", "--json"], socket: s)
        #expect(
            (try Self.json(found.out) as? [[String: Any]])?.compactMap { $0["caseId"] as? String } == ["C-1"],
            "\(found.err)"
        )
        #expect(try await Self.ctl(["cases", "--search", "c-", "--mine"], socket: s).status == 64)
        // An unknown case is 66 on the board too, not an empty list.
        let missingBoard = try await Self.ctl(["deadlines", "--case", "nope"], socket: s)
        #expect(
            missingBoard.status == 66 && missingBoard.err.contains("there is no case 'nope'"),
            "\(missingBoard.err)"
        )
        // Usage: 64, before any call.
        let usage = try await Self.ctl(["ur", "decide", "C-1", "--item", "1=maybe"], socket: s)
        #expect(usage.status == 64)
        #expect(usage.err.contains("'maybe' is not one of: approved, modified, denied"), "\(usage.err)")
        let badDate = try await Self.ctl(["case", "close", "C-1", "--on", "2024-02-30", "--reason", "x"], socket: s)
        #expect(badDate.status == 64)
        #expect(badDate.err.contains("--on '2024-02-30' is not a date"))
        // A value the daemon cannot accept: 65.
        let bad = try await Self.ctl(
            ["imr", "records", "C-1", "--imr-case", "not a case number", "--received", Self.day(0)],
            socket: s
        )
        #expect(bad.status == 65, "\(bad.err)")
        #expect(bad.err.contains("imrCaseNumber: 'not a case number' is not an IMR case number"))
        // Out-of-range values are usage errors, before any call.
        let far = try await Self.ctl(["deadlines", "--within", "9999999999999w"], socket: s)
        #expect(far.status == 64 && far.err.contains("--within"), "\(far.err)")
        let forever = try await Self.ctl(["snooze", "abc", "--until", "infh"], socket: s)
        #expect(forever.status == 64 && forever.err.contains("--until"), "\(forever.err)")
        // A client that asks the daemon directly gets a sentence, and the daemon keeps running.
        let direct = try await Self.ctl(["call", "io.imr.Deadlines.List", #"{"withinDays": 200000000}"#], socket: s)
        #expect(direct.status == 1 && direct.err.contains("withinDays"), "\(direct.err)")
        #expect(try await Self.ctl(["status"], socket: s).status == 0)
        // No daemon: 69, naming the socket and what to do.
        let absent = try await Self.ctl(["cases"], socket: daemon.directory.appendingPathComponent("none.sock").path)
        #expect(absent.status == 69)
        #expect(absent.err.contains("no imr daemon answers at") && absent.err.contains("--socket"))
        // $IMR_SOCKET is used when --socket is not given.
        let viaEnvironment = try await Self.ctl(["cases", "--json"], socket: nil, environment: ["IMR_SOCKET": s])
        #expect(viaEnvironment.status == 0, "\(viaEnvironment.err)")
        // Permission denied: 77, for a user the socket's permissions keep out.
        let stranger = try await Self.ctl(
            ["cases"],
            socket: s,
            launcher: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        )
        #expect(stranger.status == 77, "\(stranger.err)")
        #expect(stranger.err.contains("permission denied"))
        // imr-ctl --version is the daemon's version.
        let version = try await Self.ctl(["--version"], socket: nil)
        let info =
            try Self.json(try await Self.ctl(["call", "org.varlink.service.GetInfo", "{}"], socket: s).out)
            as? [String: Any]
        #expect(
            version.status == 0
                && version.out.trimmingCharacters(in: .whitespacesAndNewlines) == info?["version"] as? String,
            "\(version.out)"
        )
        // Nothing above changed the log beyond the one case.
        #expect(try await offThePool { try daemon.client().call("io.imr.Admin.Status")["headPosition"] } == 1)
        // The day words of the README: received today (time of day unknown).
        let today = try await Self.ctl(
            ["rfa", "receive", "C-1", "--rfa", "T", "--item", "PT", "--received", "today", "--via", "mail"],
            socket: s
        )
        #expect(today.status == 0, "\(today.err)")
        #expect(
            today.out.contains("recorded RFA received (received at \(Self.day(0)) (today, time of day unknown))"),
            "\(today.out)"
        )
        let received = try #require(
            try Self.json(try await Self.ctl(["show", "C-1", "--json"], socket: s).out) as? [String: Any]
        )
        let rfas = (received["rfas"] as? [[String: Any]]) ?? []
        #expect(
            rfas.contains {
                $0["rfaId"] as? String == "T" && ($0["receivedAt"] as? String)?.hasPrefix(Self.day(0)) == true
            },
            "\(rfas)"
        )
        // An RFA entered a month late: its UR clock had passed, so it is history, off the board,
        // shown only when asked for, with why.
        _ = try await Self.ctl(
            [
                "rfa", "receive", "C-1", "--rfa", "OLD", "--item", "X-ray", "--received", "\(Self.day(-30))T09:00",
                "--via", "fax",
            ],
            socket: s
        )
        let board = try #require(
            try Self.json(try await Self.ctl(["deadlines", "--case", "C-1", "--json"], socket: s).out)
                as? [[String: Any]]
        )
        #expect(!board.contains { ($0["id"] as? String)?.hasSuffix("/OLD") == true }, "\(board)")
        let withHistory = try await Self.ctl(["deadlines", "--case", "C-1", "--include-history"], socket: s)
        #expect(
            withHistory.status == 0 && withHistory.out.contains("history")
                && withHistory.out.contains("after it had passed"),
            "\(withHistory.out)"
        )
        // The whole board with history: the old miss among the running deadlines, in due order;
        // --overdue with history lists it, --pending does not.
        let boardWithHistory = try await Self.ctl(["deadlines", "--include-history"], socket: s)
        #expect(boardWithHistory.status == 0 && boardWithHistory.out.contains("history"), "\(boardWithHistory.err)")
        let rows = try #require(
            try Self.json(try await Self.ctl(["deadlines", "--include-history", "--json"], socket: s).out)
                as? [[String: Any]]
        )
        let old = rows.filter { ($0["id"] as? String)?.contains("/OLD") == true }
        #expect(
            !old.isEmpty
                && old.allSatisfy {
                    $0["status"] as? String == "missed"
                        && ($0["history"] as? String)?.contains("after it had passed") == true
                },
            "\(rows)"
        )
        #expect(rows.count > old.count, "the running deadlines are still there")
        let dues = rows.compactMap { $0["due"] as? String }
        #expect(dues == dues.sorted(), "\(dues)")
        let paged = try await Self.ctl(
            ["deadlines", "--include-history", "--limit", "1", "--all", "--json"],
            socket: s
        )
        #expect(
            (try Self.json(paged.out) as? [[String: Any]])?.compactMap { $0["id"] as? String }
                == rows.compactMap { $0["id"] as? String },
            "\(paged.out)"
        )
        let overdueHistory = try #require(
            try Self.json(try await Self.ctl(["deadlines", "--include-history", "--overdue", "--json"], socket: s).out)
                as? [[String: Any]]
        )
        #expect(overdueHistory.contains { ($0["id"] as? String)?.contains("/OLD") == true })
        let pendingHistory = try #require(
            try Self.json(try await Self.ctl(["deadlines", "--include-history", "--pending", "--json"], socket: s).out)
                as? [[String: Any]]
        )
        #expect(!pendingHistory.contains { ($0["id"] as? String)?.contains("/OLD") == true })
        // cases: the miss never is the case's next deadline; asked, each case says how many it keeps.
        let plain = try #require(
            try Self.json(try await Self.ctl(["cases", "--json"], socket: s).out) as? [[String: Any]]
        )
        #expect(plain.allSatisfy { $0["missedInHistory"] == nil }, "\(plain)")
        let counted = try #require(
            try Self.json(try await Self.ctl(["cases", "--include-history", "--json"], socket: s).out)
                as? [[String: Any]]
        )
        let c1 = try #require(counted.first { $0["caseId"] as? String == "C-1" })
        #expect(c1["missedInHistory"] as? Int == old.count, "\(c1)")
        #expect(old.compactMap { $0["due"] as? String }.contains(c1["lastMissedDue"] as? String ?? "none"), "\(c1)")
        #expect((c1["nextDue"] as? String).map { $0 >= Self.day(0) } ?? true, "\(c1)")
        let table = try await Self.ctl(["cases", "--include-history"], socket: s)
        #expect(table.out.contains("HISTORY") && table.out.contains("\(old.count) missed, last "), "\(table.out)")
    }

    @Test func exportsParseAsICalendarAndCSV_withStableUIDs_andStatsAndAdminCommandsAnswer() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        let s = daemon.socketPath
        for (id, decision) in [("A-1", "overturned"), ("A-2", "upheld")] {
            for arguments in [
                [
                    "case", "open", id, "--claim", "ADJ-\(id)", "--employer", "Acme, Inc.", "--administrator", "T",
                    "--worker", "A.B.", "--injured", Self.day(-300), "--coordinator", "maria",
                ],
                ["rfa", "receive", id, "--item", "Knee MRI", "--received", "\(Self.day(-60))T09:00", "--via", "fax"],
                ["ur", "decide", id, "--item", "1=denied", "--at", "\(Self.day(-58))T09:00"],
                ["ur", "notify", id, "--at", "\(Self.day(-58))T10:00", "--via", "fax"],
                ["ur", "serve", id, "--on", Self.day(-57)],
                ["imr", "apply", id, "--received", Self.day(-40)],
                ["imr", "eligible", id, "--on", Self.day(-30)],
                ["imr", "assign", id, "--imr-case", "CM26-000\(id.suffix(1))000", "--assigned", Self.day(-30)],
                ["imr", "records", id, "--imr-case", "CM26-000\(id.suffix(1))000", "--received", Self.day(-24)],
                [
                    "imr", "determine", id, "--imr-case", "CM26-000\(id.suffix(1))000", "--decided", Self.day(-2),
                    "--item", "1=\(decision)",
                ],
            ] {
                let r = try await Self.ctl(arguments, socket: s)
                #expect(r.status == 0, "\(arguments): \(r.err)")
            }
        }
        // A third case waits for UR: its 5-business-day clock runs.
        _ = try await Self.ctl(
            [
                "case", "open", "A-3", "--claim", "X", "--employer", "E", "--administrator", "T", "--worker", "C.D.",
                "--injured", Self.day(-30), "--coordinator", "li",
            ],
            socket: s
        )
        _ = try await Self.ctl(
            ["rfa", "receive", "A-3", "--item", "PT", "--received", Self.day(0), "--via", "mail"],
            socket: s
        )

        let board = try #require(
            try Self.json(try await Self.ctl(["deadlines", "--json"], socket: s).out) as? [[String: Any]]
        )
        let dir = daemon.directory
        let ics1 = dir.appendingPathComponent("one.ics").path
        let ics2 = dir.appendingPathComponent("two.ics").path
        #expect(try await Self.ctl(["export", "ics", "-o", ics1], socket: s).status == 0)
        #expect(try await Self.ctl(["export", "ics", "-o", ics2], socket: s).status == 0)
        // Python's icalendar reads it: one VEVENT per running deadline, UIDs the deadline ids, alarms before the due time.
        let script = """
            import icalendar, json, sys
            out = []
            for path in sys.argv[1:]:
                cal = icalendar.Calendar.from_ical(open(path, 'rb').read())
                events = [c for c in cal.walk('VEVENT')]
                out.append([{"uid": str(e['UID']), "summary": str(e['SUMMARY']), "alarms": len(e.walk('VALARM')),
                             "triggers": sorted(int(a.decoded('TRIGGER').timestamp()) for a in e.walk('VALARM')),
                             "start": str(e.decoded('DTSTART'))} for e in events])
            print(json.dumps(out))
            """
        let parsed = try await offThePool { try run(["python3", "-c", script, ics1, ics2]) }
        #expect(parsed.status == 0, "\(parsed.output)")
        let calendars = try #require(try Self.json(parsed.output) as? [[[String: Any]]])
        #expect(calendars.count == 2)
        let uids = calendars[0].compactMap { $0["uid"] as? String }
        #expect(Set(uids) == Set(board.compactMap { ($0["id"] as? String).map { $0 + "@imr" } }))
        #expect(uids == calendars[1].compactMap { $0["uid"] as? String }, "a second export keeps the UIDs")
        #expect(calendars[0].contains { ($0["alarms"] as? Int ?? 0) > 0 })
        // The alarms are the daemon's alert times (its policy), those before the due time.
        let withAlerts = try await Self.ctl(["call", "io.imr.Deadlines.List", #"{"withAlerts": true}"#], socket: s)
        let scheduled = try #require(
            (try Self.json(withAlerts.out) as? [String: Any])?["deadlines"] as? [[String: Any]]
        )
        let iso = ISO8601DateFormatter()
        for deadline in scheduled {
            let due = try #require(iso.date(from: deadline["due"] as? String ?? ""))
            let expected = (deadline["alerts"] as? [[String: Any]] ?? []).compactMap {
                iso.date(from: $0["at"] as? String ?? "")
            }
            .filter { $0 < due }.map { Int($0.timeIntervalSince1970) }.sorted()
            let event = calendars[0].first { $0["uid"] as? String == "\(deadline["id"] as? String ?? "")@imr" }
            #expect(event?["triggers"] as? [Int] == expected, "\(deadline["id"] ?? "")")
        }
        #expect(scheduled.contains { ($0["alerts"] as? [Any])?.isEmpty == false })
        let ics = try String(contentsOfFile: ics1, encoding: .utf8)
        #expect(ics.contains("\r\n") && ics.split(separator: "\r\n").allSatisfy { $0.utf8.count <= 75 })

        // CSV: one header and one row per running deadline, the comma in the employer quoted.
        let csvPath = dir.appendingPathComponent("cases.csv").path
        #expect(try await Self.ctl(["export", "csv", "--cases", "-o", csvPath], socket: s).status == 0)
        let rows = try await offThePool {
            try run([
                "python3", "-c",
                "import csv,sys,json; print(json.dumps(list(csv.reader(open(sys.argv[1], newline='')))))", csvPath,
            ])
        }
        let table = try #require(try Self.json(rows.output) as? [[String]])
        #expect(table.count == 4)
        #expect(table[0].first == "case_id")
        #expect(table.dropFirst().contains { $0.contains("Acme, Inc.") })
        let deadlineCSV = try await Self.ctl(["export", "csv"], socket: s)
        #expect(deadlineCSV.out.split(separator: "\r\n").count == board.count + 1)

        // Statistics: one overturned and one upheld item, so an overturn rate of one half.
        let stats = try #require(
            try Self.json(try await Self.ctl(["stats", "--json"], socket: s).out) as? [String: Any]
        )
        #expect(stats["openCases"] as? Int == 3)
        #expect(stats["upheld"] as? Int == 1 && stats["overturned"] as? Int == 1)
        #expect(stats["overturnRate"] as? Double == 0.5)
        #expect(stats["medianDaysApplicationToAssignment"] as? Double == 10)
        #expect(stats["medianDaysAssignmentToDetermination"] as? Double == 28)
        #expect(
            (stats["openByStage"] as? [[String: Any]])?.contains {
                $0["stage"] as? String == "rfaReceived" && $0["cases"] as? Int == 1
            } == true
        )
        // "Due in the next 7 days" is the board's week (not yet past due) without the optional
        // windows to ask for more information, and the line says so (the count itself against
        // the engine: SettledOutcomeTests).
        let week = try #require(
            try Self.json(
                try await Self.ctl(["deadlines", "--within", "7", "--pending", "--all", "--json"], socket: s).out
            ) as? [[String: Any]]
        )
        #expect(stats["dueWithin7Days"] as? Int == week.filter { $0["rule"] as? String != "ur.info-request" }.count)
        let statsText = try await Self.ctl(["stats"], socket: s).out
        #expect(statsText.contains("overturn rate 50.0%"))
        #expect(
            statsText.contains("deadlines due in the next 7 days (windows to ask for more information not counted)")
        )

        // Administration.
        let status = try #require(
            try Self.json(try await Self.ctl(["status", "--json"], socket: s).out) as? [String: Any]
        )
        #expect(status["openCases"] as? Int == 3)
        let words = try await Self.ctl(["status"], socket: s).out
        #expect(words.contains("  store          ") && words.contains("pages written ("), "\(words)")
        // The backdated facts' alerts came days after their time, so they are marked late; but
        // the daemon raised each as soon as its facts were recorded: late by recording, and the
        // daemon's own lag (what an operator watches) stays under a minute.
        let service = try #require((status["figures"] as? [String: Any])?["service"] as? [String: Any])
        let lag = try #require(service["largestAlertLagSeconds"] as? Double)
        let late = try #require(service["alertsRaisedLate"] as? Int)
        #expect(late > 0 && service["alertsRaisedLateByRecording"] as? Int == late)
        #expect(lag < 60)
        #expect(words.contains("(\(late) late: 0 by the daemon, \(late) recorded after their time)"), "\(words)")
        #expect(words.contains("largest lag \(String(format: "%.0f", lag)) s"), "\(words)")
        let verify = try await Self.ctl(["verify"], socket: s)
        #expect(verify.status == 0 && verify.out.contains("the log is intact"), "\(verify.err)")
        // Backups: by file name into <state-dir>/backups, never elsewhere, never twice without --force.
        let backupPath = daemon.stateDirectory + "/backups/backup.sqlite"
        let backup = try await Self.ctl(["backup", "backup.sqlite"], socket: s)
        #expect(backup.status == 0, "\(backup.err)")
        #expect(backup.out.contains(backupPath))
        #expect(FileManager.default.fileExists(atPath: backupPath))
        let again = try await Self.ctl(["backup", "backup.sqlite"], socket: s)
        #expect(again.status == 73 && again.err.contains("--force"), "\(again.err)")
        #expect(try await Self.ctl(["backup", "backup.sqlite", "--force"], socket: s).status == 0)
        // A backup directory that cannot be made (a file stands where it should be) is the
        // caller's to fix: 73 with the reason, and the next backup, once it is gone, works.
        try FileManager.default.removeItem(atPath: daemon.stateDirectory + "/backups")
        try "x".write(toFile: daemon.stateDirectory + "/backups", atomically: true, encoding: .utf8)
        let blocked = try await Self.ctl(["backup", "b2.sqlite"], socket: s)
        #expect(blocked.status == 73 && blocked.err.contains("not a directory"), "\(blocked.err)")
        try FileManager.default.removeItem(atPath: daemon.stateDirectory + "/backups")
        #expect(try await Self.ctl(["backup", "b2.sqlite"], socket: s).status == 0)
        let path = try await Self.ctl(["backup", dir.appendingPathComponent("elsewhere.sqlite").path], socket: s)
        #expect(path.status == 64 && path.err.contains("file name"), "\(path.err)")
        // The daemon's own files, by a name that reaches them through the raw call: refused, log intact.
        let own = try await Self.ctl(
            ["call", "io.imr.Admin.Backup", #"{"name": "../imr.sqlite", "force": true}"#],
            socket: s
        )
        #expect(own.status == 1 && own.err.contains("io.imr.Admin.BackupRefused"), "\(own.err)")
        #expect(try await Self.ctl(["verify"], socket: s).status == 0)
        let rebuild = try await Self.ctl(["rebuild"], socket: s)
        #expect(rebuild.status == 0 && rebuild.out.contains("deadlines"), "\(rebuild.err)")
        // With where its time went, as the daemon measured it.
        #expect(rebuild.out.contains("; start ") && rebuild.out.contains(" s, the pass "), "\(rebuild.out)")
        let unknown = try await Self.ctl(["rebuild", "nope"], socket: s)
        #expect(unknown.status == 66, "\(unknown.err)")
        // The deadlines bring the case list with them (a case's next deadline is read from them);
        // another read model is rebuilt alone.
        let deadlines = try await Self.ctl(["rebuild", "deadlines", "--json"], socket: s)
        let rebuiltWith = (try Self.json(deadlines.out) as? [String: Any])?["rebuilt"] as? [String]
        #expect(rebuiltWith == ["deadlines", "case_list"], "\(deadlines.out) \(deadlines.err)")
        // The phases add up to the rebuild's time (each to the millisecond, the time to a tenth).
        let progress = (try Self.json(deadlines.out) as? [String: Any])?["progress"] as? [String: Any]
        let phases = (progress?["phases"] as? [String: Any]) ?? [:]
        let parts = ["start", "pass", "indexes", "catchUp"].compactMap { phases[$0] as? Double }
        #expect(parts.count == 4 && parts.allSatisfy { $0 >= 0 }, "\(deadlines.out)")
        #expect(abs(parts.reduce(0, +) - ((progress?["seconds"] as? Double) ?? -1)) < 0.06, "\(deadlines.out)")
        let items = try await Self.ctl(["rebuild", "case_items", "--json"], socket: s)
        #expect((try Self.json(items.out) as? [String: Any])?["rebuilt"] as? [String] == ["case_items"], "\(items.out)")
        // The read models rebuilt from the log give the same board.
        let rebuilt = try #require(
            try Self.json(try await Self.ctl(["deadlines", "--json"], socket: s).out) as? [[String: Any]]
        )
        #expect(rebuilt.compactMap { $0["id"] as? String } == board.compactMap { $0["id"] as? String })
    }

    @Test func theDemoStartsADaemonWithASyntheticCaseload_andStops() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-demo-test-\(UUID().uuidString.prefix(8))"
        )
        defer {
            if let pid = try? String(contentsOf: dir.appendingPathComponent("daemon.pid"), encoding: .utf8),
                let n = pid_t(pid.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                kill(n, SIGKILL)
            }
            try? FileManager.default.removeItem(at: dir)
        }
        let demo = try await Self.ctl(["demo", "--dir", dir.path, "--cases", "40", "--seed", "7"], socket: nil)
        #expect(demo.status == 0, "\(demo.err)")
        #expect(demo.out.contains("recording 40 synthetic cases"))
        #expect(demo.out.contains("Deadlines falling due in the next 7 days"))
        #expect(demo.out.contains("Your open alerts"))
        #expect(demo.out.contains("Statistics (imr-ctl stats)"))
        #expect(demo.out.contains("export IMR_SOCKET=\(dir.path)/imr.sock"))
        // imr-ctl is not on PATH here: the demo says how to reach the one that ran.
        #expect(demo.out.contains("alias imr-ctl=\(URL(fileURLWithPath: Self.imrCtl).resolvingSymlinksInPath().path)"))
        #expect(demo.out.contains("imr-ctl demo --stop"))
        let socket = dir.appendingPathComponent("imr.sock").path
        let cases = try #require(
            try Self.json(try await Self.ctl(["cases", "--include-closed", "--all", "--json"], socket: socket).out)
                as? [[String: Any]]
        )
        #expect(cases.count == 40)

        // A page at a time: 7 rows, then a line saying how many more and how to see them; the
        // pages, followed by their cursors, are the whole list in the order --all gives it.
        var paged: [String] = []
        var after: [String] = []
        var pages = 0
        while true {
            let page = try await Self.ctl(["cases", "--include-closed", "--limit", "7"] + after, socket: socket)
            #expect(page.status == 0, "\(page.err)")
            let lines = page.out.split(separator: "\n").map(String.init)
            let footer = lines.last { $0.contains("more case") }
            paged += lines.dropFirst().filter { !$0.contains("more case") }.map { String($0.split(separator: " ")[0]) }
            pages += 1
            guard let footer else { break }
            #expect(
                footer.hasPrefix("\(40 - paged.count) more cases: add --all to see them all; the next page: --after "),
                "\(footer)"
            )
            after = ["--after", String(footer.split(separator: " ").last!)]
            if pages > 10 { break }
        }
        #expect(pages == 6)
        #expect(paged == cases.map { $0["caseId"] as? String ?? "" })
        // With --json the page is the array and the line goes to stderr.
        let jsonPage = try await Self.ctl(["cases", "--include-closed", "--limit", "5", "--json"], socket: socket)
        #expect((try Self.json(jsonPage.out) as? [[String: Any]])?.count == 5)
        #expect(jsonPage.err.contains("35 more cases"))
        let tooBig = try await Self.ctl(["cases", "--limit", "5000"], socket: socket)
        #expect(tooBig.status == 64 && tooBig.err.contains("--limit takes 1 to 1000"), "\(tooBig)")
        let forged = try await Self.ctl(["cases", "--after", "not-a-cursor"], socket: socket)
        #expect(forged.status == 65 && forged.err.contains("not a cursor"), "\(forged)")
        // The board the same way: --all streams every page; a page's line counts the rest.
        let board = try #require(
            try Self.json(try await Self.ctl(["deadlines", "--all", "--json"], socket: socket).out) as? [[String: Any]]
        )
        #expect(board.count > 5)
        let firstBoardPage = try await Self.ctl(["deadlines", "--limit", "5"], socket: socket)
        #expect(
            firstBoardPage.out.contains(
                "\(board.count - 5) more deadlines: add --all to see them all; the next page: --after d1."
            ),
            "\(firstBoardPage.out)"
        )
        let boardCursor = String(firstBoardPage.out.split(separator: "\n").last!.split(separator: " ").last!)
        let secondBoardPage = try #require(
            try Self.json(
                try await Self.ctl(["deadlines", "--limit", "5", "--after", boardCursor, "--json"], socket: socket).out
            ) as? [[String: Any]]
        )
        #expect(secondBoardPage.compactMap { $0["id"] as? String } == board[5..<10].compactMap { $0["id"] as? String })
        // Cases at many stages, and deadlines falling due in the coming week.
        #expect(Set(cases.compactMap { $0["stage"] as? String }).count >= 6)
        let week = try #require(
            try Self.json(
                try await Self.ctl(["deadlines", "--within", "7d", "--pending", "--json"], socket: socket).out
            ) as? [[String: Any]]
        )
        #expect(!week.isEmpty)
        // The daemon's scheduler raised the alerts the caseload's deadlines owe, each for a running deadline.
        let alerts = try #require(
            try Self.json(try await Self.ctl(["alerts", "--all", "--json"], socket: socket).out) as? [[String: Any]]
        )
        #expect(!alerts.isEmpty)
        let running = Set(
            try #require(
                try Self.json(try await Self.ctl(["deadlines", "--json"], socket: socket).out) as? [[String: Any]]
            ).compactMap { $0["id"] as? String }
        )
        #expect(alerts.allSatisfy { running.contains($0["deadlineId"] as? String ?? "") })
        // The same seed gives the same caseload.
        let first = cases.map { "\($0["caseId"]!) \($0["stage"]!) \($0["dateOfInjury"]!)" }.sorted()
        let again = try await Self.ctl(["demo", "--dir", dir.path, "--cases", "40", "--seed", "7"], socket: nil)
        #expect(again.status == 0, "\(again.err)")
        #expect(again.out.contains("stopped the demo daemon"))
        let second = try #require(
            try Self.json(try await Self.ctl(["cases", "--include-closed", "--all", "--json"], socket: socket).out)
                as? [[String: Any]]
        )
        #expect(second.map { "\($0["caseId"]!) \($0["stage"]!) \($0["dateOfInjury"]!)" }.sorted() == first)

        let stop = try await Self.ctl(["demo", "--stop", "--dir", dir.path], socket: nil)
        #expect(stop.status == 0)
        #expect(!FileManager.default.fileExists(atPath: dir.path))
        #expect(try await Self.ctl(["cases"], socket: socket).status == 69)

        // A directory that is not a demo's is never touched.
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try "keep".write(to: dir.appendingPathComponent("precious.txt"), atomically: true, encoding: .utf8)
        let refused = try await Self.ctl(["demo", "--dir", dir.path], socket: nil)
        #expect(refused.status == 64)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("precious.txt").path))
    }

    @Test func makeInstallDocsWritesTheManPageAndCompletionsFromTheCommandDefinitions() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let destination = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-docs-\(UUID().uuidString.prefix(8))"
        )
        defer { try? FileManager.default.removeItem(at: destination) }
        let make = try await offThePool {
            try run([
                "make", "-s", "-C", root.path, "install-docs", "DESTDIR=\(destination.path)",
                "BIN=\(productsDirectory.path)",
            ])
        }
        #expect(make.status == 0, "\(make.output)")
        let share = destination.appendingPathComponent("usr/local/share")
        let man = try String(contentsOf: share.appendingPathComponent("man/man1/imr-ctl.1"), encoding: .utf8)
        #expect(man.hasPrefix(".TH IMR-CTL 1"))
        for command in ["imr-ctl ur decide", "imr-ctl export ics", "imr-ctl deadlines", "imr-ctl demo"] {
            #expect(man.contains(".SH \"\(command)\""), "\(command) missing from the man page")
        }
        #expect(man.contains("--imr-case"))
        let bash = share.appendingPathComponent("bash-completion/completions/imr-ctl").path
        #expect(try await offThePool { try run(["bash", "-n", bash]) }.status == 0)
        #expect(try String(contentsOfFile: bash, encoding: .utf8).contains("deadlines"))
        #expect(
            FileManager.default.fileExists(atPath: share.appendingPathComponent("zsh/site-functions/_imr-ctl").path)
        )
        #expect(
            try String(
                contentsOf: share.appendingPathComponent("fish/vendor_completions.d/imr-ctl.fish"),
                encoding: .utf8
            ).contains("imr-ctl")
        )
    }
}
