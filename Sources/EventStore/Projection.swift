import Foundation

/// A read model kept from the log.
///
/// The store applies a current projection in the same transaction as the append that
/// produced the events, and writes its checkpoint in that transaction too; a projection
/// that is behind (new, or just rebuilt) catches up from its checkpoint. Every projection
/// can be dropped and rebuilt from position 0, and must then reach the same state.
public protocol Projection: Sendable {
    /// A stable name: the key of its checkpoint.
    var name: String { get }
    /// Creates the projection's tables. Runs when the projection is new or rebuilt.
    func prepare(_ db: ProjectionDatabase) throws
    /// Applies one event, in position order.
    func apply(_ event: RecordedEvent, to db: ProjectionDatabase) throws
    /// Drops every table `prepare` created.
    func drop(_ db: ProjectionDatabase) throws
    /// The version of the projection's tables and of what it writes in them. A store that
    /// finds a projection at another version than the one it last prepared drops its tables and
    /// rebuilds it from the log as the store opens (so a new column or index needs no upgrade
    /// script, only a new version). 1 unless a projection says otherwise.
    var version: Int { get }
    /// Runs once each time a store opens, after every projection has caught up, inside one
    /// write transaction: where a projection brings what it keeps in line with settings that
    /// live outside the log (say, a configured policy its rows were worked out with). Nothing
    /// by default.
    func opened(_ db: ProjectionDatabase) throws
    /// What the projection works out ahead in a rebuild pass, off the writer thread; nil (the
    /// default) for nothing.
    var batchPreparation: BatchPreparation? { get }
    /// Indexes `prepare` creates that a rebuild pass may leave out while it fills the tables
    /// and create at its end (sorting once instead of inserting row by row into large random-
    /// keyed B-trees). Only indexes the projection's own `apply` does not need; none by default.
    var deferredIndexes: [String] { get }
    /// The projections whose tables `apply` reads (by name): when one of them is rebuilt, as the
    /// store opens or on request, this one is rebuilt with it, since what it wrote came from
    /// rows about to be replaced. None by default.
    var reads: [String] { get }
}

extension Projection {
    public var reads: [String] { [] }
    public var version: Int { 1 }
    public func opened(_ db: ProjectionDatabase) throws {}
    public var batchPreparation: BatchPreparation? { nil }
    public var deferredIndexes: [String] { [] }
}

/// Work on a rebuild pass's events that a projection can do before they reach the writer: on a
/// thread of its own, without the database, while the writer applies the batch before (a
/// rebuild then keeps both cores busy). Decoding and folding streams, deriving rows.
///
/// The store makes one preparer per pass for each distinct `key` among the projections being
/// rebuilt, gives it the pass's batches in order on one thread, and hands what it returns for a
/// batch to every projection with that key as ``ProjectionDatabase/prepared`` while that batch
/// is applied. A batch holds each stream's events in version order, the streams one after
/// another; a stream may be cut between two batches, so a preparer may keep what it needs from
/// one batch for the next. What it returns is a hint: a projection must give the same rows
/// with or without it.
public struct BatchPreparation: Sendable {
    /// Projections with the same key share one preparer (the first one's).
    public let key: String
    public let makePreparer: @Sendable () -> ([RecordedEvent]) -> any Sendable

    public init(key: String, makePreparer: @escaping @Sendable () -> ([RecordedEvent]) -> any Sendable) {
        self.key = key
        self.makePreparer = makePreparer
    }
}

/// Where the event a projection is given next stands in the log (``ProjectionDatabase/upcoming``):
/// enough to tell whether it continues the same stream, without copying the event itself (a
/// rebuild gives every projection every event).
public struct UpcomingEvent: Sendable, Hashable {
    public let position: Int64
    public let streamId: String
    public let streamVersion: Int64

    init(_ event: RecordedEvent) {
        position = event.position
        streamId = event.streamId
        streamVersion = event.streamVersion
    }
}

/// The SQL a projection may run: on the writer inside the append's transaction, or on a
/// read connection for queries. Valid only during the call that hands it out.
///
/// Cheap to copy (a rebuild hands one to every projection for every event): what stays the
/// same for a batch lives in one object, and only ``upcoming`` changes from event to event.
public struct ProjectionDatabase {
    /// What a batch's databases share.
    private final class Base {
        let connection: SQLiteConnection
        let path: String
        let appendHint: (any Sendable)?
        let prepared: (any Sendable)?
        let counters: CounterSums?

        init(
            connection: SQLiteConnection,
            path: String,
            appendHint: (any Sendable)?,
            prepared: (any Sendable)?,
            counters: CounterSums?
        ) {
            self.connection = connection
            self.path = path
            self.appendHint = appendHint
            self.prepared = prepared
            self.counters = counters
        }
    }

    private let base: Base
    /// The event this projection is given next in the same transaction, when there is one: the
    /// append's next event, or the next of a catch-up batch. A projection whose rows after an
    /// event are wholly replaced by those after the next event of the same stream may skip the
    /// event (a rebuild then works a case out once per run of its events, not once per event).
    public let upcoming: UpcomingEvent?

    var connection: SQLiteConnection { base.connection }
    var path: String { base.path }
    /// What the appender handed to the projections of this append (see
    /// ``WriteContext/append(to:expected:events:hint:recordedAt:)``); nil elsewhere.
    public var appendHint: (any Sendable)? { base.appendHint }
    /// What this projection's ``BatchPreparation`` worked out for the batch being applied, in a
    /// rebuild pass; nil elsewhere.
    public var prepared: (any Sendable)? { base.prepared }
    /// The additions to counters (``add(_:with:key:)``) a rebuild pass's batch sums; nil
    /// elsewhere (they run at once).
    var counters: CounterSums? { base.counters }

