import EventStore
import Foundation
import IMRWire
import Logging
import Varlink
import Workflow

/// `io.imr.Cases`: the lifecycle commands and case queries over Varlink.
package struct CasesInterface: VarlinkHandler {
    package let interface = try! VarlinkInterface(
        description: String(decoding: PackageResources.io_imr_Cases_varlink, as: UTF8.self)
    )
    let service: CaseService
    let access: AccessControl
    let clock: @Sendable () -> Date
    let logger: Logger

    package init(
        service: CaseService,
        access: AccessControl,
        clock: @escaping @Sendable () -> Date = { Date() },
        logger: Logger = Logger(label: "imr.cases", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.service = service
        self.access = access
        self.clock = clock
        self.logger = logger
    }

    struct CaseRef: Decodable { let caseId: String }

    struct SearchRequest: Decodable {
        let text: String
        let limit: Int?
    }

    struct HistoryRequest: Decodable {
        let caseId: String
        let limit: Int?
        let after: String?
    }

    /// The most events one History reply carries (and the page when none is asked for).
    static let historyPage = 1000

    /// The role each method needs: reading for the queries, coordinating for everything that records.
    static func role(for member: String) -> Role {
        switch member {
        case "List", "Get", "Stats", "History", "Search": .reader
        default: .coordinator
        }
    }

    /// Checked by the server before any parameter is decoded.
    package func admit(member: String, context: VarlinkCallContext) throws {
        try access.require(Self.role(for: member), context, method: "io.imr.Cases.\(member)")
    }

    package func error(for failure: any Error, in call: VarlinkCall) -> VarlinkError {
        ServiceFailure.error(for: failure, interface: interface.name)
    }

    package func handle(
        _ call: VarlinkCall,
        context: VarlinkCallContext,
        replier: VarlinkReplier
    ) async throws -> [String: JSONValue] {
        do {
            return try await answer(call, context: context, replier: replier)
        } catch let error as VarlinkError where error.name == "io.imr.Cases.CaseNotFound" {
            throw await Self.withSuggestions(error, store: service.store)
        }
    }

    /// CaseNotFound with `didYouMean`: the existing ids nearest the one asked for (the same id
    /// in another letter case first), read on the case list's index.
    static func withSuggestions(_ error: VarlinkError, store: EventStore) async -> VarlinkError {
        guard case .string(let id)? = error.parameters["caseId"], id.utf8.count <= 256 else { return error }
        let near =
            (try? await store.read(lane: .interactive) { try CaseListProjection.nearestCaseIds(to: id, in: $0) }) ?? []
        var parameters = error.parameters
        parameters["didYouMean"] = .array(near.map { .string($0) })
        return VarlinkError(error.name, parameters: parameters)
    }

    /// One call, answered.
    func answer(
        _ call: VarlinkCall,
        context: VarlinkCallContext,
        replier: VarlinkReplier
    ) async throws -> [String: JSONValue] {
        switch call.member {
        case "Search":
            let request = try WireFormat.decode(SearchRequest.self, from: call)
            let text = request.text.trimmingCharacters(in: .whitespaces)
            guard (1...100).contains(text.utf8.count),
                !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
            else {
                throw VarlinkError(
                    "io.imr.Cases.InvalidValue",
                    parameters: [
                        "parameter": "text", "message": "a search is 1 to 100 bytes of text, no control characters",
                    ]
                )
            }
            let limit = request.limit ?? 20
            guard (1...100).contains(limit) else {
                throw VarlinkError(
                    "io.imr.Cases.InvalidValue",
                    parameters: ["parameter": "limit", "message": .string("\(limit) is not from 1 to 100")]
                )
            }
            try ReadModelGate.require(["case_list"], of: service.store)
            let found = try await service.store.read(lane: .interactive) {
                try CaseListProjection.search(in: $0, text: text, limit: limit)
            }
            return ["cases": .array(found.cases.map { .object($0.wireJSON) }), "more": .bool(found.more)]
        case "List":
            let filter = try WireFormat.decode(CaseListFilter.self, from: call)
            try ReadModelGate.require(["case_list", "deadlines"], of: service.store)
            return try await listCases(filter, streaming: call.more == true, replier: replier)
        case "Get":
            let ref = try WireFormat.decode(CaseRef.self, from: call)
            let (state, history) = try await serviceCall(ref.caseId) { () async throws(CaseServiceError) in
                try await service.stateAndHistory(of: CaseID(ref.caseId))
            }
            var detail = CaseDetail.json(state)
            detail["timeline"] = .array(
                history.map { e in
                    let metadata = e.metadata
                    return .object([
                        "version": .int(e.streamVersion), "type": .string(e.type),
                        "recordedAt": .string(Pacific.rfc3339(e.recordedAt)),
                        "actor": metadata.actor.map { .string($0) } ?? .null,
                        "importedFrom": metadata.extras[importedFromMetadataKey].map { .string($0) } ?? .null,
                        "importedFromOCR": CaseService.ocrMetadataJSON(metadata),
                    ])
                }
            )
            detail["deadlines"] = .array(DeadlineEngine.deadlines(for: state, now: clock()).map(\.wireJSON))
            return ["case": .object(detail)]
        case "Stats":
            try ReadModelGate.require(["case_list", "case_items", "deadlines"], of: service.store)
            let (store, now) = (service.store, clock())
            return [
                "stats": .object(
                    try WireFormat.object(try await store.offload { try CaseStatistics.read(from: store, now: now) })
                )
            ]
        case "History":
            let request = try WireFormat.decode(HistoryRequest.self, from: call)
            let limit = request.limit ?? Self.historyPage
            guard (1...Self.historyPage).contains(limit) else {
                throw VarlinkError(
                    "io.imr.Cases.InvalidValue",
                    parameters: [
                        "parameter": "limit",
                        "message": .string(
                            "limit \(limit) is not a page size: give 1 to \(Self.historyPage) events a page"
                        ),
                    ]
                )
            }
            var after: Int64 = 0
            if let text = request.after {
                guard text.utf8.count <= 40, text.hasPrefix("h1."), let version = Int64(text.dropFirst(3)), version >= 0
                else {
                    throw VarlinkError(
                        "io.imr.Cases.InvalidValue",
                        parameters: [
                            "parameter": "after",
                            "message": .string(
                                "'\(text.prefix(160))' is not a cursor of a history: pass the `next` of the previous page unchanged"
                            ),
                        ]
                    )
                }
                after = version
            }
            while true {
                let from = after
                let (events, version) = try await serviceCall(request.caseId) { () async throws(CaseServiceError) in
                    try await service.historyPage(of: CaseID(request.caseId), after: from, limit: limit)
                }
                let last = events.last?.streamVersion ?? from
                let reply: [String: JSONValue] = [
                    "events": .array(events.map { .object(Self.historyEntry($0)) }),
                    "next": last < version ? .string("h1.\(last)") : .null, "remaining": .int(max(0, version - last)),
                ]
                guard call.more == true, last < version, !events.isEmpty else { return reply }
                try await replier.yield(reply)
                after = last
            }
        case "ImportDetermination":
            return try await importDetermination(call, context: context)
        default:
            return try await record(call, context: context)
        }
    }

    /// `io.imr.Cases.List` (see ``PagedReplies``).
    private func listCases(
        _ filter: CaseListFilter,
        streaming: Bool,
        replier: VarlinkReplier
    ) async throws -> [String: JSONValue] {
        let paging = PagedReplies<CaseListCursor>(
            invalidValue: "io.imr.Cases.InvalidValue",
            noun: "cases",
            defaultPage: CaseListProjection.defaultPage,
            maximumPage: CaseListProjection.maximumPage,
            parse: { CaseListCursor(text: $0) },
            text: \.text
        )
        let limit = try paging.pageSize(filter.limit)
        let store = service.store
        return try await paging.answer(
            from: try paging.cursor(filter.after),
            streaming: streaming,
            replier: replier,
            store: store
        ) { from in
            let page = try store.read {
                try CaseListProjection.page(in: $0, matching: filter, after: from, limit: limit)
            }
            return (
                [
                    "cases": .array(page.cases.map { .object($0.wireJSON) }),
                    "remaining": .int(Int64(page.remaining)), "remainingAtLeast": .bool(page.remainingAtLeast),
                ], page.next
            )
        }
    }

    private func record(_ call: VarlinkCall, context: VarlinkCallContext) async throws -> [String: JSONValue] {
        let envelope = try WireFormat.decode(RecordingCall.Envelope.self, from: call)
        let commandId: UUID
        if let text = envelope.commandId {
            guard let id = UUID(uuidString: text) else {
                throw VarlinkError(
                    "io.imr.Cases.InvalidValue",
                    parameters: [
                        "parameter": "commandId", "message": .string("'\(text)' is not a UUID"),
                    ]
                )
            }
            commandId = id
        } else {
            commandId = .random()
        }
        let command = try RecordingCall.command(for: call)
        let caseId = CaseID(envelope.caseId)
        let actor = AccessPolicy.actor(of: context.peer)
        let started = ContinuousClock.now
        let outcome: CommandOutcome
        do {
            let now = clock()
            outcome = try await serviceCall(envelope.caseId) { () async throws(CaseServiceError) in
                try await service.execute(command, on: caseId, actor: actor, commandId: commandId, now: now)
            }
        } catch let error as VarlinkError {
            let name = error.name.split(separator: ".").last ?? ""
            OperatorFigures.shared.command(
                name == "TransitionRefused" || name == "CommandIdReused" || name == "CaseNotFound"
                    || name == "ConcurrentUpdate"
                    ? .refused
                    : name == "InvalidValue" ? .invalid : .failed,
                duration: ContinuousClock.now - started
            )
            throw error
        } catch {
            OperatorFigures.shared.command(.failed, duration: ContinuousClock.now - started)
            throw error
        }
        OperatorFigures.shared.command(
            outcome.wasAlreadyRecorded ? .alreadyRecorded : .recorded,
            events: outcome.positions.count,
            duration: ContinuousClock.now - started
        )
        if !outcome.wasAlreadyRecorded {
            logger.info(
                "recorded \(outcome.eventTypes.joined(separator: ", ")) on case \(caseId.rawValue)",
                metadata: [
                    "case.id": .string(caseId.rawValue), "event.position": .string("\(outcome.positions.last ?? 0)"),
                    "actor": .string(actor.label), "command.id": .string(commandId.uuidString.lowercased()),
                    "message.id": .string(LogMessageID.eventsRecorded),
                ]
            )
        }
        let recorded = RecordedReply(
            caseId: outcome.caseId.rawValue,
            version: outcome.version,
            positions: outcome.positions,
            events: outcome.eventTypes,
            alreadyRecorded: outcome.wasAlreadyRecorded
        )
        return ["recorded": recorded.json]
    }

    /// Maps service failures to the interface's errors.
    func serviceCall<T>(_ caseId: String, _ body: () async throws(CaseServiceError) -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw wireError(error, caseId: caseId)
        }
    }

    func serviceCall<T>(_ caseId: String, _ body: () throws(CaseServiceError) -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw wireError(error, caseId: caseId)
        }
    }

    /// A case service failure as the Varlink error the interface file names.
    func wireError(_ error: CaseServiceError, caseId: String) -> any Error {
        switch error {
        case .caseNotFound(let id):
            return VarlinkError("io.imr.Cases.CaseNotFound", parameters: ["caseId": .string(id.rawValue)])
        case .refused(let violation):
            logger.notice(
                "refused on case \(caseId): \(violation.message)",
                metadata: [
                    "case.id": .string(caseId), "refusal.code": .string(violation.code.rawValue),
                    "message.id": .string(LogMessageID.transitionRefused),
                ]
            )
            return VarlinkError(
                "io.imr.Cases.TransitionRefused",
                parameters: [
                    "caseId": .string(caseId), "code": .string(violation.code.rawValue),
                    "message": .string(violation.message),
                ]
            )
        case .concurrentUpdate(let id, let expected, let actual):
            return VarlinkError(
                "io.imr.Cases.ConcurrentUpdate",
                parameters: [
                    "caseId": .string(id.rawValue), "expectedVersion": .int(expected), "actualVersion": .int(actual),
                ]
            )
        case .invalidValue(let invalid):
            return VarlinkError(
                "io.imr.Cases.InvalidValue",
                parameters: [
                    "parameter": .string(invalid.field), "message": .string(invalid.message),
                ]
            )
        case .commandIdReused(let reuse):
            logger.notice(
                "refused on case \(caseId): \(reuse.message)",
                metadata: [
                    "case.id": .string(caseId), "command.id": .string(reuse.commandId.uuidString.lowercased()),
                    "message.id": .string(LogMessageID.transitionRefused),
                ]
            )
            return VarlinkError(
                "io.imr.Cases.CommandIdReused",
                parameters: [
                    "commandId": .string(reuse.commandId.uuidString.lowercased()), "caseId": .string(reuse.caseId),
                    "events": .array(reuse.eventTypes.map { .string($0) }),
                    "positions": .array(reuse.positions.map { .int($0) }),
                    "message": .string(reuse.message),
                ]
            )
        case .unreadableEvent, .storage:
            logger.error("case \(caseId): \(error)", metadata: ["case.id": .string(caseId)])
            return error
        }
    }

    static func historyEntry(_ e: RecordedEvent) -> [String: JSONValue] {
        var entry: [String: JSONValue] = [
            "position": .int(e.position), "version": .int(e.streamVersion),
            "eventId": .string(e.id.uuidString.lowercased()),
            "type": .string(e.type), "schemaVersion": .int(Int64(e.schemaVersion)),
            "recordedAt": .string(Pacific.rfc3339(e.recordedAt)),
            "payload": (try? JSONDecoder().decode(JSONValue.self, from: e.payloadData)) ?? .null,
        ]
        let metadata = e.metadata
        entry["actor"] = metadata.actor.map { .string($0) }
        entry["commandId"] = metadata.commandId.map { .string(UUID(uuidString: $0) != nil ? $0.lowercased() : $0) }
        entry["correlationId"] = metadata.correlationId.map { .string($0) }
        entry["importedFrom"] = metadata.extras[importedFromMetadataKey].map { .string($0) }
        entry["importedFromOCR"] = metadata.extras[importedFromOCRMetadataKey].map { _ in
            CaseService.ocrMetadataJSON(metadata)
        }
        return entry
    }
}

