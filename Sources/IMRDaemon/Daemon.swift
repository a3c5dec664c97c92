import ArgumentParser
import CMalloc
import EventStore
import Foundation
import IMRDaemonConfig
import IMRService
import Logging
import ServiceLifecycle
import Synchronization
import SystemdSupport
import Varlink
import Workflow

#if canImport(Glibc)
import Glibc
#endif

/// The version `imr-daemon` reports (GetInfo, Status).
package let imrVersion = "0.1.0"

/// `imr-daemon`: the composition root. Reads the configuration, takes the state-directory
/// lock, opens the event log (migrations, projections caught up), serves Varlink on the
/// socket systemd passes or on its own, and talks to systemd (READY, STATUS, WATCHDOG,
/// RELOADING, STOPPING).
package struct DaemonCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "imr-daemon",
        abstract: "Serve imr's case log over Varlink on a Unix socket (runs in the foreground, under systemd).",
        discussion: """
            Signals: SIGTERM or SIGINT stop accepting, finish the calls in flight, close the log and exit 0 \
            (a stop still waiting for calls says so every 5 s; what still runs after 20 s is cancelled); \
            SIGHUP re-reads the configuration (access groups and log level apply at once; the state \
            directory, socket, store.synchronous, [alerts] and [server] need a restart).
            Files: the daemon adds 0027 to its umask (a stricter one, like the unit's 0077, stays), so the \
            event log (with its -wal and -shm files) and the backups it writes are at most mode 0640, however \
            it was started.
            At start the daemon checks the event log's head against its anchor (the last position and hash \
            the store wrote; two rows, whatever the size of the log) and refuses to start on a log whose tail \
            was deleted or whose last event was replaced, naming what it found (exit 65); \
            --accept-tampered-log starts it anyway and records that acceptance in the log.
            Exit codes: 0 stopped cleanly, 1 failed, 65 the event log's head does not match its anchor, \
            75 another daemon holds the state directory or socket, 78 bad configuration.
            """
    )

    @OptionGroup package var options: DaemonOptions

    package init() {}

    package func run() async throws { try await start() }

    /// Runs the daemon until it is stopped. (`run()` forwards here; top-level code calls it
    /// directly because overload resolution there picks ParsableCommand's synchronous `run()`.)
    package func start() async throws {
        // The event log, its -wal and -shm files and backups hold every case: never writable
        // by the group nor readable by others, whatever umask the daemon was started with (a
        // stricter one, such as the unit's 0077, stays).
        umask(umask(0o027) | 0o027)
        // glibc raises its mmap threshold each time a large block is freed, so that after a
        // burst of big messages (a 1 MiB frame, a page of a thousand deadlines) such blocks
        // come from the heap and stay there: 100,000 hostile messages left the daemon 66 MiB
        // larger. A fixed threshold gives every block of 128 KiB or more back when it is freed
        // (6 MiB larger after the same attack).
        _ = imr_fix_mmap_threshold(128 * 1024)
        // A notification command that exits without reading its stdin must not end the daemon
        // with SIGPIPE (a write to a closed pipe then fails with EPIPE instead).
        signal(SIGPIPE, SIG_IGN)
        // SIGHUP reloads once the services run; until then (reading the configuration, opening
        // and migrating the store) a reload sent early must not end the daemon, as SIGHUP's
        // default action would. The reload service's signal source replaces this.
        signal(SIGHUP, SIG_IGN)
        let configuration: DaemonConfiguration
        do {
            configuration = try options.resolveConfiguration()
        } catch {
            FileHandle.standardError.write(Data("imr-daemon: \(error.description)\n".utf8))
            throw ExitCode(78)
        }
        let level = configuration.logLevel
        LoggingSystem.bootstrap { _ in SystemdLogging.makeHandler(syslogIdentifier: "imr-daemon", logLevel: level) }
        var logger = Logger(label: "imr-daemon")
        logger.logLevel = level
        do {
            try await Daemon(configuration: configuration, options: options, logger: logger).run()
        } catch let error as DaemonStartError {
            logger.critical("\(error.message)", metadata: ["message.id": .string(error.messageId)])
            FileHandle.standardError.write(Data("imr-daemon: \(error.message)\n".utf8))
            throw ExitCode(error.exitCode)
        }
    }
}

