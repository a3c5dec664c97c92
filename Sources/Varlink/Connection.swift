import CoreMetrics
import Foundation
import Logging
import NIOCore
import Synchronization

extension VarlinkCall {
    /// Reads a call from one message: JSON parsed in one linear pass with nesting bounded
    /// (``JSONParser``), then checked for the fields of a call. Cheap enough for an event loop.
    package static func parse(_ message: ByteBuffer, maximumDepth: Int) throws(JSONParser.Failure) -> VarlinkCall {
        let parsed = message.withUnsafeReadableBytes { bytes in
            Result { () throws(JSONParser.Failure) in try JSONParser.parse(bytes, maximumDepth: maximumDepth) }
        }
        guard case .object(let fields) = try parsed.get() else {
            throw JSONParser.Failure(reason: "a Varlink call must be a JSON object", offset: 0)
        }
        guard case .string(let method)? = fields["method"] else {
            throw JSONParser.Failure(reason: "a Varlink call needs a string 'method'", offset: 0)
        }
        var call = VarlinkCall(method: method)
        switch fields["parameters"] {
        case nil, .null?: break
        case .object(let parameters)?: call.parameters = parameters
        default: throw JSONParser.Failure(reason: "a Varlink call's 'parameters' must be an object", offset: 0)
        }
        func flag(_ name: String) throws(JSONParser.Failure) -> Bool? {
            switch fields[name] {
            case nil, .null?: return nil
            case .bool(let b)?: return b
            default: throw JSONParser.Failure(reason: "a Varlink call's '\(name)' must be true or false", offset: 0)
            }
        }
        call.oneway = try flag("oneway")
        call.more = try flag("more")
        call.upgrade = try flag("upgrade")
        return call
    }
}

/// What every connection of one server shares: the input budget, the log, the error names.
final class ConnectionShared: Sendable {
    let limits: VarlinkServerLimits
    let errorInterface: String
    let logger: Logger
    let refusals: RateLimitedLog
    /// Bytes received on all connections and not yet made into calls.
    let bufferedInput = Atomic<Int>(0)
    let statistics: VarlinkServerStatistics

    init(
        limits: VarlinkServerLimits,
        errorInterface: String,
        logger: Logger,
        statistics: VarlinkServerStatistics = VarlinkServerStatistics()
    ) {
        self.statistics = statistics
        self.limits = limits
        self.errorInterface = errorInterface
        self.logger = logger
        self.refusals = RateLimitedLog(logger: logger)
    }

    func errorFrame(_ error: VarlinkError) -> ByteBuffer {
        var data = Data(VarlinkReply(parameters: error.parameters, error: error.name).serialized)
        data.append(0)
        return ByteBuffer(bytes: data)
    }

    /// An error of the server itself, naming the limit (its `[server]` key) and what to do.
    func limitError(_ name: String, limit: String, _ message: String) -> VarlinkError {
        VarlinkError("\(errorInterface).\(name)", parameters: ["limit": .string(limit), "message": .string(message)])
    }

    static func invalidMessage(_ message: String) -> VarlinkError {
        VarlinkError(
            "org.varlink.service.InvalidParameter",
            parameters: ["parameter": "message", "message": .string(message)]
        )
    }
}

/// Cancels a connection's task, also when the cancellation comes before the task exists.
final class TaskCanceller: Sendable {
    private let state = Mutex<(task: Task<Void, Never>?, cancelled: Bool)>((nil, false))

    func set(_ task: Task<Void, Never>) {
        let cancelNow = state.withLock { s -> Bool in
            s.task = task
            return s.cancelled
        }
        if cancelNow { task.cancel() }
    }

    func cancel() {
        let task = state.withLock { s -> Task<Void, Never>? in
            s.cancelled = true
            return s.task
        }
        task?.cancel()
    }
}

