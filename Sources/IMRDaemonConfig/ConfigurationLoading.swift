import Logging
import TOMLKit
import Workflow
#if canImport(Glibc)
import Glibc
#endif

extension DaemonConfiguration {
    /// Parses a configuration file's text: a pure function of its arguments, so the daemon can
    /// call it again on SIGHUP and tests need no files.
    ///
    /// Keys the file leaves out keep their ``defaults``.
    /// - Parameters:
    ///   - text: the file's contents.
    ///   - path: the file's path, for messages only.
    /// - Throws: ``ConfigurationError`` listing every unknown key, every bad value, or the
    ///   syntax error.
    package static func parse(text: String, path: String) throws(ConfigurationError) -> DaemonConfiguration {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            let at = error.source.begin
            throw ConfigurationError(
                path: path,
                problems: [
                    .init(
                        key: nil,
                        message:
                            "line \(at.line), column \(at.column): \(error.description); the file is not valid TOML."
                    )
                ]
            )
        } catch {
            throw ConfigurationError(path: path, problems: [.init(key: nil, message: "cannot be parsed: \(error).")])
        }
        var configuration = DaemonConfiguration.defaults
        var problems: [ConfigurationError.Problem] = []
        ConfigurationSchema.walk(table, prefix: "", into: &configuration, problems: &problems)
        // Per-rule lead times start from the global ones, whatever order the file gives them in.
        if let rules = table["alerts"]?.table?["rules"] {
            ConfigurationSchema.applyAlertRules(rules, into: &configuration, problems: &problems)
        }
        if problems.isEmpty, configuration.server.maximumBufferedInputBytes < configuration.server.maximumMessageBytes {
            problems.append(
                .init(
                    key: "server.max_buffered_input_bytes",
                    message:
                        "key 'server.max_buffered_input_bytes' is \(configuration.server.maximumBufferedInputBytes), less than server.max_message_bytes (\(configuration.server.maximumMessageBytes)); it must hold at least one whole message."
                )
            )
        }
        guard problems.isEmpty else { throw ConfigurationError(path: path, problems: problems) }
        return configuration
    }

    /// Reads and parses the configuration file.
    ///
    /// - Parameter path: the file named by `--config`, or `nil` for ``defaultPath``. A missing
    ///   default file means the built-in defaults; a missing file named explicitly is an error,
    ///   because a typo in `--config` should not silently start with other settings.
    /// - Throws: ``ConfigurationError`` when the file is missing (explicit path only),
    ///   unreadable or invalid.
    package static func load(path: String?) throws(ConfigurationError) -> DaemonConfiguration {
        let effectivePath = path ?? defaultPath
        switch readFile(effectivePath) {
        case .success(let text):
            return try parse(text: text, path: effectivePath)
        case .failure(let error) where error.code == ENOENT && path == nil:
            return defaults
        case .failure(let error) where error.code == ENOENT:
            throw ConfigurationError(
                path: effectivePath,
                problems: [
                    .init(
                        key: nil,
                        message: "the configuration file named by --config does not exist; "
                            + "create it (see imr-daemon.toml.example) or leave out --config to use \(defaultPath) or the built-in defaults."
                    )
                ]
            )
        case .failure(let error):
            throw ConfigurationError(
                path: effectivePath,
                problems: [
                    .init(
                        key: nil,
                        message: "cannot be read: \(String(cString: strerror(error.code))); "
                            + "check that the daemon's user may read it."
                    )
                ]
            )
        }
    }

    /// The file's text, or the `errno` of the failing call.
    private static func readFile(_ path: String) -> Result<String, Errno> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(Errno(errno)) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(Errno(errno))
            }
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        return .success(String(decoding: bytes, as: UTF8.self))
    }
}

/// An `errno` value as an `Error`, for `Result`.
private struct Errno: Error, Equatable {
    let code: Int32
    init(_ code: Int32) { self.code = code }
}

