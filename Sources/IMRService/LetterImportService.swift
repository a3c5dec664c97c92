import Crypto
import EventStore
import Foundation
import IMRWire
import Workflow

/// What importing one letter did.
package struct LetterImportOutcome: Sendable, Equatable {
    package let caseId: CaseID
    /// True when the import opened the case.
    package let openedCase: Bool
    /// True when the case already held every fact of the letter: nothing was written.
    package let alreadyRecorded: Bool
    /// The case's stream version after the import.
    package let version: Int64
    /// Global positions and type names of the events written (empty when nothing was).
    package let positions: [Int64]
    package let eventTypes: [String]
    /// Letter items and the case items they were matched to.
    package let matches: [LetterItemMatch]
    /// The items whose determination this import recorded.
    package let determinedItems: [ItemID]
    /// The differences `force` corrected.
    package let corrected: [LetterDifference]
}

/// Why a letter import failed, beyond the case service's own failures.
package enum LetterImportServiceError: Error, Sendable {
    /// The letter contradicts the case (or cannot be matched, or lacks facts).
    case letter(CaseID?, LetterImportError)
    /// Several cases carry the letter's IMR case number.
    case ambiguous(IMRCaseNumber, [CaseID])
    case service(CaseServiceError)
}

/// The key of the event metadata's `extras` that marks an event as imported, with the
/// letter it came from as its value. EventStore keeps it without knowing what it means.
package let importedFromMetadataKey = "importedFrom"

/// The key of the event metadata's `extras` that marks an event imported from a letter read
/// through OCR: a JSON object (``LetterImport/ocrMetadata(_:matches:)``): `ocr` (true),
/// `engine`, `confidence`, `pages` and `facts` (each fact taken from the OCR text, with the
/// case item it concerns and the engine's confidence). Absent for a letter read from its text.
package let importedFromOCRMetadataKey = "importedFromOCR"

extension CaseService {
    /// Imports one Final Determination letter as one append: every event it proves, or none.
    ///
    /// The case is `caseId` when given (opened when it does not exist), else the one case
    /// whose items carry the letter's IMR case number, else a new case named by that number.
    /// The mapping is ``LetterImport/plan(_:caseId:state:source:coordinator:force:)``; its
    /// commands are decided one after another and appended together at the version read, so a
    /// refusal writes nothing. Every event carries `importedFrom` (the source) in its metadata
    /// extras and the import's command id as correlation id.
    ///
    /// Idempotent twice over: a `commandId` already recorded on the case returns the first
    /// outcome, and a letter whose facts the case already holds records nothing. Without a
    /// `commandId` one is derived from the letter's content and the case, so a repeated import
    /// of the same letter is recognised by the log too.
    package func importLetter(
        _ letter: LetterFacts,
        caseId requested: CaseID?,
        force: Bool,
        source: String,
        actor: Actor,
        commandId: UUID?,
        now: Date
    ) throws(LetterImportServiceError) -> LetterImportOutcome {
        try checkRequested(requested)
        let caseId = try resolveCase(for: letter, requested: requested)
        let request = LetterRequest(
            letter: letter,
            caseId: caseId,
            force: force,
            source: source,
            actor: actor,
            commandId: commandId,
            now: now
        )
        do {
            return try store.write { context in try self.recordImport(request, in: context) }
        } catch {
            throw Self.importError(error)
        }
    }

    /// The same from an async caller: the case is found on a reader thread and the letter
    /// recorded by the writer thread, with the other writes waiting (group commit).
    package func importLetter(
        _ letter: LetterFacts,
        caseId requested: CaseID?,
        force: Bool,
        source: String,
        actor: Actor,
        commandId: UUID?,
        now: Date
    ) async throws(LetterImportServiceError) -> LetterImportOutcome {
        try checkRequested(requested)
        let caseId: CaseID
        do {
            caseId = try await store.offload(doing: "find the case of a letter") { () throws -> CaseID in
                do throws(LetterImportServiceError) {
                    return try self.resolveCase(for: letter, requested: requested)
                } catch { throw error }
            }
        } catch {
            throw Self.importError(error)
        }
        let request = LetterRequest(
            letter: letter,
            caseId: caseId,
            force: force,
            source: source,
            actor: actor,
            commandId: commandId,
            now: now
        )
        do {
            return try await store.write { context in try self.recordImport(request, in: context) }
        } catch {
            throw Self.importError(error)
        }
    }

