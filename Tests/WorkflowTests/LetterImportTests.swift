import Foundation
import Testing
@testable import Workflow

/// Letters as the parser gives them, for the import mapping.
private enum Letters {
    static let source = "IMR Final Determination CM24-0012345 (letter.pdf)"

    /// The Final Determination of the running example (``Example``): item 1 overturned.
    static func example(_ decision: IMRItemDecision = .overturned) -> LetterFacts {
        LetterFacts(
            caseNumber: "CM24-0012345",
            dateAssigned: day("2024-03-29"),
            dateOfInjury: day("2023-11-02"),
            decisionDate: day("2024-04-30"),
            urDenialDate: day("2024-03-05"),
            applicationReceived: day("2024-03-20"),
            priority: .standard,
            reviewerSpecialty: "Physical Medicine and Rehabilitation",
            items: [
                LetterItem(
                    disputed: "8 Massage Therapy visits, lumbar spine",
                    decision: decision,
                    guideline: "MTUS Chronic Pain Guidelines",
                    rationale: "Massage is recommended as an adjunct for up to 6 visits"
                )
            ]
        )
    }

    /// A letter for a case nobody recorded: one overturned item and one partial certification.
    static let fresh = LetterFacts(
        caseNumber: "CM24-0099999",
        dateAssigned: day("2024-04-02"),
        dateOfInjury: day("2023-05-17"),
        decisionDate: day("2024-04-25"),
        urDenialDate: day("2024-03-08"),
        applicationReceived: day("2024-03-22"),
        priority: .standard,
        reviewerSpecialty: "Orthopedic Surgery",
        items: [
            LetterItem(disputed: "MRI of the right knee", decision: .overturned, guideline: "ODG Knee"),
            LetterItem(
                disputed: "4 additional physical therapy visits",
                decision: .upheld,
                originalRequest: "8 physical therapy visits",
                authorizedPortion: "4 physical therapy visits",
                guideline: nil,
                rationale: nil
            ),
        ]
    )

    static let now = Example.now
}

/// Runs a plan as the service does: decide each command on the state the previous leave.
private func apply(_ plan: LetterImportPlan, to harness: inout CaseHarness) throws {
    let base = harness.log.count
    let events = try LetterImport.events(for: plan.commands, state: harness.state, now: harness.now) {
        eventId(base + $0 + 1)
    }
    for event in events {
        let recorded = RecordedCaseEvent(
            event: event,
            version: harness.log.count + 1,
            eventId: eventId(harness.log.count + 1),
            recordedAt: harness.now
        )
        harness.log.append(recorded)
        harness.state = evolve(harness.state, recorded)
    }
}

private func plan(
    _ letter: LetterFacts,
    _ state: CaseState,
    caseId: CaseID = "CM24-0099999",
    force: Bool = false
) throws(LetterImportError) -> LetterImportPlan {
    try LetterImport.plan(
        letter,
        caseId: caseId,
        state: state,
        source: Letters.source,
        coordinator: "maria",
        force: force
    )
}

@Suite struct LetterImportNewCaseTests {
    @Test func aLetterForNoCase_opensOneWithPlaceholders_andRecordsWhatTheLetterProves() throws {
        var h = CaseHarness(now: Letters.now)
        let p = try plan(Letters.fresh, h.state)
        #expect(p.opensCase)
        #expect(p.determinedItems == ["1", "2"])
        #expect(p.matches.map(\.how) == ["new", "new"])
        try apply(p, to: &h)
        #expect(
            h.log.map(\.event.typeName) == [
                "CaseOpened", "DisputedItemsImported", "IMRApplicationReceived", "IMRAssigned",
                "IMRDeterminationIssued",
            ]
        )

        let facts = try #require(h.state.facts)
        #expect(facts.caseId == "CM24-0099999")
        #expect(facts.dateOfInjury == day("2023-05-17"))
        #expect(facts.claimNumber == "unknown (imported from letter CM24-0099999)")
        #expect(facts.employer == "unknown (imported from letter CM24-0099999)")
        #expect(facts.injuredWorkerReference == "unknown")
        #expect(h.state.coordinator == "maria")
        // No RFA is invented: the items carry the letter's UR outcome, with no RFA receipt.
        #expect(h.state.rfas.isEmpty)

