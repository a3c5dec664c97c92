import Foundation
import IMRCommandLine
import IMRWire
import Testing
import Varlink
import Workflow

/// The codec's fast path on the events a real log is made of: the synthetic caseload that
/// `imr-bench seed` and the demo write, decided as the daemon decides it.
@Suite struct SyntheticCaseloadCodecTests {
    @Test func everyEventOfTheSyntheticCaseload_readsTheSame_fastAndWithCodable() throws {
        let now = Pacific.instant(LocalDate(iso: "2026-11-30")!, hour: 9)
        let cases = 600
        var caseload = SyntheticCaseload(now: now, count: cases, seed: 13, coordinators: ["maria", "li", "jorge"])
        var fastByType: [String: Int] = [:]
        var events = 0
        for number in 0..<cases {
            var state = CaseState()
            for call in caseload.calls(ofCase: number) {
                let varlinkCall = VarlinkCall(method: "io.imr.Cases." + call.method, parameters: call.parameters)
                guard let command = try? RecordingCall.command(for: varlinkCall),
                    let decided = try? decide(command, state: state, now: now)
                else { continue }
                for event in decided {
                    let encoded = try CaseEventCodec.encode(event)
                    let codable = try CaseEventCodec.decodeWithCodable(
                        type: encoded.type,
                        schemaVersion: encoded.schemaVersion,
                        payload: encoded.payload
                    )
                    let fast = CaseEventCodec.decodeFast(
                        type: encoded.type,
                        schemaVersion: encoded.schemaVersion,
                        payload: encoded.payload
                    )
                    #expect(codable == event)
                    #expect(encoded.payload == (try CaseEventCodec.encodeWithCodable(event)))
                    #expect(fast == codable, "\(String(decoding: encoded.payload, as: UTF8.self))")
                    events += 1
                    if fast != nil { fastByType[encoded.type, default: 0] += 1 }
                    state = evolve(
                        state,
                        RecordedCaseEvent(event: codable, version: state.version + 1, eventId: UUID(), recordedAt: now)
                    )
                }
            }
        }
        // Every event of the caseload is of a type the fast path reads, and the caseload has them all.
        #expect(fastByType.values.reduce(0, +) == events)
        #expect(
            Set(fastByType.keys) == [
                "CaseOpened", "RFAReceived", "URDecisionIssued", "WrittenURDecisionServed", "PhysicianNotified",
                "IMRApplicationReceived", "IMREligibilityFound", "IMRAssigned", "IMRRecordsReceived",
                "IMRDeterminationIssued", "MoreInformationRequested", "CaseClosed", "DeterminationImplemented",
                "WCABAppealFiled",
            ],
            "\(fastByType)"
        )
    }
}
