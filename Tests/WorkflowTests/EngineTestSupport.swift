import Foundation
import Testing
@testable import Workflow

/// A case opened for a worked case; `now` is late enough for every fact the test records.
func engineCase(now: Date, injured: LocalDate, caseId: CaseID = "w") throws -> CaseHarness {
    var h = CaseHarness(now: now)
    try h.run(
        .openCase(
            CaseOpened(
                caseId: caseId,
                claimNumber: "ADJ-1",
                employer: "Employer",
                claimsAdministrator: "TPA",
                injuredWorkerReference: "R.V.",
                dateOfInjury: injured,
                coordinator: "maria"
            )
        )
    )
    return h
}

/// A faxed prospective RFA with the given items.
func faxedRFA(
    _ id: RFAID,
    at receivedAt: Date,
    timeKnown: Bool = true,
    items: [ItemID],
    expedited: Bool = false
) -> RFAReceived {
    RFAReceived(
        rfaId: id,
        receivedAt: receivedAt,
        receivedTimeOfDayKnown: timeKnown,
        transmission: .fax,
        physician: "Dr. A",
        reviewType: .prospective,
        expedited: expedited,
        items: items.map { RequestedItem(id: $0, description: "treatment \($0)") }
    )
}

func urDecision(_ rfa: RFAID, at: Date, _ outcomes: [(ItemID, URItemOutcome)]) -> URDecisionIssued {
    URDecisionIssued(
        rfaId: rfa,
        decidedAt: at,
        decisions: outcomes.map {
            URItemDecision(itemId: $0.0, outcome: $0.1, authorizedPortion: $0.1 == .modified ? "half" : nil)
        }
    )
}

extension Array where Element == CaseDeadline {
    /// The live (not superseded) deadline of `rule`, optionally for one item.
    func live(_ rule: RuleID, item: ItemID? = nil) -> CaseDeadline? {
        first { $0.rule == rule && $0.status != .superseded && (item == nil || $0.itemIds.contains(item!)) }
    }

    func superseded(_ rule: RuleID) -> CaseDeadline? {
        first { $0.rule == rule && $0.status == .superseded }
    }
}
