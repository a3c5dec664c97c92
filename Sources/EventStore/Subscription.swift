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
    }

    private let state: Mutex<State>

    init(head: Int64) { state = Mutex(State(head: head)) }

    var isClosed: Bool { state.withLock { $0.closed } }
    var currentHead: Int64 { state.withLock { $0.head } }

    func advance(to position: Int64) {
        let ready = state.withLock { s -> [CheckedContinuation<Bool, Never>] in
            guard position > s.head else { return [] }
            s.head = position
            let ids = s.waiters.filter { $0.value.after < position }.map(\.key)
            return ids.compactMap { s.waiters.removeValue(forKey: $0)?.continuation }
        }
        for c in ready { c.resume(returning: true) }
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
