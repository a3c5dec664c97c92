import Foundation
import Testing
import Workflow

/// The code of `Workflow.docc/GettingStarted.md`, compiled and run, with what the article says
/// of its results checked (a changed API or result breaks this test, not only the article).
@Suite struct GettingStartedTests {
    @Test func theArticleRunsAsWritten() throws {
        let now = Pacific.instant(LocalDate(year: 2024, month: 3, day: 8)!, hour: 9)
        var state = CaseState()
        var version = 0

        func record(_ command: CaseCommand) throws {
            for event in try decide(command, state: state, now: now) {
                version += 1
                state = evolve(
                    state,
                    RecordedCaseEvent(event: event, version: version, eventId: UUID(), recordedAt: now)
                )
            }
        }

        try record(
            .openCase(
                CaseOpened(
                    caseId: "C-1",
                    claimNumber: "ADJ1234567",
                    employer: "Acme Foods",
                    claimsAdministrator: "Golden TPA",
                    injuredWorkerReference: "J.D.",
                    dateOfInjury: LocalDate(iso: "2024-01-15")!,
                    coordinator: "maria"
                )
            )
        )
        try record(
            .receiveRFA(
                RFAReceived(
                    rfaId: "R1",
                    receivedAt: Pacific.instant(LocalDate(iso: "2024-03-05")!, hour: 18, minute: 10),
                    transmission: .fax,
                    physician: "Dr. B",
                    reviewType: .prospective,
                    items: [RequestedItem(id: "1", description: "Lumbar MRI")]
                )
            )
        )

        var refusal: CaseRuleViolation?
        do {
            try record(
                .issueURDecision(
                    URDecisionIssued(
                        rfaId: "R1",
                        decidedAt: now,
                        decisions: [URItemDecision(itemId: "9", outcome: .approved)]
                    )
                )
            )
        } catch let error as CaseRuleViolation {
            refusal = error
        }
        #expect(refusal?.code == .unknownItem, "\(String(describing: refusal))")
        #expect(version == 2)

        let deadlines = DeadlineEngine.deadlines(for: state, now: now)
        let decision = try #require(deadlines.first { $0.rule == .urDecisionProspective })
        #expect(decision.dueDate == LocalDate(iso: "2024-03-13"))
        #expect(
            decision.explanation.contains {
                $0.contains("after 5:30 p.m. Pacific: deemed received the next business day")
            }
        )

        let appeal = try DeadlineCalculator().deadline(.wcabAppeal, from: LocalDate(iso: "2024-03-08")!)
        #expect(!appeal.explanation.isEmpty && !appeal.assumptions.isEmpty)
    }
}