/// Why the daemon did not start, with the exit code that tells systemd and scripts.
struct DaemonStartError: Error {
    let message: String
    let exitCode: Int32
    var messageId: String = JournalMessageID.configurationInvalid
}

/// A running daemon.
final class Daemon: Sendable {
    let configuration: DaemonConfiguration
    let options: DaemonOptions
    let logger: Logger
    let notifier = SystemdNotifier()
    let access: AccessControl
    let startedAt = Date()

    init(configuration: DaemonConfiguration, options: DaemonOptions, logger: Logger) {
        self.configuration = configuration
        self.options = options
        self.logger = logger
        self.access = AccessControl(AccessPolicy(configuration.access), logger: logger)
    }

    func run() async throws {
        // swift-metrics' backend for the whole process, whether or not a file is written: set
        // up before anything is counted (the alerts raised at start-up, before READY=1, went to
        // no backend and were missing from the file while Status counted them).
        _ = MetricsExport.registry
        let stateDirectory = configuration.stateDirectory
        do {
            try FileManager.default.createDirectory(
                atPath: stateDirectory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o750]
            )
        } catch {
            throw DaemonStartError(
                message:
                    "cannot create the state directory \(stateDirectory): \(error.localizedDescription); create it or choose another with --state-dir",
                exitCode: 1
            )
        }
        let lock: StateDirectoryLock
        do {
            lock = try StateDirectoryLock.acquire(stateDirectory: stateDirectory)
        } catch {
            throw DaemonStartError(message: error.description, exitCode: 75, messageId: JournalMessageID.alreadyRunning)
        }
        defer { lock.release() }

        let listener: VarlinkServer.Listener
        do {
            if let passed = try SocketActivation.varlinkListener() {
                listener = .descriptor(passed.fileDescriptor)
                logger.info("serving the socket systemd passed (fd \(passed.fileDescriptor), name \(passed.name))")
            } else {
                if try ExistingSocket.prepareForBinding(path: configuration.socketPath) == .removedStale {
                    logger.notice("removed the stale socket \(configuration.socketPath) of a daemon that is gone")
                }
                listener = .path(configuration.socketPath, mode: 0o660)
            }
        } catch {
            throw DaemonStartError(message: error.description, exitCode: 75, messageId: JournalMessageID.alreadyRunning)
        }

        let clock = try Self.clock()
        let storePath = (stateDirectory as NSString).appendingPathComponent("imr.sqlite")
        _ = try? notifier.notify(.status("opening the event log \(storePath)"))
        let storeOptions = EventStore.Options(
            synchronous: configuration.store.synchronous == .full ? .full : .normal,
            maximumReaders: configuration.store.readers,
            clock: clock,
            writerCacheKiB: Self.writerCacheKiB,
            // A read model at a new version, or one whose rebuild stopped midway, is rebuilt
            // once the daemon serves (finishRebuilds below): minutes at 2,000,000 cases.
            finishesRebuildsOnOpen: false,
            checkpointFrames: try Self.checkpointFrames(),
            conditions: { [logger] condition in Self.log(condition, to: logger) }
        )
        // The head against its anchor, before the read models touch the log: cheap at any size.
        let headCheck: HeadCheck
        do {
            headCheck = try EventStore.checkHead(path: storePath, options: storeOptions)
        } catch {
            throw DaemonStartError(message: error.message, exitCode: 1)
        }
        if let problem = headCheck.problem {
            guard options.acceptTamperedLog else {
                throw DaemonStartError(
                    message:
                        "the event log \(storePath) was tampered with: \(problem). Not starting: restore the latest backup, "
                        + "or, to serve this log as it is, start once with --accept-tampered-log, which records the acceptance in the log",
                    exitCode: 65,
                    messageId: LogMessageID.logTampered
                )
            }
            logger.critical(
                "the event log \(storePath) was tampered with: \(problem); starting anyway (--accept-tampered-log)",
                metadata: [
                    "message.id": .string(LogMessageID.logTampered), "problem": .string(problem),
                    "missing.from": .string(headCheck.missingFrom.map(String.init) ?? ""),
                ]
            )
        }
        let store: EventStore
        let readModels = ReadModels.standard(policy: configuration.alerts.policy)
        let openingReports = try Self.openingReportInterval()
        do {
            // What is caught up here (read models behind the head, not rebuilt) takes seconds;
            // systemd still hears how far it is and that start-up needs longer than
            // TimeoutStartSec, every few seconds while it lasts.
            let opening = OpeningProgress(notifier: notifier, logger: logger, every: openingReports)
            store = try EventStore(path: storePath, options: storeOptions, projections: readModels.all) {
                opening.record($0)
            }
        } catch {
            throw DaemonStartError(message: error.message, exitCode: 1)
        }
        defer { store.close() }
        // Opening may have dropped and reset large read models: what that freed goes back.
        _ = imr_trim_memory()
        if !headCheck.isIntact {
            do {
                let recorded = try AdminLog.recordAcceptance(
                    of: headCheck,
                    in: store,
                    actor: AccessPolicy.actor(uid: getuid()),
                    at: clock()
                )
                logger.notice(
                    "recorded the acceptance of the tampered log at position \(recorded.lastPosition ?? 0) of stream \(AdminLog.streamId); the anchor follows it",
                    metadata: [
                        "message.id": .string(LogMessageID.logTampered),
                        "event.position": .string("\(recorded.lastPosition ?? 0)"),
                    ]
                )
            } catch {
                throw DaemonStartError(
                    message: "cannot record the acceptance of the tampered log: \(error)",
                    exitCode: 1
                )
            }
        }
        logHead(store, "started")

