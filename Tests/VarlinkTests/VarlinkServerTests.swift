import ChildProcess
import Foundation
import Logging
import NIOPosix
import Synchronization
import TestSupport
import Testing
@testable import Varlink

/// A small interface to exercise the protocol layer without any IMR knowledge.
struct EchoHandler: VarlinkHandler {
    let interface = try! VarlinkInterface(
        description: """
            # A test interface.
            interface org.example.echo

            # Returns what it was given.
            method Echo(word: string) -> (word: string, uid: int)

            # Counts up to n, one reply each.
            method Count(n: int) -> (i: int)

            # Waits a little, then answers (to test ordering).
            method Slow(ms: int, tag: string) -> (tag: string)

            # Records a word without replying.
            method Remember(word: string) -> ()

            # Returns the remembered words.
            method Recall() -> (words: []string)

            # Declared but not implemented.
            method Missing() -> ()

            # Whether the call runs on an event loop, as it starts and after a result from another thread.
            method Where() -> (atStart: bool, afterResume: bool)

            # Sends one reply, then waits until the call is cancelled (a follower with nothing new).
            method Wait() -> (waiting: bool)

            # Refused by admit to everyone: its parameters are never decoded.
            method Secret(word: string) -> ()

            # Fails with an error that is not a Varlink error.
            method Fail() -> ()

            error Refused (reason: string)

            error InternalError (message: string)
            """
    )

    let memory = Memory()
    /// Replies `Count` has handed to the server so far.
    let counted = Tally()

    final class Tally: Sendable {
        private let value = Atomic<Int>(0)
        func add() { value.wrappingAdd(1, ordering: .relaxed) }
        var count: Int { value.load(ordering: .relaxed) }
    }

    final class Memory: @unchecked Sendable {
        // @unchecked Sendable: every access goes through the lock.
        private let lock = NSLock()
        private var words: [String] = []
        func add(_ w: String) { lock.withLock { words.append(w) } }
        var all: [String] { lock.withLock { words } }
    }

    struct Word: Decodable { let word: String }

    struct DiskOnFire: Error, CustomStringConvertible {
        var description: String { "the disk is on fire; put it out and retry" }
    }

    func admit(member: String, context: VarlinkCallContext) throws {
        if member == "Secret" {
            memory.add("refused:Secret")
            throw VarlinkError.permissionDenied
        }
    }

    func handle(
        _ call: VarlinkCall,
        context: VarlinkCallContext,
        replier: VarlinkReplier
    ) async throws -> [String: JSONValue] {
        switch call.member {
        case "Echo":
            let p = try call.decodeParameters(Word.self)
            if p.word == "no" {
                throw VarlinkError("org.example.echo.Refused", parameters: ["reason": .string("said no")])
            }
            return ["word": .string(p.word), "uid": .int(Int64(context.peer?.uid ?? 99999))]
        case "Count":
            guard replier.more else { throw VarlinkError.expectedMore }
            var n: Int64 = 0
            if case .int(let i) = call.parameters?["n"] ?? .null { n = i }
            for i in 0..<max(n - 1, 0) {
                try await replier.yield(["i": .int(i)])
                counted.add()
            }
            return ["i": .int(max(n - 1, 0))]
        case "Slow":
            memory.add("started:\(call.parameters?["tag"]?.stringValue ?? "")")
            if case .int(let ms) = call.parameters?["ms"] ?? .int(0) {
                try await Task.sleep(for: .milliseconds(Int(ms)))
            }
            return ["tag": call.parameters?["tag"] ?? .null]
        case "Where":
            let atStart = MultiThreadedEventLoopGroup.currentEventLoop != nil
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async { continuation.resume() }
            }
            return [
                "atStart": .bool(atStart),
                "afterResume": .bool(MultiThreadedEventLoopGroup.currentEventLoop != nil),
            ]
        case "Remember":
            memory.add(try call.decodeParameters(Word.self).word)
            return [:]
        case "Recall":
            return ["words": .array(memory.all.map { .string($0) })]
        case "Secret":
            memory.add("decoded:\(try call.decodeParameters(Word.self).word)")
            return [:]
        case "Fail":
            throw DiskOnFire()
        case "Wait":
            try await replier.yield(["waiting": true])
            memory.add("waiting")
            do {
                try await Task.sleep(for: .seconds(3600))
            } catch {
                memory.add("cancelled")
                throw error
            }
            return ["waiting": false]
        default:
            throw VarlinkError.methodNotImplemented(call.method)
        }
    }
}

