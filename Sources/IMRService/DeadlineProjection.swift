import EventStore
import Foundation
import Synchronization
import Varlink
import Workflow

/// Every deadline of every case, for the board and the alert scheduler.
///
/// On each event of a case the projection re-derives that case's deadlines with the pure
/// engine, as of the event's recording time, and replaces the case's rows. A deadline that
/// is still running is stored as open; whether it is pending or missed is decided when it
/// is read, against the reader's clock. Closing or withdrawing a case takes its deadlines off
/// the board (a deadline it missed keeps its status in the case's own detail).
public struct DeadlineProjection: Projection {
    public let name = "deadlines"
    let calculator: DeadlineCalculator
    let bodies = DeadlineBodies()

    public init(calculator: DeadlineCalculator = .init()) { self.calculator = calculator }

    public func prepare(_ db: ProjectionDatabase) throws {
        try db.executeScript("""
            CREATE TABLE deadlines (
                deadline_id  TEXT PRIMARY KEY,
                case_id      TEXT NOT NULL,
                rule         TEXT NOT NULL,
                party        TEXT NOT NULL,
                coordinator  TEXT NOT NULL,
                due_us       INTEGER NOT NULL,
                is_open      INTEGER NOT NULL,
                status       TEXT NOT NULL,
                body         TEXT NOT NULL
            );
            CREATE INDEX deadlines_open_due ON deadlines (is_open, due_us);
            CREATE INDEX deadlines_case ON deadlines (case_id);
            """)
    }

    public func apply(_ event: RecordedEvent, to db: ProjectionDatabase) throws {
        guard let caseId = CaseStreams.caseId(ofStream: event.streamId) else { return }
        // The rows after the last event of an append replace those of the events before it.
        if let hint = db.appendHint as? CaseStreams.AppendHint, hint.isFollowed(event) { return }
        let state = try CaseStreams.state(after: event, in: db)
        // What the case's rows hold now: only rows that change are written (most commands move
        // one or two of a case's deadlines and leave the rest as they are).
        var stored: [String: StoredRow] = [:]
        for row in try db.query("SELECT deadline_id, rule, party, coordinator, due_us, is_open, status, body FROM deadlines WHERE case_id = ?", [.text(caseId.rawValue)]) {
            let id = row[0].string ?? ""
            stored[id] = StoredRow(
                rule: row[1].string ?? "", party: row[2].string ?? "", coordinator: row[3].string ?? "", dueMicros: row[4].int64 ?? 0,
                isOpen: row[5].int64 == 1, status: row[6].string ?? "", body: row[7].string ?? "")
        }
        let wanted: [String: StoredRow]
        if let pre = (db.appendHint as? CaseStreams.AppendHint)?.deadlines, pre.producer == ObjectIdentifier(bodies), pre.eventId == event.id {
            wanted = pre.rows
        } else {
            wanted = try rows(for: state, at: event.recordedAt)
        }
        for id in stored.keys where wanted[id] == nil {
            try db.execute("DELETE FROM deadlines WHERE deadline_id = ?", [.text(id)])
        }
        for (id, row) in wanted where stored[id] != row {
            try db.execute(
                "INSERT OR REPLACE INTO deadlines (deadline_id, case_id, rule, party, coordinator, due_us, is_open, status, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [.text(id), .text(caseId.rawValue), .text(row.rule), .text(row.party), .text(row.coordinator), .integer(row.dueMicros),
                 .integer(row.isOpen ? 1 : 0), .text(row.status), .text(row.body)])
        }
    }

    /// The rows a case's state gives at `now` (the recording time of its last event).
    func rows(for state: CaseState, at now: Date) throws -> [String: StoredRow] {
        var wanted: [String: StoredRow] = [:]
        guard state.facts != nil else { return wanted }
        let coordinator = state.coordinator ?? ""
        for deadline in DeadlineEngine.deadlines(for: state, now: now, calculator: calculator) {
            // Only running deadlines are read whole (the board); a settled one keeps its status
            // and due time, and a case's detail derives it afresh.
            let isOpen = deadline.isOpen && state.isOpen
            wanted[deadline.id] = StoredRow(
                rule: deadline.rule.rawValue, party: deadline.party.rawValue, coordinator: coordinator,
                dueMicros: deadline.due.unixMicroseconds, isOpen: isOpen, status: deadline.status.rawValue,
                body: isOpen ? try bodies.body(of: deadline) : "{}")
        }
        return wanted
    }

    /// The rows for `state`, the state after the event `eventId` recorded at `now`, worked out
    /// before the append reaches the writer; the projection uses them when they are for
    /// exactly that event, and only this projection's own (same calculator).
    func precompute(_ state: CaseState, after eventId: UUID, at now: Date) throws -> PrecomputedDeadlines {
        PrecomputedDeadlines(producer: ObjectIdentifier(bodies), eventId: eventId, rows: try rows(for: state, at: now))
    }

    /// A deadline row as stored, to compare with what the case's state now gives.
    struct StoredRow: Equatable, Sendable {
        var rule: String
        var party: String
        var coordinator: String
        var dueMicros: Int64
        var isOpen: Bool
        var status: String
        var body: String
    }

    public func drop(_ db: ProjectionDatabase) throws {
        try db.executeScript("DROP TABLE IF EXISTS deadlines")
    }
}