        let mri = try #require(h.state.item("1"))
        #expect(mri.description == "MRI of the right knee")
        #expect(mri.urOutcome == .denied)
        #expect(mri.urDecidedOn == day("2024-03-08"))
        #expect(mri.urDecisionTimeKnown == false)
        #expect(mri.importedFrom == Letters.source)
        #expect(mri.imrApplicationReceivedOn == day("2024-03-22"))
        #expect(mri.imrEligibleOn == nil)
        #expect(mri.imrCaseNumber == imrNumber("CM24-0099999"))
        #expect(mri.assignmentNoticeMethod == nil)
        #expect(mri.imrDecision == .overturned)
        #expect(mri.guideline == "ODG Knee")
        #expect(mri.determinationDecidedOn == day("2024-04-25"))
        #expect(mri.determinationMailedOn == nil)
        #expect(mri.status == .overturned)

        // The partial certification keeps the original request, the authorized and the disputed portion.
        let therapy = try #require(h.state.item("2"))
        #expect(therapy.urOutcome == .modified)
        #expect(therapy.description == "8 physical therapy visits")
        #expect(therapy.authorizedPortion == "4 physical therapy visits")
        #expect(therapy.disputedPortion == "4 additional physical therapy visits")
        #expect(therapy.imrDecision == .upheld)
        #expect(therapy.guideline == "not stated in the letter")
        #expect(therapy.reviewerSpecialty == "Orthopedic Surgery")
    }

    @Test func anImportedCase_hasIMRClocks_butNoUREClocks_andSaysWhy() throws {
        var h = CaseHarness(now: Letters.now)
        try apply(try plan(Letters.fresh, h.state), to: &h)
        let derivation = DeadlineEngine.derivation(for: h.state, now: Letters.now)
        let deadlines = derivation.deadlines
        #expect(!deadlines.contains { $0.rule.rawValue.hasPrefix("ur.") })
        #expect(!deadlines.contains { $0.rule == .imroAssignmentNotice })
        let unavailable = try #require(derivation.unavailable.first { $0.id == "CM24-0099999/ur/letter-CM24-0099999" })
        #expect(unavailable.reason.contains("imported from \(Letters.source)"))

        // The overturned item must be implemented within 5 working days of the (assumed) mailing.
        let implementation = try #require(deadlines.live(.imrImplementation, item: "1"))
        #expect(implementation.trigger.date == day("2024-04-25"))
        #expect(implementation.dueDate == day("2024-05-02"))
        #expect(
            implementation.assumptions.contains {
                $0.contains("mailing date is not recorded: taken as its decision date (2024-04-25)")
            }
        )
        #expect(deadlines.live(.imrImplementation, item: "2") == nil)
        let appeal = try #require(deadlines.live(.wcabAppeal))
        #expect(appeal.assumptions.contains { $0.contains("mailing date is not recorded") })
        // The records penalty clock is not shown as missed: the determination proves the records arrived.
        #expect(deadlines.live(.imrRecords)?.status == .notApplicable)
        #expect(deadlines.live(.imrDetermination)?.status == .met)
        // The application clock counts from the letter's UR denial date, saying it assumed service.
        let application = try #require(deadlines.live(.imrApplication, item: "1"))
        #expect(application.trigger.date == day("2024-03-08"))
        #expect(application.status == .met)
    }

    @Test func importingTheSameLetterAgain_plansNothing() throws {
        var h = CaseHarness(now: Letters.now)
        try apply(try plan(Letters.fresh, h.state), to: &h)
        let again = try plan(Letters.fresh, h.state)
        #expect(again.isAlreadyRecorded)
        #expect(!again.opensCase)
        #expect(again.matches.map(\.itemId) == ["1", "2"])
    }

    @Test func aLetterWithoutItsHeader_cannotBeImported() throws {
        var headerless = Letters.fresh
        headerless.caseNumber = nil
        headerless.decisionDate = nil
        #expect(LetterImport.missingFacts(headerless) == ["no IMR case number", "no decision date"])
        #expect(throws: LetterImportError.self) { try plan(headerless, CaseState()) }
        var noInjury = Letters.fresh
        noInjury.dateOfInjury = nil
        do {
            _ = try plan(noInjury, CaseState())
            Issue.record("a new case needs the date of injury")
        } catch {
            #expect(error.kind == .lacksFacts)
            #expect(error.message.contains("no date of injury"))
        }
    }
}

