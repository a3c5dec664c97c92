import ChildProcess
import EventStore
import Foundation
import IMRWire
import TestSupport
import Testing
@testable import IMRService
import Varlink
import Workflow

/// The case list a page at a time: every query on an index, pages that join up into the whole
/// list in its order whatever is recorded meanwhile, and a cursor that cannot be forged into
/// something else.
@Suite struct CaseListPagingTests {
    /// A store with `count` cases: RFAs received on different days (so different next
    /// deadlines), some with none running (no RFA), some closed, three coordinators.
    static func caseload(_ count: Int, in dir: URL) throws -> (EventStore, CaseService) {
        let store = try EventStore(
            path: dir.appendingPathComponent("imr.sqlite").path,
            options: .init(synchronous: .normal),
            projections: ReadModels.all()
        )
        let service = CaseService(store: store)
        for i in 0..<count {
            let id = String(format: "P-%03d", (i * 37) % count)  // ids not in the order they are recorded
            try record(
                service,
                "Open",
                [
                    "caseId": .string(id), "claimNumber": .string("ADJ-\(i % 7)"), "employer": "Acme",
                    "claimsAdministrator": "Golden TPA", "injuredWorkerReference": "W", "dateOfInjury": "2023-01-05",
                    "coordinator": .string(["maria", "li", "jorge"][i % 3]),
                ]
            )
            if i % 5 != 4 { try receiveRFA(service, id, on: LocalDate(iso: "2024-05-01")!.adding(days: i % 17)) }
            if i % 9 == 8 {
                try record(
                    service,
                    "Withdraw",
                    ["caseId": .string(id), "withdrawnOn": "2024-05-30", "reason": "settled"]
                )
            }
        }
        return (store, service)
    }

    static let now = Pacific.instant(LocalDate(iso: "2024-06-01")!, hour: 9)

    /// Records a command given as its wire parameters, as the daemon would.
    /// Recorded at `at` (by default `now`): a fact recorded after its deadline passed would
    /// keep that deadline as history, off the board.
    static func record(
        _ service: CaseService,
        _ method: String,
        _ parameters: [String: JSONValue],
        at: Date = now
    ) throws {
        let command = try RecordingCall.command(
            for: VarlinkCall(method: "io.imr.Cases." + method, parameters: parameters)
        )
        try service.execute(
            command,
            on: CaseID(parameters["caseId"]!.stringValue!),
            actor: Actor(uid: 1000, name: "alice"),
            commandId: UUID(),
            now: at
        )
    }

    static func receiveRFA(_ service: CaseService, _ id: String, on day: LocalDate) throws {
        try record(
            service,
            "ReceiveRFA",
            [
                "caseId": .string(id), "rfaId": "A", "receivedAt": .string("\(day.iso)T10:15"),
                "receivedTimeOfDayKnown": true,
                "transmission": "fax", "physician": "Dr. Lee", "reviewType": "prospective", "expedited": false,
                "formulary": false, "items": .array([.object(["id": "1", "description": "8 massage visits"])]),
            ],
            at: Pacific.instant(day, hour: 11)
        )
    }

    /// Runs `body` off the test process's two cooperative threads (building a caseload is
    /// blocking work) on a store of `count` cases, removed afterwards.
    static func withCaseload(
        _ count: Int,
        _ body: @escaping @Sendable (EventStore, CaseService) throws -> Void
    ) async throws {
        try await offThePool {
            let dir = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let (store, service) = try caseload(count, in: dir)
            defer { store.close() }
            try body(store, service)
        }
    }

