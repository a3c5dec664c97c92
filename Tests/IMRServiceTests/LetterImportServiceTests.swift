import EventStore
import Foundation
import Testing
@testable import IMRService
@testable import Workflow

private func day(_ iso: String) -> LocalDate { LocalDate(iso: iso)! }

/// A letter for the case below: item "8 massage therapy visits" overturned under CM24-0012345.
private let letter = LetterFacts(
    caseNumber: "CM24-0012345",
    dateAssigned: day("2024-03-29"),
    dateOfInjury: day("2023-11-02"),
    decisionDate: day("2024-04-30"),
    urDenialDate: day("2024-03-05"),
    applicationReceived: day("2024-03-20"),
    priority: .standard,
    reviewerSpecialty: "Physical Medicine and Rehabilitation",
    items: [LetterItem(disputed: "8 massage therapy visits", decision: .overturned, guideline: "MTUS")]
)

@Suite struct LetterImportServiceTests {
    private func service() throws -> (CaseService, EventStore, URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-letters-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let store = try EventStore(
            path: dir.appendingPathComponent("imr.sqlite").path,
            options: .init(synchronous: .normal),
            projections: [CaseListProjection()]
        )
        return (CaseService(store: store), store, dir)
    }

    private let actor = Actor(uid: 1000, name: "alice")
    private let now = Pacific.instant(day("2024-06-01"), hour: 9)

    /// The letter's application is accepted but the assignment is refused (the case never
    /// found the item eligible): the import is one append, so nothing of it is written.
    @Test func aRefusalPartWayThroughTheLetterWritesNothing() throws {
        let (service, store, dir) = try service()
        defer {
            store.close()
            try? FileManager.default.removeItem(at: dir)
        }
        let commands: [CaseCommand] = [
            .openCase(
                CaseOpened(
                    caseId: "c1",
                    claimNumber: "ADJ-1",
                    employer: "Acme",
                    claimsAdministrator: "TPA",
                    injuredWorkerReference: "J.S.",
                    dateOfInjury: day("2023-11-02"),
                    coordinator: "maria"
                )
            ),
            .receiveRFA(
                RFAReceived(
                    rfaId: "A",
                    receivedAt: Pacific.instant(day("2024-02-26"), hour: 10),
                    transmission: .fax,
                    physician: "Dr. Lee",
                    reviewType: .prospective,
                    items: [RequestedItem(id: "1", description: "8 massage therapy visits")]
                )
            ),
            .issueURDecision(
                URDecisionIssued(
                    rfaId: "A",
                    decidedAt: Pacific.instant(day("2024-03-05"), hour: 14),
                    decisions: [URItemDecision(itemId: "1", outcome: .denied)]
                )
            ),
            .serveWrittenDecision(
                WrittenURDecisionServed(
                    itemIds: ["1"],
                    servedOn: day("2024-03-06"),
                    method: .mail,
                    destination: .california
                )
            ),
        ]
        for command in commands { try service.execute(command, on: "c1", actor: actor, commandId: UUID(), now: now) }
        let head = try store.headPosition()
        #expect(throws: LetterImportServiceError.self) {
            try service.importLetter(
                letter,
                caseId: "c1",
                force: false,
                source: "letter.txt",
                actor: actor,
                commandId: nil,
                now: now
            )
        }
        do {
            _ = try service.importLetter(
                letter,
                caseId: "c1",
                force: false,
                source: "letter.txt",
                actor: actor,
                commandId: nil,
                now: now
            )
        } catch {
            guard case .service(.refused(let violation)) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(violation.code == .notEligible)
        }
        #expect(try store.headPosition() == head)
        #expect(try service.state(of: "c1").item("1")?.imrApplicationReceivedOn == nil)

