import Foundation
import Testing
@testable import Workflow

/// The AD's request for eligibility information and the parties' response: the lifecycle
/// rules, the fold, the codec, corrections and the `imr.eligibility-response` clock.
@Suite struct CaseEligibilityInformationTests {
    /// The running example's AD asking the claims administrator for the UR denial letter.
    static func request(
        on requestedOn: LocalDate = day("2024-03-29"),
        items: [ItemID] = ["1"],
        from parties: [EligibilityInformationParty] = [.claimsAdministrator]
    ) -> IMREligibilityInformationRequested {
        IMREligibilityInformationRequested(
            itemIds: items,
            requestedOn: requestedOn,
            whatIsRequested: "copy of the UR denial letter",
            requestedFrom: parties
        )
    }

    // MARK: decide

    @Test func requestBeforeAnyIMRApplication_isRefused() throws {
        let h = try Example.harness(through: 5)
        let refusal = h.refusal(.requestEligibilityInformation(Self.request()))
        #expect(refusal?.code == .noIMRApplication)
        #expect(refusal?.message == "No IMR application for item 1 has been received; record the application first")
    }

    @Test func requestAfterTheEligibilityFinding_isRefused() throws {
        let h = try Example.harness(through: 7)
        let refusal = h.refusal(.requestEligibilityInformation(Self.request()))
        #expect(refusal?.code == .eligibilityAlreadyDecided)
        #expect(refusal?.message == "Item 1 was already found eligible for IMR on 2024-03-28")
    }

