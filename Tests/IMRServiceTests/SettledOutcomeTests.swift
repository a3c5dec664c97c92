import EventStore
import Foundation
import IMRCommandLine
import IMRWire
import TestSupport
import Testing
@testable import IMRService
import Varlink
import Workflow

/// Settled deadlines have no rows: each case's outcomes are one row and each rule's are counted
/// as commands settle them; the IMR figures are counted as items change. The figures must be
/// what the engine derives for every case (timeliness) and what the items give (decisions,
/// medians), after commands one at a time and after a rebuild.
@Suite struct SettledOutcomeTests {
    @Test func figuresAreWhatTheEngineAndTheItemsGive_commandByCommand_andAfterARebuild() async throws {
        try await offThePool {
            try withReadModelStore { store in try Self.countAndCompare(store) }
        }
    }

    static func countAndCompare(_ store: EventStore) throws {
        let start = Pacific.instant(LocalDate(iso: "2026-09-01")!, hour: 9)
        var caseload = SyntheticCaseload(now: start, count: 40, seed: 5, coordinators: ["maria", "li"])
        let service = CaseService(store: store)
        let actor = Actor(uid: 0, name: "test")
        var caseIds: [CaseID] = []
        // Each command on its own, a day apart per case: a case's outcomes change step by step.
        for n in 0..<40 {
            let calls = caseload.calls(ofCase: n)
            let caseId = CaseID(calls[0].parameters["caseId"]!.stringValue!)
            caseIds.append(caseId)
            for (step, call) in calls.enumerated() {
                guard
                    let command = try? RecordingCall.command(
                        for: VarlinkCall(method: "io.imr.Cases." + call.method, parameters: call.parameters)
                    )
                else { continue }
                _ = try? service.execute(
                    command,
                    on: caseId,
                    actor: actor,
                    commandId: UUID(),
                    now: start.addingTimeInterval(Double(step) * 86_400)
                )
            }
        }
        let now = start.addingTimeInterval(120 * 86_400)
        // What the engine derives for each case as of its last event (settled outcomes) and
        // at `now` (running deadlines past due count as missed).
        var expected: [String: (met: Int, metLate: Int, missed: Int)] = [:]
        var settledSeen = 0
        for caseId in caseIds {
            let (state, events) = try service.stateAndHistory(of: caseId)
            guard let last = events.last else { continue }
            for deadline in DeadlineEngine.deadlines(for: state, now: last.recordedAt)
            where deadline.rule.rawValue != "ur.info-request" {
                var entry = expected[deadline.rule.rawValue] ?? (0, 0, 0)
                if deadline.isOpen && state.isOpen {
                    if deadline.due <= now { entry.missed += 1 }
                } else {
                    switch deadline.status {
                    case .met: entry.met += 1
                    case .metLate: entry.metLate += 1
                    case .missed: entry.missed += 1
                    default: break
                    }
                    settledSeen += 1
                }
                expected[deadline.rule.rawValue] = entry
            }
        }
        #expect(settledSeen > 40, "the caseload settles deadlines")
        func timeliness() throws -> [String: (met: Int, metLate: Int, missed: Int)] {
            Dictionary(
                uniqueKeysWithValues: try CaseStatistics.read(from: store, now: now).timelinessByRule.map {
                    ($0.rule, (met: $0.met, metLate: $0.metLate, missed: $0.missed))
                }
            )
        }
        func same(_ a: [String: (met: Int, metLate: Int, missed: Int)]) -> Bool {
            let wanted = expected.filter { $0.value != (0, 0, 0) }
            return a.count == wanted.count
                && wanted.allSatisfy { rule, e in a[rule].map { $0 == e } ?? false }
        }
        let counted = try timeliness()
        #expect(same(counted), "counted \(counted) against derived \(expected)")
        #expect(counted.values.contains { $0.met > 0 } && counted.values.contains { $0.missed > 0 })
        // "Due in the next 7 days": the running deadlines the engine derives due within a week
        // of `soon` and not yet past due, without the optional windows to ask for more
        // information (the board lists those; the figure leaves them out).
        let soon = start.addingTimeInterval(3 * 86_400)
        var dueSoon = 0
        var windowsSoon = 0
        for caseId in caseIds {
            let (state, events) = try service.stateAndHistory(of: caseId)
            guard let last = events.last, state.isOpen else { continue }
            for deadline in DeadlineEngine.deadlines(for: state, now: last.recordedAt)
            where deadline.isOpen && deadline.due > soon && deadline.due <= soon.addingTimeInterval(7 * 86_400) {
                if deadline.rule.rawValue == "ur.info-request" { windowsSoon += 1 } else { dueSoon += 1 }
            }
        }
        #expect(dueSoon > 0 && windowsSoon > 0, "the week holds deadlines and windows to ask for information")
        #expect(try CaseStatistics.read(from: store, now: soon).dueWithin7Days == dueSoon)

        // Settled deadlines other than misses have no row.
        let settledRows = try store.read {
            try $0.query("SELECT COUNT(*) FROM deadlines WHERE is_open = 0 AND status != 'missed'").first?[0].int64
        }
        #expect(settledRows == 0)

        func tables() throws -> [[String]] {
            try store.read { db in
                try db.query("SELECT case_id, outcomes FROM deadline_settled ORDER BY case_id").map {
                    ["\($0[0])", "\($0[1])"]
                }
                    + db.query(
                        "SELECT rule, status, count FROM deadline_outcome_counts WHERE count != 0 ORDER BY 1, 2"
                    )
                    .map { ["\($0[0])", "\($0[1])", "\($0[2])"] }
            }
        }
        let kept = try tables()
        try store.rebuildProjection(named: "deadlines")
        #expect(try tables() == kept)
        #expect(same(try timeliness()))

        // The IMR figures are counted as items change: they are what the items give, read one by one.
        let items = try store.read { db in
            try db.query("SELECT imr_applied_on, imr_assigned_on, imr_decided_on, imr_decision FROM case_items")
                .map { row in (0..<4).map { row[$0].string.flatMap(LocalDate.init(iso:)) ?? nil } }
        }
        let decisions = try store.read { db in
            try db.query("SELECT imr_decision FROM case_items WHERE imr_decision IS NOT NULL").compactMap {
                $0[0].string
            }
        }
        func median(_ values: [Int]) -> Double? {
            let sorted = values.sorted()
            guard !sorted.isEmpty else { return nil }
            return Double(sorted[(sorted.count - 1) / 2] + sorted[sorted.count / 2]) / 2
        }
        let toAssignment = items.compactMap { i in i[0].flatMap { a in i[1].map { a.days(until: $0) } } }
        let toDetermination = items.compactMap { i in i[1].flatMap { a in i[2].map { a.days(until: $0) } } }
        for pass in ["as appended", "rebuilt"] {
            let stats = try CaseStatistics.read(from: store, now: now)
            #expect(stats.upheld == decisions.filter { $0 == "upheld" }.count, "\(pass)")
            #expect(stats.overturned == decisions.filter { $0 == "overturned" }.count, "\(pass)")
            #expect(stats.medianDaysApplicationToAssignment == median(toAssignment), "\(pass)")
            #expect(stats.medianDaysAssignmentToDetermination == median(toDetermination), "\(pass)")
            try store.rebuildProjection(named: "case_items")
        }
        #expect(
            decisions.count > 5 && toAssignment.count > 5 && toDetermination.count > 5,
            "the caseload decides items"
        )
        #expect(Set(toAssignment).count > 1, "medians of several values")
    }

    /// A median from counted values is the median of the values listed one by one.
    @Test func aMedianFromCountsIsTheMedianOfTheValues() {
        #expect(CaseStatistics.median([]) == nil)
        #expect(CaseStatistics.median([(days: 4, count: 0)]) == nil)
        #expect(CaseStatistics.median([(days: 7, count: 1)]) == 7)
        #expect(CaseStatistics.median([(days: 9, count: 1), (days: 3, count: 1)]) == 6)  // 3 9
        #expect(CaseStatistics.median([(days: 5, count: 2), (days: 1, count: 1)]) == 5)  // 1 5 5
        #expect(CaseStatistics.median([(days: 2, count: 2), (days: 10, count: 2)]) == 6)  // 2 2 10 10
        #expect(CaseStatistics.median([(days: 2, count: 3), (days: 10, count: 1), (days: -1, count: 1)]) == 2)
    }

    /// The figures read the counts and, for running deadlines past due, the board's index: no
    /// scan of the deadlines.
    @Test func aCasesOutcomesCountAsTheirLines() {
        func runs(_ text: String) -> [String] { DeadlineProjection.lineRuns(text).map { "\($0.line)=\($0.by)" } }
        #expect(runs("").isEmpty)
        #expect(runs("a met\na met\nb missed") == ["a met=2", "b missed=1"])
        #expect(runs("\na met\n\na met\n") == ["a met=2"], "empty lines are not outcomes")
        #expect(runs("a met\nb met\na met") == ["a met=1", "b met=1", "a met=1"])
        #expect(runs("é met\né met") == ["é met=2"])
    }

    @Test func theFiguresReadOnIndexes() throws {
        try withReadModelStore { store in
            let plan = try store.read {
                try $0.query("EXPLAIN QUERY PLAN " + CaseStatistics.overdueByRuleQuery, [.integer(0)])
            }.map { $0[3].string ?? "" }.joined(separator: " | ")
            #expect(plan.contains("USING COVERING INDEX deadlines_open_due"), "\(plan)")
            #expect(!plan.contains("SCAN deadlines "), "\(plan)")
        }
    }
}
