import Crypto
import EventStore
import Foundation
import Workflow

/// Who asked for a command, from the socket's peer credentials.
public struct Actor: Sendable, Hashable, Codable {
    public var uid: UInt32
    public var name: String

    public init(uid: UInt32, name: String) {
        self.uid = uid
        self.name = name
    }

    /// How the actor appears in event metadata, e.g. `uid:1000 alice`.
    public var label: String { "uid:\(uid) \(name)" }
}

/// A failure of a case command, in terms a coordinator and a client program understand.
public enum CaseServiceError: Error, Sendable, CustomStringConvertible {
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

    public var description: String {
        switch self {
        case .caseNotFound(let id): "there is no case '\(id.rawValue)'; list cases with 'imr-ctl cases'"
        case .refused(let violation): violation.message
        case .concurrentUpdate(let id, let expected, let actual):
            "case '\(id.rawValue)' changed while this command ran (expected version \(expected), found \(actual)); run it again"
        case .unreadableEvent(let id, let detail): "case '\(id.rawValue)' holds an event this imr cannot read: \(detail); upgrade imr"
        case .storage(let error): error.message
        case .invalidValue(let invalid): invalid.message
        case .commandIdReused(let reuse): reuse.message
        }
    }
}

/// An earlier command that used the same command id with different content.
public struct CommandIdReuse: Sendable, Equatable {
    public let commandId: UUID
    /// The case the earlier command was recorded on.
    public let caseId: String
    /// The earlier command's events: their type names and global positions.
    public let eventTypes: [String]
    public let positions: [Int64]

    public var message: String {
        let at = positions.count == 1 ? "position \(positions[0])" : "positions \(positions.map(String.init).joined(separator: ", "))"
        return "command id \(commandId.uuidString.lowercased()) was already used for a different command "
            + "(\(eventTypes.joined(separator: ", ")) on case '\(caseId)', at \(at)); nothing was recorded: "
            + "give each new command its own id (or leave --command-id out)"
    }
}

/// What a command recorded.
public struct CommandOutcome: Sendable, Equatable {
    public let caseId: CaseID
    /// The case's stream version after the command.
    public let version: Int64
    /// Global positions of the recorded events.
    public let positions: [Int64]
    /// The events' type names.
    public let eventTypes: [String]
    /// True when the command id had already been recorded: nothing new was written.
    public let wasAlreadyRecorded: Bool
}

/// Runs lifecycle commands against cases kept in the event log: load the stream, let the
/// pure `decide` produce events, append them at the version that was read.
public struct CaseService: Sendable {
    public let store: EventStore
    /// How many times a command is re-decided when another writer got in first.
    public var retries = 3

    public init(store: EventStore) { self.store = store }

    /// The current state of a case.
    public func state(of caseId: CaseID) throws(CaseServiceError) -> CaseState {
        let (state, _) = try load(caseId)
        guard state.facts != nil else { throw .caseNotFound(caseId) }
        return state
    }

    /// The current state of a case and its events as recorded, from one read of the stream.
    public func stateAndHistory(of caseId: CaseID) throws(CaseServiceError) -> (CaseState, [RecordedEvent]) {
        let (state, events) = try load(caseId)
        guard state.facts != nil else { throw .caseNotFound(caseId) }
        return (state, events)
    }

    /// The case's events as recorded, with their metadata.
    public func history(of caseId: CaseID) throws(CaseServiceError) -> [RecordedEvent] {
        let events: [RecordedEvent]
        do { events = try store.read(stream: CaseStreams.streamId(caseId)) } catch { throw .storage(error) }
        guard !events.isEmpty else { throw .caseNotFound(caseId) }
        return events
    }

