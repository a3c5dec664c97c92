import CMalloc
import EventStore
import Foundation
import IMRWire
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import Varlink
import Workflow

/// `io.imr.Admin`: status, verification, backup, projection rebuilds.
package struct AdminInterface: VarlinkHandler {
    package let interface = try! VarlinkInterface(
        description: String(decoding: PackageResources.io_imr_Admin_varlink, as: UTF8.self)
    )
    let store: EventStore
    let access: AccessControl
    let version: String
    let startedAt: Date
    let clock: @Sendable () -> Date
    let logger: Logger
    let backups: BackupPolicy
    let serverStatistics: VarlinkServerStatistics?

    package init(
        store: EventStore,
        access: AccessControl,
        version: String,
        startedAt: Date,
        backups: BackupPolicy,
        serverStatistics: VarlinkServerStatistics? = nil,
        clock: @escaping @Sendable () -> Date = { Date() },
        logger: Logger = Logger(label: "imr.admin", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.serverStatistics = serverStatistics
        self.store = store
        self.access = access
        self.version = version
        self.startedAt = startedAt
        self.backups = backups
        self.clock = clock
        self.logger = logger
    }

    private var log: (String) -> Void { { [logger] in logger.notice("\($0)") } }

    /// Checked by the server before any parameter is decoded.
    package func admit(member: String, context: VarlinkCallContext) throws {
        try access.require(member == "Status" ? .reader : .admin, context, method: "io.imr.Admin.\(member)")
    }

    package func error(for failure: any Error, in call: VarlinkCall) -> VarlinkError {
        ServiceFailure.error(for: failure, interface: interface.name)
    }

    package func handle(
        _ call: VarlinkCall,
        context: VarlinkCallContext,
        replier: VarlinkReplier
    ) async throws -> [String: JSONValue] {
        switch call.member {
        case "Status":
            let (store, version, startedAt, now) = (store, version, startedAt, clock())
            var status = try await store.offload(doing: "report status", lane: .interactive) {
                try AdminInterface.status(store: store, version: version, startedAt: startedAt, now: now)
            }
            let process = Figures.process()
            status.figures = Figures(
                service: OperatorFigures.shared.snapshot,
                server: serverStatistics?.snapshot,
                store: StoreFigures(store.writeFigures),
                residentBytes: process.residentBytes,
                openDescriptors: process.openDescriptors
            )
            status.caller = AdminStatus.Caller(
                user: AccessPolicy.actor(of: context.peer).name,
                role: access.policy.role(of: context.peer).description
            )
            return try WireFormat.object(status)
        case "Verify":
            let report = try await store.verify()
            let reply = try WireFormat.object(
                VerifyReply(
                    eventsChecked: report.eventsChecked,
                    headPosition: report.headPosition,
                    intact: report.isIntact,
                    firstBadPosition: report.firstBadPosition,
                    problem: report.problem,
                    anchorPosition: report.anchorPosition,
                    missingFrom: report.missingFrom
                )
            )
            if !report.isIntact {
                log("verify found the log altered at position \(report.firstBadPosition ?? 0): \(report.problem ?? "")")
            }
            return reply
        case "Backup":
            let p = try WireFormat.decode(BackupRequest.self, from: call)
            let name = p.name ?? BackupPolicy.defaultName(at: clock())
            let destination = try backups.destination(for: name, replacing: p.force ?? false)
            let report: BackupReport
            do {
                report = try await store.backup(to: destination, replacing: p.force ?? false)
            } catch  where error.kind == .invalidArgument {
                throw BackupPolicy.refused(name, error.message)
            } catch {
                throw VarlinkError(
                    "io.imr.Admin.BackupFailed",
                    parameters: ["path": .string(destination), "message": .string(error.message)]
                )
            }
            log("backup written to \(report.path): \(report.events) events")
            return try WireFormat.object(
                BackupReply(path: report.path, events: report.events, headPosition: report.headPosition)
            )
        case "Rebuild":
            let p = try WireFormat.decode(RebuildRequest.self, from: call)
            let known = store.projectionCheckpoints().keys.sorted()
            let names = p.projection.map { [$0] } ?? known
            for name in names where !known.contains(name) {
                throw VarlinkError(
                    "io.imr.Admin.ProjectionNotFound",
                    parameters: ["projection": .string(name), "known": .array(known.map { .string($0) })]
                )
            }
            // A read model is rebuilt with those it reads (the case list with the deadlines).
            return try await rebuild(
                p.projection == nil ? names : store.projectionsRebuilt(with: names),
                replier: replier
            )
        default:
            throw VarlinkError.methodNotImplemented(call.method)
        }
    }

    /// Rebuilds the read models `names` together; a `more` caller hears how far it is about once
    /// a second, and the journal every 10 seconds.
    func rebuild(_ names: [String], replier: VarlinkReplier) async throws -> [String: JSONValue] {
        let list = names.joined(separator: ", ")
        let tracker = RebuildTracker()
        let (ticks, tick) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let store = self.store
        let started = ContinuousClock.now
        log("rebuilding \(list) from the log")
        let work = Task {
            defer { tick.finish() }
            try await store.rebuildProjections(named: names) { step in
                tracker.record(step)
                tick.yield()
            }
        }
        var lastReply = started
        var lastLog = started
        for await _ in ticks {
            let now = ContinuousClock.now
            if replier.more, now - lastReply >= .seconds(1) {
                lastReply = now
                let reply = RebuildReply(rebuilt: [], progress: tracker.snapshot.progress(since: started))
                if let parameters = try? WireFormat.object(reply) { try? await replier.yield(parameters) }
            }
            if now - lastLog >= .seconds(10) {
                lastLog = now
                log("rebuilding \(list): \(tracker.snapshot.words(since: started))")
            }
        }
        try await work.value
        // The rebuild's threads freed hundreds of MB (at 2,000,000 cases the daemon kept 430 MB
        // resident afterwards, 135 MB once given back).
        _ = imr_trim_memory()
        tracker.finish()
        let final = tracker.snapshot
        log("rebuilt \(list) from the log: \(final.words(since: started))")
        return try WireFormat.object(RebuildReply(rebuilt: names, progress: final.progress(since: started)))
    }

    /// What the daemon reports about itself (the wire type both ends share).
    package typealias Status = AdminStatus
    package typealias Figures = AdminFigures

    package static func status(store: EventStore, version: String, startedAt: Date, now: Date) throws -> Status {
        let bytes = ["", "-wal"].reduce(Int64(0)) { total, suffix in
            let size =
                (try? FileManager.default.attributesOfItem(atPath: store.path + suffix)[.size] as? NSNumber)?.int64Value
                ?? 0
            return total + size
        }
        let open = try store.read { try CaseListProjection.openCount(in: $0) }
        // The checkpoints are published as a transaction commits, the head just after: a read
        // model is never reported beyond the head.
        let checkpoints = store.projectionCheckpoints()
        return Status(
            version: version,
            startedAt: startedAt,
            uptimeSeconds: Int64(now.timeIntervalSince(startedAt)),
            databasePath: store.path,
            databaseBytes: bytes,
            headPosition: max(store.committedHead, checkpoints.values.max() ?? 0),
            openCases: open,
            projections: checkpoints.sorted { $0.key < $1.key }.map {
                [rebuilding = store.rebuildsInProgress()] in
                Status.Projection(name: $0.key, checkpoint: $0.value, rebuildingTo: rebuilding[$0.key])
            },
            figures: nil
        )
    }
}

/// Where `io.imr.Admin.Backup` may write: by file name, into one configured directory, never
/// over the daemon's own files (the event log, its lock, its socket).
package struct BackupPolicy: Sendable {
    /// The directory backups go into; created (mode 0700) on the first backup.
    package let directory: String
    /// Files a backup never replaces, whatever the directory (compared by device and inode,
    /// so a link or another spelling of the path does not get round it).
    package let protectedPaths: [String]

    package init(directory: String, protectedPaths: [String]) {
        self.directory = directory
        self.protectedPaths = protectedPaths
    }

    /// A backup file name: 1-128 characters, letters, digits, '.', '_' and '-', starting with a
    /// letter or digit (so no path, no hidden file, no '..').
    package static let nameRule =
        "1-128 characters of letters, digits, '.', '_' and '-', starting with a letter or digit"

    package static func isValidName(_ name: String) -> Bool {
        guard (1...128).contains(name.utf8.count), let first = name.utf8.first else { return false }
        func allowed(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F
                || c == 0x2D
        }
        return first != 0x2E && first != 0x5F && first != 0x2D && name.utf8.allSatisfy(allowed)
    }

    /// `imr-YYYYMMDD-HHMMSS.sqlite` in Pacific time.
    package static func defaultName(at instant: Date) -> String {
        let rfc = Pacific.rfc3339(instant)  // 2024-03-08T09:15:02-08:00
        let digits = rfc.prefix(19).filter(\.isNumber)
        return "imr-\(digits.prefix(8))-\(digits.dropFirst(8)).sqlite"
    }

    /// Removes the `.partial` files a backup killed mid-way left in the directory (only the
    /// daemon writes there); their names, for the log.
    @discardableResult
    package func removeLeftovers() -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        let partial = names.filter {
            $0.hasSuffix(".partial") && Self.isValidName(String($0.dropLast(".partial".count)))
        }
        for name in partial {
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            var info = stat()
            if lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG || (info.st_mode & S_IFMT) == S_IFLNK {
                unlink(path)
            }
        }
        return partial
    }

    static func refused(_ name: String, _ message: String) -> VarlinkError {
        VarlinkError("io.imr.Admin.BackupRefused", parameters: ["name": .string(name), "message": .string(message)])
    }

    /// Makes `directory` and any missing parent (mode 0700); nil when it exists or was made,
    /// else why not. A path that exists and is not a directory is refused.
    static func makeDirectory(_ directory: String) -> String? {
        var info = stat()
        if stat(directory, &info) == 0 {
            return (info.st_mode & S_IFMT) == S_IFDIR ? nil : "it exists and is not a directory"
        }
        guard errno == ENOENT else { return String(cString: strerror(errno)) }
        let parent = (directory as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != directory, let reason = makeDirectory(parent) { return reason }
        guard mkdir(directory, 0o700) == 0 || errno == EEXIST else { return String(cString: strerror(errno)) }
        return nil
    }

    /// The full path for `name`, after checking the name and the protected files; creates the
    /// directory when it is missing.
    package func destination(for name: String, replacing: Bool) throws(VarlinkError) -> String {
        guard Self.isValidName(name) else {
            let shown = String(
                name.unicodeScalars.prefix(80).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) }
            )
            throw Self.refused(
                shown,
                "'\(shown)' is not a backup file name: use \(Self.nameRule); backups are written in \(directory)"
            )
        }
        if let reason = Self.makeDirectory(directory) {
            // Where the backup goes is the caller's (or the configuration's) choice, not a
            // failure of the daemon: refused with the reason (imr-ctl exits 73).
            throw Self.refused(
                name,
                "cannot create the backup directory \(directory): \(reason); create it for the daemon's user or set store.backup_directory"
            )
        }
        let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
        var target = stat()
        if lstat(path, &target) == 0 {
            for own in protectedPaths {
                var protected = stat()
                if lstat(own, &protected) == 0, protected.st_dev == target.st_dev, protected.st_ino == target.st_ino {
                    throw Self.refused(
                        name,
                        "\(path) is the daemon's own file \(own); a backup never replaces it: choose another name"
                    )
                }
            }
            if !replacing {
                throw Self.refused(name, "\(path) already exists; choose another name, or replace it with --force")
            }
        }
        return path
    }
}