        let serverSettings = configuration.server
        let alerts = AlertsInterface(
            store: store,
            access: access,
            clock: clock,
            maximumFollowers: serverSettings.maximumFollowers,
            followerQueue: serverSettings.followerQueue,
            logger: logger
        )
        warnIfDescriptorsAreShort(serverSettings)
        let notifications = makeNotifications()
        let scheduler = AlertScheduler(store: store, clock: clock, logger: logger) { alert in
            notifications?.deliver(AlertCommandRunner.Delivery(alert))
        }

        // Alerts whose time passed while the daemon was down are raised (late, in due order)
        // before READY=1, so a client that sees the daemon ready also sees them.
        _ = try? notifier.notify(.status("raising alerts that came due while stopped"))
        // A backlog larger than a few seconds' passes (a first start on an imported or seeded
        // store) is raised after READY=1 by the scheduler's loop, so that start-up stays bounded.
        do {
            let started = ContinuousClock.now
            var raised = 0
            var backlog = true
            while backlog && ContinuousClock.now - started < Self.startUpAlertBudget {
                let now = clock()
                let pass = try await store.offload(doing: "raise the alerts due at start-up") {
                    try scheduler.raiseDue(now: now)
                }
                raised += pass.raised.count
                backlog = pass.backlog
            }
            if raised > 0 {
                logger.notice("raised \(raised) alerts that came due while the daemon was stopped")
            }
            if backlog {
                logger.notice(
                    "more alerts came due while the daemon was stopped than it raises in \(Self.startUpAlertBudget) at start-up; the rest are raised, in due order, once it is ready"
                )
            }
        } catch {
            logger.error("alerts: cannot raise the alerts due at start-up: \(error); the scheduler tries again")
        }

        let backups = BackupPolicy(
            directory: configuration.backupDirectory,
            protectedPaths: ["", "-wal", "-shm", "-journal"].map { storePath + $0 }
                + [
                    (stateDirectory as NSString).appendingPathComponent(StateDirectoryLock.fileName),
                    configuration.socketPath,
                ]
        )
        for leftover in backups.removeLeftovers() {
            logger.notice("removed \(leftover) in \(backups.directory), left by a backup that was interrupted")
        }

        let serverStatistics = VarlinkServerStatistics()
        let metrics = configuration.metrics.textfile.map { path in
            MetricsExport(
                path: path,
                interval: .milliseconds(Int64(configuration.metrics.intervalSeconds * 1000)),
                logger: logger
            ) {
                MetricsExport.sample(store: store)
            }
        }
        metrics?.start()
        defer { metrics?.stop() }

