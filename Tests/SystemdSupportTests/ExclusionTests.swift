import ChildProcess
import Foundation
import Testing
@testable import SystemdSupport
#if canImport(Glibc)
import Glibc
#endif

/// Two daemons must never share a state directory or a socket.
@Suite(.timeLimit(.minutes(1))) struct ExclusionTests {
    @Test func secondLock_inTheSameProcess_failsNamingThisPid() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let first = try StateDirectoryLock.acquire(stateDirectory: dir.path)
        #expect(first.path == dir.path("imr-daemon.lock"))
        #expect(try String(contentsOfFile: first.path, encoding: .utf8) == "\(getpid())\n")
        // flock locks belong to open file descriptions, so a second open conflicts.
        #expect {
            _ = try StateDirectoryLock.acquire(stateDirectory: dir.path)
        } throws: { error in
            let error = error as! SystemdSupportError
            return error.kind == .lockHeld && error.holderPID == getpid()
                && error.description.contains("pid \(getpid())") && error.description.contains(dir.path)
        }
        first.release()
        // Other tests spawn children in parallel, and a child holds copies of this process's
        // descriptors (lock included) until it execs, O_CLOEXEC notwithstanding; so the
        // released lock may stay taken for a moment. A daemon never re-locks, so only the
        // test waits.
        var again: StateDirectoryLock?
        let reacquired = waitUntil(seconds: 5) {
            again = try? StateDirectoryLock.acquire(stateDirectory: dir.path)
            return again != nil
        }
        #expect(reacquired, "the lock stayed taken after release()")
        again?.release()
    }

    @Test func secondLock_failsNamingTheChildHoldingIt_andSucceedsOnceTheChildDies() throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: probePath),
            "build imr-systemd-probe first (swift build)"
        )
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let child = SpawnedProcess()
        child.executableURL = URL(fileURLWithPath: probePath)
        child.arguments = ["hold-lock", dir.path]
        let out = Pipe.forChild()
        child.standardOutput = out
        child.environment = childEnvironment
        try child.start()
        defer { child.killAndWait() }
        let line = LineReader(out.fileHandleForReading).nextLine()
        #expect(line == "locked pid=\(child.processIdentifier)")

        do {
            _ = try StateDirectoryLock.acquire(stateDirectory: dir.path)
            Issue.record("a second lock succeeded while pid \(child.processIdentifier) holds it")
        } catch {
            #expect(error.kind == .lockHeld)
            #expect(error.holderPID == child.processIdentifier)
            #expect(
                error.description.hasPrefix(
                    "another imr-daemon (pid \(child.processIdentifier)) is using the state directory \(dir.path)"
                ),
                "\(error.description)"
            )
        }

        // The kernel drops the lock with the process, however it dies: no stale-lock clean-up.
        child.killAndWait()
        let lock = try StateDirectoryLock.acquire(stateDirectory: dir.path)
        #expect(try String(contentsOfFile: lock.path, encoding: .utf8) == "\(getpid())\n")
        lock.release()
    }

    @Test func lock_inAMissingDirectory_failsWithAnActionableSentence() {
        #expect {
            _ = try StateDirectoryLock.acquire(stateDirectory: "/nonexistent/imr")
        } throws: { error in
            let error = error as! SystemdSupportError
            return error.kind == .lockFailed && error.description.contains("/nonexistent/imr/imr-daemon.lock")
                && error.description.contains("No such file or directory")
        }
    }

    @Test func existingSocket_thatAcceptsConnections_isRefused() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.path("imr.sock")
        let listener = boundUnixSocket(path, type: Int32(SOCK_STREAM.rawValue))
        defer { close(listener) }
        try #require(listen(listener, 8) == 0)
        #expect {
            try ExistingSocket.prepareForBinding(path: path)
        } throws: { error in
            let error = error as! SystemdSupportError
            return error.kind == .socketInUse && error.description.hasPrefix("another imr-daemon is serving \(path)")
        }
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test func staleSocket_fromADeadDaemon_isRemoved() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.path("imr.sock")
        let listener = boundUnixSocket(path, type: Int32(SOCK_STREAM.rawValue))
        try #require(listen(listener, 8) == 0)
        close(listener)  // The file stays; nobody listens: connect gets ECONNREFUSED.
        #expect(FileManager.default.fileExists(atPath: path))
        // A child spawned by a parallel test holds a copy of the closed listener until it
        // execs (O_CLOEXEC acts only at exec), so the socket may look alive for a moment.
        var outcome: ExistingSocket.Outcome?
        _ = waitUntil(seconds: 5) {
            outcome = try? ExistingSocket.prepareForBinding(path: path)
            return outcome != nil
        }
        #expect(outcome == .removedStale)
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(try ExistingSocket.prepareForBinding(path: path) == .absent)
    }

    @Test func existingRegularFile_atTheSocketPath_isRefusedAndKept() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.path("imr.sock")
        try "not a socket".write(toFile: path, atomically: false, encoding: .utf8)
        #expect {
            try ExistingSocket.prepareForBinding(path: path)
        } throws: { error in
            let error = error as! SystemdSupportError
            return error.kind == .socketCheckFailed && error.description.contains("is not a socket")
        }
        #expect(FileManager.default.fileExists(atPath: path))
    }

    /// The daemon's start-up sequence (lock, socket check, bind, READY=1) in the probe: a
    /// second instance is refused by the lock or by the live socket, and after a crash
    /// (SIGKILL: no clean-up at all) a new instance takes over the stale socket.
    @Test func startUpSequence_refusesASecondInstance_andTakesOverAfterACrash() throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: probePath),
            "build imr-systemd-probe first (swift build)"
        )
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let otherStateDirectory = dir.path("other-state")
        try FileManager.default.createDirectory(atPath: otherStateDirectory, withIntermediateDirectories: false)
        let socketPath = dir.path("imr.sock")
        let notify = boundUnixSocket(dir.path("notify"), type: Int32(SOCK_DGRAM.rawValue))
        defer { close(notify) }
        let environment = ["NOTIFY_SOCKET": dir.path("notify")]

        let first = try Probe(["serve", dir.path, socketPath], environment: environment)
        defer { first.stop() }
        #expect(first.output.nextLine() == "serving pid=\(first.pid)")
        #expect(receiveDatagram(notify) == "READY=1\nSTATUS=Serving \(socketPath)")

        let sameDirectory = try Probe(["serve", dir.path, socketPath], environment: environment)
        defer { sameDirectory.stop() }
        #expect(
            sameDirectory.output.nextLine()?.hasPrefix(
                "error: another imr-daemon (pid \(first.pid)) is using the state directory"
            ) == true
        )
        #expect(sameDirectory.process.waitForExit().status == 1)

        let sameSocket = try Probe(["serve", otherStateDirectory, socketPath], environment: environment)
        defer { sameSocket.stop() }
        #expect(
            sameSocket.output.nextLine()
                == "error: another imr-daemon is serving \(socketPath); stop it first, or give this one another --socket."
        )
        // Neither refused instance said READY=1, and the first one's socket is still there.
        #expect(receiveDatagram(notify, timeoutMilliseconds: 100) == nil)
        #expect(connectUnix(socketPath) >= 0)

        first.stop(SIGKILL)
        let restarted = try Probe(["serve", dir.path, socketPath], environment: environment)
        defer { restarted.stop() }
        #expect(restarted.output.nextLine() == "removed stale \(socketPath)")
        #expect(restarted.output.nextLine() == "serving pid=\(restarted.pid)")
        #expect(receiveDatagram(notify) == "READY=1\nSTATUS=Serving \(socketPath)")

        restarted.process.send(SIGTERM)
        #expect(restarted.output.nextLine() == "stopping")
        #expect(receiveDatagram(notify) == "STOPPING=1")
        #expect(restarted.process.waitForExit() == ChildExit(status: 0, signalled: false))
    }
}
