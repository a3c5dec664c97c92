import Crypto
import EventStore
import Foundation
import Synchronization
import IMRWire
import Varlink
import Workflow

/// How alerts live in the event log: one stream per alert, `alert-<alertId>`, whose first
/// event is its ``AlertRaised`` and whose later events acknowledge, snooze or reassign it.
///
/// The alert id is a name-based UUID of (deadline id, level), and is also the event id of
/// the ``AlertRaised``: two schedulers racing to raise the same alert (say, across a
/// restart) append to a stream that must not exist yet with the same event id, and only
/// one of them can win.
package enum AlertStreams {
    package static let prefix = "alert-"

    package static func streamId(_ alertId: UUID) -> String { prefix + alertId.lowercasedText }

    /// The alert id of a deadline's alert at a level: SHA-256 of both, shaped as a UUID.
    package static func alertId(deadlineId: String, level: AlertLevel) -> UUID {
        var hasher = SHA256()
        hasher.update(data: Array("imr-alert\u{0}".utf8))
        hasher.update(data: Array(deadlineId.utf8))
        hasher.update(data: [0])
        hasher.update(data: Array(level.rawValue.utf8))
        var bytes = Array(hasher.finalize().prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50  // version 5 style: name-based
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 4122 variant
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            )
        )
    }

    /// An alert event decoded from the log; nil for events of other streams.
    package static func decode(_ event: RecordedEvent) throws -> AlertEvent? {
        guard event.streamId.hasPrefix(prefix) else { return nil }
        // The deadlines and the alerts read models both read each AlertRaised, one after the
        // other: the second takes what the first decoded. By the event's id, position, type and
        // payload: an alert's event id is derived from its deadline and level, so two stores
        // in one process (tests, a restore's check) hold the same id at the same position with
        // other payloads (another time raised), and id and position alone gave one store the
        // other's event.
        if let known = lastDecoded.withLock({ $0 }), known.id == event.id, known.position == event.position,
            known.type == event.type, known.schemaVersion == event.schemaVersion, known.payload == event.payload
        {
            return known.event
        }
        let decoded = try AlertEventCodec.decode(
            type: event.type,
            schemaVersion: event.schemaVersion,
            payload: event.payloadData
        )
        lastDecoded.withLock {
            $0 = DecodedAlert(
                id: event.id,
                position: event.position,
                type: event.type,
                schemaVersion: event.schemaVersion,
                payload: event.payload,
                event: decoded
            )
        }
        return decoded
    }

    /// The alert event ``decode(_:)`` decoded last, with what it was decoded from.
    private struct DecodedAlert: Sendable {
        let id: UUID
        let position: Int64
        let type: String
        let schemaVersion: Int
        let payload: [UInt8]
        let event: AlertEvent
    }

    private static let lastDecoded = Mutex<DecodedAlert?>(nil)
}

extension AlertView {
    /// The wire form (instants RFC 3339 with the Pacific offset): what `WireFormat.encoder`
    /// writes (a test holds the two equal), built by hand, since a page of alerts through
    /// Codable cost more than reading it.
    package var wire: [String: JSONValue] {
        var o: [String: JSONValue] = [
            "alertId": .string(alertId), "deadlineId": .string(deadlineId), "caseId": .string(caseId),
            "rule": .string(rule),
            "level": .string(level), "due": .string(Pacific.rfc3339(due)),
            "scheduledAt": .string(Pacific.rfc3339(scheduledAt)),
            "raisedAt": .string(Pacific.rfc3339(raisedAt)), "late": .bool(late), "coordinator": .string(coordinator),
            "position": .int(position),
        ]
        if let acknowledgedBy { o["acknowledgedBy"] = .string(acknowledgedBy) }
        if let acknowledgedAt { o["acknowledgedAt"] = .string(Pacific.rfc3339(acknowledgedAt)) }
        if let snoozedUntil { o["snoozedUntil"] = .string(Pacific.rfc3339(snoozedUntil)) }
        o["itemIds"] = .array(itemIds.map { .string($0) })
        if let dueDate { o["dueDate"] = .string(dueDate) }
        if let isExactInstant { o["isExactInstant"] = .bool(isExactInstant) }
        return o
    }
}

