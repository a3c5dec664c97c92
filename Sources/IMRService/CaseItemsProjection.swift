import EventStore
import Foundation
import IMRWire
import Workflow

/// One row per treatment item, with the dates the statistics measure: IMR application,
/// assignment and determination, and the IMR decision; and those figures counted as the rows
/// change (`case_item_figures`), which is what the statistics read.
///
/// Like the case list, it re-folds the case's stream on each of its events and replaces the
/// case's rows, so a rebuild reaches the same rows.
package struct CaseItemsProjection: Projection {
    package let name = "case_items"

    /// What a rebuild works out ahead: the case states (shared with the deadline read model's
    /// preparation when the read models are made together, ``ReadModels/standard(policy:)``).
    let preparation: BatchPreparation

    package init() { preparation = CaseStreams.preparation(deadlines: nil) }

    init(preparation: BatchPreparation) { self.preparation = preparation }

    package var batchPreparation: BatchPreparation? { preparation }

    /// 2: the figures `Cases.Stats` reads are counted as items change (`case_item_figures`: each
    /// IMR decision's items, and the items by days from application to assignment and from
    /// assignment to determination), instead of read from every item when asked.
    package var version: Int { 2 }

    package func prepare(_ db: ProjectionDatabase) throws {
        try db.executeScript(
            """
            CREATE TABLE case_items (
                case_id           TEXT NOT NULL,
                item_id           TEXT NOT NULL,
                status            TEXT NOT NULL,
                imr_applied_on    TEXT,
                imr_assigned_on   TEXT,
                imr_decided_on    TEXT,
                imr_decision      TEXT,
                PRIMARY KEY (case_id, item_id)
            );
            CREATE TABLE case_item_figures (
                figure TEXT NOT NULL, value TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (figure, value)
            ) WITHOUT ROWID;
            """
        )
    }

    package func apply(_ event: RecordedEvent, to db: ProjectionDatabase) throws {
        // The case's rows after its next event (same append or catch-up batch) replace these.
        if db.upcoming?.streamId == event.streamId { return }
        guard let caseId = CaseStreams.caseId(ofStream: event.streamId) else { return }
        let state = try CaseStreams.state(after: event, in: db)
        func date(_ d: LocalDate?) -> SQLiteValue { d.map { .text($0.iso) } ?? .null }
        var wanted: [String: [SQLiteValue]] = [:]
        for item in state.items {
            wanted[item.id.rawValue] = [
                .text(item.status.rawValue), date(item.imrApplicationReceivedOn), date(item.imrAssignedOn),
                date(item.determinationDecidedOn), item.imrDecision.map { .text($0.rawValue) } ?? .null,
            ]
        }
        var stored: [String: [SQLiteValue]] = [:]
        for row in try CaseStreams.isFresh(event, in: db)
            ? []
            : db.query(
                "SELECT item_id, status, imr_applied_on, imr_assigned_on, imr_decided_on, imr_decision FROM case_items WHERE case_id = ?",
                [.text(caseId.rawValue)]
            )
        {
            stored[row[0].string ?? ""] = Array(row.values.dropFirst())
        }
        // Only the rows that change are written: most commands leave the items as they were.
        var figures: [Figure: Int64] = [:]
        for (id, values) in stored where wanted[id] != values {
            for figure in Self.figures(of: values) { figures[figure, default: 0] -= 1 }
        }
        for (id, values) in wanted where stored[id] != values {
            for figure in Self.figures(of: values) { figures[figure, default: 0] += 1 }
        }
        // Summed over a rebuild's batch (nothing reads the figures while a batch is applied).
        for (figure, by) in figures where by != 0 {
            try db.add(
                by,
                with: """
                    INSERT INTO case_item_figures (figure, value, count) VALUES (?, ?, ?)
                    ON CONFLICT (figure, value) DO UPDATE SET count = count + excluded.count
                    """,
                key: [.text(figure.figure), .text(figure.value)]
            )
        }
        for id in stored.keys where wanted[id] == nil {
            try db.execute(
                "DELETE FROM case_items WHERE case_id = ? AND item_id = ?",
                [.text(caseId.rawValue), .text(id)]
            )
        }
        for (id, values) in wanted.sorted(by: { $0.key < $1.key }) where stored[id] != values {
            if stored[id] == nil {
                try db.execute(
                    "INSERT INTO case_items (case_id, item_id, status, imr_applied_on, imr_assigned_on, imr_decided_on, imr_decision) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [.text(caseId.rawValue), .text(id)] + values
                )
            } else {
                try db.execute(
                    "UPDATE case_items SET status = ?, imr_applied_on = ?, imr_assigned_on = ?, imr_decided_on = ?, imr_decision = ? WHERE case_id = ? AND item_id = ?",
                    values + [.text(caseId.rawValue), .text(id)]
                )
            }
        }
    }

    package func drop(_ db: ProjectionDatabase) throws {
        try db.executeScript("DROP TABLE IF EXISTS case_items; DROP TABLE IF EXISTS case_item_figures")
    }

    /// One count of `case_item_figures`.
    struct Figure: Hashable {
        let figure: String
        let value: String
    }

    static let decisionFigure = "imr-decision"
    static let applicationToAssignment = "days-application-to-assignment"
    static let assignmentToDetermination = "days-assignment-to-determination"

    /// What an item row (status, applied, assigned, decided, decision) counts for.
    static func figures(of values: [SQLiteValue]) -> [Figure] {
        guard values.count == 5 else { return [] }
        var figures: [Figure] = []
        if let decision = values[4].string { figures.append(Figure(figure: decisionFigure, value: decision)) }
        func days(_ from: SQLiteValue, _ to: SQLiteValue) -> String? {
            guard let a = from.string.flatMap(LocalDate.init(iso:)), let b = to.string.flatMap(LocalDate.init(iso:))
            else { return nil }
            return String(a.days(until: b))
        }
        if let d = days(values[1], values[2]) { figures.append(Figure(figure: applicationToAssignment, value: d)) }
        if let d = days(values[2], values[3]) { figures.append(Figure(figure: assignmentToDetermination, value: d)) }
        return figures
    }

    /// The counts of one figure, by value.
    static func counts(of figure: String, in db: ProjectionDatabase) throws -> [(value: String, count: Int64)] {
        try db.query("SELECT value, count FROM case_item_figures WHERE figure = ? AND count > 0", [.text(figure)]).map {
            (value: $0[0].string ?? "", count: $0[1].int64 ?? 0)
        }
    }
}

