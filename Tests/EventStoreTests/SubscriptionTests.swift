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
