import CoreMetrics
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Who is at the other end of a Unix socket, as the kernel says (`SO_PEERCRED`).
package struct PeerCredentials: Sendable, Hashable {
    package let pid: Int32
    package let uid: UInt32
    package let gid: UInt32

    package init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

/// What a handler knows about the call it is answering.
package struct VarlinkCallContext: Sendable {
    package let peer: PeerCredentials?
    package let connectionId: UInt64
}

/// Sends the intermediate replies of a `more` call.
package struct VarlinkReplier: Sendable {
    let send: @Sendable (VarlinkReply) async throws -> Void
    /// True when the client asked for several replies.
    package let more: Bool

    /// Sends one reply with `continues: true`. Only valid for calls with `more`.
    package func yield(_ parameters: [String: JSONValue]) async throws {
        guard more else { throw VarlinkError.expectedMore }
        try await send(VarlinkReply(parameters: parameters, continues: true))
    }
}

/// Implements the methods of one interface.
package protocol VarlinkHandler: Sendable {
    var interface: VarlinkInterface { get }
    /// Decides whether the caller may call `member` at all, before anything of its parameters
    /// is decoded: throw (e.g. `VarlinkError.permissionDenied`) to refuse. The server calls it
    /// before ``handle(_:context:replier:)``; the default admits everyone.
    func admit(member: String, context: VarlinkCallContext) throws
    /// Answers one call. The returned parameters are the final reply; a `more` call may
    /// first send replies through `replier`. Throw a `VarlinkError` to reply with an error.
    func handle(
        _ call: VarlinkCall,
        context: VarlinkCallContext,
        replier: VarlinkReplier
    ) async throws -> [String: JSONValue]
    /// The error reply for a failure that is not a `VarlinkError` (a bug, the disk, the
    /// database). The default is `<interface>.InternalError` with the failure's sentence as
    /// `message`; an interface declares that error, and may map failures to errors of its own.
    func error(for failure: any Error, in call: VarlinkCall) -> VarlinkError
}

extension VarlinkHandler {
    package func admit(member: String, context: VarlinkCallContext) throws {}

    package func error(for failure: any Error, in call: VarlinkCall) -> VarlinkError {
        VarlinkError("\(interface.name).InternalError", parameters: ["message": .string("\(failure)")])
    }
}

/// A Varlink server on a Unix stream socket, on SwiftNIO.
///
/// Each connection's calls are answered in the order they arrive (pipelining), one at a
/// time. Messages are split and parsed on the connection's event loop (one linear pass,
/// nesting bounded); only calls reach the handlers, on Swift's task pool. A message over the
/// size limit or one that is not a JSON call gets an error reply and its connection is
/// closed; other connections are untouched. ``VarlinkServerLimits`` bounds what clients may
/// cost: connections (in all and per uid), queued calls, buffered input, unsent output, and
/// how long a connection may idle or leave a message unfinished.
package final class VarlinkServer: Sendable {
    package struct Info: Sendable {
        package var vendor: String
        package var product: String
        package var version: String
        package var url: String

        package init(vendor: String, product: String, version: String, url: String) {
            self.vendor = vendor
            self.product = product
            self.version = version
            self.url = url
        }
    }

    /// Where to listen.
    package enum Listener: Sendable {
        /// Bind this path (mode applied after binding).
        case path(String, mode: mode_t)
        /// A socket already bound and listening, e.g. passed by systemd.
        case descriptor(CInt)
    }

    package let info: Info
    package let limits: VarlinkServerLimits
    package var maximumMessageSize: Int { limits.maximumMessageSize }
    private let handlers: [String: any VarlinkHandler]
    private let logger: Logger
    private let shared: ConnectionShared
    private let isPrivileged: @Sendable (PeerCredentials) -> Bool
    private let state = Mutex(State())
    /// Running totals since start, for a status reply (the same figures go to swift-metrics).
    package let statistics: VarlinkServerStatistics

    private struct Connection {
        let channel: Channel
        let uid: UInt32?
        var busy = false
        /// Makes a call waiting for its client to read give up (at shutdown).
        var stopWaiting: (@Sendable () -> Void)?
    }

    private struct State {
        var serverChannel: Channel?
        var shuttingDown = false
        var nextConnection: UInt64 = 0
        var connections: [UInt64: Connection] = [:]
        var perUser: [UInt32: Int] = [:]
        /// Connection tasks still running; run() returns when none is left after shutdown.
        var tasks = 0
        var drained: [CheckedContinuation<Void, Never>] = []
        /// Whether a uid may use the reserve, remembered for a while: asking reads the group
        /// database, and a client hammering a full server must not make the event loop do it each time.
        var privileged: [UInt32: (Bool, ContinuousClock.Instant)] = [:]
    }

    /// - Parameters:
    ///   - errorInterface: the interface whose errors the server's own refusals carry
    ///     (`TooManyConnections`, `ServerBusy`, `MessageTimeout`), e.g. `io.imr.Admin`.
    ///   - isPrivileged: whether a peer may use the reserve beyond the connection limits; asked
    ///     only when a limit is reached. The default: root.
    package init(
        info: Info,
        handlers: [any VarlinkHandler],
        limits: VarlinkServerLimits = VarlinkServerLimits(),
        errorInterface: String = "org.varlink.server",
        isPrivileged: @escaping @Sendable (PeerCredentials) -> Bool = { $0.uid == 0 },
        statistics: VarlinkServerStatistics = VarlinkServerStatistics(),
        logger: Logger = Logger(label: "varlink", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.info = info
        self.limits = limits
        self.logger = logger
        self.isPrivileged = isPrivileged
        self.statistics = statistics
        self.shared = ConnectionShared(
            limits: limits,
            errorInterface: errorInterface,
            logger: logger,
            statistics: statistics
        )
        var byName: [String: any VarlinkHandler] = [:]
        for handler in handlers { byName[handler.interface.name] = handler }
        self.handlers = byName
    }

    /// A server with the default limits but this message size (tests).
    package convenience init(
        info: Info,
        handlers: [any VarlinkHandler],
        maximumMessageSize: Int,
        logger: Logger = Logger(label: "varlink", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        var limits = VarlinkServerLimits()
        limits.maximumMessageSize = maximumMessageSize
        self.init(info: info, handlers: handlers, limits: limits, logger: logger)
    }

    /// Interfaces served, `org.varlink.service` first.
    package var interfaceNames: [String] { ["org.varlink.service"] + handlers.keys.sorted() }

    /// Connections open now (tests, status).
    package var connectionCount: Int { state.withLock { $0.connections.count } }

    /// Accepts connections until `shutdown()`; then waits for in-flight calls to finish.
    /// `onListening` runs once the socket accepts connections.
    package func run(
        _ listener: Listener,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onListening: @Sendable () -> Void = {}
    ) async throws {
        let output = max(limits.maximumUnsentOutput, 2)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: output / 2, high: output))
            .childChannelInitializer { [self] channel in self.initialize(channel) }
        let server: Channel
        switch listener {
        case .path(let path, let mode):
            server = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false).get()
            chmod(path, mode)
        case .descriptor(let fd):
            server = try await bootstrap.withBoundSocket(fd).get()
        }
        let alreadyStopping = state.withLock { s -> Bool in
            s.serverChannel = server
            return s.shuttingDown
        }
        if alreadyStopping { server.close(promise: nil) }
        onListening()
        try? await server.closeFuture.get()
        shutdown()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.tasks == 0 { return true }
                s.drained.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Stops accepting, closes idle connections, and lets busy ones finish their call (a call
    /// waiting for its client to read its replies gives up).
    package func shutdown() {
        let (server, idle, busy) = state.withLock { s -> (Channel?, [Channel], [@Sendable () -> Void]) in
            s.shuttingDown = true
            return (
                s.serverChannel, s.connections.values.filter { !$0.busy }.map(\.channel),
                s.connections.values.filter(\.busy).compactMap(\.stopWaiting)
            )
        }
        server?.close(promise: nil)
        for channel in idle { channel.close(promise: nil) }
        for stop in busy { stop() }
    }

    /// Sets up an accepted connection, or refuses it when a connection limit is reached.
    private func initialize(_ channel: Channel) -> EventLoopFuture<Void> {
        Self.peerCredentials(of: channel).flatMapThrowing { [self] peer in
            enum Admission {
                case accepted(UInt64)
                case refused(VarlinkError, String)
                case stopping
            }
            let admission = { () -> Admission in
                func privileged() -> Bool {
                    guard let peer else { return false }
                    let now = ContinuousClock.now
                    if let (known, at) = state.withLock({ $0.privileged[peer.uid] }), now - at < .seconds(10) {
                        return known
                    }
                    let answer = isPrivileged(peer)
                    state.withLock { s in
                        if s.privileged.count > 1024 { s.privileged.removeAll() }
                        s.privileged[peer.uid] = (answer, now)
                    }
                    return answer
                }
                // Decide (asking about privilege outside the lock: it may read the group database).
                let (total, mine) = state.withLock { s in (s.connections.count, peer.flatMap { s.perUser[$0.uid] } ?? 0)
                }
                let reserve =
                    (total >= limits.maximumConnections || mine >= limits.maximumConnectionsPerUser) && privileged()
                    ? limits.privilegedReserve : 0
                return state.withLock { s -> Admission in
                    if s.shuttingDown { return .stopping }
                    let mine = peer.flatMap { s.perUser[$0.uid] } ?? 0
                    if s.connections.count >= limits.maximumConnections + reserve {
                        return .refused(
                            shared.limitError(
                                "TooManyConnections",
                                limit: "max_connections",
                                "the daemon already serves \(s.connections.count) connections, its limit; close idle clients (e.g. stray followers) or raise the limit, then try again"
                            ),
                            "refused a connection: \(s.connections.count) connections open, the limit"
                        )
                    }
                    if let uid = peer?.uid, mine >= limits.maximumConnectionsPerUser + reserve {
                        return .refused(
                            shared.limitError(
                                "TooManyConnections",
                                limit: "max_connections_per_user",
                                "uid \(uid) already has \(mine) connections open, the limit per user; close some of them, then try again"
                            ),
                            "refused a connection: uid \(uid) has \(mine) open, the limit per user"
                        )
                    }
                    s.nextConnection += 1
                    s.connections[s.nextConnection] = Connection(channel: channel, uid: peer?.uid)
                    if let uid = peer?.uid { s.perUser[uid, default: 0] += 1 }
                    s.tasks += 1
                    return .accepted(s.nextConnection)
                }
            }()
            switch admission {
            case .stopping:
                channel.close(promise: nil)
            case .refused(let error, let log):
                Counter(
                    label: "varlink_connections_refused_total",
                    dimensions: [("limit", error.parameters["limit"]?.stringValue ?? "other")]
                ).increment()
                statistics.connectionRefused()
                shared.refusals.warning(uid: peer?.uid, log)
                try channel.pipeline.syncOperations.addHandler(RefusingHandler(frame: shared.errorFrame(error)))
            case .accepted(let id):
                let (calls, continuation) = AsyncStream.makeStream(of: VarlinkCall.self)
                let canceller = TaskCanceller()
                let handler = VarlinkConnectionHandler(
                    id: id,
                    peer: peer,
                    shared: shared,
                    calls: continuation,
                    canceller: canceller
                )
                do {
                    try channel.pipeline.syncOperations.addHandler(handler)
                } catch {
                    state.withLock { s in
                        s.tasks -= 1
                        if let uid = s.connections.removeValue(forKey: id)?.uid {
                            s.perUser[uid, default: 1] -= 1
                            if s.perUser[uid] == 0 { s.perUser.removeValue(forKey: uid) }
                        }
                    }
                    throw error
                }
                let bound = NIOLoopBound(handler, eventLoop: channel.eventLoop)
                let open = state.withLock { s in
                    s.connections[id]?.stopWaiting = {
                        channel.eventLoop.execute { bound.value.stopWaitingForOutput() }
                    }
                    return s.connections.count
                }
                Gauge(label: "varlink_connections").record(open)
                statistics.connectionAccepted()
                channel.closeFuture.whenComplete { [self] _ in
                    let open = state.withLock { s -> Int in
                        guard let gone = s.connections.removeValue(forKey: id) else { return s.connections.count }
                        if let uid = gone.uid {
                            s.perUser[uid, default: 1] -= 1
                            if s.perUser[uid] == 0 { s.perUser.removeValue(forKey: uid) }
                        }
                        return s.connections.count
                    }
                    Gauge(label: "varlink_connections").record(open)
                    statistics.connectionClosed()
                }
                canceller.set(
                    Task(executorPreference: EventLoopTaskExecutor(channel.eventLoop)) {
                        await self.serve(calls, channel: channel, handler: bound, id: id, peer: peer)
                        channel.close(promise: nil)
                        let waiting = self.state.withLock { s -> [CheckedContinuation<Void, Never>] in
                            s.tasks -= 1
                            guard s.tasks == 0, s.shuttingDown else { return [] }
                            defer { s.drained = [] }
                            return s.drained
                        }
                        for continuation in waiting { continuation.resume() }
                    }
                )
            }
        }
    }

    private func setBusy(_ id: UInt64, _ busy: Bool) -> Bool {
        state.withLock { s in
            s.connections[id]?.busy = busy
            return s.shuttingDown
        }
    }

    /// Where long replies (a page of a thousand cases) are written out as JSON: a thread of
    /// its own, so that they never hold the event loop that answers the other calls of its
    /// connections (a connection's calls run there: ``EventLoopTaskExecutor``).
    private static let serializer = DispatchQueue(label: "varlink-serialize", qos: .utility)

    static func serializeAside(_ reply: VarlinkReply) async -> [UInt8] {
        await withCheckedContinuation { continuation in
            serializer.async { continuation.resume(returning: reply.serialized) }
        }
    }

    /// Answers a connection's calls one at a time, until it closes (then the task is cancelled
    /// and the calls not yet taken are dropped) or the server shuts down.
    private func serve(
        _ calls: AsyncStream<VarlinkCall>,
        channel: Channel,
        handler: NIOLoopBound<VarlinkConnectionHandler>,
        id: UInt64,
        peer: PeerCredentials?
    ) async {
        let context = VarlinkCallContext(peer: peer, connectionId: id)
        let write: @Sendable (VarlinkReply) async throws -> Void = { reply in
            var data = reply.isLong ? await VarlinkServer.serializeAside(reply) : reply.serialized
            data.append(0)
            if !channel.isWritable {
                // The client is not taking its replies: answer nothing more until it does.
                let writable = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                    channel.eventLoop.execute { handler.value.whenWritable(continuation) }
                }
                guard writable else { throw CancellationError() }
            }
            channel.writeAndFlush(ByteBuffer(bytes: data), promise: nil)
        }
        for await call in calls {
            if setBusy(id, true) || Task.isCancelled { break }
            await dispatch(call, context: context, write: write)
            channel.eventLoop.execute { handler.value.callFinished() }
            if setBusy(id, false) { break }
        }
    }

    private func dispatch(
        _ call: VarlinkCall,
        context: VarlinkCallContext,
        write: @escaping @Sendable (VarlinkReply) async throws -> Void
    ) async {
        let oneway = call.oneway ?? false
        let more = call.more ?? false
        let started = ContinuousClock.now
        var reply: VarlinkReply = VarlinkReply(parameters: [:])
        defer {
            // Only the interfaces served (an unknown one is counted under "unknown"), so a
            // client cannot make up label values without end.
            let interface =
                call.interface == "org.varlink.service" || handlers[call.interface] != nil ? call.interface : "unknown"
            let elapsed = ContinuousClock.now - started
            Counter(
                label: "varlink_calls_total",
                dimensions: [("interface", interface), ("outcome", reply.error == nil ? "ok" : "error")]
            ).increment()
            if !more {
                CoreMetrics.Timer(label: "varlink_call_duration_seconds", dimensions: [("interface", interface)])
                    .recordNanoseconds(
                        elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
                    )
            }
            statistics.call(failed: reply.error != nil)
        }
        do {
            let replier = VarlinkReplier(send: { r in if !oneway { try await write(r) } }, more: more && !oneway)
            reply = VarlinkReply(parameters: try await answer(call, context: context, replier: replier))
        } catch let error as VarlinkError {
            reply = VarlinkReply(parameters: error.parameters, error: error.name)
        } catch is CancellationError {
            logger.debug("connection \(context.connectionId) closed during \(call.method); its call was cancelled")
            return
        } catch {
            logger.error("method \(call.method) failed: \(error)")
            let described =
                handlers[call.interface]?.error(for: error, in: call)
                ?? VarlinkError("org.varlink.service.InternalError", parameters: ["message": .string("\(error)")])
            reply = VarlinkReply(parameters: described.parameters, error: described.name)
        }
        if !oneway { try? await write(reply) }
    }

    private func answer(
        _ call: VarlinkCall,
        context: VarlinkCallContext,
        replier: VarlinkReplier
    ) async throws -> [String: JSONValue] {
        let interface = call.interface
        if interface == "org.varlink.service" {
            switch call.member {
            case "GetInfo":
                try Self.refuseUndeclared(call, of: .service)
                return [
                    "vendor": .string(info.vendor), "product": .string(info.product), "version": .string(info.version),
                    "url": .string(info.url), "interfaces": .array(interfaceNames.map { .string($0) }),
                ]
            case "GetInterfaceDescription":
                try Self.refuseUndeclared(call, of: .service)
                guard let name = call.parameters?["interface"]?.stringValue else {
                    throw VarlinkError.invalidParameter("interface")
                }
                if name == "org.varlink.service" {
                    return ["description": .string(VarlinkInterface.service.description)]
                }
                guard let handler = handlers[name] else { throw VarlinkError.interfaceNotFound(name) }
                return ["description": .string(handler.interface.description)]
            default:
                throw VarlinkError.methodNotFound(call.method)
            }
        }
        guard let handler = handlers[interface] else { throw VarlinkError.interfaceNotFound(interface) }
        guard handler.interface.methods.contains(call.member) else { throw VarlinkError.methodNotFound(call.method) }
        // The caller's role first: a refused caller's parameters are never decoded.
        try handler.admit(member: call.member, context: context)
        try Self.refuseUndeclared(call, of: handler.interface)
        return try await handler.handle(call, context: context, replier: replier)
    }

    /// A parameter the method does not declare is refused by name, as sd-varlink does: it would
    /// otherwise be ignored, and a misspelt or misplaced filter would read as no filter.
    static func refuseUndeclared(_ call: VarlinkCall, of interface: VarlinkInterface) throws(VarlinkError) {
        guard let given = call.parameters, let declared = interface.parameters[call.member] else { return }
        if let unknown = given.keys.filter({ !declared.contains($0) }).min() {
            // Named as sent, up to 64 characters: a client's made-up key is not echoed whole.
            throw VarlinkError.invalidParameter(unknown.count > 64 ? String(unknown.prefix(64)) + "…" : unknown)
        }
    }

    static func peerCredentials(of channel: Channel) -> EventLoopFuture<PeerCredentials?> {
        guard let provider = channel as? SocketOptionProvider else { return channel.eventLoop.makeSucceededFuture(nil) }
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } (Glibc hides it behind _GNU_SOURCE).
        struct UCred: Sendable {
            var pid: Int32 = 0
            var uid: UInt32 = 0
            var gid: UInt32 = 0
        }
        let future: EventLoopFuture<UCred> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET),
            name: SocketOptionName(SO_PEERCRED)
        )
        return future.map { PeerCredentials(pid: $0.pid, uid: $0.uid, gid: $0.gid) }
            .map { Optional($0) }
            .recover { _ in nil }
    }
}

