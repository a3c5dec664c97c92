import Foundation
import NIOCore
import Synchronization
import Testing
@testable import Varlink

#if canImport(Glibc)
import Glibc
#endif

/// This process's descriptors that are sockets bound to `path` (the listener and the server's
/// side of each accepted connection, as /proc/net/unix names them): other suites running in
/// the same process at the same time open and close descriptors of their own.
func serverDescriptorCount(path: String) -> Int {
    // Read to the end: the table is longer than one page when other suites hold many sockets.
    let table =
        FileHandle(forReadingAtPath: "/proc/net/unix").map { String(decoding: $0.readDataToEndOfFile(), as: UTF8.self) }
        ?? ""
    var inodes: Set<String> = []
    for line in table.split(separator: "\n").dropFirst() {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        if fields.count >= 8, fields[7] == path { inodes.insert(String(fields[6])) }
    }
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return fds.filter { fd in
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)"),
            target.hasPrefix("socket:[")
        else { return false }
        return inodes.contains(String(target.dropFirst("socket:[".count).dropLast()))
    }.count
}

/// Counts per outcome. @unchecked Sendable: every access holds the lock.
final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    private var problems: [String] = []
    func add(_ key: String) { lock.withLock { counts[key, default: 0] += 1 } }
    func problem(_ text: String) { lock.withLock { if problems.count < 20 { problems.append(text) } } }
    var all: [String: Int] { lock.withLock { counts } }
    var failures: [String] { lock.withLock { problems } }
}

