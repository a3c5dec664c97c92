import EventStore
import Foundation
import IMRCommandLine
import IMRWire
import TestSupport
import Testing
import Varlink
@testable import IMRService
@testable import Workflow

/// An AlertRaised appended to its own stream, as the scheduler appends it.
func appendRaised(_ raised: AlertRaised, to store: EventStore) throws {
    try store.append(
        to: AlertStreams.streamId(raised.alertId),
        expected: .noStream,
        events: [
            NewEvent(
                type: AlertRaised.typeName,
                schemaVersion: AlertEventCodec.schemaVersion,
                payload: try AlertEventCodec.encode(.raised(raised))
            )
        ]
    )
}

/// Serves `io.imr.Alerts` on `store` over a socket in `dir` (its clock at `now`) while `body`
/// runs off the cooperative threads, then stops the followers and the server.
func withAlertsSocket(
    _ store: EventStore,
    in dir: URL,
    now: Date,
    replayPage: Int = AlertProjection.maximumPage,
    _ body: @escaping @Sendable (String, AlertsInterface) throws -> Void
) async throws {
    let alerts = AlertsInterface(store: store, access: AccessControl(), clock: { now }, replayPage: replayPage)
    let server = VarlinkServer(
        info: .init(vendor: "imr", product: "imr-daemon", version: "test", url: "https://example.invalid"),
        handlers: [alerts]
    )
    let path = dir.appendingPathComponent("imr.sock").path
    let (ready, signal) = AsyncStream<Void>.makeStream()
    let running = Task { try await server.run(.path(path, mode: 0o660)) { signal.yield() } }
    for await _ in ready { break }
    var failure: Error?
    do { try await offThePool { try body(path, alerts) } } catch { failure = error }
    alerts.stopFollowers()
    server.shutdown()
    try await running.value
    if let failure { throw failure }
}