/// How far a rebuild has come, from the store's progress reports (on the rebuild's thread).
package final class RebuildTracker: Sendable {
    package struct Snapshot: Sendable {
        /// Events read from the log so far (each applied to every read model being rebuilt).
        var events: Int64 = 0
        /// The log's head when the rebuild started: about how many events it reads.
        var of: Int64 = 0
        /// What it is doing: reading the log, creating an index, catching up.
        var step = "reading the log stream by stream"
        /// When the pass began (its first report, of no events yet), its last batch was
        /// reported, the last index was created, and the rebuild ended.
        var passBegan: ContinuousClock.Instant?
        var lastBatch: ContinuousClock.Instant?
        var lastIndex: ContinuousClock.Instant?
        var finished: ContinuousClock.Instant?

        func progress(since start: ContinuousClock.Instant) -> RebuildProgress {
            let seconds = max((ContinuousClock.now - start).seconds, 0.001)
            return RebuildProgress(
                events: events,
                of: max(of, events),
                step: step,
                seconds: (seconds * 10).rounded() / 10,
                eventsPerSecond: Int64(Double(events) / seconds),
                phases: phases(since: start)
            )
        }

        /// The phases of a finished rebuild (nil before it ends).
        func phases(since start: ContinuousClock.Instant) -> RebuildPhases? {
            guard let finished else { return nil }
            let passEnd = lastBatch ?? start
            let indexesEnd = max(lastIndex ?? passEnd, passEnd)
            func rounded(_ d: Duration) -> Double { (max(d.seconds, 0) * 1000).rounded() / 1000 }
            return RebuildPhases(
                start: rounded((passBegan ?? passEnd) - start),
                pass: rounded(passEnd - (passBegan ?? passEnd)),
                indexes: rounded(indexesEnd - passEnd),
                catchUp: rounded(finished - indexesEnd)
            )
        }

        package func words(since start: ContinuousClock.Instant) -> String {
            let seconds = max((ContinuousClock.now - start).seconds, 0.001)
            return
                "\(events) of \(max(of, events)) events in \(String(format: "%.1f", seconds)) s (\(Int(Double(events) / seconds)) events/s), \(step)"
                + (phases(since: start).map { "; \($0.words)" } ?? "")
        }
    }

    private let state = Mutex(Snapshot())

    package init() {}

    package var snapshot: Snapshot { state.withLock { $0 } }

    package func finish() {
        state.withLock {
            $0.step = "done"
            $0.finished = .now
        }
    }

    package func record(_ step: CatchUpProgress) {
        state.withLock { s in
            if let index = step.indexCreated {
                s.step = "created index \(index)"
                s.lastIndex = .now
            } else if step.rebuilding {
                if s.passBegan == nil { s.passBegan = .now }
                s.lastBatch = .now
                s.events += Int64(step.applied)
                s.of = max(s.of, step.target)
                s.step = "reading the log stream by stream"
            } else {
                s.step = "catching up on what was recorded meanwhile"
            }
        }
    }
}

extension Duration {
    /// The duration in seconds, as a double.
    package var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

extension StoreFigures {
    package init(_ figures: WriteFigures) {
        self.init(
            commits: figures.commits,
            pagesWritten: figures.pagesWritten,
            groups: figures.groups,
            writes: figures.writes
        )
    }
}

extension AdminFigures {
    /// This process's resident memory and open descriptors, from /proc.
    package static func process() -> (residentBytes: Int64, openDescriptors: Int) {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let kib =
            status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { Int64($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") }
            ?? 0
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        return (kib * 1024, descriptors)
    }
}