    /// Runs `body` off the cooperative threads with a caseload of `count` cases served by
    /// `io.imr.Cases` on a socket (its path given), then stops the server.
    static func withCasesSocket(
        _ count: Int,
        _ body: @escaping @Sendable (EventStore, CaseService, String) throws -> Void
    ) async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (store, service) = try await offThePool { try caseload(count, in: dir) }
        defer { store.close() }
        let cases = CasesInterface(service: service, access: AccessControl(), clock: { now })
        let server = VarlinkServer(
            info: .init(vendor: "imr", product: "imr-daemon", version: "test", url: "https://example.invalid"),
            handlers: [cases]
        )
        let path = dir.appendingPathComponent("imr.sock").path
        let (ready, signal) = AsyncStream<Void>.makeStream()
        let running = Task { try await server.run(.path(path, mode: 0o660)) { signal.yield() } }
        for await _ in ready { break }
        var failure: (any Error)?
        do { try await offThePool { try body(store, service, path) } } catch { failure = error }
        server.shutdown()
        try await running.value
        if let failure { throw failure }
    }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-paging-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The list's order, worked out from the rows themselves: open first, next deadline, id.
    static func expectedOrder(_ cases: [CaseSummary]) -> [String] {
        cases.sorted { a, b in
            let ka = (
                a.isOpen ? 0 : 1, a.nextDue.flatMap(WireFormat.instant).map { $0.timeIntervalSince1970 } ?? .infinity,
                a.caseId
            )
            let kb = (
                b.isOpen ? 0 : 1, b.nextDue.flatMap(WireFormat.instant).map { $0.timeIntervalSince1970 } ?? .infinity,
                b.caseId
            )
            return ka < kb
        }.map(\.caseId)
    }

    @Test func pagesJoinUpIntoTheWholeListInItsOrder_forEveryFilter() async throws {
        try await CaseListPagingTests.withCaseload(60) { store, _ in
            let filters: [CaseListFilter] = [
                .init(), .init(open: true), .init(open: false), .init(coordinator: "li"),
                .init(open: true, coordinator: "maria"),
                .init(stage: "rfaReceived"), .init(open: true, stage: "rfaReceived", coordinator: "jorge"),
                .init(claimNumber: "ADJ-3"),
            ]
            for filter in filters {
                let all = try CaseListProjection.cases(in: store, matching: filter)
                #expect(!all.isEmpty, "\(filter)")
                #expect(all.map(\.caseId) == Self.expectedOrder(all), "\(filter)")
                for size in [1, 4, 7, 1000] {
                    var seen: [String] = []
                    var cursor: CaseListCursor?
                    var pages = 0
                    repeat {
                        let page = try store.read {
                            try CaseListProjection.page(in: $0, matching: filter, after: cursor, limit: size)
                        }
                        #expect(page.cases.count <= size)
                        seen += page.cases.map(\.caseId)
                        // The count of what follows is exact at this size.
                        #expect(page.remaining == all.count - seen.count, "\(filter) size \(size)")
                        #expect(page.next == nil || !page.cases.isEmpty)
                        // through its text, as clients send it back
                        cursor = page.next.flatMap { CaseListCursor(text: $0.text) }
                        pages += 1
                    } while cursor != nil
                    #expect(seen == all.map(\.caseId), "\(filter) size \(size)")
                    #expect(pages == max(1, (all.count + size - 1) / size), "\(filter) size \(size)")
                }
            }
            // Open cases have a next deadline unless no RFA was received; closed ones never do.
            let every = try CaseListProjection.cases(in: store, matching: .init())
            #expect(
                every.contains { $0.isOpen && $0.nextDue != nil } && every.contains { $0.isOpen && $0.nextDue == nil }
            )
            #expect(every.allSatisfy { $0.isOpen || ($0.nextDue == nil && $0.nextRule == nil) })
            #expect(every.first?.isOpen == true && every.last?.isOpen == false)
        }
    }

    @Test func theCountsByStageFollowEveryMove_andEqualACountOfTheRows() async throws {
        try await CaseListPagingTests.withCaseload(40) { store, service in
            func counted() throws -> (open: Int64, kept: Int64, byStage: [String: Int], rows: [String: Int]) {
                try store.read { db in
                    (
                        try db.query("SELECT COUNT(*) FROM case_list WHERE is_open = 1").first?[0].int64 ?? -1,
                        try CaseListProjection.openCount(in: db),
                        Dictionary(
                            uniqueKeysWithValues: try CaseListProjection.openByStage(in: db).map {
                                ($0.stage, $0.cases)
                            }
                        ),
                        Dictionary(
                            uniqueKeysWithValues: try db.query(
                                "SELECT stage, COUNT(*) FROM case_list WHERE is_open = 1 GROUP BY stage"
                            ).map {
                                ($0[0].string ?? "", Int($0[1].int64 ?? 0))
                            }
                        )
                    )
                }
            }
            var c = try counted()
            #expect(c.open == c.kept && c.byStage == c.rows && c.byStage.count >= 2, "\(c)")
            // Cases move between stages and out of the open ones; the counts move with them.
            // one opened without an RFA (i = 4)
            try Self.receiveRFA(service, "P-028", on: LocalDate(iso: "2024-05-20")!)
            try Self.record(service, "Withdraw", ["caseId": "P-001", "withdrawnOn": "2024-05-31", "reason": "settled"])
            c = try counted()
            #expect(c.open == c.kept && c.byStage == c.rows, "\(c)")
            try store.rebuildProjection(named: "case_list")
            #expect(try counted().kept == c.kept && counted().byStage == c.byStage)
        }
    }

    @Test func aCaseRecordedOrMovedBetweenPagesIsNeitherRepeatedNorLost() async throws {
        try await CaseListPagingTests.withCaseload(30) { store, service in
            let first = try store.read {
                try CaseListProjection.page(in: $0, matching: .init(open: true), after: nil, limit: 10)
            }
            // Meanwhile: a new case that sorts before the cursor (it must not appear later) and one
            // that sorts after it (it must).
            for (id, day) in [("A-early", -20), ("Z-late", 20)] {
                try Self.record(
                    service,
                    "Open",
                    [
                        "caseId": .string(id), "claimNumber": "ADJ-new", "employer": "Acme",
                        "claimsAdministrator": "Golden TPA",
                        "injuredWorkerReference": "W", "dateOfInjury": "2023-01-05", "coordinator": "li",
                    ]
                )
                try Self.receiveRFA(service, id, on: LocalDate(iso: "2024-05-09")!.adding(days: day))
            }
            var rest: [String] = []
            var cursor = first.next
            while let c = cursor {
                let page = try store.read {
                    try CaseListProjection.page(in: $0, matching: .init(open: true), after: c, limit: 10)
                }
                rest += page.cases.map(\.caseId)
                cursor = page.next
            }
            let seen = first.cases.map(\.caseId) + rest
            #expect(Set(seen).count == seen.count, "a case was listed twice: \(seen)")
            #expect(!rest.contains("A-early"), "a case that sorts before the cursor came after it")
            #expect(rest.contains("Z-late"))
            let now2 = try CaseListProjection.cases(in: store, matching: .init(open: true)).map(\.caseId)
            #expect(Set(now2).subtracting(seen) == ["A-early"])
        }
    }

    @Test func everyListQueryRunsOnAnIndex() async throws {
        try await CaseListPagingTests.withCaseload(20) { store, _ in
            let cursor = CaseListCursor(isOpen: true, nextSort: 1_714_000_000_000_000, caseId: "P-001")
            // Each filter on the index made for it (a lookup by claim or IMR case number finds its
            // few rows first, then sorts them).
            let filters: [(CaseListFilter, index: String, ordered: Bool)] = [
                (.init(), "case_list_open_next", true), (.init(coordinator: "li"), "case_list_coordinator_next", true),
                (.init(stage: "rfaReceived"), "case_list_stage_next", true),
                (.init(stage: "rfaReceived", coordinator: "li"), "case_list_coordinator_next", true),
                (.init(claimNumber: "ADJ-1"), "case_list_claim", false),
                (.init(coordinator: "li", claimNumber: "ADJ-1"), "case_list_claim", false),
                (.init(imrCaseNumber: "CM24-0000001"), "sqlite_autoindex_case_list_1", false),
            ]
            for (filter, index, ordered) in filters {
                for isOpen in [true, false] {
                    for after in [nil, cursor] {
                        for (sql, arguments) in [
                            CaseListProjection.pageQuery(filter, isOpen: isOpen, after: after, limit: 100),
                            CaseListProjection.countQuery(filter, isOpen: isOpen, after: after, cap: 10_001),
                        ] {
                            let plan = try store.read { try $0.query("EXPLAIN QUERY PLAN " + sql, arguments) }.map {
                                $0[3].string ?? ""
                            }
                            let text = plan.joined(separator: " | ")
                            #expect(
                                !plan.contains {
                                    $0.hasPrefix("SCAN case_list") || $0.hasPrefix("SCAN case_imr_numbers")
                                },
                                "\(filter): \(text)"
                            )
                            #expect(
                                plan.contains {
                                    $0.hasPrefix("SEARCH case_list USING INDEX \(index) (")
                                        || $0.hasPrefix("SEARCH case_list USING COVERING INDEX \(index) (")
                                },
                                "\(filter) not on \(index): \(text)"
                            )
                            if filter.imrCaseNumber != nil {
                                #expect(text.contains("SEARCH case_imr_numbers USING COVERING INDEX"), "\(text)")
                            }
                            if ordered && sql.contains("ORDER BY") {
                                #expect(
                                    !text.contains("TEMP B-TREE"),
                                    "\(filter) sorts instead of reading in index order: \(text)"
                                )
                            }
                        }
                    }
                }
            }
            // The case row's next deadline comes from the deadline rows of that one case.
            let next = try store.read {
                try $0.query("EXPLAIN QUERY PLAN " + CaseListProjection.nextDeadlineSQL, [.text("P-001")])
            }.map { $0[3].string ?? "" }.joined(separator: " | ")
            #expect(next.contains("deadlines_case"), "\(next)")
        }
    }

    @Test func aCursorIsCheckedAndRoundTrips() {
        let cursor = CaseListCursor(isOpen: false, nextSort: Int64.max, caseId: "case with space/é#1")
        #expect(CaseListCursor(text: cursor.text) == cursor)
        for bad in [
            "", "1", "2.1.5.6162", "1.2.5.6162", "1.1.x.6162", "1.1.5.616", "1.1.5.6G", "1.1.5.", "1.1.5.ff",
            String(repeating: "1", count: 200),
        ] {
            #expect(CaseListCursor(text: bad) == nil, "\(bad)")
        }
    }

    @Test func throughTheSocket_limitsAndCursorsAreChecked_andMoreStreamsEveryPage() async throws {
        try await Self.withCasesSocket(45) { store, _, path in
            let whole = try CaseListProjection.cases(in: store, matching: .init()).map(\.caseId)
            let c = try VarlinkClient(path: path)
            let first = try c.call("io.imr.Cases.List", ["limit": 10])
            #expect(first["cases"]?.elements?.count == 10)
            #expect(first["remaining"] == .int(Int64(whole.count - 10)))
            #expect(first["remainingAtLeast"] == false)
            for bad: JSONValue in [0, 1001, -3] {
                do {
                    _ = try c.call("io.imr.Cases.List", ["limit": bad])
                    Issue.record("limit \(bad) was accepted")
                } catch let error as VarlinkError {
                    #expect(error.name == "io.imr.Cases.InvalidValue" && error.parameters["parameter"] == "limit")
                }
            }
            do {
                _ = try c.call("io.imr.Cases.List", ["after": "1.1.99.zz"])
                Issue.record("a forged cursor was accepted")
            } catch let error as VarlinkError {
                #expect(error.name == "io.imr.Cases.InvalidValue" && error.parameters["parameter"] == "after")
            }
            // With more: every page, one reply each, the last one not continuing.
            var streamed: [String] = []
            var replies = 0
            try c.stream("io.imr.Cases.List", ["limit": 8]) { page in
                replies += 1
                streamed += page["cases"]?.elements?.compactMap { $0["caseId"]?.stringValue } ?? []
                return true
            }
            #expect(streamed == whole)
            #expect(replies == (whole.count + 7) / 8)

            // The reference Python client pages the same way, by cursor and with more.
            let script = """
                import sys, varlink
                with varlink.Client("unix:" + sys.argv[1]) as client, client.open("io.imr.Cases", namespaced=True) as cases:
                    ids, after = [], None
                    while True:
                        page = cases.List(None, None, None, None, None, 6, after)
                        ids += [c.caseId for c in page.cases]
                        after = getattr(page, "next", None)
                        if after is None:
                            break
                    print("paged", ",".join(ids))
                    streamed = []
                    for page in cases.List(None, None, None, None, None, 9, None, _more=True):
                        streamed += [c.caseId for c in page.cases]
                    print("streamed", ",".join(streamed))
                """
            let output = try runPythonClient(script, socket: path)
            #expect(output.contains("paged " + whole.joined(separator: ",") + "\n"), "\(output)")
            #expect(output.contains("streamed " + whole.joined(separator: ",") + "\n"), "\(output)")
        }
    }
}

