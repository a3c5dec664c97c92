import CSystemd
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The service manager's watchdog (`WatchdogSec=` in the unit).
package enum SystemdWatchdog {
    /// How often to send ``NotifyState/watchdog``: half of `WATCHDOG_USEC`, as `sd_watchdog_enabled(3)`
    /// recommends, so one late ping does not get the daemon killed.
    ///
    /// - Returns: `nil` when the watchdog is off for this process: `WATCHDOG_USEC` unset, or
    ///   `WATCHDOG_PID` naming another process (a child that inherited the environment).
    /// - Throws: ``SystemdSupportError`` of kind ``SystemdSupportError/Kind/watchdog`` when the
    ///   variables cannot be parsed.
    package static func pingInterval() throws(SystemdSupportError) -> Duration? {
        var microseconds: UInt64 = 0
        let result = sd_watchdog_enabled(0, &microseconds)
        if result < 0 {
            let usec = getenv("WATCHDOG_USEC").map { String(cString: $0) } ?? ""
            let pid = getenv("WATCHDOG_PID").map { String(cString: $0) } ?? ""
            throw SystemdSupportError(
                .watchdog,
                "WATCHDOG_USEC='\(usec)' WATCHDOG_PID='\(pid)' cannot be understood (\(errnoText(-result))); "
                    + "check WatchdogSec= in imr-daemon.service.",
                errno: -result
            )
        }
        guard result > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(microseconds / 2))
    }

    /// Sends ``NotifyState/watchdog`` every `interval` until the calling task is cancelled.
    ///
    /// Run it as one of the daemon's services with the interval from ``pingInterval()``. A
    /// failed ping is logged and the loop goes on: if pings keep failing systemd restarts the
    /// daemon, which is the point of the watchdog.
    package static func keepAlive(
        every interval: Duration,
        notifier: SystemdNotifier = SystemdNotifier(),
        logger: Logger
    ) async {
        while !Task.isCancelled {
            do {
                try notifier.notify(.watchdog)
            } catch {
                logger.warning("watchdog ping failed: \(error.description)")
            }
            do {
                try await Task.sleep(for: interval)
            } catch {
                return  // Cancelled: the daemon is stopping.
            }
        }
    }
}
