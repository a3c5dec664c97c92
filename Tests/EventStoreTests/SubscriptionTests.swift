import Foundation
import Synchronization
import Testing
@testable import EventStore

@Suite struct SubscriptionTests {
    @Test func catchesUpThenGoesLiveInOrder_withABackupTakenInTheMiddle() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"))
        defer { store.close() }
        for i in 1...300 {
            try await store.append(to: "s-\(i % 7)", expected: .any, events: [event("Old", #"{"i":\#(i)}"#)])
        }

        let total = 600
        let reader = Task { () throws -> [RecordedEvent] in
            var seen: [RecordedEvent] = []
            for try await e in store.subscribe(from: 1) {
                seen.append(e)
                if seen.count == total { break }
            }
            return seen
        }
        let writer = Task {
            for i in 301...total {
                try await store.append(to: "s-\(i % 7)", expected: .any, events: [event("New", #"{"i":\#(i)}"#)])
                if i == 450 {
                    let report = try await store.backup(to: dir.path("backup.sqlite"))
                    #expect(report.headPosition >= 450)
                    #expect(report.events == report.headPosition)
                }
                if i % 50 == 0 { await Task.yield() }
            }
        }
        try await writer.value
        let seen = try await reader.value
        #expect(seen.map(\.position) == Array(1...Int64(total)))
        #expect(seen.prefix(300).allSatisfy { $0.type == "Old" })
        #expect(seen.suffix(300).allSatisfy { $0.type == "New" })

        // The backup is a consistent, verifiable event log of its own.
        let copy = try EventStore(path: dir.path("backup.sqlite"))
        defer { copy.close() }
        let report = try await copy.verify()
        #expect(report.isIntact)
        #expect(report.eventsChecked >= 450 && report.eventsChecked <= Int64(total))
        await #expect(try copy.readAll(from: 1, limit: 1000) == Array(seen.prefix(Int(report.eventsChecked))))
    }

    /// A follower at the head reads the log once per commit: a short read says it reached the
    /// head, so it waits for the next commit instead of reading again to find nothing (every
    /// commit woke each follower for two reads, one of them empty).
    @Test func aFollowerAtTheHeadReadsOncePerCommit() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"))
        defer { store.close() }
        let reads = Atomic<Int>(0)
        let follower = LogSubscription<StreamChange>(store: store, next: 1) {
            (store, from, limit) async throws(EventStoreError) in
            reads.add(1, ordering: .relaxed)
            return try await store.streamChanges(from: from, limit: limit)
        }
        let consumed = Atomic<Int64>(0)
        let reader = Task {
            for try await change in follower {
                consumed.store(change.position, ordering: .relaxed)
                if change.position == 20 { break }
            }
        }
        for n in 1...20 {
            // The follower waits at the head (it has taken every event) when the commit comes.
            try await Task.sleep(for: .milliseconds(5))
            try await store.append(to: "s", expected: .any, events: [event()])
            while consumed.load(ordering: .relaxed) < n { try await Task.sleep(for: .milliseconds(1)) }
        }
        try await reader.value
        // The first read finds the log empty; then one a commit (before: two, one of them empty).
        #expect(reads.load(ordering: .relaxed) <= 21, "\(reads.load(ordering: .relaxed)) reads for 20 commits")
    }

    /// Waiting for a commit reads nothing: it ends with the commit, or false once the store closes.
    @Test func waitingForACommitEndsWithIt_orWithTheStore() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"))
        try await store.append(to: "s", expected: .any, events: [event()])
        #expect(await store.waitForCommit(after: 0), "a commit already past 0")
        let waiter = Task { await store.waitForCommit(after: 1) }
        try await Task.sleep(for: .milliseconds(20))
        try await store.append(to: "s", expected: .any, events: [event()])
        #expect(await waiter.value)
        let closing = Task { await store.waitForCommit(after: 2) }
        try await Task.sleep(for: .milliseconds(20))
        store.close()
        #expect(await closing.value == false)
    }

    @Test func subscribingFromAPositionSkipsEarlierEvents() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"))
        defer { store.close() }
        for _ in 1...10 { try await store.append(to: "s", expected: .any, events: [event()]) }
        var positions: [Int64] = []
        for try await e in store.subscribe(from: 8) {
            positions.append(e.position)
            if e.position == 10 { break }
        }
        #expect(positions == [8, 9, 10])
    }

    @Test func cancellationEndsAWaitingSubscriptionCleanly() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"))
        defer { store.close() }
        try await store.append(to: "s", expected: .any, events: [event()])
        let (seen, saw) = AsyncStream<Void>.makeStream()
        let task = Task { () throws -> Int in
            var count = 0
            for try await _ in store.subscribe(from: 1) {
                count += 1
                saw.yield()
            }
            return count
        }
        // Cancelled once it waits at the head (a read in flight would be interrupted instead).
        for await _ in seen { break }
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        #expect(try await task.value == 1)
        // Appends after the subscriber left still work.
        try await store.append(to: "s", expected: .any, events: [event()])
        await #expect(try store.headPosition() == 2)
    }

    @Test func closingTheStoreEndsSubscriptions() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"))
        let task = Task { () throws -> Int in
            var count = 0
            for try await _ in store.subscribe() { count += 1 }
            return count
        }
        try await Task.sleep(for: .milliseconds(100))
        store.close()
        #expect(try await task.value == 0)
    }