/// Runs `script` under python3 with the socket's path as its argument (the reference Varlink
/// client, as a client of the daemon would), expects it to exit 0, and gives its output.
func runPythonClient(_ script: String, socket path: String) throws -> String {
    let p = SpawnedProcess()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script, path]
    let out = Pipe.forChild()
    let err = Pipe.forChild()
    p.standardOutput = out
    p.standardError = err
    try p.start()
    let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(p.waitForExit().status == 0, "python varlink client failed (run scripts/setup?): \(errors)")
    return output
}

/// A case's history a page at a time.
@Suite struct HistoryPagingTests {
    @Test func aHistoryComesInVersionOrderPageByPage_andByStream() async throws {
        try await CaseListPagingTests.withCasesSocket(3) { store, service, path in
            for n in 1...10 {
                try CaseListPagingTests.record(service, "AddNote", ["caseId": "P-001", "text": .string("note \(n)")])
            }
            let c = try VarlinkClient(path: path)
            let whole = try store.read(stream: "case-P-001").map(\.streamVersion)
            #expect(whole.count == 12)
            var versions: [Int64] = []
            var after: JSONValue = .null
            var pages = 0
            repeat {
                let page = try c.call("io.imr.Cases.History", ["caseId": "P-001", "limit": 5, "after": after])
                versions +=
                    page["events"]?.elements?.compactMap { if case .int(let v)? = $0["version"] { v } else { nil } }
                    ?? []
                #expect(page["remaining"] == .int(Int64(whole.count - versions.count)))
                after = page["next"] ?? .null
                pages += 1
            } while after != .null && pages < 10
            #expect(versions == whole)
            #expect(pages == 3)
            var streamed: [Int64] = []
            try c.stream("io.imr.Cases.History", ["caseId": "P-001", "limit": 4]) { page in
                streamed +=
                    page["events"]?.elements?.compactMap { if case .int(let v)? = $0["version"] { v } else { nil } }
                    ?? []
                return true
            }
            #expect(streamed == whole)
            for (parameters, expected) in [
                (["caseId": "NOPE-1"], "io.imr.Cases.CaseNotFound"),
                (["caseId": "P-001", "after": "h2.4"], "io.imr.Cases.InvalidValue"),
                (["caseId": "P-001", "limit": 0], "io.imr.Cases.InvalidValue"),
            ] as [([String: JSONValue], String)] {
                do {
                    _ = try c.call("io.imr.Cases.History", parameters)
                    Issue.record("\(parameters) was answered")
                } catch let error as VarlinkError {
                    #expect(error.name == expected, "\(parameters)")
                }
            }
        }
    }
}

