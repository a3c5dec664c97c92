import CSQLite
import CSQLiteVFS
import Foundation
import Synchronization

/// The single writing connection and what it caches. Used only under the store's writer lock.
// @unchecked Sendable: a Writer lives inside the store's Mutex and is only touched
// under that lock.
final class Writer: @unchecked Sendable {
    let db: SQLiteConnection
    let path: String
    let options: EventStore.Options
    /// Last applied position of each registered projection, as committed.
    private(set) var checkpoints: [String: Int64] = [:] {
        didSet { published.checkpoints.withLock { [checkpoints] in $0 = checkpoints } }
    }
    /// Checkpoint changes of the open transaction, published on commit.
    private var pendingCheckpoints: [String: Int64] = [:]
    /// The projections whose pending checkpoint is not in the table yet (written at commit).
    private var unwrittenCheckpoints: Set<String> = []
    /// Projections in a rebuild pass (see ``RebuildCursor``), as committed.
    private(set) var rebuilds: [String: RebuildCursor] = [:]
    /// Rebuild pass changes of the open transaction (nil: the pass ended), published on commit.
    private var pendingRebuilds: [String: RebuildCursor?] = [:]
    /// Whether the open transaction changed which deferred indexes wait (one created, or the
    /// projections being opened): the published passes are worked out again on commit.
    private var deferredIndexesChanged = false
    private var savepointDepth = 0
    /// The last event's position and hash as of the open transaction; saves a query per
    /// request in a batch. Valid only inside one transaction.
    private var head: (position: Int64, hash: [UInt8])?
    /// The head position as the open transaction found it: the anchor is written once, at
    /// commit, when the transaction moved the head.
    private var headAtStart: Int64?

    /// The rebuild passes (by name: the position each reads the log up to) and the
    /// checkpoints as committed, readable without the writer lock.
    let published = PublishedProgress()
    /// Its commits and the pages they wrote, read by ``EventStore/writeFigures`` from any thread.
    let counters = WriteCounters()

    init(db: SQLiteConnection, path: String, options: EventStore.Options) {
        self.db = db
        self.path = path
        self.options = options
        self.checkpointer = Checkpointer(
            path: path,
            busyTimeoutMilliseconds: Int32(clamping: options.busyTimeout.milliseconds),
            conditions: options.conditions
        )
        self.ownCheckpoints = FailureStreak(path: path, by: .writer, conditions: options.conditions)
        walFrames.initialize(to: 0)
    }

    deinit {
        checkpointer.stop()
        sqlite3_wal_hook(db.handle, nil, nil)
        walFrames.deallocate()
    }

    /// Checkpoints the WAL off this connection (see ``Checkpointer``).
    let checkpointer: Checkpointer
    /// Frames in the WAL after this connection's last commit (``imr_wal_track_frames``).
    private let walFrames = UnsafeMutablePointer<Int32>.allocate(capacity: 1)

    /// After a commit: asks the checkpointer for a checkpoint once the WAL passes
    /// ``EventStore/Options/checkpointFrames``, and checkpoints here only past eight times that
    /// (a reader that pins the WAL, or a checkpointer that cannot keep up, leaves it bounded).
    private func noteCommit() {
        // The pages this commit wrote to the WAL (SQLite's count since the last read, reset as
        // it is read: its counter is 32 bits).
        var pages: Int32 = 0
        var highest: Int32 = 0
        if sqlite3_db_status(db.handle, SQLITE_DBSTATUS_CACHE_WRITE, &pages, &highest, 1) == SQLITE_OK {
            counters.pages.add(Int64(pages), ordering: .relaxed)
        }
        counters.commits.add(1, ordering: .relaxed)
        let frames = Int(walFrames.pointee)
        if frames < framesAfterLastCommit { counters.walRestarts.add(1, ordering: .relaxed) }
        framesAfterLastCommit = frames
        defer { framesAtLastRequest = min(framesAtLastRequest, frames) }
        let passes = checkpointer.passes.load(ordering: .relaxed)
        if passes != passesSeen {
            // The checkpoint thread finished a pass since the last commit: the frames committed
            // during it are copied by ``catchUpCheckpoint()`` once the callers have their replies.
            passesSeen = passes
            catchUpDue = true
        } else if frames >= 8 * options.checkpointFrames {
            do {
                try db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                ownCheckpoints.succeeded()
            } catch {
                ownCheckpoints.failed("\(error)", frames: frames)
            }
        } else if frames >= options.checkpointFrames, frames >= framesAtLastRequest + options.checkpointFrames / 2 {
            // Not at every commit: while a reader keeps the WAL from starting over, a checkpoint
            // a commit would sync the main file again and again for a few frames each.
            framesAtLastRequest = frames
            checkpointer.request()
        }
    }

    /// Whether the writer's own checkpoints (past eight times the threshold) fail, and since when.
    private var ownCheckpoints: FailureStreak

    /// The checkpoint thread's passes when the last commit looked, and whether the frames
    /// committed during its last pass are still to be copied (``catchUpCheckpoint()``).
    private var passesSeen = 0
    private var framesAfterLastCommit = 0
    private var catchUpDue = false

    /// Copies into the main file the frames committed while the checkpoint thread's last pass
    /// ran, here on the writer between two transactions, so that the next one starts the WAL
    /// over. The thread's passes alone never let it: under a steady load a commit always lands
    /// while a pass runs, and the WAL grew to eight times the threshold (250 MB) before the
    /// writer checkpointed it itself. Cheap: the pass copied and synced all the rest. Run after a
    /// group's replies (the queue), or before the next transaction; a failure is left to the
    /// next pass (a reader holding an old snapshot makes it copy less, which is no error).
    func catchUpCheckpoint() {
        guard catchUpDue else { return }
        catchUpDue = false
        try? db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    }

    /// The WAL's frames when the checkpointer was last asked (lower once the WAL started over).
    private var framesAtLastRequest = 0

    /// The statements every append runs, prepared once and held here: the connection's cache
    /// would hash their text on each use, a good part of a batched append's cost.
    private var hot: [HotStatement: SQLiteStatement] = [:]

    enum HotStatement: Hashable {
        case streamVersion, insertEvent
        case savepoint(Int)
        case release(Int)
        case rollbackTo(Int)