@Suite struct LetterImportExistingCaseTests {
    @Test func aCaseAssignedToTheNumber_getsTheDetermination_matchedByNormalisedText() throws {
        var h = try Example.harness(through: 9)
        let p = try plan(Letters.example(), h.state, caseId: "case-1")
        #expect(!p.opensCase)
        #expect(p.matches == [LetterItemMatch(letterIndex: 0, itemId: "1", how: "text")])
        guard case .issueDetermination(let d) = try #require(p.commands.first), p.commands.count == 1 else {
            Issue.record("expected one determination, got \(p.commands)")
            return
        }
        #expect(d.items.map(\.itemId) == ["1"])
        #expect(d.mailedOn == nil)
        try apply(p, to: &h)
        #expect(h.state.item("1")?.imrDecision == .overturned)
        #expect(h.state.item("2")?.imrDecision == nil)
        #expect(try plan(Letters.example(), h.state, caseId: "case-1").isAlreadyRecorded)
    }

    @Test func aCaseAwaitingAssignment_getsTheAssignmentAndTheDetermination() throws {
        var h = try Example.harness(through: 7)
        let p = try plan(Letters.example(), h.state, caseId: "case-1")
        #expect(p.commands.count == 2)
        try apply(p, to: &h)
        let item = try #require(h.state.item("1"))
        #expect(item.imrCaseNumber == imrNumber("CM24-0012345"))
        #expect(item.imrAssignedOn == day("2024-03-29"))
        #expect(item.imrDecision == .overturned)
    }

    @Test func aNormalItemWithoutAnEligibilityFinding_isStillRefusedItsAssignment() throws {
        let h = try Example.harness(through: 6)
        let p = try plan(Letters.example(), h.state, caseId: "case-1")
        do {
            _ = try LetterImport.events(for: p.commands, state: h.state, now: h.now) { eventId(100 + $0) }
            Issue.record("an item never found eligible cannot be assigned")
        } catch let violation as CaseRuleViolation {
            #expect(violation.code == .notEligible)
        }
    }

    @Test func itemsWhoseTextDiffers_arePairedInOrder_whenTheCountsAgree() throws {
        let h = try Example.harness(through: 9)
        var letter = Letters.example()
        letter.items[0].disputed = "Massage (8 sessions)"
        let p = try plan(letter, h.state, caseId: "case-1")
        #expect(p.matches == [LetterItemMatch(letterIndex: 0, itemId: "1", how: "order")])
    }

    @Test func unmatchedItems_areRefused_namingThem() throws {
        let h = try Example.harness(through: 9)
        var letter = Letters.example()
        letter.items.append(LetterItem(disputed: "Lumbar epidural steroid injection", decision: .upheld))
        do {
            _ = try plan(letter, h.state, caseId: "case-1")
            Issue.record("two letter items cannot match one case item")
        } catch {
            #expect(error.kind == .unmatchedItems)
            #expect(error.message.contains("\"Lumbar epidural steroid injection\""))
        }
    }

    @Test func contradictions_areListedWithRecordedAndLetterValues() throws {
        let h = try Example.harness(through: 10, decision: .overturned)
        var letter = Letters.example(.upheld)
        letter.dateOfInjury = day("2023-11-03")
        letter.dateAssigned = day("2024-03-30")
        letter.decisionDate = day("2024-05-02")
        do {
            _ = try plan(letter, h.state, caseId: "case-1")
            Issue.record("the letter contradicts the case")
        } catch {
            #expect(error.kind == .contradicts)
            #expect(
                error.differences == [
                    LetterDifference(
                        field: "dateOfInjury",
                        itemId: nil,
                        recorded: "2023-11-02",
                        letter: "2023-11-03",
                        correctable: true
                    ),
                    LetterDifference(
                        field: "dateAssigned",
                        itemId: "1",
                        recorded: "2024-03-29",
                        letter: "2024-03-30",
                        correctable: true
                    ),
                    LetterDifference(
                        field: "decision",
                        itemId: "1",
                        recorded: "overturned",
                        letter: "upheld",
                        correctable: false
                    ),
                    LetterDifference(
                        field: "decisionDate",
                        itemId: "1",
                        recorded: "2024-04-30",
                        letter: "2024-05-02",
                        correctable: true
                    ),
                ]
            )
            #expect(error.message.contains("--force"))
        }
        // A different decision is a new determination: even --force refuses it.
        #expect(throws: LetterImportError.self) { try plan(letter, h.state, caseId: "case-1", force: true) }
    }

    @Test func force_recordsACorrectionPerDifference_namingTheLetter() throws {
        var h = try Example.harness(through: 10, decision: .overturned)
        var letter = Letters.example()
        letter.dateOfInjury = day("2023-11-03")
        letter.dateAssigned = day("2024-03-30")
        letter.decisionDate = day("2024-05-01")
        letter.urDenialDate = day("2024-03-04")
        let p = try plan(letter, h.state, caseId: "case-1", force: true)
        #expect(p.corrected.count == 4)
        let corrections = p.commands.compactMap { command -> CorrectEvent? in
            if case .correct(let c) = command { return c }
            return nil
        }
        #expect(corrections.count == p.commands.count)
        #expect(corrections.allSatisfy { $0.reason == "imported from \(Letters.source)" })
        // Later dates from the last step back, then earlier ones.
        #expect(corrections.map(\.field) == [.decidedOn, .assignedOn, .dateOfInjury, .decidedAt])
        try apply(p, to: &h)
        #expect(h.state.facts?.dateOfInjury == day("2023-11-03"))
        #expect(h.state.item("1")?.imrAssignedOn == day("2024-03-30"))
        #expect(h.state.item("1")?.determinationDecidedOn == day("2024-05-01"))
        #expect(h.state.item("1")?.urDecidedAt == pacific("2024-03-04", 14))
        // Corrected, the case now says what the letter says.
        #expect(try plan(letter, h.state, caseId: "case-1").isAlreadyRecorded)
    }

    @Test func forcedCorrectionOfAnImportedCase_correctsTheImportedUREvent() throws {
        var h = CaseHarness(now: Letters.now)
        try apply(try plan(Letters.fresh, h.state), to: &h)
        var letter = Letters.fresh
        letter.urDenialDate = day("2024-03-07")
        let p = try plan(letter, h.state, force: true)
        #expect(p.corrected.map(\.field) == ["urDenialDate", "urDenialDate"])
        #expect(p.commands.count == 1)  // one event covers both items: one correction
        try apply(p, to: &h)
        #expect(h.state.item("2")?.urDecidedOn == day("2024-03-07"))
    }
}