/// The deadline board a page at a time, the same way.
@Suite struct DeadlineBoardPagingTests {
    @Test func boardPagesJoinUpInDueOrder_andEveryBoardQueryRunsOnItsIndex() async throws {
        try await CaseListPagingTests.withCaseload(50) { store, _ in
            let now = Pacific.instant(LocalDate(iso: "2024-05-20")!, hour: 9)
            let filters: [(DeadlineBoardFilter, index: String)] = [
                (.init(), "deadlines_open_due"), (.init(coordinator: "li"), "deadlines_coordinator_due"),
                (.init(coordinator: "maria", withinDays: 7), "deadlines_coordinator_due"),
                (.init(overdue: true), "deadlines_open_due"),
                (.init(overdue: false), "deadlines_open_due"),
                (.init(rule: "ur.decision.prospective"), "deadlines_open_due"),
                (.init(caseId: "P-003"), "deadlines_case"),
            ]
            let cursor = DeadlineBoardCursor(dueMicros: now.unixMicroseconds, deadlineId: "x")
            for (filter, index) in filters {
                let all = try DeadlineProjection.board(in: store, matching: filter, now: now)
                let ids = all.compactMap { $0["id"]?.stringValue }
                let dues = all.compactMap { $0["due"]?.stringValue.flatMap(WireFormat.instant) }
                #expect(dues == dues.sorted(), "\(filter)")
                if filter.caseId == nil { #expect(!all.isEmpty, "\(filter)") }
                var seen: [String] = []
                var next: DeadlineBoardCursor?
                repeat {
                    let page = try store.read {
                        try DeadlineProjection.boardPage(in: $0, matching: filter, now: now, after: next, limit: 6)
                    }
                    seen += page.deadlines.compactMap { $0["id"]?.stringValue }
                    #expect(page.remaining == ids.count - seen.count, "\(filter)")
                    next = page.next.flatMap { DeadlineBoardCursor(text: $0.text) }
                } while next != nil
                #expect(seen == ids, "\(filter)")
                for after in [nil, cursor] {
                    let (page, count) = DeadlineProjection.boardQueries(
                        filter,
                        now: now,
                        after: after,
                        limit: 100,
                        cap: 10_001
                    )
                    for (sql, arguments) in [page, count] {
                        let plan = try store.read { try $0.query("EXPLAIN QUERY PLAN " + sql, arguments) }.map {
                            $0[3].string ?? ""
                        }
                        let text = plan.joined(separator: " | ")
                        #expect(
                            plan.contains {
                                $0.hasPrefix("SEARCH deadlines USING INDEX \(index) (")
                                    || $0.hasPrefix("SEARCH deadlines USING COVERING INDEX \(index) (")
                            },
                            "\(filter) not on \(index): \(text)"
                        )
                        #expect(!plan.contains { $0.hasPrefix("SCAN deadlines") }, "\(text)")
                        if filter.caseId == nil && sql.contains("ORDER BY") {
                            #expect(!text.contains("TEMP B-TREE"), "\(filter): \(text)")
                        }
                        // Counting the rows after a page reads the index alone (no deadline row).
                        if filter.caseId == nil && sql.hasPrefix("SELECT COUNT") {
                            #expect(
                                plan.contains { $0.hasPrefix("SEARCH deadlines USING COVERING INDEX \(index) (") },
                                "\(filter): \(text)"
                            )
                        }
                    }
                }
            }
            // With the misses kept as history: two sets merged into each page; what follows a
            // page is counted in each set, from the rows a short set's query already gave.
            for filter in [
                DeadlineBoardFilter(includeHistory: true), DeadlineBoardFilter(coordinator: "li", includeHistory: true),
                DeadlineBoardFilter(rule: "imr.records", includeHistory: true),
            ] {
                let (misses, _) = DeadlineProjection.boardQueries(
                    filter,
                    now: now,
                    after: nil,
                    limit: 10_000,
                    cap: 0,
                    history: true
                )
                let history = try store.read { try $0.query(misses.sql, misses.arguments).count }
                for limit in [2, 5, 1_000] {
                    var seen: [String] = []
                    var remaining: [(seen: Int, remaining: Int)] = []
                    var next: DeadlineBoardCursor?
                    repeat {
                        let page = try store.read {
                            try DeadlineProjection.boardPage(
                                in: $0,
                                matching: filter,
                                now: now,
                                after: next,
                                limit: limit
                            )
                        }
                        seen += page.deadlines.compactMap { $0["id"]?.stringValue }
                        remaining.append((seen.count, page.remaining))
                        next = page.next.flatMap { DeadlineBoardCursor(text: $0.text) }
                    } while next != nil
                    let all = try DeadlineProjection.board(in: store, matching: filter, now: now).count
                    #expect(seen.count == all && all >= history, "\(filter), \(limit) a page")
                    if filter.coordinator == nil && filter.rule == nil { #expect(history > 0 && all > history) }
                    #expect(Set(seen).count == seen.count, "\(filter), \(limit) a page")
                    #expect(remaining.map(\.remaining) == remaining.map { seen.count - $0.seen }, "\(filter), \(limit)")
                }
            }
            // The misses kept as history, on their own partial indexes, in order, counted on them.
            for (filter, index) in [
                (DeadlineBoardFilter(), "deadlines_history_due"),
                (DeadlineBoardFilter(coordinator: "li"), "deadlines_history_coordinator"),
                (DeadlineBoardFilter(overdue: true), "deadlines_history_due"),
            ] {
                for after in [nil, cursor] {
                    let (page, count) = DeadlineProjection.boardQueries(
                        filter,
                        now: now,
                        after: after,
                        limit: 100,
                        cap: 10_001,
                        history: true
                    )
                    for (sql, arguments) in [page, count] {
                        let text = try store.read { try $0.query("EXPLAIN QUERY PLAN " + sql, arguments) }.map {
                            $0[3].string ?? ""
                        }.joined(separator: " | ")
                        #expect(
                            text.contains("USING COVERING INDEX \(index) (")
                                || (sql.contains("ORDER BY") && text.contains("USING INDEX \(index) (")),
                            "\(filter) not on \(index): \(text)"
                        )
                        #expect(!text.contains("SCAN deadlines") && !text.contains("TEMP B-TREE"), "\(text)")
                    }
                }
            }
            #expect(DeadlineBoardCursor(text: cursor.text) == cursor)
            for bad in ["", "d1.5", "d2.5.78", "d1.x.78", "d1.5.7", "d1.5.zz"] {
                #expect(DeadlineBoardCursor(text: bad) == nil, "\(bad)")
            }
        }
    }

    /// `withCase` (the deadline CSV): each row of a board page carries its case's claim number
    /// and stage, as the case list has them, read on the case list's key for the page's cases.
    @Test func withCase_eachBoardRowCarriesItsCasesClaimNumberAndStage_readOnTheCaseListsKey() async throws {
        try await CaseListPagingTests.withCaseload(50) { store, _ in
            let now = Pacific.instant(LocalDate(iso: "2024-05-20")!, hour: 9)
            let cases = try CaseListProjection.cases(in: store, matching: .init())
            let byCase = Dictionary(uniqueKeysWithValues: cases.map { ($0.caseId, $0) })
            var rows: [[String: JSONValue]] = []
            var next: DeadlineBoardCursor?
            repeat {
                let page = try store.read { db in
                    var page = try DeadlineProjection.boardPage(
                        in: db,
                        matching: .init(),
                        now: now,
                        after: next,
                        limit: 9
                    )
                    page.deadlines = try CaseListProjection.withClaimNumberAndStage(page.deadlines, in: db)
                    return page
                }
                rows += page.deadlines
                next = page.next
            } while next != nil
            #expect(rows.count > 9, "several pages")
            for row in rows {
                let id = try #require(row["caseId"]?.stringValue)
                let summary = try #require(byCase[id])
                #expect(row["claimNumber"]?.stringValue == summary.claimNumber, "\(id)")
                #expect(row["stage"]?.stringValue == summary.stage, "\(id)")
            }
            #expect(Set(rows.compactMap { $0["claimNumber"]?.stringValue }).count > 1)
            // Rows of cases the list does not know get neither; no rows, no query.
            let unknown: [String: JSONValue] = ["caseId": "NOPE-1", "id": "NOPE-1/x"]
            #expect(try store.read { try CaseListProjection.withClaimNumberAndStage([unknown], in: $0) } == [unknown])
            #expect(try store.read { try CaseListProjection.withClaimNumberAndStage([], in: $0) }.isEmpty)
            // One lookup per page on the table's key, never a scan of the case list, and one
            // statement for every page (the readers keep each text they run prepared).
            let query = CaseListProjection.claimNumberAndStageQuery(cases.prefix(20).map(\.caseId))
            #expect(query.sql == CaseListProjection.claimNumberAndStageQuery(["P-001"]).sql)
            let plan = try store.read { try $0.query("EXPLAIN QUERY PLAN " + query.sql, query.arguments) }.map {
                $0[3].string ?? ""
            }
            #expect(
                plan.contains { $0.hasPrefix("SEARCH case_list USING INDEX sqlite_autoindex_case_list_1 (case_id=?)") },
                "\(plan)"
            )
            #expect(!plan.contains { $0.hasPrefix("SCAN case_list") }, "\(plan)")
        }
    }
}

