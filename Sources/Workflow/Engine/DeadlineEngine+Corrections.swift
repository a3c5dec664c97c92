import Foundation

/// How a correction shows in a case's deadlines: each clock it moved says so, and its
/// pre-correction copy is kept as `superseded`.
extension DeadlineEngine {
    static func withCorrections(
        _ derived: [CaseDeadline],
        state: CaseState,
        now: Date,
        calculator: DeadlineCalculator
    ) -> [CaseDeadline] {
        var current = derived
        guard !state.corrections.isEmpty else { return current }

        // The same case as if no correction had been recorded: what the coordinator saw before.
        let uncorrectedLog = state.recorded.filter {
            if case .eventCorrected = $0.event { return false }
            return true
        }
        let before = derive(CaseState.rebuild(from: uncorrectedLog), now: now, calculator: calculator).deadlines
        var indexByID: [String: Int] = [:]
        for (index, deadline) in current.enumerated() { indexByID[deadline.id] = index }
        var superseded: [CaseDeadline] = []
        for old in before {
            if let index = indexByID[old.id] {
                let new = current[index]
                guard new.due != old.due || new.trigger != old.trigger else {
                    // Same clock, but a corrected act can change whether it was met.
                    if new.status != old.status || new.satisfiedBy != old.satisfiedBy {
                        let versions = Set(
                            [old.satisfiedBy?.eventVersion, new.satisfiedBy?.eventVersion].compactMap { $0 }
                        )
                        let line = "status after a correction: \(new.status.rawValue) (was \(old.status.rawValue))"
                        current[index].correctionNotes.append(line)
                        current[index].correctionNotes.append(contentsOf: correctionLines(state, touching: versions))
                        current[index].explanation.append(line)
                    }
                    continue
                }
                let versions = Set([old.trigger.eventVersion, new.trigger.eventVersion].compactMap { $0 })
                let notes = correctionLines(state, touching: versions)
                let line = "recomputed after a correction: was due \(describeDue(old)), now due \(describeDue(new))"
                current[index].correctionNotes.append(line)
                current[index].correctionNotes.append(contentsOf: notes)
                current[index].explanation.append(line)
                current[index].explanation.append(contentsOf: notes)
                superseded.append(supersede(old, by: new.id, note: "replaced by \(new.id) after a correction"))
            } else if let replacement = current.first(where: { sameClockFamily($0, old) }) {
                // A corrected flag (expedited, formulary, review type) chose another UR decision rule.
                let line =
                    "recomputed after a correction: \(old.rule.rawValue) was due \(describeDue(old)), "
                    + "now \(replacement.rule.rawValue) is due \(describeDue(replacement))"
                if let index = indexByID[replacement.id], !current[index].correctionNotes.contains(line) {
                    current[index].correctionNotes.append(line)
                    current[index].correctionNotes.append(contentsOf: correctionLines(state, touching: []))
                    current[index].explanation.append(line)
                }
                superseded.append(
                    supersede(old, by: replacement.id, note: "replaced by \(replacement.id) after a correction")
                )
            } else {
                superseded.append(
                    supersede(
                        old,
                        by: nil,
                        note: "a correction removed this deadline: the corrected facts do not start this clock"
                    )
                )
            }
        }
        return current + superseded
    }

    static let urDecisionRules: Set<RuleID> = [
        .urDecisionProspective, .urDecisionExpedited, .urDecisionRetrospective, .urDecisionFormulary,
    ]

    /// Whether `a` and `b` are the UR decision clock of the same RFA under different rules.
    static func sameClockFamily(_ a: CaseDeadline, _ b: CaseDeadline) -> Bool {
        a.rfaId == b.rfaId && a.round == b.round && urDecisionRules.contains(a.rule) && urDecisionRules.contains(b.rule)
    }

    static func supersede(_ old: CaseDeadline, by id: String?, note: String) -> CaseDeadline {
        var copy = old
        copy.id = old.id + "/superseded"
        copy.status = .superseded
        copy.supersededBy = id
        copy.statusNote = note
        return copy
    }

    static func describeDue(_ deadline: CaseDeadline) -> String {
        deadline.isExactInstant ? Pacific.rfc3339(deadline.due) : "end of \(deadline.dueDate.shortLabel)"
    }

    /// The corrections that changed the events at `versions` (all corrections when none did,
    /// because then the change came through a fact the trigger depends on indirectly).
    static func correctionLines(_ state: CaseState, touching versions: Set<Int>) -> [String] {
        let direct = state.corrections.filter { versions.contains($0.correction.correctedVersion) }
        return (direct.isEmpty ? state.corrections : direct).map { applied in
            let c = applied.correction
            let type = state.recorded.first { $0.version == c.correctedVersion }?.event.typeName ?? "event"
            return
                "correction (event \(applied.version)): \(c.field.rawValue) of \(type) (event \(c.correctedVersion)) "
                + "set to \(c.value); reason: \(c.reason)"
        }
    }
}