/// What a server has done since it started: for `io.imr.Admin.Status` and the like.
package final class VarlinkServerStatistics: Sendable {
    package struct Snapshot: Sendable, Codable, Equatable {
        package var connectionsOpen: Int
        package var connectionsAccepted: Int
        package var connectionsRefused: Int
        package var messagesRejected: Int
        package var calls: Int
        package var failedCalls: Int
    }

    private let open = Atomic<Int>(0)
    private let accepted = Atomic<Int>(0)
    private let refused = Atomic<Int>(0)
    private let rejected = Atomic<Int>(0)
    private let calls = Atomic<Int>(0)
    private let failed = Atomic<Int>(0)

    package init() {}

    func connectionAccepted() {
        accepted.wrappingAdd(1, ordering: .relaxed)
        open.wrappingAdd(1, ordering: .relaxed)
    }
    func connectionClosed() { open.wrappingSubtract(1, ordering: .relaxed) }
    func connectionRefused() { refused.wrappingAdd(1, ordering: .relaxed) }
    func messageRejected() { rejected.wrappingAdd(1, ordering: .relaxed) }
    func call(failed didFail: Bool) {
        calls.wrappingAdd(1, ordering: .relaxed)
        if didFail { failed.wrappingAdd(1, ordering: .relaxed) }
    }

    package var snapshot: Snapshot {
        Snapshot(
            connectionsOpen: open.load(ordering: .relaxed),
            connectionsAccepted: accepted.load(ordering: .relaxed),
            connectionsRefused: refused.load(ordering: .relaxed),
            messagesRejected: rejected.load(ordering: .relaxed),
            calls: calls.load(ordering: .relaxed),
            failedCalls: failed.load(ordering: .relaxed)
        )
    }
}