extension AlertView {
    /// ``wire`` as JSON text, keys in the order `JSONValue.serialized` sorts them (a test holds
    /// the two byte for byte equal): a page's rows written straight into bytes.
    package var wireBytes: [UInt8] {
        var w = WireWriter()
        w.open()
        if let acknowledgedAt {
            w.key("acknowledgedAt")
            w.string(Pacific.rfc3339(acknowledgedAt))
        }
        if let acknowledgedBy {
            w.key("acknowledgedBy")
            w.string(acknowledgedBy)
        }
        w.key("alertId")
        w.string(alertId)
        w.key("caseId")
        w.string(caseId)
        w.key("coordinator")
        w.string(coordinator)
        w.key("deadlineId")
        w.string(deadlineId)
        w.key("due")
        w.string(Pacific.rfc3339(due))
        if let dueDate {
            w.key("dueDate")
            w.string(dueDate)
        }
        if let isExactInstant {
            w.key("isExactInstant")
            w.bool(isExactInstant)
        }
        w.key("itemIds")
        w.strings(itemIds)
        w.key("late")
        w.bool(late)
        w.key("level")
        w.string(level)
        w.key("position")
        w.int(position)
        w.key("raisedAt")
        w.string(Pacific.rfc3339(raisedAt))
        w.key("rule")
        w.string(rule)
        w.key("scheduledAt")
        w.string(Pacific.rfc3339(scheduledAt))
        if let snoozedUntil {
            w.key("snoozedUntil")
            w.string(Pacific.rfc3339(snoozedUntil))
        }
        w.close()
        return w.bytes
    }
}

/// Which open alerts a page lists, and in what order (nil: any).
package struct AlertFilter: Sendable, Equatable {
    package var coordinator: String? = nil
    package var caseId: String? = nil
    package var level: AlertLevel? = nil
    package var rule: RuleID? = nil
    /// The start of the alert id, lower case (at least 4 hex digits, checked by the interface).
    package var alertIdPrefix: String? = nil
    package var order: AlertOrder = .raised
}

/// Where a page of open alerts starts: after an alert's position (raising order), or after its
/// due instant and position (due order; the position tells apart alerts due at one instant).
package enum AlertCursor: Sendable, Equatable {
    case raised(position: Int64)
    case due(dueMicros: Int64, position: Int64)

    /// The cursor after the alert of `row` (as the alert queries read it) in `order`: its
    /// stored integers, not the instant they were turned into.
    init(after row: Row, in order: AlertOrder) {
        let position = row["position"].int64 ?? 0
        switch order {
        case .raised: self = .raised(position: position)
        case .due: self = .due(dueMicros: row["due_us"].int64 ?? 0, position: position)
        }
    }

    /// As sent to clients: `a1.<position>` in raising order, `ad1.<due, µs>.<position>` in due order.
    package var text: String {
        switch self {
        case .raised(let position): "a1.\(position)"
        case .due(let due, let position): "ad1.\(due).\(position)"
        }
    }

    /// Nil when `text` is not a cursor this build writes for a list in `order`.
    package init?(text: String, order: AlertOrder) {
        guard text.utf8.count <= 60 else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        switch (order, parts.count) {
        case (.raised, 2) where parts[0] == "a1":
            guard let position = Int64(parts[1]), position >= 0 else { return nil }
            self = .raised(position: position)
        case (.due, 3) where parts[0] == "ad1":
            guard let due = Int64(parts[1]), let position = Int64(parts[2]), position >= 0 else { return nil }
            self = .due(dueMicros: due, position: position)
        default:
            return nil
        }
    }
}

/// One page of open alerts; `next` is where the next page starts.
package struct AlertPage: Sendable {
    package var alerts: [AlertView]
    package var next: AlertCursor?
    package var remaining: Int
    package var remainingAtLeast: Bool
}

