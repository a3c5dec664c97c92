import Foundation

/// Runs blocking code (SQLite, a child process, a client that waits on a socket) on a thread of
/// its own, leaving the cooperative pool free: on a two-core machine it has two threads, and
/// the code under test needs them.
///
/// The body runs in the calling task, on a task executor backed by that thread, so what it
/// records is the running test's: an expectation that failed on a detached thread was reported
/// by swift-testing for an «unknown» test (the run failed, naming only the file and line).
package func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    let executor = ThreadTaskExecutor()
    defer { executor.finish() }
    return try await withTaskExecutorPreference(executor) { try await runHere(body) }
}

/// Called with the task executor preferred: a nonisolated async function runs on it.
private nonisolated func runHere<T: Sendable>(_ body: @Sendable () throws -> T) async throws -> T {
    try body()
}

/// A task executor with one thread of its own, which runs its jobs in order until finished.
// @unchecked Sendable: `jobs` and `finished` are read and written only while holding `condition`.
final class ThreadTaskExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var finished = false

    init() {
        let thread = Thread { [self] in run() }
        thread.stackSize = 8 << 20
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.withLock {
            jobs.append(job)
            condition.signal()
        }
    }

    /// The thread ends once the jobs enqueued so far have run.
    func finish() {
        condition.withLock {
            finished = true
            condition.signal()
        }
    }

    private func run() {
        while true {
            let job: UnownedJob? = condition.withLock {
                while jobs.isEmpty && !finished { condition.wait() }
                return jobs.isEmpty ? nil : jobs.removeFirst()
            }
            guard let job else { return }
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
