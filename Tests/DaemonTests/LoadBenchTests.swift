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
                bench, "load", "--clients", "1,3", "--cases", "12", "--raw-commits", "20", "--rounds", "2", "--dir",
                FileManager.default.temporaryDirectory.path,
            ])
        }
        #expect(result.status == 0, "\(result.output)")
        // Raw SQLite is timed before the first run and after each of the four (two rounds of two
        // client counts); each count ends with a line of its medians.
        #expect(result.output.components(separatedBy: "durable one-row commits/s").count - 1 == 5, "\(result.output)")
        #expect(result.output.components(separatedBy: "  1 client           ").count - 1 == 2, "\(result.output)")
        #expect(result.output.components(separatedBy: "  3 clients          ").count - 1 == 2, "\(result.output)")
        #expect(result.output.contains("  1 client  median of 2: "), "\(result.output)")
        #expect(result.output.contains("  3 clients median of 2: "), "\(result.output)")
        #expect(!result.output.contains("failed"), "\(result.output)")
    }
}
