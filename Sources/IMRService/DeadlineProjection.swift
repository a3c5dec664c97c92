import EventStore
import Foundation
import IMRWire
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
///
/// Only running deadlines and misses have rows. A deadline that settled otherwise (met, met
/// late, no longer applicable) has none: the case's settled outcomes are one row
/// (`deadline_settled`) and each rule's are counted (`deadline_outcome_counts`, what
/// `Cases.Stats` reads); a case's detail derives its deadlines afresh.
///
/// Each running deadline also keeps its alert plan (``AlertPlan``: when each alert of the
/// alert policy becomes due) and, indexed, the instant its next alert not yet raised becomes
/// due (`next_alert_us`). The alert scheduler reads only the rows whose instant has come.
/// The projection follows the alert streams' ``AlertRaised`` events to move that instant on,
/// keeping the levels each deadline has raised in a table of its own (`deadline_alerts`), so
/// that it depends on no other read model and a rebuild gives what the appends gave.
///
/// When one of its deadlines starts or stops running (a row inserted, deleted or its `is_open`
/// changed), or its table is dropped, it tells the alerts read model, whose alerts of that
/// deadline are live only while it runs (``AlertProjection/deadlines(_:in:known:)``): the open alerts'
/// indexes then hold no alert of a settled deadline, whichever of the two read models is
/// given an event first.
package struct DeadlineProjection: Projection {
    package let name = "deadlines"
    let calculator: DeadlineCalculator
    let policy: AlertPolicy
    let bodies = DeadlineBodies()

    /// Whether the alerts read model is known to be there (the standard set); else the alerts of
    /// a deadline that starts or stops running are told only if the store has their table.
    let withAlerts: Bool

    package init(calculator: DeadlineCalculator = .init(), policy: AlertPolicy = .standard) {
        self.init(calculator: calculator, policy: policy, withAlerts: false)
    }

    /// One of the standard set (``ReadModels/standard(policy:)``), with the alerts read model.
    init(calculator: DeadlineCalculator = .init(), policy: AlertPolicy, withAlerts: Bool) {
        self.calculator = calculator
        self.policy = policy
        self.withAlerts = withAlerts
    }

    /// A rebuild works each case's state and rows out on the rebuild's own thread.
    package var batchPreparation: BatchPreparation? { CaseStreams.preparation(deadlines: self) }

    /// The board's indexes of running deadlines. Not `deadlines_case` (`apply` and the case list
    /// read a case's rows on it), `deadlines_running` (an alert raised asks on it whether its
    /// deadline runs) or `deadlines_next_alert` (the alert scheduler reads on it while a rebuild
    /// runs); nor the history's two (missed deadlines only, a few in a hundred rows: kept as the
    /// rows are written, they fit in the cache, while creating each at the end read the whole
    /// table again, 471 MB at 200,000 cases, one core idle meanwhile).
    package var deferredIndexes: [String] { ["deadlines_open_due", "deadlines_coordinator_due"] }

    /// 2: a case's running deadlines by due time on an index (`deadlines_case`), for the case
    /// list's next deadline; the board's order (due time, then id) on indexes, all of it and by
    /// coordinator, so that any page is read in order.
    /// 3: each running deadline's alert plan and next alert instant (indexed), and the policy
    /// the plans were worked out with.
    /// 4: the board's indexes also hold rule and party, and the running deadlines' ids have a
    /// partial index of their own, so that counting a board's rows and asking whether an
    /// alert's deadline still runs read index pages only (no 1.4 KB row each).
    /// 5: the levels each deadline has raised, kept here (`deadline_alerts`).
    /// 6: a missed deadline kept as history (``CaseDeadline/history``) no longer runs, and a
    /// determination settles `imr.records` however it was recorded, and the per-item clocks
    /// of items due together are one deadline (new ids for those of several items).
    /// 7: a miss kept as history keeps its body, on indexes of its own (the whole board's and
    /// by coordinator), so that the board can list it when asked (`includeHistory`).
    /// 8: the board's two indexes hold the running deadlines only (`WHERE is_open = 1`, the
    /// condition every query on them has): a deadline that settles leaves them instead of
    /// moving to another part of each (a page written per index instead of two), and at
    /// 2,000,000 cases they are a fraction of the size.
    /// 9: the explanations of issue 16 (a treatment recommendation's limit set aside under an
    /// expedited, retrospective or formulary period; the calendar of a deemed receipt; why a
    /// clock uses CalHR's calendar in every year), and a clock triggered outside the years the
    /// calendars cover (2013-2035) is unavailable with the reason instead of counted.
    /// 10: a deadline that settled other than missed (met, met late, no longer applicable) has
    /// no row: a case's settled outcomes are one row (`deadline_settled`) and each rule's are
    /// counted (`deadline_outcome_counts`), so that the figures read a few rows instead of
    /// every deadline ever derived (four rows in five were settled ones).
    /// 11: the assumptions a deadline states are those its count used: the written notice's
    /// unverified "2 business days" not on a concurrent review's 24 hours, its pre-2020 UR
    /// calendar said as a reading, a retrospective review's notice counted as a prospective
    /// one's said so, a notice of assignment delivered in person said so.
    package var version: Int { 11 }

    package func prepare(_ db: ProjectionDatabase) throws {
        try db.executeScript(
            """
            CREATE TABLE deadlines (
                deadline_id  TEXT PRIMARY KEY,
                case_id      TEXT NOT NULL,
                rule         TEXT NOT NULL,
                party        TEXT NOT NULL,
                coordinator  TEXT NOT NULL,
                due_us       INTEGER NOT NULL,
                is_open      INTEGER NOT NULL,
                status       TEXT NOT NULL,
                body         TEXT NOT NULL,
                alert_plan   TEXT NOT NULL,
                next_alert_us INTEGER
            );
            CREATE INDEX deadlines_open_due ON deadlines (is_open, due_us, deadline_id, rule, party) WHERE is_open = 1;
            CREATE INDEX deadlines_coordinator_due ON deadlines (coordinator, is_open, due_us, deadline_id, rule, party) WHERE is_open = 1;
            CREATE INDEX deadlines_running ON deadlines (deadline_id, is_open) WHERE is_open = 1;
            CREATE INDEX deadlines_case ON deadlines (case_id, is_open, due_us);
            CREATE INDEX deadlines_next_alert ON deadlines (next_alert_us, deadline_id) WHERE next_alert_us IS NOT NULL;
            CREATE INDEX deadlines_history_due ON deadlines (is_open, status, due_us, deadline_id, rule, party) WHERE is_open = 0 AND status = 'missed';
            CREATE INDEX deadlines_history_coordinator ON deadlines (coordinator, is_open, status, due_us, deadline_id, rule, party)
                WHERE is_open = 0 AND status = 'missed';
            CREATE TABLE deadline_alert_policy (fingerprint TEXT NOT NULL);
            CREATE TABLE deadline_alerts (deadline_id TEXT PRIMARY KEY, levels TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE deadline_settled (case_id TEXT PRIMARY KEY, outcomes TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE deadline_outcome_counts (
                rule TEXT NOT NULL, status TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (rule, status)
            ) WITHOUT ROWID;
            """
        )
        try db.execute("INSERT INTO deadline_alert_policy (fingerprint) VALUES (?)", [.text(policy.fingerprint)])
    }

    /// Works every running deadline's alert plan out again when the store was last written
    /// with another alert policy (the configuration changed): one pass over the running
    /// deadlines, once, as the store opens.
    package func opened(_ db: ProjectionDatabase) throws {
        let fingerprint = policy.fingerprint
        guard try db.query("SELECT fingerprint FROM deadline_alert_policy").first?[0].string != fingerprint else {
            return
        }
        var after = ""
        while true {
            let rows = try db.query(
                "SELECT deadline_id, body FROM deadlines WHERE deadline_id > ? AND is_open = 1 ORDER BY deadline_id LIMIT 1000",
                [.text(after)]
            )
            guard let last = rows.last?[0].string else { break }
            after = last
            for row in rows {
                let id = row[0].string ?? ""
                let plan =
                    (try? WireFormat.decode(CaseDeadline.self, json: row[1].string ?? "")).map(alertPlan(of:)) ?? .none
                try db.execute(
                    "UPDATE deadlines SET alert_plan = ?, next_alert_us = ? WHERE deadline_id = ?",
                    [.text(plan.text), nextAlert(of: id, plan: plan, in: db), .text(id)]
                )
            }
        }
        try db.execute("DELETE FROM deadline_alert_policy")
        try db.execute("INSERT INTO deadline_alert_policy (fingerprint) VALUES (?)", [.text(fingerprint)])
    }

    /// The alert plan of a running deadline under this projection's policy.
    func alertPlan(of deadline: CaseDeadline) -> AlertPlan {
        AlertPlan(policy.schedule(for: deadline, calculator: calculator))
    }

    /// The levels a deadline has raised (kept whether or not its row is, since a deadline the
    /// engine stops deriving may come back).
    func raisedLevels(of deadlineId: String, in db: ProjectionDatabase) throws -> Set<AlertLevel> {
        let text =
            try db.query("SELECT levels FROM deadline_alerts WHERE deadline_id = ?", [.text(deadlineId)]).first?[0]
            .string ?? ""
        return Set(text.split(separator: " ").compactMap { AlertLevel(rawValue: String($0)) })
    }

    /// The instant of the deadline's first alert in `plan` not raised yet, or NULL.
    func nextAlert(of deadlineId: String, plan: AlertPlan, in db: ProjectionDatabase) throws -> SQLiteValue {
        guard !plan.entries.isEmpty else { return .null }
        return plan.next(raised: try raisedLevels(of: deadlineId, in: db)).map { .integer($0) } ?? .null
    }

    /// An alert raised: kept among its deadline's levels, and the deadline's next alert is the
    /// one after it.
    func apply(_ raised: AlertRaised, to db: ProjectionDatabase) throws {
        var levels = try raisedLevels(of: raised.deadlineId, in: db)
        levels.insert(raised.level)
        try db.execute(
            "INSERT OR REPLACE INTO deadline_alerts (deadline_id, levels) VALUES (?, ?)",
            [.text(raised.deadlineId), .text(levels.map(\.rawValue).sorted().joined(separator: " "))]
        )
        guard
            let text = try db.query(
                "SELECT alert_plan FROM deadlines WHERE deadline_id = ?",
                [.text(raised.deadlineId)]
            ).first?[0].string,
            let plan = AlertPlan(text: text)
        else { return }
        try db.execute(
            "UPDATE deadlines SET next_alert_us = ? WHERE deadline_id = ?",
            [plan.next(raised: levels).map { .integer($0) } ?? .null, .text(raised.deadlineId)]
        )
    }

    package func apply(_ event: RecordedEvent, to db: ProjectionDatabase) throws {
        if event.type == AlertRaised.typeName, case .raised(let raised)? = try AlertStreams.decode(event) {
            return try apply(raised, to: db)
        }
        // The rows after the case's next event (of the same append, or of the same catch-up
        // batch) replace those of this one.
        if db.upcoming?.streamId == event.streamId { return }
        guard let caseId = CaseStreams.caseId(ofStream: event.streamId) else { return }
        let state = try CaseStreams.state(after: event, in: db)
        // What the case's rows hold now: only rows that change are written (most commands move
        // one or two of a case's deadlines and leave the rest as they are).
        var stored: [String: StoredRow] = [:]
        var storedNextAlert: [String: SQLiteValue] = [:]
        for row in try CaseStreams.isFresh(event, in: db)
            ? []
            : db.query(
                "SELECT deadline_id, rule, party, coordinator, due_us, is_open, status, body, alert_plan, next_alert_us FROM deadlines WHERE case_id = ?",
                [.text(caseId.rawValue)]
            )
        {
            let id = row[0].string ?? ""
            stored[id] = StoredRow(
                rule: row[1].string ?? "",
                party: row[2].string ?? "",
                coordinator: row[3].string ?? "",
                dueMicros: row[4].int64 ?? 0,
                isOpen: row[5].int64 == 1,
                status: row[6].string ?? "",
                body: row[7].string ?? "",
                alertPlan: row[8].string ?? ""
            )
            storedNextAlert[id] = row[9]
        }
        // Worked out here (a catch-up, a rebuild: every case passes once), the bodies are not
        // kept in the memo.
        let derived = try preparedRows(after: event, in: db) ?? rows(for: state, at: event.recordedAt, remember: false)
        let wanted = derived.rows
        try settle(caseId.rawValue, derived.settled, fresh: CaseStreams.isFresh(event, in: db), in: db)
        // The deadlines that start or stop running here: their alerts follow (the alerts read
        // model keeps whether each alert is live).
        var runningChanges: [(id: String, runs: Bool)] = []
        for (id, old) in stored where wanted[id] == nil {
            try db.execute("DELETE FROM deadlines WHERE deadline_id = ?", [.text(id)])
            if old.isOpen { runningChanges.append((id, false)) }
        }
        for (id, row) in wanted where stored[id] != row {
            if row.isOpen != (stored[id]?.isOpen ?? false) { runningChanges.append((id, row.isOpen)) }
            // The next alert moves only with the plan (or an alert raised, above).
            let nextAlert: SQLiteValue =
                row.alertPlan.isEmpty
                ? .null : try nextAlert(of: id, plan: AlertPlan(text: row.alertPlan) ?? .none, in: db)
            if let old = stored[id] {
                try update(
                    id,
                    from: old,
                    nextAlert: storedNextAlert[id] ?? .null,
                    to: row,
                    nextAlert: nextAlert,
                    in: db
                )
            } else {
                try db.execute(
                    "INSERT OR REPLACE INTO deadlines (deadline_id, case_id, rule, party, coordinator, due_us, is_open, status, body, alert_plan, next_alert_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        .text(id), .text(caseId.rawValue), .text(row.rule), .text(row.party), .text(row.coordinator),
                        .integer(row.dueMicros),
                        .integer(row.isOpen ? 1 : 0), .text(row.status), .text(row.body), .text(row.alertPlan),
                        nextAlert,
                    ]
                )
            }
        }
        try AlertProjection.deadlines(runningChanges, in: db, known: withAlerts)
    }

    /// The case's rows after `event` as this read model worked them out ahead: for a command,
    /// before the writer took it (``CaseStreams/AppendHint``); in a rebuild, on the preparing
    /// thread (``PreparedCases``). Nil when they were not (or by another read model).
    func preparedRows(after event: RecordedEvent, in db: ProjectionDatabase) -> CaseRows? {
        guard
            let pre = (db.appendHint as? CaseStreams.AppendHint)?.deadlines
                ?? (db.prepared as? PreparedCases)?.deadlines[event.id],
            pre.producer == ObjectIdentifier(bodies), pre.eventId == event.id
        else { return nil }
        return pre.rows
    }

    /// Sets only the columns that changed (``ChangedColumns``): most changes are a body's time
    /// left or a status, not the due time or the coordinator the board's indexes are ordered by.
    private func update(
        _ id: String,
        from old: StoredRow,
        nextAlert oldNext: SQLiteValue,
        to row: StoredRow,
        nextAlert: SQLiteValue,
        in db: ProjectionDatabase
    ) throws {
        var changes = ChangedColumns()
        changes.set("rule", .text(row.rule), was: .text(old.rule))
        changes.set("party", .text(row.party), was: .text(old.party))
        changes.set("coordinator", .text(row.coordinator), was: .text(old.coordinator))
        changes.set("due_us", .integer(row.dueMicros), was: .integer(old.dueMicros))
        changes.set("is_open", .integer(row.isOpen ? 1 : 0), was: .integer(old.isOpen ? 1 : 0))
        changes.set("status", .text(row.status), was: .text(old.status))
        changes.set("body", .text(row.body), was: .text(old.body))
        changes.set("alert_plan", .text(row.alertPlan), was: .text(old.alertPlan))
        changes.set("next_alert_us", nextAlert, was: oldNext)
        try changes.update("deadlines", key: "deadline_id", .text(id), in: db)
    }

    /// How many rows `state` gives at `now`, worked out as a rebuild does (nothing kept in the
    /// memo of bodies): for `imr-bench derive`.
    package func rowCount(for state: CaseState, at now: Date) throws -> Int {
        try rows(for: state, at: now, remember: false).rows.count
    }

    /// The rows a case's state gives at `now` (the recording time of its last event);
    /// `remember` keeps the running deadlines' bodies in the memo for the case's next command.
    func rows(for state: CaseState, at now: Date, remember: Bool = true) throws -> CaseRows {
        var wanted: [String: StoredRow] = [:]
        guard state.facts != nil else { return CaseRows(rows: wanted, settled: "") }
        let coordinator = state.coordinator ?? ""
        var settled: [String] = []
        for deadline in DeadlineEngine.deadlines(for: state, now: now, calculator: calculator) {
            // Only running deadlines and misses (the board lists those kept as history when
            // asked) have rows; a settled one is counted, and a case's detail derives it afresh.
            let isOpen = deadline.isOpen && state.isOpen
            if !isOpen, Self.countedOutcomes.contains(deadline.status) {
                settled.append(deadline.rule.rawValue + " " + deadline.status.rawValue)
            }
            guard isOpen || deadline.status == .missed else { continue }
            let encoded =
                isOpen
                ? bodies.encoded(deadline, plan: alertPlan(of:), remember: remember)
                : (body: String(decoding: deadline.wireBytes, as: UTF8.self), plan: "")
            wanted[deadline.id] = StoredRow(
                rule: deadline.rule.rawValue,
                party: deadline.party.rawValue,
                coordinator: coordinator,
                dueMicros: deadline.due.unixMicroseconds,
                isOpen: isOpen,
                status: deadline.status.rawValue,
                body: encoded.body,
                alertPlan: encoded.plan
            )
        }
        return CaseRows(rows: wanted, settled: settled.sorted().joined(separator: "\n"))
    }

    /// The outcomes of settled deadlines that are counted per rule (the figures' timeliness).
    static let countedOutcomes: Set<DeadlineStatus> = [.met, .metLate, .missed]

    /// A case's rows and its settled outcomes (``countedOutcomes``), one line `rule status`
    /// each, sorted.
    struct CaseRows: Sendable, Equatable {
        var rows: [String: StoredRow]
        var settled: String
    }

    /// Keeps a case's settled outcomes and moves the rules' counts by what changed. `fresh`: the
    /// case has nothing stored yet (a rebuild pass's first event of its stream).
    func settle(_ caseId: String, _ settled: String, fresh: Bool, in db: ProjectionDatabase) throws {
        let old =
            fresh
            ? ""
            : try db.query("SELECT outcomes FROM deadline_settled WHERE case_id = ?", [.text(caseId)]).first?[0].string
                ?? ""
        guard old != settled else { return }
        var moves: [(line: Substring, by: Int64)]
        if old.isEmpty {
            // A case's first outcomes (every case, in a rebuild): each line counts.
            moves = Self.lineRuns(settled)
        } else {
            var change: [Substring: Int64] = [:]
            for (line, count) in Self.lineRuns(old) { change[line, default: 0] -= count }
            for (line, count) in Self.lineRuns(settled) { change[line, default: 0] += count }
            moves = change.map { (line: $0.key, by: $0.value) }
        }
        for (line, by) in moves where by != 0 {
            // By bytes: a search by characters was 5% of a rebuild's applying thread.
            guard let space = line.utf8.firstIndex(of: UInt8(ascii: " ")) else { continue }
            // Summed over a rebuild's batch (nothing reads the counts while a batch is applied).
            try db.add(
                by,
                with: """
                    INSERT INTO deadline_outcome_counts (rule, status, count) VALUES (?, ?, ?)
                    ON CONFLICT (rule, status) DO UPDATE SET count = count + excluded.count
                    """,
                key: [.text(String(line[..<space])), .text(String(line[line.utf8.index(after: space)...]))]
            )
        }
        if settled.isEmpty {
            try db.execute("DELETE FROM deadline_settled WHERE case_id = ?", [.text(caseId)])
        } else {
            try db.execute(
                "INSERT OR REPLACE INTO deadline_settled (case_id, outcomes) VALUES (?, ?)",
                [.text(caseId), .text(settled)]
            )
        }
    }

    /// The lines of `text` (empty ones skipped), each run of equal lines once with its length:
    /// a case's outcomes are sorted, so each distinct line comes once (lines out of order would
    /// come once a run, which counts the same).
    static func lineRuns(_ text: String) -> [(line: Substring, by: Int64)] {
        var runs: [(line: Substring, by: Int64)] = []
        var start = text.startIndex
        while start < text.endIndex {
            let end = text.utf8[start...].firstIndex(of: UInt8(ascii: "\n")) ?? text.endIndex
            let line = text[start..<end]
            if !line.isEmpty {
                if let last = runs.last, last.line == line {
                    runs[runs.count - 1].by += 1
                } else {
                    runs.append((line, 1))
                }
            }
            start = end < text.endIndex ? text.utf8.index(after: end) : end
        }
        return runs
    }

    /// Each rule's settled deadlines by outcome (met, met late, missed), from the counts.
    static func settledOutcomes(in db: ProjectionDatabase) throws -> [(rule: String, status: String, count: Int64)] {
        try db.query("SELECT rule, status, count FROM deadline_outcome_counts WHERE count > 0").map {
            (rule: $0[0].string ?? "", status: $0[1].string ?? "", count: $0[2].int64 ?? 0)
        }
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
        /// ``AlertPlan/text``; empty for a settled deadline.
        var alertPlan: String
    }

    package func drop(_ db: ProjectionDatabase) throws {
        // No deadline runs until the rebuild writes it again: no alert is live meanwhile.
        try AlertProjection.deadlinesDropped(in: db)
        try db.executeScript(
            """
            DROP TABLE IF EXISTS deadlines; DROP TABLE IF EXISTS deadline_alert_policy; DROP TABLE IF EXISTS deadline_alerts;
            DROP TABLE IF EXISTS deadline_settled; DROP TABLE IF EXISTS deadline_outcome_counts
            """
        )
    }
}

