import ArgumentParser
import ChildProcess
import EventStore
import Foundation
import Varlink

#if canImport(Glibc)
import Glibc
#endif

/// The binaries `imr-bench` starts: those `swift build` put beside it, unless named.
enum Binaries {
    /// The directory this binary is in.
    static var directory: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    }

    /// `named` if given, else the imr-daemon beside this binary; refused, saying how to build
    /// it (`build`), when that is not an executable.
    static func daemon(_ named: String?, build: String = "swift build -c release") throws -> String {
        let path = named ?? directory.appendingPathComponent("imr-daemon").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw ValidationError("no imr-daemon at \(path); build it (\(build)) or name it with --daemon")
        }
        return path
    }
}

/// A real `imr-daemon` process on a state directory of its own, started, killed and restarted
/// by the torture phases. Its output goes to a log file in the work directory.
final class TortureDaemon {
    let binary: String
    let stateDirectory: String
    let socketPath: String
    let logPath: String
    private(set) var process: SpawnedProcess?
    var arguments: [String] = []

    /// The state directory is `directory/state` unless given.
    init(binary: String, directory: String, stateDirectory: String? = nil) {
        self.binary = binary
        self.stateDirectory = stateDirectory ?? directory + "/state"
        socketPath = directory + "/imr.sock"
        logPath = directory + "/daemon.log"
    }

    var storePath: String { stateDirectory + "/imr.sqlite" }
    var pid: pid_t { process?.processIdentifier ?? 0 }
    var isRunning: Bool { process.map { !$0.hasExited } ?? false }

    /// Starts the daemon and waits until `status` answers; the time that took.
    @discardableResult
    func start(timeout: Double = 120) throws -> Double {
        let p = SpawnedProcess()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["--state-dir", stateDirectory, "--socket", socketPath] + arguments
        var environment = ProcessInfo.processInfo.environment
        for key in [
            "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "JOURNAL_STREAM", "WATCHDOG_USEC",
            "WATCHDOG_PID",
        ] {
            environment.removeValue(forKey: key)
        }
        p.environment = environment
        // Not created: the FileHandle below then fails, naming the file.
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        p.standardOutput = log
        p.standardError = log
        let started = Date()
        try p.start()
        process = p
        while Date().timeIntervalSince(started) < timeout {
            if let exit = p.poll() {
                throw TortureFailure("imr-daemon ended (\(exit)) while starting; see \(logPath)")
            }
            if let connection = try? RawConnection(path: socketPath, timeout: 5),
                (try? connection.call("io.imr.Admin.Status")) != nil
            {
                return Date().timeIntervalSince(started)
            }
            usleep(20_000)
        }
        throw TortureFailure("imr-daemon did not answer status within \(Int(timeout)) s; see \(logPath)")
    }

    func kill9() {
        process?.killAndWait()
    }

    /// SIGTERM, then SIGKILL after `grace` seconds; the seconds it took and whether it stopped by itself.
    @discardableResult
    func stop(grace: Double = 15) -> (seconds: Double, clean: Bool) {
        guard let p = process, p.poll() == nil else { return (0, true) }
        let started = Date()
        p.send(SIGTERM)
        if let exit = p.waitForExit(seconds: grace) { return (Date().timeIntervalSince(started), exit.succeeded) }
        p.killAndWait()
        return (Date().timeIntervalSince(started), false)
    }

    /// User and system CPU in seconds, from /proc/PID/stat; zeros when it cannot be read.
    func cpuSeconds() -> (user: Double, system: Double) {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return (0, 0) }
        // After the command name: state is field 3, utime 14 and stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return (0, 0) }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (user / ticks, system / ticks)
    }

    /// Resident memory in KiB and open file descriptors, from /proc.
    func resources() -> (rssKiB: Int, descriptors: Int) {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let rss =
            status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") } ?? 0
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
        return (rss, fds)
    }
}

