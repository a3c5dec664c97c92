import ArgumentParser
import ChildProcess
import EventStore
import Foundation
import IMRCommandLine
import Varlink

#if canImport(Glibc)
import Glibc
#endif

/// `imr-bench torture`: the adversarial suite, against the real daemon binary. Each phase
/// checks its invariants and prints its figures; any broken invariant makes the exit status 1.
/// The nightly run takes the defaults; the test suite runs a short version (see
/// RELIABILITY.md for both and the figures).
struct Torture: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "torture",
        abstract:
            "Crash storms, hostile frames and resource exhaustion against a real imr-daemon; exit 1 when an invariant breaks.",
        discussion: """
            Phases (--phases, comma-separated, in this order):
              crash       --rounds rounds: --clients clients record the synthetic caseload's lifecycle commands through the
                          socket; the daemon is killed with SIGKILL during the storm and restarted. After each restart every
                          acknowledged command is in the log at the positions its reply named, no command is torn (a command's
                          events are consecutive), verify is clean, every read model equals a rebuild, no alert is raised twice.
              kills       SIGKILL during a rebuild, during a backup, and during an import of the letters in --letters; after
                          each restart the same checks, no partial backup under the backup's name, the import completes once.
              hostile     --hostile malformed messages over --hostile-connections connections at once (random bytes, invalid
                          JSON, oversized and deeply nested frames, huge strings, unknown methods, wrong and missing
                          parameters, absurd values, control characters). The daemon must answer each with an error or close
                          that connection, never crash; status is timed meanwhile; RSS and descriptors compared with before.
              exhaustion  --idle idle connections, slow senders (a byte a second), clients that never read, --followers
                          io.imr.Alerts.Follow subscribers that never read; status and a recording command are timed meanwhile.
            Run it as root (or as a member of the admins' group): it calls admin methods. The daemon is the imr-daemon
            beside this binary unless --daemon names another.
            """
    )

    @Option(help: "Directory for the daemon's state, socket and log (removed afterwards unless --keep).")
    var dir: String = FileManager.default.temporaryDirectory.path
    @Option(help: "Phases to run.") var phases: String = "crash,kills,hostile,exhaustion"
    @Option(help: "kill -9 rounds in the crash phase.") var rounds: Int = 20
    @Option(help: "Concurrent clients recording commands in the crash phase.") var clients: Int = 32
    @Option(help: "Synthetic cases each client records per round.") var casesPerClient: Int = 20
    @Option(help: "Malformed messages in the hostile phase.") var hostile: Int = 100_000
    @Option(help: "Connections sending them at once.") var hostileConnections: Int = 64
    @Option(help: "Idle connections in the exhaustion phase.") var idle: Int = 2000
    @Option(help: "Follow subscribers that never read, in the exhaustion phase.") var followers: Int = 1000
    @Option(
        help:
            "A directory of IMR letters (PDF or text) for the kill-during-import check (default ../shared/fixtures/letters/pdf)."
    ) var letters: String?
    @Option(help: "The imr-daemon binary.") var daemon: String?
    @Option(help: "The imr-ctl binary (for the import).") var ctl: String?
    @Option(help: "Seed for the caseload and the kill times.") var seed: UInt64 = 2026
    @Option(help: "The p99 latency of status under attack above which the run fails, in ms.") var latencyLimitMs:
        Double = 100
    @Option(
        name: .customLong("rss-slack-mib"),
        help: "How far above its baseline the daemon's RSS may stay once the attackers left, in MiB."
    ) var rssSlackMiB: Int = 64
    @Flag(help: "Keep the work directory.") var keep = false

    func validate() throws {
        let known = Set(["crash", "kills", "hostile", "exhaustion"])
        for phase in selectedPhases where !known.contains(phase) {
            throw ValidationError("unknown phase '\(phase)'; use some of crash, kills, hostile, exhaustion")
        }
        guard rounds >= 0, clients > 0, casesPerClient > 0, hostile >= 0, hostileConnections > 0, idle >= 0,
            followers >= 0
        else {
            throw ValidationError(
                "counts must not be negative, and --clients, --cases-per-client, --hostile-connections must be positive"
            )
        }
    }

    var selectedPhases: [String] { phases.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func run() throws {
        let daemonBinary = try Binaries.daemon(daemon, build: "swift build")
        let ctlBinary = ctl ?? Binaries.directory.appendingPathComponent("imr-ctl").path
        let work = URL(fileURLWithPath: dir).appendingPathComponent("imr-torture-\(getpid())").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { if !keep { try? FileManager.default.removeItem(atPath: work) } }
        var report = TortureReport()
        print(
            "imr-bench torture: \(ProcessInfo.processInfo.activeProcessorCount) cores, daemon \(daemonBinary), work \(work)"
        )
        var random = SplitMix64(seed: seed)
        for phase in selectedPhases {
            let target = TortureDaemon(binary: daemonBinary, directory: work + "/" + phase)
            try FileManager.default.createDirectory(atPath: work + "/" + phase, withIntermediateDirectories: true)
            defer { target.kill9() }
            let started = Date()
            do {
                switch phase {
                case "crash": try crashStorm(target, &report, &random)
                case "kills": try killsDuringWork(target, ctl: ctlBinary, &report, &random)
                case "hostile": try hostileFrames(target, &report, &random)
                default: try exhaustion(target, &report)
                }
            } catch {
                report.fail(phase, "stopped: \(error)")
            }
            report.figure(phase, String(format: "phase took %.1f s", Date().timeIntervalSince(started)))
            if target.isRunning {
                let stop = target.stop()
                report.check(
                    phase,
                    stop.clean,
                    "SIGTERM stopped the daemon cleanly (\(String(format: "%.2f", stop.seconds)) s)",
                    "the daemon did not stop cleanly within 15 s of SIGTERM"
                )
            }
        }
        report.print()
        if !report.failures.isEmpty { throw ExitCode(1) }
    }

    // MARK: - crash

    func crashStorm(_ target: TortureDaemon, _ report: inout TortureReport, _ random: inout SplitMix64) throws {
        try target.start()
        var acknowledgedTotal = 0
        var restarts: [Double] = []
        var midStorm = 0
        for round in 0..<rounds {
            let calls = caseCalls(round: round, seed: seed &+ UInt64(round))
            let acks = AckBox()
            // The kill comes once a random 10-90% of the round's commands were answered: during
            // the storm however fast the machine is (a kill after the clients finished would
            // test a restart, not a crash under load).
            let killAfter = Int(Double(calls.count) * (0.1 + Double(random.next() % 800) / 1000))
            let storm = DispatchGroup()
            storm.enter()
            Thread.detachNewThread { [socket = target.socketPath, clients] in
                onThreads(clients) { k in
                    guard let c = try? RawConnection(path: socket, timeout: 30) else { return }
                    for call in calls where call.client == k {
                        var parameters = call.parameters
                        let commandId = UUID().lowercasedText
                        parameters["commandId"] = .string(commandId)
                        do {
                            let reply = try c.call("io.imr.Cases." + call.method, parameters)
                            let positions =
                                reply["recorded"]?.objectValue?["positions"].flatMap { v -> [Int64]? in
                                    if case .array(let a) = v {
                                        return a.compactMap { if case .int(let i) = $0 { Int64(i) } else { nil } }
                                    }
                                    return nil
                                } ?? []
                            acks.add(commandId, positions)
                        } catch is VarlinkError {
                            acks.refused()
                        } catch {
                            return  // the daemon was killed
                        }
                    }
                }
                storm.leave()
            }
            let giveUp = Date().addingTimeInterval(120)
            while acks.answered < killAfter, storm.wait(timeout: .now() + .milliseconds(2)) == .timedOut,
                Date() < giveUp
            {}
            if storm.wait(timeout: .now()) == .timedOut { midStorm += 1 }
            target.kill9()
            storm.wait()
            restarts.append(try target.start())
            let (acknowledged, refused) = acks.value
            acknowledgedTotal += acknowledged.count
            try checkInvariants(
                target,
                acknowledged: acknowledged,
                phase: "crash",
                round: "round \(round + 1)",
                &report
            )
            if refused > 0 {
                report.note("crash", "round \(round + 1): \(refused) commands refused by the lifecycle (not a fault)")
            }
        }
        report.figure(
            "crash",
            "\(rounds) SIGKILL rounds under \(clients) clients: \(acknowledgedTotal) acknowledged commands, all in the log"
        )
        report.check(
            "crash",
            midStorm == rounds,
            "every kill came while the clients were still recording",
            "\(rounds - midStorm) of \(rounds) kills came after the clients had finished"
        )
        if !restarts.isEmpty {
            report.figure(
                "crash",
                String(
                    format: "restart to first answered status: median %.2f s, max %.2f s",
                    restarts.sorted()[restarts.count / 2],
                    restarts.max() ?? 0
                )
            )
        }
    }

    /// The synthetic caseload's calls for one round, each case given to one client.
    func caseCalls(round: Int, seed: UInt64) -> [ClientCall] {
        ClientCall.caseload(cases: clients * casesPerClient, clients: clients, seed: seed, prefix: "R\(round + 1)-")
    }

    /// After a restart: acknowledged commands present at their positions, no torn command,
    /// verify clean, read models equal to a rebuild, every alert once.
    func checkInvariants(
        _ target: TortureDaemon,
        acknowledged: [String: [Int64]],
        phase: String,
        round: String,
        _ report: inout TortureReport
    ) throws {
        let store = try EventStore(path: target.storePath)
        defer { store.close() }
        var byCommand: [String: [Int64]] = [:]
        var alertsPerStream: [String: Int] = [:]
        var from: Int64 = 1
        while true {
            let page = try store.readAll(from: from, limit: 5000)
            for event in page {
                if let command = event.metadata.commandId {
                    byCommand[command.lowercased(), default: []].append(event.position)
                }
                if event.type == "AlertRaised" { alertsPerStream[event.streamId, default: 0] += 1 }
            }
            guard let last = page.last else { break }
            from = last.position + 1
        }
        let lost = acknowledged.filter { command, positions in byCommand[command] != positions && !positions.isEmpty }
        report.check(
            phase,
            lost.isEmpty,
            nil,
            "\(round): \(lost.count) acknowledged commands are not in the log at the positions their replies named"
        )
        let torn = byCommand.filter { _, positions in
            positions.count > 1 && zip(positions, positions.dropFirst()).contains { $1 != $0 + 1 }
        }
        report.check(phase, torn.isEmpty, nil, "\(round): \(torn.count) commands have events that are not consecutive")
        let doubled = alertsPerStream.filter { $0.value > 1 }
        report.check(phase, doubled.isEmpty, nil, "\(round): \(doubled.count) alerts were raised more than once")

        let c = try RawConnection(path: target.socketPath, timeout: 120)
        // A rebuild the kill interrupted goes on once the daemon answers: the lists wait for it.
        func rebuilding() throws -> Bool {
            guard case .array(let models)? = try c.call("io.imr.Admin.Status")["projections"] else { return false }
            return models.contains { ($0["rebuildingTo"] ?? .null) != .null }
        }
        let rebuildDeadline = Date(timeIntervalSinceNow: 120)
        while try rebuilding(), Date() < rebuildDeadline { usleep(50_000) }
        report.check(
            phase,
            try !rebuilding(),
            nil,
            "\(round): a read model was still being rebuilt 120 s after the start"
        )
        let verify = try c.call("io.imr.Admin.Verify")
        report.check(phase, verify["intact"] == .bool(true), nil, "\(round): verify found the log altered: \(verify)")
        func snapshot() throws -> [JSONValue] {
            // The whole case list and board: page after page, following each page's cursor.
            func every(_ method: String, _ key: String, _ parameters: [String: JSONValue]) throws -> JSONValue {
                var all: [JSONValue] = []
                var after: JSONValue = .null
                repeat {
                    var p = parameters
                    p["limit"] = 1000
                    p["after"] = after
                    let page = try c.call(method, p)
                    if case .array(let listed)? = page[key] { all += listed }
                    after = page["next"] ?? .null
                } while after != .null
                return .array(all)
            }
            return [
                try every("io.imr.Cases.List", "cases", ["open": .null]),
                try every("io.imr.Deadlines.List", "deadlines", [:]),
                try every("io.imr.Alerts.List", "alerts", [:]),
            ]
        }
        // The same log on both sides: after a restart the alert scheduler may still be raising
        // alerts that came due (an append between the snapshots is not a difference of the
        // rebuild). Compared again, up to five times, until no event was appended meanwhile.
        func head() throws -> JSONValue { try c.call("io.imr.Admin.Status")["headPosition"] ?? .null }
        var (before, after): ([JSONValue], [JSONValue]) = ([], [])
        for attempt in 1...5 {
            let start = try head()
            before = try snapshot()
            _ = try c.call("io.imr.Admin.Rebuild")
            after = try snapshot()
            if try head() == start || attempt == 5 { break }
            usleep(200_000)
        }
        report.check(
            phase,
            before == after,
            nil,
            "\(round): a read model differs from its rebuild: \(Self.firstDifference(before, after))"
        )
    }

    /// Which list of a snapshot (cases, deadlines, alerts) differs first, and its first
    /// differing row before and after, for a failure message.
    static func firstDifference(_ before: [JSONValue], _ after: [JSONValue]) -> String {
        for (index, name) in ["cases", "deadlines", "alerts"].enumerated() where index < before.count {
            guard case .array(let old) = before[index], index < after.count, case .array(let new) = after[index],
                old != new
            else { continue }
            guard let row = old.indices.first(where: { $0 < new.count && old[$0] != new[$0] }) else {
                return "\(name): \(old.count) rows before, \(new.count) after"
            }
            return "\(name) row \(row) of \(old.count)/\(new.count): before \(old[row]), after \(new[row])"
        }
        return "the snapshots differ in shape"
    }

    // MARK: - kills during work

    func killsDuringWork(
        _ target: TortureDaemon,
        ctl: String,
        _ report: inout TortureReport,
        _ random: inout SplitMix64
    ) throws {
        try target.start()
        // A caseload to rebuild and back up.
        let calls = caseCalls(round: 0, seed: seed)
        let c = try RawConnection(path: target.socketPath, timeout: 60)
        for call in calls { _ = try? c.call("io.imr.Cases." + call.method, call.parameters) }

        // During a rebuild.
        let socket = target.socketPath
        let rebuild = Thread { _ = try? RawConnection(path: socket, timeout: 60).call("io.imr.Admin.Rebuild") }
        rebuild.start()
        usleep(useconds_t(20_000 + random.next() % 80_000))
        target.kill9()
        try target.start()
        try checkInvariants(target, acknowledged: [:], phase: "kills", round: "kill during rebuild", &report)

        // During a backup.
        let backups = target.stateDirectory + "/backups"
        let backup = Thread {
            _ = try? RawConnection(path: socket, timeout: 60).call("io.imr.Admin.Backup", ["name": "killed.sqlite"])
        }
        backup.start()
        usleep(useconds_t(1_000 + random.next() % 20_000))
        target.kill9()
        try target.start()
        try checkInvariants(target, acknowledged: [:], phase: "kills", round: "kill during backup", &report)
        if FileManager.default.fileExists(atPath: backups + "/killed.sqlite") {
            // Renamed into place: then it is whole.
            let copy = try EventStore(path: backups + "/killed.sqlite")
            report.check(
                "kills",
                try copy.verify().isIntact,
                "a backup killed after its rename is whole",
                "a backup killed mid-way is not whole"
            )
            copy.close()
        }
        let again = try RawConnection(path: target.socketPath, timeout: 60).call(
            "io.imr.Admin.Backup",
            ["name": "after.sqlite"]
        )
        report.check(
            "kills",
            again["events"] != nil,
            "a backup after the kill succeeds",
            "a backup after the kill failed"
        )
        report.check(
            "kills",
            !FileManager.default.fileExists(atPath: backups + "/killed.sqlite.partial"),
            "no partial backup left after the restart",
            "the killed backup's partial file is still there after the restart"
        )

        // During an import of letters.
        guard let letters = letters ?? defaultLetters() else {
            report.note("kills", "no letters directory (--letters): the kill during an import was not tried")
            return
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: letters).sorted()
            .filter { $0.hasSuffix(".pdf") || $0.hasSuffix(".txt") }.map { letters + "/" + $0 }
        guard !files.isEmpty, FileManager.default.isExecutableFile(atPath: ctl) else {
            report.note("kills", "no letters or no imr-ctl: the kill during an import was not tried")
            return
        }
        // imr-ctl import of every letter, started (its output discarded).
        func importer() throws -> SpawnedProcess {
            let p = SpawnedProcess()
            p.executableURL = URL(fileURLWithPath: ctl)
            p.arguments = ["import", "--socket", target.socketPath] + files
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.start()
            return p
        }
        // Case events only: the alert scheduler appends alerts for the imported cases meanwhile.
        func caseEvents() throws -> Int {
            let store = try EventStore(path: target.storePath)
            defer { store.close() }
            return try store.read {
                try $0.query("SELECT COUNT(*) FROM events WHERE stream_id NOT LIKE 'alert-%'").first?[0].int64 ?? 0
            }
            .map { Int($0) } ?? 0
        }
        let killed = try importer()
        usleep(useconds_t(200_000 + random.next() % 800_000))
        target.kill9()
        killed.waitForExit()
        try target.start()
        try checkInvariants(target, acknowledged: [:], phase: "kills", round: "kill during import", &report)
        let rerun = try importer()
        let rerunExit = rerun.waitForExit()
        let before = try caseEvents()
        // A third import changes nothing: each letter is in the log once.
        let third = try importer()
        let thirdExit = third.waitForExit()
        let afterImport = try caseEvents()
        report.check(
            "kills",
            rerunExit.succeeded,
            "the import of \(files.count) letters completed after the kill",
            "the import after the kill ended (\(rerunExit))"
        )
        report.check(
            "kills",
            thirdExit.succeeded && before == afterImport && before > 0,
            "re-importing \(files.count) letters recorded nothing twice",
            "re-importing the letters recorded new case events (\(before) -> \(afterImport)) or failed (\(thirdExit))"
        )
        try checkInvariants(target, acknowledged: [:], phase: "kills", round: "after re-import", &report)
    }

    func defaultLetters() -> String? {
        let candidates = [
            "../shared/fixtures/letters/pdf",
            FileManager.default.currentDirectoryPath + "/../shared/fixtures/letters/pdf",
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }

    // MARK: - hostile frames

    /// The attackers run as a process of their own under another uid (nobody, a reader) when
    /// this runs as root, so the daemon's per-user limits apply to them and not to the
    /// operator whose `status` is timed meanwhile; otherwise in this process, as this user.
    func attackers(_ target: TortureDaemon, uid: Int = 65534, _ arguments: [String]) throws -> SpawnedProcess {
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
        let p = SpawnedProcess()
        if geteuid() == 0 {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            p.arguments =
                ["--reuid=\(uid)", "--regid=65534", "--clear-groups", me, "attack", "--socket", target.socketPath]
                + arguments
        } else {
            p.executableURL = URL(fileURLWithPath: me)
            p.arguments = ["attack", "--socket", target.socketPath] + arguments
        }
        return p
    }

    /// A daemon whose readers are nobody's group, with a socket anyone may reach (the
    /// attackers run as nobody).
    func startForAttackers(_ target: TortureDaemon) throws {
        let config = (target.stateDirectory as NSString).deletingLastPathComponent + "/imr-daemon.toml"
        try "[access]\nreaders = [\"nogroup\"]\n".write(toFile: config, atomically: true, encoding: .utf8)
        target.arguments = ["--config", config]
        try target.start()
        chmod((target.socketPath as NSString).deletingLastPathComponent, 0o755)
        chmod(target.socketPath, 0o666)
    }

    /// Runs the attacker process to its end; its JSON report.
    func runAttackers(_ process: SpawnedProcess) throws -> [String: Int] {
        let out = Pipe.forChild()
        process.standardOutput = out
        process.standardError = FileHandle.standardError
        try process.start()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let exit = process.waitForExit()
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        guard let last = lines.last, let report = try? JSONDecoder().decode([String: Int].self, from: Data(last.utf8))
        else {
            throw TortureFailure(
                "the attackers ended (\(exit)) without a report: \(String(decoding: data, as: UTF8.self).suffix(400))"
            )
        }
        return report
    }

    func hostileFrames(_ target: TortureDaemon, _ report: inout TortureReport, _ random: inout SplitMix64) throws {
        try startForAttackers(target)
        _ = try RawConnection(path: target.socketPath, timeout: 10).call(
            "io.imr.Cases.Open",
            [
                "caseId": "H-1", "claimNumber": "ADJ1", "employer": "Acme", "claimsAdministrator": "TPA",
                "injuredWorkerReference": "J.D.", "dateOfInjury": "2024-01-02", "coordinator": "maria",
            ]
        )
        let baseline = target.resources()
        let attack = try attackers(
            target,
            [
                "--hostile", String(hostile), "--connections", String(hostileConnections), "--seed",
                String(random.next()),
            ]
        )
        var outcome: [String: Int] = [:]
        let status = try measuringStatus(socket: target.socketPath) { outcome = try runAttackers(attack) }
        let sent = outcome["sent"] ?? 0
        report.check(
            "hostile",
            target.isRunning,
            "the daemon survived \(sent) malformed messages",
            "the daemon died under malformed messages"
        )
        usleep(2_000_000)
        let after = target.resources()
        report.figure(
            "hostile",
            "\(sent) messages over \(hostileConnections) connections (as \(geteuid() == 0 ? "uid nobody" : "this user")): "
                + "\(outcome["answered"] ?? 0) answered with an error, \(outcome["closed"] ?? 0) connection closes"
        )
        report.figure("hostile", "status during the attack: \(status.summary)")
        report.figure(
            "hostile",
            "RSS \(baseline.rssKiB / 1024) MiB before, \(after.rssKiB / 1024) MiB after; descriptors \(baseline.descriptors) before, \(after.descriptors) after"
        )
        report.check("hostile", sent >= hostile * 9 / 10, nil, "only \(sent) of \(hostile) messages could be sent")
        report.check(
            "hostile",
            (outcome["leftOpen"] ?? 0) == 0,
            nil,
            "\(outcome["leftOpen"] ?? 0) connections stayed open after a message that is not a call"
        )
        report.check(
            "hostile",
            after.descriptors <= baseline.descriptors + 2,
            nil,
            "descriptors did not return to baseline (\(baseline.descriptors) -> \(after.descriptors))"
        )
        report.check(
            "hostile",
            after.rssKiB <= baseline.rssKiB + rssSlackMiB * 1024,
            nil,
            "RSS did not return to within \(rssSlackMiB) MiB of its baseline (\(baseline.rssKiB / 1024) -> \(after.rssKiB / 1024) MiB)"
        )
        report.check("hostile", status.failures == 0, nil, "status failed \(status.failures) times during the attack")
        report.check(
            "hostile",
            status.percentile(0.99) < latencyLimitMs,
            "status p99 under \(Int(latencyLimitMs)) ms during the attack",
            String(
                format: "status p99 %.0f ms during the attack, over the limit of %.0f ms",
                status.percentile(0.99),
                latencyLimitMs
            )
        )
        let c = try RawConnection(path: target.socketPath, timeout: 10)
        report.check(
            "hostile",
            (try? c.call("io.imr.Cases.Get", ["caseId": "H-1"])) != nil,
            nil,
            "the case recorded before the attack cannot be read"
        )
        let verify = try c.call("io.imr.Admin.Verify")
        report.check(
            "hostile",
            verify["intact"] == .bool(true),
            "verify clean after the attack",
            "verify after the attack: \(verify)"
        )
    }

    // MARK: - exhaustion

    func exhaustion(_ target: TortureDaemon, _ report: inout TortureReport) throws {
        try startForAttackers(target)
        let baseline = target.resources()
        let holdSeconds = 8
        // Spread over users of 100 connections each (each a reader, uid 65534 down), so the
        // limit in all is reached as well as the one per user.
        var plans: [(uid: Int, arguments: [String])] = []
        var uid = 65534
        for start in stride(from: 0, to: idle, by: 100) {
            plans.append((uid, ["--idle", String(min(100, idle - start)), "--hold", String(holdSeconds)]))
            uid -= 1
        }
        plans.append(
            (uid, ["--deaf", "20", "--slow", String(min(50, max(1, idle / 40))), "--hold", String(holdSeconds)])
        )
        uid -= 1
        for start in stride(from: 0, to: followers, by: 100) {
            plans.append((uid, ["--followers", String(min(100, followers - start)), "--hold", String(holdSeconds)]))
            uid -= 1
        }
        let processes = try plans.map { try attackers(target, uid: $0.uid, $0.arguments) }
        var outcome: [String: Int] = [:]
        var loaded = baseline
        var recordedMs: Double?
        var alertMs: Double?
        // A coordinator follows the alerts from before the attack (root: the reserve is theirs).
        var follower = try? RawConnection(path: target.socketPath, timeout: 20)
        _ = follower?.send("io.imr.Alerts.Follow", more: true)
        let status = try measuringStatus(socket: target.socketPath, every: 0.2, timeout: 10) {
            let done = DispatchGroup()
            let boxes = processes.map { _ in ResultBox() }
            for (process, box) in zip(processes, boxes) {
                done.enter()
                Thread.detachNewThread {
                    box.set(Result { try runAttackers(process) })
                    done.leave()
                }
            }
            // While they hold their connections: a coordinator records a command.
            usleep(useconds_t(holdSeconds / 2) * 1_000_000)
            loaded = target.resources()
            if let recorder = try? RawConnection(path: target.socketPath, timeout: 30) {
                let started = Date()
                if (try? recorder.call(
                    "io.imr.Cases.Open",
                    [
                        "caseId": "X-1", "claimNumber": "ADJ1", "employer": "Acme", "claimsAdministrator": "TPA",
                        "injuredWorkerReference": "J.D.", "dateOfInjury": "2024-01-02", "coordinator": "maria",
                    ]
                )) != nil {
                    recordedMs = Date().timeIntervalSince(started) * 1000
                }
                // An RFA received long ago: its UR clock is overdue at once, so the scheduler
                // raises an alert, which the coordinator's follower must receive meanwhile.
                let received = Date()
                if (try? recorder.call(
                    "io.imr.Cases.ReceiveRFA",
                    [
                        // An expedited RFA of 71 hours ago: its clock still runs, its reminder is due at once.
                        "caseId": "X-1", "rfaId": "A",
                        "receivedAt": .string(
                            ISO8601DateFormatter().string(from: Date().addingTimeInterval(-71 * 3600))
                        ),
                        "receivedTimeOfDayKnown": true,
                        "transmission": "fax", "physician": "Dr. Lee", "reviewType": "prospective", "expedited": true,
                        "formulary": false,
                        "items": .array([.object(["id": "A1", "description": "MRI lumbar spine"])]),
                    ]
                )) != nil {
                    while Date().timeIntervalSince(received) < 20, let frame = follower?.receiveFrame() {
                        if String(decoding: frame, as: UTF8.self).contains("\"X-1\"") {
                            alertMs = Date().timeIntervalSince(received) * 1000
                            break
                        }
                    }
                }
            }
            done.wait()
            for box in boxes { outcome.merge(try box.get()) { $0 + $1 } }
        }
        follower = nil
        usleep(2_000_000)
        let after = target.resources()
        report.check(
            "exhaustion",
            recordedMs != nil,
            recordedMs.map { String(format: "a command was recorded under load in %.0f ms", $0) },
            "a command could not be recorded under load"
        )
        report.check(
            "exhaustion",
            alertMs != nil,
            alertMs.map {
                String(format: "the alert it raised reached a follower under load %.0f ms after the command", $0)
            },
            "no alert reached the coordinator's follower within 20 s under load"
        )
        report.figure(
            "exhaustion",
            "attackers (\(geteuid() == 0 ? "\(plans.count) uids" : "this user")) held \(outcome["held"] ?? 0) connections "
                + "(\(idle) idle asked, \(outcome["refused"] ?? 0) refused by the daemon), \(outcome["followers"] ?? 0) followers, "
                + "\(outcome["slow"] ?? 0) slow senders, \(outcome["deaf"] ?? 0) clients that never read"
        )
        report.figure("exhaustion", "status under load: \(status.summary)")
        report.figure(
            "exhaustion",
            "RSS \(baseline.rssKiB / 1024) MiB before, \(loaded.rssKiB / 1024) MiB loaded, \(after.rssKiB / 1024) MiB after the clients left"
        )
        report.figure(
            "exhaustion",
            "descriptors \(baseline.descriptors) before, \(loaded.descriptors) loaded, \(after.descriptors) after"
        )
        report.check("exhaustion", target.isRunning, nil, "the daemon died under exhaustion")
        report.check(
            "exhaustion",
            status.failures == 0,
            "status answered every time under load",
            "status failed \(status.failures) times under load"
        )
        report.check(
            "exhaustion",
            after.descriptors <= baseline.descriptors + 2,
            nil,
            "descriptors did not return to baseline (\(baseline.descriptors) -> \(after.descriptors))"
        )
        report.check(
            "exhaustion",
            after.rssKiB <= baseline.rssKiB + rssSlackMiB * 1024,
            nil,
            "RSS did not return to within \(rssSlackMiB) MiB of its baseline (\(baseline.rssKiB / 1024) -> \(after.rssKiB / 1024) MiB)"
        )
        report.check(
            "exhaustion",
            status.percentile(0.99) < latencyLimitMs,
            "status p99 under \(Int(latencyLimitMs)) ms under load",
            String(
                format: "status p99 %.0f ms under load, over the limit of %.0f ms",
                status.percentile(0.99),
                latencyLimitMs
            )
        )
    }
}

/// `imr-bench attack`: the attackers of the torture's hostile and exhaustion phases, as a
/// process of their own (the torture runs it as another user). Prints one JSON object of counts.
struct Attack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attack",
        abstract: "The torture's attackers (run by imr-bench torture; not for direct use).",
        shouldDisplay: false
    )
    @Option var socket: String
    @Option var hostile: Int = 0
    @Option var connections: Int = 16
    @Option var seed: UInt64 = 1
    @Option var idle: Int = 0
    @Option var followers: Int = 0
    @Option var deaf: Int = 0
    @Option var slow: Int = 0
    @Option var hold: Int = 5

    func run() throws {
        var report: [String: Int] = [:]
        if hostile > 0 { report = hostileMessages() }
        if idle > 0 || followers > 0 || deaf > 0 || slow > 0 { report.merge(holdConnections()) { $1 } }
        print(String(decoding: try JSONEncoder().encode(report), as: UTF8.self))
    }

    func hostileMessages() -> [String: Int] {
        let counts = CounterBox()
        let perConnection = max(1, hostile / connections)
        var seeds = SplitMix64(seed: seed)
        // Made once, sent many times: the attackers' own work is sending, not building
        // megabyte strings (on two cores that would take the CPU the daemon is measured on).
        let pool = (0..<512).map { _ in HostileMessage.next(&seeds) }
        let starts = (0..<connections).map { _ in seeds.next() }
        onThreads(connections) { [socket] k in
            var random = SplitMix64(seed: starts[k])
            var connection = try? RawConnection(path: socket, timeout: 10)
            for _ in 0..<perConnection {
                let (bytes, expectsClose) = pool[Int(random.next() % UInt64(pool.count))]
                if connection == nil { connection = try? RawConnection(path: socket, timeout: 10) }
                guard let c = connection else { continue }
                counts.add(outcome: c.write(bytes) ? .sent : .closed)
                if expectsClose {
                    // An error reply may come first; then the daemon must close the connection.
                    if c.receiveFrame() == nil || c.receiveFrame() == nil {
                        counts.add(outcome: .closed)
                    } else {
                        counts.add(outcome: .leftOpen)
                    }
                    connection = nil
                } else if c.receiveFrame() == nil {
                    connection = nil  // closed (allowed) or timed out
                    counts.add(outcome: .closed)
                } else {
                    counts.add(outcome: .answered)
                }
            }
        }
        return [
            "sent": counts.count(.sent), "answered": counts.count(.answered), "closed": counts.count(.closed),
            "leftOpen": counts.count(.leftOpen),
        ]
    }

    func holdConnections() -> [String: Int] {
        var held: [RawConnection] = []
        var refused = 0
        for _ in 0..<idle {
            if let c = try? RawConnection(path: socket, timeout: 2) { held.append(c) } else { refused += 1 }
        }
        // Slow senders: one byte a second of a call that never ends.
        let slow = (0..<self.slow).compactMap { _ in try? RawConnection(path: socket, timeout: 2) }
        // Clients that pipeline calls and never read the replies.
        let deaf = (0..<self.deaf).compactMap { _ in try? RawConnection(path: socket, timeout: 1) }
        for c in deaf {
            for _ in 0..<2000 where c.send("io.imr.Cases.List") {}
        }
        // Followers that never read.
        var following: [RawConnection] = []
        for _ in 0..<followers {
            if let c = try? RawConnection(path: socket, timeout: 1), c.send("io.imr.Alerts.Follow", more: true) {
                following.append(c)
            }
        }
        let call = Array(#"{"method":"io.imr.Admin.Status""#.utf8)
        for second in 0..<hold {
            for c in slow { c.write([call[second % call.count]]) }
            usleep(1_000_000)
        }
        // How many the daemon kept: a refused or closed connection reads its end at once.
        var open = 0
        for c in held + slow + following {
            var poller = pollfd(fd: c.fd, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 0) == 0 { open += 1 }
        }
        return [
            "held": open, "refused": refused + (held.count + slow.count + following.count - open),
            "followers": following.count,
            "slow": slow.count, "deaf": deaf.count,
        ]
    }
}

