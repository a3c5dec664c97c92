import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The short version of `imr-bench torture` (RELIABILITY.md has the nightly one and its
/// figures): the tool checks every invariant itself and exits 1 naming what broke, so this
/// test runs it and requires a clean pass. Latency and memory limits are looser than the
/// nightly run's, since CI machines are shared; the figures come from the nightly run.
@Suite(
    .serialized,
    .timeLimit(.minutes(8)),
    .enabled(if: geteuid() == 0, "the torture tool calls admin methods: run as root (CI does)")
)
struct TortureTests {
    func torture(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let bench = productsDirectory.appendingPathComponent("imr-bench").path
        let letters = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/fixtures/letters/pdf").path
        return try await LoadTestLock.shared.exclusively {
            try await offThePool {
                try run(
                    [bench, "torture", "--letters", letters, "--latency-limit-ms", "5000", "--rss-slack-mib", "256"]
                        + arguments
                )
            }
        }
    }

    /// Issue 12's crash test under group commit: kill -9 during a 32-client storm, 10 rounds
    /// (three cases a client: about 600 commands a round, the kill once 10-90% were answered).
    @Test func crashStormsAndKillsDuringWorkLoseNothingAcknowledged() async throws {
        let result = try await torture([
            "--phases", "crash,kills", "--rounds", "10", "--clients", "32", "--cases-per-client", "3",
        ])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("10 SIGKILL rounds under 32 clients"), "\(result.output)")
        #expect(result.output.contains("every kill came while the clients were still recording"), "\(result.output)")
        #expect(result.output.contains("re-importing 39 letters recorded nothing twice"), "\(result.output)")
        #expect(result.output.contains(" 0 failed"), "\(result.output)")
    }

    @Test func hostileFramesAndExhaustionCostOnlyTheAttackers() async throws {
        let result = try await torture([
            "--phases", "hostile,exhaustion", "--hostile", "3000", "--hostile-connections", "16",
            "--idle", "300", "--followers", "100",
        ])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("the daemon survived"), "\(result.output)")
        #expect(result.output.contains(" 0 failed"), "\(result.output)")
    }
}