        var sql: String {
            switch self {
            case .streamVersion: "SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = ?"
            case .insertEvent:
                "INSERT INTO events (position, stream_id, stream_version, event_id, event_type, schema_version, payload, metadata, recorded_at_us, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            case .savepoint(let depth): "SAVEPOINT sp\(depth)"
            case .release(let depth): "RELEASE sp\(depth)"
            case .rollbackTo(let depth): "ROLLBACK TO sp\(depth)"
            }
        }
    }

    /// Runs a hot statement with `arguments` to its end; returns the first column of its
    /// first row when it has one.
    @discardableResult
    func run(_ key: HotStatement, _ arguments: [SQLiteValue] = []) throws(SQLiteError) -> Int64? {
        let stmt: SQLiteStatement
        if let known = hot[key] {
            stmt = known
        } else {
            stmt = try db.prepare(key.sql)
            hot[key] = stmt
        }
        defer { stmt.reset() }
        try stmt.bind(arguments)
        var first: Int64?
        if try stmt.step() {
            first = stmt.int64(0)
            while try stmt.step() {}
        }
        return first
    }

    static let selectColumns =
        "SELECT position, stream_id, stream_version, event_id, event_type, schema_version, payload, metadata, recorded_at_us, hash FROM events"

    static func decodeRows(_ stmt: SQLiteStatement) throws(SQLiteError) -> [RecordedEvent] {
        var events: [RecordedEvent] = []
        while try stmt.step() {
            // A stream's events come together: they share one string (no allocation each, and
            // projections comparing stream ids find them identical at once).
            let streamId = events.last.flatMap { stmt.text(1, ifEqualTo: $0.streamId) } ?? stmt.text(1)
            events.append(decodeRow(stmt, streamId: streamId))
        }
        stmt.reset()
        return events
    }

    static func decodeRow(_ stmt: SQLiteStatement, streamId: String? = nil) -> RecordedEvent {
        RecordedEvent(
            position: stmt.int64(0),
            streamId: streamId ?? stmt.text(1),
            streamVersion: stmt.int64(2),
            id: UUID.parse(stmt.text(3)) ?? UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
            type: stmt.text(4),
            schemaVersion: Int(stmt.int64(5)),
            payload: stmt.bytes(6),
            storedMetadata: .stored(stmt.bytes(7)),
            recordedAt: Date(timeIntervalSince1970: Double(stmt.int64(8)) / 1_000_000),
            hash: stmt.bytes(9)
        )
    }

    // MARK: Opening

    /// Sets the pragmas, checks that the file is an imr event log and runs missing migrations.
    func prepareFile() throws(EventStoreError) {
        do {
            db.setBusyTimeout(milliseconds: Int32(clamping: options.busyTimeout.milliseconds))
            let mode = try db.rows("PRAGMA journal_mode = WAL").first?[0].string ?? ""
            guard mode.lowercased() == "wal" else {
                throw EventStoreError(
                    .storage,
                    "the event log \(path) could not switch to WAL mode (it reports '\(mode)'); put it on a local file system"
                )
            }
            try db.execute("PRAGMA synchronous = \(options.synchronous == .full ? "FULL" : "NORMAL")")
            try db.execute("PRAGMA foreign_keys = ON")
            // Debian builds SQLite with secure_delete on: every freed page is zeroed and written,
            // so dropping a read model of 10 GB wrote 10 GB. The log is never deleted from and
            // the read models hold only what the log holds, so there is nothing to scrub.
            try db.execute("PRAGMA secure_delete = FAST")
            if let kib = options.writerCacheKiB { try db.execute("PRAGMA cache_size = -\(max(64, kib))") }
            // Checkpoints run on a thread of their own (``Checkpointer``), not at the end of a
            // commit: this hook replaces SQLite's automatic checkpoint.
            imr_wal_track_frames(db.handle, walFrames)
        } catch let error as SQLiteError {
            throw EventStoreError.from(error, path: path, doing: "open")
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw EventStoreError(.storage, "\(error)")
        }
        try migrate()
    }

