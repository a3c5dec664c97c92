import Foundation
import Testing
import PropertyBased
@testable import Workflow

@Suite struct EnginePropertyTests {
    @Test func randomCaseHistories_deriveWithoutCrashing_dueNeverBeforeTrigger_idsUnique() async {
        await propertyCheck(count: 120, input: Gen.int(in: 0...1_000_000).array(of: 1...60)) { choices in
            var run = RandomCaseRun()
            for c in choices { run.step(c) }
            let state = run.h.state
            let now = run.h.now
            let deadlines = DeadlineEngine.deadlines(for: state, now: now)
            #expect(Set(deadlines.map(\.id)).count == deadlines.count)
            for deadline in deadlines {
                // The one documented exception: a treatment recommendation more than 14 days before
                // the RFA makes the UR decision due before receipt (DEADLINES.md: "the earlier wins").
                let capPassedBeforeReceipt = deadline.rule == .urDecisionProspective
                    && deadline.assumptions.contains { $0.hasPrefix("LC 4610(i)(1) read literally") }
                if !capPassedBeforeReceipt {
                    #expect(deadline.dueDate >= deadline.trigger.date, "\(deadline.id) due \(deadline.dueDate) before \(deadline.trigger.date)")
                    #expect(deadline.due >= Pacific.startOfDay(deadline.trigger.date))
                    #expect(deadline.due >= deadline.clockStart)
                }
                #expect(deadline.clockStart >= Pacific.startOfDay(deadline.trigger.date))
                if let replacement = deadline.supersededBy {
                    #expect(deadline.status == .superseded)
                    #expect(deadlines.contains { $0.id == replacement && $0.status != .superseded }, "\(deadline.id)")
                }
                #expect(!deadline.explanation.isEmpty)
                #expect(deadline.id.hasPrefix("prop/\(deadline.rule.rawValue)/"))
                switch deadline.status {
                case .met, .metLate: #expect(deadline.satisfiedBy != nil, "\(deadline.id)")
                case .pending: #expect(deadline.due > now, "\(deadline.id)")
                case .missed: #expect(deadline.due <= now && deadline.satisfiedBy == nil, "\(deadline.id)")
                case .superseded: #expect(deadline.id.hasSuffix("/superseded"))
                case .notApplicable: #expect(deadline.statusNote != nil, "\(deadline.id)")
                }
            }
            // Deriving is a function of the events: a rebuild gives the same deadlines.
            #expect(DeadlineEngine.deadlines(for: CaseState.rebuild(from: run.h.log), now: now) == deadlines)
        }
    }

    @Test func randomCaseHistories_reachTheIMRClocksAndEveryStatus() async {
        // Guards the property above against a generator that never gets past UR.
        var seen = Set<RuleID>()
        var statuses = Set<DeadlineStatus>()
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var run = RandomCaseRun()
            for _ in 0..<80 { run.step(Int.random(in: 0...1_000_000, using: &generator)) }
            let deadlines = DeadlineEngine.deadlines(for: run.h.state, now: run.h.now)
            seen.formUnion(deadlines.map(\.rule))
            statuses.formUnion(deadlines.map(\.status))
        }
        let expected: Set<RuleID> = [.urDecisionProspective, .urNoticePhysician, .imrApplication, .imrRecords, .imrDetermination, .wcabAppeal]
        #expect(expected.isSubset(of: seen), "missing \(expected.subtracting(seen))")
        #expect(statuses == Set(DeadlineStatus.allCases), "missing \(Set(DeadlineStatus.allCases).subtracting(statuses))")
    }
}