        // One cache of case states for every interface: filled by the writer as commands commit.
        let cases = CaseService(
            store: store,
            states: CaseStateCache(capacity: configuration.store.stateCacheCases),
            deadlines: readModels.deadlines
        )
        let server = VarlinkServer(
            info: .init(vendor: "imr", product: "imr-daemon", version: imrVersion, url: "https://github.com/imr/imr"),
            handlers: [
                CasesInterface(service: cases, access: access, clock: clock, logger: logger),
                AdminInterface(
                    store: store,
                    access: access,
                    version: imrVersion,
                    startedAt: startedAt,
                    backups: backups,
                    serverStatistics: serverStatistics,
                    clock: clock,
                    logger: logger
                ),
                DeadlinesInterface(
                    service: cases,
                    access: access,
                    alertPolicy: configuration.alerts.policy,
                    clock: clock
                ),
                alerts,
            ],
            limits: Self.limits(serverSettings),
            errorInterface: "io.imr.Admin",
            isPrivileged: { [access] peer in access.policy.role(of: peer) == .admin },
            statistics: serverStatistics,
            logger: logger
        )

        // The long-running parts, each a Service; SIGTERM and SIGINT shut them down in the
        // reverse of this order: the server first (calls in flight finish), the watchdog last.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let interval = try? SystemdWatchdog.pingInterval() {
            services.append(.init(service: WatchdogService(interval: interval, notifier: notifier, logger: logger)))
        }
        if let notifications { services.append(.init(service: notifications)) }
        services.append(.init(service: LoopService { [self] in await self.finishRebuilds(store, now: clock) }))
        services.append(.init(service: LoopService { await scheduler.run() }))
        if let digestAt = configuration.alerts.digestAt {
            let digests = MorningDigestScheduler(store: store, at: digestAt, clock: clock, logger: logger) { digest in
                notifications?.deliver(MorningDigestScheduler.delivery(digest))
            }
            services.append(.init(service: LoopService { await digests.run() }))
        }
        services.append(
            .init(
                service: StatusService(store: store, notifier: notifier) { [self] in
                    let now = clock()
                    return try? await store.offload(doing: "describe the log for STATUS=") {
                        self.statusLine(store, now: now)
                    }
                }
            )
        )
        // A reload before READY=1 applies the configuration without telling systemd: its
        // RELOADING=1 and READY=1 would announce a daemon ready that is still starting.
        let announced = Announced()
        services.append(.init(service: ReloadService { [self] in reload(tellSystemd: announced.ready) }))
        services.append(
            .init(
                service: VarlinkService(
                    server: server,
                    listener: listener,
                    ready: { [self] in
                        let status = self.statusLine(store, now: clock())  // before READY=1, once
                        _ = try? self.notifier.notify(.ready, .status(status))
                        announced.ready = true
                        self.logger.info(
                            "ready: \(status)",
                            metadata: ["message.id": .string(JournalMessageID.daemonReady)]
                        )
                    },
                    stopping: { [self, alerts] in
                        self.logger.info(
                            "stopping: finishing calls in flight",
                            metadata: ["message.id": .string(JournalMessageID.daemonStopping)]
                        )
                        _ = try? self.notifier.notify(.stopping, .status("stopping: finishing calls in flight"))
                        alerts.stopFollowers()
                        server.shutdown()
                        // Calls in flight finish: writes commit, long reads (an export, a verify) are
                        // interrupted and answer with an error, so the stop takes seconds, not minutes.
                        store.stopReads()
                    },
                    logger: logger
                ),
                // The server ending (after a shutdown, or failing) ends the daemon.
                successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup
            )
        )
        var group = ServiceGroupConfiguration(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        // systemd's TimeoutStopSec is 30 s: what is still running after 20 s is cancelled.
        group.maximumGracefulShutdownDuration = Self.gracefulShutdownBound
        do {
            try await ServiceGroup(configuration: group).run()
        } catch {
            // A service failed, or the stop ran past its bound and was cancelled.
            throw DaemonStartError(
                message: "stopped on an error: \(error)",
                exitCode: 1,
                messageId: JournalMessageID.daemonStopping
            )
        }
        logHead(store, "stopping")
        logger.info("stopped cleanly")
    }

    /// Logs what the event store worked around: a WAL that cannot be checkpointed grows on disk
    /// until it can, which an operator should hear of before the disk fills.
    static func log(_ condition: StoreCondition, to logger: Logger) {
        switch condition {
        case .checkpointFailing(_, let by, let error, let frames):
            logger.warning(
                "\(condition.description)",
                metadata: [
                    "message.id": .string(LogMessageID.walCheckpoint), "checkpointer": .string(by.rawValue),
                    "error": .string(error), "wal.pages": .string(frames.map(String.init) ?? ""),
                ]
            )
        case .checkpointRecovered(_, let by, let failures):
            logger.notice(
                "\(condition.description)",
                metadata: [
                    "message.id": .string(LogMessageID.walCheckpoint), "checkpointer": .string(by.rawValue),
                    "failures": .string("\(failures)"),
                ]
            )
        }
    }

    /// Logs the head anchor, so the journal keeps a trail of where the log stood.
    private func logHead(_ store: EventStore, _ moment: String) {
        guard let head = try? store.head() else {
            logger.error(
                "\(moment): the event log has no head anchor",
                metadata: ["message.id": .string(LogMessageID.logHead)]
            )
            return
        }
        logger.info(
            "\(moment): event log head at position \(head.position), hash \(head.hashHex)",
            metadata: [
                "message.id": .string(LogMessageID.logHead), "log.head.position": .string("\(head.position)"),
                "log.head.hash": .string(head.hashHex),
            ]
        )
    }

    /// The Varlink server's limits from `[server]`.
    static func limits(_ settings: ServerSettings) -> VarlinkServerLimits {
        func duration(_ seconds: Double) -> Duration { .nanoseconds(Int64((seconds * 1e9).rounded())) }
        return VarlinkServerLimits(
            maximumMessageSize: settings.maximumMessageBytes,
            maximumNestingDepth: settings.maximumNestingDepth,
            maximumConnections: settings.maximumConnections,
            maximumConnectionsPerUser: settings.maximumConnectionsPerUser,
            privilegedReserve: settings.adminReserve,
            idleTimeout: duration(settings.idleTimeoutSeconds),
            partialMessageTimeout: duration(settings.partialMessageTimeoutSeconds),
            maximumBufferedInput: settings.maximumBufferedInputBytes,
            maximumQueuedCalls: settings.maximumQueuedCalls,
            maximumUnsentOutput: settings.maximumUnsentOutputBytes,
            unsentOutputTimeout: duration(settings.unsentOutputTimeoutSeconds)
        )
    }

    /// A file-descriptor limit below what `[server]` allows would make accept() fail under load
    /// (the daemon then refuses nobody politely and its own files fail to open): say so at start.
    private func warnIfDescriptorsAreShort(_ settings: ServerSettings) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let needed = settings.descriptorsNeeded
        if limit.rlim_cur != rlim_t.max && Int(limit.rlim_cur) < needed && limit.rlim_max > limit.rlim_cur {
            // Started by hand with a low soft limit: take what the hard limit allows (under the
            // unit, LimitNOFILE= has set both and the system-call filter refuses this softly).
            var raised = limit
            raised.rlim_cur = limit.rlim_max == rlim_t.max ? rlim_t(needed) : min(limit.rlim_max, rlim_t(needed))
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        if limit.rlim_cur != rlim_t.max && Int(limit.rlim_cur) < needed {
            logger.warning(
                "the file-descriptor limit is \(limit.rlim_cur), below the \(needed) that server.max_connections (\(settings.maximumConnections)) and server.admin_reserve (\(settings.adminReserve)) need; raise LimitNOFILE= in imr-daemon.service (or ulimit -n) or lower server.max_connections"
            )
        }
    }

    /// The notification command's service, nil when no command is configured.
    private func makeNotifications() -> NotificationService? {
        let settings = configuration.alerts
        guard !settings.command.isEmpty else { return nil }
        let runner = AlertCommandRunner(
            settings: .init(
                command: settings.command,
                timeout: .milliseconds(Int64(settings.commandTimeoutSeconds * 1000)),
                maximumAttempts: settings.commandAttempts,
                initialDelay: .milliseconds(Int64(settings.commandRetrySeconds * 1000))
            ),
            logger: logger
        )
        return NotificationService(runner: runner, logger: logger)
    }

    /// How long a graceful stop may take before what still runs is cancelled (systemd's
    /// TimeoutStopSec is 30 s).
    static let gracefulShutdownBound: Duration = .seconds(20)

    /// How long start-up spends raising the alerts that came due while the daemon was stopped
    /// before it reports READY=1 (issue 13: ready within 2 s after a clean stop at any size).
    static let startUpAlertBudget: Duration = .milliseconds(1500)

    /// The writer connection's page cache: the pages a command touches (the log's tail, the
    /// read models' rows and about twenty indexes) stay in memory instead of being read back
    /// from the file (SQLite's 2 MiB default made the writer read them each time). 8 MiB keeps
    /// the daemon under 150 MB serving 2,000,000 cases (16 MiB came to 143 MiB).
    static let writerCacheKiB = 8 * 1024

    /// The wall clock. The environment variable `IMR_TEST_CLOCK_OFFSET` (seconds, may be
    /// negative or fractional) shifts it for the whole daemon (event times, deadlines, alerts),
    /// so end-to-end tests can run days of alerts in seconds; it is read only when set, and
    /// a daemon in production never has it. (Debian's faketime cannot stand in: under a
    /// clock shifted backwards, Swift's `Task.sleep` on Linux never returns.)
    static func clock() throws -> @Sendable () -> Date {
        let offset = try testVariable("IMR_TEST_CLOCK_OFFSET", expecting: "a number of seconds") {
            TimeInterval($0).flatMap { $0.isFinite ? $0 : nil }
        }
        guard let offset else { return { Date() } }
        return { Date().addingTimeInterval(offset) }
    }

    /// How often a long catch-up at start-up is reported (5 s). `IMR_TEST_OPENING_REPORT_MS`
    /// shortens it for tests, whose stores take milliseconds to rebuild; production never sets it.
    static func openingReportInterval() throws -> Duration {
        let ms = try testVariable("IMR_TEST_OPENING_REPORT_MS", expecting: "a number of milliseconds") {
            Int64($0).flatMap { $0 >= 0 ? $0 : nil }
        }
        return ms.map { .milliseconds($0) } ?? .seconds(5)
    }

    /// WAL frames from which the store's checkpoint thread checkpoints (8,000). The environment
    /// variable `IMR_TEST_CHECKPOINT_FRAMES` lowers it for tests, so that a few commands reach
    /// it; production never sets it.
    static func checkpointFrames() throws -> Int {
        try testVariable("IMR_TEST_CHECKPOINT_FRAMES", expecting: "a number of frames of 1 or more") {
            Int($0).flatMap { $0 >= 1 ? $0 : nil }
        } ?? EventStore.Options().checkpointFrames
    }

    /// A test-only environment variable's value: nil when it is unset or empty; one that does
    /// not parse stops the daemon (exit 78), naming the variable and what it takes.
    private static func testVariable<T>(
        _ name: String,
        expecting what: String,
        _ parse: (String) -> T?
    ) throws -> T? {
        guard let text = ProcessInfo.processInfo.environment[name], !text.isEmpty else { return nil }
        guard let value = parse(text) else {
            throw DaemonStartError(
                message: "\(name) is '\(text)', not \(what); unset it (it exists for tests only)",
                exitCode: 78
            )
        }
        return value
    }

    /// SIGHUP: re-read the configuration and apply what can change live.
    private func reload(tellSystemd: Bool) {
        if tellSystemd { _ = try? notifier.notify(.reloading) }
        do {
            let fresh = try options.resolveConfiguration()
            access.replace(with: AccessPolicy(fresh.access))
            let restart = fresh.keysNeedingRestart(comparedTo: configuration)
            if !restart.isEmpty {
                logger.warning("configuration reloaded; \(restart.joined(separator: ", ")) change only after a restart")
            } else {
                logger.notice(
                    "configuration reloaded",
                    metadata: ["message.id": .string(JournalMessageID.configurationReloaded)]
                )
            }
        } catch {
            logger.error(
                "configuration not reloaded, the running one stays: \(error.description)",
                metadata: ["message.id": .string(JournalMessageID.configurationInvalid)]
            )
        }
        if tellSystemd { _ = try? notifier.notify(.ready) }
    }

    private func statusLine(_ store: EventStore, now: Date) -> String {
        let rebuilding = store.rebuildsInProgress().keys.sorted()
        // A read model being rebuilt has only some of its rows: its figures would mislead.
        guard rebuilding.isEmpty else {
            return
                "serving; rebuilding \(rebuilding.joined(separator: ", ")) from the log (their lists answer once it ends)"
        }
        let open = (try? store.read { try CaseListProjection.openCount(in: $0) }) ?? 0
        let next = (try? DeadlineProjection.nextDue(in: store, after: now)) ?? nil
        // Counted up to 10,000 (this line is refreshed after commits, at most once a second).
        let overdue = (try? DeadlineProjection.overdueCount(in: store, at: now, upTo: 10_001)) ?? 0
        return "serving \(open.formatted()) open cases"
            + (next.map { "; next deadline \(Pacific.date(of: $0).iso)" } ?? "")
            + (overdue > 10_000 ? "; over 10,000 overdue" : overdue > 0 ? "; \(overdue.formatted()) overdue" : "")
    }

    /// Finishes the rebuilds opening the log left (a read model at a new version after an
    /// upgrade, or a rebuild a stop or a crash interrupted) while the daemon serves: commands,
    /// a case's detail, status and the other read models answer meanwhile, and the lists of a
    /// read model being rebuilt answer `ReadModelRebuilding`. The journal hears how far it is
    /// every 10 seconds, STATUS= too; a stop interrupts it between two batches and the next
    /// start goes on from there.
    private func finishRebuilds(_ store: EventStore, now clock: @escaping @Sendable () -> Date) async {
        let names = store.rebuildsInProgress().keys.sorted().joined(separator: ", ")
        let tracker = RebuildTracker()
        let started = ContinuousClock.now
        let lastReport = Mutex(started)
        if !names.isEmpty {
            logger.notice(
                "rebuilding \(names) from the log while serving (a new version, or a rebuild that was interrupted); their lists answer once it ends"
            )
        }
        do throws(EventStoreError) {
            try await store.finishRebuilds { [logger, notifier] step in
                tracker.record(step)
                guard !names.isEmpty else { return }
                let due = lastReport.withLock { last in
                    guard ContinuousClock.now - last >= .seconds(10) else { return false }
                    last = ContinuousClock.now
                    return true
                }
                guard due else { return }
                let words = tracker.snapshot.words(since: started)
                logger.notice("rebuilding \(names): \(words)")
                _ = try? notifier.notify(.status("serving; rebuilding \(names) from the log: \(words)"))
            }
        } catch {
            if error.kind == .interrupted {
                guard !names.isEmpty else { return }
                logger.notice(
                    "the rebuild of \(names) stopped with the daemon; it goes on from where it stopped at the next start"
                )
            } else {
                logger.error(
                    "cannot finish rebuilding \(names.isEmpty ? "the read models" : names): \(error); imr-ctl rebuild starts it again"
                )
            }
            return
        }
        guard !names.isEmpty else { return }
        // The rebuild's threads freed hundreds of MB their malloc arenas would keep (2,000,000
        // cases: 430 MB resident afterwards, 135 MB once given back).
        _ = imr_trim_memory()
        tracker.finish()
        logger.notice("rebuilt \(names) from the log: \(tracker.snapshot.words(since: started))")
        let line = try? await store.offload(doing: "describe the log for STATUS=") {
            self.statusLine(store, now: clock())
        }
        if let line { _ = try? notifier.notify(.status(line)) }
    }
}