@Suite struct ImportedItemRuleTests {
    static let imported = DisputedItemsImported(
        rfaId: "letter-CM24-0012345",
        items: [ImportedItem(id: "1", description: "MRI lumbar spine", urOutcome: .denied)],
        urDecidedOn: day("2024-03-05"),
        source: "IMR Final Determination CM24-0012345"
    )

    private func opened() throws -> CaseHarness {
        var h = CaseHarness(now: Example.now)
        try h.run(.openCase(Example.opened))
        return h
    }

    @Test func anImportedItem_reachesIMRWithoutServiceOrEligibility() throws {
        var h = try opened()
        try h.run(.importDisputedItems(Self.imported))
        try h.run(.receiveIMRApplication(IMRApplicationReceived(itemIds: ["1"], receivedOn: day("2024-03-20"))))
        try h.run(
            .assignIMR(
                IMRAssigned(
                    itemIds: ["1"],
                    imrCaseNumber: Example.caseNumber,
                    assignedOn: day("2024-03-29"),
                    priority: .standard,
                    noticeMethod: nil
                )
            )
        )
        #expect(h.state.item("1")?.status == .imrAssigned)
    }

    @Test func aRecordedRFAItem_stillNeedsItsWrittenServiceAndEligibility() throws {
        var h = try Example.harness(through: 4)
        #expect(h.refusal(.receiveIMRApplication(Example.application))?.code == .writtenDecisionNotServed)
        try h.run(.serveWrittenDecision(Example.written))
        try h.run(.receiveIMRApplication(Example.application))
        #expect(h.refusal(.assignIMR(Example.assigned))?.code == .notEligible)
    }

