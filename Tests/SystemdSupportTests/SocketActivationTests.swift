import ChildProcess
import Foundation
import Testing
@testable import SystemdSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite(.timeLimit(.minutes(1))) struct SocketActivationTests {
    /// Runs the probe under systemd-socket-activate, connects once to make it start the probe,
    /// and returns the probe's first line.
    func probeUnderSocketActivation(_ activatorArguments: [String], socketPath: String) throws -> String? {
        try #require(
            FileManager.default.isExecutableFile(atPath: probePath),
            "build imr-systemd-probe first (swift build)"
        )
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-socket-activate")
        process.arguments = ["-l", socketPath] + activatorArguments + [probePath, "listen-fds"]
        let out = Pipe.forChild()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.environment = childEnvironment
        try process.start()
        defer { process.killAndWait() }
        // systemd-socket-activate execs the program only when the first connection arrives.
        var client: Int32 = -1
        let connected = waitUntil {
            client = connectUnix(socketPath)
            return client >= 0
        }
        try #require(connected, "systemd-socket-activate never listened on \(socketPath)")
        defer { close(client) }
        return LineReader(out.fileHandleForReading).nextLine()
    }

    @Test func probe_findsTheSocketNamedVarlink_atFd3() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let line = try probeUnderSocketActivation(["--fdname=varlink"], socketPath: dir.path("imr.sock"))
        #expect(line == "fd=3 name=varlink")
    }

    @Test func probe_takesTheSingleUnnamedSocket() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let line = try probeUnderSocketActivation([], socketPath: dir.path("imr.sock"))
        #expect(line == "fd=3 name=unknown")
    }

    @Test func probe_refusesASocketWithAnotherName() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let line = try probeUnderSocketActivation(["--fdname=metrics"], socketPath: dir.path("imr.sock"))
        #expect(
            line?.hasPrefix("error: systemd passed 1 file descriptor(s) (fd 3 'metrics') but none is named 'varlink'")
                == true,
            "got \(line ?? "nothing")"
        )
    }

    @Test func probe_findsNothing_withoutSocketActivation() throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: probePath),
            "build imr-systemd-probe first (swift build)"
        )
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: probePath)
        process.arguments = ["listen-fds"]
        process.environment = childEnvironment
        let out = Pipe.forChild()
        process.standardOutput = out
        try process.start()
        process.waitForExit()
        #expect(LineReader(out.fileHandleForReading).nextLine() == "none")
    }

    @Test func choosing_prefersTheVarlinkName_amongSeveral() throws {
        let passed = [
            PassedFileDescriptor(fileDescriptor: 3, name: "metrics"),
            PassedFileDescriptor(fileDescriptor: 4, name: "varlink"),
        ]
        #expect(try SocketActivation.chooseVarlinkDescriptor(from: passed) == passed[1])
        #expect(try SocketActivation.chooseVarlinkDescriptor(from: []) == nil)
        #expect(throws: SystemdSupportError.self) {
            try SocketActivation.chooseVarlinkDescriptor(from: [
                PassedFileDescriptor(fileDescriptor: 3, name: "unknown"),
                PassedFileDescriptor(fileDescriptor: 4, name: "unknown"),
            ])
        }
    }

    @Test func probe_readsTheWatchdogIntervalFromItsEnvironment() throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: probePath),
            "build imr-systemd-probe first (swift build)"
        )
        func run(_ environment: [String: String]) throws -> String? {
            let process = SpawnedProcess()
            process.executableURL = URL(fileURLWithPath: probePath)
            process.arguments = ["watchdog"]
            process.environment = childEnvironment.merging(environment) { _, new in new }
            let out = Pipe.forChild()
            process.standardOutput = out
            try process.start()
            process.waitForExit()
            return LineReader(out.fileHandleForReading).nextLine()
        }
        #expect(try run(["WATCHDOG_USEC": "4000000"]) == "interval_us=2000000")
        #expect(try run([:]) == "off")
        // WATCHDOG_PID=1 names another process (systemd sets it to the main pid).
        #expect(try run(["WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"]) == "off")
    }

    @Test func serve_underSocketActivation_usesThePassedSocket_andSaysReady() throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: probePath),
            "build imr-systemd-probe first (swift build)"
        )
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let socketPath = dir.path("imr.sock")
        let notify = boundUnixSocket(dir.path("notify"), type: Int32(SOCK_DGRAM.rawValue))
        defer { close(notify) }
        // systemd-socket-activate execs the probe in its own process: the pid stays the same.
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-socket-activate")
        process.arguments = [
            "-l", socketPath, "--fdname=varlink", "-E", "NOTIFY_SOCKET=\(dir.path("notify"))",
            probePath, "serve", dir.path, socketPath,
        ]
        process.environment = childEnvironment
        let out = Pipe.forChild()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.start()
        defer { process.killAndWait() }
        var client: Int32 = -1
        #expect(
            waitUntil {
                client = connectUnix(socketPath)
                return client >= 0
            }
        )
        defer { close(client) }
        let output = LineReader(out.fileHandleForReading)
        // No "removed stale" line: with a passed socket the path is systemd's business.
        #expect(output.nextLine() == "serving pid=\(process.processIdentifier)")
        #expect(receiveDatagram(notify) == "READY=1\nSTATUS=Serving \(socketPath)")
        process.send(SIGTERM)
        #expect(output.nextLine() == "stopping")
        #expect(receiveDatagram(notify) == "STOPPING=1")
    }
}