/// The `alerts` read model: every raised alert with its acknowledgement, snooze and owner.
/// Open alerts are those not acknowledged and still live; a snoozed one is hidden until its time.
///
/// An alert is live (`is_live = 1`) while its deadline runs (the deadlines read model has its row
/// with `is_open = 1`) and no higher level of that deadline has been raised. The column is kept
/// equal to that at every moment, whatever order the two read models are given the log in:
/// an alert is stored live or not by looking at the deadline's row and its deadline's other
/// alerts as it is inserted, and marks the lower levels it supersedes dead; the deadlines read
/// model, whenever one of its deadlines starts or stops running (a row inserted, deleted, or its
/// `is_open` changed) or its table is dropped, has the deadline's alerts follow
/// (``AlertProjection/deadlines(_:in:known:)``, ``AlertProjection/deadlinesDropped(in:)``). The open
/// alerts' indexes hold the live, unacknowledged alerts only, so that alerts settled or superseded
/// long ago (never acknowledged) do not pile up in them. (It is kept beside the deadlines read
/// model, whose table it reads.)
package struct AlertProjection: Projection {
    package let name = "alerts"
    /// 2: open alerts in raising order on indexes, all and by coordinator (paged lists).
    /// 3: unacknowledged snoozes by their end, on an index (a follower's next snooze end).
    /// 4: the open-alert indexes also hold the snooze and the deadline, so that counting the
    /// alerts after a page reads index pages only.
    /// 5: the alerts of a deadline are indexed with their level, and the open-alert indexes
    /// hold the level too, so that an alert superseded by a higher level of its deadline is
    /// left out of the open ones (and of their counts) on index pages alone.
    /// 6: open alerts in due order on indexes (everyone's, a coordinator's, a rule's, a level's)
    /// and a case's open alerts on one of their own, for `List`'s filters and its due order; the
    /// raising-order indexes also hold the rule (a rule asked for is tested on index pages). The
    /// unused index of open alerts by scheduled time is gone.
    /// 7: whether an alert is live is stored (`is_live`), and the open alerts' indexes and the
    /// snoozes' are partial on live, unacknowledged alerts: an alert whose deadline was met,
    /// cancelled or superseded, or that a higher level superseded, leaves them instead of being
    /// skipped by a lookup of its deadline and of its deadline's other alerts on every page.
    package var version: Int { 7 }

    package init() {}

    /// The indexes of `List`'s filters and due order, which only `List` reads (refused while a
    /// rebuild runs): a rebuild pass creates them at its end. Not the raising-order ones (a
    /// follower's replay reads them), the deadline's (the scheduler, and whoever marks a
    /// deadline's alerts live or dead) nor the snoozes' (followers).
    package var deferredIndexes: [String] {
        ["alerts_open_due", "alerts_coordinator_due", "alerts_rule_due", "alerts_level_due", "alerts_case_open"]
    }

    package func prepare(_ db: ProjectionDatabase) throws {
        try db.executeScript(
            """
            CREATE TABLE alerts (
                alert_id         TEXT PRIMARY KEY,
                deadline_id      TEXT NOT NULL,
                case_id          TEXT NOT NULL,
                rule             TEXT NOT NULL,
                level            TEXT NOT NULL,
                due_us           INTEGER NOT NULL,
                scheduled_us     INTEGER NOT NULL,
                raised_us        INTEGER NOT NULL,
                late             INTEGER NOT NULL,
                coordinator      TEXT NOT NULL,
                acknowledged_by  TEXT,
                acknowledged_us  INTEGER,
                snoozed_until_us INTEGER,
                position         INTEGER NOT NULL,
                is_live          INTEGER NOT NULL
            );
            CREATE INDEX alerts_deadline ON alerts (deadline_id, level);
            CREATE INDEX alerts_open_position ON alerts (acknowledged_us, is_live, position, snoozed_until_us, level, rule)
                WHERE \(Self.openCondition);
            CREATE INDEX alerts_coordinator_open ON alerts (coordinator, acknowledged_us, is_live, position, snoozed_until_us, level, rule)
                WHERE \(Self.openCondition);
            CREATE INDEX alerts_open_due ON alerts (acknowledged_us, is_live, due_us, position, snoozed_until_us)
                WHERE \(Self.openCondition);
            CREATE INDEX alerts_coordinator_due ON alerts (coordinator, acknowledged_us, is_live, due_us, position, snoozed_until_us, level, rule)
                WHERE \(Self.openCondition);
            CREATE INDEX alerts_rule_due ON alerts (rule, acknowledged_us, is_live, due_us, position, snoozed_until_us, level)
                WHERE \(Self.openCondition);
            CREATE INDEX alerts_level_due ON alerts (level, acknowledged_us, is_live, due_us, position, snoozed_until_us)
                WHERE \(Self.openCondition);
            CREATE INDEX alerts_case_open ON alerts (case_id, acknowledged_us, is_live, due_us, position, snoozed_until_us, level, rule, coordinator)
                WHERE \(Self.openCondition);
            CREATE INDEX alerts_snoozed ON alerts (snoozed_until_us) WHERE \(Self.openCondition) AND snoozed_until_us IS NOT NULL;
            """
        )
    }

    package func apply(_ event: RecordedEvent, to db: ProjectionDatabase) throws {
        guard let alert = try AlertStreams.decode(event) else { return }
        switch alert {
        case .raised(let e):
            let deadlineId = SQLiteValue.text(e.deadlineId)
            let rank = SQLiteValue.integer(Int64(e.level.rank))
            // Live when its deadline runs and no higher level of it was raised before it (in a
            // rebuild, alert streams come in id order, not in the order they were raised).
            let live = try db.query(Self.liveSQL, [deadlineId, deadlineId, rank]).first?[0].int64 ?? 0
            try db.execute(
                "INSERT OR IGNORE INTO alerts (alert_id, deadline_id, case_id, rule, level, due_us, scheduled_us, raised_us, late, coordinator, position, is_live) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    .text(e.alertId.lowercasedText), deadlineId, .text(e.caseId.rawValue),
                    .text(e.rule.rawValue),
                    .text(e.level.rawValue), .integer(e.due.unixMicroseconds), .integer(e.scheduledAt.unixMicroseconds),
                    .integer(e.raisedAt.unixMicroseconds), .integer(e.late ? 1 : 0), .text(e.coordinator),
                    .integer(event.position), .integer(live == 0 ? 0 : 1),
                ]
            )
            // The lower levels of its deadline are superseded by it.
            try db.execute(Self.supersedeSQL, [deadlineId, rank])
        case .acknowledged(let e):
            try db.execute(
                "UPDATE alerts SET acknowledged_by = ?, acknowledged_us = ? WHERE alert_id = ?",
                [.text(e.by), .integer(e.at.unixMicroseconds), .text(e.alertId.lowercasedText)]
            )
        case .snoozed(let e):
            try db.execute(
                "UPDATE alerts SET snoozed_until_us = ? WHERE alert_id = ?",
                [.integer(e.until.unixMicroseconds), .text(e.alertId.lowercasedText)]
            )
        case .reassigned(let e):
            try db.execute(
                "UPDATE alerts SET coordinator = ? WHERE alert_id = ?",
                [.text(e.coordinator), .text(e.alertId.lowercasedText)]
            )
        }
    }

    package func drop(_ db: ProjectionDatabase) throws {
        try db.executeScript("DROP TABLE IF EXISTS alerts")
    }
}

