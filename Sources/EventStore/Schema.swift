/// The event log's schema, as an ordered list of migrations.
///
/// Migrations are added, never edited: a file written by an older binary is brought up to
/// date by running the ones it lacks, and a file written by a newer binary is refused.
enum Schema {
    /// `PRAGMA application_id` of an imr event log ("IMR1").
    static let applicationId: Int64 = 0x494D_5231

    struct Migration {
        let version: Int64
        let name: String
        let sql: String
    }

    static let migrations: [Migration] = [
        Migration(
            version: 1,
            name: "events, append-only triggers, projection checkpoints",
            sql: """
                CREATE TABLE events (
                    position        INTEGER PRIMARY KEY,
                    stream_id       TEXT    NOT NULL,
                    stream_version  INTEGER NOT NULL CHECK (stream_version >= 1),
                    event_id        TEXT    NOT NULL UNIQUE,
                    event_type      TEXT    NOT NULL,
                    schema_version  INTEGER NOT NULL,
                    payload         BLOB    NOT NULL,
                    metadata        BLOB    NOT NULL,
                    recorded_at_us  INTEGER NOT NULL,
                    prev_hash       BLOB    NOT NULL,
                    hash            BLOB    NOT NULL,
                    UNIQUE (stream_id, stream_version)
                );
                CREATE TRIGGER events_refuse_update BEFORE UPDATE ON events
                BEGIN
                    SELECT RAISE(ABORT, 'the event log is append-only: UPDATE of events is refused');
                END;
                CREATE TRIGGER events_refuse_delete BEFORE DELETE ON events
                BEGIN
                    SELECT RAISE(ABORT, 'the event log is append-only: DELETE of events is refused');
                END;
                CREATE TABLE projection_checkpoints (
                    name      TEXT PRIMARY KEY,
                    position  INTEGER NOT NULL
                );
                """
        ),
        Migration(
            version: 2,
            name: "head anchor: the last event's position and hash, outside the events table",
            // A log written before the anchor gets it from its current head.
            sql: """
                CREATE TABLE log_head (
                    id        INTEGER PRIMARY KEY CHECK (id = 1),
                    position  INTEGER NOT NULL,
                    hash      BLOB    NOT NULL
                );
                INSERT INTO log_head (id, position, hash)
                SELECT 1,
                       COALESCE((SELECT position FROM events ORDER BY position DESC LIMIT 1), 0),
                       COALESCE((SELECT hash FROM events ORDER BY position DESC LIMIT 1), zeroblob(32));
                """
        ),
        Migration(
            version: 3,
            name: "projection versions: a projection whose tables changed is rebuilt",
            // Every projection prepared so far was at version 1.
            sql: """
                ALTER TABLE projection_checkpoints ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
                """
        ),
        Migration(
            version: 4,
            name:
                "projection rebuild passes: a projection built from position 0 reads the log stream by stream, its deferred indexes created at the end",
            // NULL rebuild_to: not in a rebuild pass (every projection so far).
            sql: """
                ALTER TABLE projection_checkpoints ADD COLUMN rebuild_to INTEGER;
                ALTER TABLE projection_checkpoints ADD COLUMN rebuild_stream TEXT;
                ALTER TABLE projection_checkpoints ADD COLUMN rebuild_version INTEGER;
                CREATE TABLE projection_deferred_indexes (
                    projection  TEXT NOT NULL,
                    name        TEXT NOT NULL,
                    sql         TEXT NOT NULL,
                    PRIMARY KEY (projection, name)
                );
                """
        ),
    ]

    static var latestVersion: Int64 { migrations.last!.version }
}
