import ArgumentParser
import Foundation
import Logging
import Testing
import Workflow
@testable import IMRDaemonConfig

@Suite struct DaemonConfigurationTests {
    let path = "/etc/imr/imr-daemon.toml"

    /// The configuration error for `text`, or a recorded issue when it parses.
    func problems(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> ConfigurationError? {
        do {
            let configuration = try DaemonConfiguration.parse(text: text, path: path)
            Issue.record("parsed although invalid: \(configuration)", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    @Test func emptyFile_givesTheDefaults() throws {
        let configuration = try DaemonConfiguration.parse(text: "# nothing set\n", path: path)
        #expect(configuration == .defaults)
        #expect(configuration.stateDirectory == "/var/lib/imr")
        #expect(configuration.socketPath == "/run/imr/imr.sock")
        #expect(configuration.logLevel == .info)
        #expect(
            configuration.access
                == AccessGroups(readers: ["imr"], coordinators: ["imr-coordinators"], admins: ["imr-admins"])
        )
        #expect(configuration.store.synchronous == .full)
    }

    @Test func fullFile_setsEveryKey() throws {
        let text = """
            state_directory = "/srv/imr/state"
            socket = "/run/imr-test/imr.sock"
            log_level = "debug"

            [access]
            readers = ["imr-readers", "auditors"]
            coordinators = "claims"
            admins = ["imr-admins"]

            [store]
            synchronous = "normal"
            backup_directory = "/srv/imr/backups"

            [alerts]
            """
        let configuration = try DaemonConfiguration.parse(text: text, path: path)
        #expect(
            configuration
                == DaemonConfiguration(
                    stateDirectory: "/srv/imr/state",
                    socketPath: "/run/imr-test/imr.sock",
                    logLevel: .debug,
                    access: AccessGroups(
                        readers: ["imr-readers", "auditors"],
                        coordinators: ["claims"],
                        admins: ["imr-admins"]
                    ),
                    store: StoreSettings(synchronous: .normal, backupDirectory: "/srv/imr/backups")
                )
        )
        #expect(configuration.backupDirectory == "/srv/imr/backups")
        #expect(DaemonConfiguration(stateDirectory: "/srv/imr/state").backupDirectory == "/srv/imr/state/backups")
    }

    @Test func backupDirectory_mustBeAbsolute() throws {
        let error = try #require(problems("[store]\nbackup_directory = \"backups\"\n"))
        #expect(error.problems.map(\.key) == ["store.backup_directory"])
        #expect(error.description.contains("not an absolute path"))
    }

    @Test func theShippedExample_parsesToTheDefaults() throws {
        // deploy/imr-daemon.toml.example documents every key with its default, commented out;
        // uncommenting every setting must still give the defaults.
        let example = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("deploy/imr-daemon.toml.example")
        let text = try String(contentsOf: example, encoding: .utf8)
        #expect(try DaemonConfiguration.parse(text: text, path: example.path) == .defaults)
        let uncommented = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("#[") || line.hasPrefix("#") && line.contains(" = ") && !line.hasPrefix("# ")
                ? String(line.dropFirst()) : String(line)
        }.joined(separator: "\n")
        #expect(uncommented != text, "the example should hold commented-out settings")
        #expect(try DaemonConfiguration.parse(text: uncommented, path: example.path) == .defaults)
    }

    @Test func unknownKey_namesFileKeyAndKnownKeys() throws {
        let error = try #require(problems("[acess]\nreaders = \"imr-readers\"\n"))
        #expect(error.problems.map(\.key) == ["acess.readers"])
        #expect(error.description.hasPrefix("/etc/imr/imr-daemon.toml: key 'acess.readers' is unknown"))
        #expect(error.description.contains("did you mean 'access.readers'?"))
        #expect(
            error.description.contains(
                "known keys: access.admins, access.coordinators, access.readers, alerts.business_day_time, alerts.business_days_before, alerts.command, alerts.command_attempts, alerts.command_retry_seconds, alerts.command_timeout_seconds, alerts.digest_at, alerts.due_day_at, alerts.hours_before, alerts.overdue, alerts.quiet_hours, log_level, metrics.interval_seconds, metrics.textfile, server.admin_reserve, server.follower_queue, server.idle_timeout_seconds, server.max_buffered_input_bytes, server.max_connections, server.max_connections_per_user, server.max_followers, server.max_message_bytes, server.max_nesting_depth, server.max_queued_calls, server.max_unsent_output_bytes, server.partial_message_timeout_seconds, server.unsent_output_timeout_seconds, socket, state_directory, store.backup_directory, store.readers, store.state_cache_cases, store.synchronous"
            )
        )

        let far = try #require(problems("colour = \"blue\"\n"))
        #expect(
            far.description
                == "/etc/imr/imr-daemon.toml: key 'colour' is unknown (known keys: access.admins, access.coordinators, access.readers, alerts.business_day_time, alerts.business_days_before, alerts.command, alerts.command_attempts, alerts.command_retry_seconds, alerts.command_timeout_seconds, alerts.digest_at, alerts.due_day_at, alerts.hours_before, alerts.overdue, alerts.quiet_hours, log_level, metrics.interval_seconds, metrics.textfile, server.admin_reserve, server.follower_queue, server.idle_timeout_seconds, server.max_buffered_input_bytes, server.max_connections, server.max_connections_per_user, server.max_followers, server.max_message_bytes, server.max_nesting_depth, server.max_queued_calls, server.max_unsent_output_bytes, server.partial_message_timeout_seconds, server.unsent_output_timeout_seconds, socket, state_directory, store.backup_directory, store.readers, store.state_cache_cases, store.synchronous)."
        )
    }

    @Test func alertsTable_setsLeadTimesQuietHoursCommandAndPerRuleOverrides() throws {
        let configuration = try DaemonConfiguration.parse(
            text: """
                [alerts.rules."ur.decision.expedited"]
                hours_before = [48]
                overdue = false
                [alerts.rules."imr.application"]
                enabled = false

                [alerts]
                business_days_before = [3]
                due_day_at = ""
                hours_before = [12, 2.5]
                quiet_hours = "21:30-06:00"
                business_day_time = "09:15"
                command = ["/usr/local/bin/page", "--urgent"]
                command_timeout_seconds = 2.5
                command_attempts = 3
                command_retry_seconds = 1
                """,
            path: path
        )
        let alerts = configuration.alerts
        #expect(
            alerts.policy.leadTimes == AlertLeadTimes(businessDaysBefore: [3], dueDayAt: nil, hoursBefore: [12, 2.5])
        )
        #expect(alerts.policy.quietHours == QuietHours(start: TimeOfDay("21:30")!, end: TimeOfDay("06:00")!))
        #expect(alerts.policy.businessDayAlertTime == TimeOfDay("09:15"))
        // A rule's table starts from the global values, wherever it stands in the file.
        #expect(
            alerts.policy.perRule[.urDecisionExpedited]
                == AlertLeadTimes(businessDaysBefore: [3], dueDayAt: nil, hoursBefore: [48], overdue: false)
        )
        #expect(alerts.policy.perRule[.imrApplication]?.enabled == false)
        #expect(alerts.command == ["/usr/local/bin/page", "--urgent"])
        #expect(alerts.commandTimeoutSeconds == 2.5)
        #expect(alerts.commandAttempts == 3)
        #expect(alerts.commandRetrySeconds == 1)
        #expect(configuration.keysNeedingRestart(comparedTo: .defaults) == ["[alerts]"])
        #expect(
            try DaemonConfiguration.parse(text: "[alerts]\nquiet_hours = \"\"\n", path: path).alerts.policy.quietHours
                == nil
        )
    }

    @Test func badAlertSettings_nameTheKeyAndTheFix() throws {
        let error = try #require(
            problems(
                """
                [alerts]
                hook = "/usr/local/bin/page"
                business_days_before = [5, 2, 1]
                quiet_hours = "late"
                due_day_at = "8am"
                command = "page"
                [alerts.rules."ur.decision.fast"]
                hours_before = [1]
                [alerts.rules."imr.records"]
                minutes_before = [5]
                """
            )
        )
        let lines = error.description.split(separator: "\n").map(String.init)
        #expect(
            lines.contains(
                "/etc/imr/imr-daemon.toml: key 'alerts.business_days_before' has 3 values; give at most two (notice, reminder)."
            )
        )
        #expect(lines.contains { $0.contains("key 'alerts.hook' is unknown") })
        #expect(
            lines.contains {
                $0.contains(
                    "key 'alerts.quiet_hours' has the value 'late', which is not a span of Pacific time; write \"20:00-07:00\""
                )
            }
        )
        #expect(
            lines.contains { $0.contains("key 'alerts.due_day_at' has the value '8am', which is not a time of day") }
        )
        #expect(
            lines.contains(
                "/etc/imr/imr-daemon.toml: key 'alerts.command' must be a list of strings: the program, then its arguments ([] for none), not a string."
            )
        )
        #expect(
            lines.contains {
                $0.contains("key 'alerts.rules.\"ur.decision.fast\"' names no rule; rule ids are rfa.deemed-receipt,")
            }
        )
        #expect(
            lines.contains {
                $0.contains(
                    "key 'alerts.rules.\"imr.records\".minutes_before' is unknown (a rule's table takes business_days_before, due_day_at, enabled, hours_before, overdue)"
                )
            }
        )
        #expect(lines.count == 7)
    }

    @Test func badValueTypes_nameKeyExpectedAndActualType() throws {
        let error = try #require(
            problems(
                """
                state_directory = 42
                log_level = true
                store = "full"

                [access]
                readers = ["imr-readers", 7]
                admins = { name = "x" }
                """
            )
        )
        #expect(
            error.problems.map(\.key) == ["access.admins", "access.readers", "log_level", "state_directory", "store"]
        )
        let lines = error.description.split(separator: "\n").map(String.init)
        #expect(
            lines == [
                "/etc/imr/imr-daemon.toml: key 'access.admins' must be a group name or a list of group names, not a table.",
                "/etc/imr/imr-daemon.toml: key 'access.readers' must be a group name or a list of group names, but the list holds an integer.",
                "/etc/imr/imr-daemon.toml: key 'log_level' must be a string, one of trace, debug, info, notice, warning, error, critical, not a bool.",
                "/etc/imr/imr-daemon.toml: key 'state_directory' must be a string (an absolute path), not an integer.",
                "/etc/imr/imr-daemon.toml: key 'store' must be a table ([store]), not a string.",
            ]
        )
    }

    @Test func badValues_nameKeyValueAndWhatIsAllowed() throws {
        let error = try #require(
            problems(
                """
                state_directory = "var/lib/imr"
                socket = "/run/\(String(repeating: "x", count: 120)).sock"
                log_level = "verbose"
                [access]
                coordinators = "claims team"
                """
            )
        )
        let lines = error.description.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(
            lines[0]
                == "/etc/imr/imr-daemon.toml: key 'access.coordinators' has the group name 'claims team', which is not a valid Unix group name (1 to 32 characters, no spaces, ':', '/' or ',')."
        )
        #expect(
            lines[1]
                == "/etc/imr/imr-daemon.toml: key 'log_level' has the value 'verbose', which is not a log level; use one of trace, debug, info, notice, warning, error, critical."
        )
        #expect(
            lines[2]
                == "/etc/imr/imr-daemon.toml: key 'socket' is 130 bytes long; a Unix socket path may have at most 107."
        )
        #expect(
            lines[3]
                == "/etc/imr/imr-daemon.toml: key 'state_directory' has the value 'var/lib/imr', which is not an absolute path; the state directory must start with '/'."
        )
    }

    @Test func serverTable_setsEveryLimit_andRefusesBadOnes() throws {
        let configuration = try DaemonConfiguration.parse(
            text: """
                [server]
                max_message_bytes = 65536
                max_nesting_depth = 32
                max_connections = 100
                max_connections_per_user = 10
                admin_reserve = 2
                idle_timeout_seconds = 0.5
                partial_message_timeout_seconds = 2
                max_buffered_input_bytes = 1048576
                max_queued_calls = 4
                max_unsent_output_bytes = 8192
                unsent_output_timeout_seconds = 3
                max_followers = 5
                follower_queue = 7
                """,
            path: path
        )
        #expect(
            configuration.server
                == ServerSettings(
                    maximumMessageBytes: 65536,
                    maximumNestingDepth: 32,
                    maximumConnections: 100,
                    maximumConnectionsPerUser: 10,
                    adminReserve: 2,
                    idleTimeoutSeconds: 0.5,
                    partialMessageTimeoutSeconds: 2,
                    maximumBufferedInputBytes: 1_048_576,
                    maximumQueuedCalls: 4,
                    maximumUnsentOutputBytes: 8192,
                    unsentOutputTimeoutSeconds: 3,
                    maximumFollowers: 5,
                    followerQueue: 7
                )
        )
        #expect(configuration.keysNeedingRestart(comparedTo: .defaults) == ["[server]"])

        let error = try #require(
            problems(
                """
                [server]
                max_connections = 0
                max_queued_calls = "many"
                idle_timeout_seconds = -1
                """
            )
        )
        let lines = error.description.split(separator: "\n").map(String.init)
        #expect(
            lines == [
                "/etc/imr/imr-daemon.toml: key 'server.idle_timeout_seconds' has the value -1.0; give a number of seconds above 0 and at most 86400.",
                "/etc/imr/imr-daemon.toml: key 'server.max_connections' has the value 0; give 1 to 1000000 connections.",
                "/etc/imr/imr-daemon.toml: key 'server.max_queued_calls' must be a whole number of calls, not a string.",
            ]
        )
        let small = try #require(problems("[server]\nmax_message_bytes = 65536\nmax_buffered_input_bytes = 4096\n"))
        #expect(
            small.description.contains(
                "key 'server.max_buffered_input_bytes' is 4096, less than server.max_message_bytes (65536)"
            )
        )
    }

    @Test func badSynchronousValue_namesTheChoices() throws {
        let error = try #require(problems("[store]\nsynchronous = \"off\"\n"))
        #expect(
            error.description
                == "/etc/imr/imr-daemon.toml: key 'store.synchronous' has the value 'off', which is not a synchronous mode; use full or normal."
        )
        let typed = try #require(problems("[store]\nsynchronous = 2\n"))
        #expect(
            typed.description
                == "/etc/imr/imr-daemon.toml: key 'store.synchronous' must be a string, full or normal, not an integer."
        )
    }

    @Test func syntaxError_namesFileLineAndColumn() throws {
        let error = try #require(problems("log_level = \"info\"\nsocket = \n"))
        #expect(error.problems.count == 1 && error.problems[0].key == nil)
        #expect(error.description.hasPrefix("/etc/imr/imr-daemon.toml: line 2, column"), "\(error.description)")
        #expect(error.description.hasSuffix("the file is not valid TOML."))
    }

    @Test func missingExplicitFile_isAnError_butAMissingDefaultFileIsNot() throws {
        let missing = "/nonexistent/imr/custom.toml"
        #expect {
            try DaemonConfiguration.load(path: missing)
        } throws: { error in
            let error = error as! ConfigurationError
            return error.path == missing
                && error.description.hasPrefix("\(missing): the configuration file named by --config does not exist")
        }
        // The default path is not there on a build machine; if it is, this test says nothing.
        if !FileManager.default.fileExists(atPath: DaemonConfiguration.defaultPath) {
            #expect(try DaemonConfiguration.load(path: nil) == .defaults)
        }
    }

    @Test func loadingAFile_readsIt() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("imr-config-\(UUID().uuidString).toml")
        try "log_level = \"warning\"\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        #expect(try DaemonConfiguration.load(path: file.path).logLevel == .warning)
    }

    @Test func commandLineOptions_overrideTheFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("imr-config-\(UUID().uuidString).toml")
        try """
        state_directory = "/srv/imr"
        socket = "/run/imr/file.sock"
        log_level = "warning"
        [store]
        synchronous = "normal"
        """.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }

        let options = try DaemonOptions.parse([
            "--config", file.path, "--socket", "/tmp/cli.sock", "--log-level", "debug",
        ])
        let configuration = try options.resolveConfiguration()
        #expect(configuration.stateDirectory == "/srv/imr")
        #expect(configuration.socketPath == "/tmp/cli.sock")
        #expect(configuration.logLevel == .debug)
        #expect(configuration.store.synchronous == .normal)

        let relative = try DaemonOptions.parse(["--state-dir", "state"])
        #expect(relative.overrides.stateDirectory == FileManager.default.currentDirectoryPath + "/state")
    }

    @Test func commandLineValidation_explainsBadValues() {
        #expect(throws: (any Error).self) { try DaemonOptions.parse(["--log-level", "loud"]) }
        do {
            _ = try DaemonOptions.parse(["--log-level", "loud"])
        } catch {
            #expect(DaemonOptions.message(for: error).contains("'loud' is not a log level; use one of trace"))
        }
    }

    @Test func defaults_matchTheUnitsAndSysusers() throws {
        let systemd = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("deploy/systemd")
        let socketUnit = try String(contentsOf: systemd.appendingPathComponent("imr-daemon.socket"), encoding: .utf8)
        let service = try String(contentsOf: systemd.appendingPathComponent("imr-daemon.service"), encoding: .utf8)
        let sysusers = try String(contentsOf: systemd.appendingPathComponent("sysusers.d/imr.conf"), encoding: .utf8)
        let defaults = DaemonConfiguration.defaults
        #expect(socketUnit.contains("\nListenStream=\(defaults.socketPath)\n"))
        // StateDirectory=imr is /var/lib/imr.
        #expect(service.contains("\nStateDirectory=imr\n") && defaults.stateDirectory == "/var/lib/imr")
        let created = Set(
            sysusers.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { String($0.split(separator: " ")[1]) }
        )
        let named = Set(defaults.access.readers + defaults.access.coordinators + defaults.access.admins)
        #expect(
            named.isSubset(of: created),
            "sysusers.d/imr.conf creates \(created.sorted()), the defaults name \(named.sorted())"
        )
        // LimitNOFILE= leaves room for every connection [server] allows, and the daemon's own.
        let nofile = service.split(separator: "\n").first { $0.hasPrefix("LimitNOFILE=") }.flatMap {
            Int($0.dropFirst("LimitNOFILE=".count))
        }
        #expect((nofile ?? 0) >= defaults.server.descriptorsNeeded, "LimitNOFILE=\(nofile.map(String.init) ?? "unset")")
        // Readers must be the socket's group: the kernel admits only it.
        #expect(socketUnit.contains("\nSocketGroup=\(defaults.access.readers[0])\n"))
    }

    @Test func reload_namesOnlyTheKeysThatNeedARestart() throws {
        let running = DaemonConfiguration.defaults
        let reread = try DaemonConfiguration.parse(
            text: """
                state_directory = "/srv/imr"
                log_level = "debug"
                [access]
                readers = ["auditors"]
                [store]
                synchronous = "normal"
                """,
            path: path
        )
        #expect(reread.keysNeedingRestart(comparedTo: running) == ["state_directory", "store.synchronous"])
        #expect(running.keysNeedingRestart(comparedTo: running).isEmpty)
        var movedSocket = running
        movedSocket.socketPath = "/run/imr/other.sock"
        #expect(movedSocket.keysNeedingRestart(comparedTo: running) == ["socket"])
    }
}