    private func checkRequested(_ requested: CaseID?) throws(LetterImportServiceError) {
        if let requested {
            do { _ = try CommandValues.caseId(requested.rawValue) } catch { throw .service(.invalidValue(error)) }
        }
    }

    static func importError(_ error: any Error) -> LetterImportServiceError {
        if let error = error as? LetterImportServiceError { return error }
        return .service(serviceError(error))
    }

    struct LetterRequest: Sendable {
        let letter: LetterFacts
        let caseId: CaseID
        let force: Bool
        let source: String
        let actor: Actor
        let commandId: UUID?
        let now: Date
    }

    /// Records one letter inside the writer's transaction.
    func recordImport(
        _ r: LetterRequest,
        in context: WriteContext
    ) throws(LetterImportServiceError) -> LetterImportOutcome {
        let caseId = r.caseId
        let streamId = CaseStreams.streamId(caseId)
        let letterId = Self.letterCommandId(r.letter, caseId: caseId, force: r.force)
        let importId = r.commandId ?? letterId
        // What this import is, for a command id sent again: the letter, the case and force.
        let digest = "letter-" + letterId.lowercasedText
        let tag = importId.lowercasedText
        // The log already holds this import: nothing is written again; another command
        // under this id is refused.
        let earlier: RecordedEvent?
        do { earlier = try context.event(id: CaseService.eventId(commandId: importId, index: 0)) } catch {
            throw .service(.storage(error))
        }
        if let earlier {
            guard earlier.streamId == streamId else {
                let reuse: CaseServiceError?
                do {
                    reuse = try self.reuse(of: .init(id: importId, digest: digest), first: earlier, in: context)
                } catch { throw .service(error) }
                throw .service(reuse ?? .caseNotFound(caseId))
            }
            let stored: [RecordedEvent]
            do { stored = try context.read(stream: streamId, from: earlier.streamVersion) } catch {
                throw .service(.storage(error))
            }
            if let recorded = stored.first?.metadata.extras[CaseService.commandDigestKey], recorded != digest {
                let mine = stored.prefix { $0.metadata.commandId == tag }
                throw .service(
                    .commandIdReused(
                        CommandIdReuse(
                            commandId: importId,
                            caseId: caseId.rawValue,
                            eventTypes: mine.map(\.type),
                            positions: mine.map(\.position)
                        )
                    )
                )
            }
            let version: Int64
            do { version = try context.lastEvent(of: streamId)?.version ?? 0 } catch { throw .service(.storage(error)) }
            return LetterImportOutcome(
                caseId: caseId,
                openedCase: false,
                alreadyRecorded: true,
                version: version,
                positions: [],
                eventTypes: [],
                matches: [],
                determinedItems: [],
                corrected: []
            )
        }
        let state: CaseState
        let version: Int64
        do { (state, version) = try currentState(of: caseId, in: context) } catch { throw .service(error) }
        let plan: LetterImportPlan
        do {
            plan = try LetterImport.plan(
                r.letter,
                caseId: caseId,
                state: state,
                source: r.source,
                coordinator: r.actor.name,
                force: r.force
            )
        } catch {
            throw .letter(caseId, error)
        }
        if plan.isAlreadyRecorded {
            return LetterImportOutcome(
                caseId: caseId,
                openedCase: false,
                alreadyRecorded: true,
                version: version,
                positions: [],
                eventTypes: [],
                matches: plan.matches,
                determinedItems: [],
                corrected: []
            )
        }
        // A value the letter carries outside its character set is named by field, as for any command.
        for command in plan.commands {
            do { try CommandValues.validate(command) } catch { throw .service(.invalidValue(error)) }
        }
        let events: [CaseEvent]
        do {
            events = try LetterImport.events(for: plan.commands, state: state, now: r.now) {
                CaseService.eventId(commandId: importId, index: $0)
            }
        } catch {
            throw .service(.refused(error))
        }
        var extras = [importedFromMetadataKey: r.source, CaseService.commandDigestKey: digest]
        if let ocr = r.letter.ocr { extras[importedFromOCRMetadataKey] = Self.ocrMetadata(ocr, matches: plan.matches) }
        let metadata = EventMetadata(
            actor: r.actor.label,
            correlationId: tag,
            causationId: tag,
            commandId: tag,
            extras: extras
        )
        let result: AppendResult
        do {
            // One stream, one append: the whole letter or nothing.
            result = try append(
                events,
                to: caseId,
                base: state,
                version: version,
                commandId: CaseService.CommandIdentity(id: importId, digest: digest),
                metadata: metadata,
                recordedAt: r.now,
                in: context
            )
        } catch {
            throw .service(error)
        }
        return LetterImportOutcome(
            caseId: caseId,
            openedCase: plan.opensCase,
            alreadyRecorded: result.wasAlreadyStored,
            version: result.streamVersion,
            positions: result.events.map(\.position),
            eventTypes: result.events.map(\.type),
            matches: plan.matches,
            determinedItems: plan.determinedItems,
            corrected: plan.corrected
        )
    }

