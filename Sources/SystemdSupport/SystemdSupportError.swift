#if canImport(Glibc)
import Glibc
#endif

/// A failure of one of the systemd or process-exclusion helpers, as a sentence an operator can
/// act on.
///
/// Compare ``kind`` to tell failures apart; the kinds are static values rather than enum cases
/// so that new kinds do not break callers that switch over them.
package struct SystemdSupportError: Error, CustomStringConvertible, Sendable {
    /// Which helper failed and why, for callers that react differently to different failures.
    package struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Code: Hashable, Sendable {
            case notify, watchdog, socketActivation, lockHeld, lockFailed, socketInUse, socketCheckFailed
        }
        private let code: Code
        private init(_ code: Code) { self.code = code }

        /// `sd_notify` failed, for example because `NOTIFY_SOCKET` names a socket that is gone.
        package static let notify = Kind(.notify)
        /// `WATCHDOG_USEC` or `WATCHDOG_PID` could not be understood.
        package static let watchdog = Kind(.watchdog)
        /// systemd passed sockets, but not one the daemon can serve.
        package static let socketActivation = Kind(.socketActivation)
        /// Another process holds the state-directory lock.
        package static let lockHeld = Kind(.lockHeld)
        /// The lock file could not be opened, locked or written.
        package static let lockFailed = Kind(.lockFailed)
        /// Something accepts connections on the socket path already.
        package static let socketInUse = Kind(.socketInUse)
        /// The socket path could not be checked or cleaned up.
        package static let socketCheckFailed = Kind(.socketCheckFailed)

        /// The kind's name, for logs.
        package var description: String { "\(code)" }
    }

    /// Which helper failed.
    package let kind: Kind
    /// The whole sentence: what is wrong and what to do about it.
    package let description: String
    /// The `errno` of the failing call, when one failed.
    package let errno: Int32?
    /// For ``Kind/lockHeld``: the pid written into the lock file by the holder, when it is known.
    package let holderPID: Int32?

    init(_ kind: Kind, _ description: String, errno: Int32? = nil, holderPID: Int32? = nil) {
        self.kind = kind
        self.description = description
        self.errno = errno
        self.holderPID = holderPID
    }
}

/// The text of an `errno` value, as `strerror` gives it.
func errnoText(_ code: Int32) -> String {
    String(cString: strerror(code))
}