/// A case's deadline rows worked out ahead of its append (see ``DeadlineProjection/precompute``).
struct PrecomputedDeadlines: Sendable {
    let producer: ObjectIdentifier
    let eventId: UUID
    let rows: DeadlineProjection.CaseRows
}

/// The JSON bodies and alert plans of running deadlines, kept for the deadlines last encoded:
/// a command leaves most of a case's deadlines as they were, and encoding one was most of an
/// append's cost.
///
/// A pure memo (the same deadline value always encodes to the same body, and one projection
/// always plans it the same), so it never has to agree with the database; bounded by memory:
/// two generations of at most `budget / 2` bytes each, an entry counted as three times its
/// body's length plus its plan's (the deadline value it is checked against holds the same
/// strings as its body; 3.8 KB measured for a 1.3 KB body). It was bounded by count (50,000
/// deadlines), which at 2,000,000 cases held about 190 MB once as many deadlines had been
/// written (BENCHMARKS.md, sixteenth session).
final class DeadlineBodies: Sendable {
    private struct Generations {
        var young: [String: (deadline: CaseDeadline, body: String, plan: String)] = [:]
        var old: [String: (deadline: CaseDeadline, body: String, plan: String)] = [:]
        /// The young generation's entries, counted as ``DeadlineBodies/cost(body:plan:)``.
        var youngBytes = 0
    }