/// `io.imr.Alerts.List` narrowed (coordinator, case, level, rule, the start of the id) and in
/// either order, a page at a time on an index, over CaseListPagingTests' caseload with an alert
/// raised on each running deadline.
@Suite(.timeLimit(.minutes(3))) struct AlertListTests {
    static let now = CaseListPagingTests.now
    /// The due instants the alerts share (many alerts are due at each), in due order.
    static let dues = [-1, 2, 5].map { now.addingTimeInterval(Double($0) * 86_400) }
    static let levels: [AlertLevel] = [.notice, .overdue, .reminder, .dueToday]

    /// An alert on a running deadline: its case, rule and coordinator.
    static func raised(
        _ deadline: Row,
        level: AlertLevel,
        due: Date,
        id: UUID = UUID(),
        coordinator: String? = nil
    ) -> AlertRaised {
        AlertRaised(
            alertId: id,
            caseId: CaseID(deadline["case_id"].string ?? ""),
            rule: RuleID(rawValue: deadline["rule"].string ?? "") ?? .urDecisionProspective,
            deadlineId: deadline["deadline_id"].string ?? "",
            level: level,
            due: due,
            scheduledAt: due,
            raisedAt: now,
            late: false,
            coordinator: coordinator ?? deadline["coordinator"].string ?? ""
        )
    }

    static func runningDeadlines(in store: EventStore) throws -> [Row] {
        try store.read {
            try $0.query(
                "SELECT deadline_id, case_id, rule, coordinator FROM deadlines WHERE is_open = 1 ORDER BY deadline_id"
            )
        }
    }

    /// 40 cases, an alert on each running deadline: the levels in turn, due at one of
    /// ``dues`` in an order unlike the order they are raised in.
    static func withAlerts(
        _ body: @escaping @Sendable (EventStore, URL) throws -> Void
    ) async throws {
        try await offThePool {
            let dir = try CaseListPagingTests.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let (store, _) = try CaseListPagingTests.caseload(40, in: dir)
            defer { store.close() }
            for (i, deadline) in try runningDeadlines(in: store).enumerated() {
                try appendRaised(raised(deadline, level: levels[i % 4], due: dues[(i * 7) % 3]), to: store)
            }
            try body(store, dir)
        }
    }

    /// The same as ``withAlerts(_:)``, served on a socket.
    static func withAlertsServed(_ body: @escaping @Sendable (EventStore, String) throws -> Void) async throws {
        let dir = try CaseListPagingTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (store, _) = try await offThePool { () -> (EventStore, CaseService) in
            let made = try CaseListPagingTests.caseload(40, in: dir)
            for (i, deadline) in try runningDeadlines(in: made.0).enumerated() {
                try appendRaised(raised(deadline, level: levels[i % 4], due: dues[(i * 7) % 3]), to: made.0)
            }
            return made
        }
        defer { store.close() }
        try await withAlertsSocket(store, in: dir, now: now) { path, _ in try body(store, path) }
    }

    /// What `filter` lists, worked out from every open alert (raising order) by hand.
    static func expected(_ filter: AlertFilter, from open: [AlertView]) -> [String] {
        let kept = open.filter { a in
            (filter.coordinator.map { a.coordinator == $0 } ?? true) && (filter.caseId.map { a.caseId == $0 } ?? true)
                && (filter.level.map { a.level == $0.rawValue } ?? true)
                && (filter.rule.map { a.rule == $0.rawValue } ?? true)
                && (filter.alertIdPrefix.map { a.alertId.hasPrefix($0) } ?? true)
        }
        let ordered =
            filter.order == .raised
            ? kept : kept.sorted { ($0.due, $0.position) < ($1.due, $1.position) }
        return ordered.map(\.alertId)
    }

    /// Every page of `filter` from `after`, `limit` a page, checking each page's count.
    static func pages(
        _ filter: AlertFilter,
        in store: EventStore,
        limit: Int,
        after first: AlertCursor? = nil
    ) throws -> [String] {
        var seen: [String] = []
        var after = first
        var counts: [(seen: Int, remaining: Int)] = []
        repeat {
            let page = try store.read {
                try AlertProjection.openPage(in: $0, matching: filter, now: now, after: after, limit: limit)
            }
            #expect(page.alerts.count <= limit)
            seen += page.alerts.map(\.alertId)
            counts.append((seen.count, page.remaining))
            // The cursor goes out as text and comes back.
            after = page.next.map { AlertCursor(text: $0.text, order: filter.order) ?? .raised(position: -1) }
        } while after != nil
        // Each page said how many came after it (a short page counts none, having them all).
        #expect(counts.map(\.remaining) == counts.map { seen.count - $0.seen }, "\(filter)")
        return seen
    }

    @Test func everyFilterInEitherOrder_listsWhatItNames_pageByPage() async throws {
        try await Self.withAlerts { store, _ in
            let open = try AlertProjection.open(in: store, now: Self.now)
            #expect(open.count > 30)
            let byDue = Self.expected(AlertFilter(order: .due), from: open)
            #expect(byDue != open.map(\.alertId), "the due order is not the raising order here")
            #expect(Set(open.map(\.due)).count == Self.dues.count, "alerts tie on their due instant")
            let someCase = open[5].caseId
            let prefix = String(open[7].alertId.prefix(4))
            var shapes = 0
            for coordinator in [nil, "maria"] as [String?] {
                for caseId in [nil, someCase] as [String?] {
                    for level in [nil, .overdue] as [AlertLevel?] {
                        for rule in [nil, .urDecisionProspective] as [RuleID?] {
                            for alertIdPrefix in [nil, prefix] as [String?] {
                                for order in AlertOrder.allCases {
                                    let filter = AlertFilter(
                                        coordinator: coordinator,
                                        caseId: caseId,
                                        level: level,
                                        rule: rule,
                                        alertIdPrefix: alertIdPrefix,
                                        order: order
                                    )
                                    let want = Self.expected(filter, from: open)
                                    #expect(try Self.pages(filter, in: store, limit: 3) == want, "\(filter)")
                                    shapes += want.isEmpty ? 0 : 1
                                }
                            }
                        }
                    }
                }
            }
            #expect(shapes > 20, "most filters find something here")
            // Each filter narrows: fewer than all, more than none.
            for filter in [
                AlertFilter(coordinator: "maria"), AlertFilter(caseId: someCase), AlertFilter(level: .overdue),
                AlertFilter(rule: .urInfoRequest), AlertFilter(alertIdPrefix: prefix),
            ] {
                let count = Self.expected(filter, from: open).count
                #expect(count > 0 && count < open.count, "\(filter)")
            }
            // A page's count: what follows it.
            let first = try store.read {
                try AlertProjection.openPage(
                    in: $0,
                    matching: AlertFilter(level: .overdue, order: .due),
                    now: Self.now,
                    after: nil,
                    limit: 2
                )
            }
            let overdue = Self.expected(AlertFilter(level: .overdue, order: .due), from: open)
            #expect(first.alerts.map(\.alertId) == Array(overdue.prefix(2)))
            #expect(first.remaining == overdue.count - 2 && !first.remainingAtLeast)
        }
    }

    @Test func aDuePageStartsAfterTheLastOne_whateverIsRaisedMeanwhile() async throws {
        try await Self.withAlerts { store, _ in
            let filter = AlertFilter(order: .due)
            let before = Self.expected(filter, from: try AlertProjection.open(in: store, now: Self.now))
            let first = try store.read {
                try AlertProjection.openPage(in: $0, matching: filter, now: Self.now, after: nil, limit: 15)
            }
            let last = try #require(first.alerts.last)
            // The page ends inside a run of alerts due at one instant.
            #expect(before.dropFirst(15).first.map { id in last.due == (try? Self.dueOf(id, in: store)) } == true)
            let cursor = try #require(first.next)
            // Raised now: one due before the cursor (it sorts before the next page: not shown),
            // one due at the cursor's instant (raised after it: next page), one due later.
            let deadlines = try Self.runningDeadlines(in: store)
            var later: [String] = []
            for (i, due) in [Self.dues[0].addingTimeInterval(-60), last.due, Self.dues[2].addingTimeInterval(60)]
                .enumerated()
            {
                let raised = Self.raised(deadlines[i], level: .overdue, due: due)
                try appendRaised(raised, to: store)
                if i > 0 { later.append(raised.alertId.uuidString.lowercased()) }
            }
            let rest = try Self.pages(filter, in: store, limit: 4, after: cursor)
            let now = Self.expected(filter, from: try AlertProjection.open(in: store, now: Self.now))
            // Nothing of the first page again, nothing skipped, the new ones after the cursor in their place.
            #expect(first.alerts.map(\.alertId) == Array(before.prefix(15)))
            #expect(Set(rest).isDisjoint(with: first.alerts.map(\.alertId)))
            #expect(rest == now.filter { id in before.dropFirst(15).contains(id) || later.contains(id) })
            #expect(later.allSatisfy(rest.contains))
            #expect(rest.count == before.count - 15 + 2 - Self.supersededSince(before, now))
        }
    }

    /// The alert's due instant.
    static func dueOf(_ id: String, in store: EventStore) throws -> Date? {
        try AlertProjection.alert(UUID(uuidString: id)!, in: store)?.due
    }

    /// How many of `before` left the open alerts (superseded by an overdue one raised since).
    static func supersededSince(_ before: [String], _ now: [String]) -> Int {
        before.dropFirst(15).filter { !now.contains($0) }.count
    }

    /// Each list query's shape runs on the index named here: in the list's order where one
    /// has it, so that a page reads only its rows; a case's and an id's start on their key.
    @Test func everyListQueryShapeRunsOnItsIndex() async throws {
        try await Self.withAlerts { store, _ in
            let shapes: [(AlertFilter, String, sortsItsRows: Bool)] = [
                (AlertFilter(), "alerts_open_position", false),
                (AlertFilter(coordinator: "li"), "alerts_coordinator_open", false),
                (AlertFilter(level: .overdue, rule: .imrApplication), "alerts_open_position", false),
                (
                    AlertFilter(coordinator: "li", level: .notice, rule: .imrApplication), "alerts_coordinator_open",
                    false
                ),
                (AlertFilter(order: .due), "alerts_open_due", false),
                (AlertFilter(coordinator: "li", order: .due), "alerts_coordinator_due", false),
                (
                    AlertFilter(coordinator: "li", level: .overdue, rule: .imrApplication, order: .due),
                    "alerts_coordinator_due", false
                ),
                (AlertFilter(rule: .imrApplication, order: .due), "alerts_rule_due", false),
                (AlertFilter(level: .overdue, rule: .imrApplication, order: .due), "alerts_rule_due", false),
                (AlertFilter(level: .overdue, order: .due), "alerts_level_due", false),
                (AlertFilter(caseId: "P-001", order: .due), "alerts_case_open", false),
                (
                    AlertFilter(
                        coordinator: "li",
                        caseId: "P-001",
                        level: .overdue,
                        rule: .imrApplication,
                        order: .due
                    ),
                    "alerts_case_open", false
                ),
                // A case has a few alerts: in raising order they are sorted.
                (AlertFilter(caseId: "P-001"), "alerts_case_open", true),
                (AlertFilter(alertIdPrefix: "3f2a"), "sqlite_autoindex_alerts_1", true),
                (AlertFilter(coordinator: "li", alertIdPrefix: "3f2a", order: .due), "sqlite_autoindex_alerts_1", true),
            ]
            for (filter, index, sorts) in shapes {
                for cursor in [nil, filter.order == .due ? .due(dueMicros: 5, position: 3) : .raised(position: 3)]
                    as [AlertCursor?]
                {
                    let (page, count) = AlertProjection.openQueries(
                        filter,
                        now: Self.now,
                        after: cursor,
                        limit: 100,
                        cap: 10_001
                    )
                    for (sql, arguments) in [page, count] {
                        let plan = try store.read { try $0.query("EXPLAIN QUERY PLAN " + sql, arguments) }.map {
                            $0[3].string ?? ""
                        }
                        let text = "\(filter), \(String(describing: cursor)): \(plan)"
                        #expect(
                            plan.contains {
                                $0.hasPrefix("SEARCH alerts USING INDEX \(index) (")
                                    || $0.hasPrefix("SEARCH alerts USING COVERING INDEX \(index) (")
                            },
                            "\(text)"
                        )
                        #expect(!plan.contains { $0.hasPrefix("SCAN alerts") }, "\(text)")
                        if !sorts { #expect(!plan.joined().contains("TEMP B-TREE"), "\(text)") }
                        // Whether an alert is open is in the index (live, unacknowledged alerts
                        // only): no alert's deadline or other alerts looked up to tell.
                        #expect(
                            !plan.joined().contains("deadlines_running") && !plan.joined().contains("alerts_deadline")
                                && !plan.contains { $0.hasPrefix("SCAN d") },
                            "\(text)"
                        )
                        if sql.hasPrefix("SELECT COUNT"), filter.alertIdPrefix == nil {
                            #expect(
                                plan.contains { $0.hasPrefix("SEARCH alerts USING COVERING INDEX \(index) (") },
                                "the count reads no alert row: \(text)"
                            )
                        }
                    }
                }
            }
        }
    }

    @Test func aCursorRoundTripsInItsOrderOnly() {
        for cursor in [AlertCursor.raised(position: 0), .raised(position: 42), .due(dueMicros: -5, position: 7)] {
            let order: AlertOrder = if case .raised = cursor { .raised } else { .due }
            #expect(AlertCursor(text: cursor.text, order: order) == cursor)
            #expect(AlertCursor(text: cursor.text, order: order == .due ? .raised : .due) == nil)
        }
        for bad in ["", "ad1.", "ad1.5", "ad1.5.", "ad1.x.5", "ad1.5.-1", "ad2.5.5", "ad1.5.5.5", "a1.5", "ad1.5.5 "] {
            #expect(AlertCursor(text: bad, order: .due) == nil, "\(bad)")
        }
    }

    /// Through the socket: bad values are refused naming the parameter, the filters and the
    /// due order page by cursor and with more, and an id's start finds one, several or none.
    @Test func throughTheSocket_valuesAreChecked_andAnIdsStartIsFound() async throws {
        try await Self.withAlertsServed { store, path in
            let c = try VarlinkClient(path: path)
            func refused(_ parameters: [String: JSONValue]) -> VarlinkError? {
                do {
                    _ = try c.call("io.imr.Alerts.List", parameters)
                    return nil
                } catch { return error as? VarlinkError }
            }
            for (parameters, parameter, says) in [
                (["level": "urgent"], "level", "notice, reminder, due-today, overdue"),
                (["rule": "ur.decision"], "rule", "ur.decision.prospective"),
                (["caseId": "P 001"], "caseId", "ASCII letters, digits"),
                (["caseId": .string(String(repeating: "P", count: 65))], "caseId", "64"),
                (["alertIdPrefix": "3f2"], "alertIdPrefix", "at least 4"),
                (["alertIdPrefix": "3f2g"], "alertIdPrefix", "hex digits"),
                (["alertIdPrefix": "3f-2-"], "alertIdPrefix", "hex digits"),
                (["order": "soonest"], "order", "raised, due"),
                (["order": "due", "after": "a1.5"], "after", "pass the `next`"),
                (["after": "ad1.5.5"], "after", "pass the `next`"),
                (["limit": 1001, "order": "due"], "limit", "1 to 1000"),
                (["coordinator": "jane doe"], "coordinator", "ASCII letters, digits"),
                (["coordinator": .string(String(repeating: "j", count: 65))], "coordinator", "64"),
            ] as [([String: JSONValue], String, String)] {
                let error = refused(parameters)
                #expect(error?.name == "io.imr.Alerts.InvalidValue", "\(parameters): \(String(describing: error))")
                #expect(error?.parameters["parameter"]?.stringValue == parameter, "\(parameters)")
                let message = error?.parameters["message"]?.stringValue ?? ""
                #expect(message.contains(says), "\(parameters): \(message)")
            }
            let unknown = refused(["caseId": "p-001"])
            #expect(unknown?.name == "io.imr.Cases.CaseNotFound")
            #expect(unknown?.parameters["didYouMean"] == .array(["P-001"]))

            // The due order a page at a time, by cursor, and with more.
            let open = try AlertProjection.open(in: store, now: Self.now)
            let want = Self.expected(AlertFilter(coordinator: "li", order: .due), from: open)
            #expect(want.count > 5)
            var byCursor: [String] = []
            var after: JSONValue = .null
            repeat {
                let page = try c.call(
                    "io.imr.Alerts.List",
                    ["coordinator": "li", "order": "due", "limit": 4, "after": after]
                )
                byCursor += page["alerts"]?.elements?.compactMap { $0["alertId"]?.stringValue } ?? []
                after = page["next"] ?? .null
                #expect(
                    page["remaining"] == .int(Int64(want.count - byCursor.count)),
                    "\(byCursor.count) of \(want.count)"
                )
            } while after != .null
            #expect(byCursor == want)
            var streamed: [String] = []
            try c.stream("io.imr.Alerts.List", ["coordinator": "li", "order": "due", "limit": 3]) { page in
                streamed += page["alerts"]?.elements?.compactMap { $0["alertId"]?.stringValue } ?? []
                return true
            }
            #expect(streamed == want)

            // An id's start: one alert, several, none (any letter case; only open alerts).
            let deadlines = try Self.runningDeadlines(in: store)
            for (i, id) in ["abcd1234-0000-5000-8000-000000000001", "abcd5678-0000-5000-8000-000000000002"].enumerated()
            {
                try appendRaised(
                    Self.raised(deadlines[i], level: .overdue, due: Self.dues[1], id: UUID(uuidString: id)!),
                    to: store
                )
            }
            func found(_ prefix: String) throws -> [String] {
                try c.call("io.imr.Alerts.List", ["alertIdPrefix": .string(prefix)])["alerts"]?.elements?.compactMap {
                    $0["alertId"]?.stringValue
                } ?? []
            }
            #expect(try found("ABCD").count == 2)
            #expect(try found("abcd5") == ["abcd5678-0000-5000-8000-000000000002"])
            #expect(try found("abcd1234-0") == ["abcd1234-0000-5000-8000-000000000001"])
            #expect(try found(open[3].alertId) == [open[3].alertId])
            let taken = Set(try AlertProjection.open(in: store, now: Self.now).map { $0.alertId.prefix(4) })
            let none = try #require(
                (0..<65_536).lazy.map { String(format: "%04x", $0) }.first { !taken.contains(Substring($0)) }
            )
            #expect(try found(none).isEmpty)
            _ = try c.call("io.imr.Alerts.Acknowledge", ["alertId": "abcd1234-0000-5000-8000-000000000001"])
            #expect(try found("abcd") == ["abcd5678-0000-5000-8000-000000000002"])

            // The reference Python client, by keyword: the due order by cursor and with more.
            let script = """
                import sys, varlink
                with varlink.Client("unix:" + sys.argv[1]) as client, client.open("io.imr.Alerts", namespaced=True) as alerts:
                    ids, after = [], None
                    while True:
                        page = alerts.List(coordinator="li", order="due", limit=4, after=after)
                        ids += [a.alertId for a in page.alerts]
                        after = getattr(page, "next", None)
                        if after is None:
                            break
                    print("paged", ",".join(ids))
                    streamed = []
                    for page in alerts.List(coordinator="li", order="due", limit=3, _more=True):
                        streamed += [a.alertId for a in page.alerts]
                    print("streamed", ",".join(streamed))
                    try:
                        alerts.List(level="urgent")
                    except varlink.VarlinkError as e:
                        print("error", e.error(), e.parameters()["parameter"])
                """
            let output = try runPythonClient(script, socket: path)
            #expect(output.contains("paged " + want.joined(separator: ",") + "\n"), "\(output)")
            #expect(output.contains("streamed " + want.joined(separator: ",") + "\n"), "\(output)")
            #expect(output.contains("error io.imr.Alerts.InvalidValue level"), "\(output)")
        }
    }

    /// imr-ctl ack, snooze and reassign take the start of an id and have the daemon find it.
    @Test func imrCtlResolvesAnIdsStart_one_several_orNone() async throws {
        try await Self.withAlertsServed { store, path in
            let deadlines = try Self.runningDeadlines(in: store)
            let ids = (1...12).map { String(format: "abcd%04d-0000-5000-8000-000000000000", $0) }
            for (i, id) in ids.enumerated() {
                try appendRaised(
                    Self.raised(deadlines[i], level: .overdue, due: Self.dues[1], id: UUID(uuidString: id)!),
                    to: store
                )
            }
            let client = DaemonClient(socketPath: path)
            func failure(_ arguments: [String]) -> CommandFailure? {
                do {
                    try Ack.parse(arguments).run(client)
                    return nil
                } catch { return error as? CommandFailure }
            }
            let several = failure(["abcd"])
            #expect(several?.status == .usage)
            // Ten named, and how many in all.
            #expect(
                several?.message.hasPrefix("'abcd' starts 12 alert ids (abcd0001-") == true,
                "\(several?.message ?? "")"
            )
            #expect(several?.message.hasSuffix(", …); give more of it") == true, "\(several?.message ?? "")")
            let two = failure(["ABCD001"])
            #expect(
                two?.message == "'ABCD001' starts 3 alert ids (\(ids[9]), \(ids[10]), \(ids[11])); give more of it",
                "\(two?.message ?? "")"
            )
            let none = failure(["abce"])
            #expect(none?.status == .notFound)
            #expect(none?.message.contains("there is no open alert whose id starts with 'abce'") == true)
            #expect(failure(["ab-c"])?.status == .usage, "fewer than 4 hex digits")
            #expect(failure(["abcd0002"]) == nil)
            #expect(try AlertProjection.alert(UUID(uuidString: ids[1])!, in: store)?.acknowledgedBy == "root")
            // Acknowledged, it is no longer found by its start.
            #expect(failure(["abcd0002"])?.status == .notFound)
            try Snooze.parse(["abcd0003", "--until", "2h"]).run(client)
            #expect(try AlertProjection.alert(UUID(uuidString: ids[2])!, in: store)?.snoozedUntil != nil)
            try ReassignAlert.parse(["abcd0004", "--to", "jorge"]).run(client)
            #expect(try AlertProjection.alert(UUID(uuidString: ids[3])!, in: store)?.coordinator == "jorge")
        }
    }
}
