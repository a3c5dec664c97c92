import CSQLite
import Foundation
import Synchronization

/// What a write job may do inside the transaction it shares with the other jobs of its group.
///
/// A job runs on the writer thread, inside a savepoint of the group's transaction: it sees
/// what the jobs before it in the group wrote, and what it writes is seen by the jobs after
/// it. Valid only during the job.
public final class WriteContext {
    let writer: Writer
    let projections: [any Projection]
    let group: GroupValues
    /// Run on the writer thread once the transaction is durable, if this job's writes stand.
    private(set) var afterCommit: [() -> Void] = []
    /// A failure of the storage itself (not a refusal of one request): it fails the whole group.
    private(set) var storageFailure: EventStoreError?
    /// The last position this job wrote.
    private(set) var lastPosition: Int64?
    /// The events this job wrote: their positions and streams.
    private(set) var changes: [StreamChange] = []

    init(writer: Writer, projections: [any Projection], group: GroupValues) {
        self.writer = writer
        self.projections = projections
        self.group = group
    }

    /// The writer's connection for queries (of read models, say) inside the group's
    /// transaction: it sees what this group wrote so far.
    public var database: ProjectionDatabase { ProjectionDatabase(writer.db, path: writer.path) }

    /// Values the jobs of one group share (for example the states a cache would hold once
    /// the group commits); gone when the group ends, committed or not.
    public subscript(groupValue key: String) -> Any? {
        get { group.values[key] }
        set { group.values[key] = newValue }
    }

    /// Runs `body` on the writer thread once the group's transaction is durable, if this
    /// job's writes stand; never when they are rolled back. In commit order, before the
    /// callers of the group hear back.
    public func onCommit(_ body: @escaping () -> Void) {
        afterCommit.append(body)
    }

    /// Appends to a stream, if it is at the expected version, in the group's transaction.
    /// A refused request (wrong version, reused id, invalid) writes nothing and throws; the
    /// job may go on with other appends. `hint` reaches the projections applied to these
    /// events (``ProjectionDatabase/appendHint``), say the state the appender computed.
    /// `recordedAt` stamps the events instead of the store's clock (an appender that worked out
    /// what follows from the events before it reached the writer, at that time); it is kept to
    /// the microsecond, as every recording time is.
    @discardableResult
    public func append(
        to streamId: String,
        expected: ExpectedVersion,
        events: [NewEvent],
        hint: (any Sendable)? = nil,
        recordedAt: Date? = nil
    ) throws(EventStoreError) -> AppendResult {
        let request = AppendRequest(streamId: streamId, expected: expected, events: events)
        let stamp = recordedAt.map(micros)
        let result = try noting { () throws(EventStoreError) in
            try writer.appendAlone(request, projections: projections, hint: hint, recordedAtMicros: stamp)
        }
        if let last = result.lastPosition, !result.wasAlreadyStored {
            lastPosition = max(lastPosition ?? 0, last)
            changes += result.streamChanges
        }
        return result
    }

    /// The events of one stream from `version` on, as the group's transaction sees them.
    public func read(stream streamId: String, from version: Int64 = 1) throws(EventStoreError) -> [RecordedEvent] {
        try noting { () throws(EventStoreError) in
            try writer.sql("read stream '\(streamId)'") {
                let stmt = try writer.db.cached(
                    Writer.selectColumns + " WHERE stream_id = ? AND stream_version >= ? ORDER BY stream_version"
                )
                try stmt.bind([.text(streamId), .integer(version)])
                return try Writer.decodeRows(stmt)
            }
        }
    }

    /// The event with this id, as the group's transaction sees the log; nil when there is none.
    public func event(id: UUID) throws(EventStoreError) -> RecordedEvent? {
        try noting { () throws(EventStoreError) in
            try writer.sql("look up event \(id)") {
                let stmt = try writer.db.cached(Writer.selectColumns + " WHERE event_id = ?")
                try stmt.bind([.text(id.lowercasedText)])
                return try Writer.decodeRows(stmt).first
            }
        }
    }

