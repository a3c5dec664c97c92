import Foundation
import Testing
@testable import Workflow

@Suite struct CaseCorrectionTests {
    /// Version of the WrittenURDecisionServed event in `Example.harness`.
    let writtenVersion = 5

    @Test func correctingTheWrittenServiceDate_changesTheFold_andKeepsTheOriginal() throws {
        var h = try Example.harness(through: 5)
        let original = h.log[writtenVersion - 1]
        #expect(original.event == .writtenURDecisionServed(Example.written))

        try h.run(
            .correct(
                CorrectEvent(
                    version: writtenVersion,
                    eventId: original.eventId,
                    field: .servedOn,
                    value: .date(day("2024-03-08")),
                    reason: "proof of service shows 03-08"
                )
            )
        )

        #expect(h.state.item("1")?.writtenDecisionServedOn == day("2024-03-08"))
        #expect(h.state.item("2")?.writtenDecisionServedOn == day("2024-03-08"))
        #expect(h.state.recorded[writtenVersion - 1] == original)
        #expect(h.state.corrections.map(\.correction.correctedVersion) == [writtenVersion])
        #expect(h.state.corrections.first?.version == 6)
        #expect(CaseState.rebuild(from: h.log) == h.state)

        // Later checks read the corrected date: an application on 03-07 now precedes service.
        let violation = h.refusal(
            .receiveIMRApplication(IMRApplicationReceived(itemIds: ["1"], receivedOn: day("2024-03-07")))
        )
        #expect(violation?.code == .dateBeforeTrigger)
        #expect(violation?.message.contains("2024-03-08") == true)
    }

    @Test func laterCorrectionOfTheSameField_wins() throws {
        var h = try Example.harness(through: 5)
        for served in ["2024-03-08", "2024-03-07"] {
            try h.run(
                .correct(
                    CorrectEvent(version: writtenVersion, field: .servedOn, value: .date(day(served)), reason: "fix")
                )
            )
        }
        #expect(h.state.item("1")?.writtenDecisionServedOn == day("2024-03-07"))
        #expect(h.state.corrections.count == 2)
    }

    @Test func correctingTheRFAReceipt_movesTheDeadlineInputs() throws {
        var h = try Example.harness(through: 3)
        try h.run(
            .correct(
                CorrectEvent(
                    version: 2,
                    field: .receivedAt,
                    value: .instant(pacific("2024-02-26", 18, 5)),
                    reason: "fax header"
                )
            )
        )
        #expect(h.state.rfa("A")?.receivedAt == pacific("2024-02-26", 18, 5))
        try h.run(
            .correct(CorrectEvent(version: 2, field: .transmission, value: .text("email"), reason: "it was e-mailed"))
        )
        #expect(h.state.rfa("A")?.transmission == .email)
        // The decision still stands, with its own date.
        #expect(h.state.item("1")?.status == .denied)
    }

