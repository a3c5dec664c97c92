import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Who is at the other end of a Unix socket, as the kernel says (`SO_PEERCRED`).
public struct PeerCredentials: Sendable, Hashable {
    public let pid: Int32
    public let uid: UInt32
    public let gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

/// What a handler knows about the call it is answering.
public struct VarlinkCallContext: Sendable {
    public let peer: PeerCredentials?
    public let connectionId: UInt64
}

/// Sends the intermediate replies of a `more` call.
public struct VarlinkReplier: Sendable {
    let send: @Sendable (VarlinkReply) async throws -> Void
    /// True when the client asked for several replies.
    public let more: Bool

    /// Sends one reply with `continues: true`. Only valid for calls with `more`.
    public func yield(_ parameters: [String: JSONValue]) async throws {
        guard more else { throw VarlinkError.expectedMore }
        try await send(VarlinkReply(parameters: parameters, continues: true))
    }
}

/// Implements the methods of one interface.
public protocol VarlinkHandler: Sendable {
    var interface: VarlinkInterface { get }
    /// Answers one call. The returned parameters are the final reply; a `more` call may
    /// first send replies through `replier`. Throw a `VarlinkError` to reply with an error.
    func handle(_ call: VarlinkCall, context: VarlinkCallContext, replier: VarlinkReplier) async throws -> [String: JSONValue]
}

/// A Varlink server on a Unix stream socket, on SwiftNIO.
///
/// Each connection's calls are answered in the order they arrive (pipelining), one at a
/// time. A message over the size limit or one that is not a JSON call gets an error reply
/// and its connection is closed; other connections are untouched.
public final class VarlinkServer: Sendable {
    public struct Info: Sendable {
        public var vendor: String
        public var product: String
        public var version: String
        public var url: String

        public init(vendor: String, product: String, version: String, url: String) {
            self.vendor = vendor
            self.product = product
            self.version = version
            self.url = url
        }
    }

    /// Where to listen.
    public enum Listener: Sendable {
        /// Bind this path (mode applied after binding).
        case path(String, mode: mode_t)
        /// A socket already bound and listening, e.g. passed by systemd.
        case descriptor(CInt)
    }

    public let info: Info
    public let maximumMessageSize: Int
    private let handlers: [String: any VarlinkHandler]
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var serverChannel: Channel?
        var shuttingDown = false
        var nextConnection: UInt64 = 0
        var connections: [UInt64: (channel: Channel, busy: Bool)] = [:]
    }

    public init(info: Info, handlers: [any VarlinkHandler], maximumMessageSize: Int = 1 << 20, logger: Logger = Logger(label: "varlink", factory: { _ in SwiftLogNoOpLogHandler() })) {
        self.info = info
        self.maximumMessageSize = maximumMessageSize
        self.logger = logger
        var byName: [String: any VarlinkHandler] = [:]
        for handler in handlers { byName[handler.interface.name] = handler }
        self.handlers = byName
    }

    /// Interfaces served, `org.varlink.service` first.
    public var interfaceNames: [String] { ["org.varlink.service"] + handlers.keys.sorted() }