extension AlertProjection {
    /// The deadline's items, due date and exactness from `[itemIds, dueDate, isExactInstant]`
    /// as the alert queries read them from its body (nothing when the deadline is gone).
    static func deadlineFacts(_ text: String?) -> (items: [String], dueDate: String?, exact: Bool?) {
        guard let text, let value = try? JSONParser.parse(Array(text.utf8), maximumDepth: 4),
            case .array(let parts) = value, parts.count == 3
        else {
            return ([], nil, nil)
        }
        var items: [String] = []
        if case .array(let ids) = parts[0] { items = ids.compactMap(\.stringValue) }
        var exact: Bool?
        switch parts[2] {
        case .bool(let b): exact = b
        case .int(let n): exact = n != 0
        default: exact = nil
        }
        return (items, parts[1].stringValue, exact)
    }

    static let columns =
        "alert_id, deadline_id, case_id, rule, level, due_us, scheduled_us, raised_us, late, coordinator, acknowledged_by, acknowledged_us, snoozed_until_us, position, "
        + "(SELECT json_array(json_extract(d.body, '$.itemIds'), json_extract(d.body, '$.dueDate'), json_extract(d.body, '$.isExactInstant')) "
        + "FROM deadlines d WHERE d.deadline_id = alerts.deadline_id) AS deadline_facts"

    /// The condition of the open alerts' partial indexes, word for word what their queries say
    /// (SQLite uses a partial index only for a query whose conditions include its own): not
    /// acknowledged and live. Both columns are in those indexes too, so that a query reads the
    /// index without the rows.
    static let openCondition = "acknowledged_us IS NULL AND is_live = 1"

    /// A level's rank in SQL (notice 0 … overdue 3), from ``AlertLevel``'s order.
    static func rank(_ column: String) -> String {
        let cases = AlertLevel.allCases.map { "WHEN '\($0.rawValue)' THEN \($0.rank)" }
        return "(CASE \(column) \(cases.joined(separator: " ")) ELSE -1 END)"
    }