/// The keys the file may hold, and how each one's value is checked and stored.
enum ConfigurationSchema {
    struct Key: Sendable {
        let name: String
        /// Stores the value, or returns why it cannot be used (the sentence after "key 'x' ").
        let apply: @Sendable (TOMLValueConvertible, inout DaemonConfiguration) -> String?
    }

    /// Tables that may appear. `alerts.rules` holds one table per rule id, read by
    /// ``applyAlertRules(_:into:problems:)`` after everything else.
    static let tables: Set<String> = ["access", "store", "alerts", "server", "metrics"]

    static let keys: [Key] = [
        Key(name: "state_directory") { value, configuration in
            absolutePath(value, purpose: "the state directory").map { configuration.stateDirectory = $0 }.problem
        },
        Key(name: "socket") { value, configuration in
            guard let path = value.string else { return wrongType(value, expected: "a string (an absolute path)") }
            if let problem = socketPathProblem(path) { return problem }
            configuration.socketPath = path
            return nil
        },
        Key(name: "log_level") { value, configuration in
            let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            guard let text = value.string else { return wrongType(value, expected: "a string, one of \(levels)") }
            guard let level = Logger.Level(rawValue: text) else {
                return "has the value '\(text)', which is not a log level; use one of \(levels)."
            }
            configuration.logLevel = level
            return nil
        },
        Key(name: "access.readers") { value, configuration in
            groups(value).map { configuration.access.readers = $0 }.problem
        },
        Key(name: "access.coordinators") { value, configuration in
            groups(value).map { configuration.access.coordinators = $0 }.problem
        },
        Key(name: "access.admins") { value, configuration in
            groups(value).map { configuration.access.admins = $0 }.problem
        },
        Key(name: "store.synchronous") { value, configuration in
            let choices = StoreSettings.Synchronous.allCases.map(\.rawValue).joined(separator: " or ")
            guard let text = value.string else { return wrongType(value, expected: "a string, \(choices)") }
            guard let mode = StoreSettings.Synchronous(rawValue: text) else {
                return "has the value '\(text)', which is not a synchronous mode; use \(choices)."
            }
            configuration.store.synchronous = mode
            return nil
        },
        Key(name: "store.backup_directory") { value, configuration in
            if value.string == "" {
                configuration.store.backupDirectory = nil
                return nil
            }
            return absolutePath(value, purpose: "the backup directory").map { configuration.store.backupDirectory = $0 }
                .problem
        },
        Key(name: "store.state_cache_cases") { value, configuration in
            count(value, 0...2_000_000, unit: "cases").map { configuration.store.stateCacheCases = $0 }.problem
        },
        Key(name: "store.readers") { value, configuration in
            count(value, 1...64, unit: "connections").map { configuration.store.readers = $0 }.problem
        },
        Key(name: "alerts.business_days_before") { value, configuration in
            businessDays(value).map { configuration.alerts.policy.leadTimes.businessDaysBefore = $0 }.problem
        },
        Key(name: "alerts.due_day_at") { value, configuration in
            optionalTime(value).map { configuration.alerts.policy.leadTimes.dueDayAt = $0 }.problem
        },
        Key(name: "alerts.hours_before") { value, configuration in
            hours(value).map { configuration.alerts.policy.leadTimes.hoursBefore = $0 }.problem
        },
        Key(name: "alerts.overdue") { value, configuration in
            guard let flag = value.bool else { return wrongType(value, expected: "true or false") }
            configuration.alerts.policy.leadTimes.overdue = flag
            return nil
        },
        Key(name: "alerts.quiet_hours") { value, configuration in
            guard let text = value.string else {
                return wrongType(value, expected: "a string \"HH:MM-HH:MM\" (Pacific), or \"\" for none")
            }
            if text.isEmpty {
                configuration.alerts.policy.quietHours = nil
                return nil
            }
            let ends = text.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            guard ends.count == 2, let start = TimeOfDay(ends[0]), let end = TimeOfDay(ends[1]), start != end else {
                return
                    "has the value '\(text)', which is not a span of Pacific time; write \"20:00-07:00\" (HH:MM-HH:MM, 24-hour clock), or \"\" for no quiet hours."
            }
            configuration.alerts.policy.quietHours = QuietHours(start: start, end: end)
            return nil
        },
        Key(name: "alerts.business_day_time") { value, configuration in
            guard let text = value.string else { return wrongType(value, expected: "a string \"HH:MM\" (Pacific)") }
            guard let time = TimeOfDay(text) else {
                return
                    "has the value '\(text)', which is not a time of day; write HH:MM on a 24-hour clock, e.g. \"08:00\"."
            }
            configuration.alerts.policy.businessDayAlertTime = time
            return nil
        },
        Key(name: "alerts.command") { value, configuration in
            guard let array = value.array else {
                return wrongType(value, expected: "a list of strings: the program, then its arguments ([] for none)")
            }
            var words: [String] = []
            for element in array {
                guard let word = element.string else {
                    return "must be a list of strings, but the list holds \(article(element.type))."
                }
                words.append(word)
            }
            if let first = words.first, first.isEmpty {
                return "names an empty program; give a path or a program name first."
            }
            configuration.alerts.command = words
            return nil
        },
        Key(name: "alerts.digest_at") { value, configuration in
            guard let text = value.string else {
                return wrongType(value, expected: "a string \"HH:MM\" (Pacific), or \"\" for no digest")
            }
            if text.isEmpty {
                configuration.alerts.digestAt = nil
                return nil
            }
            guard let time = TimeOfDay(text) else {
                return
                    "has the value '\(text)', which is not a time of day; write HH:MM on a 24-hour clock, e.g. \"07:30\", or \"\" for no digest."
            }
            configuration.alerts.digestAt = time
            return nil
        },
        Key(name: "alerts.command_timeout_seconds") { value, configuration in
            positiveNumber(value).map { configuration.alerts.commandTimeoutSeconds = $0 }.problem
        },
        Key(name: "alerts.command_attempts") { value, configuration in
            guard let count = value.int else {
                return wrongType(value, expected: "a whole number of attempts (1 or more)")
            }
            guard (1...100).contains(count) else { return "has the value \(count); give 1 to 100 attempts." }
            configuration.alerts.commandAttempts = count
            return nil
        },
        Key(name: "alerts.command_retry_seconds") { value, configuration in
            positiveNumber(value).map { configuration.alerts.commandRetrySeconds = $0 }.problem
        },
        Key(name: "server.max_message_bytes") { value, configuration in
            count(value, 1024...(64 << 20), unit: "bytes").map { configuration.server.maximumMessageBytes = $0 }.problem
        },
        Key(name: "server.max_nesting_depth") { value, configuration in
            count(value, 4...512, unit: "levels").map { configuration.server.maximumNestingDepth = $0 }.problem
        },
        Key(name: "server.max_connections") { value, configuration in
            count(value, 1...1_000_000, unit: "connections").map { configuration.server.maximumConnections = $0 }
                .problem
        },
        Key(name: "server.max_connections_per_user") { value, configuration in
            count(value, 1...1_000_000, unit: "connections").map { configuration.server.maximumConnectionsPerUser = $0 }
                .problem
        },
        Key(name: "server.admin_reserve") { value, configuration in
            count(value, 0...10_000, unit: "connections").map { configuration.server.adminReserve = $0 }.problem
        },
        Key(name: "server.idle_timeout_seconds") { value, configuration in
            positiveNumber(value).map { configuration.server.idleTimeoutSeconds = $0 }.problem
        },
        Key(name: "server.partial_message_timeout_seconds") { value, configuration in
            positiveNumber(value).map { configuration.server.partialMessageTimeoutSeconds = $0 }.problem
        },
        Key(name: "server.max_buffered_input_bytes") { value, configuration in
            count(value, 1024...(1 << 40), unit: "bytes").map { configuration.server.maximumBufferedInputBytes = $0 }
                .problem
        },
        Key(name: "server.max_queued_calls") { value, configuration in
            count(value, 1...4096, unit: "calls").map { configuration.server.maximumQueuedCalls = $0 }.problem
        },
        Key(name: "server.max_unsent_output_bytes") { value, configuration in
            count(value, 4096...(1 << 40), unit: "bytes").map { configuration.server.maximumUnsentOutputBytes = $0 }
                .problem
        },
        Key(name: "server.unsent_output_timeout_seconds") { value, configuration in
            positiveNumber(value).map { configuration.server.unsentOutputTimeoutSeconds = $0 }.problem
        },
        Key(name: "server.max_followers") { value, configuration in
            count(value, 1...100_000, unit: "followers").map { configuration.server.maximumFollowers = $0 }.problem
        },
        Key(name: "server.follower_queue") { value, configuration in
            count(value, 1...1_000_000, unit: "alerts").map { configuration.server.followerQueue = $0 }.problem
        },
        Key(name: "metrics.textfile") { value, configuration in
            if value.string == "" {
                configuration.metrics.textfile = nil
                return nil
            }
            switch absolutePath(value, purpose: "the metrics file") {
            case .problem(let problem): return problem
            case .value(let path):
                guard path.hasSuffix(".prom") else {
                    return
                        "has the value '\(path)', which does not end in .prom; node_exporter's textfile collector reads only *.prom files."
                }
                configuration.metrics.textfile = path
                return nil
            }
        },
        Key(name: "metrics.interval_seconds") { value, configuration in
            positiveNumber(value).map { configuration.metrics.intervalSeconds = $0 }.problem
        },
    ]