/// Open alerts a page at a time, in raising order.
@Suite struct AlertPagingTests {
    @Test func alertPagesJoinUp_onTheirIndexes() async throws {
        try await offThePool {
            let f = try AlertFixture()
            defer { f.close() }
            try AlertsInterfaceTests.raise(23, in: f, coordinator: "maria")
            try AlertsInterfaceTests.raise(4, in: f, coordinator: "li")
            let now = Pacific.instant(LocalDate(iso: "2024-03-12")!, hour: 9)
            for coordinator in [nil, "maria", "li"] as [String?] {
                let all = try AlertProjection.open(in: f.store, coordinator: coordinator, now: now).map(\.alertId)
                #expect(all.count == (coordinator == nil ? 27 : coordinator == "li" ? 4 : 23))
                let filter = AlertFilter(coordinator: coordinator)
                var seen: [String] = []
                var after: AlertCursor?
                repeat {
                    let page = try f.store.read {
                        try AlertProjection.openPage(in: $0, matching: filter, now: now, after: after, limit: 5)
                    }
                    seen += page.alerts.map(\.alertId)
                    #expect(page.remaining == all.count - seen.count)
                    after = page.next.flatMap { AlertCursor(text: $0.text, order: .raised) }
                } while after != nil
                #expect(seen == all)
                // Without counts (a follower's replay), the pages join up the same.
                var uncounted: [String] = []
                after = nil
                repeat {
                    let page = try f.store.read {
                        try AlertProjection.openPage(
                            in: $0,
                            matching: filter,
                            now: now,
                            after: after,
                            limit: 4,
                            counting: false
                        )
                    }
                    uncounted += page.alerts.map(\.alertId)
                    #expect(page.remaining == 0)
                    after = page.next
                } while after != nil
                #expect(uncounted == all)
                let (page, count) = AlertProjection.openQueries(
                    filter,
                    now: now,
                    after: .raised(position: 3),
                    limit: 100,
                    cap: 10_001
                )
                let index = coordinator == nil ? "alerts_open_position" : "alerts_coordinator_open"
                for (sql, arguments) in [page, count] {
                    let plan = try f.store.read { try $0.query("EXPLAIN QUERY PLAN " + sql, arguments) }.map {
                        $0[3].string ?? ""
                    }
                    #expect(
                        plan.contains {
                            $0.hasPrefix("SEARCH alerts USING INDEX \(index) (")
                                || $0.hasPrefix("SEARCH alerts USING COVERING INDEX \(index) (")
                        },
                        "\(plan)"
                    )
                    #expect(
                        !plan.joined().contains("TEMP B-TREE") && !plan.contains { $0.hasPrefix("SCAN alerts") },
                        "\(plan)"
                    )
                    // Not a list of every running deadline first, nor a lookup of each alert's
                    // deadline or other alerts: the index holds the live, unacknowledged alerts.
                    #expect(
                        !plan.joined().contains("LIST SUBQUERY") && !plan.contains { $0.hasPrefix("SCAN d") },
                        "\(plan)"
                    )
                    #expect(
                        !plan.joined().contains("deadlines_running") && !plan.joined().contains("alerts_deadline"),
                        "\(plan)"
                    )
                    if sql.hasPrefix("SELECT COUNT") {
                        #expect(
                            plan.contains { $0.hasPrefix("SEARCH alerts USING COVERING INDEX \(index) (") },
                            "the count reads no alert row: \(plan)"
                        )
                    }
                }
            }
            for bad in ["", "a1.", "a1.x", "a2.5", "a1.-4"] {
                #expect(AlertCursor(text: bad, order: .raised) == nil, "\(bad)")
            }
        }
    }
}