    /// The deadlines read model's word that these deadlines now run, or no longer do (a row
    /// inserted, deleted, or its `is_open` changed): each one's alerts are live while it runs,
    /// except those a higher level of it superseded. Nothing when the store keeps no alerts read
    /// model; `known`: it does (its table is not looked up). (Looked up on each deadline's
    /// alerts, a few.)
    package static func deadlines(
        _ changes: [(id: String, runs: Bool)],
        in db: ProjectionDatabase,
        known: Bool = false
    ) throws {
        guard !changes.isEmpty else { return }
        guard try known || isKept(in: db) else { return }
        for (id, runs) in changes { try db.execute(runs ? runsSQL : endsSQL, [.text(id)]) }
    }

    /// Whether an alert being raised is live: its deadline runs and has raised no higher level
    /// (arguments: the deadline's id twice, then the rank of the alert's level).
    static let liveSQL = """
        SELECT EXISTS (SELECT 1 FROM deadlines INDEXED BY deadlines_running WHERE deadline_id = ? AND is_open = 1)
        AND NOT EXISTS (SELECT 1 FROM alerts INDEXED BY alerts_deadline WHERE deadline_id = ? AND \(rank("level")) > ?)
        """
    /// A deadline's alerts below a level (its rank) superseded.
    static let supersedeSQL =
        "UPDATE alerts SET is_live = 0 WHERE deadline_id = ? AND is_live = 1 AND \(rank("level")) < ?"
    /// A deadline's alerts live again as it runs again, but for those a higher level superseded.
    static let runsSQL =
        "UPDATE alerts SET is_live = 1 WHERE deadline_id = ? AND is_live = 0 AND NOT EXISTS (SELECT 1 FROM alerts h "
        + "INDEXED BY alerts_deadline WHERE h.deadline_id = alerts.deadline_id AND \(rank("h.level")) > \(rank("alerts.level")))"
    /// A deadline's alerts dead as it stops running.
    static let endsSQL = "UPDATE alerts SET is_live = 0 WHERE deadline_id = ? AND is_live = 1"

    /// The deadlines read model's word that its table is being dropped (to be rebuilt): no
    /// deadline runs until it writes them again, so no alert is live.
    package static func deadlinesDropped(in db: ProjectionDatabase) throws {
        guard try isKept(in: db) else { return }
        try db.execute("UPDATE alerts SET is_live = 0 WHERE is_live = 1")
    }

    /// Whether the store keeps this read model, with the column: a store may keep the deadlines
    /// without it, and an alerts table of an older version (without `is_live`) is about to be
    /// rebuilt. (A reset of both drops the alerts first, registered after the deadlines: their
    /// table is gone by then and no alert is marked only to be dropped.)
    static func isKept(in db: ProjectionDatabase) throws -> Bool {
        try !db.query(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alerts' AND sql LIKE '%is_live%'"
        ).isEmpty
    }

    static func view(_ row: Row) -> AlertView {
        func instant(_ micros: Int64?) -> Date? { micros.map { Date(timeIntervalSince1970: Double($0) / 1_000_000) } }
        let facts = deadlineFacts(row["deadline_facts"].string)
        return AlertView(
            alertId: row["alert_id"].string ?? "",
            deadlineId: row["deadline_id"].string ?? "",
            caseId: row["case_id"].string ?? "",
            rule: row["rule"].string ?? "",
            level: row["level"].string ?? "",
            due: instant(row["due_us"].int64) ?? .distantPast,
            scheduledAt: instant(row["scheduled_us"].int64) ?? .distantPast,
            raisedAt: instant(row["raised_us"].int64) ?? .distantPast,
            late: (row["late"].int64 ?? 0) != 0,
            coordinator: row["coordinator"].string ?? "",
            acknowledgedBy: row["acknowledged_by"].string,
            acknowledgedAt: instant(row["acknowledged_us"].int64),
            snoozedUntil: instant(row["snoozed_until_us"].int64),
            position: row["position"].int64 ?? 0,
            itemIds: facts.items,
            dueDate: facts.dueDate,
            isExactInstant: facts.exact
        )
    }