/// Malformed messages from many connections at once (a few thousand here; `imr-bench torture`
/// and the nightly run send 100,000 with the same ``HostileFrames``).
@Suite(.timeLimit(.minutes(3))) struct HostileFrameTests {
    static let target = HostileFrames.Target(method: "org.example.echo.Echo", parameters: ["word": "x"])

    /// Kinds whose message is a well-formed call Echo may accept (a long word, extra parameters).
    static func mayBeAnswered(_ kind: HostileFrames.Kind) -> Bool { kind == .hugeString || kind == .extraParameters }

    @Test func malformedMessagesFromManyConnectionsEachGetAnErrorOrAClose_andTheServerStaysPromptAndLeaksNothing()
        async throws
    {
        let total = Int(ProcessInfo.processInfo.environment["IMR_HOSTILE_MESSAGES"] ?? "") ?? 2_000
        let seed = UInt64(ProcessInfo.processInfo.environment["IMR_HOSTILE_SEED"] ?? "") ?? 11
        var limits = VarlinkServerLimits()
        limits.maximumMessageSize = 256 * 1024
        let tally = Tally()
        let messageLimit = limits.maximumMessageSize
        try await withServer(limits: limits) { path, server, _ in
            // The baseline once the server listens; client and server share this process.
            let baseline = serverDescriptorCount(path: path)
            let workers = 12
            let done = Atomic<Int>(0)
            let slowest = Mutex<Double>(0)
            // A bystander: a normal call every 50 ms on a fresh connection, timed.
            let bystander = Thread {
                while done.load(ordering: .relaxed) < workers {
                    let started = Date()
                    do {
                        let client = try VarlinkClient(path: path)
                        client.setReceiveTimeout(10)
                        if try client.call("org.example.echo.Echo", ["word": "ping"])["word"] != "ping" {
                            tally.problem("a normal call got a wrong answer")
                        }
                    } catch {
                        tally.problem("a normal call during the attack failed: \(error)")
                    }
                    let seconds = Date().timeIntervalSince(started)
                    slowest.withLock { $0 = max($0, seconds) }
                    tally.add("bystander")
                    usleep(50_000)
                }
            }
            bystander.start()
            for worker in 0..<workers {
                Thread.detachNewThread {
                    defer { done.add(1, ordering: .relaxed) }
                    var random = SplitMix64(seed: seed &+ UInt64(worker))
                    var reused: VarlinkClient?
                    for _ in 0..<(total / workers) {
                        var kind = HostileFrames.Kind.allCases.randomElement(using: &random)!
                        // The large kinds (200-260 KB each) are a quarter as frequent as the rest.
                        if [.oversizeUnterminated, .deepNesting, .hugeString].contains(kind),
                            Int.random(in: 0..<4, using: &random) != 0
                        {
                            kind = .invalidJSON
                        }
                        let bytes = HostileFrames.message(
                            kind,
                            target: Self.target,
                            maximumMessageSize: messageLimit,
                            using: &random
                        )
                        do {
                            let client: VarlinkClient
                            if kind.closesConnection || reused == nil {
                                client = try VarlinkClient(path: path)
                                client.setReceiveTimeout(10)
                            } else {
                                client = reused!
                            }
                            try? client.writeAll(bytes)  // a peer that closed early may refuse the rest
                            let reply = try? client.receive()
                            if kind.closesConnection {
                                if let reply, reply.error == nil { tally.problem("\(kind) got a normal reply") }
                                // After the error, the connection ends.
                                if (try? client.receive()) != nil {
                                    tally.problem("\(kind): the connection stayed open")
                                }
                                reused = nil
                                tally.add("\(kind): \(reply?.error ?? "closed")")
                            } else {
                                guard let reply else {
                                    tally.problem("\(kind): no reply and the connection closed")
                                    reused = nil
                                    continue
                                }
                                if reply.error == nil && !Self.mayBeAnswered(kind) {
                                    tally.problem("\(kind) got a normal reply")
                                }
                                tally.add("\(kind): \(reply.error ?? "answered")")
                                reused = client
                            }
                        } catch {
                            tally.problem("\(kind): cannot connect: \(error)")
                        }
                    }
                }
            }
            while done.load(ordering: .relaxed) < workers { usleep(50_000) }
            while !bystander.isFinished { usleep(10_000) }

            #expect(tally.failures.isEmpty, "\(tally.failures)")
            #expect(slowest.withLock { $0 } < 10, "a normal call took \(slowest.withLock { $0 }) s during the attack")
            // Every kind was sent and answered as it should.
            let outcomes = tally.all
            for kind in HostileFrames.Kind.allCases {
                #expect(outcomes.keys.contains { $0.hasPrefix("\(kind):") }, "no \(kind) was sent")
            }
            #expect(
                outcomes.filter { $0.key.hasPrefix("deepNesting:") }.keys.allSatisfy {
                    $0.hasSuffix("InvalidParameter") || $0.hasSuffix("closed")
                }
            )
            #expect(outcomes["unknownInterface: org.varlink.service.InterfaceNotFound"] ?? 0 > 0)
            #expect(outcomes["unknownMethod: org.varlink.service.MethodNotFound"] ?? 0 > 0)
            #expect(outcomes["wrongParameterTypes: org.varlink.service.InvalidParameter"] ?? 0 > 0)
            #expect(outcomes["missingParameters: org.varlink.service.InvalidParameter"] ?? 0 > 0)
            // Nothing is left behind: connections and descriptors return to the baseline.
            #expect(waitUntil(10) { server.connectionCount == 0 }, "\(server.connectionCount) connections left")
            #expect(baseline == 1, "the listener")
            #expect(
                waitUntil(10) { serverDescriptorCount(path: path) <= baseline },
                "\(serverDescriptorCount(path: path)) descriptors open, \(baseline) before"
            )
            let after = try VarlinkClient(path: path).call("org.example.echo.Echo", ["word": "after"])["word"]
            #expect(after == "after")
        }
    }

    @Test func everyKindIsWhatItSays() throws {
        var random = SplitMix64(seed: 1)
        let limit = 4096
        func message(_ kind: HostileFrames.Kind) -> [UInt8] {
            HostileFrames.message(
                kind,
                target: Self.target,
                maximumMessageSize: limit,
                nestingDepth: 1000,
                using: &random
            )
        }
        let oversize = message(.oversizeUnterminated)
        #expect(!oversize.contains(0) && oversize.count > limit)
        for kind in HostileFrames.Kind.allCases where kind != .oversizeUnterminated {
            let bytes = message(kind)
            #expect(bytes.last == 0, "\(kind)")
            let parsed = try? VarlinkCall.parse(ByteBuffer(bytes: bytes.dropLast()), maximumDepth: 64)
            if kind.closesConnection && kind != .randomBytes {
                #expect(parsed == nil, "\(kind) parsed as a call")
            } else if !kind.closesConnection {
                #expect(parsed != nil, "\(kind) is not a call")
            }
        }
    }
}
