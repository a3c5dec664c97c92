import Foundation
import TestSupport
import Testing

/// `imr-bench load` runs end to end against the real daemon and every command it sends is
/// recorded (its figures belong in BENCHMARKS.md; nothing here is timed).
@Suite(.timeLimit(.minutes(3)))
struct LoadBenchTests {
    @Test func theLoadBenchmarkRecordsEveryCommandItSends() async throws {
        let bench = productsDirectory.appendingPathComponent("imr-bench").path
        let result = try await offThePool {
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
        // After each run, the daemon's commits as its status counted them, and raw SQLite timed
        // writing as many pages a commit: the raw commits write the pages asked of them, and a
        // lone client's calls (a few write nothing) come to about one a commit.
        let shapes = result.output.split(separator: "\n").filter { $0.contains("its commits: ") }
        #expect(shapes.count == 4, "\(result.output)")
        for line in shapes {
            let numbers = line.split(whereSeparator: { " (),%/".contains($0) }).compactMap { Double($0) }
            // calls a commit, pages a commit, pages asked, raw commits/s, pages counted, ...
            #expect(numbers.count >= 5 && numbers[1] >= 3 && abs(numbers[2] - numbers[1]) <= 0.55, "\(line)")
            #expect(numbers.count >= 5 && numbers[4] == numbers[2], "\(line)")
        }
        let lone = shapes.prefix(2).compactMap { line in
            line.split(separator: " ").firstIndex(of: "calls").map { line.split(separator: " ")[$0 - 1] }
        }
        #expect(lone.count == 2 && lone.compactMap { Double($0) }.allSatisfy { $0 >= 0.9 && $0 <= 1.5 }, "\(shapes)")
        #expect(result.output.contains("; raw SQLite at its pages a commit "), "\(result.output)")
    }
}