    private let storage = Mutex(Generations())
    /// The most bytes both generations hold, as entries are counted.
    let budget: Int

    /// 16 MiB: the deadlines of about 700 cases at the synthetic caseload's sizes.
    static let defaultBudget = 16 << 20

    init(budget: Int = DeadlineBodies.defaultBudget) { self.budget = max(budget, 0) }

    /// What an entry is counted as.
    static func cost(body: String, plan: String) -> Int { 3 * body.utf8.count + plan.utf8.count + 128 }

    /// Entries held and the bytes the young generation counts (for tests).
    var figures: (entries: Int, youngBytes: Int) {
        storage.withLock { ($0.young.count + $0.old.count, $0.youngBytes) }
    }

    /// The deadline's body and its alert plan's text (`plan` works the plan out); kept for
    /// next time when `remember`.
    func encoded(
        _ deadline: CaseDeadline,
        plan: (CaseDeadline) -> AlertPlan,
        remember: Bool = true
    ) -> (body: String, plan: String) {
        let known = storage.withLock { $0.young[deadline.id] ?? $0.old[deadline.id] }
        if let known, known.deadline == deadline { return (known.body, known.plan) }
        let body = String(decoding: deadline.wireBytes, as: UTF8.self)
        let planText = plan(deadline).text
        guard remember else { return (body, planText) }
        let cost = Self.cost(body: body, plan: planText)
        guard cost <= budget / 2 else { return (body, planText) }
        storage.withLock { g in
            if let replaced = g.young.removeValue(forKey: deadline.id) {
                g.youngBytes -= Self.cost(body: replaced.body, plan: replaced.plan)
            }
            // Checked for a replacement too: a deadline written again with a longer body must
            // not take the generation past its half.
            if g.youngBytes + cost > budget / 2 {
                g.old = g.young
                g.young = [:]
                g.youngBytes = 0
            }
            g.young[deadline.id] = (deadline, body, planText)
            g.youngBytes += cost
        }
        return (body, planText)
    }
}