    /// A whole number within `range`.
    static func count(_ value: TOMLValueConvertible, _ range: ClosedRange<Int>, unit: String) -> Outcome<Int> {
        guard let n = value.int else { return .problem(wrongType(value, expected: "a whole number of \(unit)")) }
        guard range.contains(n) else {
            return .problem("has the value \(n); give \(range.lowerBound) to \(range.upperBound) \(unit).")
        }
        return .value(n)
    }

    /// The keys of a `[alerts.rules."<rule id>"]` table.
    static let ruleKeys = ["business_days_before", "due_day_at", "enabled", "hours_before", "overdue"]

    /// Reads `[alerts.rules."<rule id>"]` tables: each starts from the global lead times and
    /// changes the keys it names.
    static func applyAlertRules(
        _ value: TOMLValueConvertible,
        into configuration: inout DaemonConfiguration,
        problems: inout [ConfigurationError.Problem]
    ) {
        guard let rules = value.table else {
            problems.append(
                .init(
                    key: "alerts.rules",
                    message:
                        "key 'alerts.rules' must be a table of rule ids ([alerts.rules.\"ur.decision.expedited\"]), not \(article(value.type))."
                )
            )
            return
        }
        for name in rules.keys.sorted() {
            let dotted = "alerts.rules.\"\(name)\""
            guard let rule = RuleID(rawValue: name) else {
                problems.append(
                    .init(
                        key: dotted,
                        message:
                            "key '\(dotted)' names no rule; rule ids are \(RuleID.allCases.map(\.rawValue).joined(separator: ", "))."
                    )
                )
                continue
            }
            guard let table = rules[name]?.table else {
                problems.append(
                    .init(
                        key: dotted,
                        message: "key '\(dotted)' must be a table ([\(dotted)]), not \(article(rules[name]!.type))."
                    )
                )
                continue
            }
            var times = configuration.alerts.policy.leadTimes
            for key in table.keys.sorted() {
                let full = "\(dotted).\(key)"
                let value = table[key]!
                var problem: String?
                switch key {
                case "business_days_before": problem = businessDays(value).map { times.businessDaysBefore = $0 }.problem
                case "due_day_at": problem = optionalTime(value).map { times.dueDayAt = $0 }.problem
                case "hours_before": problem = hours(value).map { times.hoursBefore = $0 }.problem
                case "overdue", "enabled":
                    if let flag = value.bool {
                        if key == "overdue" { times.overdue = flag } else { times.enabled = flag }
                    } else {
                        problem = wrongType(value, expected: "true or false")
                    }
                default:
                    problems.append(
                        .init(
                            key: full,
                            message:
                                "key '\(full)' is unknown (a rule's table takes \(ruleKeys.joined(separator: ", ")))."
                        )
                    )
                    continue
                }
                if let problem { problems.append(.init(key: full, message: "key '\(full)' \(problem)")) }
            }
            configuration.alerts.policy.perRule[rule] = times
        }
    }

