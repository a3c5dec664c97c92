import ChildProcess
import EventStore
import Foundation
import Varlink

#if canImport(Glibc)
import Glibc
#endif

/// The directory holding the built executables.
var productsDirectory: URL {
    var dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("imr-daemon").path), dir.path != "/" {
        dir = dir.deletingLastPathComponent()
    }
    return dir
}

/// A datagram socket a test binds and passes as NOTIFY_SOCKET, as systemd would.
/// @unchecked Sendable: one test reads it at a time.
final class NotifySocket: @unchecked Sendable {
    let path: String
    let fd: Int32

    init(path: String) {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: Array(path.utf8))
        }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }

    deinit { close(fd) }

    /// The next datagram, or nil after `timeout` seconds.
    func receive(timeout: Double) -> String? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(timeout * 1000)) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : nil
    }

    /// Datagrams until one contains `needle`; all of them, or nil on timeout.
    func waitFor(_ needle: String, timeout: Double = 30) -> [String]? {
        waitFor(timeout: timeout) { $0 == needle }
    }

    /// Datagrams until one has a line matching `match`; all of them, or nil on timeout.
    func waitFor(timeout: Double = 30, _ match: (Substring) -> Bool) -> [String]? {
        var seen: [String] = []
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let message = receive(timeout: deadline.timeIntervalSinceNow) {
                seen.append(message)
                if message.split(separator: "\n").contains(where: match) { return seen }
            }
        }
        return nil
    }
}

/// A real imr-daemon process on a private state directory and socket.
/// @unchecked Sendable: the fields are set in init; Process and Pipe are used from one test at a time.
final class DaemonProcess: @unchecked Sendable {
    let directory: URL
    let socketPath: String
    let process = SpawnedProcess()
    let output = Pipe.forChild()
    let notify: NotifySocket
    /// What the daemon printed, drained as it comes: a pipe left unread fills up and then
    /// blocks the daemon in its next log line (alerts log one line each).
    private let printed = PrintedOutput()
    private let drained = DispatchSemaphore(value: 0)

    var stateDirectory: String { directory.appendingPathComponent("state").path }
    var storePath: String { directory.appendingPathComponent("state/imr.sqlite").path }

    init(
        directory: URL? = nil,
        arguments: [String] = [],
        launcher: [String] = [],
        environment: [String: String] = [:]
    ) throws {
        let dir =
            directory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent(
                "imr-daemon-\(UUID().uuidString.prefix(8))"
            )
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        self.directory = dir
        socketPath = dir.appendingPathComponent("imr.sock").path
        notify = NotifySocket(path: dir.appendingPathComponent("notify-\(UUID().uuidString.prefix(6))").path)
        let daemon = productsDirectory.appendingPathComponent("imr-daemon").path
        let daemonArguments = ["--state-dir", stateDirectory, "--socket", socketPath] + arguments
        if launcher.isEmpty {
            process.executableURL = URL(fileURLWithPath: daemon)
            process.arguments = daemonArguments
        } else {
            process.executableURL = URL(fileURLWithPath: launcher[0])
            process.arguments = Array(launcher.dropFirst()) + [daemon] + daemonArguments
        }
        var env = ProcessInfo.processInfo.environment
        env["NOTIFY_SOCKET"] = notify.path
        env.removeValue(forKey: "JOURNAL_STREAM")
        env.removeValue(forKey: "LISTEN_FDS")
        env.removeValue(forKey: "LISTEN_PID")
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardOutput = output
        process.standardError = output
        try process.start()
        let reader = output.fileHandleForReading
        Thread.detachNewThread { [printed, drained] in
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                printed.append(chunk)
            }
            drained.signal()
        }
    }

    /// Waits for READY=1; returns the datagrams seen.
    func waitUntilReady(timeout: Double = 60) -> [String]? { notify.waitFor("READY=1", timeout: timeout) }

    func client() throws -> VarlinkClient { try VarlinkClient(path: socketPath) }

    /// The read models `io.imr.Admin.Status` says are being rebuilt.
    func rebuilding() throws -> Set<String> {
        guard case .array(let models)? = try client().call("io.imr.Admin.Status")["projections"] else { return [] }
        return Set(
            models.compactMap { model in
                guard let to = model["rebuildingTo"], to != .null else { return nil }
                return model["name"]?.stringValue
            }
        )
    }

    /// Waits until no read model is being rebuilt (a daemon that found one at a new version,
    /// or a rebuild interrupted, rebuilds it once ready); false after `timeout` seconds.
    func waitUntilRebuilt(timeout: Double = 120) throws -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while try !rebuilding().isEmpty {
            guard Date() < deadline else { return false }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return true
    }

    func signal(_ number: Int32) { process.send(number) }

    /// Waits for the process to end; its exit status and everything it printed.
    func wait() -> (status: Int32, output: String) {
        let exit = process.waitForExit()
        drained.wait()
        drained.signal()  // a second wait() returns too
        let text = String(decoding: printed.data, as: UTF8.self)
        return (exit.status, text)
    }

    func stop() -> (status: Int32, output: String) {
        signal(SIGTERM)
        return wait()
    }

    func cleanup() {
        process.killAndWait()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Bytes a reader thread collects. @unchecked Sendable: every access holds the lock.
final class PrintedOutput: @unchecked Sendable {
    private var bytes = Data()
    private let lock = NSLock()
    func append(_ chunk: Data) { lock.withLock { bytes.append(chunk) } }
    var data: Data { lock.withLock { bytes } }
}

let openParameters: [String: JSONValue] = [
    "caseId": "c1", "claimNumber": "ADJ-1", "employer": "Acme", "claimsAdministrator": "Golden TPA",
    "injuredWorkerReference": "J.S.", "dateOfInjury": "2023-11-02", "coordinator": "maria",
]

/// One load test at a time in this process. Swift Testing runs suites in parallel, and on two
/// cores a 32-client storm beside another leaves neither daemon the CPU its deadlines are
/// measured against (the watchdog's, status's): a late ping would then say nothing about the
/// daemon under test.
actor LoadTestLock {
    static let shared = LoadTestLock()
    private var held = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    private func acquire() async {
        if held {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            held = true
        }
    }

    private func release() {
        if waiting.isEmpty { held = false } else { waiting.removeFirst().resume() }
    }

    /// Runs `body` once no other load test runs.
    nonisolated func exclusively<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await acquire()
        do {
            let value = try await body()
            await release()
            return value
        } catch {
            await release()
            throw error
        }
    }
}