/// Where a page of the board starts: just after this deadline, by due time then id.
package struct DeadlineBoardCursor: Sendable, Equatable {
    package var dueMicros: Int64
    package var deadlineId: String

    package init(dueMicros: Int64, deadlineId: String) {
        self.dueMicros = dueMicros
        self.deadlineId = deadlineId
    }

    /// As sent to clients: `d1.<due, µs>.<deadline id in hex>` (at most 300 characters).
    package var text: String { "d1.\(dueMicros).\(Array(deadlineId.utf8).hexString)" }

    /// Nil when `text` is not a cursor this build writes.
    package init?(text: String) {
        guard text.utf8.count <= 300 else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "d1", let due = Int64(parts[1]), let id = HexText.decode(parts[2]) else {
            return nil
        }
        self.init(dueMicros: due, deadlineId: id)
    }
}

/// Text back from `[UInt8].hexString` of its UTF-8 (cursors carry ids whatever characters they hold).
enum HexText {
    static func decode(_ hex: Substring) -> String? {
        guard !hex.isEmpty, hex.utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var digits = hex.utf8.makeIterator()
        func value(_ d: UInt8) -> UInt8? {
            switch d {
            case 0x30...0x39: d - 0x30
            case 0x61...0x66: d - 0x61 + 10
            default: nil
            }
        }
        while let high = digits.next(), let low = digits.next() {
            guard let h = value(high), let l = value(low) else { return nil }
            bytes.append(h << 4 | l)
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

/// One page of the board.
package struct DeadlineBoardPage: Sendable {
    package var deadlines: [[String: JSONValue]]
    /// The rows as a reply writes them, when the page was read `spliced` (then ``deadlines``
    /// is empty): each stored body with its status and coordinator written into its text.
    package var wire: [JSONValue] = []
    package var next: DeadlineBoardCursor?
    /// How many matching deadlines come after this page, counted up to ``DeadlineProjection/countLimit``.
    package var remaining: Int
    package var remainingAtLeast: Bool
}

extension DeadlineProjection {
    /// Deadlines per page unless the caller asks for fewer or more.
    package static let defaultPage = 100
    /// The most deadlines one reply carries.
    package static let maximumPage = 1000
    /// How far the deadlines after a page are counted.
    package static let countLimit = 10_000

    /// The conditions of the board for a filter at `now`, leading with the equalities of the
    /// index that ends in (due_us, deadline_id): the coordinator's, or the whole board's.
    /// `history`: the misses kept as history instead of the running deadlines.
    static func boardConditions(
        _ filter: DeadlineBoardFilter,
        now: Date,
        dueBy: Date? = nil,
        history: Bool = false
    ) -> (clauses: [String], arguments: [SQLiteValue]) {
        var clauses: [String] = []
        var arguments: [SQLiteValue] = []
        let nowMicros = now.unixMicroseconds
        if let v = filter.coordinator {
            clauses.append("coordinator = ?")
            arguments.append(.text(v))
        }
        if let v = filter.caseId {
            clauses.append("case_id = ?")
            arguments.append(.text(v))
        }
        // The partial history indexes' own condition, word for word, so that SQLite can use them.
        clauses.append(history ? "is_open = 0 AND status = 'missed'" : "is_open = 1")
        // Asking for more information is optional: a window that closed unused is not a miss.
        clauses.append("NOT (rule = 'ur.info-request' AND due_us <= ?)")
        arguments.append(.integer(nowMicros))
        if let v = filter.rule {
            clauses.append("rule = ?")
            arguments.append(.text(v))
        }
        if let v = filter.party {
            clauses.append("party = ?")
            arguments.append(.text(v))
        }
        if let days = filter.withinDays {
            clauses.append("due_us <= ?")
            arguments.append(.integer(nowMicros + Int64(days) * 86_400_000_000))
        }
        if let dueBy {
            clauses.append("due_us <= ?")
            arguments.append(.integer(dueBy.unixMicroseconds))
        }
        switch filter.overdue {
        case true?:
            clauses.append("due_us <= ?")
            arguments.append(.integer(nowMicros))
        case false?:
            clauses.append("due_us > ?")
            arguments.append(.integer(nowMicros))
        case nil: break
        }
        return (clauses, arguments)
    }

    /// One page of the board's query and the count after it (also what a test explains).
    /// `history`: the same for the misses kept as history (their own indexes).
    static func boardQueries(
        _ filter: DeadlineBoardFilter,
        now: Date,
        after cursor: DeadlineBoardCursor?,
        limit: Int,
        cap: Int,
        dueBy: Date? = nil,
        history: Bool = false
    )
        -> (page: (sql: String, arguments: [SQLiteValue]), count: (sql: String, arguments: [SQLiteValue]))
    {
        var (clauses, arguments) = boardConditions(filter, now: now, dueBy: dueBy, history: history)
        if let cursor {
            clauses.append("(due_us, deadline_id) > (?, ?)")
            arguments += [.integer(cursor.dueMicros), .text(cursor.deadlineId)]
        }
        let conditions = clauses.joined(separator: " AND ")
        // Named: ordered by due time, SQLite would rather walk the whole board in order and test
        // each row than find one case's or one coordinator's rows.
        let index =
            filter.caseId != nil
            ? "deadlines_case"
            : filter.coordinator != nil
                ? (history ? "deadlines_history_coordinator" : "deadlines_coordinator_due")
                : history ? "deadlines_history_due" : "deadlines_open_due"
        return (
            (
                "SELECT body, due_us, coordinator, deadline_id FROM deadlines INDEXED BY \(index) WHERE \(conditions) ORDER BY due_us, deadline_id LIMIT ?",
                arguments + [.integer(Int64(limit))]
            ),
            (
                "SELECT COUNT(*) FROM (SELECT 1 FROM deadlines INDEXED BY \(index) WHERE \(conditions) LIMIT ?)",
                arguments + [.integer(Int64(cap))]
            )
        )
    }

    /// One page of the board: running deadlines by due time (then id), each with its status as
    /// of `now` and its coordinator.
    /// `dueBy`: only deadlines due by then (a digest's sections).
    /// `spliced`: the rows in ``DeadlineBoardPage/wire`` as JSON text, each stored body with its
    /// status and coordinator written in (``splice(body:coordinator:status:)``), not parsed
    /// and printed again (a third of the call at 2,000,000 cases). A body it cannot splice
    /// is parsed, as otherwise.
    package static func boardPage(
        in db: ProjectionDatabase,
        matching filter: DeadlineBoardFilter,
        now: Date,
        after cursor: DeadlineBoardCursor?,
        limit: Int,
        dueBy: Date? = nil,
        spliced: Bool = false
    ) throws -> DeadlineBoardPage {
        let nowMicros = now.unixMicroseconds
        // The running deadlines, and (when asked) the misses kept as history: each read on its
        // own index in due order, a page of each at most, merged into one page.
        let sets = filter.includeHistory == true ? [false, true] : [false]
        var found: [(due: Int64, id: String, row: Row)] = []
        // The sets whose page query came back short: every row of theirs after the cursor is
        // in `found`, so what follows the page is counted there, not by a second pass over
        // the index (for a filter few rows match, such as a rare rule, that pass reads the
        // whole board: 0.6 s at 2,000,000 cases).
        var whole: [Bool: [(due: Int64, id: String)]] = [:]
        for history in sets {
            let (page, _) = boardQueries(
                filter,
                now: now,
                after: cursor,
                limit: limit,
                cap: 0,
                dueBy: dueBy,
                history: history
            )
            let rows = try db.query(page.sql, page.arguments).map {
                (due: $0[1].int64 ?? 0, id: $0[3].string ?? "", row: $0)
            }
            if rows.count < limit { whole[history] = rows.map { (due: $0.due, id: $0.id) } }
            found += rows
        }
        if sets.count > 1 {
            found.sort { ($0.due, $0.id) < ($1.due, $1.id) }
            found = Array(found.prefix(limit))
        }
        var last = cursor
        var rows: [[String: JSONValue]] = []
        var wire: [JSONValue] = []
        for entry in found {
            let row = entry.row
            last = DeadlineBoardCursor(dueMicros: entry.due, deadlineId: entry.id)
            let body = row[0].string ?? "{}"
            let coordinator = row[2].string ?? ""
            let status = entry.due > nowMicros ? DeadlineStatus.pending.rawValue : DeadlineStatus.missed.rawValue
            if spliced, let text = splice(body: body, coordinator: coordinator, status: status) {
                wire.append(.raw(text))
                continue
            }
            var object = (try? JSONParser.parse(Array(body.utf8), maximumDepth: 64).objectValue) ?? [:]
            if object["history"]?.stringValue == nil {
                object["status"] = .string(status)
            }
            object["coordinator"] = .string(coordinator)
            if spliced { wire.append(.object(object)) } else { rows.append(object) }
        }
        var remaining = 0
        for history in sets {
            if let rows = whole[history] {
                remaining += rows.count { row in
                    last.map { (row.due, row.id) > ($0.dueMicros, $0.deadlineId) } ?? true
                }
                continue
            }
            let (_, count) = boardQueries(
                filter,
                now: now,
                after: last,
                limit: 0,
                cap: countLimit + 1,
                dueBy: dueBy,
                history: history
            )
            remaining += Int(try db.query(count.sql, count.arguments).first?[0].int64 ?? 0)
        }
        return DeadlineBoardPage(
            deadlines: rows,
            wire: wire,
            next: remaining > 0 ? last : nil,
            remaining: min(remaining, countLimit),
            remainingAtLeast: remaining > countLimit
        )
    }

    /// A running deadline's stored body (a JSON object) with `"coordinator"` written in first
    /// and its top-level `"status"` set to `status`, as the parsed row would print: nil when
    /// the body is not such an object, or has a coordinator or a `history` of its own (the
    /// row is then parsed).
    static func splice(body: String, coordinator: String, status: String) -> RawJSON? {
        let bytes = Array(body.utf8)
        guard let members = StoredJSON.members(of: Data(bytes)), !members.isEmpty,
            !members.contains(where: { $0.key == "coordinator" || $0.key == "history" })
        else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + coordinator.utf8.count + 48)
        out += Array("{\"coordinator\":".utf8)
        JSONValue.appendString(coordinator, to: &out)
        out.append(UInt8(ascii: ","))
        if let member = members.first(where: { $0.key == "status" }) {
            out += bytes[1..<member.value.lowerBound]
            JSONValue.appendString(status, to: &out)
            out += bytes[member.value.upperBound...]
        } else {
            out += Array("\"status\":".utf8)
            JSONValue.appendString(status, to: &out)
            out.append(UInt8(ascii: ","))
            out += bytes[1...]
        }
        return RawJSON(trusted: out)
    }

    /// The whole board for a filter, page by page (for short boards: tests and small tools).
    package static func board(
        in store: EventStore,
        matching filter: DeadlineBoardFilter,
        now: Date
    ) throws -> [[String: JSONValue]] {
        var all: [[String: JSONValue]] = []
        var cursor: DeadlineBoardCursor?
        repeat {
            let page = try store.read {
                try boardPage(in: $0, matching: filter, now: now, after: cursor, limit: maximumPage)
            }
            all += page.deadlines
            cursor = page.next
        } while cursor != nil
        return all
    }

    /// How many running deadlines are past due at `now` (optional information requests aside).
    /// `upTo` bounds the count (it walks the overdue deadlines' index entries): what a line
    /// refreshed on every commit asks, so that a backlog of misses cannot make it a scan.
    package static func overdueCount(in store: EventStore, at now: Date, upTo limit: Int64 = .max) throws -> Int64 {
        try store.read { try overdueCount(in: $0, at: now, upTo: limit) }
    }

    static func overdueCount(in db: ProjectionDatabase, at now: Date, upTo limit: Int64 = .max) throws -> Int64 {
        try db.query(
            """
            SELECT COUNT(*) FROM (SELECT 1 FROM deadlines INDEXED BY deadlines_open_due
            WHERE is_open = 1 AND due_us <= ? AND rule != 'ur.info-request' LIMIT ?)
            """,
            [.integer(now.unixMicroseconds), .integer(limit == .max ? -1 : limit)]
        ).first?[0].int64 ?? 0
    }

    /// The earliest open deadline's due instant, if any.
    package static func nextDue(in store: EventStore, after now: Date) throws -> Date? {
        let nowMicros = now.unixMicroseconds
        let next = try store.read { db in
            try db.query("SELECT MIN(due_us) FROM deadlines WHERE is_open = 1 AND due_us > ?", [.integer(nowMicros)])
                .first?[0].int64
        }
        return next.map { Date(timeIntervalSince1970: Double($0) / 1_000_000) }
    }
}
