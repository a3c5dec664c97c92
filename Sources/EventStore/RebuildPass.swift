import Foundation

extension EventStore {
    /// Runs the rebuild pass of `group` from `cursor` to its end: preparer threads (one per
    /// core, at most two) take turns reading the next batch on a connection of their own and
    /// then run the group's ``BatchPreparation``s on it, side by side, while the calling thread
    /// applies the batches in order under the writer lock, one transaction a batch. Appends go
    /// on between batches; `stop` may end it between two batches.
    ///
    /// Each preparer thread has its own preparers, so a stream cut between two batches that
    /// went to different threads is not carried over: its preparation gives nothing for it and
    /// the projection works that case out itself (one case a batch).
    func runRebuildPass(
        _ group: [any Projection],
        from cursor: RebuildCursor,
        batchSize: Int,
        doing action: String,
        progress: ((CatchUpProgress) -> Void)?,
        stop: () -> EventStoreError?
    ) throws(EventStoreError) {
        let reader = try Self.openReader(path: path, options: options, doing: action)
        var preparations: [BatchPreparation] = []
        for case let preparation? in group.map(\.batchPreparation)
        where !preparations.contains(where: { $0.key == preparation.key }) {
            preparations.append(preparation)
        }
        let names = group.map(\.name)
        let makers = preparations
        let threads = preparations.isEmpty ? 1 : min(2, max(1, ProcessInfo.processInfo.activeProcessorCount))
        let channel = BatchChannel(capacity: 2 * threads, producers: threads)
        let turns = BatchReader(reader: reader, start: cursor, batchSize: batchSize)
        let path = self.path
        let target = cursor.target
        let cache = options.rebuildCacheKiB
        try withWriter { (w: Writer) throws(EventStoreError) in try w.setCacheKiB(max(cache, w.normalCacheKiB)) }
        for _ in 0..<threads {
            let preparer = Thread {
                Thread.current.threadDictionary["imr.thread"] = "imr-rebuild"
                setThreadName("imr-rebuild")
                defer { channel.finish() }
                let preparers = makers.map { ($0.key, $0.makePreparer()) }
                while !channel.isClosed {
                    let sequence: Int
                    let after: RebuildCursor
                    let events: [RecordedEvent]
                    do throws(SQLiteError) {
                        guard let turn = try turns.next() else { return }
                        (sequence, after, events) = turn
                    } catch {
                        channel.put(
                            .failure(EventStoreError.from(error, path: path, doing: action)),
                            sequence: turns.failedSequence
                        )
                        return
                    }
                    var prepared: [String: any Sendable] = [:]
                    for (key, prepare) in preparers where !events.isEmpty { prepared[key] = prepare(events) }
                    guard
                        channel.put(
                            .success(PreparedBatch(after: after, events: events, prepared: prepared)),
                            sequence: sequence
                        )
                    else { return }
                }
            }
            preparer.stackSize = 8 << 20
            preparer.start()
        }
        let disposal = BatchDisposal()
        defer {
            channel.close()
            channel.waitUntilFinished()
            disposal.finish()
            try? withWriter { (w: Writer) throws(EventStoreError) in try w.setCacheKiB(w.normalCacheKiB) }
        }
        while let next = channel.take() {
            if let error = stop() { throw error }
            let batch: PreparedBatch
            switch next {
            case .success(let b): batch = b
            case .failure(let error): throw error
            }
            let applied = try withWriter { (w: Writer) throws(EventStoreError) -> Bool in
                try w.withoutSync { () throws(EventStoreError) -> Bool in
                    try w.transaction(doing: action) { () throws(EventStoreError) -> Bool in
                        try w.applyRebuildBatch(
                            batch.events,
                            to: group,
                            after: batch.after,
                            batchSize: batchSize,
                            prepared: batch.prepared
                        )
                    }
                }
            }
            disposal.give(batch)
            // Another rebuild of these projections started meanwhile: the caller picks up its pass.
            guard applied else { return }
            progress?(
                CatchUpProgress(projections: names, applied: batch.events.count, rebuilding: true, target: target)
            )
            if batch.events.count < batchSize { return }
        }
    }
}

/// The log read batch after batch for the preparer threads, one at a time: each takes the next
/// batch (numbered, with the cursor it starts after) and the next thread reads on from its end.
// @unchecked Sendable: the connection and the cursor are used only while holding `lock`.
final class BatchReader: @unchecked Sendable {
    private let lock = NSLock()
    private let reader: SQLiteConnection
    private let batchSize: Int
    private var cursor: RebuildCursor
    private var sequence = 0
    private var done = false

    init(reader: SQLiteConnection, start: RebuildCursor, batchSize: Int) {
        self.reader = reader
        self.cursor = start
        self.batchSize = batchSize
    }