    private func migrate() throws(EventStoreError) {
        try transaction(doing: "migrate the schema") { () throws(EventStoreError) in
            try sql("check the schema") {
                let applicationId = try db.scalarInt("PRAGMA application_id") ?? 0
                let objects = try db.scalarInt("SELECT COUNT(*) FROM sqlite_master") ?? 0
                if applicationId != Schema.applicationId && (applicationId != 0 || objects > 0) {
                    throw EventStoreError(
                        .notAnEventLog,
                        "\(path) is an SQLite database but not an imr event log (application id \(applicationId), \(objects) schema objects); point imr at its own state file"
                    )
                }
                try db.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_us INTEGER NOT NULL)"
                )
                let current = try db.scalarInt("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") ?? 0
                if current > Schema.latestVersion {
                    throw EventStoreError(
                        .schemaTooNew,
                        "the event log \(path) has schema version \(current), newer than this binary understands (\(Schema.latestVersion)); run a newer imr, or restore a backup made by this version"
                    )
                }
                for migration in Schema.migrations where migration.version > current {
                    try db.execute(migration.sql)
                    try db.run(
                        "INSERT INTO schema_migrations (version, name, applied_at_us) VALUES (?, ?, ?)",
                        [.integer(migration.version), .text(migration.name), .integer(micros(options.clock()))]
                    )
                }
                if applicationId == 0 { try db.execute("PRAGMA application_id = \(Schema.applicationId)") }
            }
        }
    }

    func loadCheckpoints(for projections: [any Projection]) throws(EventStoreError) {
        try transaction(doing: "prepare projections") { () throws(EventStoreError) in
            // Indexes a stop left waiting (a pass ended, its indexes not all created) count too.
            deferredIndexesChanged = true
            let head = try headPosition()
            var kept: [String: (stored: Int64, pass: RebuildCursor?)] = [:]
            var fresh: Set<String> = []
            var rebuilt: Set<String> = []
            for projection in projections {
                try sql("prepare projection '\(projection.name)'") {
                    let row = try db.rows(
                        "SELECT position, version, rebuild_to, rebuild_stream, rebuild_version FROM projection_checkpoints WHERE name = ?",
                        [.text(projection.name)]
                    ).first
                    let stored = row?[0].int64
                    let pass = row.flatMap { row in
                        row[2].int64.map {
                            RebuildCursor(target: $0, streamId: row[3].string ?? "", streamVersion: row[4].int64 ?? 0)
                        }
                    }
                    if let stored, stored <= head, row?[1].int64 == Int64(projection.version),
                        !(pass.map { $0.target > head } ?? false)
                    {
                        kept[projection.name] = (stored, pass)
                    } else if stored == nil {
                        fresh.insert(projection.name)
                    } else {
                        // A projection ahead of the log read events that are gone (a deleted
                        // tail), or one whose tables this build keeps differently: it is rebuilt
                        // from the log as it stands.
                        rebuilt.insert(projection.name)
                    }
                }
            }
            // And every projection that reads one of those: what it wrote came from their old rows.
            for projection in withReaders(of: fresh.union(rebuilt), in: projections)
            where !fresh.contains(projection.name) {
                rebuilt.insert(projection.name)
            }
            if !rebuilt.isEmpty { Writer.warmPageCache(path: path) }
            try drop(projections.filter { rebuilt.contains($0.name) })
            for projection in projections {
                if fresh.contains(projection.name) || rebuilt.contains(projection.name) {
                    try prepareAfresh(projection, head: head)
                } else if let (stored, pass) = kept[projection.name] {
                    pendingCheckpoints[projection.name] = stored
                    if let pass { pendingRebuilds[projection.name] = pass }
                }
            }
        }
    }

    func headPosition() throws(EventStoreError) -> Int64 {
        try sql("read the head position") { try db.scalarInt("SELECT COALESCE(MAX(position), 0) FROM events") ?? 0 }
    }

    func shutdown() {
        checkpointer.stop()
        // A clean close checkpoints the WAL into the main file.
        try? db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    }

    /// The writer's page cache outside a rebuild pass: the configured one, or SQLite's 2 MiB.
    var normalCacheKiB: Int { options.writerCacheKiB.map { max(64, $0) } ?? 2048 }

    /// Runs `body` (a transaction of read-model rows) with its commit left unsynced: in WAL
    /// mode with `synchronous=NORMAL` a commit is still atomic, and it becomes durable with the
    /// next synced commit or checkpoint. For a rebuild pass, whose rows the log can always give
    /// again and whose cursor commits with them: after a power loss the pass goes on from an
    /// earlier batch. Commands' transactions, run between, are synced as configured.
    func withoutSync<T>(_ body: () throws(EventStoreError) -> T) throws(EventStoreError) -> T {
        guard options.synchronous == .full else { return try body() }
        try sql("leave a rebuild batch unsynced") { try db.execute("PRAGMA synchronous = NORMAL") }
        let result: Result<T, EventStoreError>
        do throws(EventStoreError) { result = .success(try body()) } catch { result = .failure(error) }
        try sql("sync commits again") { try db.execute("PRAGMA synchronous = FULL") }
        return try result.get()
    }

    /// Sets the writer's page cache; a smaller one gives the memory back.
    func setCacheKiB(_ kib: Int) throws(EventStoreError) {
        try sql("set the page cache") {
            try db.execute("PRAGMA cache_size = -\(kib)")
            if kib <= normalCacheKiB { try db.execute("PRAGMA shrink_memory") }
        }
    }

    // MARK: Transactions

    func transaction<T>(doing action: String, _ body: () throws(EventStoreError) -> T) throws(EventStoreError) -> T {
        catchUpCheckpoint()
        try sql(action) { try db.run("BEGIN IMMEDIATE") }
        pendingCheckpoints = [:]
        unwrittenCheckpoints = []
        pendingRebuilds = [:]
        deferredIndexesChanged = false
        head = nil
        headAtStart = nil
        defer {
            head = nil
            headAtStart = nil
        }
        do {
            let result = try body()
            try sql(action) { try writeCheckpoints() }
            if let head, head.position != headAtStart {
                try sql(action) {
                    try db.run(
                        "UPDATE log_head SET position = ?, hash = ? WHERE id = 1",
                        [.integer(head.position), .blob(head.hash)]
                    )
                }
            }
            try sql(action) { try db.run("COMMIT") }
            noteCommit()
            checkpoints.merge(pendingCheckpoints) { _, new in new }
            pendingCheckpoints = [:]
            if !pendingRebuilds.isEmpty || deferredIndexesChanged {
                for (name, cursor) in pendingRebuilds { rebuilds[name] = cursor }
                pendingRebuilds = [:]
                deferredIndexesChanged = false
                publishRebuilds()
            }
            return result
        } catch {
            if db.isInTransaction { try? db.execute("ROLLBACK") }
            pendingCheckpoints = [:]
            unwrittenCheckpoints = []
            pendingRebuilds = [:]
            deferredIndexesChanged = false
            throw error
        }
    }

    func savepoint<T>(_ body: () throws(EventStoreError) -> T) throws(EventStoreError) -> T {
        savepointDepth += 1
        defer { savepointDepth -= 1 }
        let saved = savedState
        _ = try sql("open a savepoint") { try run(.savepoint(savepointDepth)) }
        do {
            let result = try body()
            _ = try sql("release a savepoint") { try run(.release(savepointDepth)) }
            return result
        } catch {
            rollBackSavepoint(restoring: saved)
            throw error
        }
    }

    private typealias SavedState = (
        checkpoints: [String: Int64], unwritten: Set<String>, head: (position: Int64, hash: [UInt8])?
    )

    /// What a savepoint puts back when it is rolled back: the checkpoints and the head the
    /// transaction had moved in memory.
    private var savedState: SavedState {
        (pendingCheckpoints, unwrittenCheckpoints, head)
    }

    /// Rolls back and releases the innermost savepoint, and restores what it saved.
    private func rollBackSavepoint(restoring saved: SavedState) {
        _ = try? run(.rollbackTo(savepointDepth))
        _ = try? run(.release(savepointDepth))
        pendingCheckpoints = saved.checkpoints
        unwrittenCheckpoints = saved.unwritten
        head = saved.head
    }

    /// Runs `body` in a savepoint, rolled back when it throws (whatever it throws).
    func savepointCatching<T>(_ body: () throws -> T) -> Result<T, any Error> {
        savepointDepth += 1
        defer { savepointDepth -= 1 }
        let saved = savedState
        do {
            try run(.savepoint(savepointDepth))
        } catch {
            return .failure(EventStoreError.from(error, path: path, doing: "open a savepoint"))
        }
        do {
            let result = try body()
            do { try run(.release(savepointDepth)) } catch {
                return .failure(EventStoreError.from(error, path: path, doing: "release a savepoint"))
            }
            return .success(result)
        } catch {
            rollBackSavepoint(restoring: saved)
            return .failure(error)
        }
    }

    /// Runs SQLite work, turning its failures into sentences about this file.
    func sql<T>(_ action: String, _ body: () throws -> T) throws(EventStoreError) -> T {
        do {
            return try body()
        } catch let error as EventStoreError {
            throw error
        } catch let error as SQLiteError {
            throw EventStoreError.from(error, path: path, doing: action)
        } catch {
            throw EventStoreError(.projectionFailed, "\(action) failed: \(error)")
        }
    }

    private func checkpoint(_ name: String) -> Int64 { pendingCheckpoints[name] ?? checkpoints[name] ?? 0 }

    /// Publishes the projections being rebuilt, as committed: those in a pass (with its
    /// target) and those whose pass has ended but whose deferred indexes are not all created
    /// yet (with their checkpoint): a query that names such an index fails until it is there.
    private func publishRebuilds() {
        var targets = rebuilds.mapValues(\.target)
        let waiting = (try? db.rows("SELECT DISTINCT projection FROM projection_deferred_indexes")) ?? []
        for row in waiting {
            guard let name = row[0].string, targets[name] == nil, checkpoints[name] != nil else { continue }
            targets[name] = checkpoints[name]
        }
        published.targets.withLock { $0 = targets }
    }

    private func rebuildCursor(_ name: String) -> RebuildCursor? {
        if let pending = pendingRebuilds[name] { return pending }
        return rebuilds[name]
    }

    /// Starts a rebuild pass up to `head` (none on an empty log: the projection is current).
    private func startRebuild(_ name: String, head: Int64) throws(SQLiteError) {
        try setRebuild(name, head > 0 ? RebuildCursor(target: head, streamId: "", streamVersion: 0) : nil)
    }

    /// Drops the projection's deferred indexes, keeping what creates them for the pass's end.
    private func deferIndexes(of projection: any Projection) throws(SQLiteError) {
        for name in projection.deferredIndexes {
            guard
                let statement = try db.rows(
                    "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?",
                    [.text(name)]
                ).first?[0].string
            else {
                continue
            }
            try db.run(
                "INSERT OR REPLACE INTO projection_deferred_indexes (projection, name, sql) VALUES (?, ?, ?)",
                [.text(projection.name), .text(name), .text(statement)]
            )
            try db.execute("DROP INDEX \"\(name.replacingOccurrences(of: "\"", with: "\"\""))\"")
        }
    }

    private func setRebuild(_ name: String, _ cursor: RebuildCursor?) throws(SQLiteError) {
        try db.run(
            "UPDATE projection_checkpoints SET rebuild_to = ?, rebuild_stream = ?, rebuild_version = ? WHERE name = ?",
            [
                cursor.map { .integer($0.target) } ?? .null, cursor.map { .text($0.streamId) } ?? .null,
                cursor.map { .integer($0.streamVersion) } ?? .null, .text(name),
            ]
        )
        pendingRebuilds[name] = .some(cursor)
    }

    /// Moves a projection's checkpoint in the open transaction; the row is written once, at
    /// commit (``writeCheckpoints()``), however many requests of a group commit moved it.
    private func setCheckpoint(_ name: String, _ position: Int64) {
        pendingCheckpoints[name] = position
        unwrittenCheckpoints.insert(name)
    }

    /// Writes the checkpoints the open transaction moved and has not written yet.
    private func writeCheckpoints() throws(SQLiteError) {
        for name in unwrittenCheckpoints.sorted() {
            guard let position = pendingCheckpoints[name] else { continue }
            try db.run(
                "INSERT INTO projection_checkpoints (name, position) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET position = excluded.position",
                [.text(name), .integer(position)]
            )
        }
        unwrittenCheckpoints = []
    }

    /// The checkpoint and the version the projection's tables were prepared at.
    private func setCheckpoint(_ name: String, _ position: Int64, version: Int) throws(SQLiteError) {
        try db.run(
            "INSERT INTO projection_checkpoints (name, position, version) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET position = excluded.position, version = excluded.version",
            [.text(name), .integer(position), .integer(Int64(version))]
        )
        pendingCheckpoints[name] = position
        unwrittenCheckpoints.remove(name)
    }

    // MARK: Appending

    /// Appends one request inside the open transaction and applies it to every projection
    /// that was current before it.
    func append(
        _ request: AppendRequest,
        projections: [any Projection],
        hint: (any Sendable)? = nil,
        recordedAtMicros: Int64? = nil
    ) throws(EventStoreError) -> AppendResult {
        let streamId = request.streamId
        guard !streamId.isEmpty else {
            throw EventStoreError(.invalidArgument, "a stream id must not be empty")
        }
        // Text with a NUL is cut there by many a C tool that reads the file, while the hash
        // covers all of it: such an id could never be verified consistently.
        guard !streamId.utf8.contains(0), !request.events.contains(where: { $0.type.utf8.contains(0) }) else {
            throw EventStoreError(
                .invalidArgument,
                "a stream id or event type must not contain a NUL character (stream '\(streamId.replacingOccurrences(of: "\0", with: "\\0"))'); remove it"
            )
        }
        guard !request.events.isEmpty else {
            throw EventStoreError(
                .invalidArgument,
                "an append to stream '\(streamId)' carries no events; send at least one"
            )
        }
        guard request.events.count == 1 || Set(request.events.map(\.id)).count == request.events.count else {
            throw EventStoreError(
                .invalidArgument,
                "an append to stream '\(streamId)' carries the same event id twice; give each event its own id"
            )
        }
        let action = "append to stream '\(streamId)'"
        // A retry of a stored request is found when the stream is not where the request expects
        // it, or when its first insert meets a stored event id: a lookup per event before every
        // append would cost a B-tree probe for the common case that is never a retry.
        let current = try sql(action) {
            try run(.streamVersion, [.text(streamId)]) ?? 0
        }
        switch request.expected {
        case .any: break
        case .noStream where current != 0, .exact(_) where request.expected != .exact(current):
            if let retry = try idempotentRetry(request) { return retry }
            throw EventStoreError.wrongExpectedVersion(stream: streamId, expected: request.expected, actual: current)
        default: break
        }

        return try sql(action) { () throws -> AppendResult in
            if head == nil {
                let last = try db.rows("SELECT position, hash FROM events ORDER BY position DESC LIMIT 1").first
                head = (last?[0].int64 ?? 0, last?[1].bytes ?? HashChain.genesis)
                headAtStart = headAtStart ?? head!.position
            }
            let headBefore = head!.position
            var previous = head!.hash
            var position = headBefore
            var version = current
            let recordedAt = recordedAtMicros ?? micros(options.clock())
            var stored: [RecordedEvent] = []
            stored.reserveCapacity(request.events.count)
            for event in request.events {
                position += 1
                version += 1
                let metadata = event.metadata.encoded()
                let hash = HashChain.hash(
                    previous: previous,
                    position: position,
                    streamId: streamId,
                    streamVersion: version,
                    eventId: event.id,
                    type: event.type,
                    schemaVersion: Int64(event.schemaVersion),
                    payload: event.payload,
                    metadata: metadata,
                    recordedAtMicros: recordedAt
                )
                do {
                    try run(
                        .insertEvent,
                        [
                            .integer(position), .text(streamId), .integer(version),
                            .text(event.id.lowercasedText),
                            .text(event.type), .integer(Int64(event.schemaVersion)), .blob(event.payload),
                            .blob(metadata),
                            .integer(recordedAt), .blob(previous), .blob(hash),
                        ]
                    )
                } catch let error as SQLiteError where error.isConstraint {
                    // The event id is stored already. On the first event nothing of this request is
                    // written yet: it may be a retry. Later, the events before it are this request's
                    // own: an error, and the caller's savepoint or transaction drops them.
                    if stored.isEmpty, let retry = try idempotentRetry(request) { return retry }
                    throw try duplicateError(request, storedBefore: headBefore)
                }
                stored.append(
                    RecordedEvent(
                        position: position,
                        streamId: streamId,
                        streamVersion: version,
                        id: event.id,
                        type: event.type,
                        schemaVersion: event.schemaVersion,
                        payload: event.payload,
                        metadata: event.metadata,
                        recordedAt: Date(timeIntervalSince1970: Double(recordedAt) / 1_000_000),
                        hash: hash
                    )
                )
                previous = hash
            }
            head = (position, previous)
            for projection in projections where checkpoint(projection.name) == headBefore {
                let db = ProjectionDatabase(self.db, path: path, appendHint: hint)
                for (n, event) in stored.enumerated() {
                    do {
                        try projection.apply(
                            event,
                            to: db.followed(by: n + 1 < stored.count ? UpcomingEvent(stored[n + 1]) : nil)
                        )
                    } catch {
                        throw EventStoreError(
                            .projectionFailed,
                            "projection '\(projection.name)' failed on event \(event.position) (\(event.type)) of stream '\(streamId)': \(error); nothing was written"
                        )
                    }
                }
                setCheckpoint(projection.name, position)
            }
            return AppendResult(streamId: streamId, streamVersion: version, events: stored, wasAlreadyStored: false)
        }
    }

    /// Appends one request inside a larger transaction so that, refused, it leaves nothing
    /// behind: in a savepoint, except for one event with no projection to apply, whose single
    /// INSERT SQLite already rolls back on its own when it fails (two statements saved per
    /// request in a batch).
    func appendAlone(
        _ request: AppendRequest,
        projections: [any Projection],
        hint: (any Sendable)? = nil,
        recordedAtMicros: Int64? = nil
    ) throws(EventStoreError) -> AppendResult {
        if request.events.count == 1 && projections.isEmpty {
            return try append(request, projections: projections, hint: hint, recordedAtMicros: recordedAtMicros)
        }
        return try savepoint { () throws(EventStoreError) in
            try append(request, projections: projections, hint: hint, recordedAtMicros: recordedAtMicros)
        }
    }

    /// When the request's events are already stored where this request would have put them,
    /// returns them as stored. Returns nil when none of them is stored.
    private func idempotentRetry(_ request: AppendRequest) throws(EventStoreError) -> AppendResult? {
        let streamId = request.streamId
        var found: [RecordedEvent] = []
        for event in request.events {
            let rows = try sql("look up event \(event.id)") { () throws -> [RecordedEvent] in
                let stmt = try db.cached(Writer.selectColumns + " WHERE event_id = ?")
                try stmt.bind([.text(event.id.lowercasedText)])
                return try Writer.decodeRows(stmt)
            }
            if let existing = rows.first {
                guard existing.streamId == streamId else {
                    throw duplicate(
                        event.id,
                        "is already stored in stream '\(existing.streamId)' at version \(existing.streamVersion)"
                    )
                }
                guard existing.type == event.type, existing.schemaVersion == event.schemaVersion,
                    existing.payload == event.payload
                else {
                    throw duplicate(
                        event.id,
                        "is already stored at version \(existing.streamVersion) of stream '\(streamId)' with different content"
                    )
                }
                found.append(existing)
            } else if !found.isEmpty {
                throw duplicate(
                    request.events[found.count - 1].id,
                    "is stored but the event after it in this request is not: the request mixes old and new events"
                )
            }
        }
        if found.isEmpty { return nil }
        guard found.count == request.events.count else {
            throw duplicate(
                found[0].id,
                "is stored but the events before it in this request are not: the request mixes old and new events"
            )
        }
        for (offset, event) in found.enumerated() where event.streamVersion != found[0].streamVersion + Int64(offset) {
            throw duplicate(
                event.id,
                "is stored at version \(event.streamVersion), not right after the request's previous event"
            )
        }
        let firstVersion = found[0].streamVersion
        switch request.expected {
        case .noStream where firstVersion != 1, .exact(_) where request.expected != .exact(firstVersion - 1):
            throw duplicate(
                found[0].id,
                "is stored at version \(firstVersion) of stream '\(streamId)', not where \(request.expected) would put it"
            )
        default: break
        }
        return AppendResult(
            streamId: streamId,
            streamVersion: found.last!.streamVersion,
            events: found,
            wasAlreadyStored: true
        )
    }

    /// Why a request whose insert met a stored event id is refused: the first of its events
    /// stored before this request began.
    private func duplicateError(
        _ request: AppendRequest,
        storedBefore head: Int64
    ) throws(EventStoreError) -> EventStoreError {
        for event in request.events {
            let existing = try sql("look up event \(event.id)") { () throws -> RecordedEvent? in
                let stmt = try db.cached(Writer.selectColumns + " WHERE event_id = ?")
                try stmt.bind([.text(event.id.lowercasedText)])
                return try Writer.decodeRows(stmt).first
            }
            guard let existing, existing.position <= head else { continue }
            if existing.streamId != request.streamId {
                return duplicate(
                    event.id,
                    "is already stored in stream '\(existing.streamId)' at version \(existing.streamVersion)"
                )
            }
            return duplicate(
                event.id,
                "is already stored at version \(existing.streamVersion) of stream '\(request.streamId)', not where this request would put it"
            )
        }
        return EventStoreError(
            .storage,
            "an append to stream '\(request.streamId)' broke a uniqueness rule of the events table without a stored event id to show for it"
        )
    }

    private func duplicate(_ id: UUID, _ what: String) -> EventStoreError {
        EventStoreError(
            .duplicateEventId,
            "event id \(id.lowercasedText) \(what); an event id can be used once: send a new id for a new event"
        )
    }

    // MARK: Projections

    /// Applies one batch of events, in position order, to the projections that are behind and
    /// not in a rebuild pass; true when every such projection is current. Projections at the
    /// same checkpoint are served together, each event applied to all of them in turn, so that
    /// one event is read (and a case folded) once for all of them. `progress` hears, after the
    /// batch, which projections it served and how many events it applied.
    func catchUpOneBatch(
        projections: [any Projection],
        batchSize: Int,
        progress: ((CatchUpProgress) -> Void)? = nil
    ) throws(EventStoreError) -> Bool {
        let head = try headPosition()
        let behind = projections.filter { rebuildCursor($0.name) == nil && checkpoint($0.name) < head }
        guard let from = behind.map({ checkpoint($0.name) }).min() else { return true }
        let group = behind.filter { checkpoint($0.name) == from }
        let names = group.map(\.name).joined(separator: ", ")
        let events = try sql("read events for \(names)") { () throws -> [RecordedEvent] in
            let stmt = try db.cached(Writer.selectColumns + " WHERE position > ? ORDER BY position LIMIT ?")
            try stmt.bind([.integer(from), .integer(Int64(batchSize))])
            return try Writer.decodeRows(stmt)
        }
        try apply(events, to: group, prepared: [:], doing: "catching up")
        guard let last = events.last?.position else { return true }
        for projection in group {
            setCheckpoint(projection.name, last)
        }
        progress?(
            CatchUpProgress(projections: group.map(\.name), applied: events.count, rebuilding: false, target: head)
        )
        return last >= head && behind.count == group.count
    }

    /// The first projection in a rebuild pass and every projection at the same place in it
    /// (they go on together), with their cursor; nil when none is in a pass.
    func nextRebuildPass(of projections: [any Projection]) -> (group: [any Projection], cursor: RebuildCursor)? {
        guard let cursor = projections.lazy.compactMap({ self.rebuildCursor($0.name) }).first else { return nil }
        return (projections.filter { rebuildCursor($0.name) == cursor }, cursor)
    }

    /// A rebuild pass's next batch: on the (stream_id, stream_version) index, from the cursor.
    static let rebuildBatchSQL =
        selectColumns
        + " WHERE (stream_id, stream_version) > (?, ?) AND position <= ? ORDER BY stream_id, stream_version LIMIT ?"

    /// The events of a rebuild pass after `cursor`, a batch of them, in stream order, read on
    /// `connection` (events up to the pass's target never change, so any connection may).
    static func rebuildBatch(
        after cursor: RebuildCursor,
        limit: Int,
        on connection: SQLiteConnection
    ) throws(SQLiteError) -> [RecordedEvent] {
        let stmt = try connection.cached(rebuildBatchSQL)
        try stmt.bind([
            .text(cursor.streamId), .integer(cursor.streamVersion), .integer(cursor.target), .integer(Int64(limit)),
        ])
        return try Writer.decodeRows(stmt)
    }

    /// Applies a batch of a rebuild pass (`events`, read after `cursor`) to `group` and moves
    /// their cursor past it; a batch shorter than `batchSize` ends the pass, and their
    /// checkpoint is its target. False, applying nothing, when the group is no longer at
    /// `cursor` (another rebuild started meanwhile).
    func applyRebuildBatch(
        _ events: [RecordedEvent],
        to group: [any Projection],
        after cursor: RebuildCursor,
        batchSize: Int,
        prepared: [String: any Sendable]
    ) throws(EventStoreError) -> Bool {
        guard group.allSatisfy({ rebuildCursor($0.name) == cursor }) else { return false }
        let counters = CounterSums()
        try apply(events, to: group, prepared: prepared, counters: counters, doing: "rebuilding")
        do {
            try counters.write(to: ProjectionDatabase(db, path: path))
        } catch {
            // The sums are the group's (a counter's statement does not say whose it is).
            let names = group.map { "'\($0.name)'" }.joined(separator: ", ")
            let span =
                events.first.map { "events \($0.position)-\(events.last?.position ?? $0.position)" } ?? "no events"
            throw EventStoreError(
                .projectionFailed,
                "\(group.count == 1 ? "projection" : "projections") \(names) failed writing the counters summed over a batch (\(span)) while rebuilding: \(error)"
            )
        }
        for projection in group {
            try sql("save the rebuild cursor of '\(projection.name)'") {
                if let last = events.last, events.count >= batchSize {
                    try setRebuild(
                        projection.name,
                        RebuildCursor(target: cursor.target, streamId: last.streamId, streamVersion: last.streamVersion)
                    )
                } else {
                    try setRebuild(projection.name, nil)
                    setCheckpoint(projection.name, cursor.target)
                }
            }
        }
        return true
    }

    /// The deferred indexes (see ``Projection/deferredIndexes``) a rebuild pass left out and
    /// has not created yet, the projection's name with each.
    func pendingIndexes() throws(EventStoreError) -> [(projection: String, name: String, sql: String)] {
        try sql("read the deferred indexes") {
            try db.rows("SELECT projection, name, sql FROM projection_deferred_indexes ORDER BY projection, name").map {
                ($0[0].string ?? "", $0[1].string ?? "", $0[2].string ?? "")
            }
        }
    }

    /// Creates a deferred index of a projection whose rebuild pass has ended.
    func createDeferredIndex(projection: String, name: String, sql statement: String) throws(EventStoreError) {
        deferredIndexesChanged = true
        try sql("create index \(name) of '\(projection)'") {
            // The sort on a helper thread of SQLite's beside this one: at 2,000,000 cases the
            // sixteen indexes took 29.6 s instead of 41.6-42.9 (the sorts of millions of keys
            // use the other core); at 200,000 cases it made no difference (BENCHMARKS.md).
            try db.execute("PRAGMA threads = 1")
            defer { try? db.execute("PRAGMA threads = 0") }
            try db.execute(statement)
            try db.run(
                "DELETE FROM projection_deferred_indexes WHERE projection = ? AND name = ?",
                [.text(projection), .text(name)]
            )
        }
    }

    /// Whether the projection is in a rebuild pass (its deferred indexes wait for its end).
    func isRebuilding(_ name: String) -> Bool { rebuildCursor(name) != nil }

    /// Applies `events` in order, each to every projection of `group` in turn; each projection
    /// sees what its preparation worked out for them (`prepared`, by key).
    private func apply(
        _ events: [RecordedEvent],
        to group: [any Projection],
        prepared: [String: any Sendable],
        counters: CounterSums? = nil,
        doing action: String
    ) throws(EventStoreError) {
        let plain = ProjectionDatabase(db, path: path, counters: counters)
        let databases = group.map { projection in
            projection.batchPreparation.flatMap { prepared[$0.key] }.map { plain.with(prepared: $0) } ?? plain
        }
        for n in events.indices {
            // One copy of the event for every projection (a copy retains each of its fields).
            let event = events[n]
            let upcoming = n + 1 < events.count ? UpcomingEvent(events[n + 1]) : nil
            for p in group.indices {
                do {
                    try group[p].apply(event, to: databases[p].followed(by: upcoming))
                } catch {
                    throw EventStoreError(
                        .projectionFailed,
                        "projection '\(group[p].name)' failed on event \(event.position) (\(event.type)) while \(action): \(error)"
                    )
                }
            }
        }
    }

    /// Drops the projections' tables, prepares them again and starts their rebuild pass up to
    /// `head`. `projections` in the order they were registered: they are dropped in the reverse
    /// order (a projection that reads another's tables goes first, so the other's drop does not
    /// tend tables about to go too) and prepared in that order.
    func reset(_ projections: [any Projection], head: Int64) throws(EventStoreError) {
        try drop(projections)
        for projection in projections { try prepareAfresh(projection, head: head) }
    }

    /// Reads the file through once, front to back, when the page cache can hold it, before
    /// projections' tables are dropped: a drop visits every page of a table in key order, at
    /// random places in the file, and from a cold cache that is a seek a page (dropping the
    /// deadlines table of 200,000 cases took 10.5 s; reading the 1.9 GB file took 2.6 s, the
    /// drop then 0.3 s). The rebuild pass that follows reads the log in stream order, at
    /// random places too, and finds it in the cache as well. Files of 64 MiB or less, or
    /// larger than the memory available less 1 GiB, are left alone; `stop` ends it early.
    ///
    /// ``warmingReaders`` threads read a share of the file each, in order: a virtual disk
    /// serves several streams at once (the 15.6 GB store of 2,000,000 cases from a cold cache:
    /// 6.5 s with four readers, 9-25 s with one).
    static func warmPageCache(
        path: String,
        minimumBytes: Int64 = 64 << 20,
        stop: @escaping @Sendable () -> Bool = { false }
    ) {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value,
            size > minimumBytes, let available = availableMemoryBytes(), size < available - (1 << 30)
        else { return }
        // Read through a connection of SQLite's own, never a descriptor of ours: closing any
        // descriptor of the file drops every POSIX lock this process holds on it (SQLite's
        // included, so another process could write beside it), and SQLite closes its own only
        // once no connection of the process holds a lock on the file.
        var db: OpaquePointer?
        defer { sqlite3_close_v2(db) }
        var file: UnsafeMutablePointer<sqlite3_file>?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK,
            sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file) == SQLITE_OK,
            let file, let read = file.pointee.pMethods?.pointee.xRead
        else { return }
        let chunk: Int64 = 4 << 20
        let readers = Int64(warmingReaders)
        let share = ((size + readers - 1) / readers + chunk - 1) / chunk * chunk
        let source = WarmingSource(file: file, read: read)
        let finished = DispatchGroup()
        for k in 0..<readers {
            finished.enter()
            let thread = Thread {
                defer { finished.leave() }
                source.read(from: k * share, to: min(size, (k + 1) * share), chunk: chunk, stop: stop)
            }
            thread.stackSize = 256 << 10
            thread.start()
        }
        // The connection (and its file) stays open until every reader is done.
        finished.wait()
    }

    /// Threads that warm the page cache together (``warmPageCache(path:minimumBytes:stop:)``).
    static let warmingReaders = 4

    /// `MemAvailable` of /proc/meminfo, in bytes; nil when it cannot be read.
    static func availableMemoryBytes() -> Int64? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
            let kib = line.split(separator: " ").dropFirst().first.flatMap({ Int64($0) })
        else { return nil }
        return kib * 1024
    }

    /// Drops the projections' tables, last registered first (see `reset(_:head:)`).
    private func drop(_ projections: [any Projection]) throws(EventStoreError) {
        for projection in projections.reversed() {
            try sql("reset projection '\(projection.name)'") {
                try projection.drop(ProjectionDatabase(db, path: path))
                try db.run("DELETE FROM projection_deferred_indexes WHERE projection = ?", [.text(projection.name)])
            }
        }
    }

    /// Prepares a projection's tables, at checkpoint 0, and starts its rebuild pass up to `head`
    /// with its deferred indexes left out (nothing to rebuild on an empty log).
    private func prepareAfresh(_ projection: any Projection, head: Int64) throws(EventStoreError) {
        try sql("prepare projection '\(projection.name)'") {
            try projection.prepare(ProjectionDatabase(db, path: path))
            try setCheckpoint(projection.name, 0, version: projection.version)
            try startRebuild(projection.name, head: head)
            if head > 0 { try deferIndexes(of: projection) }
        }
    }
}