    /// The version and id of a stream's last event; nil when the stream does not exist.
    /// One index lookup: what a cache of stream states checks an entry against.
    public func lastEvent(of streamId: String) throws(EventStoreError) -> (version: Int64, id: UUID)? {
        try noting { () throws(EventStoreError) in
            try writer.sql("read the last event of stream '\(streamId)'") {
                let stmt = try writer.db.cached(
                    "SELECT stream_version, event_id FROM events WHERE stream_id = ? ORDER BY stream_version DESC LIMIT 1"
                )
                try stmt.bind([.text(streamId)])
                defer { stmt.reset() }
                guard try stmt.step(), let id = UUID.parse(stmt.text(1)) else { return nil }
                return (stmt.int64(0), id)
            }
        }
    }

    private func noting<T>(_ body: () throws(EventStoreError) -> T) throws(EventStoreError) -> T {
        do {
            return try body()
        } catch {
            if !EventStore.requestLevelKinds.contains(error.kind) { storageFailure = storageFailure ?? error }
            throw error
        }
    }
}

/// The values the jobs of one group share.
final class GroupValues {
    var values: [String: Any] = [:]
}

/// One caller's write, waiting for the writer thread.
final class WriteJob: @unchecked Sendable {
    enum Step {
        /// The job's writes stand; call this once the group's transaction is durable.
        case succeeded(() -> Void)
        /// The job was refused on its own and wrote nothing; its caller hears it now.
        case failedAlone(() -> Void)
        /// The storage failed: the whole group is rolled back.
        case groupFailed(EventStoreError)
    }

    let run: (WriteContext) -> Step
    let fail: (EventStoreError) -> Void

    init(run: @escaping (WriteContext) -> Step, fail: @escaping (EventStoreError) -> Void) {
        self.run = run
        self.fail = fail
    }
}

/// The single writer: a thread of its own that takes every write waiting when it is free and
/// commits them together, one transaction and one fsync for the group (group commit).
///
/// @unchecked Sendable: the queue is guarded by `condition`; the thread touches the writer
/// only under the store's writer lock.
final class WriteQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [WriteJob] = []
    private var closing = false
    private let finished = DispatchSemaphore(value: 0)
    /// The most jobs committed in one transaction.
    static let maximumGroup = 512
    /// Groups committed and jobs in them, for the operator's figures.
    let groups = Atomic<Int64>(0)
    let jobs = Atomic<Int64>(0)

    private let name: String
    private let runGroup: @Sendable ([WriteJob]) -> Void
    private var started = false
    private var thread: pthread_t?

    /// The thread starts with the first job: a store used only synchronously has none.
    init(name: String, runGroup: @escaping @Sendable ([WriteJob]) -> Void) {
        self.name = name
        self.runGroup = runGroup
    }

    private func startLocked() {
        started = true
        let thread = Thread { [self] in
            Thread.current.threadDictionary["imr.thread"] = name
            setThreadName(name)
            condition.lock()
            self.thread = pthread_self()
            condition.unlock()
            while let group = next() {
                runGroup(group)
                groups.add(1, ordering: .relaxed)
                jobs.add(Int64(group.count), ordering: .relaxed)
            }
            finished.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Queues a job; false when the queue is closed (the job is not run).
    func submit(_ job: WriteJob) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closing else { return false }
        if !started { startLocked() }
        queue.append(job)
        condition.signal()
        return true
    }

    /// Jobs waiting now (not counting the group being committed).
    var waiting: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count
    }

    private func next() -> [WriteJob]? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !closing { condition.wait() }
        if queue.isEmpty { return nil }
        let count = min(queue.count, Self.maximumGroup)
        let group = Array(queue.prefix(count))
        queue.removeFirst(count)
        return group
    }

    /// Stops taking jobs, lets the group in flight and those already queued commit, and waits
    /// for the thread to end.
    func close() {
        condition.lock()
        let wasClosing = closing
        closing = true
        let wait = started && !wasClosing && !(thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false)
        condition.broadcast()
        condition.unlock()
        if wait { finished.wait() }
    }
}

