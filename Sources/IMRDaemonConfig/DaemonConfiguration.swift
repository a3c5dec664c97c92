import Logging
import Workflow

/// Everything `imr-daemon` reads from `/etc/imr/imr-daemon.toml` and its command line.
///
/// Precedence, highest first: command-line options (``DaemonOverrides``), the file, the
/// built-in defaults (``defaults``). Every key of the file is listed in
/// `deploy/imr-daemon.toml.example`.
package struct DaemonConfiguration: Sendable, Hashable {
    /// Where the daemon looks when `--config` is not given; a missing file there means defaults.
    package static let defaultPath = "/etc/imr/imr-daemon.toml"

    /// `state_directory`: holds the event log and the lock file. systemd creates it
    /// (`StateDirectory=imr`).
    package var stateDirectory: String
    /// `socket`: the Unix socket for Varlink when systemd does not pass one.
    package var socketPath: String
    /// `log_level`: the lowest level logged.
    package var logLevel: Logger.Level
    /// `[access]`: which Unix groups may do what.
    package var access: AccessGroups
    /// `[store]`: event-log settings.
    package var store: StoreSettings
    /// `[alerts]`: deadline alert lead times, quiet hours and the notification command.
    package var alerts: AlertSettings
    /// `[server]`: what clients may cost the daemon (connections, timeouts, buffers, followers).
    package var server: ServerSettings
    /// `[metrics]`: the Prometheus text file for node_exporter (off by default).
    package var metrics: MetricsSettings

    /// The built-in defaults, matching `deploy/imr-daemon.toml.example` and the systemd units.
    package static let defaults = DaemonConfiguration()

    /// A configuration; every argument left out takes its built-in default.
    package init(
        stateDirectory: String = "/var/lib/imr",
        socketPath: String = "/run/imr/imr.sock",
        logLevel: Logger.Level = .info,
        access: AccessGroups = AccessGroups(),
        store: StoreSettings = StoreSettings(),
        alerts: AlertSettings = AlertSettings(),
        server: ServerSettings = ServerSettings(),
        metrics: MetricsSettings = MetricsSettings()
    ) {
        self.stateDirectory = stateDirectory
        self.socketPath = socketPath
        self.logLevel = logLevel
        self.access = access
        self.store = store
        self.alerts = alerts
        self.server = server
        self.metrics = metrics
    }

    /// This configuration with the command line's choices put over it.
    package func applying(_ overrides: DaemonOverrides) -> DaemonConfiguration {
        var result = self
        if let stateDirectory = overrides.stateDirectory { result.stateDirectory = stateDirectory }
        if let socketPath = overrides.socketPath { result.socketPath = socketPath }
        if let logLevel = overrides.logLevel { result.logLevel = logLevel }
        return result
    }
}

/// The Unix groups whose members may use the daemon, by role.
///
/// Two gates: the kernel lets only members of the socket's group (`SocketGroup=imr`,
/// `SocketMode=0660` in imr-daemon.socket) connect at all; the daemon then takes the role
/// from the peer's credentials: root and members of ``admins`` are admins, members of
/// ``coordinators`` coordinators, members of ``readers`` readers; anyone else is refused.
/// Because a socket unit has one group, the defaults make that group (`imr`) the readers and
/// add a group per higher role, so a coordinator belongs to `imr` and `imr-coordinators`.
package struct AccessGroups: Sendable, Hashable {
    /// `access.readers`: may read cases, deadlines and the log.
    package var readers: [String]
    /// `access.coordinators`: may also record events on cases.
    package var coordinators: [String]
    /// `access.admins`: may also back up and verify the log. Root always is one.
    package var admins: [String]

    /// The groups `deploy/systemd/sysusers.d/imr.conf` creates.
    package init(
        readers: [String] = ["imr"],
        coordinators: [String] = ["imr-coordinators"],
        admins: [String] = ["imr-admins"]
    ) {
        self.readers = readers
        self.coordinators = coordinators
        self.admins = admins
    }
}

