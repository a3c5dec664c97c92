import CSQLite
import Foundation

/// The store's read queries, each on a connection it is handed: the synchronous methods run
/// them on a pooled connection of the calling thread, the async ones on a reader thread.
enum Query {
    static func stream(
        _ db: SQLiteConnection,
        _ streamId: String,
        from version: Int64,
        limit: Int
    ) throws(SQLiteError) -> [RecordedEvent] {
        let stmt = try db.cached(
            Writer.selectColumns + " WHERE stream_id = ? AND stream_version >= ? ORDER BY stream_version LIMIT ?"
        )
        try stmt.bind([.text(streamId), .integer(version), .integer(Int64(clamping: limit))])
        return try Writer.decodeRows(stmt)
    }

    static func all(_ db: SQLiteConnection, from position: Int64, limit: Int) throws(SQLiteError) -> [RecordedEvent] {
        let stmt = try db.cached(Writer.selectColumns + " WHERE position >= ? ORDER BY position LIMIT ?")
        try stmt.bind([.integer(position), .integer(Int64(clamping: limit))])
        return try Writer.decodeRows(stmt)
    }

    static func event(_ db: SQLiteConnection, _ id: UUID) throws(SQLiteError) -> RecordedEvent? {
        let stmt = try db.cached(Writer.selectColumns + " WHERE event_id = ?")
        try stmt.bind([.text(id.lowercasedText)])
        return try Writer.decodeRows(stmt).first
    }

    static func version(_ db: SQLiteConnection, _ streamId: String) throws(SQLiteError) -> Int64 {
        try db.scalarInt("SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = ?", [.text(streamId)])
            ?? 0
    }

    static func head(_ db: SQLiteConnection) throws(SQLiteError) -> Int64 {
        try db.scalarInt("SELECT COALESCE(MAX(position), 0) FROM events") ?? 0
    }

    /// Runs `body` on one read transaction: a consistent snapshot.
    static func snapshot<T>(
        _ db: SQLiteConnection,
        path: String,
        _ body: (ProjectionDatabase) throws -> T
    ) throws(SQLiteError) -> Result<T, any Error> {
        // Nested in another read on the same connection (a reader thread's), it joins that snapshot.
        let outer = db.isInTransaction
        if !outer { try db.execute("BEGIN") }
        defer { if !outer { try? db.execute("COMMIT") } }
        return Result { try body(ProjectionDatabase(db, path: path)) }
    }

    /// Recomputes the hash chain from the first event (see ``EventStore/verify()``).
    static func verify(_ db: SQLiteConnection) throws(SQLiteError) -> VerificationReport {
        let outer = db.isInTransaction
        if !outer { try db.execute("BEGIN") }
        defer { if !outer { try? db.execute("COMMIT") } }
        let stmt = try db.prepare(
            "SELECT position, stream_id, stream_version, event_id, event_type, schema_version, payload, metadata, recorded_at_us, prev_hash, hash FROM events ORDER BY position"
        )
        var previous = HashChain.genesis
        var lastPosition: Int64 = 0
        var checked: Int64 = 0
        var versions: [String: Int64] = [:]
        func bad(_ position: Int64, _ problem: String) -> VerificationReport {
            VerificationReport(
                eventsChecked: checked,
                headPosition: lastPosition,
                firstBadPosition: position,
                problem: problem
            )
        }
        while try stmt.step() {
            let position = stmt.int64(0)
            let stream = stmt.text(1)
            let version = stmt.int64(2)
            let idText = stmt.text(3)
            guard let id = UUID(uuidString: idText) else {
                return bad(position, "event id '\(idText)' is not a UUID")
            }
            let expectedVersion = (versions[stream] ?? 0) + 1
            if version != expectedVersion {
                return bad(
                    position,
                    "stream '\(stream)' jumps to version \(version) where \(expectedVersion) was expected"
                )
            }
            versions[stream] = version
            if position <= lastPosition {
                return bad(position, "position \(position) does not follow \(lastPosition)")
            }
            if stmt.bytes(9) != previous {
                return bad(position, "the link to the previous event's hash is broken")
            }
            let computed = HashChain.hash(
                previous: previous,
                position: position,
                streamId: stream,
                streamVersion: version,
                eventId: id,
                type: stmt.text(4),
                schemaVersion: stmt.int64(5),
                payload: stmt.bytes(6),
                metadata: stmt.bytes(7),
                recordedAtMicros: stmt.int64(8)
            )
            let stored = stmt.bytes(10)
            if computed != stored {
                return bad(
                    position,
                    "the stored hash does not match the event's content: the event was altered after it was written"
                )
            }
            previous = stored
            lastPosition = position
            checked += 1
        }
        let anchor = try HeadAnchor.read(db)
        if let found = HeadAnchor.compare(anchor: anchor, lastPosition: lastPosition, lastHash: previous) {
            return VerificationReport(
                eventsChecked: checked,
                headPosition: lastPosition,
                firstBadPosition: found.firstBad,
                problem: found.problem,
                anchorPosition: anchor?.position,
                missingFrom: found.missingFrom
            )
        }
        return VerificationReport(
            eventsChecked: checked,
            headPosition: lastPosition,
            firstBadPosition: nil,
            problem: nil,
            anchorPosition: anchor?.position
        )
    }
}
