import EventStore
import Foundation
import IMRWire
import IMRCommandLine
import TestSupport
import Testing
@testable import IMRService
import Varlink
import Workflow

/// `imr-bench seed` writes whole cases at once; the store it leaves must be one the daemon could
/// have written: an intact chain, read models equal to a rebuild, every case at its stage.
@Suite struct CaseSeederTests {
    @Test func aSeededStoreIsIntact_andItsReadModelsEqualARebuild() async throws {
        try await offThePool { try withReadModelStore { store in try Self.seedAndCompare(store) } }
    }

    /// `imr-bench seed --interleave`: each batch's cases appended event by event in turns, as a
    /// log recorded over time holds them; the read models the appends gave equal a rebuild's,
    /// which reads each case's events from all over the batch.
    @Test func anInterleavedSeedIsIntact_andItsReadModelsEqualARebuild() async throws {
        try await offThePool {
            try withReadModelStore { store in
                try Self.seedAndCompare(store, interleaved: true)
                // The first batch's 25 cases take the log's first 25 positions, a first event each.
                let first = try store.read { db in
                    try db.query("SELECT stream_id, stream_version FROM events WHERE position <= 26 ORDER BY position")
                }
                #expect(Set(first.prefix(25).map { $0[0].string ?? "" }).count == 25)
                #expect(first.prefix(25).allSatisfy { $0[1].int64 == 1 })
                #expect(first.last?[1].int64 == 2, "the 26th event is the first case's second")
            }
        }
    }

    static func seedAndCompare(_ store: EventStore, interleaved: Bool = false) throws {
        let now = Pacific.instant(LocalDate(iso: "2026-11-30")!, hour: 9)
        var caseload = SyntheticCaseload(now: now, count: 90, seed: 11, coordinators: ["maria", "li", "jorge"])
        let seeder = CaseSeeder(store: store, actor: Actor(uid: 0, name: "seed"))
        var total = CaseSeeder.Outcome()
        for first in stride(from: 0, to: 90, by: 25) {
            let batch = (first..<min(first + 25, 90)).map { n -> (caseId: CaseID, commands: [CaseCommand]) in
                let calls = caseload.calls(ofCase: n)
                return (
                    CaseID(calls[0].parameters["caseId"]!.stringValue!),
                    calls.compactMap {
                        try? RecordingCall.command(
                            for: VarlinkCall(method: "io.imr.Cases." + $0.method, parameters: $0.parameters)
                        )
                    }
                )
            }
            let outcome = try seeder.seed(batch, now: now, interleaved: interleaved)
            total.cases += outcome.cases
            total.events += outcome.events
            total.refused += outcome.refused
        }
        #expect(total.cases == 90 && total.refused == 0, "\(total)")
        #expect(try store.headPosition() == Int64(total.events))
        #expect(try store.verify().isIntact)
        let cases = try CaseListProjection.cases(in: store, matching: .init())
        #expect(cases.count == 90)
        #expect(Set(cases.map(\.stage)).count >= 6, "the demo's mix of stages")
        // Each case's state is what a fold of its stream gives.
        let service = CaseService(store: store)
        for summary in cases.prefix(15) {
            let state = try service.state(of: CaseID(summary.caseId))
            #expect(state.stage.rawValue == summary.stage && state.items.count == summary.items)
        }
        func snapshot() throws -> [[String]] {
            try store.read { db in
                try db.query(
                    "SELECT deadline_id, rule, coordinator, due_us, is_open, status, body FROM deadlines ORDER BY deadline_id"
                ).map { r in (0..<7).map { "\(r[$0])" } }
                    + db.query("SELECT * FROM case_list ORDER BY case_id").map { r in (0..<16).map { "\(r[$0])" } }
                    + db.query("SELECT * FROM case_items ORDER BY case_id, item_id").map { r in
                        (0..<7).map { "\(r[$0])" }
                    }
                    + db.query("SELECT * FROM case_counts ORDER BY stage, is_open").map { r in
                        (0..<3).map { "\(r[$0])" }
                    }
                    + db.query("SELECT case_id, outcomes FROM deadline_settled ORDER BY case_id").map { r in
                        (0..<2).map { "\(r[$0])" }
                    }
                    + db.query("SELECT * FROM case_item_figures WHERE count != 0 ORDER BY figure, value").map {
                        r in (0..<3).map { "\(r[$0])" }
                    }
                    + db.query("SELECT * FROM deadline_outcome_counts WHERE count != 0 ORDER BY rule, status").map {
                        r in (0..<3).map { "\(r[$0])" }
                    }
            }
        }
        let seeded = try snapshot()
        for name in ["case_items", "deadlines", "case_list"] { try store.rebuildProjection(named: name) }
        let rebuilt = try snapshot()
        #expect(rebuilt.count == seeded.count)
        let differing = zip(seeded, rebuilt).filter { $0 != $1 }
        #expect(differing.isEmpty, "\(differing.count) rows differ, e.g. \(differing.prefix(2))")
    }
}