/// Runs a server on a fresh socket while `body` (blocking client code) runs on its own thread.
func withServer(
    limits: VarlinkServerLimits? = nil,
    isPrivileged: @escaping @Sendable (PeerCredentials) -> Bool = { $0.uid == 0 },
    logger: Logger = Logger(label: "varlink", factory: { _ in SwiftLogNoOpLogHandler() }),
    _ body: @escaping @Sendable (String, VarlinkServer, EchoHandler) throws -> Void
) async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("varlink-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("s.sock").path
    let handler = EchoHandler()
    var defaultLimits = VarlinkServerLimits()
    defaultLimits.maximumMessageSize = 64 * 1024
    let server = VarlinkServer(
        info: .init(vendor: "imr tests", product: "echo", version: "1", url: "https://example.invalid"),
        handlers: [handler],
        limits: limits ?? defaultLimits,
        errorInterface: "org.example.server",
        isPrivileged: isPrivileged,
        logger: logger
    )
    // Event loops of its own, as the daemon has in its process: the calls of the other servers
    // of this test process (answered on their loops) do not hold up its accepts and refusals.
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let (ready, readyContinuation) = AsyncStream<Void>.makeStream()
    let running = Task {
        try await server.run(.path(path, mode: 0o660), group: group) { readyContinuation.yield() }
    }
    for await _ in ready { break }
    do {
        try await offThePool { try body(path, server, handler) }
    } catch {
        server.shutdown()
        _ = await running.result
        try? await group.shutdownGracefully()
        throw error
    }
    server.shutdown()
    let ran = await running.result
    try await group.shutdownGracefully()
    try ran.get()
}