    @Test func importsAreCheckedLikeRFAs() throws {
        var h = try opened()
        var approved = Self.imported
        approved.items[0].urOutcome = .approved
        #expect(h.refusal(.importDisputedItems(approved))?.code == .itemNotDisputable)
        var modified = Self.imported
        modified.items[0].urOutcome = .modified
        #expect(h.refusal(.importDisputedItems(modified))?.code == .missingText)
        var early = Self.imported
        early.urDecidedOn = day("2023-01-01")
        #expect(h.refusal(.importDisputedItems(early))?.code == .dateBeforeInjury)
        var empty = Self.imported
        empty.items = []
        #expect(h.refusal(.importDisputedItems(empty))?.code == .noItems)
        try h.run(.importDisputedItems(Self.imported))
        #expect(h.refusal(.importDisputedItems(Self.imported))?.code == .duplicateRFA)
        var reused = Self.imported
        reused.rfaId = "other"
        #expect(h.refusal(.importDisputedItems(reused))?.code == .duplicateItem)
        // An application before the letter's UR decision, and an assignment after an ineligible finding.
        #expect(
            h.refusal(.receiveIMRApplication(IMRApplicationReceived(itemIds: ["1"], receivedOn: day("2024-03-01"))))?
                .code
                == .dateBeforeTrigger
        )
        try h.run(.receiveIMRApplication(IMRApplicationReceived(itemIds: ["1"], receivedOn: day("2024-03-20"))))
        try h.run(.findIneligible(IMRFoundIneligible(itemIds: ["1"], foundOn: day("2024-03-25"), reason: .late)))
        #expect(
            h.refusal(
                .assignIMR(
                    IMRAssigned(
                        itemIds: ["1"],
                        imrCaseNumber: Example.caseNumber,
                        assignedOn: day("2024-03-29"),
                        priority: .standard,
                        noticeMethod: nil
                    )
                )
            )?.code == .notEligible
        )
    }

    @Test func importedEventsAndOptionalFields_roundTripThroughTheCodec() throws {
        let events: [CaseEvent] = [
            .disputedItemsImported(Self.imported),
            .imrAssigned(
                IMRAssigned(
                    itemIds: ["1"],
                    imrCaseNumber: Example.caseNumber,
                    assignedOn: day("2024-03-29"),
                    priority: .standard,
                    noticeMethod: nil
                )
            ),
            .imrDeterminationIssued(
                IMRDeterminationIssued(
                    imrCaseNumber: Example.caseNumber,
                    decidedOn: day("2024-04-30"),
                    mailedOn: nil,
                    reviewerSpecialty: "PM&R",
                    items: []
                )
            ),
        ]
        for event in events {
            let encoded = try CaseEventCodec.encode(event)
            #expect(
                try CaseEventCodec.decode(
                    type: encoded.type,
                    schemaVersion: encoded.schemaVersion,
                    payload: encoded.payload
                ) == event
            )
        }
        #expect(CaseEventCodec.currentVersions["IMRAssigned"] == 2)
        #expect(CaseEventCodec.currentVersions["IMRDeterminationIssued"] == 2)
        // Version 1 payloads, as stored before the fields became optional, still read.
        let v1 = Data(
            #"{"assignedOn":"2024-03-29","imrCaseNumber":"CM24-0012345","itemIds":["1"],"noticeMethod":"mail","priority":"standard"}"#
                .utf8
        )
        guard
            case .imrAssigned(let assigned) = try CaseEventCodec.decode(
                type: "IMRAssigned",
                schemaVersion: 1,
                payload: v1
            )
        else {
            Issue.record("not an assignment")
            return
        }
        #expect(assigned.noticeMethod == .mail)
    }
}
