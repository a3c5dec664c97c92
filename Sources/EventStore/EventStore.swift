import CSQLite
import Foundation
import Synchronization

/// An append-only event log in one SQLite file.
///
/// All writes go through one connection behind a lock, so positions are assigned in commit
/// order; reads use a small pool of read-only connections and never block writes (WAL).
///
/// Async callers never block Swift's cooperative threads: the async `write(_:)` hands the work to the
/// writer thread, which commits every write waiting when it is free in one transaction (group
/// commit: one fsync for all), and the async reads run on reader threads of their own. The
/// synchronous methods are for tools, tests and start-up.
///
/// The store knows streams, versions, event types and JSON payloads, and nothing about
/// what the events mean.
public final class EventStore: Sendable {
    /// How durable each commit is.
    public enum Synchronous: String, Sendable, Codable, CaseIterable {
        /// fsync on every commit: an acknowledged append survives power loss.
        case full
        /// fsync at checkpoints only: survives a process crash, may lose the last commits on power loss.
        case normal
    }

    public struct Options: Sendable {
        public var synchronous: Synchronous
        /// How long a statement waits for a lock held by another connection.
        public var busyTimeout: Duration
        /// Read connections kept open for queries and subscriptions.
        public var maximumReaders: Int
        /// The clock that stamps `recordedAt`; injectable for tests.
        public var clock: @Sendable () -> Date
        /// The writer connection's page cache in KiB (`PRAGMA cache_size`); nil keeps SQLite's
        /// 2 MiB. A bulk load into a large file goes faster with the indexes' pages in it.
        public var writerCacheKiB: Int?
        /// The writer's page cache in KiB while a rebuild pass runs (given back after it): each
        /// batch then writes an index page once instead of spilling and rewriting it.
        public var rebuildCacheKiB: Int
        /// Whether opening the store finishes the rebuild passes it finds (a projection at a new
        /// version, or one whose pass stopped midway) before it returns. A service that answers
        /// while they run passes false and calls `finishRebuilds(progress:)` once it serves:
        /// the rest of the store (appends, reads, the projections not being rebuilt) is usable
        /// meanwhile, and ``rebuildsInProgress()`` names those that are not.
        public var finishesRebuildsOnOpen: Bool
        /// WAL frames (pages) after a commit from which a thread of the store's own checkpoints
        /// the WAL into the main file (PASSIVE, off the writer's path); the writer checkpoints
        /// itself only past eight times as many. Tests lower it.
        public var checkpointFrames: Int
        /// Hears what the store works around instead of failing a call on (a checkpoint of the
        /// WAL that failed, and that one succeeded again): a service logs them, because the WAL
        /// grows while checkpoints fail. Called on the store's own threads, once when a failure
        /// starts and once when it ends, not at every attempt; nil ignores them.
        public var conditions: (@Sendable (StoreCondition) -> Void)?

        public init(
            synchronous: Synchronous = .full,
            busyTimeout: Duration = .seconds(5),
            maximumReaders: Int = 4,
            clock: @escaping @Sendable () -> Date = { Date() },
            writerCacheKiB: Int? = nil,
            rebuildCacheKiB: Int = 32 * 1024,
            finishesRebuildsOnOpen: Bool = true,
            checkpointFrames: Int = 8000,
            conditions: (@Sendable (StoreCondition) -> Void)? = nil
        ) {
            self.synchronous = synchronous
            self.busyTimeout = busyTimeout
            self.maximumReaders = maximumReaders
            self.clock = clock
            self.writerCacheKiB = writerCacheKiB
            self.rebuildCacheKiB = rebuildCacheKiB
            self.finishesRebuildsOnOpen = finishesRebuildsOnOpen
            self.checkpointFrames = max(1, checkpointFrames)
            self.conditions = conditions
        }
    }

    public let path: String
    let options: Options
    private let writer: WriterLock
    private let readers: Mutex<[SQLiteConnection]>
    let projections: [any Projection]
    let headWatcher: HeadWatcher
    let writeQueue: WriteQueue
    let readPool: ReadPool
    let closedError: EventStoreError
    /// The writer's published rebuild passes and checkpoints (``rebuildsInProgress()``,
    /// ``projectionCheckpoints()``).
    private let published: PublishedProgress
    /// The writer's commits and the pages they wrote (``writeFigures``).
    let writeCounters: WriteCounters

