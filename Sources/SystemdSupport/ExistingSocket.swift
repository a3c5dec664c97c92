#if canImport(Glibc)
import Glibc
#endif

/// What to do with a file already at the path the daemon is about to bind its socket to.
///
/// NIO's `cleanupExistingSocketFile: true` removes whatever is there, which silently steals
/// the socket of a live daemon; this check only removes a socket nobody listens on.
package enum ExistingSocket {
    /// What ``prepareForBinding(path:)`` found.
    package enum Outcome: Sendable, Hashable {
        /// Nothing was at the path.
        case absent
        /// A socket file was there but connecting was refused: left by a daemon that died. It was removed.
        case removedStale
    }

    /// Makes `path` free for `bind`, refusing when another process serves it.
    ///
    /// - Throws: ``SystemdSupportError`` of kind ``SystemdSupportError/Kind/socketInUse`` when
    ///   something accepts connections at `path` (or its backlog is full, which also means it
    ///   is alive), and of kind ``SystemdSupportError/Kind/socketCheckFailed`` when the path is
    ///   not a socket, is too long, or cannot be checked or removed.
    @discardableResult
    package static func prepareForBinding(path: String) throws(SystemdSupportError) -> Outcome {
        var status = stat()
        if lstat(path, &status) != 0 {
            let code = errno
            if code == ENOENT { return .absent }
            throw SystemdSupportError(
                .socketCheckFailed,
                "cannot check the socket path \(path): \(errnoText(code)).",
                errno: code
            )
        }
        guard status.st_mode & S_IFMT == S_IFSOCK else {
            throw SystemdSupportError(
                .socketCheckFailed,
                "\(path) exists and is not a socket; remove it or choose another --socket."
            )
        }

        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else {
            throw SystemdSupportError(
                .socketCheckFailed,
                "the socket path \(path) is \(pathBytes.count) bytes long; Unix sockets allow at most \(capacity - 1)."
            )
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }

        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            let code = errno
            throw SystemdSupportError(
                .socketCheckFailed,
                "cannot create a socket to check \(path): \(errnoText(code)).",
                errno: code
            )
        }
        defer { close(fd) }
        var result: Int32
        repeat {
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
        } while result != 0 && errno == EINTR
        let code = result == 0 ? 0 : errno

        switch code {
        case 0, EAGAIN:
            throw SystemdSupportError(
                .socketInUse,
                "another imr-daemon is serving \(path); stop it first, or give this one another --socket."
            )
        case ECONNREFUSED:
            guard unlink(path) == 0 || errno == ENOENT else {
                let unlinkCode = errno
                throw SystemdSupportError(
                    .socketCheckFailed,
                    "cannot remove the stale socket \(path) left by a stopped daemon: \(errnoText(unlinkCode)).",
                    errno: unlinkCode
                )
            }
            return .removedStale
        case ENOENT:
            return .absent  // Removed between lstat and connect.
        default:
            throw SystemdSupportError(
                .socketCheckFailed,
                "cannot tell whether a daemon serves \(path): connecting failed with \(errnoText(code)).",
                errno: code
            )
        }
    }
}
