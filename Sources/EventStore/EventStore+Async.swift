import CSQLite
import Foundation
import Synchronization

// The store for async callers: nothing here blocks a cooperative thread. Writes go to the
// writer thread and are committed in groups; reads run on the reader threads.
extension EventStore {
    // MARK: - Writing

    /// Runs `body` on the writer thread, inside the transaction of the next group, and
    /// returns once that transaction is durable.
    ///
    /// Writes that arrive while a group commits wait and are committed together in the next
    /// transaction: one fsync for all of them (group commit). Each runs in a savepoint of its
    /// own: when `body` throws, what it wrote is rolled back and its caller hears the error,
    /// while the group's other writes stand. A failure of the storage itself (disk full, I/O
    /// error) rolls back the whole group and every caller in it hears it. Positions follow
    /// the order the writes ran in, which is commit order.
    public func write<T: Sendable>(_ body: @escaping @Sendable (WriteContext) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = WriteJob(
                run: { context in
                    let outcome = context.writer.savepointCatching { try body(context) }
                    switch outcome {
                    case .success(let value):
                        return .succeeded { continuation.resume(returning: value) }
                    case .failure(let error):
                        if let failure = context.storageFailure { return .groupFailed(failure) }
                        if let failure = error as? EventStoreError, !EventStore.requestLevelKinds.contains(failure.kind)
                        {
                            return .groupFailed(failure)
                        }
                        if !context.writer.db.isInTransaction {
                            return .groupFailed(
                                EventStoreError(.storage, "SQLite rolled back the transaction after: \(error)")
                            )
                        }
                        return .failedAlone { continuation.resume(throwing: error) }
                    }
                },
                fail: { continuation.resume(throwing: $0) }
            )
            if !writeQueue.submit(job) { continuation.resume(throwing: closedError) }
        }
    }

    /// Runs `body` in a transaction of its own on the calling thread (for tools, tests and
    /// start-up): the same context as the async `write(_:)` without the group. A body that
    /// throws rolls the transaction back: nothing it wrote stays.
    ///
    /// No savepoint around `body` (the transaction is its own): each append in it opens one,
    /// and under an enclosing savepoint SQLite keeps the undo record of every page the whole
    /// body changed and walks it at each append's release (a seed of thousands of cases a
    /// transaction slowed to a tenth as the store grew).
    public func write<T>(_ body: (WriteContext) throws -> T) throws -> T {
        var afterCommit: [() -> Void] = []
        var changes: [StreamChange] = []
        var bodyFailure: (any Error)?
        let value: T
        let last: Int64?
        do {
            (value, last) = try withWriter { (w: Writer) throws(EventStoreError) -> (T, Int64?) in
                try w.transaction(doing: "write") { () throws(EventStoreError) -> (T, Int64?) in
                    let context = WriteContext(writer: w, projections: projections, group: GroupValues())
                    do {
                        let value = try body(context)
                        afterCommit = context.afterCommit
                        changes = context.changes
                        return (value, context.lastPosition)
                    } catch {
                        if let failure = context.storageFailure { throw failure }
                        // Rolls the transaction back; the caller hears the body's own error.
                        bodyFailure = error
                        throw EventStoreError(.storage, "rolled back after: \(error)")
                    }
                }
            }
        } catch {
            throw bodyFailure ?? error
        }
        for body in afterCommit { body() }
        if let last { headWatcher.advance(to: last, changes: changes) }
        return value
    }

    /// Appends events to a stream from an async caller (see ``append(to:expected:events:)``),
    /// committed with whatever other writes are waiting.
    @discardableResult
    public func append(
        to streamId: String,
        expected: ExpectedVersion,
        events: [NewEvent]
    ) async throws(EventStoreError) -> AppendResult {
        do {
            return try await write { context in try context.append(to: streamId, expected: expected, events: events) }
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw EventStoreError(.storage, "\(error)")
        }
    }

    /// Appends to several streams in the next group's transaction; each request succeeds or
    /// fails on its own, a storage failure fails them all.
    public func append(
        batch requests: [AppendRequest]
    ) async throws(EventStoreError) -> [Result<AppendResult, EventStoreError>] {
        do {
            return try await write { context in
                requests.map { request in
                    Result { () throws(EventStoreError) in
                        try context.append(to: request.streamId, expected: request.expected, events: request.events)
                    }
                }
            }
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw EventStoreError(.storage, "\(error)")
        }
    }

    /// Interrupts the async reads running (`sqlite3_interrupt`), abandons those waiting and
    /// refuses new ones with `.interrupted`, while writes go on: a stopping daemon calls it so
    /// that an export or a verify of a large log cannot hold up its exit. Synchronous reads
    /// and the writer are unaffected; ``close()`` still closes everything.
    public func stopReads() {
        readPool.stopReads(
            EventStoreError(
                .interrupted,
                "the daemon is stopping; reads of \(path) are no longer served: ask again once it is back"
            )
        )
    }

    /// The position of the last committed event, as this process knows it (no read).
    public var committedHead: Int64 { headWatcher.currentHead }

    /// Waits until an event after `position` commits, reading nothing: for a follower that only
    /// needs to know that something did. False once the store closes or the task is cancelled.
    public func waitForCommit(after position: Int64) async -> Bool {
        await headWatcher.wait(after: position)
    }

    /// Calls `observer` with the stream changes of each commit from now on (nil when a commit's
    /// are not known: read them with ``streamChanges(from:limit:)``) until the observation is
    /// cancelled or released; and with nil when a rebuild of projections ends (their rows
    /// changed with no event committed). `observer` runs on the committing thread just after
    /// the commit: it must only note what it needs and return (ring a doorbell, say), never block.
    public func observeCommits(_ observer: @escaping @Sendable ([StreamChange]?) -> Void) -> CommitObservation {
        CommitObservation(watcher: headWatcher, id: headWatcher.observe(observer))
    }

    /// What the store has written since it opened (see ``WriteFigures``).
    public var writeFigures: WriteFigures {
        WriteFigures(
            commits: writeCounters.commits.load(ordering: .relaxed),
            pagesWritten: writeCounters.pages.load(ordering: .relaxed),
            groups: writeQueue.groups.load(ordering: .relaxed),
            writes: writeQueue.jobs.load(ordering: .relaxed)
        )
    }

    /// Commits one group: run on the writer thread.
    static func commit(
        _ jobs: [WriteJob],
        writer: WriterLock,
        projections: [any Projection],
        headWatcher: HeadWatcher,
        closed: EventStoreError
    ) {
        var succeeded: [() -> Void] = []
        var afterCommit: [() -> Void] = []
        var changes: [StreamChange] = []
        var refused: [() -> Void] = []
        var refusedJobs = Set<ObjectIdentifier>()
        let group = GroupValues()
        var last: Int64 = 0
        let failure = writer.mutex.withLock { (w: inout Writer?) -> EventStoreError? in
            guard let w else { return closed }
            do throws(EventStoreError) {
                try w.transaction(doing: "commit \(jobs.count) write\(jobs.count == 1 ? "" : "s")") {
                    () throws(EventStoreError) in
                    for job in jobs {
                        let context = WriteContext(writer: w, projections: projections, group: group)
                        switch job.run(context) {
                        case .succeeded(let done):
                            succeeded.append(done)
                            afterCommit += context.afterCommit
                            changes += context.changes
                            last = max(last, context.lastPosition ?? 0)
                        case .failedAlone(let done):
                            refused.append(done)
                            refusedJobs.insert(ObjectIdentifier(job))
                        case .groupFailed(let error):
                            throw error
                        }
                    }
                }
                return nil
            } catch {
                return error
            }
        }
        for done in refused { done() }
        if let failure {
            // Every write of the group is rolled back: each caller whose write had stood hears why,
            // and so do those not reached.
            for job in jobs where !refusedJobs.contains(ObjectIdentifier(job)) { job.fail(failure) }
            return
        }
        for body in afterCommit { body() }
        if last > 0 { headWatcher.advance(to: last, changes: changes.sorted { $0.position < $1.position }) }
        for done in succeeded { done() }
        writer.mutex.withLock { $0?.catchUpCheckpoint() }
    }

    // MARK: - Reading

    /// Runs `body` on a reader thread's connection; the calling task suspends meanwhile. A
    /// cancelled caller withdraws a read not yet started and interrupts one that is running.
    func onReader<T: Sendable>(
        doing action: String,
        lane: ReadLane = .interactive,
        _ body: @escaping @Sendable (SQLiteConnection) throws -> T
    ) async throws -> T {
        let slot = Mutex<(job: ReadPool.Job?, cancelled: Bool)>((nil, false))
        let path = self.path
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                let job = ReadPool.Job(
                    lane: lane,
                    run: { db in
                        do {
                            continuation.resume(returning: try body(db))
                        } catch let error as SQLiteError {
                            continuation.resume(throwing: EventStoreError.from(error, path: path, doing: action))
                        } catch {
                            continuation.resume(throwing: error)
                        }
                    },
                    abandon: { continuation.resume(throwing: $0) }
                )
                let cancelled = slot.withLock { s -> Bool in
                    s.job = job
                    return s.cancelled
                }
                guard readPool.submit(job) else {
                    continuation.resume(throwing: closedError)
                    return
                }
                if cancelled { readPool.cancel(job) }
            }
        } onCancel: {
            let job = slot.withLock { s -> ReadPool.Job? in
                s.cancelled = true
                return s.job
            }
            if let job { readPool.cancel(job) }
        }
    }

    /// Runs synchronous work that reads the store (the query helpers of the read models, say)
    /// on a reader thread: every synchronous read it makes uses that thread's connection, so
    /// it never blocks a cooperative thread and a cancelled caller interrupts it.
    ///
    /// `lane` `.bulk` (the default) for work that may take long; `.interactive` for short reads
    /// a person or the service manager waits for, which one reader thread keeps for itself.
    public func offload<T: Sendable>(
        doing action: String = "query",
        lane: ReadLane = .bulk,
        _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try await onReader(doing: action, lane: lane) { _ in try body() }
    }

    /// The events of one stream with a version at or after `version`, in order.
    public func read(
        stream streamId: String,
        from version: Int64 = 1,
        limit: Int = .max
    ) async throws(EventStoreError) -> [RecordedEvent] {
        try await storeErrors {
            try await onReader(doing: "read stream '\(streamId)'") { db in
                try Query.stream(db, streamId, from: version, limit: limit)
            }
        }
    }

    /// Up to `limit` events of the whole log with a position at or after `position`, in order.
    public func readAll(from position: Int64 = 1, limit: Int = 1000) async throws(EventStoreError) -> [RecordedEvent] {
        try await storeErrors {
            try await onReader(doing: "read the log") { db in try Query.all(db, from: position, limit: limit) }
        }
    }

    /// Up to `limit` positions and stream ids of the log from `position` on, in order.
    public func streamChanges(from position: Int64, limit: Int) async throws(EventStoreError) -> [StreamChange] {
        try await storeErrors {
            try await onReader(doing: "read the log") { db in
                let stmt = try db.cached(
                    "SELECT position, stream_id FROM events WHERE position >= ? ORDER BY position LIMIT ?"
                )
                try stmt.bind([.integer(position), .integer(Int64(clamping: limit))])
                defer { stmt.reset() }
                var changes: [StreamChange] = []
                while try stmt.step() { changes.append(StreamChange(position: stmt.int64(0), streamId: stmt.text(1))) }
                return changes
            }
        }
    }

    /// The event with this id, wherever it is stored; nil when there is none.
    public func event(id: UUID) async throws(EventStoreError) -> RecordedEvent? {
        try await storeErrors { try await onReader(doing: "look up event \(id)") { db in try Query.event(db, id) } }
    }

    /// The last version of a stream; 0 when it does not exist.
    public func version(of streamId: String) async throws(EventStoreError) -> Int64 {
        try await storeErrors {
            try await onReader(doing: "read the version of stream '\(streamId)'") { db in
                try Query.version(db, streamId)
            }
        }
    }

    /// The position of the last event; 0 for an empty log.
    public func headPosition() async throws(EventStoreError) -> Int64 {
        try await storeErrors { try await onReader(doing: "read the head position") { db in try Query.head(db) } }
    }

    /// The head anchor: the position and hash of the last event the store wrote.
    public func head() async throws(EventStoreError) -> LogHead? {
        try await storeErrors { try await onReader(doing: "read the head anchor") { db in try HeadAnchor.read(db) } }
    }

    /// Runs read-only queries on a consistent snapshot, on a reader thread.
    public func read<T: Sendable>(
        lane: ReadLane = .bulk,
        _ body: @escaping @Sendable (ProjectionDatabase) throws -> T
    ) async throws -> T {
        let path = self.path
        return try await onReader(doing: "query", lane: lane) { db in try Query.snapshot(db, path: path, body).get() }
    }

    /// Recomputes the hash chain (as the synchronous `verify()` does) on a reader thread; interrupted when the
    /// caller is cancelled or the store closes.
    public func verify() async throws(EventStoreError) -> VerificationReport {
        try await storeErrors {
            try await onReader(doing: "verify the hash chain", lane: .bulk) { db in try Query.verify(db) }
        }
    }

    /// Writes a backup (see ``backup(to:replacing:)``) from a reader thread.
    public func backup(to destination: String, replacing: Bool = false) async throws(EventStoreError) -> BackupReport {
        try await storeErrors {
            try await onReader(doing: "back up to \(destination)", lane: .bulk) { db in
                try self.backup(to: destination, replacing: replacing) {
                    (action, copy) throws(EventStoreError) -> BackupReport in
                    do throws(SQLiteError) { return try copy(db) } catch {
                        throw EventStoreError.from(error, path: self.path, doing: action)
                    }
                }
            }
        }
    }

    /// Drops a projection's tables and rebuilds it (see ``rebuildProjection(named:)``) from a
    /// reader thread; writes go on between its batches.
    public func rebuildProjection(named name: String) async throws(EventStoreError) {
        try await rebuildProjections(named: [name], progress: nil)
    }

    /// Drops the named projections' tables and rebuilds them together (see
    /// the synchronous `rebuildProjections(named:batchSize:progress:)`) from a reader thread; writes go on between its
    /// batches. `progress` is called on that thread.
    public func rebuildProjections(
        named names: [String],
        batchSize: Int = EventStore.rebuildBatchSize,
        progress: (@Sendable (CatchUpProgress) -> Void)?
    ) async throws(EventStoreError) {
        try await storeErrors {
            try await onReader(doing: "rebuild projections \(names.joined(separator: ", "))", lane: .bulk) { _ in
                try self.rebuildProjections(named: names, batchSize: batchSize, progress: progress)
            }
        }
    }

    /// Finishes the rebuild passes opening the store left (see the synchronous
    /// `finishRebuilds(progress:)`) from a reader thread; writes go on between its batches.
    /// `progress` is called on that thread.
    public func finishRebuilds(progress: (@Sendable (CatchUpProgress) -> Void)?) async throws(EventStoreError) {
        try await storeErrors {
            try await onReader(doing: "finish rebuilding projections", lane: .bulk) { _ in
                try self.finishRebuilds(progress: progress)
            }
        }
    }

    private func storeErrors<T>(_ body: () async throws -> T) async throws(EventStoreError) -> T {
        do {
            return try await body()
        } catch let error as EventStoreError {
            throw error
        } catch is CancellationError {
            throw EventStoreError(.interrupted, "reading \(path) was cancelled")
        } catch {
            throw EventStoreError(.storage, "\(error)")
        }
    }
}

/// An observer of the store's commits (``EventStore/observeCommits(_:)``), called until this is
/// cancelled or released.
public final class CommitObservation: Sendable {
    private let watcher: HeadWatcher
    private let id: UInt64

    init(watcher: HeadWatcher, id: UInt64) {
        self.watcher = watcher
        self.id = id
    }

    public func cancel() { watcher.stopObserving(id) }

    deinit { cancel() }
}

/// What a store has written since it opened: what an operator reads to see the disk's side of
/// the load (each commit is a sync of the WAL with `synchronous = FULL`, and each page a 4 KB
/// write that sync waits for).
public struct WriteFigures: Sendable, Equatable {
    /// Transactions the writer connection committed (appends, group commits, rebuild batches,
    /// migrations).
    public var commits: Int64
    /// Pages those commits wrote to the WAL: every table and index page a transaction changed,
    /// once per transaction.
    public var pagesWritten: Int64
    /// Groups the writer thread committed (group commit) and the writes in them.
    public var groups: Int64
    public var writes: Int64

    public init(commits: Int64, pagesWritten: Int64, groups: Int64, writes: Int64) {
        self.commits = commits
        self.pagesWritten = pagesWritten
        self.groups = groups
        self.writes = writes
    }
}
