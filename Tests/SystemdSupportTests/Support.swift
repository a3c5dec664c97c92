import ChildProcess
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A fresh, short directory under /tmp (socket paths must stay under 108 bytes), removed by `cleanup()`.
struct TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/imr-sd-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed: \(String(cString: strerror(errno)))")
        path = String(cString: made!)
    }

    func path(_ name: String) -> String { path + "/" + name }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// The directory holding the built products (executables) next to the test bundle.
var productsDirectory: URL {
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var dir = executable.deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("imr-systemd-probe").path),
        dir.path != "/"
    {
        dir = dir.deletingLastPathComponent()
    }
    return dir
}

var probePath: String { productsDirectory.appendingPathComponent("imr-systemd-probe").path }

/// A `sockaddr_un` for `path`.
func unixAddress(_ path: String) -> sockaddr_un {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    precondition(bytes.count < MemoryLayout.size(ofValue: address.sun_path))
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    return address
}

/// Creates a Unix socket of `type` bound to `path`; returns the descriptor.
func boundUnixSocket(_ path: String, type: Int32) -> Int32 {
    let fd = socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0)
    precondition(fd >= 0)
    var address = unixAddress(path)
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
    precondition(result == 0, "bind \(path): \(String(cString: strerror(errno)))")
    return fd
}

/// Connects a stream socket to `path`; returns the descriptor or -1 with errno set.
func connectUnix(_ path: String) -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    var address = unixAddress(path)
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
    if result != 0 {
        let code = errno
        close(fd)
        errno = code
        return -1
    }
    return fd
}

/// Waits until `condition` holds, polling, for at most `seconds`.
func waitUntil(seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

/// Reads a child's output line by line from a pipe, giving up after a timeout so that a child
/// that never writes fails the test instead of hanging it.
final class LineReader {
    let handle: FileHandle
    let timeoutMilliseconds: Int32
    private var buffer = ""

    init(_ handle: FileHandle, timeoutSeconds: Int32 = 20) {
        self.handle = handle
        self.timeoutMilliseconds = timeoutSeconds * 1000
    }

    /// The next whole line; nil at end of file or when nothing arrives in time.
    func nextLine() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: "\n") {
                let line = String(buffer[..<newline])
                buffer.removeSubrange(...newline)
                return line
            }
            var descriptor = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, timeoutMilliseconds) == 1 else { return nil }
            let data = handle.availableData
            if data.isEmpty { return buffer.isEmpty ? nil : buffer }
            buffer += String(decoding: data, as: UTF8.self)
        }
    }
}

/// The environment for child processes, given explicitly: EnvironmentTests change this
/// process's environment concurrently, and a child launched with the inherited one would read
/// `environ` while it changes (and could see NOTIFY_SOCKET or LISTEN_FDS meant for a test).
let childEnvironment = ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"]

/// Receives one datagram from `fd`, waiting at most `timeoutMilliseconds`.
func receiveDatagram(_ fd: Int32, timeoutMilliseconds: Int32 = 1000) -> String? {
    var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    guard poll(&descriptor, 1, timeoutMilliseconds) == 1 else { return nil }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    guard count >= 0 else { return nil }
    return String(decoding: buffer[..<count], as: UTF8.self)
}

/// A running `imr-systemd-probe` and its output.
struct Probe {
    let process: SpawnedProcess
    let output: LineReader

    /// Starts the probe with `arguments` and `environment` added to ``childEnvironment``.
    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: probePath)
        process.arguments = arguments
        process.environment = childEnvironment.merging(environment) { _, new in new }
        let pipe = Pipe.forChild()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.start()
        output = LineReader(pipe.fileHandleForReading)
    }

    var pid: Int32 { process.processIdentifier }

    /// Sends `signal` and waits for the exit.
    func stop(_ signal: Int32 = SIGKILL) {
        process.send(signal)
        process.waitForExit()
    }
}
