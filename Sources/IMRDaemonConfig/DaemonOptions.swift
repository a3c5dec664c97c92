import ArgumentParser
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// `imr-daemon`'s command-line options; include them with `@OptionGroup var options: DaemonOptions`.
///
/// Options given here win over the configuration file; ``resolveConfiguration()`` reads the
/// file and applies them, and the daemon calls it again on SIGHUP.
package struct DaemonOptions: ParsableArguments, Sendable {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The configuration file (TOML). When not given, \(DaemonConfiguration.defaultPath) is read if it exists.",
            valueName: "path"
        )
    )
    /// `--config`: the file to read instead of ``DaemonConfiguration/defaultPath``; it must exist.
    package var config: String?

    @Option(
        name: .customLong("state-dir"),
        help: ArgumentHelp(
            "The directory for the event log and the lock file. (default: \(DaemonConfiguration.defaults.stateDirectory))",
            valueName: "dir"
        )
    )
    /// `--state-dir`, as typed.
    package var stateDirectory: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The Unix socket to serve Varlink on; ignored when systemd passes a socket. (default: \(DaemonConfiguration.defaults.socketPath))",
            valueName: "path"
        )
    )
    /// `--socket`, as typed.
    package var socket: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The lowest level logged: \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")). (default: info)",
            valueName: "level"
        )
    )
    /// `--log-level`, as typed; ``validate()`` checks it.
    package var logLevel: String?

    @Flag(
        name: .customLong("accept-tampered-log"),
        help: ArgumentHelp(
            "Start even though the event log's head does not match its anchor (a deleted tail, events added behind the store's back, a replaced last event). The acceptance is recorded as an event on the log's 'admin' stream. Without it the daemon refuses to start on such a log (exit 65)."
        )
    )
    /// `--accept-tampered-log`: serve a log whose head check failed, recording that it was accepted.
    package var acceptTamperedLog = false

    /// No options given (ArgumentParser fills them in).
    package init() {}

    /// Refuses an unknown log level, empty paths and a socket path too long for a Unix socket,
    /// before the daemon reads any file.
    package func validate() throws {
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError(
                "'\(logLevel)' is not a log level; use one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))."
            )
        }
        for (option, value) in [("--state-dir", stateDirectory), ("--socket", socket), ("--config", config)] {
            if let value, value.isEmpty { throw ValidationError("\(option) needs a path, not an empty string.") }
        }
        if let socket, let problem = ConfigurationSchema.socketPathProblem(Self.absolute(socket)) {
            throw ValidationError("--socket \(problem)")
        }
    }

    /// The command line's choices, with relative paths made absolute against the working
    /// directory (so that a later `chdir` cannot change what they mean).
    package var overrides: DaemonOverrides {
        DaemonOverrides(
            stateDirectory: stateDirectory.map(Self.absolute),
            socketPath: socket.map(Self.absolute),
            logLevel: logLevel.flatMap(Logger.Level.init(rawValue:))
        )
    }

    /// Reads the configuration file (``config`` or the default path) and puts the command
    /// line's choices over it.
    ///
    /// - Throws: ``ConfigurationError`` when the file is invalid, or missing although named by `--config`.
    package func resolveConfiguration() throws(ConfigurationError) -> DaemonConfiguration {
        try DaemonConfiguration.load(path: config.map(Self.absolute)).applying(overrides)
    }

    static func absolute(_ path: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        guard let cwd = getcwd(nil, 0) else { return path }
        defer { free(cwd) }
        let directory = String(cString: cwd)
        return (directory.hasSuffix("/") ? directory : directory + "/") + path
    }
}
