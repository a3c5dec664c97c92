import ChildProcess
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif
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

    /// The warming's readers share the file between them and together read all of it: after
    /// it, every page of a file just evicted from the page cache is back in memory.
    @Test func warmingThePageCacheReadsTheWholeFileWithItsReaders() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.path("big.sqlite")
        // About 123 MB, not a multiple of the readers' chunks: a reader's share (32 MiB) is
        // well beyond what the kernel reads ahead of the one before it (8 MiB on these VMs).
        let made = try run([
            "sqlite3", path,
            "CREATE TABLE t (x); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 29999) "
                + "INSERT INTO t SELECT randomblob(4000) FROM n",
        ])
        #expect(made.status == 0, "\(made.output)")
        /// The share of the file's pages in the page cache.
        func resident() -> Double {
            let fd = open(path, O_RDONLY)
            defer { close(fd) }
            var info = stat()
            guard fd >= 0, fstat(fd, &info) == 0, info.st_size > 0,
                let map = mmap(nil, Int(info.st_size), PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED
            else { return -1 }
            defer { munmap(map, Int(info.st_size)) }
            let pages = (Int(info.st_size) + 4095) / 4096
            var vector = [UInt8](repeating: 0, count: pages)
            guard mincore(map, Int(info.st_size), &vector) == 0 else { return -1 }
            return Double(vector.filter { $0 & 1 == 1 }.count) / Double(pages)
        }
        let fd = open(path, O_RDONLY)
        #expect(fd >= 0 && fsync(fd) == 0 && posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0)
        close(fd)
        let evicted = resident()
        // A file system that keeps everything in memory (tmpfs) cannot show it.
        guard evicted < 0.5 else { return }
        Writer.warmPageCache(path: path, minimumBytes: 0)
        #expect(resident() > 0.99, "evicted: \(evicted), after warming: \(resident())")
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