    @Test func aSubscriberThatNeverReadsDoesNotBlockAppends() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"), options: .init(synchronous: .normal))
        defer { store.close() }
        // An iterator that was started and then left unread.
        var stalled = store.subscribe().makeAsyncIterator()
        try await store.append(to: "s", expected: .any, events: [event()])
        _ = try await stalled.next()
        for _ in 0..<2000 { try await store.append(to: "s", expected: .any, events: [event()]) }
        await #expect(try store.headPosition() == 2001)
        #expect(try await stalled.next()?.position == 2)
    }
}

@Suite struct StreamChangeSubscriptionTests {
    /// The last commits' stream changes are kept in memory while they are told in order; a
    /// commit told late, or without its changes, makes what comes before the next one unknown
    /// (nil: read the file), and the oldest are let go past the capacity.
    @Test func recentChangesCoverTheLastCommitsInOrder_orSayTheyCannot() {
        let watcher = HeadWatcher(head: 10, recentCapacity: 4)
        #expect(watcher.recentChanges(from: 11, limit: 10) == [], "nothing after the head yet")
        #expect(watcher.recentChanges(from: 10, limit: 10) == nil, "the head itself was written before")
        let a = [StreamChange(position: 11, streamId: "a"), StreamChange(position: 12, streamId: "b")]
        watcher.advance(to: 12, changes: a)
        watcher.advance(to: 13, changes: [StreamChange(position: 13, streamId: "c")])
        #expect(watcher.recentChanges(from: 11, limit: 10)?.map(\.streamId) == ["a", "b", "c"])
        #expect(watcher.recentChanges(from: 12, limit: 1)?.map(\.streamId) == ["b"])
        #expect(watcher.recentChanges(from: 14, limit: 10) == [])
        // A commit told without its changes: nothing up to it is known any more.
        watcher.advance(to: 15)
        #expect(watcher.recentChanges(from: 13, limit: 10) == nil)
        #expect(watcher.recentChanges(from: 16, limit: 10) == [])
        // Told out of order: 17 before 16. 16 is not known, nor is 17 (it did not follow the head).
        watcher.advance(to: 17, changes: [StreamChange(position: 17, streamId: "late")])
        watcher.advance(to: 16, changes: [StreamChange(position: 16, streamId: "early")])
        #expect(watcher.recentChanges(from: 16, limit: 10) == nil)
        #expect(watcher.recentChanges(from: 17, limit: 10) == nil)
        #expect(watcher.currentHead == 17)
        // In order again; past twice the capacity the oldest go.
        for p in Int64(18)...Int64(26) {
            watcher.advance(to: p, changes: [StreamChange(position: p, streamId: "s\(p)")])
        }
        #expect(watcher.recentChanges(from: 18, limit: 10) == nil, "let go")
        #expect(watcher.recentChanges(from: 23, limit: 10)?.map(\.position) == [23, 24, 25, 26])
    }

