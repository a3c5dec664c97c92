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
/// so what it leaves is as durable as SQLite's own checkpoint leaves it.
// @unchecked Sendable: `requested`, `stopping` and `running` are read and written only while
// holding `condition`; the connection is used only on the thread.
final class Checkpointer: @unchecked Sendable {
    private let path: String
    private let busyTimeoutMilliseconds: Int32
    private let condition = NSCondition()
    private var requested = false
    private var stopping = false
    private var running = false
    /// Checkpoints run (for tests).
    let passes = Atomic<Int>(0)

    init(path: String, busyTimeoutMilliseconds: Int32) {
        self.path = path
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
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
                return stopping
            }
            if stop { break }
            if connection == nil {
                connection = try? SQLiteConnection(path: path, create: false)
                connection?.setBusyTimeout(milliseconds: busyTimeoutMilliseconds)
                try? connection?.execute("PRAGMA synchronous = FULL")
            }
            // Busy (another checkpoint runs) or failed: the next commit past the threshold asks again.
            if (try? connection?.execute("PRAGMA wal_checkpoint(PASSIVE)")) != nil {
                passes.add(1, ordering: .relaxed)
            }
        }
        connection = nil
        condition.withLock {
            running = false
            condition.broadcast()
        }
    }
}
