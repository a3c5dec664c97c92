import ChildProcess
import Foundation
import TestSupport
import Testing
import Varlink

#if canImport(Glibc)
import Glibc
#endif

/// Issue 13: `imr-ctl export` writes each page as the daemon streams it, never the whole
/// caseload in memory, and `-o` stays all or nothing. The real binaries on a seeded store.
@Suite(.serialized) struct ExportTests {
    static let bench = productsDirectory.appendingPathComponent("imr-bench").path
    static let imrCtl = productsDirectory.appendingPathComponent("imr-ctl").path

    /// A daemon on a store of `cases` synthetic cases at every stage (`imr-bench seed`), with
    /// `config` as its configuration file when given.
    static func seededDaemon(cases: Int, config: String? = nil) async throws -> DaemonProcess {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-export-\(UUID().uuidString.prefix(8))"
        )
        let state = dir.appendingPathComponent("state").path
        let seeded = try await offThePool {
            try run([bench, "seed", "--cases", String(cases), "--coordinators", "3", "--dir", state])
        }
        #expect(seeded.status == 0, "\(seeded.output)")
        var arguments: [String] = []
        if let config {
            let path = dir.appendingPathComponent("imr-daemon.toml")
            try config.write(to: path, atomically: true, encoding: .utf8)
            arguments = ["--config", path.path]
        }
        let daemon = try DaemonProcess(directory: dir, arguments: arguments)
        _ = try #require(await offThePool { daemon.waitUntilReady() }, "no READY=1 from the daemon on the seeded store")
        return daemon
    }

    /// Every row of a list the daemon streams, as its objects.
    static func rows(_ daemon: DaemonProcess, _ method: String, _ key: String) async throws -> [[String: JSONValue]] {
        try await offThePool {
            var all: [[String: JSONValue]] = []
            try daemon.client().stream(method, ["limit": 1000]) { page in
                if case .array(let rows)? = page[key] { all += rows.compactMap(\.objectValue) }
                return true
            }
            return all
        }
    }

    /// RFC 4180 rows, as Python's csv module reads them.
    static func csvRows(_ text: String) async throws -> [[String]] {
        let parsed = try await offThePool {
            try run([
                "python3", "-c",
                "import csv,io,sys,json; print(json.dumps(list(csv.reader(io.StringIO(sys.argv[1], newline='')))))",
                text,
            ])
        }
        #expect(parsed.status == 0, "\(parsed.output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(parsed.output.utf8)) as? [[String]])
    }

    /// A calendar with its DTSTAMP lines (the instant of the export) set aside.
    static func withoutStamps(_ ics: String) -> String {
        ics.components(separatedBy: "\r\n").filter { !$0.hasPrefix("DTSTAMP:") }.joined(separator: "\r\n")
    }

    @Test func anExportOverManyPagesIsTheOnePageDocument_everyRowOnceInOrder_withItsCasesClaimAndStage()
        async throws
    {
        let daemon = try await Self.seededDaemon(cases: 60)
        defer { daemon.cleanup() }
        let s = daemon.socketPath
        let board = try await Self.rows(daemon, "io.imr.Deadlines.List", "deadlines")
        let cases = try await Self.rows(daemon, "io.imr.Cases.List", "cases")
        #expect(cases.count == 60)
        // Enough rows for pages of 7 to be many pages.
        #expect(board.count > 40, "\(board.count) running deadlines")

        for export in [["export", "csv"], ["export", "csv", "--cases"], ["export", "ics"]] {
            let whole = try await ControlCommandTests.ctl(export + ["--page-size", "1000"], socket: s)
            #expect(whole.status == 0, "\(export): \(whole.err)")
            for size in ["7", "1"] {
                let paged = try await ControlCommandTests.ctl(export + ["--page-size", size], socket: s)
                #expect(paged.status == 0, "\(export) --page-size \(size): \(paged.err)")
                if export.last == "ics" {
                    #expect(Self.withoutStamps(paged.out) == Self.withoutStamps(whole.out), "\(export) \(size)")
                } else {
                    #expect(paged.out == whole.out, "\(export) --page-size \(size)")
                }
            }
            // -o writes the same document.
            let file = daemon.directory.appendingPathComponent("export-\(export.count)").path
            let written = try await ControlCommandTests.ctl(export + ["--page-size", "7", "-o", file], socket: s)
            #expect(written.status == 0 && written.out.isEmpty, "\(export): \(written.err)")
            let text = try String(contentsOfFile: file, encoding: .utf8)
            #expect(
                export.last == "ics" ? Self.withoutStamps(text) == Self.withoutStamps(whole.out) : text == whole.out
            )
        }

        // The deadline CSV: one row per running deadline, in the board's order, none twice, each
        // with its case's claim number, coordinator and stage as the case list gives them.
        let deadlineCSV = try await ControlCommandTests.ctl(["export", "csv", "--page-size", "7"], socket: s)
        let table = try await Self.csvRows(deadlineCSV.out)
        #expect(
            table.first == [
                "deadline_id", "case_id", "claim_number", "coordinator", "stage", "rule", "party", "items", "due",
                "due_date", "status", "citation",
            ]
        )
        let rows = Array(table.dropFirst())
        #expect(rows.map { $0[0] } == board.compactMap { $0["id"]?.stringValue })
        #expect(Set(rows.map { $0[0] }).count == rows.count)
        let byCase = Dictionary(uniqueKeysWithValues: cases.map { ($0["caseId"]?.stringValue ?? "", $0) })
        for row in rows {
            let c = try #require(byCase[row[1]], "\(row[1]) is not in the case list")
            #expect(row[2] == c["claimNumber"]?.stringValue && !row[2].isEmpty, "\(row[0]): claim \(row[2])")
            #expect(row[3] == c["coordinator"]?.stringValue, "\(row[0]): coordinator \(row[3])")
            #expect(row[4] == c["stage"]?.stringValue, "\(row[0]): stage \(row[4])")
        }
        #expect(Set(rows.map { $0[4] }).count > 2, "the caseload has deadlines at several stages")

        // The case CSV: every case, open and closed, in the list's order.
        let caseCSV = try await ControlCommandTests.ctl(["export", "csv", "--cases", "--page-size", "7"], socket: s)
        let caseRows = try await Self.csvRows(caseCSV.out)
        #expect(caseRows.first?.first == "case_id" && caseRows.count == 61)
        #expect(caseRows.dropFirst().map { $0[0] } == cases.compactMap { $0["caseId"]?.stringValue })

        // The calendar: its header, one event per deadline in the board's order, its end.
        let ics = try await ControlCommandTests.ctl(["export", "ics", "--page-size", "7"], socket: s).out
        #expect(ics.hasPrefix("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") && ics.hasSuffix("\r\nEND:VCALENDAR\r\n"))
        let uids = ics.components(separatedBy: "\r\n").filter { $0.hasPrefix("UID:") }
        #expect(uids == board.compactMap { $0["id"]?.stringValue }.map { "UID:\($0)@imr" })
        #expect(ics.components(separatedBy: "\r\n").filter { $0 == "BEGIN:VEVENT" }.count == board.count)
    }

    /// The temporary files an export to `name` leaves in `directory` (`.NAME.XXXXXX`).
    static func temporaries(of name: String, in directory: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter {
            $0.hasPrefix(".\(name).")
        }
    }

    /// imr-ctl exporting to `-o`, stopped (SIGSTOP) once its temporary file holds some pages.
    static func exportStoppedMidway(
        _ arguments: [String],
        name: String,
        in directory: URL,
        socket: String
    ) throws -> (process: SpawnedProcess, stderr: Pipe) {
        let p = SpawnedProcess()
        p.executableURL = URL(fileURLWithPath: imrCtl)
        p.arguments = arguments + ["-o", directory.appendingPathComponent(name).path, "--socket", socket]
        let err = Pipe.forChild()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.start()
        let started = Date()
        while Date().timeIntervalSince(started) < 60 {
            let sizes = temporaries(of: name, in: directory).compactMap {
                try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent($0).path)[.size]
                    as? Int
            }
            if sizes.contains(where: { $0 > 20_000 }) { break }
            usleep(1000)
        }
        p.send(SIGSTOP)
        return (p, err)
    }

    @Test func anExportThatFailsMidwayLeavesNoPartialFile_andSaysSo() async throws {
        // A small bound on unsent output: the daemon can run only a little ahead of a client
        // that stopped, so what it sent before it was killed is far from the whole export.
        let daemon = try await Self.seededDaemon(cases: 400, config: "[server]\nmax_unsent_output_bytes = 4096\n")
        defer { daemon.cleanup() }
        let s = daemon.socketPath
        let dir = daemon.directory.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)

        // No such directory: refused at once, nothing created.
        let bad = try await ControlCommandTests.ctl(["export", "csv", "-o", dir.path + "/nope/x.csv"], socket: s)
        #expect(bad.status == 73, "\(bad.err)")
        #expect(bad.err.contains("cannot write \(dir.path)/nope/x.csv: No such file or directory"), "\(bad.err)")
        let directory = try await ControlCommandTests.ctl(["export", "csv", "-o", dir.path], socket: s)
        #expect(directory.status == 73 && directory.err.contains("is a directory"), "\(directory.err)")

        // Ctrl-C midway: the temporary file goes with imr-ctl, no file takes the name.
        let interrupted = try await offThePool {
            let (p, _) = try Self.exportStoppedMidway(
                ["export", "csv", "--page-size", "1"],
                name: "interrupted.csv",
                in: dir,
                socket: s
            )
            #expect(Self.temporaries(of: "interrupted.csv", in: dir).count == 1, "the export was under way")
            p.send(SIGINT)
            p.send(SIGCONT)
            return p.waitForExit()
        }
        #expect(interrupted.signalled && interrupted.status == SIGINT, "\(interrupted)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("interrupted.csv").path))
        #expect(Self.temporaries(of: "interrupted.csv", in: dir).isEmpty)

        // The daemon killed midway, over an earlier export: that one is left as it was.
        let earlier = dir.appendingPathComponent("board.ics")
        try "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n".write(to: earlier, atomically: true, encoding: .utf8)
        let (status, err) = try await offThePool { () -> (ChildExit, String) in
            let (p, err) = try Self.exportStoppedMidway(
                ["export", "ics", "--page-size", "1"],
                name: "board.ics",
                in: dir,
                socket: s
            )
            #expect(Self.temporaries(of: "board.ics", in: dir).count == 1, "the export was under way")
            daemon.signal(SIGKILL)
            _ = daemon.wait()
            p.send(SIGCONT)
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            return (p.waitForExit(), text)
        }
        #expect(!status.signalled && status.status == 70, "\(status): \(err)")
        #expect(err.contains("broke off") && err.hasSuffix("; \(earlier.path) was left as it was\n"), "\(err)")
        #expect(try String(contentsOf: earlier, encoding: .utf8) == "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
        #expect(Self.temporaries(of: "board.ics", in: dir).isEmpty, "\(Self.temporaries(of: "board.ics", in: dir))")
    }
}