    /// Opens (creating if needed) the event log at `path`, runs the migrations it lacks,
    /// prepares the given projections and catches them up to the head.
    ///
    /// `progress` hears how the catch-up goes, batch by batch (a new version of a read model is
    /// rebuilt here, which takes minutes on a large log: a service tells its supervisor, or
    /// leaves the rebuild for later with ``Options/finishesRebuildsOnOpen``).
    public init(
        path: String,
        options: Options = .init(),
        projections: [any Projection] = [],
        progress: ((CatchUpProgress) -> Void)? = nil
    ) throws(EventStoreError) {
        self.path = path
        self.options = options
        self.projections = projections
        let names = projections.map(\.name)
        guard Set(names).count == names.count else {
            throw EventStoreError(
                .invalidArgument,
                "two projections share a name (\(names.joined(separator: ", "))); give each its own name"
            )
        }
        let connection: SQLiteConnection
        do {
            connection = try SQLiteConnection(path: path)
        } catch {
            throw EventStoreError.from(error, path: path, doing: "open")
        }
        let writer = Writer(db: connection, path: path, options: options)
        try writer.prepareFile()
        try writer.loadCheckpoints(for: projections)
        let head = try writer.headPosition()
        self.headWatcher = HeadWatcher(head: head)
        self.published = writer.published
        self.writeCounters = writer.counters
        let shared = WriterLock(writer)
        self.writer = shared
        self.readers = Mutex([])
        let closed = EventStoreError(.closed, "the event log \(path) is closed")
        self.closedError = closed
        let projections = projections
        let watcher = headWatcher
        self.writeQueue = WriteQueue(name: "imr-writer") { jobs in
            EventStore.commit(jobs, writer: shared, projections: projections, headWatcher: watcher, closed: closed)
        }
        self.readPool = ReadPool(threads: max(options.maximumReaders, 1), name: "imr-reader", closedError: closed) {
            () throws(EventStoreError) in
            try EventStore.openReader(path: path, options: options, doing: "open a read connection")
        }
        do {
            try catchUp(
                batchSize: 1000,
                doing: "catch up projections",
                rebuilding: options.finishesRebuildsOnOpen,
                progress: progress
            ) { nil }
            try withWriter { (w: Writer) throws(EventStoreError) in
                try w.transaction(doing: "open projections") { () throws(EventStoreError) in
                    for projection in projections {
                        try w.sql("open projection '\(projection.name)'") {
                            try projection.opened(ProjectionDatabase(w.db, path: path))
                        }
                    }
                }
            }
        } catch {
            writeQueue.close()
            readPool.close()
            throw error
        }
    }

    deinit {
        writeQueue.close()
        readPool.close()
    }

    /// Closes every connection. Appends and reads after this fail with `.closed`;
    /// open subscriptions end.
    public func close() {
        // Writes already accepted commit; queued reads are abandoned and running ones interrupted.
        writeQueue.close()
        readPool.close()
        let w = writer.mutex.withLock { w -> Writer? in
            let old = w
            w = nil
            return old
        }
        w?.shutdown()
        readers.withLock { $0.removeAll() }
        headWatcher.close()
    }

    // MARK: - Appending

    /// Appends events to a stream atomically, if the stream is at the expected version.
    ///
    /// Re-sending events whose ids are already stored, in the same stream and order, is an
    /// idempotent retry: it succeeds and writes nothing. Reusing an id for different content,
    /// or at another place, is refused with `.duplicateEventId`.
    @discardableResult
    public func append(
        to streamId: String,
        expected: ExpectedVersion,
        events: [NewEvent]
    ) throws(EventStoreError) -> AppendResult {
        let request = AppendRequest(streamId: streamId, expected: expected, events: events)
        let result = try withWriter { (w: Writer) throws(EventStoreError) -> AppendResult in
            try w.transaction(doing: "append to stream '\(streamId)'") { () throws(EventStoreError) in
                try w.append(request, projections: projections)
            }
        }
        if let last = result.lastPosition, !result.wasAlreadyStored {
            headWatcher.advance(to: last, changes: result.streamChanges)
        }
        return result
    }