/// Read-only connections, each on a thread of its own, for async callers: a query never runs
/// on Swift's cooperative threads, and a long one can be interrupted.
///
/// A job wakes only a thread that may take it (each idle thread waits on a semaphore of its own):
/// a read wakes one thread, not all of them to find it taken.
///
/// @unchecked Sendable: the queue, the busy list and the idle threads are guarded by
/// `condition` (used as a lock); each connection is used only by its own thread.
final class ReadPool: @unchecked Sendable {
    /// A thread waiting for a job; whoever wakes it takes it off ``idle`` first.
    private final class IdleThread {
        let wake = DispatchSemaphore(value: 0)
        let interactiveOnly: Bool
        init(interactiveOnly: Bool) { self.interactiveOnly = interactiveOnly }
    }

    final class Job: @unchecked Sendable {
        let run: (SQLiteConnection) -> Void
        let abandon: (EventStoreError) -> Void
        let lane: ReadLane
        /// Set when its caller gave up before it started (cancelled): it is not run.
        var cancelled = false
        /// The connection running it, while it runs (for an interrupt).
        var runningOn: SQLiteConnection?

        init(lane: ReadLane, run: @escaping (SQLiteConnection) -> Void, abandon: @escaping (EventStoreError) -> Void) {
            self.lane = lane
            self.run = run
            self.abandon = abandon
        }
    }

    private let condition = NSCondition()
    private var queue: [Job] = []
    private var running: [ObjectIdentifier: Job] = [:]
    private var closing = false
    /// Set once reads are stopped: new ones fail with it at once.
    private var refusing: EventStoreError?
    /// True while the interactive thread runs a read: the others may then take short reads too.
    private var interactiveBusy = false
    private var alive: Int
    private let finished = DispatchSemaphore(value: 0)
    private let closedError: EventStoreError
    private let name: String
    private let threadCount: Int
    private let open: @Sendable () throws(EventStoreError) -> SQLiteConnection
    private var started = false
    private var threads: [pthread_t] = []
    /// The threads waiting for a job.
    private var idle: [IdleThread] = []
    /// Jobs the threads have taken, and times a thread was woken and found none it could take.
    let jobsTaken = Atomic<Int64>(0)
    let futileWakeups = Atomic<Int64>(0)

    /// The threads start with the first read: a store used only synchronously has none.
    init(
        threads: Int,
        name: String,
        closedError: EventStoreError,
        open: @escaping @Sendable () throws(EventStoreError) -> SQLiteConnection
    ) {
        self.threadCount = max(threads, 1)
        self.alive = 0
        self.closedError = closedError
        self.name = name
        self.open = open
    }

