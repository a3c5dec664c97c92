import EventStore
import Foundation
import Synchronization
import Workflow

/// How cases live in the event log: one stream per case, named `case-<id>`.
package enum CaseStreams {
    package static let prefix = "case-"

    package static func streamId(_ caseId: CaseID) -> String { prefix + caseId.rawValue }

    /// The case id of a case stream; nil for other streams.
    /// Compares and cuts by UTF-8 bytes: three read models ask for every event a rebuild
    /// applies, and `hasPrefix`/`dropFirst` walk characters (5% of a rebuild's applying thread).
    package static func caseId(ofStream streamId: String) -> CaseID? {
        let bytes = streamId.utf8
        guard bytes.starts(with: prefixBytes) else { return nil }
        return CaseID(String(streamId[bytes.index(bytes.startIndex, offsetBy: prefixBytes.count)...]))
    }

    private static let prefixBytes = Array(prefix.utf8)

    /// Decodes a stored event of a case stream.
    package static func decode(_ event: RecordedEvent) throws -> RecordedCaseEvent {
        let payload = try CaseEventCodec.decode(
            type: event.type,
            schemaVersion: event.schemaVersion,
            payload: event.payloadData
        )
        return RecordedCaseEvent(
            event: payload,
            version: Int(event.streamVersion),
            eventId: event.id,
            recordedAt: event.recordedAt
        )
    }

    /// Folds a case stream's stored events into its state.
    package static func fold(_ events: [RecordedEvent]) throws -> CaseState {
        CaseState.rebuild(from: try events.map(decode))
    }

    /// The case's state as of `event`, for the read models applied to it inside the append.
    ///
    /// The first read model reads and folds the stream; the others applied to the same event
    /// reuse that state, and the stream's next event evolves it by one event (which equals a
    /// fold: ``evolve(_:_:)`` and `CaseState.rebuild` agree by construction). A state is reused
    /// only on the same connection, for the same stream, position and event id, and evolved only
    /// from the version just before, so neither another store nor an append that rolled back
    /// leaks into it.
    package static func state(after event: RecordedEvent, in db: ProjectionDatabase) throws -> CaseState {
        if let batch = db.prepared as? PreparedCases, let state = batch.states[event.id] { return state }
        if let hint = db.appendHint as? AppendHint, let state = hint.state(after: event) { return state }
        let cached = lastState.withLock { $0 }
        if let cached, cached.connection == db.connectionSerial, cached.streamId == event.streamId {
            if cached.position == event.position && cached.eventId == event.id { return cached.state }
            if cached.position < event.position && cached.state.version == Int(event.streamVersion) - 1 {
                let state = evolve(cached.state, try decode(event))
                remember(state, after: event, in: db)
                return state
            }
        }
        let state = try fold(try db.events(inStream: event.streamId, upTo: event.streamVersion))
        remember(state, after: event, in: db)
        return state
    }

    /// What ``CaseService`` hands to the read models of its append: the state it decided the
    /// command on and the new events as they will read back from the log, so the read models
    /// evolve that state instead of reading and folding the stream.
    ///
    /// @unchecked Sendable: made, used and dropped on the writer thread within one append.
    final class AppendHint: @unchecked Sendable {
        let streamId: String
        let base: CaseState
        let baseVersion: Int64
        /// The new events by id, decoded from their stored payloads.
        let events: [UUID: CaseEvent]
        private var states: [Int64: CaseState] = [:]
        /// The deadline rows after the append's last event, when worked out ahead.
        var deadlines: PrecomputedDeadlines?

        init(
            streamId: String,
            base: CaseState,
            baseVersion: Int64,
            events: [UUID: CaseEvent],
            states: [Int64: CaseState] = [:]
        ) {
            self.streamId = streamId
            self.base = base
            self.baseVersion = baseVersion
            self.events = events
            self.states = states
        }

        /// The state after `event`, one of the appended events; nil for any other.
        func state(after event: RecordedEvent) -> CaseState? {
            guard event.streamId == streamId, let payload = events[event.id] else { return nil }
            if let known = states[event.streamVersion] { return known }
            let previous = event.streamVersion == baseVersion + 1 ? base : states[event.streamVersion - 1]
            guard let previous, previous.version == Int(event.streamVersion) - 1 else { return nil }
            let state = evolve(
                previous,
                RecordedCaseEvent(
                    event: payload,
                    version: Int(event.streamVersion),
                    eventId: event.id,
                    recordedAt: event.recordedAt
                )
            )
            states[event.streamVersion] = state
            return state
        }

        /// The state after the last of `stored` (the append's events as recorded).
        func finalState(_ stored: [RecordedEvent]) -> CaseState? {
            var state: CaseState?
            for event in stored { state = self.state(after: event) }
            return state
        }
    }

    /// What a rebuild pass works out ahead for the case read models (see
    /// ``EventStore/BatchPreparation``): each case's state after the last of its events in a
    /// batch and, given the deadline read model, that case's deadline rows. One preparation for
    /// the three case read models, so that a case is decoded, folded and derived once, on the
    /// rebuild's own thread.
    static func preparation(deadlines: DeadlineProjection?) -> BatchPreparation {
        BatchPreparation(key: "case-streams" + (deadlines == nil ? "" : "+deadlines")) {
            // A stream cut between two batches goes on from where the last batch left it.
            var carried: (streamId: String, state: CaseState)?
            return { events in
                var states: [UUID: CaseState] = [:]
                var rows: [UUID: PrecomputedDeadlines] = [:]
                var fresh: Set<String> = []
                var start = 0
                while start < events.count {
                    let streamId = events[start].streamId
                    var end = start
                    while end < events.count, events[end].streamId == streamId { end += 1 }
                    defer { start = end }
                    guard caseId(ofStream: streamId) != nil else { continue }
                    if events[start].streamVersion == 1 { fresh.insert(streamId) }
                    var state: CaseState? = events[start].streamVersion == 1 ? CaseState() : nil
                    if state == nil, let carried, carried.streamId == streamId,
                        Int64(carried.state.version) == events[start].streamVersion - 1
                    {
                        state = carried.state
                    }
                    carried = nil
                    for event in events[start..<end] {
                        // What cannot be worked out here is worked out by the read model itself.
                        guard let before = state, let decoded = try? decode(event) else {
                            state = nil
                            break
                        }
                        state = evolve(before, decoded)
                    }
                    guard let state else { continue }
                    let last = events[end - 1]
                    states[last.id] = state
                    carried = (streamId, state)
                    if let deadlines,
                        let computed = try? deadlines.rows(for: state, at: last.recordedAt, remember: false)
                    {
                        rows[last.id] = PrecomputedDeadlines(
                            producer: ObjectIdentifier(deadlines.bodies),
                            eventId: last.id,
                            rows: computed
                        )
                    }
                }
                return PreparedCases(states: states, deadlines: rows, fresh: fresh)
            }
        }
    }

    /// Whether a rebuild pass is applying the stream of `event` for the first time: its first
    /// event is in this batch. A rebuild pass starts on empty tables (the read model is reset
    /// or prepared afresh) and a case's rows come only from its own stream, so the case has no
    /// rows yet and its read models need not look for them. False outside a rebuild pass.
    package static func isFresh(_ event: RecordedEvent, in db: ProjectionDatabase) -> Bool {
        (db.prepared as? PreparedCases)?.fresh.contains(event.streamId) ?? false
    }

    private struct CachedState: Sendable {
        let connection: UInt64
        let streamId: String
        let position: Int64
        let eventId: UUID
        let state: CaseState
    }

    private static let lastState = Mutex<CachedState?>(nil)

    private static func remember(_ state: CaseState, after event: RecordedEvent, in db: ProjectionDatabase) {
        lastState.withLock {
            $0 = CachedState(
                connection: db.connectionSerial,
                streamId: event.streamId,
                position: event.position,
                eventId: event.id,
                state: state
            )
        }
    }
}

