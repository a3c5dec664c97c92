import EventStore
import Foundation
import Logging
import Synchronization
import Varlink

/// One follower's queue of replies: bounded, and never waited on by whoever posts to it.
/// When it is full the follower is too slow: the queue ends, marked overflowed, and the
/// follower's call ends with `io.imr.Alerts.FollowerTooSlow` (it re-subscribes and is replayed
/// the open alerts).
final class FollowerQueue: Sendable {
    struct Item: Sendable {
        /// The log position of the event the reply comes from; `Int64.max` for snooze ends.
        let position: Int64
        let reply: [String: JSONValue]
    }

    let id: UInt64
    let coordinator: String?
    let capacity: Int
    let items: AsyncStream<Item>
    private let continuation: AsyncStream<Item>.Continuation
    private let overflow = Atomic<Bool>(false)

    init(id: UInt64, coordinator: String?, capacity: Int) {
        self.id = id
        self.coordinator = coordinator
        self.capacity = capacity
        (items, continuation) = AsyncStream.makeStream(of: Item.self, bufferingPolicy: .bufferingOldest(capacity))
    }

    var overflowed: Bool { overflow.load(ordering: .acquiring) }

    /// Queues a reply without waiting; false when the queue is full (it then ends) or ended.
    @discardableResult
    func post(_ item: Item) -> Bool {
        switch continuation.yield(item) {
        case .enqueued: return true
        case .dropped:
            overflow.store(true, ordering: .releasing)
            continuation.finish()
            return false
        case .terminated: return false
        @unknown default: return false
        }
    }

    func finish() { continuation.finish() }
}

/// The live part of `io.imr.Alerts.Follow` for all followers at once: one subscription to the
/// log reads each raised alert once and hands it to every follower's bounded queue without
/// waiting, so neither the writer nor the scheduler ever waits on a follower, and 300
/// followers cost one reader, not 300.
final class AlertFeed: Sendable {
    private struct State {
        var followers: [UInt64: FollowerQueue] = [:]
        var nextId: UInt64 = 0
        var task: Task<Void, Never>?
        var stopped = false
        /// Where the feed is (for a diagnosis): the last position it read, and what it is doing.
        var lastRead: Int64 = 0
        var doing = "not started"
        var posted = 0
    }

    let store: EventStore
    let maximumFollowers: Int
    let queueCapacity: Int
    let logger: Logger
    private let state = Mutex(State())

    init(store: EventStore, maximumFollowers: Int, queueCapacity: Int, logger: Logger) {
        self.store = store
        self.maximumFollowers = maximumFollowers
        self.queueCapacity = queueCapacity
        self.logger = logger
    }

    var followerCount: Int { state.withLock { $0.followers.count } }

    /// What the feed is doing, for a test that finds a follower waiting: its last position
    /// read, the step it is at, how many replies it posted, and the log's committed head.
    var diagnosis: String {
        let (last, doing, posted, followers, running) = state.withLock {
            ($0.lastRead, $0.doing, $0.posted, $0.followers.count, $0.task != nil)
        }
        return
            "feed \(running ? "running" : "not running"): \(doing); last read position \(last), \(posted) replies posted, \(followers) followers; committed head \(store.committedHead)"
    }

    private func note(_ doing: String, position: Int64? = nil, posted: Bool = false) {
        state.withLock { s in
            s.doing = doing
            if let position { s.lastRead = position }
            if posted { s.posted += 1 }
        }
    }

    /// Registers a follower before it reads the open alerts, so that every alert raised after
    /// that read reaches its queue. Nil when the feed has stopped.
    func register(coordinator: String?) throws(VarlinkError) -> FollowerQueue? {
        let needsStart = !state.withLock { $0.stopped || $0.task != nil }
        // The feed starts at the head as it is now, before the follower reads its replay: no
        // alert after the replay is missed (the follower skips those the replay had).
        let head = needsStart ? store.committedHead : 0  // from memory: no read on the cooperative pool
        let outcome = state.withLock { s -> Result<FollowerQueue?, VarlinkError> in
            if s.stopped { return .success(nil) }
            guard s.followers.count < maximumFollowers else {
                return .failure(
                    VarlinkError(
                        "io.imr.Alerts.TooManyFollowers",
                        parameters: [
                            "limit": .int(Int64(maximumFollowers)),
                            "message": .string(
                                "the daemon already serves \(maximumFollowers) followers (server.max_followers); end one, then follow again"
                            ),
                        ]
                    )
                )
            }
            s.nextId += 1
            let queue = FollowerQueue(id: s.nextId, coordinator: coordinator, capacity: queueCapacity)
            s.followers[queue.id] = queue
            if s.task == nil { s.task = Task { await self.run(from: head + 1) } }
            return .success(queue)
        }
        return try outcome.get()
    }

    func unregister(_ queue: FollowerQueue) {
        _ = state.withLock { $0.followers.removeValue(forKey: queue.id) }
        queue.finish()
    }

    /// Ends every follower's queue and the subscription; no follower registers after this.
    func stop() {
        let (task, followers) = state.withLock { s -> (Task<Void, Never>?, [FollowerQueue]) in
            s.stopped = true
            defer { s.followers.removeAll() }
            return (s.task, Array(s.followers.values))
        }
        task?.cancel()
        for follower in followers { follower.finish() }
    }

    /// Hands an alert to the followers it is for; a follower whose queue is full is dropped.
    private func post(_ item: FollowerQueue.Item, coordinator: String) {
        let followers = state.withLock { Array($0.followers.values) }
        for follower in followers where follower.coordinator == nil || follower.coordinator == coordinator {
            if !follower.post(item), follower.overflowed {
                _ = state.withLock { $0.followers.removeValue(forKey: follower.id) }
                logger.notice(
                    "alerts: a follower fell \(follower.capacity) alerts behind and was dropped; it can follow again"
                )
            }
        }
    }

    private func run(from position: Int64) async {
        do {
            note("waiting for events after \(position - 1)")
            for try await event in store.subscribe(from: position) {
                if Task.isCancelled { return }
                note("read event \(event.position)", position: event.position)
                guard case .raised(let raised)? = try? AlertStreams.decode(event) else { continue }
                let id = raised.alertId
                note("reading alert of event \(event.position)")
                guard let view = try await store.read(lane: .interactive, { try AlertProjection.alert(id, in: $0) })
                else {
                    note("alert of event \(event.position) not in the read model")
                    continue
                }
                post(
                    .init(position: event.position, reply: ["alert": .object(view.wire), "replayed": false]),
                    coordinator: raised.coordinator
                )
                note("posted event \(event.position); waiting for the next", posted: true)
            }
            note("subscription ended (cancelled, store closed or reads stopped)")
        } catch {
            note("failed: \(error)")
            logger.error("alerts: the feed of followers stopped: \(error)")
            let followers = state.withLock { s -> [FollowerQueue] in
                s.task = nil  // the next follower starts it again
                defer { s.followers.removeAll() }
                return Array(s.followers.values)
            }
            for follower in followers { follower.finish() }
        }
    }
}
