import EventStore
import Foundation
import IMRWire
import Varlink
import Workflow

extension CasesInterface {

    /// `ImportDetermination`: one letter, one append (see ``CaseService/importLetter``).
    func importDetermination(_ call: VarlinkCall, context: VarlinkCallContext) async throws -> [String: JSONValue] {
        let p = try WireFormat.decode(ImportDeterminationRequest.self, from: call)
        let commandId = try Self.commandId(p.commandId)
        let actor = AccessPolicy.actor(of: context.peer)
        let outcome: LetterImportOutcome
        do {
            outcome = try await service.importLetter(
                p.letter,
                caseId: p.caseId.map(CaseID.init),
                force: p.force,
                source: p.source,
                actor: actor,
                commandId: commandId,
                now: clock()
            )
        } catch {
            switch error {
            case .letter(let caseId, let refusal) where refusal.kind == .contradicts:
                logger.notice(
                    "letter refused on case \(caseId?.rawValue ?? "?"): \(refusal.message)",
                    metadata: [
                        "case.id": .string(caseId?.rawValue ?? ""), "refusal.code": .string(refusal.kind.rawValue),
                        "message.id": .string(LogMessageID.transitionRefused),
                    ]
                )
                throw VarlinkError(
                    "io.imr.Cases.LetterContradicts",
                    parameters: [
                        "caseId": .string(caseId?.rawValue ?? ""),
                        "differences": .array(try refusal.differences.map { .object(try WireFormat.object($0)) }),
                        "message": .string(refusal.message),
                    ]
                )
            case .letter(let caseId, let refusal):
                throw VarlinkError(
                    "io.imr.Cases.LetterNotImportable",
                    parameters: [
                        "caseId": caseId.map { .string($0.rawValue) } ?? .null, "code": .string(refusal.kind.rawValue),
                        "message": .string(refusal.message),
                    ]
                )
            case .ambiguous(let number, let cases):
                throw VarlinkError(
                    "io.imr.Cases.LetterNotImportable",
                    parameters: [
                        "caseId": .null, "code": "letter-case-ambiguous",
                        "message": .string(
                            "Cases \(cases.map(\.rawValue).joined(separator: ", ")) all carry \(number); name the case the letter belongs to with --case"
                        ),
                    ]
                )
            case .service(let failure):
                return try serviceCall(p.caseId ?? p.letter.caseNumber ?? "") {
                    () throws(CaseServiceError) -> [String: JSONValue] in
                    throw failure
                }
            }
        }
        if !outcome.alreadyRecorded {
            logger.info(
                "imported \(p.source): recorded \(outcome.eventTypes.joined(separator: ", ")) on case \(outcome.caseId.rawValue)",
                metadata: [
                    "case.id": .string(outcome.caseId.rawValue),
                    "event.position": .string("\(outcome.positions.last ?? 0)"),
                    "actor": .string(actor.label), "message.id": .string(LogMessageID.eventsRecorded),
                ]
            )
        }
        return try WireFormat.object(
            ImportDeterminationReply(
                imported: LetterImported(
                    caseId: outcome.caseId.rawValue,
                    openedCase: outcome.openedCase,
                    alreadyRecorded: outcome.alreadyRecorded,
                    version: outcome.version,
                    positions: outcome.positions,
                    events: outcome.eventTypes,
                    items: outcome.matches,
                    determinedItems: outcome.determinedItems.map(\.rawValue),
                    corrected: outcome.corrected
                )
            )
        )
    }
}
