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
        guard case .string(let id)? = error.parameters["caseId"], id.utf8.count <= 256,
            error.parameters["didYouMean"] == nil
        else { return error }
        let near =
            (try? await store.read(lane: .interactive) { try CaseListProjection.nearestCaseIds(to: id, in: $0) }) ?? []
        var parameters = error.parameters
        parameters["didYouMean"] = .array(near.map { .string($0) })
        return VarlinkError(error.name, parameters: parameters)
    }

    /// A list narrowed to one case: an unknown case is CaseNotFound (with `didYouMean`) here
    /// as in every other call, not an empty list.
    static func requireCase(_ caseId: String?, in store: EventStore) async throws {
        guard let caseId, try await store.version(of: CaseStreams.streamId(CaseID(caseId))) == 0 else { return }
        throw await withSuggestions(
            VarlinkError("io.imr.Cases.CaseNotFound", parameters: ["caseId": .string(caseId)]),
            store: store
        )
    }

    /// One call, answered.
    func answer(
        _ call: VarlinkCall,
        context: VarlinkCallContext,
        replier: VarlinkReplier
    ) async throws -> [String: JSONValue] {
        switch call.member {
        case "Search":
            let request = try WireFormat.decode(CaseSearchRequest.self, from: call)
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
            return ["cases": .array(found.cases.map(\.wireValue)), "more": .bool(found.more)]
        case "List":
            let filter = try WireFormat.decode(CaseListFilter.self, from: call)
            _ = try CoordinatorFilter.checked(filter.coordinator, errorName: "io.imr.Cases.InvalidValue")
            try ReadModelGate.require(["case_list", "deadlines"], of: service.store)
            return try await listCases(filter, streaming: call.more == true, replier: replier)
        case "Get":
            let ref = try WireFormat.decode(CaseGetRequest.self, from: call)
            let (state, history) = try await serviceCall(ref.caseId) { () async throws(CaseServiceError) in
                try await service.stateAndHistory(of: CaseID(ref.caseId))
            }
            let timeline = history.map { e in
                CaseView.Event(
                    version: e.streamVersion,
                    type: e.type,
                    recordedAt: e.recordedAt,
                    actor: e.metadata.actor,
                    importedFrom: e.metadata.extras[importedFromMetadataKey],
                    importedFromOCR: CaseService.importedFromOCR(e.metadata)
                )
            }
            let deadlines = DeadlineEngine.deadlines(for: state, now: clock())
            return try CaseReply.wire(CaseView(state, timeline: timeline, deadlines: deadlines))
        case "Stats":
            try ReadModelGate.require(["case_list", "case_items", "deadlines"], of: service.store)
            let (store, now) = (service.store, clock())
            return try WireFormat.object(
                StatisticsReply(stats: try await store.offload { try CaseStatistics.read(from: store, now: now) })
            )
        case "History":
            let request = try WireFormat.decode(CaseHistoryRequest.self, from: call)
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
                let reply = try WireFormat.object(
                    HistoryPage(
                        events: events.map(Self.historyEntry),
                        next: last < version ? "h1.\(last)" : nil,
                        remaining: max(0, version - last)
                    )
                )
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
                    "cases": .array(page.cases.map(\.wireValue)),
                    "remaining": .int(Int64(page.remaining)), "remainingAtLeast": .bool(page.remainingAtLeast),
                ], page.next
            )
        }
    }

    /// A recording call's `commandId`, checked; nil when the caller named none.
    static func commandId(_ text: String?) throws -> UUID? {
        guard let text else { return nil }
        guard let id = UUID(uuidString: text) else {
            throw VarlinkError(
                "io.imr.Cases.InvalidValue",
                parameters: ["parameter": "commandId", "message": .string("'\(text)' is not a UUID")]
            )
        }
        return id
    }

    private func record(_ call: VarlinkCall, context: VarlinkCallContext) async throws -> [String: JSONValue] {
        let envelope = try RecordingCall.envelope(of: call)
        // None named: the service makes one (time-ordered; the command cannot be sent again).
        let commandId = try Self.commandId(envelope.commandId)
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
                    "actor": .string(actor.label), "command.id": .string(outcome.commandId.lowercasedText),
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
                    "case.id": .string(caseId), "command.id": .string(reuse.commandId.lowercasedText),
                    "message.id": .string(LogMessageID.transitionRefused),
                ]
            )
            return VarlinkError(
                "io.imr.Cases.CommandIdReused",
                parameters: [
                    "commandId": .string(reuse.commandId.lowercasedText), "caseId": .string(reuse.caseId),
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

    static func historyEntry(_ e: RecordedEvent) -> HistoryEntry {
        let metadata = e.metadata
        return HistoryEntry(
            position: e.position,
            version: e.streamVersion,
            eventId: e.id.lowercasedText,
            type: e.type,
            schemaVersion: Int64(e.schemaVersion),
            recordedAt: e.recordedAt,
            actor: metadata.actor,
            commandId: metadata.commandId.map { UUID(uuidString: $0) != nil ? $0.lowercased() : $0 },
            correlationId: metadata.correlationId,
            importedFrom: metadata.extras[importedFromMetadataKey],
            importedFromOCR: CaseService.importedFromOCR(metadata),
            payload: (try? JSONDecoder().decode(JSONValue.self, from: e.payloadData)) ?? .null
        )
    }
}