/// One client connection, on its channel's event loop: splits the input into messages, parses
/// each into a call (linear work, nesting bounded), hands the calls to the connection's task,
/// and enforces the per-connection limits:
///
/// - at most `maximumQueuedCalls` calls received and not answered; meanwhile it asks the socket
///   for nothing more (`read` is held back), so the kernel's buffer holds the rest;
/// - the idle, partial-message and unsent-output timeouts;
/// - when the connection closes, its unprocessed messages are dropped and its task cancelled.
final class VarlinkConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Never
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let id: UInt64
    let peer: PeerCredentials?
    let shared: ConnectionShared
    let calls: AsyncStream<VarlinkCall>.Continuation
    let canceller: TaskCanceller

    private var framer: NULFramer
    private var context: ChannelHandlerContext?
    /// Calls handed to the task and not finished.
    private var outstanding = 0
    private var readHeld = false
    /// Bytes received since the queue filled up (NIO finishes the reads of one wake-up, at most
    /// a few hundred kilobytes; only a peer's shutdown makes it read on, to find the end).
    private var receivedWhileFull = 0
    private var closing = false
    private var lastMessageAt = NIODeadline.now()
    private var partialSince: NIODeadline?
    private var unwritableSince: NIODeadline?
    private var writableWaiters: [CheckedContinuation<Bool, Never>] = []
    private var timer: RepeatedTask?

    init(
        id: UInt64,
        peer: PeerCredentials?,
        shared: ConnectionShared,
        calls: AsyncStream<VarlinkCall>.Continuation,
        canceller: TaskCanceller
    ) {
        self.id = id
        self.peer = peer
        self.shared = shared
        self.calls = calls
        self.canceller = canceller
        self.framer = NULFramer(maximumMessageSize: shared.limits.maximumMessageSize)
    }

    private var limits: VarlinkServerLimits { shared.limits }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let shortest = [limits.idleTimeout, limits.partialMessageTimeout, limits.unsentOutputTimeout].min()!
        let tick = TimeAmount(max(min(shortest / 4, .seconds(1)), .milliseconds(10)))
        let handler = WeakHandler(self)
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in handler.value?.check() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        tearDown()
        self.context = nil
    }

    // MARK: Input

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard !closing else { return }
        let count = bytes.readableBytes
        if outstanding >= limits.maximumQueuedCalls { receivedWhileFull += count }
        framer.append(&bytes)
        shared.bufferedInput.wrappingAdd(count, ordering: .relaxed)
        takeMessages()
        guard !closing else { return }
        let total = shared.bufferedInput.load(ordering: .relaxed)
        if total > limits.maximumBufferedInput, framer.bufferedBytes > 0 {
            refuse(
                shared.limitError(
                    "ServerBusy",
                    limit: "max_buffered_input_bytes",
                    "the daemon holds \(total) bytes of unfinished messages from its clients, over its limit of \(limits.maximumBufferedInput); send the call again later"
                ),
                log: "input over the buffered-input limit"
            )
            return
        }
        if receivedWhileFull > 1 << 20 {
            // Only a peer that shut its side down makes NIO read on while reading is held back
            // (it drains the socket to find the end): nobody is left to answer.
            close(
                log:
                    "the client closed its side with \(framer.bufferedBytes) bytes of calls unanswered; they were dropped"
            )
        }
    }

    /// Makes calls of the complete messages buffered, as long as the queue has room.
    private func takeMessages() {
        while !closing && outstanding < limits.maximumQueuedCalls {
            let message: ByteBuffer?
            do {
                message = try framer.next()
            } catch {
                refuse(ConnectionShared.invalidMessage("\(error)"), log: "\(error)")
                return
            }
            guard let message else { break }
            shared.bufferedInput.wrappingSubtract(message.readableBytes + 1, ordering: .relaxed)
            lastMessageAt = .now()
            partialSince = nil
            let call: VarlinkCall
            do {
                call = try VarlinkCall.parse(message, maximumDepth: limits.maximumNestingDepth)
            } catch {
                refuse(
                    ConnectionShared.invalidMessage(
                        "the message is not a Varlink call: \(error); the connection was closed"
                    ),
                    log: "a message was not a Varlink call (\(error))"
                )
                return
            }
            outstanding += 1
            calls.yield(call)
        }
        if framer.holdsPartialMessage {
            if partialSince == nil { partialSince = .now() }
        } else {
            partialSince = nil
        }
    }

    /// The task finished a call: room in the queue, so read again when nothing waits.
    func callFinished() {
        outstanding -= 1
        receivedWhileFull = 0
        lastMessageAt = .now()
        guard !closing, let context else { return }
        takeMessages()
        if readHeld && outstanding < limits.maximumQueuedCalls {
            readHeld = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        if closing { return }
        if outstanding >= limits.maximumQueuedCalls {
            readHeld = true
        } else {
            context.read()
        }
    }

    // MARK: Output

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            unwritableSince = nil
            let waiters = writableWaiters
            writableWaiters = []
            for waiter in waiters { waiter.resume(returning: true) }
        } else if unwritableSince == nil {
            unwritableSince = .now()
        }
        context.fireChannelWritabilityChanged()
    }

    /// The server is stopping: a call waiting for its client to read gives up (its reply is
    /// dropped), so a client that never reads cannot hold up the daemon's exit.
    func stopWaitingForOutput() {
        let waiters = writableWaiters
        writableWaiters = []
        for waiter in waiters { waiter.resume(returning: false) }
    }

    /// Resumes with true once the unsent output is under the bound, false if the connection closes.
    func whenWritable(_ continuation: CheckedContinuation<Bool, Never>) {
        guard let context, !closing, context.channel.isActive else { return continuation.resume(returning: false) }
        if context.channel.isWritable { return continuation.resume(returning: true) }
        writableWaiters.append(continuation)
    }

    // MARK: Ending

    func channelInactive(context: ChannelHandlerContext) {
        tearDown()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        shared.logger.debug("connection \(id): \(error)")
        context.close(promise: nil)
    }

    private func tearDown() {
        closing = true
        timer?.cancel()
        timer = nil
        calls.finish()
        canceller.cancel()
        let dropped = framer.discardAll()
        if dropped > 0 { shared.bufferedInput.wrappingSubtract(dropped, ordering: .relaxed) }
        let waiters = writableWaiters
        writableWaiters = []
        for waiter in waiters { waiter.resume(returning: false) }
    }

    /// Replies with `error`, then closes; logs `log` (rate-limited per peer uid).
    private func refuse(_ error: VarlinkError, log: String) {
        guard let context, !closing else { return }
        shared.statistics.messageRejected()
        Counter(label: "varlink_messages_rejected_total", dimensions: [("error", error.name)]).increment()
        shared.refusals.warning(uid: peer?.uid, "closing connection \(id): \(log)")
        tearDown()
        context.writeAndFlush(wrapOutboundOut(shared.errorFrame(error)), promise: nil)
        context.close(promise: nil)
    }

    private func close(log: String) {
        guard let context, !closing else { return }
        shared.logger.debug(
            "closing connection \(id): \(log)",
            metadata: ["peer.uid": "\(peer?.uid.description ?? "?")"]
        )
        tearDown()
        context.close(promise: nil)
    }

    /// The timeouts, checked a few times per shortest timeout.
    private func check() {
        guard !closing else { return }
        let now = NIODeadline.now()
        if let since = partialSince, now - since > TimeAmount(limits.partialMessageTimeout) {
            refuse(
                shared.limitError(
                    "MessageTimeout",
                    limit: "partial_message_timeout_seconds",
                    "a message was begun and not finished within \(limits.partialMessageTimeout); send each call whole, ending with NUL"
                ),
                log: "a message stayed unfinished for \(limits.partialMessageTimeout)"
            )
            return
        }
        if let since = unwritableSince, now - since > TimeAmount(limits.unsentOutputTimeout) {
            shared.refusals.warning(
                uid: peer?.uid,
                "closing connection \(id): its client took none of its replies for \(limits.unsentOutputTimeout)"
            )
            close(log: "unsent output")
            return
        }
        if outstanding == 0, framer.bufferedBytes == 0, now - lastMessageAt > TimeAmount(limits.idleTimeout) {
            close(log: "idle for \(limits.idleTimeout)")
        }
    }
}

/// The handler for its own timer, without keeping it alive. @unchecked Sendable: used only on
/// the handler's event loop.
final class WeakHandler: @unchecked Sendable {
    weak var value: VarlinkConnectionHandler?
    init(_ value: VarlinkConnectionHandler) { self.value = value }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// Refuses a connection over a limit: the error reply, then close.
final class RefusingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let frame: ByteBuffer
    private var sent = false

    init(frame: ByteBuffer) { self.frame = frame }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { send(context) }
    }

    func channelActive(context: ChannelHandlerContext) { send(context) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    private func send(_ context: ChannelHandlerContext) {
        guard !sent else { return }
        sent = true
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
        context.close(promise: nil)
    }
}