    /// At most two whole numbers of business days, for notice and reminder.
    static func businessDays(_ value: TOMLValueConvertible) -> Outcome<[Int]> {
        let expected = "a list of up to two whole numbers of business days, e.g. [5, 2]"
        guard let array = value.array else { return .problem(wrongType(value, expected: expected)) }
        var days: [Int] = []
        for element in array {
            guard let n = element.int, (1...60).contains(n) else {
                return .problem("must be \(expected) (each 1 to 60).")
            }
            days.append(n)
        }
        guard days.count <= 2 else { return .problem("has \(days.count) values; give at most two (notice, reminder).") }
        return .value(days)
    }

    /// At most two positive numbers of hours, for notice and reminder.
    static func hours(_ value: TOMLValueConvertible) -> Outcome<[Double]> {
        let expected = "a list of up to two numbers of hours, e.g. [24, 4]"
        guard let array = value.array else { return .problem(wrongType(value, expected: expected)) }
        var hours: [Double] = []
        for element in array {
            guard let n = element.double ?? element.int.map(Double.init), n > 0, n <= 24 * 60 else {
                return .problem("must be \(expected) (each more than 0).")
            }
            hours.append(n)
        }
        guard hours.count <= 2 else {
            return .problem("has \(hours.count) values; give at most two (notice, reminder).")
        }
        return .value(hours)
    }

