import Foundation
import IMRCommandLine
import IMRWire
import Varlink
import Workflow

/// A synthetic caseload's cases folded in memory, with no store: each lifecycle command of
/// the demo's mix decided against its case's state and its events evolved into it, as the
/// daemon would. For tests that need many realistic states or deadlines.
enum SyntheticStates {
    static let now = Date(timeIntervalSince1970: 1_780_000_000)

    /// The final state of each case.
    static func fold(cases: Int, seed: UInt64, coordinators: [String] = ["maria", "li"]) -> [String: CaseState] {
        fold(cases: cases, seed: seed, coordinators: coordinators) { _ in }
    }

    /// The final state of each case; `afterEach` sees every state a command leaves.
    static func fold(
        cases: Int,
        seed: UInt64,
        coordinators: [String] = ["maria", "li"],
        afterEach: (CaseState) throws -> Void
    ) rethrows -> [String: CaseState] {
        var caseload = SyntheticCaseload(now: now, count: cases, seed: seed, coordinators: coordinators)
        var states: [String: CaseState] = [:]
        for call in caseload.calls() {
            let varlinkCall = VarlinkCall(method: "io.imr.Cases." + call.method, parameters: call.parameters)
            guard let caseId = call.parameters["caseId"]?.stringValue,
                let command = try? RecordingCall.command(for: varlinkCall),
                let events = try? decide(command, state: states[caseId] ?? CaseState(), now: now)
            else { continue }
            var state = states[caseId] ?? CaseState()
            for event in events {
                state = evolve(
                    state,
                    RecordedCaseEvent(event: event, version: state.version + 1, eventId: UUID(), recordedAt: now)
                )
            }
            states[caseId] = state
            try afterEach(state)
        }
        return states
    }
}
