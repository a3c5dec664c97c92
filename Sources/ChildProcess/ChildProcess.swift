import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Starting and waiting for child processes without Foundation's reaper.
//
// swift-corelibs-foundation learns that a child ended through a socket pair whose one end the
// child holds (it closes when the child exits); its manager thread then calls a blocking
// `waitpid`. That end, and the ends of every `Pipe()`, are made without close-on-exec, and
// `Process.run()` closes the parent's other descriptors in the child only as far as it saw
// them open when it looked. A child started at the same moment by another thread can
// therefore inherit another child's ends: `waitUntilExit()` then waits for a child that has
// exited (a zombie) until the other one ends too, and two threads that each wait for their own
// child while holding the other's daemon open wait for ever (seen in the test suite under
// load). So every child of imr is started under one lock with its pipes made close-on-exec
// (`Process.start()`, `Pipe.forChild()`), and is waited for with `waitpid` on its own pid
// (`Process.waitForExit()`), never with `waitUntilExit()`, `terminationStatus` or a
// termination handler. Every child is a `SpawnedProcess`, which starts it with `posix_spawn`
// itself rather than through Foundation's `run()` (see there why).

/// How a child process ended.
package struct ChildExit: Sendable, Equatable, CustomStringConvertible {
    /// The exit status, or the signal's number when `signalled`.
    package var status: Int32
    /// Whether a signal ended it (the status is then the signal's number).
    package var signalled: Bool

    package init(status: Int32, signalled: Bool) {
        self.status = status
        self.signalled = signalled
    }

    /// The exit status 0.
    package var succeeded: Bool { !signalled && status == 0 }

    package var description: String { signalled ? "killed by signal \(status)" : "exit status \(status)" }

    /// Decodes a `waitpid` status word (WIFEXITED/WEXITSTATUS/WTERMSIG are C macros Swift cannot call).
    init(waitStatus: Int32) {
        let signal = waitStatus & 0x7f
        if signal == 0 {
            self.init(status: (waitStatus >> 8) & 0xff, signalled: false)
        } else {
            self.init(status: signal, signalled: true)
        }
    }
}

/// The children this process has reaped, by pid, each with its Process: a pid taken again by
/// another child is not mistaken for the old one, and the entries of processes that are gone
/// are dropped, so a long-running daemon that runs a command per alert keeps a few.
private final class Reaped: @unchecked Sendable {
    // @unchecked Sendable: `exits` is only touched while `lock` is held.
    private struct Entry {
        weak var process: SpawnedProcess?
        var exit: ChildExit
    }
    private let lock = NSLock()
    private var exits: [pid_t: Entry] = [:]

    func exit(of process: SpawnedProcess) -> ChildExit? {
        lock.withLock { exits[process.processIdentifier].flatMap { $0.process === process ? $0.exit : nil } }
    }

    func record(_ exit: ChildExit, of process: SpawnedProcess) {
        lock.withLock {
            if exits.count >= 64 { exits = exits.filter { $0.value.process != nil } }
            exits[process.processIdentifier] = Entry(process: process, exit: exit)
        }
    }
}

private let reaped = Reaped()
/// Held while a pipe for a child is made and while a child is started: no child can then
/// inherit a descriptor made for another.
private let spawnLock = NSLock()

/// Runs `body`, which changes this process's environment (`setenv`, `unsetenv`), under the
/// spawn lock. A child given no environment gets a copy of `environ` as it starts, and `setenv`
/// may move that array meanwhile (a child started so copied freed memory: a crash seen in the
/// test suite, whose environment tests set `NOTIFY_SOCKET` while other tests start children).
@discardableResult
package func changingEnvironment<T>(_ body: () throws -> T) rethrows -> T {
    try spawnLock.withLock { try body() }
}

private func setCloseOnExec(_ fd: Int32) {
    let flags = fcntl(fd, F_GETFD)
    if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
}

extension Pipe {
    /// A pipe whose ends are close-on-exec, made under the spawn lock: only the child it is
    /// given to (as its stdin, stdout or stderr, which `dup2` makes inheritable) receives it.
    package static func forChild() -> Pipe {
        spawnLock.withLock {
            let pipe = Pipe()
            setCloseOnExec(pipe.fileHandleForReading.fileDescriptor)
            setCloseOnExec(pipe.fileHandleForWriting.fileDescriptor)
            return pipe
        }
    }
}

extension SpawnedProcess {
    /// `run()`, under the spawn lock, with the pipes given to the child made close-on-exec.
    package func start() throws {
        try spawnLock.withLock {
            for stream in [standardInput, standardOutput, standardError] {
                if let pipe = stream as? Pipe {
                    setCloseOnExec(pipe.fileHandleForReading.fileDescriptor)
                    setCloseOnExec(pipe.fileHandleForWriting.fileDescriptor)
                }
            }
            try run()
        }
    }

    /// Whether the child has ended; reaps it if it has.
    package var hasExited: Bool { poll() != nil }

    /// The exit, if the child has ended (reaping it), else nil.
    package func poll() -> ChildExit? {
        let pid = processIdentifier
        precondition(pid > 0, "poll() or waitForExit() on a process that was never started")
        if let exit = reaped.exit(of: self) { return exit }
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                let exit = ChildExit(waitStatus: status)
                reaped.record(exit, of: self)
                return exit
            }
            if result == 0 { return nil }
            if errno == EINTR { continue }
            // ECHILD: reaped by someone else (nothing here does: it has no other reaper). Its
            // status is lost; say so rather than wait.
            let exit = ChildExit(status: 255, signalled: false)
            reaped.record(exit, of: self)
            return exit
        }
    }

    /// Waits for the child to end and reaps it.
    @discardableResult
    package func waitForExit() -> ChildExit {
        var pause: useconds_t = 500
        while true {
            if let exit = poll() { return exit }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
    }

    /// Waits at most `seconds` for the child to end; nil if it is still running.
    package func waitForExit(seconds: Double) -> ChildExit? {
        let deadline = Date().addingTimeInterval(seconds)
        var pause: useconds_t = 500
        while true {
            if let exit = poll() { return exit }
            if Date() >= deadline { return nil }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
    }

    /// Waits for the child to end on a thread of its own, never on Swift's cooperative pool.
    package func exit() async -> ChildExit {
        if let exit = poll() { return exit }
        return await withCheckedContinuation { continuation in
            let process = UncheckedProcess(process: self)
            Thread.detachNewThread { continuation.resume(returning: process.process.waitForExit()) }
        }
    }

    /// Sends `signal` if the child has not been reaped yet (a reaped pid may belong to someone else).
    package func send(_ signal: Int32) {
        guard processIdentifier > 0, poll() == nil else { return }
        kill(processIdentifier, signal)
    }

    /// SIGKILL unless it has ended, then waits for it.
    @discardableResult
    package func killAndWait() -> ChildExit {
        if poll() == nil { send(SIGKILL) }
        return waitForExit()
    }
}

/// @unchecked Sendable: only the pid, `waitpid` and the locked record of reaped children are
/// used from the waiting thread.
private struct UncheckedProcess: @unchecked Sendable {
    let process: SpawnedProcess
}