/// The morning digest reads the coordinators one index seek each, and its sections are the
/// board's deadlines split at the end of today and of the week.
@Suite struct MorningDigestTests {
    @Test func coordinatorsAreFoundBySeeks_andTheSectionsSplitTheBoard() async throws {
        try await CaseListPagingTests.withCaseload(40) { store, _ in
            let now = Pacific.instant(LocalDate(iso: "2024-05-14")!, hour: 9)
            let names = try store.read { try MorningDigest.coordinators(in: $0) }
            #expect(names == ["jorge", "li", "maria"])
            #expect(try store.read { try MorningDigest.coordinators(in: $0, after: "jorge", limit: 1) } == ["li"])
            for sql in [
                "SELECT coordinator FROM deadlines INDEXED BY deadlines_coordinator_due WHERE coordinator > ? AND is_open = 1 ORDER BY coordinator LIMIT 1"
            ] {
                let plan = try store.read { try $0.query("EXPLAIN QUERY PLAN " + sql, [.text("li")]) }.map {
                    $0[3].string ?? ""
                }
                #expect(
                    plan.contains { $0.hasPrefix("SEARCH deadlines USING COVERING INDEX deadlines_coordinator_due") },
                    "\(plan)"
                )
            }
            for name in names {
                let digest = try store.read { try MorningDigest.build(in: $0, coordinator: name, now: now) }
                let board = try DeadlineProjection.board(
                    in: store,
                    matching: DeadlineBoardFilter(coordinator: name, withinDays: 7),
                    now: now
                )
                let today = Pacific.date(of: now)
                func due(_ row: [String: JSONValue]) -> Date {
                    row["due"]?.stringValue.flatMap(WireFormat.instant) ?? .distantPast
                }
                func day(_ row: [String: JSONValue]) -> LocalDate? {
                    row["dueDate"]?.stringValue.flatMap(LocalDate.init(iso:))
                }
                let overdue = board.filter { due($0) <= now }
                let dueToday = board.filter { due($0) > now && day($0) == today }
                #expect(digest.overdue.count == overdue.count && digest.dueToday.count == dueToday.count, "\(name)")
                #expect(
                    digest.overdue.deadlines.map { $0["id"] }
                        == overdue.prefix(MorningDigest.rowsPerSection).map { $0["id"] }
                )
                #expect(digest.dueToday.deadlines.map { $0["id"] } == dueToday.map { $0["id"] })
                let week = try DeadlineProjection.board(
                    in: store,
                    matching: DeadlineBoardFilter(coordinator: name, withinDays: 8),
                    now: now
                )
                .filter { due($0) > now && day($0).map { $0 > today && $0 <= today.adding(days: 6) } == true }
                #expect(digest.thisWeek.deadlines.map { $0["id"] } == week.map { $0["id"] }, "\(name)")
                #expect(
                    digest.overdue.count + digest.dueToday.count + digest.thisWeek.count > 0,
                    "\(name) has deadlines this fortnight"
                )
            }
        }
    }
}

