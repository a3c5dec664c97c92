import NIOCore

/// Runs a task's jobs on one event loop: a connection's calls are taken, answered and written
/// out on the loop that reads its socket, with no hop to Swift's cooperative threads and back
/// for each call (each hop a thread woken). What blocks (SQLite, fsync, a subprocess) runs on
/// threads of its own as before; an awaited result resumes here.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