    /// Appends to several streams in one transaction (group commit): one fsync for all.
    /// Each request succeeds or fails on its own; a failed request writes nothing.
    public func append(
        batch requests: [AppendRequest]
    ) throws(EventStoreError) -> [Result<AppendResult, EventStoreError>] {
        let results = try withWriter { (w: Writer) throws(EventStoreError) -> [Result<AppendResult, EventStoreError>] in
            try w.transaction(doing: "append a batch of \(requests.count) requests") { () throws(EventStoreError) in
                var results: [Result<AppendResult, EventStoreError>] = []
                results.reserveCapacity(requests.count)
                for request in requests {
                    do throws(EventStoreError) {
                        let r = try w.appendAlone(request, projections: projections)
                        results.append(.success(r))
                    } catch {
                        // A refused request leaves the others standing; a storage failure fails them all.
                        guard EventStore.requestLevelKinds.contains(error.kind) else { throw error }
                        results.append(.failure(error))
                    }
                }
                return results
            }
        }
        let written = results.compactMap { try? $0.get() }.filter { !$0.wasAlreadyStored }
        if let last = written.compactMap(\.lastPosition).max() {
            headWatcher.advance(
                to: last,
                changes: written.flatMap(\.streamChanges).sorted { $0.position < $1.position }
            )
        }
        return results
    }

    static let requestLevelKinds: Set<EventStoreError.Kind> = [
        .wrongExpectedVersion, .duplicateEventId, .invalidArgument, .projectionFailed,
    ]

    // MARK: - Reading

    /// The events of one stream with a version at or after `version`, in order.
    public func read(
        stream streamId: String,
        from version: Int64 = 1,
        limit: Int = .max
    ) throws(EventStoreError) -> [RecordedEvent] {
        try withReader(doing: "read stream '\(streamId)'") { (db: SQLiteConnection) throws(SQLiteError) in
            try Query.stream(db, streamId, from: version, limit: limit)
        }
    }

    /// Up to `limit` events of the whole log with a position at or after `position`, in order.
    public func readAll(from position: Int64 = 1, limit: Int = 1000) throws(EventStoreError) -> [RecordedEvent] {
        try withReader(doing: "read the log") { (db: SQLiteConnection) throws(SQLiteError) in
            try Query.all(db, from: position, limit: limit)
        }
    }

    /// The event with this id, wherever it is stored; nil when there is none.
    public func event(id: UUID) throws(EventStoreError) -> RecordedEvent? {
        try withReader(doing: "look up event \(id)") { (db: SQLiteConnection) throws(SQLiteError) in
            try Query.event(db, id)
        }
    }

    /// The last version of a stream; 0 when it does not exist.
    public func version(of streamId: String) throws(EventStoreError) -> Int64 {
        try withReader(doing: "read the version of stream '\(streamId)'") {
            (db: SQLiteConnection) throws(SQLiteError) in
            try Query.version(db, streamId)
        }
    }

    /// The position of the last event; 0 for an empty log.
    public func headPosition() throws(EventStoreError) -> Int64 {
        try withReader(doing: "read the head position") { (db: SQLiteConnection) throws(SQLiteError) in
            try Query.head(db)
        }
    }

    /// Runs read-only queries (for example over projection tables) on a consistent snapshot.
    public func read<T>(_ body: (ProjectionDatabase) throws -> T) throws -> T {
        try withReader(doing: "query") { (db: SQLiteConnection) throws(SQLiteError) in
            try Query.snapshot(db, path: path, body)
        }.get()
    }

    /// Events from `position` on: first those already stored, then each new one as it
    /// commits, in order, until the task is cancelled or the store closes.
    public func subscribe(from position: Int64 = 1) -> EventSubscription {
        EventSubscription(store: self, next: max(position, 1)) { (store, from, limit) async throws(EventStoreError) in
            try await store.readAll(from: from, limit: limit)
        }
    }

    /// Which streams changed from `position` on, as ``subscribe(from:)`` follows the log but
    /// reading only positions and stream ids.
    public func subscribeToStreams(from position: Int64 = 1) -> LogSubscription<StreamChange> {
        LogSubscription(store: self, next: max(position, 1)) { (store, from, limit) async throws(EventStoreError) in
            // Near the head, from the last commits kept in memory: no read.
            if let recent = store.headWatcher.recentChanges(from: from, limit: limit) { return recent }
            return try await store.streamChanges(from: from, limit: limit)
        }
    }