/// How `io.imr.Cases.Stats` reads its figures: from the case list, case items and deadline read models.
extension CaseStatistics {
    /// The running deadlines past due, by rule, on the board's index.
    static let overdueByRuleQuery = """
        SELECT rule, COUNT(*) FROM deadlines INDEXED BY deadlines_open_due
        WHERE is_open = 1 AND due_us <= ? AND rule != 'ur.info-request' GROUP BY rule
        """

    package static func read(from store: EventStore, now: Date) throws -> CaseStatistics {
        let nowMicros = now.unixMicroseconds
        return try store.read { db in
            let stages = try CaseListProjection.openByStage(in: db).map { StageCount(stage: $0.stage, cases: $0.cases) }
                .sorted { (CaseStage(rawValue: $0.stage) ?? .closed) < (CaseStage(rawValue: $1.stage) ?? .closed) }
            let due =
                try db.query(
                    "SELECT COUNT(*) FROM deadlines WHERE is_open = 1 AND due_us > ? AND due_us <= ? AND rule != 'ur.info-request'",
                    [.integer(nowMicros), .integer(nowMicros + 7 * 86_400_000_000)]
                ).first?[0].int64 ?? 0
            let overdue = try DeadlineProjection.overdueCount(in: db, at: now)
            var byRule: [String: RuleTimeliness] = [:]
            func count(_ rule: String, _ outcome: String, _ n: Int) {
                guard rule != RuleID.urInfoRequest.rawValue else { return }
                var entry = byRule[rule] ?? RuleTimeliness(rule: rule, met: 0, metLate: 0, missed: 0, onTimeShare: nil)
                switch outcome {
                case "met": entry.met += n
                case "met-late": entry.metLate += n
                default: entry.missed += n
                }
                byRule[rule] = entry
            }
            // Settled deadlines from the counts kept per rule; a running deadline past due counts
            // as missed (read on the board's index: those past due only), one not yet due not at all.
            for settled in try DeadlineProjection.settledOutcomes(in: db) {
                count(settled.rule, settled.status, Int(settled.count))
            }
            for row in try db.query(Self.overdueByRuleQuery, [.integer(nowMicros)]) {
                count(row[0].string ?? "", "missed", Int(row[1].int64 ?? 0))
            }
            let timeliness = byRule.values.map { r -> RuleTimeliness in
                var r = r
                let total = r.met + r.metLate + r.missed
                r.onTimeShare = total == 0 ? nil : Double(r.met) / Double(total)
                return r
            }.sorted { $0.rule < $1.rule }
            // Counted as items change (``CaseItemsProjection/figures(of:)``), not read item by item.
            let decisions = Dictionary(
                try CaseItemsProjection.counts(of: CaseItemsProjection.decisionFigure, in: db).map {
                    ($0.value, Int($0.count))
                },
                uniquingKeysWith: +
            )
            let upheld = decisions["upheld"] ?? 0
            let overturned = decisions["overturned"] ?? 0
            func spans(_ figure: String) throws -> [(days: Int, count: Int)] {
                try CaseItemsProjection.counts(of: figure, in: db).compactMap { entry in
                    Int(entry.value).map { (days: $0, count: Int(entry.count)) }
                }
            }
            return CaseStatistics(
                openCases: stages.reduce(0) { $0 + $1.cases },
                openByStage: stages,
                dueWithin7Days: Int(due),
                overdue: Int(overdue),
                timelinessByRule: timeliness,
                upheld: upheld,
                overturned: overturned,
                overturnRate: upheld + overturned == 0 ? nil : Double(overturned) / Double(upheld + overturned),
                medianDaysApplicationToAssignment: median(try spans(CaseItemsProjection.applicationToAssignment)),
                medianDaysAssignmentToDetermination: median(try spans(CaseItemsProjection.assignmentToDetermination))
            )
        }
    }

