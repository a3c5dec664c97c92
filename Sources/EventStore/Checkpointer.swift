import CSQLite
import Foundation
import Synchronization

/// Checkpoints the WAL into the main file on a thread and a connection of its own, when the
/// writer asks (see ``Writer/noteCommit()``). SQLite's automatic checkpoint runs on the
/// committing connection, at the end of a commit: on a store of 200,000 cases (1.4 GB) its sync
/// of the main file took 55-98 ms, and every command waiting behind that commit waited for it
/// (the writers' p99 was 117-150 ms against a p50 of 4-6). Here the writer goes on meanwhile.
///
/// The checkpoint is PASSIVE: it copies the frames no reader still needs and waits for nobody;
/// its connection syncs as `synchronous=FULL` does (the WAL before copying, the main file after),
/// so what it leaves is as durable as SQLite's own checkpoint leaves it. Commits made while a
/// pass runs stay in the WAL after it, and the WAL starts over only once all of it is copied:
/// the writer copies those few frames itself between two transactions
/// (``Writer/catchUpCheckpoint()``), so the WAL stays near the threshold under a steady load.
// @unchecked Sendable: `requested`, `stopping`, `running` and `inPass` are read and written only while
// holding `condition`; the connection is used only on the thread.
final class Checkpointer: @unchecked Sendable {
    private let path: String
    private let busyTimeoutMilliseconds: Int32
    private let condition = NSCondition()
    private var requested = false
    private var stopping = false
    private var running = false
    private var inPass = false
    /// Checkpoints run (for tests).
    let passes = Atomic<Int>(0)

    /// Whether no pass is running or asked for (for tests).
    var isIdle: Bool { condition.withLock { !requested && !inPass } }

    /// Reports a failure when it starts and when it ends; touched only on the thread.
    private var streak: FailureStreak

    init(path: String, busyTimeoutMilliseconds: Int32, conditions: (@Sendable (StoreCondition) -> Void)?) {
        self.path = path
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        self.streak = FailureStreak(path: path, by: .checkpointThread, conditions: conditions)
    }

    /// Asks for a checkpoint; the thread starts with the first request.
    func request() {
        condition.withLock {
            guard !stopping else { return }
            requested = true
            if !running {
                running = true
                let thread = Thread { [self] in run() }
                thread.stackSize = 1 << 20
                thread.start()
            }
            condition.signal()
        }
    }

    /// Ends the thread after the checkpoint it is running, if any, and waits for it.
    func stop() {
        condition.withLock {
            stopping = true
            condition.broadcast()
            while running { condition.wait() }
        }
    }

    private func run() {
        Thread.current.threadDictionary["imr.thread"] = "imr-checkpoint"
        setThreadName("imr-checkpoint")
        var connection: SQLiteConnection?
        while true {
            let stop = condition.withLock {
                while !requested && !stopping { condition.wait() }
                requested = false
                inPass = !stopping
                return stopping
            }
            if stop { break }
            defer { condition.withLock { inPass = false } }
            // Failed: reported once (the WAL grows meanwhile), and the next commit past the
            // threshold asks again, on a new connection.
            do throws(SQLiteError) {
                if connection == nil {
                    let opened = try SQLiteConnection(path: path, create: false)
                    opened.setBusyTimeout(milliseconds: busyTimeoutMilliseconds)
                    try opened.execute("PRAGMA synchronous = FULL")
                    connection = opened
                }
                try connection?.execute("PRAGMA wal_checkpoint(PASSIVE)")
                passes.add(1, ordering: .relaxed)
                streak.succeeded()
            } catch {
                streak.failed(error.description, frames: nil)
                // Opened afresh next time: a file moved away and back, or replaced, is then the
                // one the writer commits to.
                connection = nil
            }
        }
        connection = nil
        condition.withLock {
            running = false
            condition.broadcast()
        }
    }
}

/// Something the store worked around instead of failing a call on (``EventStore/Options/conditions``).
public enum StoreCondition: Sendable, Hashable, CustomStringConvertible {
    /// Who checkpoints: the store's checkpoint thread, or the writer itself once the WAL has
    /// grown past eight times ``EventStore/Options/checkpointFrames``.
    public enum CheckpointedBy: String, Sendable, Hashable {
        case checkpointThread = "the checkpoint thread"
        case writer = "the writer"
    }

    /// A checkpoint of the WAL into the main file failed (the first of a run of failures):
    /// the WAL grows until one succeeds. `frames`: the WAL's size in pages, when known.
    case checkpointFailing(path: String, by: CheckpointedBy, error: String, frames: Int?)
    /// A checkpoint succeeded after `failures` failed ones.
    case checkpointRecovered(path: String, by: CheckpointedBy, failures: Int)

    public var description: String {
        switch self {
        case .checkpointFailing(let path, let by, let error, let frames):
            let size = frames.map { " (\($0) pages in the WAL)" } ?? ""
            return
                "\(by.rawValue) cannot checkpoint the WAL of \(path) into the main file: \(error); the WAL grows\(size) until a checkpoint succeeds (tried again as commits go on): check the disk's free space and the files' permissions"
        case .checkpointRecovered(let path, let by, let failures):
            return
                "\(by.rawValue) checkpointed the WAL of \(path) into the main file again, after \(failures) failed \(failures == 1 ? "attempt" : "attempts")"
        }
    }
}

/// A run of failed attempts, reported when it starts and when it ends.
struct FailureStreak {
    let path: String
    let by: StoreCondition.CheckpointedBy
    let conditions: (@Sendable (StoreCondition) -> Void)?
    private(set) var failures = 0

    init(path: String, by: StoreCondition.CheckpointedBy, conditions: (@Sendable (StoreCondition) -> Void)?) {
        self.path = path
        self.by = by
        self.conditions = conditions
    }

    mutating func failed(_ error: String, frames: Int?) {
        failures += 1
        if failures == 1 { conditions?(.checkpointFailing(path: path, by: by, error: error, frames: frames)) }
    }

    mutating func succeeded() {
        if failures > 0 { conditions?(.checkpointRecovered(path: path, by: by, failures: failures)) }
        failures = 0
    }
}