    /// Open alerts at `now` (raised, not acknowledged, not snoozed past now, and live: their
    /// deadline still running, since one met, cancelled or superseded needs no one's attention,
    /// and no higher level of the same deadline raised since), in the order they were raised;
    /// only `coordinator`'s when given. All of them in one array: for tests and small stores;
    /// the daemon reads them a page at a time (``openPage(in:matching:now:after:limit:counting:)``).
    package static func open(in db: ProjectionDatabase, coordinator: String? = nil, now: Date) throws -> [AlertView] {
        var sql = """
            SELECT \(columns) FROM alerts WHERE \(openCondition) AND (snoozed_until_us IS NULL OR snoozed_until_us <= ?)
            """
        var arguments: [SQLiteValue] = [.integer(now.unixMicroseconds)]
        if let coordinator {
            sql += " AND coordinator = ?"
            arguments.append(.text(coordinator))
        }
        return try db.query(sql + " ORDER BY position", arguments).map(view)
    }

    /// Alerts per page unless the caller asks for fewer or more.
    package static let defaultPage = 100
    /// The most alerts one reply carries.
    package static let maximumPage = 1000
    /// How far the alerts after a page are counted.
    package static let countLimit = 10_000

    /// The index a page of `filter`'s open alerts is read on: the narrowest its filter has, in
    /// its order. An id's start and a case (a few alerts each) are read on their key and sorted;
    /// otherwise the index is in the list's order, so that a page is read in order from its
    /// cursor: a coordinator's, else in due order a rule's or a level's, else everyone's. What
    /// the index does not lead with (a level or rule beside a coordinator, or in raising order)
    /// is tested on its pages, each of these indexes holding both.
    static func index(for filter: AlertFilter) -> String {
        if filter.alertIdPrefix != nil { return "sqlite_autoindex_alerts_1" }
        if filter.caseId != nil { return "alerts_case_open" }
        switch filter.order {
        case .raised:
            return filter.coordinator != nil ? "alerts_coordinator_open" : "alerts_open_position"
        case .due:
            if filter.coordinator != nil { return "alerts_coordinator_due" }
            if filter.rule != nil { return "alerts_rule_due" }
            if filter.level != nil { return "alerts_level_due" }
            return "alerts_open_due"
        }
    }

    /// One page's query of `filter`'s open alerts after `cursor`, and the count after it (also
    /// what a test explains), on ``index(for:)``.
    static func openQueries(
        _ filter: AlertFilter,
        now: Date,
        after cursor: AlertCursor?,
        limit: Int,
        cap: Int
    )
        -> (page: (sql: String, arguments: [SQLiteValue]), count: (sql: String, arguments: [SQLiteValue]))
    {
        var conditions = "\(openCondition) AND (snoozed_until_us IS NULL OR snoozed_until_us <= ?)"
        var arguments: [SQLiteValue] = [.integer(now.unixMicroseconds)]
        for (column, value) in [
            ("coordinator", filter.coordinator), ("case_id", filter.caseId), ("level", filter.level?.rawValue),
            ("rule", filter.rule?.rawValue),
        ] {
            guard let value else { continue }
            conditions += " AND \(column) = ?"
            arguments.append(.text(value))
        }
        if let prefix = filter.alertIdPrefix, let last = prefix.utf8.last {
            // The ids that start with it: from it up to it with its last character the next one.
            conditions += " AND alert_id >= ? AND alert_id < ?"
            let end = String(decoding: Array(prefix.utf8.dropLast()) + [last + 1], as: UTF8.self)
            arguments += [.text(prefix), .text(end)]
        }
        switch cursor {
        case .raised(let position):
            conditions += " AND position > ?"
            arguments.append(.integer(position))
        case .due(let due, let position):
            conditions += " AND (due_us, position) > (?, ?)"
            arguments += [.integer(due), .integer(position)]
        case nil:
            break
        }
        let order = filter.order == .due ? "due_us, position" : "position"
        let from = "alerts INDEXED BY \(index(for: filter))"
        return (
            (
                "SELECT \(columns) FROM \(from) WHERE \(conditions) ORDER BY \(order) LIMIT ?",
                arguments + [.integer(Int64(limit))]
            ),
            (
                "SELECT COUNT(*) FROM (SELECT 1 FROM \(from) WHERE \(conditions) LIMIT ?)",
                arguments + [.integer(Int64(cap))]
            )
        )
    }