/// The JSON shape of one case for `Get`.
enum CaseDetail {
    static func json(_ s: CaseState) -> [String: JSONValue] {
        func date(_ d: LocalDate?) -> JSONValue { d.map { .string($0.iso) } ?? .null }
        func instant(_ d: Date?) -> JSONValue { d.map { .string(Pacific.rfc3339($0)) } ?? .null }
        func text(_ t: String?) -> JSONValue { t.map { .string($0) } ?? .null }
        let facts = s.facts
        return [
            "caseId": text(facts?.caseId.rawValue), "claimNumber": text(facts?.claimNumber),
            "employer": text(facts?.employer),
            "claimsAdministrator": text(facts?.claimsAdministrator),
            "injuredWorkerReference": text(facts?.injuredWorkerReference),
            "dateOfInjury": date(facts?.dateOfInjury), "coordinator": text(s.coordinator),
            "stage": .string(s.stage.rawValue),
            "isOpen": .bool(s.isOpen), "version": .int(Int64(s.version)), "withdrawnOn": date(s.withdrawnOn),
            "closedOn": date(s.closedOn),
            "rfas": .array(
                s.rfas.map { r in
                    .object([
                        "rfaId": .string(r.id.rawValue), "receivedAt": instant(r.receivedAt),
                        "receivedTimeOfDayKnown": .bool(r.receivedTimeOfDayKnown),
                        "transmission": .string(r.transmission.rawValue), "physician": .string(r.physician),
                        "treatmentRecommendedOn": date(r.treatmentRecommendedOn),
                        "reviewType": .string(r.reviewType.rawValue),
                        "expedited": .bool(r.expedited), "formulary": .bool(r.formulary),
                        "itemIds": .array(r.itemIds.map { .string($0.rawValue) }),
                        "informationRequestedOn": date(r.informationRequestedOn),
                        "informationReceivedOn": date(r.informationReceivedOn),
                        "deferredOn": date(r.deferredOn),
                    ])
                }
            ),
            "items": .array(
                s.items.map { i in
                    .object([
                        "itemId": .string(i.id.rawValue), "rfaId": .string(i.rfaId.rawValue),
                        "description": .string(i.description),
                        "status": .string(i.status.rawValue), "urOutcome": text(i.urOutcome?.rawValue),
                        "authorizedPortion": text(i.authorizedPortion),
                        "disputedPortion": text(i.disputedPortion), "importedFrom": text(i.importedFrom),
                        "urDecidedAt": i.urDecisionTimeKnown ? instant(i.urDecidedAt) : .null,
                        "urDecidedOn": date(i.urDecidedOn), "physicianNotifiedAt": instant(i.physicianNotifiedAt),
                        "writtenDecisionServedOn": date(i.writtenDecisionServedOn),
                        "writtenDecisionServiceMethod": text(i.writtenDecisionServiceMethod?.rawValue),
                        "imrApplicationReceivedOn": date(i.imrApplicationReceivedOn),
                        "eligibilityInformationRequestedOn": date(i.eligibilityInformationRequestedOn),
                        "eligibilityInformationSentOn": date(i.eligibilityInformationSentOn),
                        "imrEligibleOn": date(i.imrEligibleOn),
                        "imrIneligibleOn": date(i.imrIneligibleOn),
                        "ineligibilityReason": text(i.ineligibilityReason?.rawValue),
                        "imrCaseNumber": text(i.imrCaseNumber?.rawValue), "imrAssignedOn": date(i.imrAssignedOn),
                        "imrPriority": text(i.imrPriority?.rawValue),
                        "recordsReceivedOn": date(i.recordsReceivedOn),
                        "determinationDecidedOn": date(i.determinationDecidedOn),
                        "determinationMailedOn": date(i.determinationMailedOn),
                        "imrDecision": text(i.imrDecision?.rawValue),
                        "guideline": text(i.guideline), "reviewerSpecialty": text(i.reviewerSpecialty),
                        "implementedOn": date(i.implementedOn),
                        "appealFiledOn": date(i.appealFiledOn), "appealResolvedOn": date(i.appealResolvedOn),
                        "appealOutcome": text(i.appealOutcome?.rawValue),
                        "imrRound": .int(Int64(i.imrRound)),
                    ])
                }
            ),
            "notes": .array(
                s.notes.map {
                    .object([
                        "writtenAt": instant($0.writtenAt), "text": .string($0.text),
                        "version": .int(Int64($0.version)),
                    ])
                }
            ),
            "corrections": .array(
                s.corrections.enumerated().map { index, applied in
                    let c = applied.correction
                    var o: [String: JSONValue] = [
                        "version": .int(Int64(applied.version)), "field": .string(c.field.rawValue),
                        "value": .string(c.value.description),
                        "reason": .string(c.reason), "correctedVersion": .int(Int64(c.correctedVersion)),
                    ]
                    o["correctedType"] = s.recorded.first { $0.version == c.correctedVersion }.map {
                        .string(type(of: $0.event.payload).typeName)
                    }
                    o["previous"] = previousValue(of: c, before: index, in: s).map { .string($0) }
                    return .object(o)
                }
            ),
        ]
    }

    /// The value a correction replaced: an earlier correction of the same field of the same
    /// event, else the field as the event recorded it (instants in RFC 3339); nil when the
    /// field is not one of the payload's own (then the readback shows the new value only).
    static func previousValue(of correction: EventCorrected, before index: Int, in state: CaseState) -> String? {
        if let earlier = state.corrections.prefix(index).last(where: {
            $0.correction.correctedVersion == correction.correctedVersion && $0.correction.field == correction.field
        }) {
            return earlier.correction.value.description
        }
        guard let recorded = state.recorded.first(where: { $0.version == correction.correctedVersion }),
            let encoded = try? CaseEventCodec.encode(recorded.event),
            let payload = try? JSONDecoder().decode(JSONValue.self, from: encoded.payload)
        else { return nil }
        switch payload.objectValue?[correction.field.rawValue] {
        case .string(let text)?: return text
        case .int(let seconds)? where correction.field.rawValue.hasSuffix("At"):
            return Pacific.rfc3339(Date(timeIntervalSince1970: TimeInterval(seconds)))
        case .bool(let flag)?: return flag ? "yes" : "no"
        case .int(let n)?: return String(n)
        default: return nil
        }
    }
}
