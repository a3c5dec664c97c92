import EventStore
import Foundation
import IMRCommandLine
import IMRService
import Synchronization
import Testing
import Varlink
import Workflow

/// `imr-ctl demo` records its caseload over several connections at once (the daemon commits
/// what arrives together as one group): every case must end as one connection would leave it,
/// and a refusal must stop the recording and name its case.
@Suite struct DemoRecordingTests {
    static func caseload() -> [SyntheticCaseload.Call] {
        var caseload = SyntheticCaseload(
            now: CaseListPagingTests.now,
            count: 24,
            seed: 3,
            coordinators: ["maria", "li"]
        )
        return caseload.calls()
    }

    /// Each synthetic case's events (their types, in stream order), read from the store.
    static func streams(of calls: [SyntheticCaseload.Call], in store: EventStore) throws -> [String: [String]] {
        var streams: [String: [String]] = [:]
        for caseId in Set(calls.compactMap { $0.parameters["caseId"]?.stringValue }) {
            streams[caseId] = try store.read(stream: CaseStreams.streamId(CaseID(caseId))).map(\.type)
        }
        return streams
    }

    @Test func eightConnectionsLeaveEveryCaseAsOneConnectionDoes() async throws {
        let calls = Self.caseload()
        let alone = Mutex<[String: [String]]>([:])
        try await CaseListPagingTests.withCasesSocket(1) { store, _, path in
            try Demo.record(calls, at: path, connections: 1)
            let streams = try Self.streams(of: calls, in: store)
            alone.withLock { $0 = streams }
        }
        try await CaseListPagingTests.withCasesSocket(1) { store, _, path in
            try Demo.record(calls, at: path, connections: 8)
            let together = try Self.streams(of: calls, in: store)
            #expect(together.count == 24)
            #expect(together.values.allSatisfy { $0.count >= 2 }, "every case opened and taken on")
            #expect(together == alone.withLock { $0 })
        }
    }

    @Test func aRefusedFactStopsTheRecordingAndNamesItsCase() async throws {
        var calls = Self.caseload()
        // The first case opened again where the second case begins: the lifecycle refuses it.
        let again = calls[0]
        #expect(again.method == "Open")
        let caseId = try #require(again.parameters["caseId"]?.stringValue)
        let second = try #require(calls.firstIndex { $0.parameters["caseId"]?.stringValue != caseId })
        calls.insert(again, at: second)
        let recorded = calls
        let lastCase = try #require(recorded.last?.parameters["caseId"]?.stringValue)
        for connections in [4, 1] {
            try await CaseListPagingTests.withCasesSocket(1) { store, _, path in
                let failure = #expect(throws: CommandFailure.self) {
                    try Demo.record(recorded, at: path, connections: connections)
                }
                #expect(
                    failure?.message.hasPrefix("the synthetic case \(caseId) was refused (Open)") == true,
                    "\(failure?.message ?? "")"
                )
                #expect(failure?.status == .refused)
                if connections == 1 {
                    // Nothing after the refusal was sent on its connection.
                    let last = try store.read(stream: CaseStreams.streamId(CaseID(lastCase)))
                    #expect(last.isEmpty)
                }
            }
        }
    }
}