    /// "HH:MM", or "" for none.
    static func optionalTime(_ value: TOMLValueConvertible) -> Outcome<TimeOfDay?> {
        guard let text = value.string else {
            return .problem(wrongType(value, expected: "a string \"HH:MM\" (Pacific), or \"\" for none"))
        }
        if text.isEmpty { return .value(nil) }
        guard let time = TimeOfDay(text) else {
            return .problem(
                "has the value '\(text)', which is not a time of day; write HH:MM on a 24-hour clock, e.g. \"08:00\", or \"\" for none."
            )
        }
        return .value(time)
    }

    static func positiveNumber(_ value: TOMLValueConvertible) -> Outcome<Double> {
        guard let n = value.double ?? value.int.map(Double.init) else {
            return .problem(wrongType(value, expected: "a number of seconds"))
        }
        guard n > 0, n <= 86_400 else {
            return .problem("has the value \(n); give a number of seconds above 0 and at most 86400.")
        }
        return .value(n)
    }

    static let keysByName: [String: Key] = Dictionary(uniqueKeysWithValues: keys.map { ($0.name, $0) })
    static let knownKeyList = keys.map(\.name).sorted().joined(separator: ", ")

    /// Checks every entry of `table` (keys sorted, so messages come in a stable order).
    static func walk(
        _ table: TOMLTable,
        prefix: String,
        into configuration: inout DaemonConfiguration,
        problems: inout [ConfigurationError.Problem]
    ) {
        for name in table.keys.sorted() {
            guard let value = table[name] else { continue }
            let dotted = prefix.isEmpty ? name : "\(prefix).\(name)"
            if dotted == "alerts.rules" { continue }  // read by applyAlertRules
            if tables.contains(dotted) {
                guard let subtable = value.table else {
                    problems.append(
                        .init(
                            key: dotted,
                            message:
                                "key '\(dotted)' must be a table ([\(dotted)]), not \(article(value.type))."
                        )
                    )
                    continue
                }
                walk(subtable, prefix: dotted, into: &configuration, problems: &problems)
            } else if let key = keysByName[dotted] {
                if let reason = key.apply(value, &configuration) {
                    problems.append(.init(key: dotted, message: "key '\(dotted)' \(reason)"))
                }
            } else if let subtable = value.table, !subtable.isEmpty {
                // Name the keys inside an unknown table: '[acess] readers' reads as 'acess.readers'.
                walk(subtable, prefix: dotted, into: &configuration, problems: &problems)
            } else {
                problems.append(.init(key: dotted, message: unknownKeyMessage(dotted)))
            }
        }
    }