/// A Varlink connection with timeouts on every read and write, for clients that must not hang
/// on a daemon under attack (the library's client blocks without limit).
final class RawConnection {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(path: String, timeout: Double) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TortureFailure("socket(): \(String(cString: strerror(errno)))") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() where i < raw.count - 1 { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw TortureFailure("connect(\(path)): \(reason)")
        }
    }

    deinit { close(fd) }

    /// Writes all of `bytes`; false when the peer is gone or the write timed out.
    @discardableResult
    func write(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    func send(_ method: String, _ parameters: [String: JSONValue] = [:], more: Bool = false) -> Bool {
        var bytes = VarlinkCall(method: method, parameters: parameters, more: more ? true : nil).serialized
        bytes.append(0)
        return write(bytes)
    }

    /// The next reply frame, or nil when the connection closed or the read timed out.
    func receiveFrame() -> [UInt8]? {
        var scanned = 0
        while true {
            if let end = buffer[scanned...].firstIndex(of: 0) {
                let frame = Array(buffer[..<end])
                buffer.removeSubrange(...end)
                return frame
            }
            scanned = buffer.count
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            buffer.append(contentsOf: chunk[..<n])
        }
    }

    private var chunk = [UInt8](repeating: 0, count: 65536)

    func receive() throws -> VarlinkReply {
        guard let frame = receiveFrame() else { throw TortureFailure("no reply (connection closed or timed out)") }
        return try VarlinkReply.parse(frame: frame)
    }

    /// One call and its reply's parameters; a Varlink error is thrown as `VarlinkError`.
    func call(_ method: String, _ parameters: [String: JSONValue] = [:]) throws -> [String: JSONValue] {
        guard send(method, parameters) else { throw TortureFailure("could not send \(method)") }
        return try Self.parameters(of: try receive())
    }

    /// A reply's parameters; its Varlink error thrown as `VarlinkError`.
    static func parameters(of reply: VarlinkReply) throws -> [String: JSONValue] {
        if let error = reply.error { throw VarlinkError(error, parameters: reply.parameters ?? [:]) }
        return reply.parameters ?? [:]
    }
}

struct TortureFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Latencies in milliseconds, summarised.
struct Latencies {
    private(set) var samples: [Double] = []
    private(set) var failures = 0

    mutating func add(_ ms: Double) { samples.append(ms) }
    mutating func fail() { failures += 1 }

    func percentile(_ p: Double) -> Double {
        guard !samples.isEmpty else { return .nan }
        let sorted = samples.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }

    var summary: String {
        guard !samples.isEmpty else { return "no answer (\(failures) failed)" }
        return String(
            format: "p50 %.1f ms, p99 %.1f ms, max %.1f ms over %d calls",
            percentile(0.5),
            percentile(0.99),
            percentile(1),
            samples.count
        )
            + (failures > 0 ? ", \(failures) failed" : "")
    }
}

/// Measures `io.imr.Admin.Status` from a fresh connection every `every` seconds while `body` runs.
func measuringStatus(
    socket: String,
    every: Double = 0.1,
    timeout: Double = 10,
    during body: () throws -> Void
) rethrows -> Latencies {
    let box = LatencyBox()
    let done = DispatchSemaphore(value: 0)
    let stop = StopFlag()
    Thread.detachNewThread {
        while !stop.isSet {
            let started = Date()
            if let c = try? RawConnection(path: socket, timeout: timeout), (try? c.call("io.imr.Admin.Status")) != nil {
                box.add(Date().timeIntervalSince(started) * 1000)
            } else {
                box.fail()
            }
            usleep(useconds_t(every * 1_000_000))
        }
        done.signal()
    }
    defer {
        stop.set()
        done.wait()
    }
    try body()
    stop.set()
    done.wait()
    done.signal()
    return box.value
}

final class LatencyBox: @unchecked Sendable {
    private var latencies = Latencies()
    private let lock = NSLock()
    func add(_ ms: Double) { lock.withLock { latencies.add(ms) } }
    func fail() { lock.withLock { latencies.fail() } }
    var value: Latencies { lock.withLock { latencies } }
}

final class StopFlag: @unchecked Sendable {
    private var flag = false
    private let lock = NSLock()
    func set() { lock.withLock { flag = true } }
    var isSet: Bool { lock.withLock { flag } }
}

/// Runs `count` bodies on threads of their own and waits for all of them.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for n in 0..<count {
        group.enter()
        Thread.detachNewThread {
            body(n)
            group.leave()
        }
    }
    group.wait()
}