    // MARK: - Integrity and backup

    /// Recomputes the hash chain from the first event and reports the first position whose
    /// link, hash or content does not match.
    public func verify() throws(EventStoreError) -> VerificationReport {
        try withReader(doing: "verify the hash chain") { (db: SQLiteConnection) throws(SQLiteError) in
            try Query.verify(db)
        }
    }

    /// The head anchor: the position and hash of the last event the store wrote.
    public func head() throws(EventStoreError) -> LogHead? {
        try withReader(doing: "read the head anchor") { (db: SQLiteConnection) throws(SQLiteError) in
            try HeadAnchor.read(db)
        }
    }

    /// Checks the log's head cheaply, without opening it for use: the head anchor against the
    /// last event (whose hash is recomputed), two rows whatever the size of the log. Runs
    /// the migrations the file lacks first (an older file gets its anchor from its head).
    /// A deleted tail, events added behind the store's back or a replaced last event show
    /// here; an event altered further back shows only in `verify()`.
    public static func checkHead(path: String, options: Options = .init()) throws(EventStoreError) -> HeadCheck {
        let connection: SQLiteConnection
        do { connection = try SQLiteConnection(path: path) } catch {
            throw EventStoreError.from(error, path: path, doing: "open")
        }
        let writer = Writer(db: connection, path: path, options: options)
        try writer.prepareFile()
        return try writer.sql("check the head of the log") { try HeadAnchor.check(connection) }
    }

    /// Writes a consistent copy of the whole database to `destination` while appends go on.
    ///
    /// The copy is written to `destination.partial` (created afresh, mode 0600, never through
    /// a symbolic link), made durable, and renamed into place when complete; on any failure the
    /// partial file is removed. An existing `destination` is refused unless `replacing` (and
    /// even then only a regular file is replaced, never followed through a link); the store's
    /// own files (the database, its `-wal`, `-shm` and `-journal`) are never a destination.
    public func backup(to destination: String, replacing: Bool = false) throws(EventStoreError) -> BackupReport {
        try backup(to: destination, replacing: replacing) { (action, copy) throws(EventStoreError) in
            try withReader(doing: action, copy)
        }
    }

    /// The backup, copying from the connection `source` hands to its body.
    func backup(
        to destination: String,
        replacing: Bool,
        source: (String, (SQLiteConnection) throws(SQLiteError) -> BackupReport) throws(EventStoreError) -> BackupReport
    ) throws(EventStoreError) -> BackupReport {
        try checkBackupDestination(destination, replacing: replacing)
        let partial = destination + ".partial"
        var info = stat()
        if lstat(partial, &info) == 0 {
            // A copy left by an interrupted backup: only ever a regular file or a link, removed as such.
            guard (info.st_mode & S_IFMT) == S_IFREG || (info.st_mode & S_IFMT) == S_IFLNK else {
                throw EventStoreError(
                    .invalidArgument,
                    "\(partial) exists and is not a file left by a backup; remove it or choose another name"
                )
            }
            unlink(partial)
        }
        let fd = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw EventStoreError(
                errno == ENOSPC ? .diskFull : .notWritable,
                "cannot create the backup \(partial): \(reason); check that the directory exists and the daemon's user may write to it"
            )
        }
        fchmod(fd, 0o600)
        Glibc.close(fd)
        var renamed = false
        defer { if !renamed { unlink(partial) } }
        let report = try source("back up to \(destination)") {
            (source: SQLiteConnection) throws(SQLiteError) -> BackupReport in
            let target = try SQLiteConnection(path: partial)
            guard let backup = sqlite3_backup_init(target.handle, "main", source.handle, "main") else {
                throw target.error(sqlite3_errcode(target.handle))
            }
            // One step copies every page under a single read transaction: a consistent
            // snapshot. WAL lets the writer go on meanwhile.
            let rc = sqlite3_backup_step(backup, -1)
            let pages = sqlite3_backup_pagecount(backup)
            sqlite3_backup_finish(backup)
            guard rc == SQLITE_DONE else { throw target.error(rc) }
            try target.execute("PRAGMA journal_mode = DELETE")
            let events = try target.scalarInt("SELECT COUNT(*) FROM events") ?? 0
            let head = try target.scalarInt("SELECT COALESCE(MAX(position), 0) FROM events") ?? 0
            return BackupReport(path: destination, pages: Int64(pages), events: events, headPosition: head)
        }
        // The copy's own connection is closed: its pages are on disk (rollback journal,
        // synchronous=FULL). Make the file durable, then the rename.
        let copy = open(partial, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if copy >= 0 {
            fsync(copy)
            Glibc.close(copy)
        }
        // Checked again just before the rename: a file that appeared meanwhile is not replaced.
        try checkBackupDestination(destination, replacing: replacing)
        guard rename(partial, destination) == 0 else {
            throw EventStoreError(
                .notWritable,
                "cannot rename \(partial) to \(destination): \(String(cString: strerror(errno))); the partial copy was removed"
            )
        }
        renamed = true
        let directory = (destination as NSString).deletingLastPathComponent
        let dirfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 {
            fsync(dirfd)
            Glibc.close(dirfd)
        }
        return report
    }