extension Date {
    /// Whole microseconds since 1970: how the read models store instants (SQLite integers).
    var unixMicroseconds: Int64 { Int64((timeIntervalSince1970 * 1_000_000).rounded()) }
}

/// A rebuild batch's cases worked out ahead (see ``CaseStreams/preparation(deadlines:)``), by the
/// id of each case's last event in the batch.
struct PreparedCases: Sendable {
    let states: [UUID: CaseState]
    let deadlines: [UUID: PrecomputedDeadlines]
    /// The case streams that start in this batch (their first event in it is their first).
    let fresh: Set<String>
}

/// The SET list of an UPDATE that writes only what moved: SQLite rewrites every index on a
/// column an UPDATE sets, even to the value it had, so a read model sets an indexed column
/// only when it changed (a command then writes a page of the table, not one per index).
struct ChangedColumns {
    private var sets: [String] = []
    private var values: [SQLiteValue] = []

    /// Sets `column` to `value` whatever it held (a column no index holds).
    mutating func always(_ column: String, _ value: SQLiteValue) {
        sets.append("\(column) = ?")
        values.append(value)
    }

    /// Sets `column` to `value` only if it held something else.
    mutating func set(_ column: String, _ value: SQLiteValue, was old: SQLiteValue) {
        if value != old { always(column, value) }
    }

    /// Runs the UPDATE of the row whose `key` is `id`; nothing when no column changed.
    func update(_ table: String, key: String, _ id: SQLiteValue, in db: ProjectionDatabase) throws {
        guard !sets.isEmpty else { return }
        try db.execute("UPDATE \(table) SET \(sets.joined(separator: ", ")) WHERE \(key) = ?", values + [id])
    }
}
