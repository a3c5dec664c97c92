import Foundation
import TestSupport
import Testing

/// `imr-bench load` runs end to end against the real daemon and every command it sends is
/// recorded (its figures belong in BENCHMARKS.md; nothing here is timed).
@Suite(.timeLimit(.minutes(3)))
struct LoadBenchTests {
    @Test func theLoadBenchmarkRecordsEveryCommandItSends() async throws {
        let bench = productsDirectory.appendingPathComponent("imr-bench").path
        let result = try await offPool {
            try run([
                bench, "load", "--clients", "1,3", "--cases", "12", "--raw-commits", "20", "--dir",
                FileManager.default.temporaryDirectory.path,
            ])
        }
        #expect(result.status == 0, "\(result.output)")
        // Raw SQLite is timed again before each client count's run.
        #expect(result.output.components(separatedBy: "durable one-row commits/s").count - 1 == 2, "\(result.output)")
        #expect(result.output.contains("  1 client "), "\(result.output)")
        #expect(result.output.contains("  3 clients "), "\(result.output)")
        #expect(!result.output.contains("failed"), "\(result.output)")
    }
}