        // Once eligibility is on record the same letter goes in whole, found by its case number.
        try service.execute(
            .receiveIMRApplication(IMRApplicationReceived(itemIds: ["1"], receivedOn: day("2024-03-20"))),
            on: "c1",
            actor: actor,
            commandId: UUID(),
            now: now
        )
        try service.execute(
            .findEligible(IMREligibilityFound(itemIds: ["1"], foundOn: day("2024-03-28"))),
            on: "c1",
            actor: actor,
            commandId: UUID(),
            now: now
        )
        let outcome = try service.importLetter(
            letter,
            caseId: "c1",
            force: false,
            source: "letter.txt",
            actor: actor,
            commandId: nil,
            now: now
        )
        #expect(outcome.eventTypes == ["IMRAssigned", "IMRDeterminationIssued"])
        #expect(!outcome.openedCase)
        let history = try service.history(of: "c1")
        #expect(history.suffix(2).allSatisfy { $0.metadata.extras[importedFromMetadataKey] == "letter.txt" })
        #expect(history.prefix(6).allSatisfy { $0.metadata.extras[importedFromMetadataKey] == nil })
        // Now the case carries CM24-0012345, so the letter finds it without --case.
        let again = try service.importLetter(
            letter,
            caseId: nil,
            force: false,
            source: "letter.txt",
            actor: actor,
            commandId: nil,
            now: now
        )
        #expect(again.caseId == "c1")
        #expect(again.alreadyRecorded)
        #expect(try store.headPosition() == head + 4)
    }

    @Test func twoCasesCarryingTheNumber_areAmbiguous() throws {
        let (service, store, dir) = try service()
        defer {
            store.close()
            try? FileManager.default.removeItem(at: dir)
        }
        for id in ["a", "b"] {
            _ = try service.importLetter(
                letter,
                caseId: CaseID(id),
                force: false,
                source: "letter.txt",
                actor: actor,
                commandId: nil,
                now: now
            )
        }
        do {
            _ = try service.importLetter(
                letter,
                caseId: nil,
                force: false,
                source: "letter.txt",
                actor: actor,
                commandId: nil,
                now: now
            )
            Issue.record("two cases carry the number")
        } catch {
            guard case .ambiguous(let number, let cases) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(number.rawValue == "CM24-0012345")
            #expect(cases == ["a", "b"])
        }
    }

    /// Issue 11: an explicit command id names one import; another letter, or another case,
    /// under it is refused; the same letter again stays idempotent.
    @Test func anImportsCommandIdReusedForAnotherLetterOrCaseIsRefused() throws {
        let (service, store, dir) = try service()
        defer {
            store.close()
            try? FileManager.default.removeItem(at: dir)
        }
        let u = UUID()
        let first = try service.importLetter(
            letter,
            caseId: "a",
            force: false,
            source: "letter.txt",
            actor: actor,
            commandId: u,
            now: now
        )
        #expect(first.openedCase)
        let head = try store.headPosition()
        #expect(
            try service.importLetter(
                letter,
                caseId: "a",
                force: false,
                source: "letter.txt",
                actor: actor,
                commandId: u,
                now: now
            ).alreadyRecorded
        )
        var other = letter
        other.caseNumber = "CM24-0099999"
        func reuse(_ body: () throws -> Any) -> CommandIdReuse? {
            guard case .failure(let error) = Result(catching: body),
                case .service(.commandIdReused(let r))? = error as? LetterImportServiceError
            else { return nil }
            return r
        }
        let another = reuse {
            try service.importLetter(
                other,
                caseId: "a",
                force: false,
                source: "other.txt",
                actor: actor,
                commandId: u,
                now: now
            )
        }
        #expect(another?.caseId == "a")
        #expect(another?.positions == first.positions)
        let elsewhere = reuse {
            try service.importLetter(
                letter,
                caseId: "b",
                force: false,
                source: "letter.txt",
                actor: actor,
                commandId: u,
                now: now
            )
        }
        #expect(elsewhere?.caseId == "a")
        #expect(try store.headPosition() == head)
    }
}