    /// One page of `filter`'s open alerts in its order. Without `counting` (a reader that
    /// follows `next` to the end and shows no count), `remaining` is 0 and `next` is given
    /// after a full page.
    package static func openPage(
        in db: ProjectionDatabase,
        matching filter: AlertFilter,
        now: Date,
        after cursor: AlertCursor?,
        limit: Int,
        counting: Bool = true
    ) throws -> AlertPage {
        let (page, _) = openQueries(filter, now: now, after: cursor, limit: limit, cap: 0)
        let rows = try db.query(page.sql, page.arguments)
        let alerts = rows.map(view)
        let last = rows.last.map { AlertCursor(after: $0, in: filter.order) } ?? cursor
        guard counting else {
            return AlertPage(
                alerts: alerts,
                next: alerts.count == limit ? last : nil,
                remaining: 0,
                remainingAtLeast: false
            )
        }
        // A short page holds every match after the cursor: nothing to count (for a filter few
        // alerts match, the count would read the rest of the index for none).
        var remaining = 0
        if rows.count == limit {
            let (_, count) = openQueries(filter, now: now, after: last, limit: 0, cap: countLimit + 1)
            remaining = Int(try db.query(count.sql, count.arguments).first?[0].int64 ?? 0)
        }
        return AlertPage(
            alerts: alerts,
            next: remaining > 0 ? last : nil,
            remaining: min(remaining, countLimit),
            remainingAtLeast: remaining > countLimit
        )
    }

    package static func open(in store: EventStore, coordinator: String? = nil, now: Date) throws -> [AlertView] {
        try store.read { try open(in: $0, coordinator: coordinator, now: now) }
    }

    /// One alert, or nil.
    package static func alert(_ id: UUID, in store: EventStore) throws -> AlertView? {
        try store.read { db in try alert(id, in: db) }
    }

    static func alert(_ id: UUID, in db: ProjectionDatabase) throws -> AlertView? {
        try db.query("SELECT \(columns) FROM alerts WHERE alert_id = ?", [.text(id.lowercasedText)]).first.map(
            view
        )
    }

    /// Every alert of a deadline, raised so far.
    package static func alerts(ofDeadline deadlineId: String, in store: EventStore) throws -> [AlertView] {
        try store.read { db in
            try db.query("SELECT \(columns) FROM alerts WHERE deadline_id = ? ORDER BY position", [.text(deadlineId)])
                .map(view)
        }
    }

    /// The end of the first snooze of an unacknowledged alert after `now` (a follower shows
    /// the alert again then), on the index of snoozes.
    static func nextSnoozeEnd(in db: ProjectionDatabase, after now: Date) throws -> Date? {
        try db.query(snoozeEndQuery, [.integer(now.unixMicroseconds)]).first?[0].int64.map {
            Date(timeIntervalSince1970: Double($0) / 1_000_000)
        }
    }

    static let snoozeEndQuery = """
        SELECT MIN(snoozed_until_us) FROM alerts INDEXED BY alerts_snoozed
        WHERE \(openCondition) AND snoozed_until_us IS NOT NULL AND snoozed_until_us > ?
        """

    /// The query of the open alerts whose snooze ended after `since` and by `now` (also what a
    /// test explains): on the index of snoozes (which holds live, unacknowledged alerts only).
    static func snoozesEndedQuery(
        coordinator: String?,
        after since: Date,
        upTo now: Date
    ) -> (sql: String, arguments: [SQLiteValue]) {
        var sql = """
            SELECT \(columns) FROM alerts INDEXED BY alerts_snoozed
            WHERE \(openCondition) AND snoozed_until_us IS NOT NULL AND snoozed_until_us > ? AND snoozed_until_us <= ?
            """
        var arguments: [SQLiteValue] = [.integer(since.unixMicroseconds), .integer(now.unixMicroseconds)]
        if let coordinator {
            sql += " AND coordinator = ?"
            arguments.append(.text(coordinator))
        }
        return (sql + " ORDER BY position", arguments)
    }

    /// The open alerts whose snooze ended after `since` and by `now`, in raising order; only
    /// `coordinator`'s when given.
    static func snoozesEnded(
        in db: ProjectionDatabase,
        coordinator: String?,
        after since: Date,
        upTo now: Date
    ) throws -> [AlertView] {
        let query = snoozesEndedQuery(coordinator: coordinator, after: since, upTo: now)
        return try db.query(query.sql, query.arguments).map(view)
    }
}
