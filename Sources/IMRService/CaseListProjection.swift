import EventStore
import Foundation
import IMRWire
import Varlink
import Workflow

/// One row per case for the case list: who, where it stands, its IMR case numbers and its
/// next deadline, kept so that any page of any filter is read on an index.
///
/// On each event of a case stream the projection re-folds that case's stream (tens of
/// events) inside the append's transaction and updates the row: simple, and a rebuild
/// from position 0 reaches exactly the same rows. The next deadline is read from the deadline
/// read model's rows for the case, which that projection wrote for the same event just before
/// (it comes first in ``ReadModels/standard()``): the earliest running deadline that must be met.
/// The optional window to ask for more information (`ur.info-request`) is left out: it is on
/// the deadline board while open, and a list ordered by it would put closed, unused windows first.
package struct CaseListProjection: Projection {
    package let name = "case_list"
    /// 2: the next deadline stored in the row (`next_due_us`, `next_rule`, `next_sort`) and
    /// indexes that end in the list's order.
    /// 3: the next deadline leaves out missed deadlines kept as history (deadlines version 6).
    /// 4: case ids, claim numbers, employers, claims administrators and IMR case numbers on
    /// indexes that ignore letter case (search by prefix, case ids in any letter case).
    package var version: Int { 4 }

    /// What a rebuild works out ahead: the case states (shared with the deadline read model's
    /// preparation when the read models are made together, ``ReadModels/standard(policy:)``).
    let preparation: BatchPreparation

    /// The deadlines read model when it is known to be there (the standard set, applied before
    /// this one); else each case's next deadline is read only if the store has its table.
    let deadlines: DeadlineProjection?
    var withDeadlines: Bool { deadlines != nil }

    package init() {
        preparation = CaseStreams.preparation(deadlines: nil)
        deadlines = nil
    }

    /// One of the standard set (``ReadModels/standard(policy:)``), after the deadlines read model.
    init(preparation: BatchPreparation, after deadlines: DeadlineProjection) {
        self.preparation = preparation
        self.deadlines = deadlines
    }

    package var batchPreparation: BatchPreparation? { preparation }

    /// A case's next deadline is read from the deadlines read model as the case's events are
    /// applied: when the deadlines are rebuilt (a new version at start, or on request), so is
    /// the case list, or it would keep next deadlines from rows about to be replaced.
    package var reads: [String] { ["deadlines"] }

    /// The list's and the search's indexes: `apply` reads a case's row by its key only.
    package var deferredIndexes: [String] {
        [
            "case_list_open_next", "case_list_coordinator_next", "case_list_stage_next", "case_list_claim",
            "case_list_id_nocase",
            "case_list_claim_nocase", "case_list_employer_nocase", "case_list_administrator_nocase",
            "case_imr_numbers_nocase",
        ]
    }

    /// A case's next deadline that must be met, on that case's deadline rows.
    static let nextDeadlineSQL = """
        SELECT due_us, rule FROM deadlines INDEXED BY deadlines_case WHERE case_id = ? AND is_open = 1 AND rule != 'ur.info-request'
        ORDER BY due_us, deadline_id LIMIT 1
        """

    /// What ``nextDeadlineSQL`` finds among a case's deadline rows: the running one due first
    /// (by id, bytewise, among those due at once), the information request's clock left out.
    static func nextDeadline(among rows: [String: DeadlineProjection.StoredRow]) -> (due: Int64, rule: String)? {
        var next: (due: Int64, id: String, rule: String)?
        for (id, row) in rows where row.isOpen && row.rule != RuleID.urInfoRequest.rawValue {
            if let n = next,
                n.due < row.dueMicros || (n.due == row.dueMicros && !id.utf8.lexicographicallyPrecedes(n.id.utf8))
            {
                continue
            }
            next = (row.dueMicros, id, row.rule)
        }
        return next.map { ($0.due, $0.rule) }
    }

    /// The sort key of a case with no running deadline: after every due time.
    static let noDeadline = Int64.max

    package func prepare(_ db: ProjectionDatabase) throws {
        try db.executeScript(
            """
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
                updated_at_us        INTEGER NOT NULL,
                next_due_us          INTEGER,
                next_rule            TEXT,
                next_sort            INTEGER NOT NULL
            );
            CREATE INDEX case_list_open_next ON case_list (is_open, next_sort, case_id);
            CREATE INDEX case_list_coordinator_next ON case_list (coordinator, is_open, next_sort, case_id);
            CREATE INDEX case_list_stage_next ON case_list (stage, is_open, next_sort, case_id);
            CREATE INDEX case_list_claim ON case_list (claim_number);
            CREATE INDEX case_list_id_nocase ON case_list (case_id COLLATE NOCASE);
            CREATE INDEX case_list_claim_nocase ON case_list (claim_number COLLATE NOCASE);
            CREATE INDEX case_list_employer_nocase ON case_list (employer COLLATE NOCASE);
            CREATE INDEX case_list_administrator_nocase ON case_list (claims_administrator COLLATE NOCASE);
            CREATE TABLE case_counts (
                stage   TEXT NOT NULL,
                is_open INTEGER NOT NULL,
                cases   INTEGER NOT NULL,
                PRIMARY KEY (stage, is_open)
            );
            CREATE TABLE case_imr_numbers (
                imr_case_number TEXT NOT NULL,
                case_id         TEXT NOT NULL,
                PRIMARY KEY (imr_case_number, case_id)
            );
            CREATE INDEX case_imr_numbers_nocase ON case_imr_numbers (imr_case_number COLLATE NOCASE);
            """
        )
    }

    package func apply(_ event: RecordedEvent, to db: ProjectionDatabase) throws {
        // The case's row (and its count) after its next event, in the same append or catch-up
        // batch, replaces this one's.
        if db.upcoming?.streamId == event.streamId { return }
        guard let caseId = CaseStreams.caseId(ofStream: event.streamId) else { return }
        let state = try CaseStreams.state(after: event, in: db)
        guard let facts = state.facts else { return }
        let numbers = Array(Set(state.items.compactMap { $0.imrCaseNumber?.rawValue })).sorted()
        var next: (due: Int64, rule: String)?
        if state.isOpen,
            try withDeadlines
                || !db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deadlines'").isEmpty
        {
            // The rows the deadlines read model has just written, when it worked them out ahead
            // (a command decided ahead, a rebuild's batch): no query.
            if let rows = deadlines?.preparedRows(after: event, in: db) {
                next = Self.nextDeadline(among: rows.rows)
            } else {
                next = try db.query(Self.nextDeadlineSQL, [.text(caseId.rawValue)]).first.map {
                    ($0[0].int64 ?? 0, $0[1].string ?? "")
                }
            }
        }
        // The counts by stage move with the row: status, the STATUS= line and the metrics read
        // a dozen counts instead of counting the cases.
        let before =
            try CaseStreams.isFresh(event, in: db)
            ? nil
            : db.query(
                "SELECT stage, is_open, claim_number, employer, claims_administrator, coordinator, next_sort FROM case_list WHERE case_id = ?",
                [.text(caseId.rawValue)]
            ).first
        let (stage, isOpen) = (state.stage.rawValue, Int64(state.isOpen ? 1 : 0))
        if before?[0].string != stage || before?[1].int64 != isOpen {
            if let before {
                try db.execute(
                    "UPDATE case_counts SET cases = cases - 1 WHERE stage = ? AND is_open = ?",
                    [before[0], before[1]]
                )
                // No row for a stage no case is at: the same rows however the cases got there.
                try db.execute(
                    "DELETE FROM case_counts WHERE stage = ? AND is_open = ? AND cases <= 0",
                    [before[0], before[1]]
                )
            }
            // Summed over a rebuild's batch: what the decrement above takes away was counted
            // in an earlier batch (a case's run of events is applied once a batch).
            try db.add(
                1,
                with:
                    "INSERT INTO case_counts (stage, is_open, cases) VALUES (?, ?, ?) ON CONFLICT(stage, is_open) DO UPDATE SET cases = cases + excluded.cases",
                key: [.text(stage), .integer(isOpen)]
            )
        }
        let nextDue: SQLiteValue = next.map { .integer($0.due) } ?? .null
        let nextRule: SQLiteValue = next.map { .text($0.rule) } ?? .null
        let nextSort = next?.due ?? Self.noDeadline
        guard let before else {
            try db.execute(
                """
                INSERT INTO case_list (case_id, claim_number, employer, claims_administrator, coordinator, date_of_injury, stage,
                    is_open, imr_case_numbers, items, version, last_position, updated_at_us, next_due_us, next_rule, next_sort)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(caseId.rawValue), .text(facts.claimNumber), .text(facts.employer),
                    .text(facts.claimsAdministrator),
                    .text(state.coordinator ?? ""), .text(facts.dateOfInjury.iso), .text(stage), .integer(isOpen),
                    .text(numbers.joined(separator: ",")), .integer(Int64(state.items.count)),
                    .integer(Int64(state.version)),
                    .integer(event.position), .integer(event.recordedAt.unixMicroseconds), nextDue, nextRule,
                    .integer(nextSort),
                ]
            )
            try recordNumbers()
            return
        }
        // The indexed columns are set only when they change (``ChangedColumns``): most commands
        // move the next deadline and the version, not the claim number or the employer.
        var changes = ChangedColumns()
        changes.always("date_of_injury", .text(facts.dateOfInjury.iso))
        changes.always("imr_case_numbers", .text(numbers.joined(separator: ",")))
        changes.always("items", .integer(Int64(state.items.count)))
        changes.always("version", .integer(Int64(state.version)))
        changes.always("last_position", .integer(event.position))
        changes.always("updated_at_us", .integer(event.recordedAt.unixMicroseconds))
        changes.always("next_due_us", nextDue)
        changes.always("next_rule", nextRule)
        changes.set("stage", .text(stage), was: before[0])
        changes.set("is_open", .integer(isOpen), was: before[1])
        changes.set("claim_number", .text(facts.claimNumber), was: before[2])
        changes.set("employer", .text(facts.employer), was: before[3])
        changes.set("claims_administrator", .text(facts.claimsAdministrator), was: before[4])
        changes.set("coordinator", .text(state.coordinator ?? ""), was: before[5])
        changes.set("next_sort", .integer(nextSort), was: before[6])
        try changes.update("case_list", key: "case_id", .text(caseId.rawValue), in: db)
        try recordNumbers()

        func recordNumbers() throws {
            for number in numbers {
                try db.execute(
                    "INSERT OR IGNORE INTO case_imr_numbers (imr_case_number, case_id) VALUES (?, ?)",
                    [.text(number), .text(caseId.rawValue)]
                )
            }
        }
    }

    package func drop(_ db: ProjectionDatabase) throws {
        try db.executeScript(
            "DROP TABLE IF EXISTS case_list; DROP TABLE IF EXISTS case_imr_numbers; DROP TABLE IF EXISTS case_counts;"
        )
    }
}

extension CaseSummary {
    /// The summary as `WireFormat.object` gives it (a test holds the two equal), built by hand:
    /// a page has up to a thousand of them.
    package var wireJSON: [String: JSONValue] {
        var o: [String: JSONValue] = [
            "caseId": .string(caseId), "claimNumber": .string(claimNumber), "employer": .string(employer),
            "claimsAdministrator": .string(claimsAdministrator), "coordinator": .string(coordinator),
            "dateOfInjury": .string(dateOfInjury), "stage": .string(stage), "isOpen": .bool(isOpen),
            "imrCaseNumbers": .array(imrCaseNumbers.map { .string($0) }), "items": .int(Int64(items)),
            "version": .int(version),
        ]
        if let nextDue { o["nextDue"] = .string(nextDue) }
        if let nextRule { o["nextRule"] = .string(nextRule) }
        if let missedInHistory { o["missedInHistory"] = .int(Int64(missedInHistory)) }
        if let lastMissedDue { o["lastMissedDue"] = .string(lastMissedDue) }
        return o
    }
}

extension CaseSummary {
    /// ``wireJSON`` as JSON text, keys in the order `JSONValue.serialized` sorts them (a test
    /// holds the two byte for byte equal): a page's rows are written straight into bytes, with
    /// no dictionary built and sorted for each.
    package var wireBytes: [UInt8] {
        var w = WireWriter()
        w.open()
        w.key("caseId")
        w.string(caseId)
        w.key("claimNumber")
        w.string(claimNumber)
        w.key("claimsAdministrator")
        w.string(claimsAdministrator)
        w.key("coordinator")
        w.string(coordinator)
        w.key("dateOfInjury")
        w.string(dateOfInjury)
        w.key("employer")
        w.string(employer)
        w.key("imrCaseNumbers")
        w.strings(imrCaseNumbers)
        w.key("isOpen")
        w.bool(isOpen)
        w.key("items")
        w.int(Int64(items))
        if let lastMissedDue {
            w.key("lastMissedDue")
            w.string(lastMissedDue)
        }
        if let missedInHistory {
            w.key("missedInHistory")
            w.int(Int64(missedInHistory))
        }
        if let nextDue {
            w.key("nextDue")
            w.string(nextDue)
        }
        if let nextRule {
            w.key("nextRule")
            w.string(nextRule)
        }
        w.key("stage")
        w.string(stage)
        w.key("version")
        w.int(version)
        w.close()
        return w.bytes
    }

    /// The row for a reply: ``wireBytes``, written out as they are.
    package var wireValue: JSONValue { .raw(RawJSON(trusted: wireBytes)) }
}

/// Where a page of the case list starts: just after this row, in the list's order (open cases
/// before closed ones, then by next deadline, then by case id). Stable: a case recorded or
/// moved meanwhile shows where it now belongs, and no case is shown twice or skipped because
/// others were.
package struct CaseListCursor: Sendable, Equatable {
    package var isOpen: Bool
    package var nextSort: Int64
    package var caseId: String

    package init(isOpen: Bool, nextSort: Int64, caseId: String) {
        self.isOpen = isOpen
        self.nextSort = nextSort
        self.caseId = caseId
    }

    /// As sent to clients: `1.<open 0|1>.<sort key>.<case id in hex>` (at most 150 characters).
    package var text: String {
        "1.\(isOpen ? 1 : 0).\(nextSort).\(Array(caseId.utf8).hexString)"
    }

    /// Nil when `text` is not a cursor this build writes.
    package init?(text: String) {
        guard text.utf8.count <= 150 else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "1", parts[1] == "0" || parts[1] == "1", let sort = Int64(parts[2]),
            let id = HexText.decode(parts[3])
        else { return nil }
        self.init(isOpen: parts[1] == "1", nextSort: sort, caseId: id)
    }
}

/// One page of the case list.
package struct CaseListPage: Sendable, Equatable {
    package var cases: [CaseSummary]
    /// Where the next page starts; nil on the last page.
    package var next: CaseListCursor?
    /// How many matching cases come after this page, counted up to ``CaseListProjection/countLimit``.
    package var remaining: Int
    /// True when the count stopped at the limit: there are at least `remaining` more.
    package var remainingAtLeast: Bool
}

extension CaseListProjection {
    /// How many cases are open, from the counts kept by stage (a dozen rows, whatever the caseload).
    package static func openCount(in db: ProjectionDatabase) throws -> Int64 {
        try db.query("SELECT COALESCE(SUM(cases), 0) FROM case_counts WHERE is_open = 1").first?[0].int64 ?? 0
    }

    /// Open cases by stage, from the same counts; stages with none left out.
    package static func openByStage(in db: ProjectionDatabase) throws -> [(stage: String, cases: Int)] {
        try db.query("SELECT stage, cases FROM case_counts WHERE is_open = 1 AND cases > 0").map {
            ($0[0].string ?? "", Int($0[1].int64 ?? 0))
        }
    }

    /// Cases per page unless the caller asks for fewer or more.
    package static let defaultPage = 100
    /// The most cases one reply carries.
    package static let maximumPage = 1000
    /// How far the cases after a page are counted (the count walks their index entries).
    package static let countLimit = 10_000

    static let columns = """
        case_id, claim_number, employer, claims_administrator, coordinator, date_of_injury, stage, is_open,
        imr_case_numbers, items, version, next_due_us, next_rule, next_sort
        """

    /// The conditions of one part of the list (open or closed cases) for a filter; each leads
    /// with the equalities of one index that ends in (next_sort, case_id).
    static func conditions(_ filter: CaseListFilter, isOpen: Bool) -> (clauses: [String], arguments: [SQLiteValue]) {
        var clauses: [String] = []
        var arguments: [SQLiteValue] = []
        if let coordinator = filter.coordinator {
            clauses.append("coordinator = ?")
            arguments.append(.text(coordinator))
        }
        // With a coordinator, the stage is checked on that coordinator's rows (`+` keeps SQLite
        // off the stage index: a stage holds far more cases than one coordinator).
        if let stage = filter.stage {
            clauses.append(filter.coordinator == nil ? "stage = ?" : "+stage = ?")
            arguments.append(.text(stage))
        }
        if let claim = filter.claimNumber {
            clauses.append("claim_number = ?")
            arguments.append(.text(claim))
        }
        if let number = filter.imrCaseNumber {
            clauses.append("case_id IN (SELECT case_id FROM case_imr_numbers WHERE imr_case_number = ?)")
            arguments.append(.text(number))
        }
        clauses.append("is_open = ?")
        arguments.append(.integer(isOpen ? 1 : 0))
        return (clauses, arguments)
    }

    /// The table, and for a lookup (claim number, IMR case number: a handful of rows, sorted
    /// once found) the index to find them on: ordered by the list's order, SQLite would rather
    /// walk the whole list in order and test each row.
    static func source(_ filter: CaseListFilter) -> String {
        if filter.imrCaseNumber != nil { return "case_list INDEXED BY sqlite_autoindex_case_list_1" }
        if filter.claimNumber != nil { return "case_list INDEXED BY case_list_claim" }
        return "case_list"
    }

    /// The SQL of a page of one part, with its arguments (also what a test explains).
    static func pageQuery(
        _ filter: CaseListFilter,
        isOpen: Bool,
        after cursor: CaseListCursor?,
        limit: Int
    ) -> (sql: String, arguments: [SQLiteValue]) {
        let (clauses, arguments) = conditions(filter, isOpen: isOpen, after: cursor)
        return (
            "SELECT \(columns) FROM \(source(filter)) WHERE \(clauses) ORDER BY next_sort, case_id LIMIT ?",
            arguments + [.integer(Int64(limit))]
        )
    }

    /// The SQL that counts, up to `cap`, the cases of one part after a cursor.
    static func countQuery(
        _ filter: CaseListFilter,
        isOpen: Bool,
        after cursor: CaseListCursor?,
        cap: Int
    ) -> (sql: String, arguments: [SQLiteValue]) {
        let (clauses, arguments) = conditions(filter, isOpen: isOpen, after: cursor)
        return (
            "SELECT COUNT(*) FROM (SELECT 1 FROM \(source(filter)) WHERE \(clauses) LIMIT ?)",
            arguments + [.integer(Int64(cap))]
        )
    }

    /// The WHERE clause of a part after a cursor (the page and its count share it), joined.
    static func conditions(
        _ filter: CaseListFilter,
        isOpen: Bool,
        after cursor: CaseListCursor?
    ) -> (String, [SQLiteValue]) {
        var (clauses, arguments) = conditions(filter, isOpen: isOpen)
        if let cursor {
            clauses.append("(next_sort, case_id) > (?, ?)")
            arguments += [.integer(cursor.nextSort), .text(cursor.caseId)]
        }
        return (clauses.joined(separator: " AND "), arguments)
    }

    /// The parts a filter's list is made of, in order: open cases, then closed ones.
    static func parts(_ filter: CaseListFilter) -> [Bool] {
        filter.open.map { [$0] } ?? [true, false]
    }

    /// One page of the case list: open cases before closed ones, each soonest next deadline
    /// first (those with none last), then by case id; `limit` cases at most, after `cursor`.
    package static func page(
        in db: ProjectionDatabase,
        matching filter: CaseListFilter,
        after cursor: CaseListCursor?,
        limit: Int
    ) throws -> CaseListPage {
        var cases: [CaseSummary] = []
        var last = cursor
        let parts = parts(filter)
        // A cursor from a part this filter does not list (another filter's) starts nowhere.
        let start = cursor.map { c in parts.firstIndex(of: c.isOpen) ?? parts.count } ?? 0
        var index = start
        while index < parts.count && cases.count < limit {
            let isOpen = parts[index]
            let from = last?.isOpen == isOpen ? last : nil
            let (sql, arguments) = pageQuery(filter, isOpen: isOpen, after: from, limit: limit - cases.count)
            for row in try db.query(sql, arguments) {
                var summary = summary(row)
                if filter.includeHistory == true { try addHistory(to: &summary, in: db) }
                cases.append(summary)
                last = CaseListCursor(isOpen: isOpen, nextSort: row[13].int64 ?? noDeadline, caseId: summary.caseId)
            }
            if cases.count < limit { index += 1 }
        }
        // What follows the page, counted on the same indexes.
        var remaining = 0
        var counting = min(index, parts.count)
        while counting < parts.count && remaining <= countLimit {
            let isOpen = parts[counting]
            let (sql, arguments) = countQuery(
                filter,
                isOpen: isOpen,
                after: last?.isOpen == isOpen ? last : nil,
                cap: countLimit + 1 - remaining
            )
            remaining += Int(try db.query(sql, arguments).first?[0].int64 ?? 0)
            counting += 1
        }
        let atLeast = remaining > countLimit
        return CaseListPage(
            cases: cases,
            next: remaining > 0 ? last : nil,
            remaining: min(remaining, countLimit),
            remainingAtLeast: atLeast
        )
    }

    /// The fields `search` looks in, each on its index that ignores letter case.
    static let searchFields: [(table: String, column: String, index: String)] = [
        ("case_list", "case_id", "case_list_id_nocase"), ("case_list", "claim_number", "case_list_claim_nocase"),
        ("case_imr_numbers", "imr_case_number", "case_imr_numbers_nocase"),
        ("case_list", "employer", "case_list_employer_nocase"),
        ("case_list", "claims_administrator", "case_list_administrator_nocase"),
    ]

    /// The queries of a search (also what a test explains): for each field, the case ids whose
    /// value starts with `text` in any letter case, a range of its index.
    static func searchQueries(_ text: String, limit: Int) -> [(sql: String, arguments: [SQLiteValue])] {
        // Every UTF-8 text that starts with `text` sorts from `text` up to `text` + U+10FFFF.
        searchFields.map { field in
            (
                "SELECT case_id FROM \(field.table) INDEXED BY \(field.index) WHERE \(field.column) COLLATE NOCASE >= ? AND \(field.column) COLLATE NOCASE < ? "
                    + "ORDER BY \(field.column) COLLATE NOCASE LIMIT ?",
                [.text(text), .text(text + "\u{10FFFF}"), .integer(Int64(limit))]
            )
        }
    }

    /// Cases whose id, claim number, IMR case number, employer or claims administrator starts
    /// with `text`, ignoring letter case: at most `limit`, open ones first, then by next
    /// deadline and case id (the list's order); `more` when there are others.
    package static func search(
        in db: ProjectionDatabase,
        text: String,
        limit: Int
    ) throws -> (cases: [CaseSummary], more: Bool) {
        var ids: [String] = []
        var seen: Set<String> = []
        var more = false
        for (sql, arguments) in searchQueries(text, limit: limit + 1) {
            let found = try db.query(sql, arguments).compactMap { $0[0].string }
            if found.count > limit { more = true }
            for id in found.prefix(limit) where seen.insert(id).inserted { ids.append(id) }
        }
        if ids.count > limit { more = true }
        var cases: [(summary: CaseSummary, sort: Int64)] = []
        for id in ids {
            if let row = try db.query("SELECT \(columns) FROM case_list WHERE case_id = ?", [.text(id)]).first {
                cases.append((summary(row), row[13].int64 ?? noDeadline))
            }
        }
        cases.sort {
            ($0.summary.isOpen ? 0 : 1, $0.sort, $0.summary.caseId) < (
                $1.summary.isOpen ? 0 : 1, $1.sort, $1.summary.caseId
            )
        }
        return (cases.prefix(limit).map(\.summary), more)
    }

    /// The existing case ids nearest `caseId`: the same id in another letter case, else the ids
    /// beside it in the case-insensitive order (a mistyped last character or digit), closest by
    /// edit distance first; at most `limit`.
    package static func nearestCaseIds(to caseId: String, in db: ProjectionDatabase, limit: Int = 3) throws -> [String]
    {
        let same = try db.query(
            "SELECT case_id FROM case_list INDEXED BY case_list_id_nocase WHERE case_id = ? COLLATE NOCASE LIMIT 2",
            [.text(caseId)]
        )
        .compactMap { $0[0].string }
        if !same.isEmpty { return same }
        let after = try db.query(
            "SELECT case_id FROM case_list INDEXED BY case_list_id_nocase WHERE case_id COLLATE NOCASE > ? ORDER BY case_id COLLATE NOCASE LIMIT 3",
            [.text(caseId)]
        )
        let before = try db.query(
            "SELECT case_id FROM case_list INDEXED BY case_list_id_nocase WHERE case_id COLLATE NOCASE < ? ORDER BY case_id COLLATE NOCASE DESC LIMIT 3",
            [.text(caseId)]
        )
        let near = (before + after).compactMap { $0[0].string }
        let scored = near.map { ($0, editDistance($0.lowercased(), caseId.lowercased())) }
        // Close enough to be a typo: at most a third of the id's characters wrong (and at least one).
        let bound = max(1, caseId.count / 3)
        return scored.filter { $0.1 <= bound }.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.prefix(limit).map(\.0)
    }

    /// The case's misses kept as history, counted on its deadlines' index (a case has a few).
    static let historyQuery = """
        SELECT COUNT(*), MAX(due_us) FROM deadlines INDEXED BY deadlines_case
        WHERE case_id = ? AND is_open = 0 AND status = 'missed'
        """

    static func addHistory(to summary: inout CaseSummary, in db: ProjectionDatabase) throws {
        let row = try db.query(historyQuery, [.text(summary.caseId)]).first
        summary.missedInHistory = Int(row?[0].int64 ?? 0)
        summary.lastMissedDue = row?[1].int64.map {
            Pacific.rfc3339(Date(timeIntervalSince1970: Double($0) / 1_000_000))
        }
    }

    static func summary(_ row: Row) -> CaseSummary {
        CaseSummary(
            caseId: row[0].string ?? "",
            claimNumber: row[1].string ?? "",
            employer: row[2].string ?? "",
            claimsAdministrator: row[3].string ?? "",
            coordinator: row[4].string ?? "",
            dateOfInjury: row[5].string ?? "",
            stage: row[6].string ?? "",
            isOpen: row[7].int64 == 1,
            imrCaseNumbers: (row[8].string ?? "").split(separator: ",").map(String.init),
            items: Int(row[9].int64 ?? 0),
            version: row[10].int64 ?? 0,
            nextDue: row[11].int64.map { Pacific.rfc3339(Date(timeIntervalSince1970: Double($0) / 1_000_000)) },
            nextRule: row[12].string
        )
    }

    /// The claim number and stage of each of these cases, on the table's key: one query for a
    /// page of the deadline board (at most ``DeadlineProjection/maximumPage`` deadlines). The
    /// ids come as one JSON array, so that every page runs the same statement: an `IN (?, ?, …)`
    /// list as long as the page's cases was a statement of its own for each length, and the
    /// readers' statement caches filled with them (the daemon grew by megabytes an export).
    static func claimNumberAndStageQuery(_ caseIds: [String]) -> (sql: String, arguments: [SQLiteValue]) {
        (
            "SELECT case_id, claim_number, stage FROM case_list WHERE case_id IN (SELECT value FROM json_each(?))",
            [.text(String(decoding: JSONValue.array(caseIds.map { .string($0) }).serialized, as: UTF8.self))]
        )
    }

    /// Deadline board rows with their case's `claimNumber` and `stage` beside `coordinator`
    /// (`Deadlines.List` with `withCase`), read in the same transaction as the rows: the deadline
    /// CSV joins them without reading every case. A case the list has no row for gets neither.
    package static func withClaimNumberAndStage(
        _ rows: [[String: JSONValue]],
        in db: ProjectionDatabase
    ) throws -> [[String: JSONValue]] {
        var ids: [String] = []
        var seen: Set<String> = []
        for row in rows {
            if let id = row["caseId"]?.stringValue, seen.insert(id).inserted { ids.append(id) }
        }
        guard !ids.isEmpty else { return rows }
        let query = claimNumberAndStageQuery(ids)
        var byCase: [String: (claimNumber: String, stage: String)] = [:]
        for row in try db.query(query.sql, query.arguments) {
            byCase[row[0].string ?? ""] = (row[1].string ?? "", row[2].string ?? "")
        }
        return rows.map { row in
            guard let id = row["caseId"]?.stringValue, let found = byCase[id] else { return row }
            var row = row
            row["claimNumber"] = .string(found.claimNumber)
            row["stage"] = .string(found.stage)
            return row
        }
    }

    /// Every case the filter matches, read page by page (for short lists: a claim's or an IMR
    /// case number's cases, and tests).
    package static func cases(in store: EventStore, matching filter: CaseListFilter) throws -> [CaseSummary] {
        var all: [CaseSummary] = []
        var cursor: CaseListCursor?
        repeat {
            let page = try store.read { try Self.page(in: $0, matching: filter, after: cursor, limit: maximumPage) }
            all += page.cases
            cursor = page.next
        } while cursor != nil
        return all
    }
}