/// The rebuild passes and the projections' checkpoints as last committed, shared by the writer
/// with callers that must not wait for the writer lock (held through a whole transaction, an
/// fsync or a rebuild batch included).
final class PublishedProgress: Sendable {
    let targets = Mutex<[String: Int64]>([:])
    let checkpoints = Mutex<[String: Int64]>([:])
}

/// A file SQLite opened, read from several threads at once by ``Writer/warmPageCache(path:minimumBytes:stop:)``.
/// @unchecked Sendable: the unix VFS reads with `pread`, which has no shared offset, and the
/// warming maps nothing (no `mmap_size`), so concurrent reads of the file are safe.
struct WarmingSource: @unchecked Sendable {
    let file: UnsafeMutablePointer<sqlite3_file>
    let read:
        @convention(c) (UnsafeMutablePointer<sqlite3_file>?, UnsafeMutableRawPointer?, Int32, sqlite3_int64) -> Int32

    /// Reads `start..<end` in chunks, into a buffer of its own, until done, an error or `stop`.
    func read(from start: Int64, to end: Int64, chunk: Int64, stop: () -> Bool) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Int(chunk), alignment: 4096)
        defer { buffer.deallocate() }
        var offset = start
        while offset < end && !stop() {
            guard read(file, buffer, Int32(min(chunk, end - offset)), offset) == SQLITE_OK else { return }
            offset += chunk
        }
    }
}

