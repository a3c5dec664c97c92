import EventStore
import Foundation
import IMRService
import Logging
import ServiceLifecycle
import Synchronization
import SystemdSupport
import UnixSignals
import Varlink

#if canImport(Glibc)
import Glibc
#endif

// The daemon's long-running parts, each a swift-service-lifecycle `Service` run by one
// `ServiceGroup` (Daemon.swift). SIGTERM and SIGINT shut the group down gracefully, the
// services in the reverse of their order in the group: the Varlink server first (the calls in
// flight finish), the watchdog last (systemd hears from the daemon until it is gone).
//
// A service returns only when its own turn to stop has come (`gracefulShutdown()`): one that
// ended sooner would end the group with an error. The server's stop also stops the store's
// reads, which ends the STATUS= subscription and may end the scheduler's loop early.

/// The Varlink server: serves until a graceful shutdown, then stops accepting, lets the calls
/// in flight finish (long reads are interrupted and answer with an error) and returns once
/// every connection has ended. While it waits, it says every few seconds what for.
struct VarlinkService: Service {
    let server: VarlinkServer
    let listener: VarlinkServer.Listener
    /// Called once the socket listens, before the first call is taken (READY=1).
    let ready: @Sendable () -> Void
    /// Called when the shutdown begins, before the server stops accepting.
    let stopping: @Sendable () -> Void
    let logger: Logger
    /// How often a stop still waiting for calls says so.
    var reportEvery: Duration = .seconds(5)

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await withGracefulShutdownHandler {
                    try await server.run(listener, onListening: ready)
                } onGracefulShutdown: {
                    stopping()
                }
            }
            group.addTask {
                // Only once a stop has begun: then report what it is waiting for until the
                // server returns (the group cancels this task).
                try await gracefulShutdown()
                while true {
                    try await Task.sleep(for: reportEvery)
                    logger.warning(
                        "still stopping: waiting for \(server.connectionCount) connection(s) to finish their calls in flight"
                    )
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }
}

/// Keeps systemd's STATUS= current: refreshes the line at most once a second after commits,
/// waiting for them without reading the log.
struct StatusService: Service {
    let store: EventStore
    let notifier: SystemdNotifier
    let line: @Sendable () async -> String?

    func run() async throws {
        // Waits for a commit past what the last STATUS= reflected, reading nothing (it read the
        // stream changes of every commit on a reader thread).
        await cancelWhenGracefulShutdown { [store, notifier, line] in
            var shownUpTo = store.committedHead
            var last = ContinuousClock.now - .seconds(1)
            while await store.waitForCommit(after: shownUpTo) {
                let wait = last + .seconds(1) - ContinuousClock.now
                if wait > .zero {
                    do { try await Task.sleep(for: wait) } catch { return }
                }
                last = ContinuousClock.now
                shownUpTo = store.committedHead
                if let text = await line() { _ = try? notifier.notify(.status(text)) }
            }
        }
        try? await gracefulShutdown()
    }
}

/// The alert scheduler's loop (and the morning digests'): runs until a graceful shutdown.
struct LoopService: Service {
    let loop: @Sendable () async -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown { await loop() }
        try? await gracefulShutdown()
    }
}

/// systemd's watchdog: pings every half of WATCHDOG_USEC, at high priority so that its
/// wake-ups go ahead of calls queued for the cooperative threads (a storm of 32 clients could
/// otherwise hold a ping back past the interval). Last in the shutdown order.
struct WatchdogService: Service {
    let interval: Duration
    let notifier: SystemdNotifier
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask(priority: .high) {
                    await SystemdWatchdog.keepAlive(every: interval, notifier: notifier, logger: logger)
                }
            }
        }
    }
}

/// Whether the daemon has told systemd READY=1 (set once, read by the reload).
final class Announced: Sendable {
    private let flag = Atomic<Bool>(false)
    var ready: Bool {
        get { flag.load(ordering: .acquiring) }
        set { flag.store(newValue, ordering: .releasing) }
    }
}

/// SIGHUP re-reads the configuration, for as long as the daemon runs.
struct ReloadService: Service {
    let reload: @Sendable () -> Void

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            // Reading the configuration file is a blocking call: on a thread of its own.
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                Thread {
                    reload()
                    continuation.resume()
                }.start()
            }
        }
    }
}

/// The operator's notification command, run for each raised alert and morning digest: the
/// scheduler hands deliveries over and goes on; each runs (with its retries) as a child task
/// here, so a slow or hanging command holds up nothing else. Both are bounded: at most
/// ``concurrentDeliveries`` commands run at once and ``queueLimit`` wait; beyond that a delivery
/// is dropped with a warning in the journal. At a graceful shutdown no new
/// delivery starts and pending retries are dropped (the alerts are in the log and listed by
/// `imr-ctl alerts`); an attempt in flight runs to its end or its timeout.
final class NotificationService: Service {
    let runner: AlertCommandRunner
    private let deliveries: AsyncStream<AlertCommandRunner.Delivery>
    private let continuation: AsyncStream<AlertCommandRunner.Delivery>.Continuation
    private let logger: Logger

    /// Deliveries (each with its retries) running at once.
    static let concurrentDeliveries = 16
    /// Deliveries waiting for one of those; a delivery beyond them is dropped and logged (the
    /// alert itself is in the log, and `imr-ctl alerts` lists it).
    static let queueLimit = 10_000
    private let dropped = Atomic<Int>(0)

    init(runner: AlertCommandRunner, logger: Logger) {
        self.runner = runner
        self.logger = logger
        (deliveries, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingOldest(Self.queueLimit))
    }

    /// Queues a delivery and returns at once.
    func deliver(_ delivery: AlertCommandRunner.Delivery) {
        guard case .dropped = continuation.yield(delivery) else { return }
        let count = dropped.wrappingAdd(1, ordering: .relaxed).newValue
        // The first drop and every thousandth: a flood is said without flooding the journal.
        if count == 1 || count.isMultiple(of: 1000) {
            logger.warning(
                "notification queue full (\(Self.queueLimit) waiting for \(Self.concurrentDeliveries) running commands): \(delivery.name) not notified, \(count) dropped since start; the alerts are in the log (imr-ctl alerts); is the notification command hanging or failing?"
            )
        }
    }

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for await delivery in deliveries.cancelOnGracefulShutdown() {
                if running == Self.concurrentDeliveries {
                    await group.next()
                    running -= 1
                }
                group.addTask { [runner] in _ = await runner.deliverWithRetries(delivery) }
                running += 1
            }
            continuation.finish()
            group.cancelAll()
        }
    }
}