    /// The case a letter goes to: the one named, else the one carrying its IMR case number,
    /// else a new one named by that number.
    func resolveCase(for letter: LetterFacts, requested: CaseID?) throws(LetterImportServiceError) -> CaseID {
        if let requested { return requested }
        guard let text = letter.caseNumber, let number = IMRCaseNumber(text),
            let fallback = LetterImport.defaultCaseId(letter)
        else {
            throw .letter(
                nil,
                LetterImportError(
                    .lacksFacts,
                    "The letter carries no IMR case number, so no case can be found for it; name the case with --case"
                )
            )
        }
        let cases: [CaseSummary]
        do {
            cases = try CaseListProjection.cases(in: store, matching: CaseListFilter(imrCaseNumber: number.rawValue))
        } catch let error as EventStoreError {
            throw .service(.storage(error))
        } catch {
            throw .service(.unreadableEvent(fallback, "\(error)"))
        }
        switch cases.count {
        case 0: return fallback
        case 1: return CaseID(cases[0].caseId)
        default: throw .ambiguous(number, cases.map { CaseID($0.caseId) })
        }
    }

    /// A command id derived from the letter's facts and the case: the same letter imported
    /// into the same case again gets the same id (and so the same event ids).
    static func letterCommandId(_ letter: LetterFacts, caseId: CaseID, force: Bool) -> UUID {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var facts = letter
        facts.warnings = []
        let bytes = (try? encoder.encode(facts)) ?? Data()
        var hasher = SHA256()
        hasher.update(data: Array("imr-letter-import".utf8))
        hasher.update(data: Array(caseId.rawValue.utf8))
        hasher.update(data: [force ? 1 : 0])
        hasher.update(data: bytes)
        var b = Array(hasher.finalize().prefix(16))
        b[6] = (b[6] & 0x0F) | 0x50
        b[8] = (b[8] & 0x3F) | 0x80
        return UUID(
            uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])
        )
    }
}

extension CaseService {
    /// The `importedFromOCR` metadata of a letter read through OCR, as JSON text: letter items
    /// are named by the case items they were matched to.
    static func ocrMetadata(_ ocr: LetterOCR, matches: [LetterItemMatch]) -> String {
        let facts = ocr.fieldConfidence.sorted(by: { $0.key < $1.key }).map { key, confidence in
            // "item2.decision": the second letter item's decision.
            if key.hasPrefix("item"), let dot = key.firstIndex(of: "."),
                let n = Int(key[key.index(key.startIndex, offsetBy: 4)..<dot])
            {
                return ImportedFromOCR.Fact(
                    fact: String(key[key.index(after: dot)...]),
                    itemId: matches.first { $0.letterIndex == n - 1 }?.itemId.rawValue,
                    confidence: confidence
                )
            }
            return ImportedFromOCR.Fact(fact: key, itemId: nil, confidence: confidence)
        }
        let read = ImportedFromOCR(engine: ocr.engine, confidence: ocr.confidence, pages: ocr.pages, facts: facts)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(read)) ?? Data("{\"ocr\":true}".utf8), as: UTF8.self)
    }

    /// How the letter an event was imported from was read through OCR; nil for an event not
    /// read through OCR. Metadata this build cannot read says only that OCR was used.
    static func importedFromOCR(_ metadata: EventMetadata) -> ImportedFromOCR? {
        guard let text = metadata.extras[importedFromOCRMetadataKey] else { return nil }
        return (try? JSONDecoder().decode(ImportedFromOCR.self, from: Data(text.utf8)))
            ?? ImportedFromOCR(engine: "unknown", confidence: nil, pages: [], facts: [])
    }
}