    /// Refuses a backup destination that exists (unless `replacing` a regular file) or that
    /// is one of the store's own files.
    private func checkBackupDestination(_ destination: String, replacing: Bool) throws(EventStoreError) {
        var target = stat()
        guard lstat(destination, &target) == 0 else { return }
        for own in [path, path + "-wal", path + "-shm", path + "-journal"] {
            var info = stat()
            if stat(own, &info) == 0, info.st_dev == target.st_dev, info.st_ino == target.st_ino {
                throw EventStoreError(
                    .invalidArgument,
                    "\(destination) is the event log's own file \(own); a backup never replaces it: choose another name"
                )
            }
        }
        guard (target.st_mode & S_IFMT) == S_IFREG else {
            throw EventStoreError(
                .invalidArgument,
                "\(destination) exists and is not a regular file (a link, directory or socket); a backup never replaces it: choose another name"
            )
        }
        guard replacing else {
            throw EventStoreError(
                .invalidArgument,
                "\(destination) already exists; choose another name, or ask for it to be replaced"
            )
        }
    }

    // MARK: - Projections

    /// Brings every projection up to the head, in batches, each batch and its checkpoint in
    /// one transaction. Appends may go on between batches.
    public func catchUpProjections(batchSize: Int = 1000) throws(EventStoreError) {
        try catchUp(batchSize: batchSize, doing: "catch up projections", progress: nil) { nil }
    }

    /// Finishes the rebuild passes opening the store left (``Options/finishesRebuildsOnOpen``
    /// false): each pass from its cursor, the indexes it left out, then what was appended
    /// meanwhile. Nothing to do when none is left. When the daemon stops reads
    /// (``stopReads()``) it stops between two batches with `.interrupted`, and the passes go
    /// on from there when the store next opens. `progress` hears after each batch.
    public func finishRebuilds(progress: ((CatchUpProgress) -> Void)?) throws(EventStoreError) {
        try catchUp(batchSize: 1000, doing: "finish rebuilding projections", progress: progress) {
            guard readPool.readsStopped else { return nil }
            return EventStoreError(
                .interrupted,
                "the rebuild stopped because the daemon is stopping; it goes on from where it stopped when the daemon next starts"
            )
        }
    }

    /// Applies batches until every projection is at the head (but those in a rebuild pass,
    /// when not `rebuilding`); before each batch, `stop` may end it with an error.
    private func catchUp(
        batchSize: Int,
        rebuildBatchSize: Int = EventStore.rebuildBatchSize,
        doing action: String,
        rebuilding: Bool = true,
        progress: ((CatchUpProgress) -> Void)?,
        stop: () -> EventStoreError?
    ) throws(EventStoreError) {
        // Rebuild passes first (each reads the log up to the head it started at), then the
        // indexes they left out, then what was appended meanwhile, in position order.
        var passes = 0
        while rebuilding,
            let (group, cursor) = try withWriter({ (w: Writer) throws(EventStoreError) in
                w.nextRebuildPass(of: projections)
            })
        {
            if let error = stop() { throw error }
            passes += 1
            try runRebuildPass(
                group,
                from: cursor,
                batchSize: rebuildBatchSize,
                doing: action,
                progress: progress,
                stop: stop
            )
        }
        if rebuilding { try createDeferredIndexes(doing: action, progress: progress) }
        // Followers of the commits (the alert scheduler) look again: the rows changed.
        if passes > 0 { headWatcher.readModelsChanged() }
        while true {
            if let error = stop() { throw error }
            let done = try withWriter { (w: Writer) throws(EventStoreError) -> Bool in
                try w.transaction(doing: action) { () throws(EventStoreError) -> Bool in
                    try w.catchUpOneBatch(projections: projections, batchSize: batchSize, progress: progress)
                }
            }
            if done { return }
        }
    }