    @Test func correctionThatWouldPutAFactBeforeItsTrigger_isRefused() throws {
        let h = try Example.harness(through: 6)
        let violation = h.refusal(
            .correct(
                CorrectEvent(
                    version: writtenVersion,
                    field: .servedOn,
                    value: .date(day("2024-03-25")),
                    reason: "typo"
                )
            )
        )
        #expect(violation?.code == .dateBeforeTrigger)
        #expect(
            violation?.message
                == "Correcting servedOn of version 5 to 2024-03-25 would break the case at version 6: The IMR application for item 1 (2024-03-20) is before service of the written UR decision (2024-03-25); check both dates"
        )
    }

    @Test func correctionsOfUnknownEvents_wrongFields_orWrongValues_areRefused() throws {
        var h = try Example.harness(through: 5)
        let unknown = h.refusal(
            .correct(CorrectEvent(version: 42, field: .servedOn, value: .date(day("2024-03-08")), reason: "x"))
        )
        #expect(unknown?.code == .unknownEvent)
        #expect(unknown?.message == "This case has no event at version 42; it holds versions 1 to 5")

        let wrongId = h.refusal(
            .correct(
                CorrectEvent(
                    version: 5,
                    eventId: eventId(99),
                    field: .servedOn,
                    value: .date(day("2024-03-08")),
                    reason: "x"
                )
            )
        )
        #expect(wrongId?.code == .unknownEvent)

        let wrongField = h.refusal(
            .correct(CorrectEvent(version: 5, field: .assignedOn, value: .date(day("2024-03-08")), reason: "x"))
        )
        #expect(wrongField?.code == .uncorrectableField)
        #expect(
            wrongField?.message
                == "WrittenURDecisionServed has no correctable field assignedOn; correct a field the event records, or record a new event instead"
        )

        let wrongKind = h.refusal(
            .correct(CorrectEvent(version: 5, field: .servedOn, value: .text("March 8"), reason: "x"))
        )
        #expect(wrongKind?.code == .correctionValueMismatch)
        #expect(
            wrongKind?.message
                == "Correction of servedOn on WrittenURDecisionServed needs a date (YYYY-MM-DD), not 'March 8'"
        )

        let badChoice = h.refusal(
            .correct(CorrectEvent(version: 5, field: .serviceMethod, value: .text("pigeon"), reason: "x"))
        )
        #expect(badChoice?.code == .correctionValueMismatch)

        try h.run(.correct(CorrectEvent(version: 5, field: .servedOn, value: .date(day("2024-03-08")), reason: "x")))
        let ofCorrection = h.refusal(
            .correct(CorrectEvent(version: 6, field: .servedOn, value: .date(day("2024-03-09")), reason: "x"))
        )
        #expect(ofCorrection?.code == .uncorrectableField)
        #expect(ofCorrection?.message == "Version 6 is itself a correction; correct the original event instead")
    }

    @Test func correctedDateBeforeInjury_isRefused() throws {
        let h = try Example.harness(through: 5)
        let violation = h.refusal(
            .correct(CorrectEvent(version: 5, field: .servedOn, value: .date(day("2023-01-01")), reason: "x"))
        )
        #expect(violation?.code == .dateBeforeInjury)
    }

    @Test func correctionNamingALaterVersion_isIgnoredByTheFold() throws {
        // Only a forged log could hold one; the fold must stay total and order-independent.
        let h = try Example.harness(through: 3)
        var log = h.log
        let forged = EventCorrected(
            correctedEventId: eventId(5),
            correctedVersion: 5,
            field: .servedOn,
            value: .date(day("2024-03-09")),
            reason: "forged"
        )
        log.append(
            RecordedCaseEvent(event: .eventCorrected(forged), version: 4, eventId: eventId(4), recordedAt: Example.now)
        )
        log.append(
            RecordedCaseEvent(
                event: .writtenURDecisionServed(Example.written),
                version: 5,
                eventId: eventId(5),
                recordedAt: Example.now
            )
        )
        let state = CaseState.rebuild(from: log)
        #expect(state.item("1")?.writtenDecisionServedOn == day("2024-03-06"))
        #expect(state.corrections.isEmpty)
    }
}

@Suite struct CaseInjuryDateCorrectionTests {
    @Test func correctingTheDateOfInjury_rechecksEveryLaterFact() throws {
        var h = try Example.harness(through: 3)
        let tooLate = h.refusal(
            .correct(CorrectEvent(version: 1, field: .dateOfInjury, value: .date(day("2024-03-01")), reason: "x"))
        )
        #expect(tooLate?.code == .dateBeforeInjury)
        #expect(
            tooLate?.message.hasPrefix(
                "Correcting dateOfInjury of version 1 to 2024-03-01 would break the case at version 2: Receipt of RFA A"
            ) == true
        )

        try h.run(
            .correct(
                CorrectEvent(
                    version: 1,
                    field: .dateOfInjury,
                    value: .date(day("2023-10-30")),
                    reason: "DWC-1 says 10-30"
                )
            )
        )
        #expect(h.state.facts?.dateOfInjury == day("2023-10-30"))
        #expect(h.state.rfa("A")?.receivedOn == day("2024-02-26"))
        #expect(h.state.item("1")?.urDecidedOn == day("2024-03-05"))
    }
}