    /// An observer of commits is called by the committing thread with each commit's stream
    /// changes (async groups, synchronous appends and batches), and no more once cancelled.
    @Test func anObserverHearsEachCommitsChanges_untilCancelled() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"))
        defer { store.close() }
        try await store.append(to: "before", expected: .any, events: [event()])
        let heard = Mutex<[StreamChange]>([])
        let observation = store.observeCommits { changes in heard.withLock { $0 += changes ?? [] } }
        try await store.append(to: "a", expected: .any, events: [event(), event()])
        func synchronousWrites() throws {
            try store.append(to: "b", expected: .any, events: [event()])
            _ = try store.append(batch: [AppendRequest(streamId: "c", expected: .any, events: [event()])])
        }
        try synchronousWrites()
        #expect(heard.withLock { $0.map(\.streamId) } == ["a", "a", "b", "c"])
        #expect(heard.withLock { $0.map(\.position) } == [2, 3, 4, 5])
        observation.cancel()
        try await store.append(to: "after", expected: .any, events: [event()])
        #expect(heard.withLock { $0.count } == 4)
    }

    /// A rebuild changes the read models with no event committed: its end is told to the
    /// observers (nil: changes not known), so that the alert scheduler looks at the rebuilt
    /// deadlines at once instead of at its next timed pass; a catch-up with nothing to
    /// rebuild tells nothing.
    @Test func anObserverHearsTheEndOfARebuild() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"), projections: [StreamSummary()])
        defer { store.close() }
        for i in 0..<30 { try store.append(to: "s\(i % 4)", expected: .any, events: [event()]) }
        let unknown = Mutex(0)
        let observation = store.observeCommits { changes in if changes == nil { unknown.withLock { $0 += 1 } } }
        defer { observation.cancel() }
        try store.finishRebuilds(progress: nil)
        #expect(unknown.withLock { $0 } == 0)
        try store.rebuildProjections(named: ["stream_summary"], batchSize: 7, progress: nil)
        #expect(unknown.withLock { $0 } == 1)
        try store.rebuildProjections(named: ["stream_summary"], progress: nil)
        #expect(unknown.withLock { $0 } == 2)
    }

    /// A follower of the stream changes near the head reads them from memory, not the file, and
    /// sees every change once, in order, whichever way the commits were made (async appends in
    /// groups, synchronous appends racing from several threads, batches, a write whose body threw).
    @Test func aFollowerNearTheHeadReadsNothing_andMissesNothing() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"))
        defer { store.close() }
        try await store.append(to: "first", expected: .any, events: [event()])
        let total: Int64 = 1 + 40 + 4 * 25 + 10 + 1
        let readsBefore = store.readPool.jobsTaken.load(ordering: .relaxed)
        let follower = Task { () throws -> [StreamChange] in
            var seen: [StreamChange] = []
            for try await change in store.subscribeToStreams(from: 1) {
                seen.append(change)
                if change.position == total { break }
            }
            return seen
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<40 {
                group.addTask { try await store.append(to: "async-\(i % 5)", expected: .any, events: [event()]) }
            }
            try await group.waitForAll()
        }
        // Four threads appending at once: their commits may be told out of order.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let left = Atomic<Int>(4)
            for t in 0..<4 {
                Thread.detachNewThread {
                    for _ in 0..<25 { _ = try? store.append(to: "thread-\(t)", expected: .any, events: [event()]) }
                    if left.subtract(1, ordering: .relaxed).newValue == 0 { done.resume() }
                }
            }
        }
        // The synchronous ones (a nested function, so that the async overloads are not taken).
        func synchronousWrites() throws {
            _ = try store.append(
                batch: (0..<5).map {
                    AppendRequest(streamId: "batch-\($0)", expected: .any, events: [event(), event()])
                }
            )
            struct Refused: Error {}
            _ = try? store.write { context in
                try context.append(to: "thrown", expected: .any, events: [event()])
                throw Refused()
            }
            try store.append(to: "last", expected: .any, events: [event()])
        }
        try synchronousWrites()
        let seen = try await follower.value
        let stored = try await store.streamChanges(from: 1, limit: 1000)
        #expect(seen == stored)
        #expect(seen.map(\.position) == Array(1...total))
        #expect(!seen.contains { $0.streamId == "thrown" })
        // Reads only where racing commits were told out of order (at most one per such commit),
        // not one per commit (about 150 commits here).
        let reads = store.readPool.jobsTaken.load(ordering: .relaxed) - readsBefore
        #expect(reads < 30, "\(reads) reads of the file")
    }

    @Test func followsStreamIdsFromStoredToLive() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"))
        defer { store.close() }
        try await store.append(to: "a", expected: .any, events: [event(), event()])
        try await store.append(to: "b", expected: .any, events: [event()])
        let task = Task { () throws -> [StreamChange] in
            var seen: [StreamChange] = []
            for try await change in store.subscribeToStreams(from: 2) {
                seen.append(change)
                if seen.count == 3 { break }
            }
            return seen
        }
        try await Task.sleep(for: .milliseconds(50))
        try await store.append(to: "c", expected: .any, events: [event()])
        #expect(
            try await task.value == [
                StreamChange(position: 2, streamId: "a"), StreamChange(position: 3, streamId: "b"),
                StreamChange(position: 4, streamId: "c"),
            ]
        )
    }
}
