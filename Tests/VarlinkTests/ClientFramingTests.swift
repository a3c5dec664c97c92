import Foundation
import Testing

@testable import Varlink

/// `VarlinkClient.receive` finds each reply without rescanning or shifting what it read before:
/// thousands of small replies in one read, and one large reply in several, arrive whole and in
/// order.
@Suite struct ClientFramingTests {
    @Test func manySmallRepliesInOneWrite_andALargeOneInPieces_arriveWholeInOrder() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "framing-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("s").path
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(listener >= 0)
        defer { close(listener) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0)
        #expect(listen(listener, 1) == 0)

        let small = 5_000
        let large = String(repeating: "x", count: 200_000)
        let server = Thread {
            let peer = accept(listener, nil, nil)
            defer { close(peer) }
            func write(_ bytes: [UInt8]) {
                var offset = 0
                while offset < bytes.count {
                    let n = bytes[offset...].withUnsafeBytes { Glibc.send(peer, $0.baseAddress, $0.count, 0) }
                    if n <= 0 { return }
                    offset += n
                }
            }
            var burst: [UInt8] = []
            for i in 0..<small { burst += Array("{\"parameters\":{\"n\":\(i)}}".utf8) + [0] }
            write(burst)
            let big = Array("{\"parameters\":{\"text\":\"\(large)\"}}".utf8) + [0]
            for piece in stride(from: 0, to: big.count, by: 70_001) {
                write(Array(big[piece..<min(big.count, piece + 70_001)]))
                usleep(20_000)
            }
            write(Array("{\"parameters\":{\"n\":-1}}".utf8) + [0])
        }
        server.start()

        let client = try VarlinkClient(path: path)
        for i in 0..<small {
            #expect(try client.receive().parameters?["n"] == .int(Int64(i)))
        }
        #expect(try client.receive().parameters?["text"]?.stringValue == large)
        #expect(try client.receive().parameters?["n"] == .int(-1))
    }
}