    /// Decides and records a command. A command id that was already recorded returns the
    /// earlier outcome and writes nothing, so clients can retry safely.
    @discardableResult
    public func execute(
        _ command: CaseCommand, on caseId: CaseID, actor: Actor, commandId: UUID, correlationId: String? = nil, now: Date
    ) throws(CaseServiceError) -> CommandOutcome {
        // A case id outside the set opens nothing; a case recorded before the set was
        // enforced (its id holds, say, a space) still takes commands.
        var badCaseId: InvalidValue?
        do { _ = try CommandValues.caseId(caseId.rawValue) } catch { badCaseId = error }
        if let badCaseId, case .openCase = command { throw .invalidValue(badCaseId) }
        if let badCaseId, caseId.rawValue.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw .invalidValue(badCaseId)
        }
        do { try CommandValues.validate(command) } catch { throw .invalidValue(error) }
        let digest = Self.digest(of: command, caseId: caseId)
        var attempt = 0
        while true {
            attempt += 1
            let (state, stored) = try load(caseId)
            if let earlier = try earlierOutcome(of: commandId, digest: digest, in: stored, caseId: caseId) { return earlier }
            if case .openCase = command {} else if state.facts == nil { throw badCaseId.map { .invalidValue($0) } ?? .caseNotFound(caseId) }
            let events: [CaseEvent]
            do {
                events = try decide(command, state: state, now: now)
            } catch let violation as CaseRuleViolation {
                throw .refused(violation)
            } catch let invalid as InvalidValue {
                throw .invalidValue(invalid)
            } catch {
                throw .refused(CaseRuleViolation(.init(rawValue: "refused"), "\(error)"))
            }
            let metadata = EventMetadata(
                actor: actor.label, correlationId: correlationId ?? commandId.uuidString.lowercased(),
                causationId: commandId.uuidString.lowercased(), commandId: commandId.uuidString.lowercased(),
                extras: [Self.commandDigestKey: digest])
            var newEvents: [NewEvent] = []
            for (index, event) in events.enumerated() {
                let encoded: EncodedCaseEvent
                do { encoded = try CaseEventCodec.encode(event) } catch {
                    throw .unreadableEvent(caseId, "cannot encode \(event.typeName): \(error)")
                }
                newEvents.append(NewEvent(
                    id: Self.eventId(commandId: commandId, index: index), type: encoded.type,
                    schemaVersion: encoded.schemaVersion, payload: encoded.payload, metadata: metadata))
            }
            let expected: ExpectedVersion = stored.isEmpty ? .noStream : .exact(Int64(stored.count))
            do {
                let result = try store.append(to: CaseStreams.streamId(caseId), expected: expected, events: newEvents)
                return CommandOutcome(
                    caseId: caseId, version: result.streamVersion, positions: result.events.map(\.position),
                    eventTypes: result.events.map(\.type), wasAlreadyRecorded: result.wasAlreadyStored)
            } catch where error.kind == .wrongExpectedVersion {
                if attempt > retries {
                    throw .concurrentUpdate(caseId, expected: Int64(stored.count), actual: error.actualVersion ?? -1)
                }
            } catch where error.kind == .duplicateEventId {
                // The command id was used on another case (or its events sit elsewhere).
                throw try reuse(of: commandId) ?? .storage(error)
            } catch {
                throw .storage(error)
            }
        }
    }

    /// The metadata extra holding a digest of the command that wrote the event.
    public static let commandDigestKey = "commandDigest"

    /// SHA-256 of the case id and the command's canonical encoding, in hex: the same command
    /// sent again has the same digest, a different one (almost surely) not.
    static func digest(of command: CaseCommand, caseId: CaseID) -> String {
        var hasher = SHA256()
        hasher.update(data: Array("imr-command-v1".utf8))
        hasher.update(data: withUnsafeBytes(of: Int64(caseId.rawValue.utf8.count).bigEndian) { Array($0) })
        hasher.update(data: Array(caseId.rawValue.utf8))
        hasher.update(data: command.canonicalEncoding)
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// The earlier command recorded under `commandId`, wherever it is; nil when none is.
    func reuse(of commandId: UUID) throws(CaseServiceError) -> CaseServiceError? {
        let first: RecordedEvent?
        do { first = try store.event(id: Self.eventId(commandId: commandId, index: 0)) } catch { throw .storage(error) }
        guard let first else { return nil }
        let events: [RecordedEvent]
        do { events = try store.read(stream: first.streamId, from: first.streamVersion) } catch { throw .storage(error) }
        let mine = events.prefix { $0.metadata.commandId == first.metadata.commandId }
        return .commandIdReused(CommandIdReuse(
            commandId: commandId, caseId: CaseStreams.caseId(ofStream: first.streamId)?.rawValue ?? first.streamId,
            eventTypes: mine.map(\.type), positions: mine.map(\.position)))
    }

    private func load(_ caseId: CaseID) throws(CaseServiceError) -> (CaseState, [RecordedEvent]) {
        let stored: [RecordedEvent]
        do { stored = try store.read(stream: CaseStreams.streamId(caseId)) } catch { throw .storage(error) }
        do {
            return (try CaseStreams.fold(stored), stored)
        } catch {
            throw .unreadableEvent(caseId, "\(error)")
        }
    }

    /// The outcome of the command recorded earlier under `commandId` on this case, when it is
    /// the same command; a different command under that id is refused.
    private func earlierOutcome(of commandId: UUID, digest: String, in stored: [RecordedEvent], caseId: CaseID) throws(CaseServiceError) -> CommandOutcome? {
        let first = Self.eventId(commandId: commandId, index: 0)
        guard let start = stored.firstIndex(where: { $0.id == first }) else { return nil }
        let mine = stored[start...].prefix { $0.metadata.commandId == commandId.uuidString.lowercased() }
        // Events recorded before digests were kept carry none: they count as the same command.
        if let earlier = stored[start].metadata.extras[Self.commandDigestKey], earlier != digest {
            throw .commandIdReused(CommandIdReuse(
                commandId: commandId, caseId: caseId.rawValue, eventTypes: mine.map(\.type), positions: mine.map(\.position)))
        }
        return CommandOutcome(
            caseId: caseId, version: mine.last!.streamVersion, positions: mine.map(\.position),
            eventTypes: mine.map(\.type), wasAlreadyRecorded: true)
    }

    /// Event ids derived from the command id: a retried command yields the same ids, which
    /// the event log recognises as already stored.
    static func eventId(commandId: UUID, index: Int) -> UUID {
        var hasher = SHA256()
        hasher.update(data: Array("imr-command-event".utf8))
        hasher.update(data: Array(commandId.uuidString.lowercased().utf8))
        hasher.update(data: withUnsafeBytes(of: Int64(index).bigEndian) { Array($0) })
        var bytes = Array(hasher.finalize().prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50  // version 5 style: name-based
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 4122 variant
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