    private func startLocked() {
        started = true
        alive = threadCount
        for index in 0..<threadCount {
            let thread = Thread { [self] in
                Thread.current.threadDictionary["imr.thread"] = "\(name)-\(index)"
                setThreadName("\(name)-\(index)")
                condition.lock()
                threads.append(pthread_self())
                condition.unlock()
                work(open: open, interactiveOnly: index == 0 && threadCount > 1)
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    func submit(_ job: Job) -> Bool {
        condition.lock()
        if let refusing {
            condition.unlock()
            job.abandon(refusing)
            return true
        }
        defer { condition.unlock() }
        guard !closing else { return false }
        if !started { startLocked() }
        queue.append(job)
        wakeOneFor(job.lane)
        return true
    }

    /// Wakes one idle thread that may take a job of `lane` now, if there is one (else a thread
    /// busy now finds the job when it looks at the queue again). Under the lock.
    private func wakeOneFor(_ lane: ReadLane) {
        let taker: Int?
        if threadCount == 1 {
            taker = idle.indices.first
        } else if lane == .bulk {
            taker = idle.firstIndex { !$0.interactiveOnly }
        } else {
            // The interactive thread; a bulk one only while the interactive thread is busy.
            taker =
                idle.firstIndex { $0.interactiveOnly }
                ?? (interactiveBusy ? idle.firstIndex { !$0.interactiveOnly } : nil)
        }
        if let taker { idle.remove(at: taker).wake.signal() }
    }

    /// Wakes every idle thread (the pool closes). Under the lock.
    private func wakeAll() {
        for thread in idle { thread.wake.signal() }
        idle.removeAll()
    }

    /// Withdraws a job not yet started, or interrupts the query of one that is running.
    func cancel(_ job: Job) {
        condition.lock()
        defer { condition.unlock() }
        if let index = queue.firstIndex(where: { $0 === job }) {
            queue.remove(at: index)
            job.cancelled = true
            job.abandon(EventStoreError(.interrupted, "the read was cancelled before it started"))
        } else if job.runningOn != nil {
            job.cancelled = true
            interruptUntilDone(job)
        } else {
            // Taken off the queue, not started yet: the thread sees the flag before it runs it.
            job.cancelled = true
        }
    }

    /// Interrupts a running job's query, again every 10 ms while it still runs: an interrupt
    /// that arrives between two statements of the job (SQLite forgets it when the next one
    /// starts) would otherwise be lost, and the query run to its end.
    private func interruptUntilDone(_ job: Job) {
        DispatchQueue.global().async { [self] in
            for _ in 0..<3000 {
                // Under the lock: the thread clears runningOn under it before its next job, so an
                // interrupt never reaches a later read (one between two reads is forgotten by SQLite).
                let stillRunning = condition.withLock { () -> Bool in
                    guard let connection = job.runningOn else { return false }
                    sqlite3_interrupt(connection.handle)
                    return true
                }
                guard stillRunning else { return }
                usleep(10_000)
            }
        }
    }

    /// A thread's loop. The first thread (when there are several) takes only interactive reads,
    /// so one is always served within the time of another short read, however many bulk reads
    /// (exports, verify, backup) hold the others.
    private func work(open: () throws(EventStoreError) -> SQLiteConnection, interactiveOnly: Bool) {
        // Opened as the thread starts, not at its first read: the pool's descriptors are all
        // taken by the time the daemon has answered anything, so they read as its baseline.
        // The bulk readers run 5 nice levels down: a long read takes the CPU the threads that
        // answer calls, ping the watchdog and commit leave. (A thread cannot take its level back
        // without privilege, so a thread keeps one level: short reads go to the first thread,
        // at the process's level, and to the others only while it is busy.)
        if !interactiveOnly && threadCount > 1 { lowerThisThreadsPriority(by: 5) }
        let me = IdleThread(interactiveOnly: interactiveOnly)
        var wokenForAJob = false
        var connection: SQLiteConnection? = try? open()
        if let connection {
            Thread.current.threadDictionary[ReadPool.threadKey] = ThreadConnection(
                pool: ObjectIdentifier(self),
                connection: connection
            )
        }
        while true {
            condition.lock()
            var index: Int?
            while !closing {
                if interactiveOnly {
                    index = queue.firstIndex { $0.lane == .interactive }
                } else {
                    index =
                        queue.firstIndex { $0.lane == .bulk }
                        ?? (interactiveBusy || threadCount == 1 ? queue.firstIndex { $0.lane == .interactive } : nil)
                }
                if index != nil { break }
                if wokenForAJob { futileWakeups.add(1, ordering: .relaxed) }
                idle.append(me)
                condition.unlock()
                me.wake.wait()
                condition.lock()
                wokenForAJob = true
            }
            if closing {
                condition.unlock()
                break
            }
            let job = queue.remove(at: index!)
            wokenForAJob = false
            jobsTaken.add(1, ordering: .relaxed)
            condition.unlock()
            if connection == nil {
                do { connection = try open() } catch {
                    job.abandon(error)
                    continue
                }
                Thread.current.threadDictionary[ReadPool.threadKey] = ThreadConnection(
                    pool: ObjectIdentifier(self),
                    connection: connection!
                )
            }
            condition.lock()
            if job.cancelled {
                condition.unlock()
                job.abandon(EventStoreError(.interrupted, "the read was cancelled before it started"))
                continue
            }
            job.runningOn = connection
            running[ObjectIdentifier(job)] = job
            if interactiveOnly {
                interactiveBusy = true
                // Short reads queued behind this one may now go to the other threads.
                for queued in queue where queued.lane == .interactive { wakeOneFor(.interactive) }
            }
            condition.unlock()
            job.run(connection!)
            condition.lock()
            job.runningOn = nil
            running[ObjectIdentifier(job)] = nil
            if interactiveOnly { interactiveBusy = false }
            condition.unlock()
            // A query left open by an interrupt or a failure must not pin an old snapshot.
            if connection!.isInTransaction { try? connection!.execute("ROLLBACK") }
        }
        Thread.current.threadDictionary[ReadPool.threadKey] = nil
        connection = nil
        condition.lock()
        alive -= 1
        let last = alive == 0
        condition.unlock()
        if last { finished.signal() }
    }

    static let threadKey = "imr.readPool.connection"

    /// This pool's connection when the calling thread is one of its threads: synchronous reads
    /// made by work handed to the pool run on it (and an interrupt reaches them).
    func connectionOfCurrentThread() -> SQLiteConnection? {
        guard let mine = Thread.current.threadDictionary[ReadPool.threadKey] as? ThreadConnection,
            mine.pool == ObjectIdentifier(self)
        else { return nil }
        return mine.connection
    }

    /// Whether ``stopReads(_:)`` was called: long work on a reader thread (a rebuild) stops at
    /// its next step.
    var readsStopped: Bool {
        condition.lock()
        defer { condition.unlock() }
        return refusing != nil
    }

    /// Interrupts running queries and abandons queued ones, and refuses new ones, without
    /// waiting: what a stopping daemon does so that no long read holds up its exit.
    func stopReads(_ error: EventStoreError) {
        condition.lock()
        refusing = refusing ?? error
        let queued = queue
        queue.removeAll()
        let runningJobs = Array(running.values)
        condition.unlock()
        for job in runningJobs { interruptUntilDone(job) }
        for job in queued { job.abandon(error) }
    }

    /// Interrupts running queries, abandons queued ones and waits for the threads to end.
    func close() {
        condition.lock()
        if closing {
            condition.unlock()
            return
        }
        closing = true
        let queued = queue
        queue.removeAll()
        for job in running.values { if let c = job.runningOn { sqlite3_interrupt(c.handle) } }
        let wait = started && !threads.contains { pthread_equal($0, pthread_self()) != 0 }
        wakeAll()
        condition.unlock()
        for job in queued { job.abandon(closedError) }
        if wait { finished.wait() }
    }
}

/// Which reads a reader thread takes.
public enum ReadLane: Sendable {
    /// Short reads a person or the service manager waits for (status, one case, a stream).
    case interactive
    /// Reads that may take long (lists, exports, verify, backup, rebuild).
    case bulk
}

/// A reader thread's connection, as its thread dictionary holds it.
final class ThreadConnection: @unchecked Sendable {
    let pool: ObjectIdentifier
    let connection: SQLiteConnection
    init(pool: ObjectIdentifier, connection: SQLiteConnection) {
        self.pool = pool
        self.connection = connection
    }
}

/// The store's single writing connection, behind the lock every writer takes.
final class WriterLock: Sendable {
    let mutex: Mutex<Writer?>
    init(_ writer: Writer) { mutex = Mutex(writer) }
}

/// Lowers the calling OS thread's scheduling priority (Linux: a thread's own nice value) by
/// `niceness`: threads doing bulk work (long reads, deciding commands ahead) then yield the CPU
/// to those that answer calls, ping the watchdog and commit, on a machine with few cores.
public func lowerThisThreadsPriority(by niceness: Int32) {
    if let current = thisThreadsNice() { setThisThreadsNice(current + niceness) }
}

/// The calling OS thread's nice value; nil when it cannot be read.
func thisThreadsNice() -> Int32? {
    errno = 0
    let current = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(imr_gettid()))
    return errno == 0 ? current : nil
}

/// Sets the calling OS thread's nice value (at most 19; lowering it below the process's may be refused).
func setThisThreadsNice(_ value: Int32) {
    _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(imr_gettid()), min(value, 19))
}

/// Names the calling OS thread (shown by `top -H`, `perf` and `/proc/PID/task/*/comm`).
public func setThreadName(_ name: String) {
    let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { return }
    let bytes = Array(name.utf8.prefix(15))
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}