final class ResultBox: @unchecked Sendable {
    private var result: Result<[String: Int], Error> = .success([:])
    private let lock = NSLock()
    func set(_ r: Result<[String: Int], Error>) { lock.withLock { result = r } }
    func get() throws -> [String: Int] { try lock.withLock { result }.get() }
}

/// One lifecycle call of the synthetic caseload, and the client that sends it.
struct ClientCall: Sendable {
    let client: Int
    let method: String
    let parameters: [String: JSONValue]

    /// The demo's synthetic caseload (every stage, dated relative to today) as calls, each case
    /// given to one of `clients` (a case's calls stay in order on one connection), its id
    /// starting with `prefix`.
    static func caseload(cases: Int, clients: Int, seed: UInt64, prefix: String) -> [ClientCall] {
        var caseload = SyntheticCaseload(
            now: Date(),
            count: cases,
            seed: seed,
            coordinators: ["maria", "jorge", "priya", "li"]
        )
        var owner: [String: Int] = [:]
        return caseload.calls().map { call in
            let original = call.parameters["caseId"]?.stringValue ?? ""
            let caseId = original.replacingOccurrences(of: "DEMO-", with: prefix)
            if owner[caseId] == nil { owner[caseId] = owner.count % clients }
            var parameters = call.parameters
            parameters["caseId"] = .string(caseId)
            return ClientCall(client: owner[caseId]!, method: call.method, parameters: parameters)
        }
    }
}