/// A case's deadline rows worked out ahead of its append (see ``DeadlineProjection/precompute``).
struct PrecomputedDeadlines: Sendable {
    let producer: ObjectIdentifier
    let eventId: UUID
    let rows: [String: DeadlineProjection.StoredRow]
}

/// The JSON bodies of running deadlines, kept for the deadlines last encoded: a command leaves
/// most of a case's deadlines as they were, and encoding one was most of an append's cost.
///
/// A pure memo (the same deadline value always encodes to the same body), so it never has to
/// agree with the database; bounded by two generations of at most `capacity / 2` deadlines.
final class DeadlineBodies: Sendable {
    private struct Generations {
        var young: [String: (deadline: CaseDeadline, body: String)] = [:]
        var old: [String: (deadline: CaseDeadline, body: String)] = [:]
    }

    private let storage = Mutex(Generations())
    let capacity: Int

    init(capacity: Int = 50_000) { self.capacity = capacity }

    func body(of deadline: CaseDeadline) throws -> String {
        let known = storage.withLock { $0.young[deadline.id] ?? $0.old[deadline.id] }
        if let known, known.deadline == deadline { return known.body }
        let body = String(decoding: deadline.wireBytes, as: UTF8.self)
        storage.withLock { g in
            if g.young[deadline.id] == nil && g.young.count >= capacity / 2 {
                g.old = g.young
                g.young = [:]
            }
            g.young[deadline.id] = (deadline, body)
        }
        return body
    }
}

/// Filters for the deadline board.
public struct DeadlineBoardFilter: Sendable, Equatable, Decodable {
    public var coordinator: String?
    public var rule: String?
    public var party: String?
    public var caseId: String?
    /// Only deadlines due within this many days from now (overdue ones included).
    public var withinDays: Int?
    /// true: only deadlines already past due; false: only those not yet due.
    public var overdue: Bool?
    public var limit: Int?

    public init(coordinator: String? = nil, rule: String? = nil, party: String? = nil, caseId: String? = nil,
                withinDays: Int? = nil, overdue: Bool? = nil, limit: Int? = nil) {
        self.coordinator = coordinator
        self.rule = rule
        self.party = party
        self.caseId = caseId
        self.withinDays = withinDays
        self.overdue = overdue
        self.limit = limit
    }
}

extension DeadlineProjection {
    /// Open deadlines by due time, with their status as of `now`.
    public static func board(in store: EventStore, matching filter: DeadlineBoardFilter, now: Date) throws -> [[String: JSONValue]] {
        var clauses = ["is_open = 1"]
        var arguments: [SQLiteValue] = []
        let nowMicros = now.unixMicroseconds
        // Asking for more information is optional: a window that closed unused is not a miss.
        clauses.append("NOT (rule = 'ur.info-request' AND due_us <= ?)")
        arguments.append(.integer(nowMicros))
        if let v = filter.coordinator { clauses.append("coordinator = ?"); arguments.append(.text(v)) }
        if let v = filter.rule { clauses.append("rule = ?"); arguments.append(.text(v)) }
        if let v = filter.party { clauses.append("party = ?"); arguments.append(.text(v)) }
        if let v = filter.caseId { clauses.append("case_id = ?"); arguments.append(.text(v)) }
        if let days = filter.withinDays {
            clauses.append("due_us <= ?")
            arguments.append(.integer(nowMicros + Int64(days) * 86_400_000_000))
        }
        switch filter.overdue {
        case true?: clauses.append("due_us <= ?"); arguments.append(.integer(nowMicros))
        case false?: clauses.append("due_us > ?"); arguments.append(.integer(nowMicros))
        case nil: break
        }
        let limit = filter.limit.map { " LIMIT \(max(0, $0))" } ?? ""
        let rows = try store.read { db in
            try db.query("SELECT body, due_us, coordinator FROM deadlines WHERE \(clauses.joined(separator: " AND ")) ORDER BY due_us, deadline_id\(limit)", arguments)
        }
        return rows.map { row in
            var object = (try? JSONDecoder().decode(JSONValue.self, from: Data((row["body"].string ?? "{}").utf8)).objectValue) ?? [:]
            object["status"] = .string((row["due_us"].int64 ?? 0) > nowMicros ? DeadlineStatus.pending.rawValue : DeadlineStatus.missed.rawValue)
            object["coordinator"] = .string(row["coordinator"].string ?? "")
            return object
        }
    }

    /// How many running deadlines are past due at `now` (optional information requests aside).
    public static func overdueCount(in store: EventStore, at now: Date) throws -> Int64 {
        try store.read { try overdueCount(in: $0, at: now) }
    }

    static func overdueCount(in db: ProjectionDatabase, at now: Date) throws -> Int64 {
        try db.query("SELECT COUNT(*) FROM deadlines WHERE is_open = 1 AND due_us <= ? AND rule != 'ur.info-request'", [.integer(now.unixMicroseconds)]).first?[0].int64 ?? 0
    }

    /// The earliest open deadline's due instant, if any.
    public static func nextDue(in store: EventStore, after now: Date) throws -> Date? {
        let nowMicros = now.unixMicroseconds
        let next = try store.read { db in
            try db.query("SELECT MIN(due_us) FROM deadlines WHERE is_open = 1 AND due_us > ?", [.integer(nowMicros)]).first?[0].int64
        }
        return next.map { Date(timeIntervalSince1970: Double($0) / 1_000_000) }
    }
}