    static func unknownKeyMessage(_ key: String) -> String {
        var message = "key '\(key)' is unknown"
        if let suggestion = keys.map(\.name).min(by: { distance($0, key) < distance($1, key) }),
            distance(suggestion, key) <= 2
        {
            message += "; did you mean '\(suggestion)'? (known keys: \(knownKeyList))"
        } else {
            message += " (known keys: \(knownKeyList))"
        }
        return message + "."
    }

    static func article(_ type: TOMLType) -> String {
        let word = type.description
        return (word.first.map { "aeiou".contains($0) } ?? false ? "an " : "a ") + word
    }

    static func wrongType(_ value: TOMLValueConvertible, expected: String) -> String {
        "must be \(expected), not \(article(value.type))."
    }

    /// The value as an absolute path, or why it is not one.
    static func absolutePath(_ value: TOMLValueConvertible, purpose: String) -> Outcome<String> {
        guard let path = value.string else {
            return .problem(wrongType(value, expected: "a string (an absolute path)"))
        }
        guard path.hasPrefix("/") else {
            return .problem("has the value '\(path)', which is not an absolute path; \(purpose) must start with '/'.")
        }
        return .value(path)
    }

    /// Why `path` cannot be the daemon's socket, or `nil` when it can.
    static func socketPathProblem(_ path: String) -> String? {
        guard path.hasPrefix("/") else {
            return "has the value '\(path)', which is not an absolute path; the socket path must start with '/'."
        }
        // sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
        guard path.utf8.count <= 107 else {
            return "is \(path.utf8.count) bytes long; a Unix socket path may have at most 107."
        }
        return nil
    }

    /// One group name or a list of them.
    static func groups(_ value: TOMLValueConvertible) -> Outcome<[String]> {
        let expected = "a group name or a list of group names"
        var names: [String] = []
        if let name = value.string {
            names = [name]
        } else if let array = value.array {
            for element in array {
                guard let name = element.string else {
                    return .problem("must be \(expected), but the list holds \(article(element.type)).")
                }
                names.append(name)
            }
        } else {
            return .problem(wrongType(value, expected: expected))
        }
        for name in names where !isPlausibleGroupName(name) {
            return .problem(
                "has the group name '\(name)', which is not a valid Unix group name "
                    + "(1 to 32 characters, no spaces, ':', '/' or ',')."
            )
        }
        return .value(names)
    }

    static func isPlausibleGroupName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 32 && !name.hasPrefix("-")
            && !name.contains { $0.isWhitespace || $0 == ":" || $0 == "/" || $0 == "," }
    }

    /// Levenshtein distance, for "did you mean".
    static func distance(_ a: String, _ b: String) -> Int { editDistance(a, b) }
}

/// A checked value, or the reason it was refused.
enum Outcome<Value> {
    case value(Value)
    case problem(String)

    /// Stores the value with `store`; returns the problem, if any.
    func map(_ store: (Value) -> Void) -> Outcome<Value> {
        if case .value(let value) = self { store(value) }
        return self
    }

    var problem: String? {
        if case .problem(let text) = self { return text }
        return nil
    }
}