@Suite struct VarlinkServerTests {
    @Test(.timeLimit(.minutes(1))) func aClientThatGoesAwayDuringAMoreCallCancelsIt_andTheServerServesOthers()
        async throws
    {
        try await withServer { path, _, handler in
            do {
                let client = try VarlinkClient(path: path)
                try client.stream("org.example.echo.Wait") { reply in
                    #expect(reply["waiting"] == true)
                    return false  // stop reading; the client is closed below
                }
            }  // the client's socket closes here
            var waited = 0
            while !handler.memory.all.contains("cancelled") && waited < 200 {
                usleep(50_000)
                waited += 1
            }
            #expect(handler.memory.all == ["waiting", "cancelled"])
            #expect(
                try VarlinkClient(path: path).call("org.example.echo.Echo", ["word": "still here"])["word"]
                    == "still here"
            )
        }
    }

    /// A connection's calls run on the event loop that reads its socket, and come back to it
    /// after waiting for another thread: no hop to the cooperative threads and back per call.
    @Test func callsAreAnsweredOnTheConnectionsEventLoop() async throws {
        try await withServer { path, _, _ in
            let client = try VarlinkClient(path: path)
            for _ in 0..<3 {
                #expect(try client.call("org.example.echo.Where") == ["atStart": true, "afterResume": true])
            }
        }
    }

    @Test func serviceInterfaceDescribesItself() async throws {
        try await withServer { path, _, _ in
            let client = try VarlinkClient(path: path)
            let info = try client.call("org.varlink.service.GetInfo")
            #expect(info["product"] == .string("echo"))
            #expect(info["interfaces"] == .array([.string("org.varlink.service"), .string("org.example.echo")]))
            let description = try client.call(
                "org.varlink.service.GetInterfaceDescription",
                ["interface": .string("org.example.echo")]
            )
            #expect(description["description"]?.stringValue == EchoHandler().interface.description)
            let own = try client.call(
                "org.varlink.service.GetInterfaceDescription",
                ["interface": .string("org.varlink.service")]
            )
            #expect(own["description"]?.stringValue?.contains("error ExpectedMore ()") == true)
        }
    }

    @Test func standardErrorsCarryTheirParameters() async throws {
        try await withServer { path, _, _ in
            let client = try VarlinkClient(path: path)
            func error(_ method: String, _ parameters: [String: JSONValue] = [:]) -> VarlinkError? {
                do {
                    _ = try client.call(method, parameters)
                    return nil
                } catch { return error as? VarlinkError }
            }
            #expect(error("org.nowhere.X") == .interfaceNotFound("org.nowhere"))
            #expect(error("org.example.echo.Nope") == .methodNotFound("org.example.echo.Nope"))
            #expect(error("org.example.echo.Missing") == .methodNotImplemented("org.example.echo.Missing"))
            #expect(error("org.example.echo.Echo", [:]) == .invalidParameter("word"))
            #expect(error("org.example.echo.Echo", ["wrd": .string("x")]) == .invalidParameter("wrd"))
            #expect(error("org.example.echo.Echo", ["word": .int(3)]) == .invalidParameter("word"))
            #expect(error("org.example.echo.Count", ["n": .int(3)]) == .expectedMore)
            #expect(
                error("org.varlink.service.GetInterfaceDescription", ["interface": .string("org.x")])
                    == .interfaceNotFound("org.x")
            )
            #expect(
                error("org.example.echo.Echo", ["word": .string("no")])
                    == VarlinkError("org.example.echo.Refused", parameters: ["reason": .string("said no")])
            )
            // The connection is still usable after error replies.
            #expect(try client.call("org.example.echo.Echo", ["word": .string("ok")])["word"] == .string("ok"))
        }
    }

    /// A parameter the method does not declare is refused by its name before the handler runs
    /// (as sd-varlink does), even beside every declared one: ignored, a misspelt or misplaced
    /// filter would read as no filter at all.
    @Test func undeclaredParametersAreRefusedByName() async throws {
        try await withServer { path, _, _ in
            let client = try VarlinkClient(path: path)
            func error(_ method: String, _ parameters: [String: JSONValue]) -> VarlinkError? {
                do {
                    _ = try client.call(method, parameters)
                    return nil
                } catch { return error as? VarlinkError }
            }
            #expect(
                error("org.example.echo.Remember", ["word": .string("kept"), "extra": .int(1)])
                    == .invalidParameter("extra")
            )
            #expect(
                error("org.example.echo.Slow", ["ms": .int(1), "tag": .string("t"), "filter": .object([:])])
                    == .invalidParameter("filter")
            )
            // A long made-up name is echoed cut to 64 characters.
            let long = String(repeating: "k", count: 5000)
            #expect(
                error("org.example.echo.Recall", [long: .int(1)])
                    == .invalidParameter(String(repeating: "k", count: 64) + "…")
            )
            // Of several, the first by name, so the reply does not depend on the JSON's order.
            #expect(error("org.example.echo.Recall", ["zz": .int(1), "aa": .int(2)]) == .invalidParameter("aa"))
            #expect(error("org.varlink.service.GetInfo", ["verbose": .bool(true)]) == .invalidParameter("verbose"))
            #expect(
                error(
                    "org.varlink.service.GetInterfaceDescription",
                    ["interface": .string("org.example.echo"), "x": .null]
                )
                    == .invalidParameter("x")
            )
            // The refused call ran nothing; the declared form of the same call does.
            #expect(try client.call("org.example.echo.Recall")["words"] == .array([]))
            _ = try client.call("org.example.echo.Remember", ["word": .string("kept")])
            #expect(try client.call("org.example.echo.Recall")["words"] == .array([.string("kept")]))
        }
    }

    /// Each method's top-level input names, from declarations over several lines, with nested
    /// and optional struct types, and comments that mention methods.
    @Test func anInterfaceKnowsEachMethodsParameters() throws {
        let interface = try VarlinkInterface(
            description: """
                interface org.example.shapes
                # method Commented(ghost: int) -> () is a comment, not a method
                type Point (x: float, y: float)
                method Plain() -> ()
                method Draw(at: Point, label: ?string,  # the label
                  style: ?(colour: string, width: int), points: []Point,
                  tags: [string]string) -> (id: string)
                method	Tabbed(n: int)->(m: int)
                error Bad (method: string)
                """
        )
        #expect(interface.methods == ["Plain", "Draw", "Tabbed"])
        #expect(interface.parameters["Plain"] == [])
        #expect(interface.parameters["Draw"] == ["at", "label", "style", "points", "tags"])
        #expect(interface.parameters["Tabbed"] == ["n"])
        #expect(interface.parameters["Commented"] == nil)
    }

    @Test func peerCredentialsAreTheCallersUid() async throws {
        try await withServer { path, _, _ in
            let reply = try VarlinkClient(path: path).call("org.example.echo.Echo", ["word": .string("hi")])
            #expect(reply["uid"] == .int(Int64(getuid())))
        }
    }

    @Test func pipelinedCallsAreAnsweredInOrder() async throws {
        try await withServer { path, _, _ in
            let client = try VarlinkClient(path: path)
            let delays = [60, 0, 30, 0, 10]
            for (i, ms) in delays.enumerated() {
                try client.send(
                    VarlinkCall(
                        method: "org.example.echo.Slow",
                        parameters: ["ms": .int(Int64(ms)), "tag": .string("t\(i)")]
                    )
                )
            }
            let tags = try (0..<delays.count).map { _ in try client.receive().parameters?["tag"]?.stringValue }
            #expect(tags == ["t0", "t1", "t2", "t3", "t4"])
        }
    }

    @Test func moreStreamsRepliesWithContinuesUntilTheLast() async throws {
        try await withServer { path, _, _ in
            let client = try VarlinkClient(path: path)
            try client.send(VarlinkCall(method: "org.example.echo.Count", parameters: ["n": .int(4)], more: true))
            var replies: [VarlinkReply] = []
            repeat { replies.append(try client.receive()) } while replies.last?.continues == true
            #expect(replies.map { $0.parameters?["i"] } == [.int(0), .int(1), .int(2), .int(3)])
            #expect(replies.map { $0.continues ?? false } == [true, true, true, false])
        }
    }

    @Test func onewayCallsGetNoReplyButAreExecuted() async throws {
        try await withServer { path, _, _ in
            let client = try VarlinkClient(path: path)
            try client.send(
                VarlinkCall(method: "org.example.echo.Remember", parameters: ["word": .string("alpha")], oneway: true)
            )
            try client.send(
                VarlinkCall(method: "org.example.echo.Remember", parameters: ["word": .string("beta")], oneway: true)
            )
            // The next reply on the connection is Recall's: the oneway calls sent nothing.
            let words = try client.call("org.example.echo.Recall")["words"]
            #expect(words == .array([.string("alpha"), .string("beta")]))
        }
    }

    @Test func oversizeAndInvalidMessagesCloseOnlyTheirConnection() async throws {
        try await withServer { path, _, _ in
            let bystander = try VarlinkClient(path: path)
            #expect(
                try bystander.call("org.example.echo.Echo", ["word": .string("before")])["word"] == .string("before")
            )

            let flooder = try VarlinkClient(path: path)
            // 100 KiB with no terminator: over the 64 KiB bound before it ends.
            try? flooder.writeAll([UInt8](repeating: UInt8(ascii: "a"), count: 100 * 1024))
            let refusal = try flooder.receive()
            #expect(refusal.error == "org.varlink.service.InvalidParameter")
            #expect(throws: VarlinkClient.ConnectionError.self) { try flooder.receive() }

            let garbler = try VarlinkClient(path: path)
            try garbler.writeAll(Array("{not json".utf8) + [0])
            #expect(try garbler.receive().error == "org.varlink.service.InvalidParameter")
            #expect(throws: VarlinkClient.ConnectionError.self) { try garbler.receive() }

            #expect(try bystander.call("org.example.echo.Echo", ["word": .string("after")])["word"] == .string("after"))
            #expect(
                try VarlinkClient(path: path).call("org.example.echo.Echo", ["word": .string("new")])["word"]
                    == .string("new")
            )
        }
    }

    @Test func shutdownFinishesTheCallInFlightThenCloses() async throws {
        try await withServer { path, server, handler in
            let client = try VarlinkClient(path: path)
            try client.send(
                VarlinkCall(method: "org.example.echo.Slow", parameters: ["ms": .int(300), "tag": .string("inflight")])
            )
            while !handler.memory.all.contains("started:inflight") { Thread.sleep(forTimeInterval: 0.005) }
            server.shutdown()
            #expect(try client.receive().parameters?["tag"] == .string("inflight"))
            #expect(throws: VarlinkClient.ConnectionError.self) {
                try VarlinkClient(path: path).call("org.example.echo.Echo", ["word": .string("x")])
            }
        }
    }

    @Test func aMissingSocketIsReportedAsUnavailable() {
        #expect { try VarlinkClient(path: "/nonexistent/imr.sock") } throws: { error in
            if case .unavailable = error as? VarlinkClient.ConnectionError { return true }
            return false
        }
    }

    @Test func thePythonReferenceClientIntrospectsAndCalls() async throws {
        try await withServer { path, _, _ in
            let script = """
                import sys, varlink
                with varlink.Client("unix:" + sys.argv[1]) as client:
                    with client.open("org.varlink.service") as svc:
                        info = svc.GetInfo()
                        print("interfaces", ",".join(info["interfaces"]))
                    with client.open("org.example.echo", namespaced=True) as echo:
                        print("echo", echo.Echo("py").word)
                        print("count", [r.i for r in echo.Count(3, _more=True)])
                        try:
                            echo.Echo("no")
                        except varlink.VarlinkError as e:
                            print("error", e.error(), e.parameters()["reason"])
                """
            let process = SpawnedProcess()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", script, path]
            let out = Pipe.forChild()
            let err = Pipe.forChild()
            process.standardOutput = out
            process.standardError = err
            try process.start()
            let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.waitForExit().status == 0, "python varlink client failed (run scripts/setup?): \(errors)")
            #expect(output.contains("interfaces org.varlink.service,org.example.echo"))
            #expect(output.contains("echo py"))
            #expect(output.contains("count [0, 1, 2]"))
            #expect(output.contains("error org.example.echo.Refused said no"))
        }
    }
}