/// The writer connection's commits and the pages they wrote to the WAL, since the store opened.
final class WriteCounters: Sendable {
    let commits = Atomic<Int64>(0)
    let pages = Atomic<Int64>(0)
    /// Commits after which the WAL held fewer frames than after the one before: it started over.
    let walRestarts = Atomic<Int64>(0)
}

/// Where a projection's rebuild pass stands: it has applied every event up to `target` of the
/// streams before `streamId`, and of `streamId` those up to `streamVersion`.
struct RebuildCursor: Hashable, Sendable {
    let target: Int64
    let streamId: String
    let streamVersion: Int64
}

/// What one catch-up batch did.
public struct CatchUpProgress: Sendable, Hashable {
    /// The projections it served.
    public let projections: [String]
    /// Events it applied (to each of them): 0 in the report a rebuild makes as its pass begins.
    public let applied: Int
    /// True in a rebuild pass (stream by stream, up to `target`).
    public let rebuilding: Bool
    /// The position they are being brought to.
    public let target: Int64
    /// A deferred index just created at the end of a rebuild pass (the step reports nothing else).
    public let indexCreated: String?

    init(projections: [String], applied: Int, rebuilding: Bool, target: Int64, indexCreated: String? = nil) {
        self.projections = projections
        self.applied = applied
        self.rebuilding = rebuilding
        self.target = target
        self.indexCreated = indexCreated
    }
}