    /// Creates the deferred indexes of projections whose rebuild pass has ended, each in a
    /// transaction of its own (appends wait while one is built).
    private func createDeferredIndexes(
        doing action: String,
        progress: ((CatchUpProgress) -> Void)?
    ) throws(EventStoreError) {
        // Found and created under one hold of the writer: two callers finishing the same pass
        // (a rebuild asked for while the daemon finishes one) would otherwise both find an
        // index waiting and the second fail to create it again.
        while let next = try withWriter({
            (w: Writer) throws(EventStoreError) -> (projection: String, name: String, sql: String)? in
            guard let next = try w.pendingIndexes().first(where: { !w.isRebuilding($0.projection) }) else { return nil }
            try w.transaction(doing: action) { () throws(EventStoreError) in
                try w.createDeferredIndex(projection: next.projection, name: next.name, sql: next.sql)
            }
            return next
        }) {
            progress?(
                CatchUpProgress(
                    projections: [next.projection],
                    applied: 0,
                    rebuilding: true,
                    target: 0,
                    indexCreated: next.name
                )
            )
        }
    }

    /// Drops a projection's tables and rebuilds it from the log (see `rebuildProjections(named:batchSize:progress:)`).
    public func rebuildProjection(named name: String) throws(EventStoreError) {
        try rebuildProjections(named: [name], progress: nil)
    }

    /// What a rebuild of `names` rebuilds: them and the projections that read them
    /// (``Projection/reads``), in the order they were registered.
    public func projectionsRebuilt(with names: [String]) -> [String] {
        withReaders(of: Set(names), in: projections).map(\.name)
    }

    /// Drops the named projections' tables, and those of the projections that read them
    /// (``projectionsRebuilt(with:)``), and rebuilds them from the log, together.
    ///
    /// They are reset in one transaction, then read the log up to its head as it was then
    /// stream by stream (a stream's events in version order), a batch at a time, each batch and
    /// the pass's cursor in one transaction, every event applied to all of them in turn; then
    /// they catch up in position order on what was appended meanwhile. Appends go on between
    /// batches. When the daemon stops reads (``stopReads()``, on SIGTERM) the rebuild stops
    /// between two batches with `.interrupted`: the pass goes on from its cursor when the store
    /// next opens. `progress` hears after each batch.
    /// `batchSize`: events a transaction (the default suits large logs; tests use small ones).
    public func rebuildProjections(
        named names: [String],
        batchSize: Int = rebuildBatchSize,
        progress: ((CatchUpProgress) -> Void)?
    ) throws(EventStoreError) {
        var chosen: [any Projection] = []
        for name in names {
            guard let projection = projections.first(where: { $0.name == name }) else {
                let known = projections.map(\.name).joined(separator: ", ")
                throw EventStoreError(
                    .invalidArgument,
                    "there is no projection named '\(name)'; known projections: \(known.isEmpty ? "none" : known)"
                )
            }
            if !chosen.contains(where: { $0.name == name }) { chosen.append(projection) }
        }
        chosen = withReaders(of: Set(chosen.map(\.name)), in: projections)
        let list = chosen.map(\.name).joined(separator: ", ")
        // Before the writer is held: the drop below then reads from memory (commands wait for it).
        Writer.warmPageCache(path: path) { [readPool] in readPool.readsStopped }
        let head = try withWriter { (w: Writer) throws(EventStoreError) -> Int64 in
            try w.transaction(doing: "reset projections \(list)") { () throws(EventStoreError) -> Int64 in
                let head = try w.headPosition()
                // In the order they were registered: a projection may read another's tables.
                try w.reset(projections.filter { p in chosen.contains(where: { $0.name == p.name }) }, head: head)
                return head
            }
        }
        // The old rows are gone and the pass begins: a report of nothing applied yet.
        progress?(CatchUpProgress(projections: chosen.map(\.name), applied: 0, rebuilding: true, target: head))
        try catchUp(
            batchSize: max(batchSize, 1),
            rebuildBatchSize: max(batchSize, 1),
            doing: "rebuild projections \(list)",
            progress: progress
        ) {
            guard readPool.readsStopped else { return nil }
            return EventStoreError(
                .interrupted,
                "the rebuild of \(list) stopped because the daemon is stopping; it goes on from where it stopped when the daemon next starts"
            )
        }
    }