    init(
        _ connection: SQLiteConnection,
        path: String,
        appendHint: (any Sendable)? = nil,
        upcoming: UpcomingEvent? = nil,
        prepared: (any Sendable)? = nil,
        counters: CounterSums? = nil
    ) {
        self.base = Base(
            connection: connection,
            path: path,
            appendHint: appendHint,
            prepared: prepared,
            counters: counters
        )
        self.upcoming = upcoming
    }

    private init(base: Base, upcoming: UpcomingEvent?) {
        self.base = base
        self.upcoming = upcoming
    }

    /// The same database, telling the projection which event comes after the one it is given.
    func followed(by upcoming: UpcomingEvent?) -> ProjectionDatabase {
        ProjectionDatabase(base: base, upcoming: upcoming)
    }

    /// The same database, with a batch's preparation.
    func with(prepared: (any Sendable)?) -> ProjectionDatabase {
        ProjectionDatabase(
            connection,
            path: path,
            appendHint: appendHint,
            upcoming: upcoming,
            prepared: prepared,
            counters: counters
        )
    }

    /// Names the connection behind this database: the same for every projection applied in one
    /// append, different for every other connection the process ever opened (a projection may
    /// key a cache on it).
    public var connectionSerial: UInt64 { connection.serial }

    /// Runs one statement with arguments bound to its `?` placeholders.
    public func execute(_ sql: String, _ arguments: [SQLiteValue] = []) throws(EventStoreError) {
        do { try connection.run(sql, arguments) } catch {
            throw EventStoreError.from(error, path: path, doing: "run \(sql)")
        }
    }

    /// Adds `count` to a counter: runs `sql`, an upsert that adds its last argument, with
    /// `key`'s values and then `count` bound to its placeholders (say `INSERT INTO t (k, n)
    /// VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET n = n + excluded.n`). In a rebuild pass's
    /// batch the store sums the additions by statement and key and runs each sum once, at the
    /// batch's end and in its transaction (one statement a counter a batch instead of one a
    /// case; a sum of zero runs nothing); elsewhere the statement runs at once. So what a batch
    /// adds this way is seen by no statement of the same batch: a projection may read such a
    /// counter, or change it otherwise (at once), only for what earlier batches added, which a
    /// pass guarantees for a counter of one stream's rows since it applies a stream's run of
    /// events in a batch together.
    public func add(_ count: Int64, with sql: String, key: [SQLiteValue]) throws(EventStoreError) {
        if let counters {
            counters.add(count, CounterSums.Key(sql: SQLText(sql), key: key))
        } else {
            try execute(sql, key + [.integer(count)])
        }
    }

    /// Runs several statements with no arguments (schema changes).
    public func executeScript(_ sql: String) throws(EventStoreError) {
        do { try connection.execute(sql) } catch {
            throw EventStoreError.from(error, path: path, doing: "run a script")
        }
    }

    /// Runs a query and returns its rows.
    public func query(_ sql: String, _ arguments: [SQLiteValue] = []) throws(EventStoreError) -> [Row] {
        do { return try connection.rows(sql, arguments) } catch {
            throw EventStoreError.from(error, path: path, doing: "query \(sql)")
        }
    }

    /// The events of one stream in version order, as this connection sees them: inside an
    /// append, that includes the events being appended. With `upTo`, only those up to that
    /// version (what a projection catching up on an event folds: the log may hold later ones).
    public func events(inStream streamId: String, upTo version: Int64 = .max) throws(EventStoreError) -> [RecordedEvent]
    {
        do {
            let stmt = try connection.cached(
                Writer.selectColumns + " WHERE stream_id = ? AND stream_version <= ? ORDER BY stream_version"
            )
            try stmt.bind([.text(streamId), .integer(version)])
            return try Writer.decodeRows(stmt)
        } catch {
            throw EventStoreError.from(error, path: path, doing: "read stream '\(streamId)'")
        }
    }

    /// Rows changed by the last statement.
    public var changes: Int { connection.changes }
}

/// The additions to counters a rebuild pass's batch sums (``ProjectionDatabase/add(_:with:key:)``),
/// written at its end in the order each counter was first added to. Used by the applying thread
/// alone, for one batch.
final class CounterSums {
    struct Key: Hashable {
        let sql: SQLText
        let key: [SQLiteValue]
    }

    private var sums: [Key: Int64] = [:]
    private var order: [Key] = []

    func add(_ count: Int64, _ key: Key) {
        if let sum = sums[key] {
            sums[key] = sum + count
        } else {
            sums[key] = count
            order.append(key)
        }
    }

    /// Runs each counter's statement once with its sum (none for a sum of zero).
    func write(to db: ProjectionDatabase) throws(EventStoreError) {
        for key in order {
            guard let sum = sums[key], sum != 0 else { continue }
            try db.execute(key.sql.text, key.key + [.integer(sum)])
        }
    }
}

/// `names` and every projection of `all` that reads one of them (``Projection/reads``), and so
/// on, in the order of `all`.
func withReaders(of names: Set<String>, in all: [any Projection]) -> [any Projection] {
    var chosen = names
    var grew = true
    while grew {
        grew = false
        for projection in all
        where !chosen.contains(projection.name) && projection.reads.contains(where: chosen.contains) {
            chosen.insert(projection.name)
            grew = true
        }
    }
    return all.filter { chosen.contains($0.name) }
}