// MARK: - The head anchor

enum HeadAnchor {
    /// The anchor row; nil when it is missing.
    static func read(_ db: SQLiteConnection) throws(SQLiteError) -> LogHead? {
        guard let row = try db.rows("SELECT position, hash FROM log_head WHERE id = 1").first else { return nil }
        return LogHead(position: row[0].int64 ?? 0, hash: row[1].bytes ?? [])
    }

    /// Compares the anchor with the log's last event: nil when they agree, else the problem,
    /// the first bad position and, for a deleted tail, the first missing position.
    static func compare(
        anchor: LogHead?,
        lastPosition: Int64,
        lastHash: [UInt8]
    ) -> (problem: String, firstBad: Int64, missingFrom: Int64?)? {
        guard let anchor else {
            return (
                "the head anchor (table log_head) is missing, so a deleted tail of the log cannot be ruled out: it was removed behind the store's back",
                lastPosition + 1, nil
            )
        }
        if anchor.position > lastPosition {
            let first = lastPosition + 1
            let range =
                first == anchor.position
                ? "the event at position \(first) is" : "the events from position \(first) to \(anchor.position) are"
            return (
                "the log was truncated: \(range) missing (the store last wrote position \(anchor.position), the log now ends at \(lastPosition)); they were deleted after they were written",
                first, first
            )
        }
        if anchor.position < lastPosition {
            return (
                "the log holds events after position \(anchor.position), the last one the store wrote (it ends at \(lastPosition)): they were added behind the store's back",
                anchor.position + 1, nil
            )
        }
        if anchor.hash != lastHash {
            return (
                "the event at position \(lastPosition) is not the one the store wrote last (its hash differs from the head anchor's): it was replaced or altered",
                lastPosition, nil
            )
        }
        return nil
    }

