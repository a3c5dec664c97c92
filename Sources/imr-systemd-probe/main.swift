// A child process for SystemdSupportTests; not installed.
//
//   imr-systemd-probe listen-fds        prints "fd=<n> name=<name>" for the Varlink socket
//                                        systemd (or systemd-socket-activate) passed, "none"
//                                        when none was, or "error: ..." and exits 1.
//   imr-systemd-probe hold-lock DIR     takes the state-directory lock, prints "locked pid=<n>"
//                                        and sleeps until killed.
//   imr-systemd-probe watchdog          prints "interval_us=<n>" or "off".
//   imr-systemd-probe journal           logs two entries through JournalLogHandler.
//   imr-systemd-probe serve DIR SOCKET  the daemon's start-up sequence without the Varlink
//                                        server: lock DIR, take the passed socket or check and
//                                        bind SOCKET, send READY=1, wait for SIGTERM, send
//                                        STOPPING=1. Prints what it does, one line per step.
import Logging
import SystemdSupport
#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments.dropFirst()

/// Prints a line and flushes at once: the test reads it while this process keeps running.
func say(_ line: String) {
    print(line)
    fflush(nil)
}

struct BindFailure: Error, CustomStringConvertible {
    let description: String
}

/// A listening Unix stream socket at `path`, as the daemon would bind it without activation.
func bindAndListen(_ path: String) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard fd >= 0, bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
        throw BindFailure(description: "cannot create a socket for \(path)")
    }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
    guard bound == 0, listen(fd, 64) == 0 else {
        throw BindFailure(description: "cannot bind \(path): \(String(cString: strerror(errno)))")
    }
    return fd
}

func fail(_ message: String) -> Never {
    say("error: \(message)")
    exit(1)
}

switch arguments.first {
case "listen-fds":
    do {
        if let passed = try SocketActivation.varlinkListener() {
            say("fd=\(passed.fileDescriptor) name=\(passed.name)")
        } else {
            say("none")
        }
    } catch {
        fail(error.description)
    }
case "hold-lock":
    guard arguments.count == 2, let directory = arguments.last else { fail("usage: hold-lock DIR") }
    do {
        let lock = try StateDirectoryLock.acquire(stateDirectory: directory)
        say("locked pid=\(getpid())")
        while true { pause() }
        withExtendedLifetime(lock) {}
    } catch {
        fail(error.description)
    }
case "watchdog":
    do {
        if let interval = try SystemdWatchdog.pingInterval() {
            let (seconds, attoseconds) = interval.components
            say("interval_us=\(seconds * 1_000_000 + attoseconds / 1_000_000_000_000)")
        } else {
            say("off")
        }
    } catch {
        fail(error.description)
    }
case "journal":
    let logger = Logger(label: "probe") { _ in JournalLogHandler(syslogIdentifier: "imr-probe") }
    logger.warning(
        "deadline due\ntomorrow",
        metadata: [
            "case.id": "ADJ1234567", "message.id": .string(JournalMessageID.daemonReady),
        ]
    )
    logger.debug("below the handler's level: not sent")
case "serve":
    guard arguments.count == 3 else { fail("usage: serve DIR SOCKET") }
    let directory = arguments[arguments.startIndex + 1]
    let path = arguments[arguments.startIndex + 2]
    // Block SIGTERM before anything else so that it is queued for sigwait, never fatal.
    var terminate = sigset_t()
    sigemptyset(&terminate)
    sigaddset(&terminate, SIGTERM)
    sigprocmask(SIG_BLOCK, &terminate, nil)
    do {
        let lock = try StateDirectoryLock.acquire(stateDirectory: directory)
        let listener: Int32
        if let passed = try SocketActivation.varlinkListener() {
            listener = passed.fileDescriptor
        } else {
            if try ExistingSocket.prepareForBinding(path: path) == .removedStale {
                say("removed stale \(path)")
            }
            listener = try bindAndListen(path)
        }
        let notifier = SystemdNotifier()
        try notifier.notify(.ready, .status("Serving \(path)"))
        say("serving pid=\(getpid())")
        var signal: Int32 = 0
        sigwait(&terminate, &signal)
        try notifier.notify(.stopping)
        say("stopping")
        close(listener)
        withExtendedLifetime(lock) {}
    } catch {
        fail("\(error)")
    }
default:
    fail("usage: imr-systemd-probe listen-fds | hold-lock DIR | watchdog | serve DIR SOCKET")
}
