import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A blocking Varlink client over a Unix stream socket, for command-line tools.
package final class VarlinkClient {
    package let path: String
    private let fd: Int32
    private var buffer: [UInt8] = []
    /// Where the unread bytes of `buffer` start, and how many of them are known to hold no
    /// NUL: a reply is found without scanning or shifting what was read before it.
    private var start = 0
    private var scanned = 0

    /// Why the client could not talk to the service.
    package enum ConnectionError: Error, CustomStringConvertible, Equatable {
        /// Nothing listens at the path.
        case unavailable(path: String, reason: String)
        /// The socket exists but this user may not connect to it.
        case permissionDenied(path: String)
        /// The service closed the connection or sent something that is not Varlink.
        case protocolError(String)

        package var description: String {
            switch self {
            case .unavailable(let path, let reason): "no imr daemon answers at \(path) (\(reason))"
            case .permissionDenied(let path): "permission denied connecting to \(path)"
            case .protocolError(let detail): "the service broke the Varlink protocol: \(detail)"
            }
        }
    }

    package init(path: String) throws(ConnectionError) {
        self.path = path
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .unavailable(path: path, reason: String(cString: strerror(errno))) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw .unavailable(path: path, reason: "the socket path is too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if rc != 0 {
            let code = errno
            close(fd)
            if code == EACCES || code == EPERM { throw .permissionDenied(path: path) }
            throw .unavailable(path: path, reason: String(cString: strerror(code)))
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Gives up waiting for a reply after this many seconds (`SO_RCVTIMEO`); nil waits forever.
    package func setReceiveTimeout(_ seconds: Double?) {
        let s = seconds ?? 0
        var value = timeval(tv_sec: Int(s), tv_usec: Int((s - s.rounded(.down)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends one call and returns its single reply's parameters, or throws its error.
    package func call(_ method: String, _ parameters: [String: JSONValue] = [:]) throws -> [String: JSONValue] {
        try sendOrReadRefusal(VarlinkCall(method: method, parameters: parameters))
        let reply = try receive()
        if let error = reply.error { throw VarlinkError(error, parameters: reply.parameters ?? [:]) }
        return reply.parameters ?? [:]
    }

    /// Sends a `more` call and hands each reply to `body` until the last one, or until
    /// `body` returns false.
    package func stream(
        _ method: String,
        _ parameters: [String: JSONValue] = [:],
        _ body: ([String: JSONValue]) throws -> Bool
    ) throws {
        try sendOrReadRefusal(VarlinkCall(method: method, parameters: parameters, more: true))
        while true {
            let reply = try receive()
            if let error = reply.error { throw VarlinkError(error, parameters: reply.parameters ?? [:]) }
            guard try body(reply.parameters ?? [:]) else { return }
            if reply.continues != true { return }
        }
    }

    /// Sends a call; when the service has already closed the connection, the error it sent
    /// before closing (a refused connection: too many connections, a timeout) is thrown instead
    /// of the broken pipe.
    private func sendOrReadRefusal(_ call: VarlinkCall) throws {
        do {
            try send(call)
        } catch let failure as ConnectionError {
            if let reply = try? receive(), let error = reply.error {
                throw VarlinkError(error, parameters: reply.parameters ?? [:])
            }
            throw failure
        }
    }

    /// Writes a call without waiting for its reply (for pipelining and oneway calls).
    package func send(_ call: VarlinkCall) throws {
        var bytes = call.serialized
        bytes.append(0)
        try writeAll(bytes)
    }

    /// Writes raw bytes (for tests of malformed input).
    package func writeAll(_ bytes: [UInt8]) throws(ConnectionError) {
        var offset = 0
        while offset < bytes.count {
            // MSG_NOSIGNAL: a peer that closed the connection is an error here, not SIGPIPE.
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .protocolError("write failed: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// Reads the next reply.
    package func receive() throws -> VarlinkReply {
        while true {
            if let end = buffer[(start + scanned)...].firstIndex(of: 0) {
                let frame = Array(buffer[start..<end])
                start = end + 1
                scanned = 0
                if start == buffer.count {
                    buffer.removeAll(keepingCapacity: true)
                    start = 0
                } else if start >= 65536, start * 2 >= buffer.count {
                    buffer.removeSubrange(..<start)
                    start = 0
                }
                do {
                    return try VarlinkReply.parse(frame: frame)
                } catch {
                    throw ConnectionError.protocolError("a reply was not valid JSON")
                }
            }
            scanned = buffer.count - start
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                throw ConnectionError.protocolError("no reply came within the receive timeout")
            }
            guard n > 0 else { throw ConnectionError.protocolError("the connection was closed before a reply arrived") }
            buffer.append(contentsOf: chunk[..<n])
        }
    }
}
