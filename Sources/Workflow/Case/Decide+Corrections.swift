import Foundation

/// Corrections of earlier events, checked by replaying the corrected stream.
extension CaseRules {
    func correct(_ c: CorrectEvent) throws(CaseRuleViolation) -> EventCorrected {
        let facts = try openedFacts()
        guard let target = state.recorded.first(where: { $0.version == c.version }) else {
            throw refuse(
                .unknownEvent,
                "This case has no event at version \(c.version); it holds versions 1 to \(state.version)"
            )
        }
        if let id = c.eventId, id != target.eventId {
            throw refuse(
                .unknownEvent,
                "The event at version \(c.version) has id \(target.eventId), not \(id); reload the case and try again"
            )
        }
        if case .eventCorrected = target.event {
            throw refuse(
                .uncorrectableField,
                "Version \(c.version) is itself a correction; correct the original event instead"
            )
        }
        try requireText(c.reason, "The reason for the correction")
        _ = try target.event.correcting(c.field, to: c.value)
        if let day = c.value.day {
            if c.field != .dateOfInjury, day < facts.dateOfInjury {
                throw refuse(
                    .dateBeforeInjury,
                    "Corrected \(c.field.rawValue) (\(day)) is before the date of injury (\(facts.dateOfInjury)); check the date"
                )
            }
            if day > today {
                throw refuse(
                    .dateInFuture,
                    "Corrected \(c.field.rawValue) (\(day)) is in the future (today is \(today))"
                )
            }
        }
        let correction = EventCorrected(
            correctedEventId: target.eventId,
            correctedVersion: target.version,
            field: c.field,
            value: c.value,
            reason: c.reason
        )
        try replayWith(correction)
        return correction
    }

    /// Replays the stream as it would read after `correction`, checking every event
    /// against the rules, so a corrected date cannot put a fact before its trigger.
    private func replayWith(_ correction: EventCorrected) throws(CaseRuleViolation) {
        let proposed = evolve(
            state,
            RecordedCaseEvent(
                event: .eventCorrected(correction),
                version: state.version + 1,
                eventId: UUID(uuidString: "00000000-0000-0000-0000-000000000000")!,
                recordedAt: now
            )
        )
        var replayed = CaseState()
        for entry in proposed.recorded {
            if case .eventCorrected = entry.event { continue }
            let event = try entry.readThrough(proposed.corrections.map(\.correction))
            if let command = replayCommand(for: event) {
                do {
                    _ = try decide(command, state: replayed, now: now)
                } catch let violation {
                    throw refuse(
                        violation.code,
                        "Correcting \(correction.field.rawValue) of version \(correction.correctedVersion) to \(correction.value) would break the case at version \(entry.version): \(violation.message)"
                    )
                }
            }
            replayed = evolve(
                replayed,
                RecordedCaseEvent(
                    event: event,
                    version: entry.version,
                    eventId: entry.eventId,
                    recordedAt: entry.recordedAt
                )
            )
        }
    }
}