/// Settings of the event log.
package struct StoreSettings: Sendable, Hashable {
    /// SQLite's `PRAGMA synchronous` for the event log.
    package enum Synchronous: String, Sendable, Hashable, CaseIterable {
        /// Every commit is on disk before it is acknowledged (about 3,500-4,000 commits/s here).
        case full
        /// In WAL mode a power loss may lose the last commits, never corrupt the log (about 3 times faster).
        case normal
    }

    /// `store.synchronous`.
    package var synchronous: Synchronous
    /// `store.backup_directory`: the only directory `io.imr.Admin.Backup` writes into (by file
    /// name); nil means `backups` in the state directory.
    package var backupDirectory: String?
    /// `store.state_cache_cases`: how many cases' current states the daemon keeps in memory,
    /// so a command on a case used lately reads and folds none of its events (0: none).
    package var stateCacheCases: Int
    /// `store.readers`: read connections, each on a thread of its own.
    package var readers: Int

    /// The default state cache: 8,000 cases, 37-56 MiB (4.6-7 KB a state).
    package static let defaultStateCacheCases = 8_000

    /// Event-log settings; `full` unless the operator trades durability for speed.
    package init(
        synchronous: Synchronous = .full,
        backupDirectory: String? = nil,
        stateCacheCases: Int = StoreSettings.defaultStateCacheCases,
        readers: Int = 4
    ) {
        self.synchronous = synchronous
        self.backupDirectory = backupDirectory
        self.stateCacheCases = stateCacheCases
        self.readers = readers
    }
}

extension DaemonConfiguration {
    /// Where backups are written: `store.backup_directory`, else `<state_directory>/backups`.
    package var backupDirectory: String {
        store.backupDirectory
            ?? (stateDirectory.hasSuffix("/") ? stateDirectory + "backups" : stateDirectory + "/backups")
    }
}

/// The `[alerts]` table: when deadline alerts are raised and how operators are told.
package struct AlertSettings: Sendable, Hashable {
    /// Lead times (`business_days_before`, `due_day_at`, `hours_before`, `overdue`, and per
    /// rule under `[alerts.rules."<rule id>"]`), `quiet_hours` and `business_day_time`.
    package var policy: AlertPolicy
    /// `alerts.command`: a program and its arguments, run for each raised alert; empty for none.
    package var command: [String]
    /// `alerts.command_timeout_seconds`: a run taking longer is killed and counts as failed.
    package var commandTimeoutSeconds: Double
    /// `alerts.command_attempts`: how many times a failing command is tried per alert.
    package var commandAttempts: Int
    /// `alerts.command_retry_seconds`: the delay before the first retry; it doubles each time.
    package var commandRetrySeconds: Double
    /// `alerts.digest_at`: the Pacific time each coordinator's morning digest is sent (journal,
    /// and the command when set); nil for none (the default).
    package var digestAt: TimeOfDay? = nil

    /// The defaults: ``AlertPolicy/standard``, no command, 30 s timeout, 8 attempts, 5 s first retry.
    package init(
        policy: AlertPolicy = .standard,
        command: [String] = [],
        commandTimeoutSeconds: Double = 30,
        commandAttempts: Int = 8,
        commandRetrySeconds: Double = 5
    ) {
        self.policy = policy
        self.command = command
        self.commandTimeoutSeconds = commandTimeoutSeconds
        self.commandAttempts = commandAttempts
        self.commandRetrySeconds = commandRetrySeconds
    }
}

