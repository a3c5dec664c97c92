import EventStore
import Foundation
import Synchronization

/// Threads of their own for a command's CPU-heavy work (deciding it, deriving its deadlines):
/// on Swift's cooperative threads, a storm of commands queued that work ahead of everything
/// else those threads do, the watchdog's ping and `status` included.
///
/// @unchecked Sendable: the queue is guarded by `condition`.
package final class ComputeThreads: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [() -> Void] = []
    private var started = false
    private let count: Int

    /// The process's threads for this work, one per core: every case service shares them.
    package static let shared = ComputeThreads()

    /// `count` threads, started with the first job (default: one per core).
    package init(count: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.count = max(count, 1)
    }

    /// Runs `body` on one of the threads; the calling task suspends meanwhile. When nothing
    /// else is being computed (one client at a time), `body` runs at once on the calling
    /// thread instead: the hop would only add a thread wake-up to a lone call's latency, and
    /// one body at a time cannot crowd the cooperative threads.
    package func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        if busy.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged {
            defer { busy.subtract(1, ordering: .releasing) }
            return body()
        }
        busy.add(1, ordering: .relaxed)
        defer { busy.subtract(1, ordering: .relaxed) }
        return await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            submit { continuation.resume(returning: body()) }
        }
    }

    /// Bodies being computed or waiting, here or inline.
    private let busy = Atomic<Int>(0)

    private func submit(_ job: @escaping () -> Void) {
        condition.lock()
        defer { condition.unlock() }
        if !started {
            started = true
            for index in 0..<count {
                let thread = Thread { [self] in
                    Thread.current.threadDictionary["imr.thread"] = "imr-compute-\(index)"
                    setThreadName("imr-compute-\(index)")
                    // Below the threads that answer calls and ping the watchdog: a storm of commands
                    // takes the CPU that is left, not theirs.
                    lowerThisThreadsPriority(by: 5)
                    work()
                }
                thread.stackSize = 8 << 20
                thread.start()
            }
        }
        queue.append(job)
        condition.signal()
    }

    private func work() {
        while true {
            condition.lock()
            while queue.isEmpty { condition.wait() }
            let job = queue.removeFirst()
            condition.unlock()
            job()
        }
    }
}
