import Foundation

extension EventStore {
    /// Runs the rebuild pass of `group` from `cursor` to its end, two threads deep: a preparer
    /// thread reads each batch on a connection of its own and runs the group's
    /// ``BatchPreparation``s on it, while the calling thread applies the batch before under the
    /// writer lock, one transaction a batch. Appends go on between batches; `stop` may end it
    /// between two batches.
    func runRebuildPass(_ group: [any Projection], from cursor: RebuildCursor, batchSize: Int, doing action: String,
                        progress: ((CatchUpProgress) -> Void)?, stop: () -> EventStoreError?) throws(EventStoreError) {
        let reader = try Self.openReader(path: path, options: options, doing: action)
        var preparations: [BatchPreparation] = []
        for case let preparation? in group.map(\.batchPreparation) where !preparations.contains(where: { $0.key == preparation.key }) {
            preparations.append(preparation)
        }
        let names = group.map(\.name)
        let makers = preparations
        let channel = BatchChannel(capacity: 2)
        let path = self.path
        let start = cursor
        let cache = options.rebuildCacheKiB
        try withWriter { (w: Writer) throws(EventStoreError) in try w.setCacheKiB(max(cache, w.normalCacheKiB)) }
        let preparer = Thread {
            Thread.current.threadDictionary["imr.thread"] = "imr-rebuild"
            defer { channel.finish() }
            let preparers = makers.map { ($0.key, $0.makePreparer()) }
            var at = start
            while !channel.isClosed {
                let events: [RecordedEvent]
                do throws(SQLiteError) {
                    events = try Writer.rebuildBatch(after: at, limit: batchSize, on: reader)
                } catch {
                    channel.put(.failure(EventStoreError.from(error, path: path, doing: action)))
                    return
                }
                var prepared: [String: any Sendable] = [:]
                for (key, prepare) in preparers where !events.isEmpty { prepared[key] = prepare(events) }
                guard channel.put(.success(PreparedBatch(after: at, events: events, prepared: prepared))) else { return }
                guard let last = events.last, events.count >= batchSize else { break }
                at = RebuildCursor(target: start.target, streamId: last.streamId, streamVersion: last.streamVersion)
            }
        }
        preparer.stackSize = 8 << 20
        preparer.start()
        defer {
            channel.close()
            channel.waitUntilFinished()
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
                try w.transaction(doing: action) { () throws(EventStoreError) -> Bool in
                    try w.applyRebuildBatch(batch.events, to: group, after: batch.after, batchSize: batchSize, prepared: batch.prepared)
                }
            }
            // Another rebuild of these projections started meanwhile: the caller picks up its pass.
            guard applied else { return }
            progress?(CatchUpProgress(projections: names, applied: batch.events.count, rebuilding: true, target: start.target))
            if batch.events.count < batchSize { return }
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

/// A bounded hand-off from the preparer thread to the applying one: `put` waits while it is
/// full, `take` while it is empty; closing it releases both.
// @unchecked Sendable: every field is read and written only while holding `condition`.
final class BatchChannel: @unchecked Sendable {
    private var items: [Result<PreparedBatch, EventStoreError>] = []
    private var closed = false
    private var producerDone = false
    private let condition = NSCondition()
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    var isClosed: Bool { condition.withLock { closed } }

    /// Adds an item, waiting for room; false when the channel was closed (the item is dropped).
    @discardableResult
    func put(_ item: Result<PreparedBatch, EventStoreError>) -> Bool {
        condition.withLock {
            while !closed && items.count >= capacity { condition.wait() }
            guard !closed else { return false }
            items.append(item)
            condition.broadcast()
            return true
        }
    }

    /// The next item; nil when the producer finished and nothing is left, or the channel closed.
    func take() -> Result<PreparedBatch, EventStoreError>? {
        condition.withLock {
            while !closed && items.isEmpty && !producerDone { condition.wait() }
            guard !closed, !items.isEmpty else { return nil }
            condition.broadcast()
            return items.removeFirst()
        }
    }

    /// The producer has put its last item (or given up).
    func finish() {
        condition.withLock {
            producerDone = true
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

    /// Waits until the producer has returned (it finishes or sees the channel closed).
    func waitUntilFinished() {
        condition.withLock {
            while !producerDone { condition.wait() }
        }
    }
}
