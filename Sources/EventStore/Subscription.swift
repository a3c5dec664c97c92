import Foundation
import Synchronization

/// Tells subscribers waiting at the head that new events committed.
///
/// Appends only publish a number and resume waiting continuations: a slow subscriber
/// reads the events itself from the file and can never hold up a writer.
final class HeadWatcher: Sendable {
    private struct State {
        var head: Int64
        var closed = false
        var nextId: UInt64 = 0
        var waiters: [UInt64: (after: Int64, continuation: CheckedContinuation<Bool, Never>)] = [:]
        /// The last commits' stream changes, in order: every event committed at a position from
        /// `recentFrom` to `head` is here, so a follower near the head reads nothing.
        var recent: [StreamChange] = []
        var recentFrom: Int64
        var observers: [UInt64: @Sendable ([StreamChange]?) -> Void] = [:]
    }

    private let state: Mutex<State>
    /// How many recent stream changes are kept (between this and twice this).
    let recentCapacity: Int

    init(head: Int64, recentCapacity: Int = 4096) {
        state = Mutex(State(head: head, recentFrom: head + 1))
        self.recentCapacity = max(recentCapacity, 1)
    }

    var isClosed: Bool { state.withLock { $0.closed } }
    var currentHead: Int64 { state.withLock { $0.head } }

    /// Up to `limit` stream changes from `position` on, from memory; nil when they are not all
    /// there (older than the recent commits, or a commit was told without its changes): read
    /// them from the file then. Empty at the head.
    func recentChanges(from position: Int64, limit: Int) -> [StreamChange]? {
        state.withLock { s -> [StreamChange]? in
            guard position >= s.recentFrom else { return nil }
            // The first change at or after `position` (positions increase along `recent`).
            var low = 0
            var high = s.recent.count
            while low < high {
                let mid = (low + high) / 2
                if s.recent[mid].position < position { low = mid + 1 } else { high = mid }
            }
            return Array(s.recent[low..<min(s.recent.count, low + max(limit, 0))])
        }
    }

    /// A commit's last position and, when the committer knows them, the stream changes it
    /// wrote (in position order). Commits may be told out of order (two threads' synchronous
    /// appends): a commit told late is not kept in memory, and nor is anything before the next
    /// one told in order, so a follower reads those from the file.
    func advance(to position: Int64, changes: [StreamChange]? = nil) {
        let (ready, observers) = state.withLock {
            s -> ([CheckedContinuation<Bool, Never>], [@Sendable ([StreamChange]?) -> Void]) in
            guard position > s.head else { return ([], []) }
            if let changes, let first = changes.first, first.position == s.head + 1, changes.last?.position == position
            {
                s.recent += changes
                if s.recent.count > 2 * recentCapacity {
                    s.recent.removeFirst(s.recent.count - recentCapacity)
                    s.recentFrom = s.recent[0].position
                }
            } else {
                s.recent.removeAll()
                s.recentFrom = position + 1
            }
            s.head = position
            let ids = s.waiters.filter { $0.value.after < position }.map(\.key)
            return (ids.compactMap { s.waiters.removeValue(forKey: $0)?.continuation }, Array(s.observers.values))
        }
        for observe in observers { observe(changes) }
        for c in ready { c.resume(returning: true) }
    }

    /// Tells the observers that read models changed without events being committed (a
    /// rebuild ended): they hear nil, as for a commit whose changes are not known.
    func readModelsChanged() {
        let observers = state.withLock { Array($0.observers.values) }
        for observe in observers { observe(nil) }
    }

    /// Calls `observer` on the committing thread after each commit told from now on, with its
    /// stream changes (nil when the committer did not tell them), until the returned id is
    /// given to ``stopObserving(_:)``.
    func observe(_ observer: @escaping @Sendable ([StreamChange]?) -> Void) -> UInt64 {
        state.withLock { s in
            s.nextId += 1
            s.observers[s.nextId] = observer
            return s.nextId
        }
    }

    func stopObserving(_ id: UInt64) {
        _ = state.withLock { $0.observers.removeValue(forKey: id) }
    }

    func close() {
        let all = state.withLock { s -> [CheckedContinuation<Bool, Never>] in
            s.closed = true
            defer { s.waiters.removeAll() }
            return s.waiters.values.map(\.continuation)
        }
        for c in all { c.resume(returning: false) }
    }

    /// Waits until the head passes `position`. False when the store closed or the task was cancelled.
    func wait(after position: Int64) async -> Bool {
        let id = state.withLock { s -> UInt64 in
            s.nextId += 1
            return s.nextId
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let immediate: Bool? = state.withLock { s in
                    if s.closed || Task.isCancelled { return false }
                    if s.head > position { return true }
                    s.waiters[id] = (position, continuation)
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let c = state.withLock { $0.waiters.removeValue(forKey: id)?.continuation }
            c?.resume(returning: false)
        }
    }
}

/// Something read from the log at a position: an event, or less of it.
public protocol LogPositioned: Sendable {
    var position: Int64 { get }
}

extension RecordedEvent: LogPositioned {}

/// Which stream an event was appended to, and where: all a follower that only wants to know
/// what changed reads (no payload, no metadata to decode).
public struct StreamChange: LogPositioned, Hashable {
    public let position: Int64
    public let streamId: String
}

/// The log from a position on: the stored events first, then each new one as it commits.
public typealias EventSubscription = LogSubscription<RecordedEvent>

/// The log from a position on, as `Element`s: those already stored first, then each new one
/// as it commits, in order. Iteration ends (returns nil) when the task is cancelled, the
/// store is closed, or its reads are stopped.
public struct LogSubscription<Element: LogPositioned>: AsyncSequence, Sendable {
    typealias Fetch = @Sendable (EventStore, Int64, Int) async throws(EventStoreError) -> [Element]

    let store: EventStore
    let next: Int64
    let fetch: Fetch
    /// Events read from the file per query.
    public var batchSize = 256

    public func makeAsyncIterator() -> Iterator {
        Iterator(store: store, next: next, batchSize: batchSize, fetch: fetch)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let store: EventStore
        var next: Int64
        let batchSize: Int
        let fetch: Fetch
        var buffer: [Element] = []
        var index = 0
        /// The last read came back short: it reached the head as it then stood, so the next
        /// read waits for a commit past it (one read per commit, not a second, empty one).
        var atHead = false

        /// The next batch; nil (the end) when the store closed or the task was cancelled meanwhile.
        static func read(
            _ store: EventStore,
            from position: Int64,
            limit: Int,
            _ fetch: Fetch
        ) async -> Result<[Element]?, EventStoreError> {
            do {
                return .success(try await fetch(store, position, limit))
            } catch {
                // Closed, cancelled, or reads stopped (a stopping daemon): the subscription ends.
                if error.kind == .closed || error.kind == .interrupted { return .success(nil) }
                return .failure(error)
            }
        }

        public mutating func next() async throws -> Element? {
            while true {
                if Task.isCancelled { return nil }
                if index < buffer.count {
                    let element = buffer[index]
                    index += 1
                    next = element.position + 1
                    return element
                }
                if store.headWatcher.isClosed { return nil }
                if atHead {
                    atHead = false
                    guard await store.headWatcher.wait(after: next - 1) else { return nil }
                }
                let result = await Self.read(store, from: next, limit: batchSize, fetch)
                guard let batch = try result.get() else { return nil }
                if !batch.isEmpty {
                    buffer = batch
                    index = 0
                    atHead = batch.count < batchSize
                    continue
                }
                guard await store.headWatcher.wait(after: next - 1) else { return nil }
            }
        }
    }
}