/// What each phase found.
struct TortureReport {
    var lines: [(phase: String, kind: String, text: String)] = []
    var passed = 0
    var failures: [String] { lines.filter { $0.kind == "FAIL" }.map { "\($0.phase): \($0.text)" } }

    mutating func figure(_ phase: String, _ text: String) { lines.append((phase, "figure", text)) }
    mutating func note(_ phase: String, _ text: String) { lines.append((phase, "note", text)) }
    mutating func fail(_ phase: String, _ text: String) { lines.append((phase, "FAIL", text)) }
    /// Counts a check; a passed one is printed when it has something to say.
    mutating func check(_ phase: String, _ ok: Bool, _ passedText: String?, _ failed: String) {
        if ok {
            passed += 1
            if let passedText { lines.append((phase, "ok", passedText)) }
        } else {
            fail(phase, failed)
        }
    }

    func print() {
        for line in lines {
            Swift.print(
                "\(line.phase.padding(toLength: 11, withPad: " ", startingAt: 0)) \(line.kind.padding(toLength: 7, withPad: " ", startingAt: 0)) \(line.text)"
            )
        }
        Swift.print("torture: \(passed) passed, \(failures.count) failed")
    }
}

final class AckBox: @unchecked Sendable {
    private var acks: [String: [Int64]] = [:]
    private var refusals = 0
    private let lock = NSLock()
    func add(_ command: String, _ positions: [Int64]) { lock.withLock { acks[command] = positions } }
    func refused() { lock.withLock { refusals += 1 } }
    /// Commands answered so far, acknowledged or refused.
    var answered: Int { lock.withLock { acks.count + refusals } }
    var value: ([String: [Int64]], Int) { lock.withLock { (acks, refusals) } }
}

