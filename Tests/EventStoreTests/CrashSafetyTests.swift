import ChildProcess
import Foundation
import TestSupport
import Testing
@testable import EventStore

/// A child process appends in a loop and prints each acknowledged batch; the test kills it
/// with SIGKILL at random moments and checks the file after every round.
@Suite struct CrashSafetyTests {
    /// Reading the file through to warm the page cache (before a reset's drop) must not drop
    /// the process's locks on it: a descriptor of our own, once closed, released every POSIX
    /// lock the process held on the file, SQLite's too, so another process took the file as
    /// unused, checkpointed and removed the WAL the daemon went on writing to (the torture
    /// test's crash rounds then missed hundreds of acknowledged commands).
    @Test func warmingThePageCacheKeepsTheStoresLocks() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.path("log.sqlite")
        let store = try EventStore(path: path)
        defer { store.close() }
        try store.append(to: "s", expected: .any, events: [event("E")])
        func otherProcessLeavesWAL() throws -> (status: Int32, output: String) {
            try run(["sqlite3", "-cmd", ".timeout 200", path, "PRAGMA journal_mode = DELETE"])
        }
        // The store's shared lock on the file keeps another process from leaving WAL mode.
        let before = try otherProcessLeavesWAL()
        #expect(before.output.contains("locked") || before.status != 0, "\(before)")
        Writer.warmPageCache(path: path, minimumBytes: 0)
        let after = try otherProcessLeavesWAL()
        #expect(after.output.contains("locked") || after.status != 0, "the locks went with the warming: \(after)")
        #expect(RawConnection(path).int("SELECT COUNT(*) FROM events") == 1)
        try store.append(to: "s", expected: .any, events: [event("E")])
        #expect(try store.readAll(from: 1, limit: 10).count == 2)
    }

    @Test func everyAcknowledgedEventSurvivesSIGKILL_andNoTransactionIsHalfWritten() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.path("log.sqlite")
        let binary = productsDirectory.appendingPathComponent("imr-store-crashloop")
        try #require(
            FileManager.default.isExecutableFile(atPath: binary.path),
            "build imr-store-crashloop first (swift build)"
        )

        var acknowledged: Set<String> = []
        // The kill times are random; the seed replays them (IMR_PROPERTY_SEED).
        let seed = testSeed("CrashSafetyTests")
        var generator = SeededGenerator(seed: seed)
        for round in 1...12 {
            let process = SpawnedProcess()
            process.executableURL = binary
            process.arguments = [path, "round\(round)"]
            let out = Pipe.forChild()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.start()
            // Wait for the first acknowledgement so that every round writes, then kill at random.
            let reader = out.fileHandleForReading
            var text = ""
            while !text.contains("\n") {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 20...250, using: &generator)))
            process.send(SIGKILL)
            let exit = process.waitForExit()
            text += String(decoding: reader.readDataToEndOfFile(), as: UTF8.self)
            #expect(exit.signalled)

            // Only whole lines are acknowledgements: a line cut by the kill was never acknowledged.
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            for line in lines where line.hasPrefix("ACK ") {
                acknowledged.formUnion(line.dropFirst(4).split(separator: " ").map(String.init))
            }

            let store = try EventStore(path: path)
            let all = try await store.readAll(from: 1, limit: 10_000_000)
            let stored = Set(all.map { $0.id.uuidString.lowercased() })
            let lost = acknowledged.subtracting(stored)
            #expect(lost.isEmpty, "seed \(seed), round \(round): \(lost.count) acknowledged events are missing")
            // Each batch is written whole or not at all.
            var batches: [String: (count: Int, size: Int)] = [:]
            for e in all {
                let body = try JSONDecoder().decode([String: String].self, from: e.payloadData)
                let key = body["batch"]!
                batches[key, default: (0, Int(body["size"]!)!)].count += 1
            }
            let partial = batches.filter { $0.value.count != $0.value.size }
            #expect(partial.isEmpty, "round \(round): half-written batches \(partial.keys.sorted())")
            let report = try await store.verify()
            #expect(report.isIntact, "round \(round): \(report.problem ?? "")")
            store.close()
        }
        #expect(acknowledged.count > 12)
    }
}
