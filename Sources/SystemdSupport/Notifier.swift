import CSystemd
#if canImport(Glibc)
import Glibc
#endif

/// One assignment in an `sd_notify` message.
///
/// A message is a list of these, one `NAME=value` per line, sent as one datagram.
package enum NotifyState: Sendable, Hashable {
    /// `READY=1`: start-up is complete. Send it only once migrations ran and projections are
    /// current, because with `Type=notify` systemd starts dependent units at this moment.
    case ready
    /// `STATUS=...`: a one-line sentence for `systemctl status`. Newlines become spaces,
    /// because the notify protocol separates assignments by newlines.
    case status(String)
    /// `STOPPING=1`: shutdown has begun.
    case stopping
    /// `RELOADING=1` followed by `MONOTONIC_USEC=<now>`: configuration is being re-read.
    /// systemd 253 and later use the timestamp to tell this reload from an earlier one (and
    /// `Type=notify-reload` requires it); older versions ignore it. Send ``ready`` when done.
    case reloading
    /// `WATCHDOG=1`: the keep-alive ping for `WatchdogSec=`.
    case watchdog
    /// `MAINPID=<pid>`: the main process is another one.
    case mainPID(Int32)
    /// `ERRNO=<n>`: the reason for a failure, shown by `systemctl status`.
    case errno(Int32)
    /// `EXTEND_TIMEOUT_USEC=<n>`: start-up (or reload, or shutdown) needs up to this much longer
    /// than `TimeoutStartSec=`, for example while projections are rebuilt from a long log.
    /// Send it again before it runs out.
    case extendTimeout(Duration)

    /// The lines this state contributes to the datagram.
    ///
    /// - Parameter monotonicMicroseconds: `CLOCK_MONOTONIC` now, used by ``reloading`` only.
    package func lines(monotonicMicroseconds: UInt64) -> [String] {
        switch self {
        case .ready: ["READY=1"]
        case .status(let text):
            ["STATUS=" + String(text.map { $0.isNewline ? " " : $0 })]
        case .stopping: ["STOPPING=1"]
        case .reloading: ["RELOADING=1", "MONOTONIC_USEC=\(monotonicMicroseconds)"]
        case .watchdog: ["WATCHDOG=1"]
        case .mainPID(let pid): ["MAINPID=\(pid)"]
        case .errno(let code): ["ERRNO=\(code)"]
        case .extendTimeout(let duration):
            [
                "EXTEND_TIMEOUT_USEC=\(duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000)"
            ]
        }
    }
}

/// Tells the service manager about the daemon's state through `sd_notify(3)`.
///
/// Outside systemd (no `NOTIFY_SOCKET`) every call is a cheap no-op that returns `false`, so the
/// daemon can call it unconditionally when run by hand or in tests.
package struct SystemdNotifier: Sendable {
    /// Creates a notifier that sends to the socket in `NOTIFY_SOCKET`, read anew on every call.
    package init() {}

    /// The datagram that ``notify(_:)`` sends for these states.
    ///
    /// - Parameter monotonicMicroseconds: `CLOCK_MONOTONIC` now; only ``NotifyState/reloading``
    ///   uses it.
    package static func message(for states: [NotifyState], monotonicMicroseconds: UInt64) -> String {
        states.flatMap { $0.lines(monotonicMicroseconds: monotonicMicroseconds) }.joined(separator: "\n")
    }

    /// Sends one datagram with all of `states`.
    ///
    /// - Returns: `true` when the message was sent, `false` when the process does not run under
    ///   a service manager that listens (`NOTIFY_SOCKET` unset): nothing was sent.
    /// - Throws: ``SystemdSupportError`` of kind ``SystemdSupportError/Kind/notify`` when
    ///   `NOTIFY_SOCKET` is set but sending failed; systemd then never sees `READY=1`, so the
    ///   daemon should log this and carry on or stop, not ignore it silently.
    @discardableResult
    package func notify(_ states: [NotifyState]) throws(SystemdSupportError) -> Bool {
        guard !states.isEmpty else { return false }
        let message = Self.message(for: states, monotonicMicroseconds: Self.monotonicMicrosecondsNow())
        let result = Self.send(message)
        if result < 0 {
            let socket = getenv("NOTIFY_SOCKET").map { String(cString: $0) } ?? ""
            throw SystemdSupportError(
                .notify,
                "sd_notify to NOTIFY_SOCKET='\(socket)' failed: \(errnoText(-result)); "
                    + "systemd will not learn that the daemon is \(states.map(Self.word).joined(separator: ", ")).",
                errno: -result
            )
        }
        return result > 0
    }

    /// Sends `message` to `NOTIFY_SOCKET` without ever waiting: `sd_notify` blocks while the
    /// socket's queue is full (a service manager that reads slowly, or a test that does not
    /// read), and the daemon sends from the threads that answer its calls. A message that does
    /// not fit is dropped with EAGAIN (the next watchdog ping or status follows soon). Socket
    /// paths and abstract names are sent directly; any other address form goes to `sd_notify`.
    /// Returns what `sd_notify` would: >0 sent, 0 no socket, <0 a negative errno.
    static func send(_ message: String) -> Int32 {
        guard let raw = getenv("NOTIFY_SOCKET") else { return 0 }
        let socketPath = String(cString: raw)
        guard let first = socketPath.utf8.first, first == UInt8(ascii: "/") || first == UInt8(ascii: "@") else {
            return sd_notify(0, message)
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(socketPath.utf8)
        if first == UInt8(ascii: "@") { pathBytes[0] = 0 }  // abstract namespace
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else { return -ENAMETOOLONG }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in pathBytes.enumerated() { buffer[index] = byte }
        }
        let length = socklen_t(
            MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + pathBytes.count + (first == UInt8(ascii: "/") ? 1 : 0)
        )
        let fd = socket(
            AF_UNIX,
            Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
            0
        )
        guard fd >= 0 else { return -errno }
        defer { close(fd) }
        let sent = message.utf8CString.withUnsafeBufferPointer { text in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
                    sendto(
                        fd,
                        text.baseAddress,
                        text.count - 1,
                        Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT),
                        sockaddrPointer,
                        length
                    )
                }
            }
        }
        return sent < 0 ? -errno : 1
    }

    /// Sends one datagram with all of `states`; the same as the array form.
    @discardableResult
    package func notify(_ states: NotifyState...) throws(SystemdSupportError) -> Bool {
        try notify(states)
    }

    /// `CLOCK_MONOTONIC` in microseconds, the clock systemd compares `MONOTONIC_USEC` with.
    package static func monotonicMicrosecondsNow() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }

    private static func word(_ state: NotifyState) -> String {
        switch state {
        case .ready: "ready"
        case .status: "reporting a status"
        case .stopping: "stopping"
        case .reloading: "reloading"
        case .watchdog: "alive"
        case .mainPID: "changing its main pid"
        case .errno: "failing"
        case .extendTimeout: "still busy"
        }
    }
}