/// The `[server]` table: limits on what clients may cost the daemon. Each bounds one way a
/// client, by mistake or malice, could otherwise stall the daemon or exhaust its memory or file
/// descriptors. `LimitNOFILE=` in imr-daemon.service leaves room for `max_connections` plus
/// `admin_reserve` and the daemon's own descriptors.
package struct ServerSettings: Sendable, Hashable {
    /// `server.max_message_bytes`: the largest message (one call) accepted.
    package var maximumMessageBytes: Int
    /// `server.max_nesting_depth`: arrays and objects nested deeper in a message are refused.
    package var maximumNestingDepth: Int
    /// `server.max_connections`: connections at once; more are refused with TooManyConnections.
    package var maximumConnections: Int
    /// `server.max_connections_per_user`: connections at once from one user (peer uid).
    package var maximumConnectionsPerUser: Int
    /// `server.admin_reserve`: connections root and admins may open beyond both limits.
    package var adminReserve: Int
    /// `server.idle_timeout_seconds`: a connection with no call in progress and no message for this long is closed.
    package var idleTimeoutSeconds: Double
    /// `server.partial_message_timeout_seconds`: a message begun and not finished within this is refused.
    package var partialMessageTimeoutSeconds: Double
    /// `server.max_buffered_input_bytes`: unfinished input held for all clients together.
    package var maximumBufferedInputBytes: Int
    /// `server.max_queued_calls`: calls of one connection received and not yet answered.
    package var maximumQueuedCalls: Int
    /// `server.max_unsent_output_bytes`: replies not yet taken by a client before its calls wait.
    package var maximumUnsentOutputBytes: Int
    /// `server.unsent_output_timeout_seconds`: a client that takes none of its replies for this long is disconnected.
    package var unsentOutputTimeoutSeconds: Double
    /// `server.max_followers`: `io.imr.Alerts.Follow` calls at once.
    package var maximumFollowers: Int
    /// `server.follower_queue`: alerts a follower may leave unread before its call ends with FollowerTooSlow.
    package var followerQueue: Int

    package init(
        maximumMessageBytes: Int = 1_048_576,
        maximumNestingDepth: Int = 64,
        maximumConnections: Int = 1024,
        maximumConnectionsPerUser: Int = 128,
        adminReserve: Int = 16,
        idleTimeoutSeconds: Double = 600,
        partialMessageTimeoutSeconds: Double = 30,
        maximumBufferedInputBytes: Int = 67_108_864,
        maximumQueuedCalls: Int = 16,
        maximumUnsentOutputBytes: Int = 1_048_576,
        unsentOutputTimeoutSeconds: Double = 60,
        maximumFollowers: Int = 128,
        followerQueue: Int = 1024
    ) {
        self.maximumMessageBytes = maximumMessageBytes
        self.maximumNestingDepth = maximumNestingDepth
        self.maximumConnections = maximumConnections
        self.maximumConnectionsPerUser = maximumConnectionsPerUser
        self.adminReserve = adminReserve
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.partialMessageTimeoutSeconds = partialMessageTimeoutSeconds
        self.maximumBufferedInputBytes = maximumBufferedInputBytes
        self.maximumQueuedCalls = maximumQueuedCalls
        self.maximumUnsentOutputBytes = maximumUnsentOutputBytes
        self.unsentOutputTimeoutSeconds = unsentOutputTimeoutSeconds
        self.maximumFollowers = maximumFollowers
        self.followerQueue = followerQueue
    }

    /// File descriptors the daemon needs beside its clients' connections (the event log and its
    /// WAL, readers, the journal, epoll and event descriptors, a notification command's pipes).
    package static let ownDescriptors = 256

    /// The descriptors these settings need at most: every connection, the reserve, the daemon's own.
    package var descriptorsNeeded: Int { maximumConnections + adminReserve + Self.ownDescriptors }
}

/// The command line's choices, which win over the file. `nil` means "not given".
package struct DaemonOverrides: Sendable, Hashable {
    /// `--state-dir`, made absolute.
    package var stateDirectory: String?
    /// `--socket`, made absolute.
    package var socketPath: String?
    /// `--log-level`.
    package var logLevel: Logger.Level?

    /// Overrides; `nil` leaves the file's or the default value.
    package init(stateDirectory: String? = nil, socketPath: String? = nil, logLevel: Logger.Level? = nil) {
        self.stateDirectory = stateDirectory
        self.socketPath = socketPath
        self.logLevel = logLevel
    }
}

extension DaemonConfiguration {
    /// The keys whose values differ between `running` and this (re-read) configuration but
    /// take effect only after a restart, for the SIGHUP handler to log: the open event log,
    /// its lock and the bound socket are not swapped under live clients. `log_level` and
    /// `[access]` apply at once.
    package func keysNeedingRestart(comparedTo running: DaemonConfiguration) -> [String] {
        var keys: [String] = []
        if stateDirectory != running.stateDirectory { keys.append("state_directory") }
        if socketPath != running.socketPath { keys.append("socket") }
        if store.synchronous != running.store.synchronous { keys.append("store.synchronous") }
        if store.backupDirectory != running.store.backupDirectory { keys.append("store.backup_directory") }
        if store.stateCacheCases != running.store.stateCacheCases { keys.append("store.state_cache_cases") }
        if store.readers != running.store.readers { keys.append("store.readers") }
        if alerts != running.alerts { keys.append("[alerts]") }
        if server != running.server { keys.append("[server]") }
        if metrics != running.metrics { keys.append("[metrics]") }
        return keys
    }
}

/// The `[metrics]` table: the operator's figures in Prometheus text format, written to a file
/// that node_exporter's textfile collector reads (the daemon has no network by design).
package struct MetricsSettings: Sendable, Hashable {
    /// `metrics.textfile`: the file to write (an absolute path ending in `.prom`); nil: none.
    package var textfile: String?
    /// `metrics.interval_seconds`: how often it is rewritten.
    package var intervalSeconds: Double

    package init(textfile: String? = nil, intervalSeconds: Double = 15) {
        self.textfile = textfile
        self.intervalSeconds = intervalSeconds
    }
}