    @Test func requestDatedBeforeTheApplication_isRefused() throws {
        let h = try Example.harness(through: 6)
        let refusal = h.refusal(.requestEligibilityInformation(Self.request(on: day("2024-03-19"))))
        #expect(refusal?.code == .dateBeforeTrigger)
        #expect(
            refusal?.message
                == "The request for eligibility information on item 1 (2024-03-19) is before its IMR application (2024-03-20); check both dates"
        )
    }

    @Test func requestNamingNoParty_orAPartyTwice_orTwiceForAnItem_isRefused() throws {
        var h = try Example.harness(through: 6)
        let none = h.refusal(.requestEligibilityInformation(Self.request(from: [])))
        #expect(none?.code == .noParty)
        #expect(none?.message == "The request for eligibility information names no party; name who must answer it")
        let twice = h.refusal(.requestEligibilityInformation(Self.request(from: [.employee, .employee])))
        #expect(twice?.code == .duplicateParty)
        #expect(twice?.message == "The request for eligibility information names employee twice")

        try h.run(.requestEligibilityInformation(Self.request()))
        let again = h.refusal(.requestEligibilityInformation(Self.request(on: day("2024-04-01"))))
        #expect(again?.code == .alreadyRecorded)
        #expect(again?.message == "The AD already asked for eligibility information on item 1 on 2024-03-29")
    }

    @Test func responseWithoutARequest_isRefused() throws {
        let h = try Example.harness(through: 6)
        let refusal = h.refusal(
            .sendEligibilityInformation(IMREligibilityInformationSent(itemIds: ["1"], sentOn: day("2024-03-29")))
        )
        #expect(refusal?.code == .informationNotRequested)
        #expect(
            refusal?.message == "The AD has not asked for eligibility information on item 1; record its request first"
        )
    }

    @Test func responseBeforeTheRequest_orSentTwice_isRefused() throws {
        var h = try Example.harness(through: 6)
        try h.run(.requestEligibilityInformation(Self.request()))
        let early = h.refusal(
            .sendEligibilityInformation(IMREligibilityInformationSent(itemIds: ["1"], sentOn: day("2024-03-28")))
        )
        #expect(early?.code == .dateBeforeTrigger)
        #expect(
            early?.message
                == "The eligibility information on item 1 (2024-03-28) is before the AD's request (2024-03-29); check both dates"
        )

        try h.run(.sendEligibilityInformation(IMREligibilityInformationSent(itemIds: ["1"], sentOn: day("2024-04-03"))))
        let twice = h.refusal(
            .sendEligibilityInformation(IMREligibilityInformationSent(itemIds: ["1"], sentOn: day("2024-04-04")))
        )
        #expect(twice?.code == .alreadyRecorded)
        #expect(twice?.message == "The eligibility information on item 1 was already sent on 2024-04-03")
    }

    // MARK: fold, codec, corrections

    @Test func requestAndResponse_foldIntoTheItem_andLeaveItWaitingForEligibility() throws {
        var h = try Example.harness(through: 6)
        try h.run(.requestEligibilityInformation(Self.request(from: [.employee, .claimsAdministrator])))
        try h.run(.sendEligibilityInformation(IMREligibilityInformationSent(itemIds: ["1"], sentOn: day("2024-04-03"))))
        let item = try #require(h.state.item("1"))
        #expect(item.eligibilityInformationRequestedOn == day("2024-03-29"))
        #expect(item.eligibilityInformationRequested == "copy of the UR denial letter")
        #expect(item.eligibilityInformationRequestedFrom == [.employee, .claimsAdministrator])
        #expect(item.eligibilityInformationSentOn == day("2024-04-03"))
        #expect(item.status == .imrApplied)
        #expect(h.state.stage == .imrApplied)
        #expect(
            item.history.suffix(2).map(\.event) == [
                "IMREligibilityInformationRequested", "IMREligibilityInformationSent",
            ]
        )
        // The other item is untouched, and the finding can follow the response.
        #expect(h.state.item("2")?.eligibilityInformationRequestedOn == nil)
        try h.run(.findEligible(IMREligibilityFound(itemIds: ["1"], foundOn: day("2024-04-05"))))
        #expect(CaseState.rebuild(from: h.log) == h.state)
    }

    @Test func requestAndResponse_roundTripThroughTheCodecAtVersion1() throws {
        var h = try Example.harness(through: 6)
        try h.run(.requestEligibilityInformation(Self.request(from: [.employee])))
        try h.run(.sendEligibilityInformation(IMREligibilityInformationSent(itemIds: ["1"], sentOn: day("2024-04-03"))))
        for recorded in h.log.suffix(2) {
            let encoded = try CaseEventCodec.encode(recorded.event)
            #expect(encoded.schemaVersion == 1)
            #expect(CaseEventCodec.currentVersions[encoded.type] == 1)
            #expect(
                try CaseEventCodec.decode(type: encoded.type, schemaVersion: 1, payload: encoded.payload)
                    == recorded.event
            )
        }
        let request = try CaseEventCodec.encode(h.log[6].event)
        #expect(request.type == "IMREligibilityInformationRequested")
        #expect(
            String(decoding: request.payload, as: UTF8.self)
                == #"{"itemIds":["1"],"requestedFrom":["employee"],"requestedOn":"2024-03-29","whatIsRequested":"copy of the UR denial letter"}"#
        )
        #expect(try CaseEventCodec.encode(h.log[7].event).type == "IMREligibilityInformationSent")
    }

    @Test func correctingTheRequestAndResponseDates_movesTheFold_andIsCheckedAgainstTheRules() throws {
        var h = try Example.harness(through: 6)
        try h.run(.requestEligibilityInformation(Self.request()))
        try h.run(.sendEligibilityInformation(IMREligibilityInformationSent(itemIds: ["1"], sentOn: day("2024-04-03"))))
        try h.run(
            .correct(
                CorrectEvent(version: 7, field: .requestedOn, value: .date(day("2024-03-27")), reason: "letter date")
            )
        )
        try h.run(
            .correct(CorrectEvent(version: 8, field: .sentOn, value: .date(day("2024-04-02")), reason: "fax log"))
        )
        #expect(h.state.item("1")?.eligibilityInformationRequestedOn == day("2024-03-27"))
        #expect(h.state.item("1")?.eligibilityInformationSentOn == day("2024-04-02"))
        // A response moved before its request would break the case.
        let refusal = h.refusal(
            .correct(CorrectEvent(version: 8, field: .sentOn, value: .date(day("2024-03-26")), reason: "typo"))
        )
        #expect(refusal?.code == .dateBeforeTrigger)
    }

    // MARK: engine

    @Test func eligibilityResponse_isDueFiveCalHRBusinessDaysAfterTheRequest_skippingCesarChavezDayObservedMonday()
        throws
    {
        var h = try Example.harness(through: 6)
        try h.run(.requestEligibilityInformation(Self.request()))
        // By hand: Fri 2024-03-29 is day 0; Sat, Sun; Cesar Chavez Day (Sun 03-31) is observed
        // Mon 04-01; Tue 2, Wed 3, Thu 4, Fri 5 are days 1-4; Sat, Sun; Mon 04-08 is day 5.
        let pending = try #require(
            DeadlineEngine.deadlines(for: h.state, now: pacific("2024-04-08", 12)).live(.imrEligibilityResponse)
        )
        #expect(pending.id == "case-1/imr.eligibility-response/1")
        #expect(pending.dueDate == day("2024-04-08"))
        #expect(pending.due == Pacific.endOfDay(day("2024-04-08")))
        #expect(pending.status == .pending)
        #expect(pending.party == .claimsAdministrator)
        #expect(pending.itemIds == ["1"])
        #expect(pending.trigger.eventVersion == 7)
        #expect(
            pending.trigger.description
                == "AD requested eligibility information (copy of the UR denial letter) from the claims administrator"
        )
        #expect(pending.citation == "8 CCR 9792.10.3(c)")
        #expect(pending.explanation.contains { $0.contains("2024-04-01") && $0.contains("Cesar Chavez Day") })
        #expect(
            pending.assumptions.contains(
                "the AD's request was taken as received by the parties on its recorded date (2024-03-29)"
            )
        )

        #expect(
            DeadlineEngine.deadlines(for: h.state, now: pacific("2024-04-09", 9)).live(.imrEligibilityResponse)?.status
                == .missed
        )

        try h.run(.sendEligibilityInformation(IMREligibilityInformationSent(itemIds: ["1"], sentOn: day("2024-04-08"))))
        let met = try #require(
            DeadlineEngine.deadlines(for: h.state, now: pacific("2024-04-09", 9)).live(.imrEligibilityResponse)
        )
        #expect(met.status == .met)
        #expect(met.satisfiedBy?.eventType == "IMREligibilityInformationSent")
        #expect(met.satisfiedBy?.eventVersion == 8)
    }

    @Test func eligibilityResponse_sentAfterTheFifthDay_isMetLate_andAskedOfBothParties_isEitherPartys() throws {
        var h = try Example.harness(through: 6)
        try h.run(.requestEligibilityInformation(Self.request(from: [.employee, .claimsAdministrator])))
        try h.run(.sendEligibilityInformation(IMREligibilityInformationSent(itemIds: ["1"], sentOn: day("2024-04-09"))))
        let late = try #require(DeadlineEngine.deadlines(for: h.state, now: Example.now).live(.imrEligibilityResponse))
        #expect(late.status == .metLate)
        #expect(late.party == .eitherParty)
        #expect(late.trigger.description.hasSuffix("from the employee and the claims administrator"))
    }

    @Test func noRequest_noEligibilityResponseClock() throws {
        let h = try Example.harness(through: 7)
        #expect(DeadlineEngine.deadlines(for: h.state, now: Example.now).live(.imrEligibilityResponse) == nil)
    }

    @Test func correctedRequestDate_recomputesTheEligibilityResponse() throws {
        var h = try Example.harness(through: 6)
        try h.run(.requestEligibilityInformation(Self.request()))
        try h.run(
            .correct(
                CorrectEvent(version: 7, field: .requestedOn, value: .date(day("2024-03-22")), reason: "letter date")
            )
        )
        let deadlines = DeadlineEngine.deadlines(for: h.state, now: pacific("2024-03-29", 9))
        // Fri 03-22 + 5 calhr business days: Mon 25 .. Fri 29.
        #expect(deadlines.live(.imrEligibilityResponse)?.dueDate == day("2024-03-29"))
        #expect(deadlines.superseded(.imrEligibilityResponse)?.dueDate == day("2024-04-08"))
    }

    // MARK: imr.records in later rounds

    @Test func afterARemand_theItemKeepsItsAssignment_soNoSecondRecordsClock_butTheRoundHasADeterminationClock() throws
    {
        var h = try Example.harness(through: 10, decision: .upheld)
        try h.run(.fileAppeal(WCABAppealFiled(itemIds: ["1"], filedOn: day("2024-05-10"), filedBy: .employee)))
        try h.run(.resolveAppeal(WCABAppealResolved(itemIds: ["1"], resolvedOn: day("2024-05-20"), outcome: .remanded)))
        // The model has no second notice of assignment: the remanded item keeps its case number.
        let reassign = h.refusal(
            .assignIMR(
                IMRAssigned(
                    itemIds: ["1"],
                    imrCaseNumber: imrNumber("CM24-0099999"),
                    assignedOn: day("2024-05-21"),
                    priority: .standard,
                    noticeMethod: .mail
                )
            )
        )
        #expect(reassign?.code == .alreadyRecorded)

        let deadlines = DeadlineEngine.deadlines(for: h.state, now: Example.now)
        let records = deadlines.filter { $0.rule == .imrRecords }
        #expect(records.map(\.id) == ["case-1/imr.records/CM24-0012345"])
        #expect(records.first?.round == 1)
        let second = try #require(deadlines.first { $0.rule == .imrDetermination && $0.round == 2 })
        #expect(second.trigger.date == day("2024-05-20"))

        // Records received in round 2 are recorded and start that round's determination clock, still without a records clock.
        try h.run(.receiveRecords(IMRRecordsReceived(imrCaseNumber: Example.caseNumber, receivedOn: day("2024-05-24"))))
        let after = DeadlineEngine.deadlines(for: h.state, now: Example.now)
        #expect(after.filter { $0.rule == .imrRecords }.count == 1)
        #expect(after.first { $0.rule == .imrDetermination && $0.round == 2 }?.trigger.date == day("2024-05-24"))
    }

    // MARK: rfa.deemed-receipt

    @Test func deemedReceipt_isNotADeadlineOfItsOwn() throws {
        let h = try Example.harness(through: 10)
        #expect(
            DeadlineEngine.deadlines(for: h.state, now: Example.now).contains { $0.rule == .rfaDeemedReceipt } == false
        )
    }

    @Test func faxOnASaturday_urClocksStartAtTheNextBusinessDay_andTheExplanationSaysWhy() throws {
        var h = try engineCase(now: pacific("2024-06-01", 9), injured: day("2023-11-02"))
        try h.run(.receiveRFA(faxedRFA("A", at: pacific("2024-03-02", 10), items: ["1"])))
        let deadlines = DeadlineEngine.deadlines(for: h.state, now: pacific("2024-03-04", 9))
        for rule in [RuleID.urDecisionProspective, .urInfoRequest] {
            let deadline = try #require(deadlines.live(rule))
            #expect(Pacific.date(of: deadline.clockStart) == day("2024-03-04"), "\(rule)")
            #expect(
                deadline.explanation.contains {
                    $0.contains("on a non-business day (weekend)")
                        && $0.contains("deemed received the next business day on the calhr calendar, Mon 2024-03-04")
                },
                "\(rule)"
            )
        }
        // Mon 03-04 + 5 business days.
        #expect(deadlines.live(.urDecisionProspective)?.dueDate == day("2024-03-11"))
    }

    @Test func faxAfter530_explanationNamesTheDeemedReceiptDay() throws {
        var h = try engineCase(now: pacific("2024-06-01", 9), injured: day("2023-11-02"))
        try h.run(.receiveRFA(faxedRFA("A", at: pacific("2024-03-05", 17, 45), items: ["1"])))
        let decision = try #require(
            DeadlineEngine.deadlines(for: h.state, now: pacific("2024-03-06", 9)).live(.urDecisionProspective)
        )
        #expect(
            decision.explanation.contains {
                $0.contains("after 5:30 p.m. Pacific")
                    && $0.contains("deemed received the next business day on the calhr calendar, Wed 2024-03-06")
            }
        )
        #expect(Pacific.date(of: decision.clockStart) == day("2024-03-06"))
        #expect(decision.dueDate == day("2024-03-13"))
    }

    @Test func mailedRFA_theArrivalDayIsTheReceipt_andTheAssumptionSaysWhy() throws {
        var h = try engineCase(now: pacific("2024-06-01", 9), injured: day("2023-11-02"))
        var rfa = faxedRFA("A", at: pacific("2024-03-05", 10), items: ["1"])
        rfa.transmission = .mail
        try h.run(.receiveRFA(rfa))
        let decision = try #require(
            DeadlineEngine.deadlines(for: h.state, now: pacific("2024-03-06", 9)).live(.urDecisionProspective)
        )
        #expect(Pacific.date(of: decision.clockStart) == day("2024-03-05"))
        #expect(
            decision.assumptions.contains {
                $0.contains("RFA sent by mail: the recorded day of arrival (2024-03-05) was used as its receipt")
            }
        )
    }
}