    /// The median of values given as (value, how many times), without listing them one by one.
    static func median(_ counted: [(days: Int, count: Int)]) -> Double? {
        let sorted = counted.filter { $0.count > 0 }.sorted { $0.days < $1.days }
        let total = sorted.reduce(0) { $0 + $1.count }
        guard total > 0 else { return nil }
        // The values at 0-based positions (total - 1) / 2 and total / 2 of the sorted list.
        func value(at position: Int) -> Int {
            var seen = 0
            for entry in sorted {
                seen += entry.count
                if position < seen { return entry.days }
            }
            return sorted[sorted.count - 1].days
        }
        return Double(value(at: (total - 1) / 2) + value(at: total / 2)) / 2
    }
}

/// The read models the daemon keeps beside the log, in the order they are applied.
package enum ReadModels {
    package static func all(policy: AlertPolicy = .standard) -> [any Projection] { standard(policy: policy).all }

    /// The read models, with the deadline read model by name: a ``CaseService`` given it works
    /// out a command's deadline rows before the writer takes the command. `policy` is the alert
    /// policy the deadlines' alert plans follow (the daemon's configured one).
    package static func standard(
        policy: AlertPolicy = .standard
    ) -> (all: [any Projection], deadlines: DeadlineProjection) {
        let deadlines = DeadlineProjection(policy: policy, withAlerts: true)
        // The deadlines before the case list: a case's row takes its next deadline from them.
        // One preparation for the three case read models in a rebuild: each case folded once.
        let shared = CaseStreams.preparation(deadlines: deadlines)
        return (
            [
                CaseItemsProjection(preparation: shared), deadlines,
                CaseListProjection(preparation: shared, after: deadlines),
                AlertProjection(),
            ], deadlines
        )
    }
}
