import Crypto
import EventStore
import Foundation
import Workflow

/// Who asked for a command, from the socket's peer credentials.
package struct Actor: Sendable, Hashable, Codable {
    package var uid: UInt32
    package var name: String

    package init(uid: UInt32, name: String) {
        self.uid = uid
        self.name = name
    }

    /// How the actor appears in event metadata, e.g. `uid:1000 alice`.
    package var label: String { "uid:\(uid) \(name)" }
}

/// A failure of a case command, in terms a coordinator and a client program understand.
package enum CaseServiceError: Error, Sendable, CustomStringConvertible {
    /// No case with that id.
    case caseNotFound(CaseID)
    /// The lifecycle refuses the command.
    case refused(CaseRuleViolation)
    /// Someone else changed the case between read and write, more often than retries allow.
    case concurrentUpdate(CaseID, expected: Int64, actual: Int64)
    /// The log holds an event this binary cannot read (newer schema, damaged payload).
    case unreadableEvent(CaseID, String)
    /// The event log failed.
    case storage(EventStoreError)
    /// A value the log does not accept (``CommandValues``): the field and why.
    case invalidValue(InvalidValue)
    /// The command id was already used for a different command: nothing was recorded.
    case commandIdReused(CommandIdReuse)

    package var description: String {
        switch self {
        case .caseNotFound(let id): "there is no case '\(id.rawValue)'; list cases with 'imr-ctl cases'"
        case .refused(let violation): violation.message
        case .concurrentUpdate(let id, let expected, let actual):
            "case '\(id.rawValue)' changed while this command ran (expected version \(expected), found \(actual)); run it again"
        case .unreadableEvent(let id, let detail):
            "case '\(id.rawValue)' holds an event this imr cannot read: \(detail); upgrade imr"
        case .storage(let error): error.message
        case .invalidValue(let invalid): invalid.message
        case .commandIdReused(let reuse): reuse.message
        }
    }
}

/// An earlier command that used the same command id with different content.
package struct CommandIdReuse: Sendable, Equatable {
    package let commandId: UUID
    /// The case the earlier command was recorded on.
    package let caseId: String
    /// The earlier command's events: their type names and global positions.
    package let eventTypes: [String]
    package let positions: [Int64]

    package var message: String {
        let at =
            positions.count == 1
            ? "position \(positions[0])" : "positions \(positions.map(String.init).joined(separator: ", "))"
        return "command id \(commandId.lowercasedText) was already used for a different command "
            + "(\(eventTypes.joined(separator: ", ")) on case '\(caseId)', at \(at)); nothing was recorded: "
            + "give each new command its own id (or leave --command-id out)"
    }
}

/// What a command recorded.
package struct CommandOutcome: Sendable, Equatable {
    package let caseId: CaseID
    /// The command's id: the caller's, or the one the service made when the caller named none.
    package let commandId: UUID
    /// The case's stream version after the command.
    package let version: Int64
    /// Global positions of the recorded events.
    package let positions: [Int64]
    /// The events' type names.
    package let eventTypes: [String]
    /// True when the command id had already been recorded: nothing new was written.
    package let wasAlreadyRecorded: Bool
}