extension AccessPolicy {
    init(_ groups: AccessGroups) {
        self.init(
            readerGroups: Set(groups.readers),
            coordinatorGroups: Set(groups.coordinators),
            adminGroups: Set(groups.admins)
        )
    }
}

/// Reports a catch-up at start-up (a read model rebuilt before READY=1) to systemd and the
/// journal: STATUS= with how far it is, and EXTEND_TIMEOUT_USEC= so that a long one is not
/// taken for a hung start. Called on the opening thread only.
final class OpeningProgress: @unchecked Sendable {
    private let notifier: SystemdNotifier
    private let logger: Logger
    private var events: Int64 = 0
    private var lastReport = ContinuousClock.now
    private let started = ContinuousClock.now
    private let interval: Duration

    init(notifier: SystemdNotifier, logger: Logger, every interval: Duration) {
        self.notifier = notifier
        self.logger = logger
        self.interval = interval
    }

    func record(_ step: CatchUpProgress) {
        events += Int64(step.applied)
        let now = ContinuousClock.now
        guard now - lastReport >= interval else { return }
        lastReport = now
        let what =
            step.indexCreated.map { "created index \($0) of \(step.projections.joined(separator: ", "))" }
            ?? "\(step.rebuilding ? "rebuilding" : "catching up") \(step.projections.joined(separator: ", ")): \(events) of about \(step.target) events"
        let line = "opening the event log: \(what), \((now - started).components.seconds) s so far"
        _ = try? notifier.notify(.extendTimeout(.seconds(60)), .status(line))
        logger.notice("\(line)")
    }
}
