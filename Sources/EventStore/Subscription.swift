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

/// The log from a position on: the stored events first, then each new one as it commits.
///
/// Iteration ends (returns nil) when the task is cancelled or the store is closed.
public struct EventSubscription: AsyncSequence, Sendable {
    public typealias Element = RecordedEvent

    let store: EventStore
    let next: Int64
    /// Events read from the file per query.
    public var batchSize = 256

    public func makeAsyncIterator() -> Iterator {
        Iterator(store: store, next: next, batchSize: batchSize)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let store: EventStore
        var next: Int64
        let batchSize: Int
        var buffer: [RecordedEvent] = []
        var index = 0

        /// The next batch; nil (the end) when the store closed or the task was cancelled meanwhile.
        static func read(_ store: EventStore, from position: Int64, limit: Int) async -> Result<[RecordedEvent]?, EventStoreError> {
            do {
                return .success(try await store.readAll(from: position, limit: limit))
            } catch {
                // Closed, cancelled, or reads stopped (a stopping daemon): the subscription ends.
                if error.kind == .closed || error.kind == .interrupted { return .success(nil) }
                return .failure(error)
            }
        }

        public mutating func next() async throws -> RecordedEvent? {
            while true {
                if Task.isCancelled { return nil }
                if index < buffer.count {
                    let event = buffer[index]
                    index += 1
                    next = event.position + 1
                    return event
                }
                if store.headWatcher.isClosed { return nil }
                let result = await Self.read(store, from: next, limit: batchSize)
                guard let batch = try result.get() else { return nil }
                if !batch.isEmpty {
                    buffer = batch
                    index = 0
                    continue
                }
                guard await store.headWatcher.wait(after: next - 1) else { return nil }
            }
        }
    }
}
