// A child process for SystemdSupportTests; not installed.
//
//   imr-systemd-probe listen-fds        prints "fd=<n> name=<name>" for the Varlink socket
//                                        systemd (or systemd-socket-activate) passed, "none"
//                                        when none was, or "error: ..." and exits 1.
//   imr-systemd-probe hold-lock DIR     takes the state-directory lock, prints "locked pid=<n>"
//                                        and sleeps until killed.
//   imr-systemd-probe watchdog          prints "interval_us=<n>" or "off".
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
default:
    fail("usage: imr-systemd-probe listen-fds | hold-lock DIR | watchdog")
}
