import Foundation
import Synchronization
import TestSupport
import Testing

/// The tests' `offThePool` (TestSupport): blocking code runs on a thread of its own, yet in the
/// calling test's task, so that what it records is that test's.
@Suite struct OffThePoolTests {
    /// An issue recorded inside the body is the running test's: `withKnownIssue` sees it (from a
    /// detached thread it was reported for an «unknown» test, and this block would fail).
    @Test func whatTheBodyRecordsIsTheRunningTests() async throws {
        await withKnownIssue("recorded inside offThePool, on purpose") {
            try await offThePool { () -> Void in
                Issue.record("recorded inside offThePool")
            }
        }
    }

    /// Four bodies that wait for each other all run at once: none of them holds a thread of the
    /// cooperative pool (two threads on a two-core machine, where four waiting bodies on it
    /// would never meet).
    @Test func bodiesThatBlockDoNotTakeThePoolsThreads() async throws {
        let arrived = Arrivals()
        let met = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    try await offThePool { () -> Bool in
                        arrived.count.add(1, ordering: .relaxed)
                        // Long: in the whole suite a child task may wait tens of seconds for a
                        // thread of the pool to start on; the four meet at once when they can.
                        let deadline = Date().addingTimeInterval(180)
                        while arrived.count.load(ordering: .relaxed) < 4 && Date() < deadline { usleep(1000) }
                        return arrived.count.load(ordering: .relaxed) == 4
                    }
                }
            }
            return try await group.reduce(true) { $0 && $1 }
        }
        #expect(met, "the four bodies never ran at the same time")
    }

    /// The body's value and error come back to the caller.
    @Test func theBodysValueAndErrorComeBack() async throws {
        #expect(try await offThePool { 6 * 7 } == 42)
        struct Refused: Error {}
        await #expect(throws: Refused.self) { try await offThePool { () throws -> Int in throw Refused() } }
    }
}

/// How many bodies have arrived, shared by them.
private final class Arrivals: Sendable {
    let count = Atomic<Int>(0)
}
