import Foundation
import TestSupport
import Testing
import Varlink

#if canImport(Glibc)
import Glibc
#endif

/// The operator's figures: exported in Prometheus text format to the `[metrics]` file, and the
/// same in `io.imr.Admin.Status` and `imr-ctl status`.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct MetricsTests {
    /// A directory for a daemon, with a configuration that writes the metrics file every 0.2 s.
    private func metricsDirectory() throws -> (dir: URL, prom: String, config: URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-metrics-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let prom = dir.appendingPathComponent("imr.prom").path
        let config = dir.appendingPathComponent("imr-daemon.toml")
        try "[metrics]\ntextfile = \"\(prom)\"\ninterval_seconds = 0.2\n".write(
            to: config,
            atomically: true,
            encoding: .utf8
        )
        return (dir, prom, config)
    }

    @Test func theFiguresReachThePrometheusFileAndStatus() async throws {
        let (dir, prom, config) = try metricsDirectory()
        let daemon = try DaemonProcess(directory: dir, arguments: ["--config", config.path])
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        try await offThePool {
            let c = try daemon.client()
            try openCaseWithRFA(c, "M-1", receivedAt: "2024-03-04T10:00")
            _ = try? c.call("io.imr.Cases.AddNote", ["caseId": "M-1", "text": "bad \u{202E}note"])  // invalid
            _ = try? c.call(
                "io.imr.Cases.DecideUR",
                [
                    "caseId": "M-1", "rfaId": "Z", "decidedAt": "2024-03-05T06:00",
                    "decisions": .array([.object(["itemId": "A1", "outcome": "approved"])]),
                ]
            )  // refused
        }
        // The file is rewritten every 0.2 s; wait for all the commands to show (a file written
        // between two of them shows only the first: CI once read one between the RFA and the note).
        var text = ""
        let expected = [
            #"imr_commands_total{outcome="recorded"} 2"#, #"imr_commands_total{outcome="invalid"} 1"#,
            #"imr_commands_total{outcome="refused"} 1"#,
        ]
        for _ in 0..<100 {
            text = (try? String(contentsOfFile: prom, encoding: .utf8)) ?? ""
            if expected.allSatisfy(text.contains) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(text.contains(#"imr_commands_total{outcome="recorded"} 2"#), "\(text)")
        #expect(text.contains(#"imr_commands_total{outcome="invalid"} 1"#), "\(text)")
        #expect(text.contains(#"imr_commands_total{outcome="refused"} 1"#), "\(text)")
        #expect(text.contains("imr_command_duration_seconds_bucket"), "\(text)")
        #expect(text.contains(#"varlink_calls_total{interface="io.imr.Cases",outcome="ok"}"#), "\(text)")
        #expect(text.contains("imr_open_cases 1"), "\(text)")
        #expect(text.contains("imr_process_resident_bytes"), "\(text)")
        #expect(text.contains("imr_store_commits_total "), "\(text)")
        #expect(text.contains("imr_store_pages_written_total "), "\(text)")
        #expect(!FileManager.default.fileExists(atPath: prom + ".partial"))
        // node_exporter runs as another user: the file is world-readable despite the daemon's umask.
        let mode = (try FileManager.default.attributesOfItem(atPath: prom)[.posixPermissions] as? Int) ?? 0
        #expect(mode == 0o644, "\(String(mode, radix: 8))")

        let status = try await offThePool { try daemon.client().call("io.imr.Admin.Status") }
        let service = status["figures"]?.objectValue?["service"]?.objectValue
        #expect(service?["commandsRecorded"] == .int(2))
        #expect(service?["commandsInvalid"] == .int(1))
        #expect(service?["commandsRefused"] == .int(1))
        // The two recorded commands were written (the refused one may have been decided on the
        // writer thread too, writing nothing), each a commit of a few pages.
        let store = status["figures"]?.objectValue?["store"]?.objectValue
        let writes = store?["writes"]?.intValue ?? 0
        #expect((2...3).contains(writes), "\(String(describing: store))")
        #expect((store?["commits"]?.intValue ?? 0) >= writes)
        #expect((store?["pagesWritten"]?.intValue ?? 0) >= 3 * 2, "\(String(describing: store))")
        #expect(
            (status["figures"]?.objectValue?["server"]?.objectValue?["calls"]).flatMap {
                if case .int(let i) = $0 { i } else { nil }
            } ?? 0 >= 4,
            "the four calls before status"
        )
        let words = try await offThePool {
            try run([productsDirectory.appendingPathComponent("imr-ctl").path, "status", "--socket", daemon.socketPath])
        }
        #expect(words.output.contains("2 commands recorded"), "\(words.output)")
        #expect(words.output.contains("1 refused by the lifecycle"), "\(words.output)")
        #expect(daemon.stop().status == 0)
    }

    /// Alerts that came due while the daemon was stopped are raised before READY=1: the file
    /// counts them as `io.imr.Admin.Status` does (its backend was set up after them once).
    @Test func alertsRaisedAtStartUpAreInTheFileAsInStatus() async throws {
        let (dir, prom, config) = try metricsDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func at(_ instant: String) -> [String: String] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "America/Los_Angeles")
            formatter.dateFormat = "yyyy-MM-dd HH:mm"
            return ["IMR_TEST_CLOCK_OFFSET": String(formatter.date(from: instant)!.timeIntervalSinceNow)]
        }
        // An RFA on Monday 4 March 2024; the daemon stopped until Wednesday 20 March, by when
        // its UR decision (due Monday 11 March) is overdue.
        let first = try DaemonProcess(
            directory: dir,
            arguments: ["--config", config.path],
            environment: at("2024-03-04 10:30")
        )
        _ = try #require(await offThePool { first.waitUntilReady() })
        try await offThePool { try openCaseWithRFA(first.client(), "M-2", receivedAt: "2024-03-04T10:00") }
        #expect(first.stop().status == 0)
        let second = try DaemonProcess(
            directory: dir,
            arguments: ["--config", config.path],
            environment: at("2024-03-20 09:00")
        )
        defer { second.process.killAndWait() }
        _ = try #require(await offThePool { second.waitUntilReady() })
        let status = try await offThePool { try second.client().call("io.imr.Admin.Status") }
        let raised = status["figures"]?.objectValue?["service"]?.objectValue?["alertsRaised"]?.intValue ?? 0
        #expect(raised > 0, "the overdue UR decision's alert, raised before READY=1")
        // The file is rewritten every 0.2 s: the sum of imr_alerts_raised_total over levels.
        var counted: Int64 = -1
        for _ in 0..<50 {
            let text = (try? String(contentsOfFile: prom, encoding: .utf8)) ?? ""
            let lines = text.split(separator: "\n").filter { $0.hasPrefix("imr_alerts_raised_total{") }
            if !lines.isEmpty {
                counted = lines.compactMap { $0.split(separator: " ").last.flatMap { Int64($0) } }.reduce(0, +)
                if counted == raised { break }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(counted == raised, "imr_alerts_raised_total \(counted), Status \(raised)")
        #expect(second.stop().status == 0)
    }

    @Test func aMetricsFileThatIsNotPromIsRefusedAtStart() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-metrics-bad-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("imr-daemon.toml")
        try "[metrics]\ntextfile = \"\(dir.path)/imr.txt\"\n".write(to: config, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(directory: dir, arguments: ["--config", config.path])
        let (status, output) = daemon.wait()
        #expect(status == 78)
        #expect(output.contains("metrics.textfile") && output.contains(".prom"), "\(output)")
    }
}
