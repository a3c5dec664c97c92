import Foundation
import IMRCommandLine
@testable import IMRService
import IMRWire
import Testing
import Varlink
import Workflow

/// The daemon's memos are bounded by the memory they hold, not only by a count: at
/// 2,000,000 cases the deadline-body memo bounded by 50,000 entries held about 190 MB.
struct MemoBoundTests {
    /// The running deadlines of a synthetic caseload's cases.
    static func deadlines(cases: Int) -> [CaseDeadline] {
        let states = SyntheticStates.fold(cases: cases, seed: 3, coordinators: ["maria"])
        return states.keys.sorted().flatMap { DeadlineEngine.deadlines(for: states[$0]!, now: SyntheticStates.now) }
    }

    @Test func theDeadlineBodyMemoHoldsNoMoreThanItsBudget() throws {
        let all = Self.deadlines(cases: 200)
        #expect(all.count > 300)
        let budget = 256 << 10
        let memo = DeadlineBodies(budget: budget)
        var counted = 0
        for deadline in all {
            let (body, plan) = memo.encoded(deadline, plan: { _ in .none })
            // What it gives is the deadline's own body, remembered or not.
            #expect(body == String(decoding: deadline.wireBytes, as: UTF8.self))
            #expect(plan == AlertPlan.none.text)
            counted += DeadlineBodies.cost(body: body, plan: plan)
            let figures = memo.figures
            #expect(figures.youngBytes <= budget / 2)
        }
        // Everything written counts far more than the budget: the memo dropped generations.
        #expect(counted > 4 * budget)
        let held = memo.figures.entries
        #expect(held > 0 && held < all.count / 2, "\(held) of \(all.count)")
        // The last deadlines are remembered: asked again, their bodies come without encoding.
        var planned = 0
        for deadline in all.suffix(10) {
            _ = memo.encoded(
                deadline,
                plan: { _ in
                    planned += 1
                    return .none
                }
            )
        }
        #expect(planned == 0)
        // A changed deadline under a remembered id is encoded again, never the stale body.
        var changed = try #require(all.last)
        changed.statusNote = "changed"
        let again = memo.encoded(changed, plan: { _ in .none })
        #expect(again.body.contains("changed"))
    }

    /// A deadline written again with a longer body replaces its entry within the budget, beside
    /// others that stay as they were.
    @Test func aDeadlineThatGrowsStaysWithinTheBudget() throws {
        let all = Self.deadlines(cases: 3)
        var growing = try #require(all.first)
        let others = all.dropFirst().prefix(4)
        let budget = 64 << 10
        let memo = DeadlineBodies(budget: budget)
        for n in 1...120 {
            for other in others { _ = memo.encoded(other, plan: { _ in .none }) }
            growing.statusNote = String(repeating: "x", count: n * 40)
            let (body, _) = memo.encoded(growing, plan: { _ in .none })
            #expect(body.contains(growing.statusNote!))
            #expect(memo.figures.youngBytes <= budget / 2, "after \(n)")
        }
    }

    @Test func aDeadlineLargerThanHalfTheBudgetIsEncodedButNotKept() throws {
        let one = try #require(Self.deadlines(cases: 3).first)
        let memo = DeadlineBodies(budget: 64)
        _ = memo.encoded(one, plan: { _ in .none })
        #expect(memo.figures.entries == 0)
    }
}
