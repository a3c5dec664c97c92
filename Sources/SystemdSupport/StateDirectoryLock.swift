import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive `flock` on `<state-dir>/imr-daemon.lock`, held for the daemon's lifetime, so
/// that two daemons never write the same event log (SQLite would serialise them, but two
/// alert schedulers and two sockets would not).
///
/// The kernel drops the lock when the process dies, however it dies, so a stale lock file
/// never blocks a restart. The file holds the holder's pid for the refusal message; it is not
/// removed on release because unlinking a lock file races with the next daemon opening it.
package final class StateDirectoryLock: Sendable {
    /// The lock file's name inside the state directory.
    package static let fileName = "imr-daemon.lock"

    /// The path of the lock file.
    package let path: String
    // The descriptor, or -1 once released; a Mutex because release() may race with deinit's
    // owner dropping the last reference on another task.
    private let descriptor: Mutex<Int32>

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = Mutex(descriptor)
    }

    /// Takes the lock in `stateDirectory` without waiting, and writes this process's pid into it.
    ///
    /// - Throws: ``SystemdSupportError`` of kind ``SystemdSupportError/Kind/lockHeld`` naming
    ///   the pid of the holder when another process holds it, or of kind
    ///   ``SystemdSupportError/Kind/lockFailed`` when the file cannot be opened or written.
    package static func acquire(stateDirectory: String) throws(SystemdSupportError) -> StateDirectoryLock {
        let path = stateDirectory.hasSuffix("/") ? stateDirectory + fileName : stateDirectory + "/" + fileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            let code = errno
            throw SystemdSupportError(
                .lockFailed,
                "cannot open the lock file \(path): \(errnoText(code)); "
                    + "check that the state directory exists and belongs to the daemon's user.",
                errno: code
            )
        }
        var result: Int32
        repeat { result = flock(fd, LOCK_EX | LOCK_NB) } while result != 0 && errno == EINTR
        if result != 0 {
            let code = errno
            let holder = code == EWOULDBLOCK ? readPID(fd) : nil
            close(fd)
            if code == EWOULDBLOCK {
                let who = holder.map { "another imr-daemon (pid \($0))" } ?? "another imr-daemon"
                throw SystemdSupportError(
                    .lockHeld,
                    "\(who) is using the state directory \(stateDirectory) (it holds \(path)); "
                        + "stop it first, or give this one another --state-dir.",
                    errno: code,
                    holderPID: holder
                )
            }
            throw SystemdSupportError(.lockFailed, "cannot lock \(path): \(errnoText(code)).", errno: code)
        }
        let pidLine = Array("\(getpid())\n".utf8)
        let written = pidLine.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        guard ftruncate(fd, off_t(pidLine.count)) == 0, written == pidLine.count else {
            let code = errno
            close(fd)
            throw SystemdSupportError(
                .lockFailed,
                "cannot write the pid into \(path): \(errnoText(code)); is the disk full?",
                errno: code
            )
        }
        return StateDirectoryLock(path: path, descriptor: fd)
    }

    /// Releases the lock (closing the file); later calls do nothing.
    package func release() {
        descriptor.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    deinit { release() }

    /// The pid in a lock file, if it holds one.
    private static func readPID(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[..<count], as: UTF8.self)
        return Int32(text.trimmingWhitespace())
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> Substring {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return slice
    }
}
