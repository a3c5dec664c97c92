import ChildProcess
import Foundation
import Logging
import Workflow

#if canImport(Glibc)
import Glibc
#endif

/// Runs the operator's notification command for a raised alert or a morning digest. The
/// daemon runs each delivery as a child task of its notification service, so a slow, hanging
/// or failing command never holds up the scheduler or other alerts.
///
/// A command that exits without reading its stdin must not end the daemon with SIGPIPE: the
/// daemon ignores SIGPIPE for the whole process at start (imr-daemon's `start`).
///
/// The command gets the alert as environment variables (IMR_ALERT_ID, IMR_CASE, IMR_RULE,
/// IMR_LEVEL, IMR_DEADLINE, IMR_DUE, IMR_SCHEDULED, IMR_RAISED, IMR_LATE, IMR_COORDINATOR,
/// IMR_ATTEMPT) and as one JSON object on stdin. Exit status 0 is success; anything else, or
/// running past the timeout (then it is killed), is a failure: logged, and tried again after
/// an exponentially growing delay, up to ``Settings/maximumAttempts`` times. Pending retries
/// are not kept across a restart (the alert itself is in the log and listed by
/// `imr-ctl alerts`).
package final class AlertCommandRunner: Sendable {
    package struct Settings: Sendable, Hashable {
        /// The program and its arguments; the program is looked up in PATH when not absolute.
        package var command: [String]
        package var timeout: Duration
        package var maximumAttempts: Int
        /// The delay before the second attempt; each later one doubles it, up to ``maximumDelay``.
        package var initialDelay: Duration
        package var maximumDelay: Duration

        package init(
            command: [String],
            timeout: Duration = .seconds(30),
            maximumAttempts: Int = 8,
            initialDelay: Duration = .seconds(5),
            maximumDelay: Duration = .seconds(600)
        ) {
            self.command = command
            self.timeout = timeout
            self.maximumAttempts = maximumAttempts
            self.initialDelay = initialDelay
            self.maximumDelay = maximumDelay
        }
    }

    package let settings: Settings
    let logger: Logger

    package init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    /// What the command is run with: a name for the journal (`alert 3f2a…`, `digest for maria`),
    /// journal fields, environment variables (IMR_ATTEMPT is added) and the JSON on stdin.
    package struct Delivery: Sendable {
        package var name: String
        package var metadata: [String: String]
        package var environment: [String: String]
        package var json: Data

        package init(name: String, metadata: [String: String], environment: [String: String], json: Data) {
            self.name = name
            self.metadata = metadata
            self.environment = environment
            self.json = json
        }

        /// A raised alert.
        package init(_ alert: AlertRaised) {
            self.init(
                name: "alert \(alert.alertId.uuidString.lowercased())",
                metadata: ["alert.id": alert.alertId.uuidString.lowercased(), "case.id": alert.caseId.rawValue],
                environment: AlertCommandRunner.environment(alert, attempt: 0).filter { $0.key != "IMR_ATTEMPT" },
                json: AlertCommandRunner.json(alert)
            )
        }
    }

    /// Tries until the command succeeds or the attempts run out; true on success.
    package func deliverWithRetries(_ alert: AlertRaised) async -> Bool {
        await deliverWithRetries(Delivery(alert))
    }

    /// Tries until the command succeeds or the attempts run out; true on success.
    package func deliverWithRetries(_ delivery: Delivery) async -> Bool {
        var delay = settings.initialDelay
        for attempt in 1...max(1, settings.maximumAttempts) {
            let outcome = await runOnce(delivery, attempt: attempt)
            var metadata: Logger.Metadata = [
                "message.id": .string(LogMessageID.alertCommandFailed),
                "attempt": .string("\(attempt)"),
            ]
            for (key, value) in delivery.metadata { metadata[key] = .string(value) }
            guard let failure = outcome else {
                logger.debug("alert command succeeded for \(delivery.name) on attempt \(attempt)")
                return true
            }
            if attempt == settings.maximumAttempts {
                logger.error(
                    "alert command failed for \(delivery.name) (\(failure)); giving up after \(attempt) attempts",
                    metadata: metadata
                )
                return false
            }
            logger.warning(
                "alert command failed for \(delivery.name) (\(failure)); attempt \(attempt + 1) in \(delay)",
                metadata: metadata
            )
            do { try await Task.sleep(for: delay) } catch { return false }
            delay = min(delay * 2, settings.maximumDelay)
        }
        return false
    }

    /// The environment variables describing an alert.
    package static func environment(_ alert: AlertRaised, attempt: Int) -> [String: String] {
        [
            "IMR_ALERT_ID": alert.alertId.uuidString.lowercased(),
            "IMR_CASE": alert.caseId.rawValue,
            "IMR_RULE": alert.rule.rawValue,
            "IMR_LEVEL": alert.level.rawValue,
            "IMR_DEADLINE": alert.deadlineId,
            "IMR_DUE": Pacific.rfc3339(alert.due),
            "IMR_SCHEDULED": Pacific.rfc3339(alert.scheduledAt),
            "IMR_RAISED": Pacific.rfc3339(alert.raisedAt),
            "IMR_LATE": alert.late ? "true" : "false",
            "IMR_COORDINATOR": alert.coordinator,
            "IMR_ATTEMPT": "\(attempt)",
        ]
    }

    /// The alert as the JSON object on the command's stdin (the io.imr.Alerts field names).
    package static func json(_ alert: AlertRaised) -> Data {
        let object: [String: Any] = [
            "alertId": alert.alertId.uuidString.lowercased(), "caseId": alert.caseId.rawValue,
            "rule": alert.rule.rawValue,
            "deadlineId": alert.deadlineId, "level": alert.level.rawValue, "due": Pacific.rfc3339(alert.due),
            "scheduledAt": Pacific.rfc3339(alert.scheduledAt), "raisedAt": Pacific.rfc3339(alert.raisedAt),
            "late": alert.late, "coordinator": alert.coordinator,
        ]
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
    }

    /// One run; nil on success, else what went wrong.
    func runOnce(_ alert: AlertRaised, attempt: Int) async -> String? {
        await runOnce(Delivery(alert), attempt: attempt)
    }

    /// One run; nil on success, else what went wrong.
    func runOnce(_ delivery: Delivery, attempt: Int) async -> String? {
        guard !settings.command.isEmpty else { return nil }
        let process = ProcessBox()
        let p = process.process
        if settings.command[0].hasPrefix("/") {
            p.executableURL = URL(fileURLWithPath: settings.command[0])
            p.arguments = Array(settings.command.dropFirst())
        } else {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = settings.command
        }
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in delivery.environment { environment[key] = value }
        environment["IMR_ATTEMPT"] = "\(attempt)"
        p.environment = environment
        let input = Pipe.forChild()
        p.standardInput = input
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        let json = delivery.json
        let writer = input.fileHandleForWriting
        let timeout = settings.timeout
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) * 1e-18
        // Started, written to, reaped and timed on threads of their own, none of them one of
        // the cooperative threads that answer calls: spawning and reaping block; a command that
        // never reads its stdin (a digest is more than a pipe holds) blocks its writer until it
        // exits or is killed; and the timeout runs from the spawn on the reaping thread, so it
        // fires on time however busy the pool is (a timer task on the pool fired only once a
        // thread came free: in a full test run, after the command had ended by itself).
        let exit = await withCheckedContinuation { (continuation: CheckedContinuation<ChildExit?, Never>) in
            Thread {
                guard (try? process.process.start()) != nil else {
                    try? writer.close()
                    return continuation.resume(returning: nil)
                }
                Thread {
                    try? writer.write(contentsOf: json)
                    try? writer.close()
                }.start()
                if let exit = process.process.waitForExit(seconds: seconds) {
                    return continuation.resume(returning: exit)
                }
                process.kill()
                continuation.resume(returning: process.process.waitForExit())
            }.start()
        }
        guard let exit else { return "cannot start \(settings.command[0])" }
        if process.timedOut { return "timed out after \(settings.timeout) and was killed" }
        return exit.succeeded ? nil : exit.description
    }
}

/// A child process and whether its timeout killed it.
/// @unchecked Sendable: `process` is configured before `run()` by one task; afterwards only
/// its pid and ChildProcess's locked reaping are used, and `killed` sits behind a lock.
private final class ProcessBox: @unchecked Sendable {
    let process = SpawnedProcess()
    private let lock = NSLock()
    private var killed = false

    var timedOut: Bool { lock.withLock { killed } }

    /// Kills the command if it is still running.
    func kill() {
        guard process.poll() == nil else { return }
        lock.withLock { killed = true }
        process.send(SIGKILL)
    }
}
