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
}
