import Foundation
import Testing
@testable import Workflow

@Suite struct CaseCodecTests {
    @Test func everyLifecycleEvent_roundTripsWithItsTypeNameAndVersion() throws {
        var h = try Example.harness(through: 10)
        try h.run(
            .implementDetermination(
                DeterminationImplemented(itemId: "1", implementedOn: day("2024-05-06"), kind: .reimbursed)
            )
        )
        try h.run(
            .correct(
                CorrectEvent(version: 5, field: .serviceDestination, value: .text("other-state"), reason: "address")
            )
        )
        try h.run(.addNote("done"))
        for recorded in h.log {
            let encoded = try CaseEventCodec.encode(recorded.event)
            #expect(encoded.type == recorded.event.typeName)
            #expect(encoded.schemaVersion == CaseEventCodec.currentVersions[encoded.type])
            let decoded = try CaseEventCodec.decode(
                type: encoded.type,
                schemaVersion: encoded.schemaVersion,
                payload: encoded.payload
            )
            #expect(decoded == recorded.event)
            // Sorted keys: equal events give equal bytes.
            #expect(try CaseEventCodec.encode(decoded).payload == encoded.payload)
        }
        #expect(
            h.log.map(\.event.typeName) == [
                "CaseOpened", "RFAReceived", "URDecisionIssued", "PhysicianNotified", "WrittenURDecisionServed",
                "IMRApplicationReceived", "IMREligibilityFound", "IMRAssigned", "IMRRecordsReceived",
                "IMRDeterminationIssued", "DeterminationImplemented", "EventCorrected", "NoteAdded",
            ]
        )
    }

    @Test func typeNamesAreStable_andOnlyThreeEventsAreAtVersion2() {
        #expect(CaseEventCodec.currentVersions.count == 25)
        let atVersion2: Set = ["RFAReceived", "IMRAssigned", "IMRDeterminationIssued"]
        for name in atVersion2 { #expect(CaseEventCodec.currentVersions[name] == 2, "\(name)") }
        #expect(CaseEventCodec.currentVersions.filter { !atVersion2.contains($0.key) }.values.allSatisfy { $0 == 1 })
        #expect(CaseEventCodec.currentVersions["DisputedItemsImported"] == 1)
        for name in [
            "MoreInformationRequested", "InformationReceived", "URDeferred", "IMRFoundIneligible",
            "WCABAppealFiled", "WCABAppealResolved", "CaseWithdrawn", "CaseClosed", "CoordinatorReassigned",
            "IMREligibilityInformationRequested", "IMREligibilityInformationSent",
        ] {
            #expect(CaseEventCodec.currentVersions[name] != nil, "\(name)")
        }
    }

    @Test func payloadIsSortedJSON_withInstantsAsEpochSeconds() throws {
        let encoded = try CaseEventCodec.encode(.urDecisionIssued(Example.urDecision))
        let text = String(decoding: encoded.payload, as: UTF8.self)
        let seconds = Int(Example.urDecision.decidedAt.timeIntervalSince1970)
        #expect(text.hasPrefix("{\"decidedAt\":\(seconds),\"decisions\":["))
        #expect(text.hasSuffix("\"rfaId\":\"A\"}"))
    }

    @Test func version1RFAReceived_isUpcastToItemsAndAnInstant() throws {
        let v1 = """
            {"rfaId":"R7","receivedDate":"2016-04-18","transmission":"mail","physician":"Dr. Ortiz",
             "reviewType":"prospective","expedited":false,"treatment":"12 chiropractic visits"}
            """
        let event = try CaseEventCodec.decode(type: "RFAReceived", schemaVersion: 1, payload: Data(v1.utf8))
        guard case .rfaReceived(let rfa) = event else {
            Issue.record("decoded \(event)")
            return
        }
        #expect(rfa.rfaId == "R7")
        #expect(rfa.items == [RequestedItem(id: "R7", description: "12 chiropractic visits")])
        #expect(rfa.receivedAt == Pacific.startOfDay(day("2016-04-18")))
        #expect(Pacific.date(of: rfa.receivedAt) == day("2016-04-18"))
        #expect(rfa.receivedTimeOfDayKnown == false)
        #expect(rfa.formulary == false)
        #expect(rfa.transmission == .mail)
        #expect(rfa.treatmentRecommendedOn == nil)

        // An upcast event re-encodes at the current version and folds like any other.
        let reencoded = try CaseEventCodec.encode(event)
        #expect(reencoded.schemaVersion == 2)
        #expect(try CaseEventCodec.decode(type: "RFAReceived", schemaVersion: 2, payload: reencoded.payload) == event)
        var opened = Example.opened
        opened.dateOfInjury = day("2016-01-04")
        let state = CaseState.rebuild(from: [
            RecordedCaseEvent(event: .caseOpened(opened), version: 1, eventId: eventId(1), recordedAt: Example.now),
            RecordedCaseEvent(event: event, version: 2, eventId: eventId(2), recordedAt: Example.now),
        ])
        #expect(state.item("R7")?.status == .pendingUR)
        #expect(state.stage == .rfaReceived)
    }

    @Test func unknownTypes_futureVersions_andBadCaseNumbers_areRefused() throws {
        let encoded = try CaseEventCodec.encode(.imrAssigned(Example.assigned))
        #expect(throws: CaseEventDecodingError.self) {
            try CaseEventCodec.decode(type: "IMRAssigned", schemaVersion: 3, payload: encoded.payload)
        }
        #expect(throws: CaseEventDecodingError.self) {
            try CaseEventCodec.decode(type: "AlienLanded", schemaVersion: 1, payload: encoded.payload)
        }
        let bad = String(decoding: encoded.payload, as: UTF8.self).replacingOccurrences(
            of: "CM24-0012345",
            with: "CM24-12345"
        )
        let error = #expect(throws: CaseEventDecodingError.self) {
            try CaseEventCodec.decode(type: "IMRAssigned", schemaVersion: 1, payload: Data(bad.utf8))
        }
        #expect(error?.type == "IMRAssigned")
    }
}
