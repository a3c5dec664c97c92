// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "imr",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "imr-daemon", targets: ["imr-daemon"]),
        .executable(name: "imr-ctl", targets: ["imr-ctl"]),
        .executable(name: "imr-bench", targets: ["imr-bench"]),
        .library(name: "EventStore", targets: ["EventStore"]),
        .library(name: "Workflow", targets: ["Workflow"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // `swift package generate-documentation` for the DocC catalogs of EventStore and Workflow.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin.git", from: "1.5.0"),
    ],
    targets: [
        // System libraries (Debian: libsqlite3-dev, libsystemd-dev).
        .systemLibrary(
            name: "CSQLite",
            path: "Sources/CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "CSystemd",
            path: "Sources/CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),

        // A VFS over SQLite's default one that writes a commit's WAL frames in one call.
        .target(name: "CSQLiteVFS", dependencies: ["CSQLite"]),

        // glibc's malloc settings the daemon makes at start, and giving freed memory back.
        .target(name: "CMalloc"),

        // The append-only event log. Knows nothing about IMR.
        .target(
            name: "EventStore",
            dependencies: [
                "CSQLite",
                "CSQLiteVFS",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),

        // The Varlink protocol: NUL-framed JSON over a Unix socket; a NIO server and a client.
        .target(
            name: "Varlink",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),

        // systemd through libsystemd: sd_notify, the watchdog, socket activation, a journald
        // LogHandler; plus the state-directory lock and the stale-socket check.
        .target(
            name: "SystemdSupport",
            dependencies: [
                "CSystemd",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // imr-daemon's settings: command line over /etc/imr/imr-daemon.toml over defaults.
        // Loading is a pure function of (text, path) so SIGHUP can re-read it.
        .target(
            name: "IMRDaemonConfig",
            dependencies: [
                "Workflow",
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // The domain: pure and synchronous, no I/O.
        .target(name: "Workflow"),
        // Starting and reaping child processes without Foundation's reaper (see the file).
        .target(name: "ChildProcess"),

        // What crosses the wire, for both ends: dates and instants, and each recording method's
        // parameters as the Codable type the service decodes and imr-ctl encodes.
        .target(name: "IMRWire", dependencies: ["Workflow", "Varlink"]),

        // Command handling over the store, projections and (later) the Varlink interfaces:
        // no process concerns, so tests run it in-process.
        .target(
            name: "IMRService",
            dependencies: [
                "ChildProcess", "EventStore", "Workflow", "Varlink", "IMRWire", "CMalloc",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            resources: [
                .embedInCode("Interfaces/io.imr.Cases.varlink"),
                .embedInCode("Interfaces/io.imr.Admin.varlink"),
                .embedInCode("Interfaces/io.imr.Deadlines.varlink"),
                .embedInCode("Interfaces/io.imr.Alerts.varlink"),
            ]
        ),

        // The daemon's composition root: configuration, lock, socket, store, server, signals.
        .target(
            name: "IMRDaemon",
            dependencies: [
                "EventStore", "IMRService", "Varlink", "SystemdSupport", "IMRDaemonConfig", "CMalloc", "Workflow",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),

        // Executables stay thin.
        .executableTarget(
            name: "imr-daemon",
            dependencies: ["IMRDaemon"]
        ),
        // The command tree of imr-ctl, in a library so tests can drive it.
        .target(
            name: "IMRCommandLine",
            dependencies: [
                "ChildProcess", "Workflow", "Varlink", "IMRWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "imr-ctl",
            dependencies: [
                "IMRCommandLine", "Workflow",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "imr-bench",
            dependencies: [
                "ChildProcess", "EventStore", "CSQLite", "IMRService", "IMRCommandLine", "IMRWire", "Varlink",
                "Workflow",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // A child process for the crash-safety test: appends in a loop and
        // prints each acknowledged event id until it is killed.
        .executableTarget(
            name: "imr-store-crashloop",
            dependencies: ["EventStore"]
        ),

        // A child process for the systemd tests: prints what SystemdSupport finds under
        // systemd-socket-activate, or holds the state-directory lock until killed.
        .executableTarget(
            name: "imr-systemd-probe",
            dependencies: ["SystemdSupport", .product(name: "Logging", package: "swift-log")]
        ),

        // What several test targets share (seeded random generators).
        .target(
            name: "TestSupport",
            dependencies: ["ChildProcess", .product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "SystemdSupportTests",
            dependencies: ["ChildProcess", "SystemdSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "IMRDaemonConfigTests",
            dependencies: [
                "IMRDaemonConfig", "Workflow",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "EventStoreTests",
            dependencies: [
                "ChildProcess", "EventStore", "CSQLite", "TestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "IMRServiceTests",
            dependencies: [
                "ChildProcess", "IMRService", "IMRWire", "EventStore", "Workflow", "Varlink", "IMRCommandLine",
                "TestSupport",
            ]
        ),
        // The real imr-ctl binary, run as a user would.
        .testTarget(name: "CommandLineTests", dependencies: ["ChildProcess"]),
        // The real imr-daemon binary, started as a process, on real sockets.
        .testTarget(
            name: "DaemonTests",
            dependencies: ["ChildProcess", "EventStore", "Varlink", "TestSupport"]
        ),
        .testTarget(
            name: "VarlinkTests",
            dependencies: [
                "ChildProcess", "Varlink", "TestSupport", .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "ChildProcessTests", dependencies: ["ChildProcess"]),
        .testTarget(
            name: "WorkflowTests",
            dependencies: [
                "ChildProcess", "Workflow", "TestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