/// Finding a case by the start of what a coordinator remembers, in any letter case, on indexes.
@Suite struct CaseSearchTests {
    /// The case list writes an indexed column only when it changes: a corrected claim number
    /// must still move the row in the claim indexes (and nothing else must move with it).
    @Test func aCorrectedClaimNumberIsFoundUnderTheNewNumberOnly() async throws {
        try await CaseListPagingTests.withCaseload(30) { store, service in
            let before = try store.read { try $0.query("SELECT * FROM case_list ORDER BY case_id") }
            try CaseListPagingTests.record(
                service,
                "Correct",
                [
                    "caseId": "P-003", "version": 1, "field": "claimNumber",
                    "value": ["kind": "text", "value": "ADJ-NEW-9"],
                    "reason": "typed from the wrong letter",
                ]
            )
            let found = try store.read { try CaseListProjection.search(in: $0, text: "adj-new", limit: 10) }
            #expect(found.cases.map(\.caseId) == ["P-003"])
            #expect(found.cases.first?.claimNumber == "ADJ-NEW-9")
            let exact = try store.read {
                try $0.query("SELECT case_id FROM case_list WHERE claim_number = ?", [.text("ADJ-NEW-9")])
            }
            #expect(exact.map { $0[0].string } == ["P-003"])
            let old = before.first { $0["case_id"].string == "P-003" }?["claim_number"].string ?? ""
            let underOld = try store.read { try CaseListProjection.search(in: $0, text: old, limit: 100) }
            #expect(!underOld.cases.contains { $0.caseId == "P-003" })
            // The other cases' rows are as they were.
            let after = try store.read { try $0.query("SELECT * FROM case_list ORDER BY case_id") }
            #expect(zip(before, after).filter { $0.0["case_id"] != .text("P-003") }.allSatisfy { $0.0 == $0.1 })
            #expect(try store.read { try $0.query("PRAGMA integrity_check") }.first?[0].string == "ok")
        }
    }

