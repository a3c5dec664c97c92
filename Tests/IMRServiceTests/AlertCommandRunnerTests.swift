import Foundation
@testable import IMRService
import Logging
import Testing

/// The notification command is a peer like any other: one that misbehaves costs only itself.
@Suite struct AlertCommandRunnerTests {
    /// A command that never reads its stdin (a morning digest is more than a pipe holds) is
    /// killed at its timeout: the JSON is written on a thread of its own, so the write that
    /// cannot finish holds up neither the attempt nor a cooperative thread.
    @Test func aCommandThatNeverReadsItsStdinIsKilledAtItsTimeout() async {
        // As the daemon does at start: the write to the killed command's pipe then fails with EPIPE.
        signal(SIGPIPE, SIG_IGN)
        let runner = AlertCommandRunner(
            settings: .init(command: ["/bin/sleep", "30"], timeout: .seconds(1), maximumAttempts: 1),
            logger: Logger(label: "test")
        )
        let delivery = AlertCommandRunner.Delivery(
            name: "digest for maria",
            metadata: [:],
            environment: [:],
            json: Data(repeating: UInt8(ascii: " "), count: 1 << 20)
        )
        // Killed at its 1 s timeout. Had the write held up the attempt, the timeout would have
        // started only once `sleep 30` ended by itself, and the attempt would have succeeded.
        let outcome = await runner.runOnce(delivery, attempt: 1)
        #expect(outcome?.contains("timed out") == true, "\(outcome ?? "succeeded")")
    }

    /// The timeout fires while every cooperative thread is busy: a command given 1 s that would
    /// end by itself at 3 s is killed at 1 s even when the pool is blocked for 5 s (the timer was
    /// a task on the pool, so the command ran to its end and the attempt "succeeded").
    @Test func theTimeoutKillsTheCommandWhileTheCooperativePoolIsBusy() async throws {
        let runner = AlertCommandRunner(
            settings: .init(command: ["/bin/sleep", "3"], timeout: .seconds(1), maximumAttempts: 1),
            logger: Logger(label: "test")
        )
        let delivery = AlertCommandRunner.Delivery(name: "pool test", metadata: [:], environment: [:], json: Data())
        async let outcome = runner.runOnce(delivery, attempt: 1)
        // Let the command start, then hold every cooperative thread for 5 s.
        try await Task.sleep(for: .milliseconds(300))
        let blockers = (0..<max(2, ProcessInfo.processInfo.activeProcessorCount)).map { _ in
            Task.detached { _ = usleep(5_000_000) }
        }
        let result = await outcome
        for blocker in blockers { await blocker.value }
        #expect(result?.contains("timed out") == true, "\(result ?? "succeeded")")
    }
}