    /// Events a rebuild applies in one transaction.
    public static let rebuildBatchSize = 5000

    /// The projections being rebuilt, each with the position the pass reads the log up to:
    /// those in a pass or waiting for their deferred indexes, and those whose pass has ended
    /// but that have not yet caught up on what was appended meanwhile (with the head: a list
    /// would miss those events). Does not wait for the writer (a caller on the cooperative
    /// pool may ask).
    public func rebuildsInProgress() -> [String: Int64] {
        // The head first: checkpoints are published as a transaction commits, before the head
        // moves, so a projection kept up to date is never seen behind it.
        let head = headWatcher.currentHead
        var rebuilding = published.targets.withLock { $0 }
        for (name, checkpoint) in published.checkpoints.withLock({ $0 })
        where checkpoint < head && rebuilding[name] == nil {
            rebuilding[name] = head
        }
        return rebuilding
    }

    /// The checkpoint (last applied position) of every registered projection, as committed;
    /// empty once the store is closed. Does not wait for the writer.
    public func projectionCheckpoints() -> [String: Int64] {
        headWatcher.isClosed ? [:] : published.checkpoints.withLock { $0 }
    }

    // MARK: - Plumbing

    func withWriterForInspection<T>(_ body: (Writer) throws(EventStoreError) -> T) throws(EventStoreError) -> T {
        try withWriter(body)
    }

    func withWriter<T>(_ body: (Writer) throws(EventStoreError) -> T) throws(EventStoreError) -> T {
        try writer.mutex.withLock { (w: inout Writer?) throws(EventStoreError) -> T in
            guard let w else { throw EventStoreError(.closed, "the event log \(path) is closed") }
            return try body(w)
        }
    }

    static func openReader(
        path: String,
        options: Options,
        doing action: String
    ) throws(EventStoreError) -> SQLiteConnection {
        do {
            let connection = try SQLiteConnection(path: path, create: false)
            connection.setBusyTimeout(milliseconds: Int32(clamping: options.busyTimeout.milliseconds))
            try connection.execute("PRAGMA query_only = 1")
            return connection
        } catch {
            throw EventStoreError.from(error, path: path, doing: action)
        }
    }

    func withReader<T>(
        doing action: String,
        _ body: (SQLiteConnection) throws(SQLiteError) -> T
    ) throws(EventStoreError) -> T {
        guard !headWatcher.isClosed else { throw EventStoreError(.closed, "the event log \(path) is closed") }
        if let own = readPool.connectionOfCurrentThread() {
            do { return try body(own) } catch { throw EventStoreError.from(error, path: path, doing: action) }
        }
        let connection: SQLiteConnection
        if let pooled = readers.withLock({ $0.popLast() }) {
            connection = pooled
        } else {
            connection = try Self.openReader(path: path, options: options, doing: action)
        }
        defer {
            if !connection.isInTransaction {
                readers.withLock { pool in
                    if pool.count < options.maximumReaders { pool.append(connection) }
                }
            }
        }
        do {
            return try body(connection)
        } catch {
            throw EventStoreError.from(error, path: path, doing: action)
        }
    }
}

/// What a backup wrote.
public struct BackupReport: Sendable, Hashable, Codable {
    public let path: String
    public let pages: Int64
    public let events: Int64
    public let headPosition: Int64
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

extension EventStore {
    /// Reads an integer pragma on the writing connection (for diagnostics and tests).
    func writerPragma(_ name: String) throws(EventStoreError) -> Int64? {
        try withWriterForInspection { (w: Writer) throws(EventStoreError) in
            try w.sql("read PRAGMA \(name)") { try w.db.scalarInt("PRAGMA \(name)") }
        }
    }
}
