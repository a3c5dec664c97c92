import Foundation
import TestSupport
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
                let capPassedBeforeReceipt =
                    deadline.rule == .urDecisionProspective
                    && deadline.assumptions.contains { $0.hasPrefix("LC 4610(i)(1) read literally") }
                if !capPassedBeforeReceipt {
                    #expect(
                        deadline.dueDate >= deadline.trigger.date,
                        "\(deadline.id) due \(deadline.dueDate) before \(deadline.trigger.date)"
                    )
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

    /// Why a running deadline of `state` should not be running any more: a later fact already
    /// did what it asks for, or made it moot. Nil when it may run.
    static func mootReason(_ d: CaseDeadline, in state: CaseState) -> String? {
        if !state.isOpen { return "the case ended" }
        let items = d.itemIds.compactMap(state.item)
        func all(_ what: String, _ test: (ItemState) -> Bool) -> String? { items.allSatisfy(test) ? what : nil }
        func inRound(_ item: ItemState) -> Bool { item.imrRound == d.round }
        func ever(_ item: ItemState, _ event: String) -> Bool { item.history.contains { $0.event == event } }
        switch d.rule {
        case .urDecisionProspective, .urDecisionExpedited, .urDecisionRetrospective, .urDecisionFormulary,
            .urInfoRequest:
            return all("UR decided every item", { $0.urOutcome != nil })
        case .urDeferral: return all("UR decided every item", { $0.urOutcome != nil })
        case .urNoticePhysician: return all("the physician was told", { $0.physicianNotifiedAt != nil })
        case .urNoticeWritten: return all("the decision was served", { $0.writtenDecisionServedOn != nil })
        case .imrApplication: return all("the application was received", { $0.imrApplicationReceivedOn != nil })
        case .imrEligibilityResponse:
            return all("the information was sent", { $0.eligibilityInformationSentOn != nil })
                ?? all("the AD decided eligibility", { $0.imrEligibleOn != nil || $0.imrIneligibleOn != nil })
        case .imroAssignmentNotice: return all("the IMRO was assigned", { $0.imrAssignedOn != nil })
        case .imrRecords:
            return all("the records arrived", { ever($0, IMRRecordsReceived.typeName) })
                ?? all("the IMRO decided, so it had the records", { ever($0, IMRDeterminationIssued.typeName) })
        case .imrDetermination: return all("the IMRO decided", { inRound($0) && $0.determinationDecidedOn != nil })
        case .imrImplementation: return all("the decision was implemented", { inRound($0) && $0.implementedOn != nil })
        case .wcabAppeal: return all("an appeal was filed", { inRound($0) && $0.appealFiledOn != nil })
        case .rfaDeemedReceipt: return "not a deadline of its own"
        }
    }

    @Test func randomCaseHistories_noDeadlineRunsOnceALaterFactMakesItMoot() async {
        await propertyCheck(count: 80, input: Gen.int(in: 0...1_000_000).array(of: 1...60)) { choices in
            var run = RandomCaseRun()
            for c in choices {
                run.step(c)
                for deadline in DeadlineEngine.deadlines(for: run.h.state, now: run.h.now) where deadline.isOpen {
                    if let reason = Self.mootReason(deadline, in: run.h.state) {
                        Issue.record("\(deadline.id) is \(deadline.status.rawValue) although \(reason)")
                    }
                }
            }
        }
    }

    @Test func randomCaseHistories_reachTheIMRClocksAndEveryStatus() async {
        // Guards the property above against a generator that never gets past UR.
        var seen = Set<RuleID>()
        var statuses = Set<DeadlineStatus>()
        let seed = testSeed("randomCaseHistories_reachTheIMRClocksAndEveryStatus")
        var generator = SeededGenerator(seed: seed)
        for _ in 0..<200 {
            var run = RandomCaseRun()
            for _ in 0..<80 { run.step(Int.random(in: 0...1_000_000, using: &generator)) }
            let deadlines = DeadlineEngine.deadlines(for: run.h.state, now: run.h.now)
            seen.formUnion(deadlines.map(\.rule))
            statuses.formUnion(deadlines.map(\.status))
        }
        let expected: Set<RuleID> = [
            .urDecisionProspective, .urNoticePhysician, .imrApplication, .imrRecords, .imrDetermination, .wcabAppeal,
        ]
        #expect(expected.isSubset(of: seen), "seed \(seed): missing \(expected.subtracting(seen))")
        #expect(
            statuses == Set(DeadlineStatus.allCases),
            "missing \(Set(DeadlineStatus.allCases).subtracting(statuses))"
        )
    }
}
