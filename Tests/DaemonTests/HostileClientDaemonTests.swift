import ChildProcess
import Foundation
import TestSupport
import Testing
import Varlink

#if canImport(Glibc)
import Glibc
#endif

/// A Unix socket connected to `path`, non-blocking: the test writes what the kernel takes and
/// no more (a daemon that reads no further must not block the test).
private func rawConnection(_ path: String) -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    return fd
}

/// Writes as much of `bytes` as the socket takes now; the count written.
@discardableResult
private func writeWhatFits(_ fd: Int32, _ bytes: [UInt8]) -> Int {
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n <= 0 { break }
        offset += n
    }
    return offset
}

/// The daemon under a hostile or careless client: the real imr-daemon, real sockets.
@Suite(.serialized, .timeLimit(.minutes(2))) struct HostileClientDaemonTests {
    static func daemon(config: String) throws -> DaemonProcess {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-hostile-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("imr-daemon.toml")
        try config.write(to: file, atomically: true, encoding: .utf8)
        return try DaemonProcess(directory: dir, arguments: ["--config", file.path])
    }

    /// Seconds `imr-ctl status` takes, and whether it succeeded.
    static func timedStatus(
        _ socket: String,
        launcher: [String] = []
    ) async throws -> (seconds: Double, status: Int32, err: String) {
        let started = Date()
        let r = try await ControlCommandTests.ctl(["status"], socket: socket, launcher: launcher)
        return (Date().timeIntervalSince(started), r.status, r.err)
    }

    @Test func deeplyNestedMessagesAndPipelinersThatLeaveDoNotStallStatus() async throws {
        let daemon = try Self.daemon(config: "")
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        let path = daemon.socketPath
        try await offThePool {
            let client = try daemon.client()
            for i in 0..<40 {
                var parameters = openParameters
                parameters["caseId"] = .string("c\(i)")
                _ = try client.call("io.imr.Cases.Open", parameters)
            }
        }
        // Two readers' worth of 20 KB messages of arrays nested 490 deep (before: 1.75 s of CPU
        // per kilobyte, status took 61-93 s), and two connections that pipeline thousands of
        // List calls and leave (before: 898 s).
        let nest = String(repeating: "[", count: 490) + String(repeating: "]", count: 490)
        let deep =
            Array(#"{"method":"io.imr.Cases.List","parameters":{"stage":["#.utf8)
            + Array(Array(repeating: nest, count: 20).joined(separator: ",").utf8) + Array("]}}".utf8) + [0]
        var list: [UInt8] = []
        for _ in 0..<8_800 { list += Array(#"{"method":"io.imr.Cases.List","parameters":{}}"#.utf8) + [0] }
        for _ in 0..<2 {
            let fd = rawConnection(path)
            writeWhatFits(fd, deep + deep)
            let pipeliner = rawConnection(path)
            #expect(writeWhatFits(pipeliner, list) > 10_000)
            close(pipeliner)
            usleep(50_000)
            close(fd)
        }
        let status = try await Self.timedStatus(path)
        #expect(status.status == 0, "\(status.err)")
        #expect(status.seconds < 10, "imr-ctl status took \(status.seconds) s")
        // And the daemon is not busy behind it: a second status is as quick.
        try await Task.sleep(for: .milliseconds(500))
        let again = try await Self.timedStatus(path)
        #expect(again.seconds < 10, "imr-ctl status took \(again.seconds) s")
        let stopped = daemon.stop()
        #expect(stopped.status == 0)
    }

    @Test func connectionsBeyondTheLimitsAreRefused_butRootStillGetsStatus() async throws {
        let daemon = try Self.daemon(
            config: """
                [server]
                max_connections = 4
                max_connections_per_user = 3
                admin_reserve = 2
                """
        )
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        chmod(daemon.directory.path, 0o755)
        chmod(daemon.socketPath, 0o666)
        // nobody opens four connections: one is refused by the limit per user. Its three
        // and one of root's fill max_connections.
        let script = """
            import socket, sys, time
            held = []
            for i in range(4):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(sys.argv[1])
                held.append(s)
            # Which one is refused depends on the order the daemon's event loops set them up.
            import select
            readable, _, _ = select.select(held, [], [], 5)
            print(readable[0].recv(65536).rstrip(b"\\0").decode() if readable else "nothing", flush=True)
            sys.stdin.read()
            """
        let nobody = SpawnedProcess()
        nobody.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        nobody.arguments = [
            "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script, daemon.socketPath,
        ]
        let out = Pipe.forChild()
        let input = Pipe.forChild()
        nobody.standardOutput = out
        nobody.standardError = out
        nobody.standardInput = input
        try nobody.start()
        defer {
            try? input.fileHandleForWriting.close()
            nobody.waitForExit()
        }
        let line = try await offThePool { () -> String in
            var text = ""
            while !text.contains("\n") {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            return text
        }
        let refusal = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        #expect(refusal?["error"] as? String == "io.imr.Admin.TooManyConnections", "\(line)")
        #expect((refusal?["parameters"] as? [String: Any])?["limit"] as? String == "max_connections_per_user")

        let held = try daemon.client()
        #expect(try held.call("io.imr.Admin.Status")["headPosition"] == 0)  // 4 open: the limit
        // A fifth from nobody is refused; root, an admin, still gets status from the reserve.
        let stranger = try await ControlCommandTests.ctl(
            ["cases"],
            socket: daemon.socketPath,
            launcher: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        )
        #expect(stranger.status == 75, "\(stranger.err)")
        #expect(stranger.err.contains("at a limit"), "\(stranger.err)")
        let status = try await Self.timedStatus(daemon.socketPath)
        #expect(status.status == 0, "\(status.err)")
        _ = held
    }

    @Test func aDescriptorLimitBelowWhatServerAllowsIsReportedAtStart() async throws {
        // 1,024 + 16 connections and the daemon's own 256 do not fit in 1,000 descriptors.
        let daemon = try DaemonProcess(launcher: ["/bin/bash", "-c", "ulimit -n 1000; exec \"$@\"", "imr-daemon"])
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        let output = daemon.stop().output
        #expect(
            output.contains(
                "the file-descriptor limit is 1000, below the 1296 that server.max_connections (1024) and server.admin_reserve (16) need; raise LimitNOFILE="
            ),
            "\(output)"
        )
    }

    @Test func idleAndUnfinishedConnectionsAreClosedAfterTheirTimeouts() async throws {
        let daemon = try Self.daemon(
            config: """
                [server]
                idle_timeout_seconds = 0.5
                partial_message_timeout_seconds = 0.5
                """
        )
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        try await offThePool {
            let idle = try daemon.client()
            #expect(try idle.call("io.imr.Admin.Status")["headPosition"] == 0)
            let unfinished = try daemon.client()
            try unfinished.writeAll(Array(#"{"method":"io.imr.Admin.Sta"#.utf8))
            unfinished.setReceiveTimeout(5)
            let reply = try unfinished.receive()
            #expect(reply.error == "io.imr.Admin.MessageTimeout")
            #expect(reply.parameters?["message"]?.stringValue?.contains("not finished within") == true)
            usleep(1_000_000)
            idle.setReceiveTimeout(5)
            #expect(throws: VarlinkClient.ConnectionError.self) { try idle.receive() }
        }
    }
}