    /// The next batch, or nil after the last (a short one). A failed read ends the reading.
    func next() throws(SQLiteError) -> (sequence: Int, after: RebuildCursor, events: [RecordedEvent])? {
        lock.lock()
        defer { lock.unlock() }
        guard !done else { return nil }
        let after = cursor
        let events: [RecordedEvent]
        do {
            events = try Writer.rebuildBatch(after: after, limit: batchSize, on: reader)
        } catch {
            done = true
            throw error
        }
        let number = sequence
        sequence += 1
        if let last = events.last, events.count >= batchSize {
            cursor = RebuildCursor(target: after.target, streamId: last.streamId, streamVersion: last.streamVersion)
        } else {
            done = true
        }
        return (number, after, events)
    }

    /// The number a failed read takes in the channel's order (the one it would have had).
    var failedSequence: Int { lock.withLock { sequence } }
}

/// Frees the batches the applying thread is done with on a thread of its own: a batch of a
/// thousand events and what was prepared for them took a fifth of the applying thread's time
/// to free, and that thread is the pass's bottleneck.
// @unchecked Sendable: `spent` and `done` are read and written only while holding `condition`.
final class BatchDisposal: @unchecked Sendable {
    private let condition = NSCondition()
    private var spent: [PreparedBatch] = []
    private var done = false
    private var exited = false

    init() {
        let thread = Thread { [self] in run() }
        thread.start()
    }

    /// Hands over a batch the applying thread has applied.
    func give(_ batch: PreparedBatch) {
        condition.withLock {
            spent.append(batch)
            condition.signal()
        }
    }

    /// Frees what is left and waits until the thread has ended.
    func finish() {
        condition.withLock {
            done = true
            condition.broadcast()
            while !exited { condition.wait() }
        }
    }

    private func run() {
        Thread.current.threadDictionary["imr.thread"] = "imr-rebuild-free"
        setThreadName("imr-rebuild-free")
        while true {
            var old: [PreparedBatch] = []
            let finished = condition.withLock {
                while spent.count < 2 && !done { condition.wait() }
                // All but the newest while the pass runs: the applying thread may still hold it.
                let keep = done ? 0 : 1
                old = Array(spent.dropLast(keep))
                spent.removeFirst(spent.count - keep)
                return done
            }
            old.removeAll()  // the batches are freed here, outside the lock
            if finished {
                condition.withLock {
                    exited = true
                    condition.broadcast()
                }
                return
            }
        }
    }
}

/// A batch of a rebuild pass, read and prepared ahead.
struct PreparedBatch: Sendable {
    let after: RebuildCursor
    let events: [RecordedEvent]
    /// What each preparation (by key) worked out for `events`.
    let prepared: [String: any Sendable]
}

/// A bounded hand-off from the preparer threads to the applying one, in batch order: `put`
/// waits while its batch is too far ahead of the next one taken, `take` until the next one is
/// there; closing it releases both.
// @unchecked Sendable: every field is read and written only while holding `condition`.
final class BatchChannel: @unchecked Sendable {
    private var items: [Int: Result<PreparedBatch, EventStoreError>] = [:]
    private var nextTaken = 0
    private var closed = false
    private var producersLeft: Int
    private let condition = NSCondition()
    private let capacity: Int

    init(capacity: Int, producers: Int = 1) {
        self.capacity = capacity
        self.producersLeft = producers
    }

    var isClosed: Bool { condition.withLock { closed } }

    /// Adds the item numbered `sequence`, waiting for room; false when the channel was closed
    /// (the item is dropped).
    @discardableResult
    func put(_ item: Result<PreparedBatch, EventStoreError>, sequence: Int) -> Bool {
        condition.withLock {
            while !closed && sequence >= nextTaken + capacity { condition.wait() }
            guard !closed else { return false }
            items[sequence] = item
            condition.broadcast()
            return true
        }
    }

    /// The next item in order; nil when every producer finished and it is not there, or the
    /// channel closed.
    func take() -> Result<PreparedBatch, EventStoreError>? {
        condition.withLock {
            while !closed && items[nextTaken] == nil && producersLeft > 0 { condition.wait() }
            guard !closed, let item = items.removeValue(forKey: nextTaken) else { return nil }
            nextTaken += 1
            condition.broadcast()
            return item
        }
    }

    /// A producer has put its last item (or given up).
    func finish() {
        condition.withLock {
            producersLeft -= 1
            condition.broadcast()
        }
    }

    /// Stops the hand-off: a waiting `put` returns false and a waiting `take` nil.
    func close() {
        condition.withLock {
            closed = true
            condition.broadcast()
        }
    }

    /// Waits until every producer has returned (it finishes or sees the channel closed).
    func waitUntilFinished() {
        condition.withLock {
            while producersLeft > 0 { condition.wait() }
        }
    }
}