final class CounterBox: @unchecked Sendable {
    enum Outcome: Hashable { case sent, answered, closed, leftOpen }
    private var counts: [Outcome: Int] = [:]
    private let lock = NSLock()
    func add(outcome: Outcome) { lock.withLock { counts[outcome, default: 0] += 1 } }
    func count(_ outcome: Outcome) -> Int { lock.withLock { counts[outcome] ?? 0 } }
}

/// One hostile message: most from Varlink's ``HostileFrames`` (every kind, against a recording
/// method), a fifth with absurd values that are well-formed JSON (year 99999, enormous and
/// negative day counts, a 200 KB case id, escape sequences and NULs in text). `expectsClose`:
/// the daemon closes the connection after it.
enum HostileMessage {
    static let target = HostileFrames.Target(
        method: "io.imr.Cases.Open",
        parameters: [
            "caseId": "H-2", "claimNumber": "ADJ1", "employer": "Acme", "claimsAdministrator": "TPA",
            "injuredWorkerReference": "J.D.", "dateOfInjury": "2024-01-02", "coordinator": "maria",
        ]
    )

    static let absurd: [String] = [
        #"{"method":"io.imr.Cases.Open","parameters":{"caseId":"Y\u001b[2J","claimNumber":"1","employer":"\u0007","claimsAdministrator":"x","injuredWorkerReference":"x","dateOfInjury":"99999-01-01","coordinator":"m"}}"#,
        #"{"method":"io.imr.Deadlines.List","parameters":{"withinDays":-99999999999}}"#,
        #"{"method":"io.imr.Deadlines.List","parameters":{"withinDays":99999999999999999999999}}"#,
        #"{"method":"io.imr.Cases.Get","parameters":{"caseId":"A\u0000B"}}"#,
        #"{"method":"io.imr.Cases.AddNote","parameters":{"caseId":"H-1","text":"\u202Edevorppa"}}"#,
        #"{"method":"io.imr.Alerts.Snooze","parameters":{"alertId":"x","until":"0000-01-01T00:00"}}"#,
    ]

    static func next(_ random: inout SplitMix64) -> (bytes: [UInt8], expectsClose: Bool) {
        if random.next() % 5 == 0 {
            let n = Int(random.next() % UInt64(absurd.count + 1))
            if n == absurd.count {  // a 200 KB case id
                return (
                    Array(
                        ("{\"method\":\"io.imr.Cases.Get\",\"parameters\":{\"caseId\":\""
                            + String(repeating: "z", count: 200_000) + "\"}}").utf8
                    ) + [0], false
                )
            }
            return (Array(absurd[n].utf8) + [0], false)
        }
        let kinds = HostileFrames.Kind.allCases
        let kind = kinds[Int(random.next() % UInt64(kinds.count))]
        var generator = random
        let bytes = HostileFrames.message(kind, target: target, maximumMessageSize: 1 << 20, using: &generator)
        random = generator
        return (bytes, kind.closesConnection)
    }
}
