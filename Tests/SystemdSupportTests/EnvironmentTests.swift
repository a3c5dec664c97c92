import ChildProcess
import Foundation
import Logging
import Testing
@testable import SystemdSupport
#if canImport(Glibc)
import Glibc
#endif

/// sd_notify and sd_watchdog_enabled read the process environment, so these tests set it;
/// they run one at a time and restore what they changed, each change under the spawn lock
/// (`changingEnvironment`: other suites start children meanwhile, which copy the environment).
@Suite(.serialized, .timeLimit(.minutes(1))) struct EnvironmentTests {
    /// Sets `name` to `value` (or unsets it) for the duration of `body`.
    func withEnvironment(_ values: [String: String?], _ body: () throws -> Void) throws {
        // An array, not a dictionary: assigning nil to a dictionary entry removes it, and
        // "was unset" must be restored too.
        var saved: [(name: String, value: String?)] = []
        for (name, value) in values {
            saved.append((name, getenv(name).map { String(cString: $0) }))
            changingEnvironment { if let value { setenv(name, value, 1) } else { unsetenv(name) } }
        }
        defer {
            for (name, value) in saved {
                changingEnvironment { if let value { setenv(name, value, 1) } else { unsetenv(name) } }
            }
        }
        try body()
    }

    /// Receives one datagram from `fd`, waiting at most `timeoutMilliseconds`.
    func receive(_ fd: Int32, timeoutMilliseconds: Int32 = 1000) -> String? {
        var pollDescriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pollDescriptor, 1, timeoutMilliseconds) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count >= 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }

    @Test func notifier_sendsExactDatagrams_forReadyStatusStoppingAndReloading() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let socketPath = dir.path("notify")
        let fd = boundUnixSocket(socketPath, type: Int32(SOCK_DGRAM.rawValue))
        defer { close(fd) }
        let notifier = SystemdNotifier()

        try withEnvironment(["NOTIFY_SOCKET": socketPath]) { () throws in
            #expect(try notifier.notify(.ready, .status("Serving 12 cases")))
            #expect(receive(fd) == "READY=1\nSTATUS=Serving 12 cases")

            #expect(try notifier.notify(.status("line one\nline two")))
            #expect(receive(fd) == "STATUS=line one line two")

            #expect(try notifier.notify(.stopping))
            #expect(receive(fd) == "STOPPING=1")

            #expect(try notifier.notify(.watchdog))
            #expect(receive(fd) == "WATCHDOG=1")

            #expect(try notifier.notify(.extendTimeout(.seconds(90)), .status("Rebuilding projections: 40%")))
            #expect(receive(fd) == "EXTEND_TIMEOUT_USEC=90000000\nSTATUS=Rebuilding projections: 40%")

            let before = SystemdNotifier.monotonicMicrosecondsNow()
            #expect(try notifier.notify(.reloading, .status("Reloading configuration")))
            let after = SystemdNotifier.monotonicMicrosecondsNow()
            let datagram = try #require(receive(fd))
            let lines = datagram.split(separator: "\n").map(String.init)
            try #require(lines.count == 3, "got \(datagram)")
            #expect(lines[0] == "RELOADING=1")
            #expect(lines[2] == "STATUS=Reloading configuration")
            let stamp = try #require(lines[1].hasPrefix("MONOTONIC_USEC=") ? UInt64(lines[1].dropFirst(15)) : nil)
            #expect(before <= stamp && stamp <= after, "MONOTONIC_USEC=\(stamp) not in [\(before), \(after)]")
            // sd_notify(unset_environment: 0) must leave NOTIFY_SOCKET for the next call.
            #expect(getenv("NOTIFY_SOCKET").map { String(cString: $0) } == socketPath)
        }
    }

    @Test func notifier_sendsNothingAndReturnsFalse_withoutNotifySocket() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let fd = boundUnixSocket(dir.path("notify"), type: Int32(SOCK_DGRAM.rawValue))
        defer { close(fd) }
        try withEnvironment(["NOTIFY_SOCKET": nil]) { () throws in
            #expect(try SystemdNotifier().notify(.ready) == false)
        }
        #expect(receive(fd) == nil)
    }

    @Test func notifier_neverWaits_whenNobodyReadsTheSocket() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let socketPath = dir.path("notify")
        let fd = boundUnixSocket(socketPath, type: Int32(SOCK_DGRAM.rawValue))
        defer { close(fd) }
        try withEnvironment(["NOTIFY_SOCKET": socketPath]) { () throws in
            // The socket's queue holds a few datagrams (net.unix.max_dgram_qlen); beyond that a
            // blocking send would wait for a reader for ever. Every call returns at once.
            var refused: SystemdSupportError?
            let started = ContinuousClock.now
            for _ in 0..<200 {
                do throws(SystemdSupportError) { try SystemdNotifier().notify(.watchdog) } catch { refused = error }
            }
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(refused?.errno == EAGAIN, "\(String(describing: refused))")
            // What was queued is intact, and the socket takes messages again once read.
            #expect(receive(fd) == "WATCHDOG=1")
            while receive(fd) != nil {}
            #expect(try SystemdNotifier().notify(.status("back")))
            #expect(receive(fd) == "STATUS=back")
        }
    }

    @Test func notifier_reachesAnAbstractSocket() throws {
        let name = "imr-notify-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = [UInt8(0)] + Array(name.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in for (i, b) in bytes.enumerated() { buffer[i] = b } }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        try #require(bound == 0)
        try withEnvironment(["NOTIFY_SOCKET": "@" + name]) { () throws in
            #expect(try SystemdNotifier().notify(.ready))
            #expect(receive(fd) == "READY=1")
        }
    }

    @Test func notifier_throwsASentence_whenNotifySocketIsGone() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let missing = dir.path("gone")
        try withEnvironment(["NOTIFY_SOCKET": missing]) { () throws in
            #expect {
                try SystemdNotifier().notify(.ready)
            } throws: { error in
                let error = error as! SystemdSupportError
                return error.kind == .notify && error.description.contains(missing)
                    && error.description.contains("ready")
            }
        }
    }

    @Test func watchdogInterval_isHalfOfWatchdogUSec_forThisProcessOnly() throws {
        let me = String(getpid())
        try withEnvironment(["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": me]) { () throws in
            #expect(try SystemdWatchdog.pingInterval() == .seconds(15))
        }
        try withEnvironment(["WATCHDOG_USEC": "3000", "WATCHDOG_PID": nil]) { () throws in
            #expect(try SystemdWatchdog.pingInterval() == .microseconds(1500))
        }
        // A child that inherited the variables from its parent must not ping.
        try withEnvironment(["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": String(getpid() + 1)]) { () throws in
            #expect(try SystemdWatchdog.pingInterval() == nil)
        }
        try withEnvironment(["WATCHDOG_USEC": nil, "WATCHDOG_PID": nil]) { () throws in
            #expect(try SystemdWatchdog.pingInterval() == nil)
        }
        try withEnvironment(["WATCHDOG_USEC": "soon", "WATCHDOG_PID": me]) { () throws in
            #expect {
                try SystemdWatchdog.pingInterval()
            } throws: { error in
                let error = error as! SystemdSupportError
                return error.kind == .watchdog && error.description.contains("WATCHDOG_USEC='soon'")
            }
        }
    }

    @Test func keepAlive_pingsRepeatedly_untilCancelled() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let socketPath = dir.path("notify")
        let fd = boundUnixSocket(socketPath, type: Int32(SOCK_DGRAM.rawValue))
        defer { close(fd) }
        let saved = getenv("NOTIFY_SOCKET").map { String(cString: $0) }
        changingEnvironment { _ = setenv("NOTIFY_SOCKET", socketPath, 1) }
        defer {
            changingEnvironment {
                if let saved { setenv("NOTIFY_SOCKET", saved, 1) } else { unsetenv("NOTIFY_SOCKET") }
            }
        }

        let pinger = Task {
            await SystemdWatchdog.keepAlive(every: .milliseconds(20), logger: Logger(label: "test"))
        }
        // Wait on a thread of our own: a blocking poll on one of the cooperative pool's two
        // threads could starve the pinger's task, which needs a pool thread to run.
        let first3: [String?] = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: (0..<3).map { _ in receive(fd, timeoutMilliseconds: 15_000) })
            }
        }
        #expect(first3 == ["WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1"])
        pinger.cancel()
        await pinger.value
        // Drain what was sent before the cancellation landed; then nothing more comes.
        while receive(fd, timeoutMilliseconds: 100) != nil {}
        #expect(receive(fd, timeoutMilliseconds: 200) == nil)
    }
}
