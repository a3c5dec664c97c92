import Foundation
import IMRCommandLine
import Testing
import Varlink

/// The demo's caseload must look like a claims administrator's: expedited reviews decided
/// within their 72 hours as well as clocks still running or missed.
@Suite struct SyntheticCaseloadMixTests {
    @Test func someExpeditedReviewsAreDecidedWithinTheir72Hours_andSomeAwaitUR() throws {
        var caseload = SyntheticCaseload(
            now: Date(timeIntervalSince1970: 1_796_000_000),
            count: 200,
            seed: 2026,
            coordinators: ["maria"]
        )
        let calls = caseload.calls()
        let iso = ISO8601DateFormatter()
        var received: [String: Date] = [:]
        var decidedInTime = 0
        var awaiting = Set<String>()
        for call in calls {
            let caseId = call.parameters["caseId"]?.stringValue ?? ""
            switch call.method {
            case "ReceiveRFA" where call.parameters["expedited"] == .bool(true):
                received[caseId] = iso.date(from: call.parameters["receivedAt"]?.stringValue ?? "")
                awaiting.insert(caseId)
            case "DecideUR":
                guard let at = received[caseId] else { break }
                awaiting.remove(caseId)
                let decided = try #require(iso.date(from: call.parameters["decidedAt"]?.stringValue ?? ""))
                #expect(decided.timeIntervalSince(at) <= 72 * 3600, "\(caseId)")
                decidedInTime += 1
            default: break
            }
        }
        #expect(decidedInTime > 0)
        #expect(!awaiting.isEmpty)
    }
}