    /// The cheap check: the anchor against the last event, whose own hash is recomputed.
    /// Reads two rows, whatever the size of the log.
    static func check(_ db: SQLiteConnection) throws(SQLiteError) -> HeadCheck {
        let anchor = try read(db)
        let stmt = try db.cached(
            "SELECT position, stream_id, stream_version, event_id, event_type, schema_version, payload, metadata, recorded_at_us, prev_hash, hash FROM events ORDER BY position DESC LIMIT 1"
        )
        var lastPosition: Int64 = 0
        var lastHash = HashChain.genesis
        var altered: String?
        if try stmt.step() {
            lastPosition = stmt.int64(0)
            lastHash = stmt.bytes(10)
            let computed = UUID.parse(stmt.text(3)).map { id in
                HashChain.hash(
                    previous: stmt.bytes(9),
                    position: lastPosition,
                    streamId: stmt.text(1),
                    streamVersion: stmt.int64(2),
                    eventId: id,
                    type: stmt.text(4),
                    schemaVersion: stmt.int64(5),
                    payload: stmt.bytes(6),
                    metadata: stmt.bytes(7),
                    recordedAtMicros: stmt.int64(8)
                )
            }
            if computed != lastHash {
                altered =
                    "the last event (position \(lastPosition)) does not match its stored hash: it was altered after it was written"
            }
        }
        stmt.reset()
        if let found = compare(anchor: anchor, lastPosition: lastPosition, lastHash: lastHash) {
            return HeadCheck(
                anchor: anchor,
                lastPosition: lastPosition,
                lastHash: lastHash,
                problem: found.problem,
                missingFrom: found.missingFrom
            )
        }
        return HeadCheck(
            anchor: anchor,
            lastPosition: lastPosition,
            lastHash: lastHash,
            problem: altered,
            missingFrom: nil
        )
    }
}

func micros(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1_000_000).rounded()) }
