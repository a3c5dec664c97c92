import EventStore
import Foundation
import IMRWire
import IMRCommandLine
import Testing
@testable import IMRService
import Varlink
import Workflow

/// The deadline read model writes each running deadline's body by hand (`wireJSON`); it must
/// say what Foundation's encoder says for every deadline a real caseload produces.
struct DeadlineWireTests {
    @Test func everyDeadlineOfASyntheticCaseloadWritesTheSameJSONAsTheCodableEncoder() throws {
        var checked = 0
        var optionalsSeen: Set<String> = []
        let now = SyntheticStates.now
        _ = try SyntheticStates.fold(cases: 60, seed: 7) { state in
            for deadline in DeadlineEngine.deadlines(for: state, now: now) {
                let ours = try JSONDecoder().decode(JSONValue.self, from: Data(deadline.wireJSON.serialized))
                let theirs = try JSONDecoder().decode(JSONValue.self, from: WireFormat.encoder.encode(deadline))
                #expect(ours == theirs, "\(deadline.id)")
                // The read model's bodies, written straight to bytes, are the same text exactly.
                #expect(deadline.wireBytes == deadline.wireJSON.serialized, "\(deadline.id)")
                // A superseded deadline (which this caseload's corrections do not reach) too.
                var superseded = deadline
                superseded.supersededBy = "\(deadline.id)#corrected \"1\""
                #expect(superseded.wireBytes == superseded.wireJSON.serialized)
                // And it reads back as the same deadline (to the second, as every instant on the wire).
                let back = try WireFormat.decoder.decode(CaseDeadline.self, from: Data(deadline.wireJSON.serialized))
                #expect(
                    back.id == deadline.id && back.explanation == deadline.explanation
                        && back.satisfiedBy?.on == deadline.satisfiedBy?.on
                )
                for (key, present) in [
                    ("rfaId", deadline.rfaId != nil), ("satisfiedBy", deadline.satisfiedBy != nil),
                    ("statusNote", deadline.statusNote != nil), ("at", deadline.trigger.at != nil),
                    ("supersededBy", deadline.supersededBy != nil),
                    ("eventVersion", deadline.trigger.eventVersion != nil),
                    ("satisfiedBy.at", deadline.satisfiedBy?.at != nil),
                    ("satisfiedBy.eventId", deadline.satisfiedBy?.eventId != nil),
                ]
                where present {
                    optionalsSeen.insert(key)
                }
                checked += 1
            }
        }
        #expect(checked > 500, "\(checked) deadlines")
        // Every optional field was present somewhere, so its encoding was compared too.
        #expect(
            optionalsSeen == [
                "rfaId", "satisfiedBy", "statusNote", "at", "eventVersion", "satisfiedBy.at", "satisfiedBy.eventId",
            ]
        )
    }
}