    /// Accepts connections until `shutdown()`; then waits for in-flight calls to finish.
    /// `onListening` runs once the socket accepts connections.
    public func run(_ listener: Listener, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, onListening: @Sendable () -> Void = {}) async throws {
        let maximum = maximumMessageSize
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
        let initializer: @Sendable (Channel) -> EventLoopFuture<(NIOAsyncChannel<ByteBuffer, ByteBuffer>, PeerCredentials?)> = { channel in
            let credentials: EventLoopFuture<PeerCredentials?> = Self.peerCredentials(of: channel)
            return credentials.flatMapThrowing { peer in
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(NULFrameDecoder(maximumMessageSize: maximum)))
                let wrapped = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                return (wrapped, peer)
            }
        }
        let server: NIOAsyncChannel<(NIOAsyncChannel<ByteBuffer, ByteBuffer>, PeerCredentials?), Never>
        switch listener {
        case .path(let path, let mode):
            server = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false, childChannelInitializer: initializer)
            chmod(path, mode)
        case .descriptor(let fd):
            server = try await bootstrap.bind(fd, childChannelInitializer: initializer)
        }
        let alreadyStopping = state.withLock { s -> Bool in
            s.serverChannel = server.channel
            return s.shuttingDown
        }
        if alreadyStopping { server.channel.close(promise: nil) }
        onListening()

        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { inbound in
                for try await (connection, peer) in inbound {
                    let id = state.withLock { s -> UInt64? in
                        guard !s.shuttingDown else { return nil }
                        s.nextConnection += 1
                        s.connections[s.nextConnection] = (connection.channel, false)
                        return s.nextConnection
                    }
                    guard let id else {
                        // Arrived during shutdown. executeThenClose finishes the channel's
                        // writer (NIO traps if a writer is dropped unfinished).
                        group.addTask { try? await connection.executeThenClose { _, _ in } }
                        continue
                    }
                    group.addTask {
                        await self.serve(connection, id: id, peer: peer)
                        _ = self.state.withLock { $0.connections.removeValue(forKey: id) }
                    }
                }
            }
        }
    }

    /// Stops accepting, closes idle connections, and lets busy ones finish their call.
    public func shutdown() {
        let (server, idle) = state.withLock { s -> (Channel?, [Channel]) in
            s.shuttingDown = true
            return (s.serverChannel, s.connections.values.filter { !$0.busy }.map(\.channel))
        }
        server?.close(promise: nil)
        for channel in idle { channel.close(promise: nil) }
    }

    private func setBusy(_ id: UInt64, _ busy: Bool) -> Bool {
        state.withLock { s in
            s.connections[id]?.busy = busy
            return s.shuttingDown
        }
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, id: UInt64, peer: PeerCredentials?) async {
        let context = VarlinkCallContext(peer: peer, connectionId: id)
        do {
            try await connection.executeThenClose { inbound, outbound in
                let write: @Sendable (VarlinkReply) async throws -> Void = { reply in
                    var data = try JSONCoding.encoder.encode(reply)
                    data.append(0)
                    try await outbound.write(ByteBuffer(bytes: data))
                }
                do {
                    for try await frame in inbound {
                        if setBusy(id, true) { break }
                        let call: VarlinkCall
                        do {
                            call = try JSONCoding.decoder.decode(VarlinkCall.self, from: Data(frame.readableBytesView))
                        } catch {
                            logger.warning("closing connection \(id): message is not a Varlink call", metadata: ["peer.uid": "\(peer?.uid ?? 0)"])
                            try? await write(VarlinkReply(parameters: ["parameter": .string("message")], error: "org.varlink.service.InvalidParameter"))
                            return
                        }
                        await dispatch(call, context: context, write: write, closed: connection.channel.closeFuture)
                        if setBusy(id, false) { break }
                    }
                } catch let error as VarlinkFramingError {
                    logger.warning("closing connection \(id): \(error)")
                    try? await write(VarlinkReply(parameters: ["parameter": .string("message")], error: "org.varlink.service.InvalidParameter"))
                } catch let error as NIOCore.ByteToMessageDecoderError {
                    logger.warning("closing connection \(id): \(error)")
                }
            }
        } catch {
            logger.debug("connection \(id) ended: \(error)")
        }
    }

    private func dispatch(_ call: VarlinkCall, context: VarlinkCallContext, write: @escaping @Sendable (VarlinkReply) async throws -> Void,
                          closed: EventLoopFuture<Void>) async {
        let oneway = call.oneway ?? false
        let more = call.more ?? false
        let reply: VarlinkReply
        do {
            let replier = VarlinkReplier(send: { r in if !oneway { try await write(r) } }, more: more && !oneway)
            let parameters: [String: JSONValue]
            if more {
                // A `more` call may wait a long time between replies (a follower): when the
                // client goes away meanwhile, its handler is cancelled rather than left waiting.
                parameters = try await withThrowingTaskGroup(of: [String: JSONValue]?.self) { group in
                    group.addTask { try await self.answer(call, context: context, replier: replier) }
                    group.addTask {
                        await ChannelClosure.wait(for: closed)
                        if Task.isCancelled { return nil }
                        throw CancellationError()
                    }
                    defer { group.cancelAll() }
                    while let result = try await group.next() {
                        if let parameters = result { return parameters }
                    }
                    throw CancellationError()
                }
            } else {
                parameters = try await answer(call, context: context, replier: replier)
            }
            reply = VarlinkReply(parameters: parameters)
        } catch let error as VarlinkError {
            reply = VarlinkReply(parameters: error.parameters, error: error.name)
        } catch is CancellationError {
            logger.debug("connection \(context.connectionId) closed during \(call.method); its call was cancelled")
            return
        } catch {
            logger.error("method \(call.method) failed: \(error)")
            reply = VarlinkReply(parameters: ["message": .string("\(error)")], error: "org.varlink.service.MethodNotImplemented")
        }
        if !oneway { try? await write(reply) }
    }

    private func answer(_ call: VarlinkCall, context: VarlinkCallContext, replier: VarlinkReplier) async throws -> [String: JSONValue] {
        let interface = call.interface
        if interface == "org.varlink.service" {
            switch call.member {
            case "GetInfo":
                return [
                    "vendor": .string(info.vendor), "product": .string(info.product), "version": .string(info.version),
                    "url": .string(info.url), "interfaces": .array(interfaceNames.map { .string($0) }),
                ]
            case "GetInterfaceDescription":
                guard let name = call.parameters?["interface"]?.stringValue else { throw VarlinkError.invalidParameter("interface") }
                if name == "org.varlink.service" { return ["description": .string(VarlinkInterface.service.description)] }
                guard let handler = handlers[name] else { throw VarlinkError.interfaceNotFound(name) }
                return ["description": .string(handler.interface.description)]
            default:
                throw VarlinkError.methodNotFound(call.method)
            }
        }
        guard let handler = handlers[interface] else { throw VarlinkError.interfaceNotFound(interface) }
        guard handler.interface.methods.contains(call.member) else { throw VarlinkError.methodNotFound(call.method) }
        return try await handler.handle(call, context: context, replier: replier)
    }

    static func peerCredentials(of channel: Channel) -> EventLoopFuture<PeerCredentials?> {
        guard let provider = channel as? SocketOptionProvider else { return channel.eventLoop.makeSucceededFuture(nil) }
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } (Glibc hides it behind _GNU_SOURCE).
        struct UCred: Sendable { var pid: Int32 = 0; var uid: UInt32 = 0; var gid: UInt32 = 0 }
        let future: EventLoopFuture<UCred> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return future.map { PeerCredentials(pid: $0.pid, uid: $0.uid, gid: $0.gid) }
            .map { Optional($0) }
            .recover { _ in nil }
    }
}

/// Waits for a channel to close, or for the waiting task to be cancelled, whichever is first
/// (`EventLoopFuture.get()` alone ignores cancellation).
enum ChannelClosure {
    static func wait(for closed: EventLoopFuture<Void>) async {
        let waiter = Waiter()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                waiter.set(continuation)
                closed.whenComplete { _ in waiter.resume() }
            }
        } onCancel: {
            waiter.resume()
        }
    }

    /// Resumes its continuation once, whoever comes first; a resume before the continuation
    /// is set is remembered.
    final class Waiter: Sendable {
        private let state = Mutex<(continuation: CheckedContinuation<Void, Never>?, done: Bool)>((nil, false))

        func set(_ continuation: CheckedContinuation<Void, Never>) {
            let resumeNow = state.withLock { s -> Bool in
                if s.done { return true }
                s.continuation = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }

        func resume() {
            let continuation = state.withLock { s -> CheckedContinuation<Void, Never>? in
                guard !s.done else { return nil }
                s.done = true
                defer { s.continuation = nil }
                return s.continuation
            }
            continuation?.resume()
        }
    }
}