/// Runs lifecycle commands against cases kept in the event log: on the writer thread, inside
/// the transaction of its group, take the case's state (from the cache, or by folding its
/// stream), let the pure `decide` produce events, append them at that version.
package struct CaseService: Sendable {
    package let store: EventStore
    /// Case states at their stream version, filled as commands commit.
    package let states: CaseStateCache
    /// The store's deadline read model, when the caller's task may work out a command's
    /// deadline rows before the writer takes it (see ``execute(_:on:actor:commandId:correlationId:now:)``).
    let deadlines: DeadlineProjection?

    /// Where commands are decided ahead: threads of their own, not the cooperative ones.
    let compute: ComputeThreads

    package init(
        store: EventStore,
        states: CaseStateCache = CaseStateCache(),
        deadlines: DeadlineProjection? = nil,
        compute: ComputeThreads = .shared
    ) {
        self.store = store
        self.states = states
        self.deadlines = deadlines
        self.compute = compute
    }

    /// The current state of a case.
    package func state(of caseId: CaseID) throws(CaseServiceError) -> CaseState {
        let (state, _) = try stateAndHistory(of: caseId)
        return state
    }

    /// The current state of a case and its events as recorded, from one read of the stream.
    package func stateAndHistory(of caseId: CaseID) throws(CaseServiceError) -> (CaseState, [RecordedEvent]) {
        let stored: [RecordedEvent]
        do { stored = try store.read(stream: CaseStreams.streamId(caseId)) } catch { throw .storage(error) }
        return try stateAndHistory(of: caseId, from: stored)
    }

    /// The case's events as recorded, with their metadata.
    package func history(of caseId: CaseID) throws(CaseServiceError) -> [RecordedEvent] {
        let events: [RecordedEvent]
        do { events = try store.read(stream: CaseStreams.streamId(caseId)) } catch { throw .storage(error) }
        guard !events.isEmpty else { throw .caseNotFound(caseId) }
        return events
    }

    /// The current state of a case, read on a reader thread.
    package func state(of caseId: CaseID) async throws(CaseServiceError) -> CaseState {
        try await stateAndHistory(of: caseId).0
    }

    /// The state of a case and its events, read on a reader thread; the state comes from the
    /// cache when it holds the case at its last event.
    package func stateAndHistory(of caseId: CaseID) async throws(CaseServiceError) -> (CaseState, [RecordedEvent]) {
        let stored: [RecordedEvent]
        do { stored = try await store.read(stream: CaseStreams.streamId(caseId)) } catch { throw .storage(error) }
        return try stateAndHistory(of: caseId, from: stored)
    }

    /// The case's events as recorded, read on a reader thread.
    package func history(of caseId: CaseID) async throws(CaseServiceError) -> [RecordedEvent] {
        let events: [RecordedEvent]
        do { events = try await store.read(stream: CaseStreams.streamId(caseId)) } catch { throw .storage(error) }
        guard !events.isEmpty else { throw .caseNotFound(caseId) }
        return events
    }

    /// Up to `limit` of a case's events after version `after`, and the case's version now (to
    /// say how many follow), read on a reader thread.
    package func historyPage(
        of caseId: CaseID,
        after: Int64,
        limit: Int
    ) async throws(CaseServiceError) -> (events: [RecordedEvent], version: Int64) {
        let streamId = CaseStreams.streamId(caseId)
        let events: [RecordedEvent]
        let version: Int64
        do {
            version = try await store.version(of: streamId)
            events = try await store.read(stream: streamId, from: after + 1, limit: limit)
        } catch { throw .storage(error) }
        guard version > 0 else { throw .caseNotFound(caseId) }
        return (events, version)
    }

    private func stateAndHistory(
        of caseId: CaseID,
        from stored: [RecordedEvent]
    ) throws(CaseServiceError) -> (CaseState, [RecordedEvent]) {
        let streamId = CaseStreams.streamId(caseId)
        let state: CaseState
        if let last = stored.last, let cached = states.state(of: streamId, at: last.streamVersion, lastEventId: last.id)
        {
            state = cached
        } else {
            do { state = try CaseStreams.fold(stored) } catch { throw .unreadableEvent(caseId, "\(error)") }
        }
        guard state.facts != nil else { throw .caseNotFound(caseId) }
        return (state, stored)
    }

    /// Decides and records a command, committed with the other commands waiting for the
    /// writer (group commit); returns once it is durable. A command id that was already
    /// recorded returns the earlier outcome and writes nothing, so clients can retry safely.
    /// With no `commandId` (the caller named none) the service makes a time-ordered one, and
    /// the command cannot be sent again under it (see ``CommandIdentity``).
    @discardableResult
    package func execute(
        _ command: CaseCommand,
        on caseId: CaseID,
        actor: Actor,
        commandId: UUID?,
        correlationId: String? = nil,
        now: Date
    ) async throws(CaseServiceError) -> CommandOutcome {
        let prepared = try prepare(
            command,
            on: caseId,
            actor: actor,
            commandId: commandId,
            correlationId: correlationId,
            now: now
        )
        // Decided ahead on the cached state, in this task: the writer then only checks that the
        // case is still at that state, and appends. Anything else is decided again by the writer.
        let ahead = await speculate(prepared)
        do {
            return try await store.write { context in try self.record(prepared, ahead: ahead, in: context) }
        } catch {
            throw Self.serviceError(error)
        }
    }

    /// A command decided ahead of the writer, on the state of the case after `baseEventId`.
    struct DecidedAhead: Sendable {
        let baseVersion: Int64
        let baseEventId: UUID?
        let base: CaseState
        let newEvents: [NewEvent]
        let readBack: [UUID: CaseEvent]
        let states: [Int64: CaseState]
        let final: CaseState
        let recordedAt: Date
        let deadlines: PrecomputedDeadlines?
    }

    /// Decides the command on the latest state this process knows of the case (the cache, or
    /// the stream read on a reader thread), encodes its events and works out the state and the
    /// deadline rows they lead to: the CPU-heavy part of a command, done here in parallel
    /// rather than one after another on the writer thread. Nil when the case cannot be read
    /// or the command is refused: the writer decides it then, on the state it finds.
    func speculate(_ p: PreparedCommand) async -> DecidedAhead? {
        let streamId = CaseStreams.streamId(p.caseId)
        var base: (state: CaseState, version: Int64, eventId: UUID?)
        if let entry = states.latest(of: streamId) {
            base = (entry.state, entry.version, entry.lastEventId)
        } else {
            guard let stored = try? await store.read(stream: streamId), let state = try? CaseStreams.fold(stored) else {
                return nil
            }
            base = (state, Int64(stored.count), stored.last?.id)
            if let last = stored.last {
                states.remember(state, of: streamId, at: last.streamVersion, lastEventId: last.id)
            }
        }
        let known = base
        return await compute.run { self.decideAhead(p, on: known) }
    }

    /// The CPU-heavy part of ``speculate(_:)``, run on the compute threads.
    private func decideAhead(
        _ p: PreparedCommand,
        on base: (state: CaseState, version: Int64, eventId: UUID?)
    ) -> DecidedAhead? {
        guard let events = try? decide(p.command, state: base.state, now: p.now), !events.isEmpty else { return nil }
        let recordedAt = p.now.roundedToStoredMicroseconds
        guard
            let encoded = Self.encode(
                events,
                commandId: p.commandId,
                metadata: p.metadata,
                on: base.state,
                at: base.version,
                recordedAt: recordedAt
            )
        else { return nil }
        let (newEvents, readBack, states, state) = (encoded.newEvents, encoded.readBack, encoded.states, encoded.final)
        let deadlines = newEvents.last.flatMap { last in
            try? self.deadlines?.precompute(state, after: last.id, at: recordedAt)
        }
        return DecidedAhead(
            baseVersion: base.version,
            baseEventId: base.eventId,
            base: base.state,
            newEvents: newEvents,
            readBack: readBack,
            states: states,
            final: state,
            recordedAt: recordedAt,
            deadlines: deadlines
        )
    }

    /// A command's decided events as they will be stored: encoded with their ids, read back as
    /// a fold of the log would (instants to the second), and the case's state after each.
    struct EncodedEvents {
        var newEvents: [NewEvent] = []
        var readBack: [UUID: CaseEvent] = [:]
        var states: [Int64: CaseState] = [:]
        var final: CaseState
    }

    /// `events` of the command `commandId`, decided on `state` at stream version `version`;
    /// nil when one cannot be encoded or read back.
    static func encode(
        _ events: [CaseEvent],
        commandId: CommandIdentity,
        metadata: EventMetadata,
        on state: CaseState,
        at version: Int64,
        recordedAt: Date
    ) -> EncodedEvents? {
        var out = EncodedEvents(final: state)
        for (index, event) in events.enumerated() {
            guard let encoded = try? CaseEventCodec.encode(event),
                let stored = try? CaseEventCodec.decode(
                    type: encoded.type,
                    schemaVersion: encoded.schemaVersion,
                    payload: encoded.payload
                )
            else { return nil }
            let id = commandId.eventId(index)
            let eventVersion = version + Int64(index) + 1
            out.readBack[id] = stored
            out.newEvents.append(
                NewEvent(
                    id: id,
                    type: encoded.type,
                    schemaVersion: encoded.schemaVersion,
                    payload: encoded.payload,
                    metadata: metadata
                )
            )
            out.final = evolve(
                out.final,
                RecordedCaseEvent(event: stored, version: Int(eventVersion), eventId: id, recordedAt: recordedAt)
            )
            out.states[eventVersion] = out.final
        }
        return out
    }

    /// The same, in a transaction of its own on the calling thread (tools and tests).
    @discardableResult
    package func execute(
        _ command: CaseCommand,
        on caseId: CaseID,
        actor: Actor,
        commandId: UUID?,
        correlationId: String? = nil,
        now: Date
    ) throws(CaseServiceError) -> CommandOutcome {
        let prepared = try prepare(
            command,
            on: caseId,
            actor: actor,
            commandId: commandId,
            correlationId: correlationId,
            now: now
        )
        do {
            return try store.write { context in try self.record(prepared, in: context) }
        } catch {
            throw Self.serviceError(error)
        }
    }

    static func serviceError(_ error: any Error) -> CaseServiceError {
        switch error {
        case let error as CaseServiceError: error
        case let error as EventStoreError: .storage(error)
        default: .storage(EventStoreError.unexpected("\(error)"))
        }
    }

    /// A command's id and where it came from.
    ///
    /// A caller that names the id may send the command again under it: its events' ids are
    /// derived from it (``eventId(commandId:index:)``) and the writer looks the first one up
    /// before appending. An id the service made (the caller named none) is time-ordered
    /// (version 7) and known to nobody else: its events' ids keep its time order
    /// (``eventId(madeCommandId:index:)``) and nothing is looked up. Ids named before this
    /// distinction existed keep their derivation, so a retry across an upgrade still finds
    /// its command. A made id sent back by a caller (it is in the case's history) is refused
    /// as an id already used.
    struct CommandIdentity: Sendable, Equatable {
        let id: UUID
        /// What a retry under a named id is compared with (``digest(of:caseId:)``); nil for an
        /// id made here, which nobody can send again.
        let digest: String?

        /// The caller chose the id.
        var named: Bool { digest != nil }

        /// The id of the command's event `index` (from 0).
        func eventId(_ index: Int) -> UUID {
            named
                ? CaseService.eventId(commandId: id, index: index)
                : CaseService.eventId(madeCommandId: id, index: index)
        }
    }

    /// A command checked and ready to record: what does not depend on the case's state.
    struct PreparedCommand: Sendable {
        let command: CaseCommand
        let caseId: CaseID
        let badCaseId: InvalidValue?
        let commandId: CommandIdentity
        let metadata: EventMetadata
        let now: Date
    }

    private func prepare(
        _ command: CaseCommand,
        on caseId: CaseID,
        actor: Actor,
        commandId named: UUID?,
        correlationId: String?,
        now: Date
    ) throws(CaseServiceError) -> PreparedCommand {
        // A case id outside the set opens nothing; a case recorded before the set was
        // enforced (its id holds, say, a space) still takes commands.
        var badCaseId: InvalidValue?
        do { _ = try CommandValues.caseId(caseId.rawValue) } catch { badCaseId = error }
        if let badCaseId, case .openCase = command { throw .invalidValue(badCaseId) }
        if let badCaseId, caseId.rawValue.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        {
            throw .invalidValue(badCaseId)
        }
        do { try CommandValues.validate(command) } catch { throw .invalidValue(error) }
        // A retry is compared with the digest; a command whose id was made here has none.
        let commandId = CommandIdentity(
            id: named ?? .timeOrdered(now: now),
            digest: named == nil ? nil : Self.digest(of: command, caseId: caseId)
        )
        let metadata = EventMetadata(
            actor: actor.label,
            correlationId: correlationId ?? commandId.id.lowercasedText,
            causationId: commandId.id.lowercasedText,
            commandId: commandId.id.lowercasedText,
            extras: commandId.digest.map { [Self.commandDigestKey: $0] } ?? [:]
        )
        return PreparedCommand(
            command: command,
            caseId: caseId,
            badCaseId: badCaseId,
            commandId: commandId,
            metadata: metadata,
            now: now
        )
    }

    /// Records a prepared command inside the writer's transaction: as decided ahead when the
    /// case is still at the state it was decided on, else decided here.
    func record(
        _ p: PreparedCommand,
        ahead: DecidedAhead? = nil,
        in context: WriteContext
    ) throws(CaseServiceError) -> CommandOutcome {
        let caseId = p.caseId
        if let digest = p.commandId.digest,
            let outcome = try earlierCommand(p.commandId.id, digest: digest, on: caseId, in: context)
        {
            return outcome
        }
        if let ahead, let outcome = try recordAhead(ahead, caseId: caseId, commandId: p.commandId, in: context) {
            return outcome
        }
        let (state, version) = try currentState(of: caseId, in: context)
        if case .openCase = p.command {
        } else if state.facts == nil {
            throw p.badCaseId.map { .invalidValue($0) } ?? .caseNotFound(caseId)
        }
        let events: [CaseEvent]
        do {
            // The values were checked when the command was prepared (``prepare``), so a
            // refusal here is a rule of the lifecycle.
            events = try decide(p.command, state: state, now: p.now)
        } catch {
            throw .refused(error)
        }
        let result = try append(
            events,
            to: caseId,
            base: state,
            version: version,
            commandId: p.commandId,
            metadata: p.metadata,
            recordedAt: p.now,
            in: context
        )
        return CommandOutcome(
            caseId: caseId,
            commandId: p.commandId.id,
            version: result.streamVersion,
            positions: result.events.map(\.position),
            eventTypes: result.events.map(\.type),
            wasAlreadyRecorded: result.wasAlreadyStored
        )
    }

    /// A retry of a command recorded under the named id `commandId`: its earlier outcome; nil
    /// when the id is new. One index lookup (two for a version 7 id). The id used for a
    /// different command, or on another case, is refused. (A command id made here was never
    /// sent before and cannot be sent again: nothing to look up for it.)
    private func earlierCommand(
        _ commandId: UUID,
        digest: String,
        on caseId: CaseID,
        in context: WriteContext
    ) throws(CaseServiceError) -> CommandOutcome? {
        let streamId = CaseStreams.streamId(caseId)
        let earlier: RecordedEvent?
        do { earlier = try context.event(id: Self.eventId(commandId: commandId, index: 0)) } catch {
            throw .storage(error)
        }
        guard let earlier else {
            // An id the service made for an earlier command (its history shows it), sent back
            // under a command: refused as any id used before is. Its command kept no digest to
            // compare with, and nobody sent it the first time, so this is no retry.
            let made = CommandIdentity(id: commandId, digest: nil)
            if commandId.uuid.6 >> 4 == 7, let reused = try reuse(of: made, first: nil, in: context) { throw reused }
            return nil
        }
        guard earlier.streamId == streamId else {
            throw try reuse(of: CommandIdentity(id: commandId, digest: digest), first: earlier, in: context)
                ?? .caseNotFound(caseId)
        }
        let stored: [RecordedEvent]
        do { stored = try context.read(stream: streamId, from: earlier.streamVersion) } catch {
            throw .storage(error)
        }
        return try earlierOutcome(of: commandId, digest: digest, in: stored, caseId: caseId)
    }

    /// Appends a command decided ahead, when the stream's last event is still the one it was
    /// decided after; nil (nothing written) when it is not.
    private func recordAhead(
        _ ahead: DecidedAhead,
        caseId: CaseID,
        commandId: CommandIdentity,
        in context: WriteContext
    ) throws(CaseServiceError) -> CommandOutcome? {
        let streamId = CaseStreams.streamId(caseId)
        let last: (version: Int64, id: UUID)?
        do { last = try context.lastEvent(of: streamId) } catch { throw .storage(error) }
        guard (last?.version ?? 0) == ahead.baseVersion, last?.id == ahead.baseEventId else { return nil }
        let hint = CaseStreams.AppendHint(
            streamId: streamId,
            base: ahead.base,
            baseVersion: ahead.baseVersion,
            events: ahead.readBack,
            states: ahead.states
        )
        hint.deadlines = ahead.deadlines
        let result: AppendResult
        do {
            result = try context.append(
                to: streamId,
                expected: ahead.baseVersion == 0 ? .noStream : .exact(ahead.baseVersion),
                events: ahead.newEvents,
                hint: hint,
                recordedAt: ahead.recordedAt
            )
        } catch  where error.kind == .duplicateEventId {
            throw try reuse(of: commandId, first: nil, in: context) ?? .storage(error)
        } catch {
            throw .storage(error)
        }
        if let stored = result.events.last, !result.wasAlreadyStored {
            let final = ahead.final
            context[groupValue: streamId] = CaseStateCache.Entry(
                version: stored.streamVersion,
                lastEventId: stored.id,
                state: final
            )
            let states = self.states
            context.onCommit { states.remember(final, of: streamId, at: stored.streamVersion, lastEventId: stored.id) }
        }
        return CommandOutcome(
            caseId: caseId,
            commandId: commandId.id,
            version: result.streamVersion,
            positions: result.events.map(\.position),
            eventTypes: result.events.map(\.type),
            wasAlreadyRecorded: result.wasAlreadyStored
        )
    }

    /// Appends a command's events to a case at `version`, handing the read models the state
    /// they evolve from; once durable, the new state goes to the cache. `recordedAt` is the
    /// instant the command was decided at (the daemon's clock then), so the deadlines worked
    /// out from the events (a deadline that had passed when its trigger was recorded is
    /// history) are the ones a fold of the stream gives.
    func append(
        _ events: [CaseEvent],
        to caseId: CaseID,
        base state: CaseState,
        version: Int64,
        commandId: CommandIdentity,
        metadata: EventMetadata,
        recordedAt: Date,
        in context: WriteContext
    ) throws(CaseServiceError) -> AppendResult {
        let streamId = CaseStreams.streamId(caseId)
        var newEvents: [NewEvent] = []
        var readBack: [UUID: CaseEvent] = [:]
        for (index, event) in events.enumerated() {
            let encoded: EncodedCaseEvent
            let stored: CaseEvent
            do {
                encoded = try CaseEventCodec.encode(event)
                // The event as it will read back from the log (dates to the second): the read
                // models and the cache must hold what a fold of the stream would give.
                stored = try CaseEventCodec.decode(
                    type: encoded.type,
                    schemaVersion: encoded.schemaVersion,
                    payload: encoded.payload
                )
            } catch {
                throw .unreadableEvent(caseId, "cannot encode \(event.typeName): \(error)")
            }
            let id = commandId.eventId(index)
            readBack[id] = stored
            newEvents.append(
                NewEvent(
                    id: id,
                    type: encoded.type,
                    schemaVersion: encoded.schemaVersion,
                    payload: encoded.payload,
                    metadata: metadata
                )
            )
        }
        let hint = CaseStreams.AppendHint(streamId: streamId, base: state, baseVersion: version, events: readBack)
        let result: AppendResult
        do {
            result = try context.append(
                to: streamId,
                expected: version == 0 ? .noStream : .exact(version),
                events: newEvents,
                hint: hint,
                recordedAt: recordedAt.roundedToStoredMicroseconds
            )
        } catch  where error.kind == .duplicateEventId {
            throw try reuse(of: commandId, first: nil, in: context) ?? .storage(error)
        } catch {
            throw .storage(error)
        }
        if let last = result.events.last, let final = hint.finalState(result.events) {
            // Later commands of this group see it at once; the cache, once it is durable.
            context[groupValue: streamId] = CaseStateCache.Entry(
                version: last.streamVersion,
                lastEventId: last.id,
                state: final
            )
            let states = self.states
            context.onCommit { states.remember(final, of: streamId, at: last.streamVersion, lastEventId: last.id) }
        }
        return result
    }

    /// The case's state and stream version as the writer's transaction sees them: from this
    /// group or the cache when either holds the stream at its last event, else folded.
    func currentState(of caseId: CaseID, in context: WriteContext) throws(CaseServiceError) -> (CaseState, Int64) {
        let streamId = CaseStreams.streamId(caseId)
        let last: (version: Int64, id: UUID)?
        do { last = try context.lastEvent(of: streamId) } catch { throw .storage(error) }
        guard let last else { return (CaseState(), 0) }
        if let entry = context[groupValue: streamId] as? CaseStateCache.Entry, entry.version == last.version,
            entry.lastEventId == last.id
        {
            return (entry.state, last.version)
        }
        if let cached = states.state(of: streamId, at: last.version, lastEventId: last.id) {
            return (cached, last.version)
        }
        let stored: [RecordedEvent]
        do { stored = try context.read(stream: streamId) } catch { throw .storage(error) }
        let state: CaseState
        do { state = try CaseStreams.fold(stored) } catch { throw .unreadableEvent(caseId, "\(error)") }
        return (state, Int64(stored.count))
    }

    /// The metadata extra holding a digest of the command that wrote the event.
    package static let commandDigestKey = "commandDigest"

    /// SHA-256 of the case id and the command's canonical encoding, in hex: the same command
    /// sent again has the same digest, a different one (almost surely) not.
    static func digest(of command: CaseCommand, caseId: CaseID) -> String {
        var hasher = SHA256()
        hasher.update(data: Array("imr-command-v1".utf8))
        hasher.update(data: withUnsafeBytes(of: Int64(caseId.rawValue.utf8.count).bigEndian) { Array($0) })
        hasher.update(data: Array(caseId.rawValue.utf8))
        hasher.update(data: command.canonicalEncoding)
        return Array(hasher.finalize()).hexString
    }

    /// The earlier command recorded under `commandId`, wherever it is; nil when none is.
    func reuse(
        of commandId: CommandIdentity,
        first known: RecordedEvent?,
        in context: WriteContext
    ) throws(CaseServiceError) -> CaseServiceError? {
        var first = known
        if first == nil {
            do { first = try context.event(id: commandId.eventId(0)) } catch {
                throw .storage(error)
            }
        }
        guard let first else { return nil }
        let events: [RecordedEvent]
        do { events = try context.read(stream: first.streamId, from: first.streamVersion) } catch {
            throw .storage(error)
        }
        let command = first.metadata.commandId
        let mine = events.prefix { $0.metadata.commandId == command }
        return .commandIdReused(
            CommandIdReuse(
                commandId: commandId.id,
                caseId: CaseStreams.caseId(ofStream: first.streamId)?.rawValue ?? first.streamId,
                eventTypes: mine.map(\.type),
                positions: mine.map(\.position)
            )
        )
    }

    /// The outcome of the command recorded earlier under `commandId` on this case, when it is
    /// the same command; a different command under that id is refused.
    private func earlierOutcome(
        of commandId: UUID,
        digest: String,
        in stored: [RecordedEvent],
        caseId: CaseID
    ) throws(CaseServiceError) -> CommandOutcome? {
        let first = Self.eventId(commandId: commandId, index: 0)
        guard let start = stored.firstIndex(where: { $0.id == first }) else { return nil }
        let tag = commandId.lowercasedText
        let mine = stored[start...].prefix { $0.metadata.commandId == tag }
        // Events recorded before digests were kept carry none: they count as the same command.
        if let earlier = stored[start].metadata.extras[Self.commandDigestKey], earlier != digest {
            throw .commandIdReused(
                CommandIdReuse(
                    commandId: commandId,
                    caseId: caseId.rawValue,
                    eventTypes: mine.map(\.type),
                    positions: mine.map(\.position)
                )
            )
        }
        return CommandOutcome(
            caseId: caseId,
            commandId: commandId,
            version: mine.last!.streamVersion,
            positions: mine.map(\.position),
            eventTypes: mine.map(\.type),
            wasAlreadyRecorded: true
        )
    }

    /// The ids of the events of a command whose id this service made (``CommandIdentity``):
    /// derived as ``eventId(commandId:index:)`` derives them, then given the command id's
    /// first 48 bits, its Unix milliseconds (a made id is time-ordered), as a version 7 UUID.
    /// The log's unique index on event ids then grows at its end: with ids spread at random
    /// over it, each command wrote a page of it at a random place (1.3 of the 8.7 pages a
    /// command wrote with 32 clients, BENCHMARKS.md, seventeenth session).
    static func eventId(madeCommandId commandId: UUID, index: Int) -> UUID {
        var id = eventId(commandId: commandId, index: index).uuid
        let made = commandId.uuid
        (id.0, id.1, id.2, id.3, id.4, id.5) = (made.0, made.1, made.2, made.3, made.4, made.5)
        id.6 = (id.6 & 0x0F) | 0x70
        return UUID(uuid: id)
    }

    /// Event ids derived from the command id: a retried command yields the same ids, which
    /// the event log recognises as already stored.
    static func eventId(commandId: UUID, index: Int) -> UUID {
        var hasher = SHA256()
        hasher.update(data: Array("imr-command-event".utf8))
        hasher.update(data: Array(commandId.lowercasedText.utf8))
        hasher.update(data: withUnsafeBytes(of: Int64(index).bigEndian) { Array($0) })
        var bytes = Array(hasher.finalize().prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50  // version 5 style: name-based
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 4122 variant
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            )
        )
    }
}