    @Test func searchFindsByPrefixInAnyLetterCase_onIndexes_andSuggestsNearIds() async throws {
        try await CaseListPagingTests.withCaseload(30) { store, _ in
            let claim3 = try store.read { try CaseListProjection.search(in: $0, text: "adj-3", limit: 100) }
            #expect(!claim3.cases.isEmpty && claim3.cases.allSatisfy { $0.claimNumber == "ADJ-3" } && !claim3.more)
            #expect(claim3.cases.count == (0..<30).filter { $0 % 7 == 3 }.count)
            // Open cases first, then by next deadline, as the list.
            #expect(claim3.cases.map(\.caseId) == CaseListPagingTests.expectedOrder(claim3.cases))
            let acme = try store.read { try CaseListProjection.search(in: $0, text: "ACM", limit: 5) }
            #expect(acme.cases.count == 5 && acme.more)
            let byId = try store.read { try CaseListProjection.search(in: $0, text: "p-01", limit: 100) }
            #expect(Set(byId.cases.map(\.caseId)) == Set((10...19).map { String(format: "P-%03d", $0) }))
            #expect(try store.read { try CaseListProjection.search(in: $0, text: "zzz", limit: 10) }.cases.isEmpty)
            for (sql, arguments) in CaseListProjection.searchQueries("ac", limit: 10) {
                let plan = try store.read { try $0.query("EXPLAIN QUERY PLAN " + sql, arguments) }.map {
                    $0[3].string ?? ""
                }
                #expect(plan.contains { $0.hasPrefix("SEARCH") && $0.contains("_nocase") }, "\(plan)")
                #expect(!plan.contains { $0.hasPrefix("SCAN") } && !plan.joined().contains("TEMP B-TREE"), "\(plan)")
            }
            #expect(try store.read { try CaseListProjection.nearestCaseIds(to: "p-007", in: $0) } == ["P-007"])
            #expect(try store.read { try CaseListProjection.nearestCaseIds(to: "P-0077", in: $0) }.contains("P-007"))
            #expect(try store.read { try CaseListProjection.nearestCaseIds(to: "Q-XYZ-1", in: $0) }.isEmpty)
        }
    }
}
