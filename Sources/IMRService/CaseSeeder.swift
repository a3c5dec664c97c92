import EventStore
import Foundation
import Workflow

/// Writes whole cases into a store at once, with the read models: each case's commands decided
/// in memory one after another, its events appended in one request (so the read models work
/// out its rows once, for its last event), many cases to a transaction. For building large
/// stores to measure (`imr-bench seed`), not for recording what happens: there is no command
/// id to retry under, and every event is stamped with the same time.
package struct CaseSeeder: Sendable {
    let store: EventStore
    let actor: Actor

    package init(store: EventStore, actor: Actor) {
        self.store = store
        self.actor = actor
    }

    /// What one batch wrote.
    package struct Outcome: Sendable {
        package var cases = 0
        package var events = 0
        /// Commands the lifecycle refused (left out; the case keeps what came before).
        package var refused = 0

        package init() {}
    }

    /// A batch decided and encoded, ready to append.
    package struct Prepared: @unchecked Sendable {
        let cases: [(CaseID, [NewEvent], [UUID: CaseEvent], Int)]
        let now: Date
        /// Cases in the batch (those the generator gave, whether or not they had events).
        package var count: Int { cases.count }
    }

    /// Appends every case of `batch` (new cases: each stream must not exist) in one
    /// transaction, each case's commands decided at `now` (`interleaved`: see ``write(_:interleaved:)``).
    package func seed(
        _ batch: [(caseId: CaseID, commands: [CaseCommand])],
        now: Date,
        interleaved: Bool = false
    ) throws -> Outcome {
        try write(prepare(batch, now: now), interleaved: interleaved)
    }

    /// Decides and encodes a batch (pure, on any thread): a caller may prepare the next batch
    /// while the last one is written.
    package func prepare(_ batch: [(caseId: CaseID, commands: [CaseCommand])], now: Date) -> Prepared {
        Prepared(cases: batch.map { prepare($0.caseId, $0.commands, now: now) }, now: now)
    }

    /// Appends a prepared batch in one transaction. `interleaved`: event by event in turns (the
    /// first event of every case of the batch, then every second one, and so on), so that the
    /// log interleaves the batch's cases as a log recorded over time does, instead of holding
    /// each case's events together.
    package func write(_ prepared: Prepared, interleaved: Bool = false) throws -> Outcome {
        let now = prepared.now
        return try store.write { context in
            var outcome = Outcome()
            var turns: [(streamId: String, events: [NewEvent], hint: CaseStreams.AppendHint)] = []
            for (caseId, events, readBack, refused) in prepared.cases {
                outcome.refused += refused
                guard !events.isEmpty else { continue }
                let streamId = CaseStreams.streamId(caseId)
                let hint = CaseStreams.AppendHint(
                    streamId: streamId,
                    base: CaseState(),
                    baseVersion: 0,
                    events: readBack
                )
                outcome.cases += 1
                outcome.events += events.count
                if interleaved {
                    turns.append((streamId, events, hint))
                } else {
                    try context.append(to: streamId, expected: .noStream, events: events, hint: hint, recordedAt: now)
                }
            }
            var turn = 0
            while !turns.isEmpty {
                for (streamId, events, hint) in turns {
                    // One hint for all of a case's appends: it works each state out from the one before.
                    try context.append(
                        to: streamId,
                        expected: turn == 0 ? .noStream : .exact(Int64(turn)),
                        events: [events[turn]],
                        hint: hint,
                        recordedAt: now
                    )
                }
                turn += 1
                turns.removeAll { $0.events.count <= turn }
            }
            return outcome
        }
    }

    /// A case's events, decided and encoded (pure: run it on any thread).
    private func prepare(
        _ caseId: CaseID,
        _ commands: [CaseCommand],
        now: Date
    )
        -> (CaseID, [NewEvent], [UUID: CaseEvent], Int)
    {
        var state = CaseState()
        var events: [NewEvent] = []
        var readBack: [UUID: CaseEvent] = [:]
        var refused = 0
        let recordedAt = now.roundedToStoredMicroseconds
        for command in commands {
            guard let decided = try? decide(command, state: state, now: now), !decided.isEmpty else {
                refused += 1
                continue
            }
            // As the daemon records a command sent without an id: one made here, time-ordered.
            let commandId = CaseService.CommandIdentity(id: .timeOrdered(now: now), digest: nil)
            let metadata = EventMetadata(
                actor: actor.label,
                correlationId: commandId.id.lowercasedText,
                commandId: commandId.id.lowercasedText
            )
            guard
                let encoded = CaseService.encode(
                    decided,
                    commandId: commandId,
                    metadata: metadata,
                    on: state,
                    at: Int64(state.version),
                    recordedAt: recordedAt
                )
            else {
                refused += 1
                continue
            }
            events += encoded.newEvents
            readBack.merge(encoded.readBack) { new, _ in new }
            state = encoded.final
        }
        return (caseId, events, readBack, refused)
    }
}
