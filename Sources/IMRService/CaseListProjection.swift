import EventStore
import Foundation
import Workflow

/// One row per case for the case list: who, where it stands, and its IMR case numbers.
///
/// On each event of a case stream the projection re-folds that case's stream (tens of
/// events) inside the append's transaction and replaces the row: simple, and a rebuild
/// from position 0 reaches exactly the same rows.
public struct CaseListProjection: Projection {
    public let name = "case_list"

    public init() {}

    public func prepare(_ db: ProjectionDatabase) throws {
        try db.executeScript("""
            CREATE TABLE case_list (
                case_id              TEXT PRIMARY KEY,
                claim_number         TEXT NOT NULL,
                employer             TEXT NOT NULL,
                claims_administrator TEXT NOT NULL,
                coordinator          TEXT NOT NULL,
                date_of_injury       TEXT NOT NULL,
                stage                TEXT NOT NULL,
                is_open              INTEGER NOT NULL,
                imr_case_numbers     TEXT NOT NULL,
                items                INTEGER NOT NULL,
                version              INTEGER NOT NULL,
                last_position        INTEGER NOT NULL,
                updated_at_us        INTEGER NOT NULL
            );
            CREATE INDEX case_list_coordinator ON case_list (coordinator, is_open);
            CREATE INDEX case_list_claim ON case_list (claim_number);
            CREATE TABLE case_imr_numbers (
                imr_case_number TEXT NOT NULL,
                case_id         TEXT NOT NULL,
                PRIMARY KEY (imr_case_number, case_id)
            );
            """)
    }

    public func apply(_ event: RecordedEvent, to db: ProjectionDatabase) throws {
        guard let caseId = CaseStreams.caseId(ofStream: event.streamId) else { return }
        let state = try CaseStreams.state(after: event, in: db)
        guard let facts = state.facts else { return }
        let numbers = Array(Set(state.items.compactMap { $0.imrCaseNumber?.rawValue })).sorted()
        try db.execute(
            """
            INSERT OR REPLACE INTO case_list (case_id, claim_number, employer, claims_administrator, coordinator,
                date_of_injury, stage, is_open, imr_case_numbers, items, version, last_position, updated_at_us)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [.text(caseId.rawValue), .text(facts.claimNumber), .text(facts.employer), .text(facts.claimsAdministrator),
             .text(state.coordinator ?? ""), .text(facts.dateOfInjury.iso), .text(state.stage.rawValue),
             .integer(state.isOpen ? 1 : 0), .text(numbers.joined(separator: ",")), .integer(Int64(state.items.count)),
             .integer(Int64(state.version)), .integer(event.position),
             .integer(event.recordedAt.unixMicroseconds)])
        for number in numbers {
            try db.execute("INSERT OR IGNORE INTO case_imr_numbers (imr_case_number, case_id) VALUES (?, ?)", [.text(number), .text(caseId.rawValue)])
        }
    }

    public func drop(_ db: ProjectionDatabase) throws {
        try db.executeScript("DROP TABLE IF EXISTS case_list; DROP TABLE IF EXISTS case_imr_numbers;")
    }
}

/// A row of the case list.
public struct CaseSummary: Sendable, Equatable, Codable {
    public var caseId: String
    public var claimNumber: String
    public var employer: String
    public var claimsAdministrator: String
    public var coordinator: String
    public var dateOfInjury: String
    public var stage: String
    public var isOpen: Bool
    public var imrCaseNumbers: [String]
    public var items: Int
    public var version: Int64
    /// The case's earliest running deadline (RFC 3339, Pacific) and its rule; nil when none runs.
    public var nextDue: String?
    public var nextRule: String?
}

/// Filters for the case list; nil means any.
public struct CaseListFilter: Sendable, Equatable, Codable {
    public var open: Bool?
    public var stage: String?
    public var coordinator: String?
    public var claimNumber: String?
    public var imrCaseNumber: String?
    public var limit: Int?

    public init(open: Bool? = nil, stage: String? = nil, coordinator: String? = nil, claimNumber: String? = nil, imrCaseNumber: String? = nil, limit: Int? = nil) {
        self.open = open
        self.stage = stage
        self.coordinator = coordinator
        self.claimNumber = claimNumber
        self.imrCaseNumber = imrCaseNumber
        self.limit = limit
    }
}

extension CaseListProjection {
    /// Reads the case list through the store's read connections, soonest next deadline first
    /// (cases with no running deadline last, by id). `now` hides optional information-request
    /// windows that have closed, as the board does.
    public static func cases(in store: EventStore, matching filter: CaseListFilter, now: Date = Date()) throws -> [CaseSummary] {
        var clauses: [String] = []
        var arguments: [SQLiteValue] = []
        if let open = filter.open { clauses.append("is_open = ?"); arguments.append(.integer(open ? 1 : 0)) }
        if let stage = filter.stage { clauses.append("stage = ?"); arguments.append(.text(stage)) }
        if let coordinator = filter.coordinator { clauses.append("coordinator = ?"); arguments.append(.text(coordinator)) }
        if let claim = filter.claimNumber { clauses.append("claim_number = ?"); arguments.append(.text(claim)) }
        if let number = filter.imrCaseNumber {
            clauses.append("case_id IN (SELECT case_id FROM case_imr_numbers WHERE imr_case_number = ?)")
            arguments.append(.text(number))
        }
        let whereClause = clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND ")
        let limit = filter.limit.map { " LIMIT \(max(0, $0))" } ?? ""
        return try store.read { db in
            // The next deadline comes from the deadline read model, when the store keeps it.
            let withDeadlines = try !db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deadlines'").isEmpty
            let next = """
                FROM deadlines d WHERE d.case_id = case_list.case_id AND d.is_open = 1
                AND NOT (d.rule = 'ur.info-request' AND d.due_us <= :now) ORDER BY d.due_us, d.deadline_id LIMIT 1
                """
            let columns = withDeadlines
                ? "(SELECT d.due_us \(next)) AS next_due_us, (SELECT d.rule \(next)) AS next_rule"
                : "NULL AS next_due_us, NULL AS next_rule"
            let sql = "SELECT *, \(columns) FROM case_list\(whereClause) ORDER BY next_due_us IS NULL, next_due_us, case_id\(limit)"
            // :now (in the columns, so parameter 1) is bound, not written into the text: one
            // prepared statement serves every call.
            return try db.query(sql, (withDeadlines ? [.integer(now.unixMicroseconds)] : []) + arguments).map { row in
                CaseSummary(
                    caseId: row["case_id"].string ?? "", claimNumber: row["claim_number"].string ?? "",
                    employer: row["employer"].string ?? "", claimsAdministrator: row["claims_administrator"].string ?? "",
                    coordinator: row["coordinator"].string ?? "", dateOfInjury: row["date_of_injury"].string ?? "",
                    stage: row["stage"].string ?? "", isOpen: row["is_open"].int64 == 1,
                    imrCaseNumbers: (row["imr_case_numbers"].string ?? "").split(separator: ",").map(String.init),
                    items: Int(row["items"].int64 ?? 0), version: row["version"].int64 ?? 0,
                    nextDue: row["next_due_us"].int64.map { Pacific.rfc3339(Date(timeIntervalSince1970: Double($0) / 1_000_000)) },
                    nextRule: row["next_rule"].string)
            }
        }
    }
}
