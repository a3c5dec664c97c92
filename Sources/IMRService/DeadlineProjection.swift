import EventStore
import Foundation
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
        let state = try CaseStreams.state(after: event, in: db)
        try db.execute("DELETE FROM deadlines WHERE case_id = ?", [.text(caseId.rawValue)])
        guard state.facts != nil else { return }
        let coordinator = state.coordinator ?? ""
        let encoder = WireFormat.encoder
        for deadline in DeadlineEngine.deadlines(for: state, now: event.recordedAt, calculator: calculator) {
            // Only running deadlines are read whole (the board); a settled one keeps its status
            // and due time, and a case's detail derives it afresh. Encoding every settled
            // deadline on each event was most of the cost of an append.
            let isOpen = deadline.isOpen && state.isOpen
            let body = isOpen ? String(decoding: try encoder.encode(deadline), as: UTF8.self) : "{}"
            try db.execute(
                "INSERT INTO deadlines (deadline_id, case_id, rule, party, coordinator, due_us, is_open, status, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [.text(deadline.id), .text(caseId.rawValue), .text(deadline.rule.rawValue), .text(deadline.party.rawValue),
                 .text(coordinator), .integer(deadline.due.unixMicroseconds),
                 .integer(isOpen ? 1 : 0), .text(deadline.status.rawValue), .text(body)])
        }
    }

    public func drop(_ db: ProjectionDatabase) throws {
        try db.executeScript("DROP TABLE IF EXISTS deadlines")
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
