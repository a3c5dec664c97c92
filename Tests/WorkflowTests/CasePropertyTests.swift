import Foundation
import TestSupport
import Testing
import PropertyBased
@testable import Workflow

/// Drives a case with commands chosen from random numbers: mostly commands valid for the
/// current state (which must be accepted), some known-invalid ones (which must be refused
/// and change nothing) and corrections (which may go either way, but never crash).
struct RandomCaseRun {
    var h: CaseHarness
    var clock = day("2023-01-10")
    var serial = 0

    init() { h = CaseHarness(now: Pacific.endOfDay(day("2023-01-10"))) }

    var noon: Date { Pacific.instant(clock, hour: 12) }

    mutating func step(_ c: Int) {
        serial += 1
        // Every step is on a later day, so facts made from the clock never precede their trigger.
        clock = clock.adding(days: 1 + c % 3)
        // A fraction of a second, as a real clock gives: the log keeps whole seconds.
        h.now = Pacific.endOfDay(clock).addingTimeInterval(0.375)
        switch c % 9 {
        case 3: tryInvalid(c)
        case 5: tryCorrection(c)
        default:
            let options = validCommands(c)
            let command = options[(c / 9) % options.count]
            do {
                try h.run(command)
            } catch {
                Issue.record("valid command refused: \(command)\n\(error)")
            }
        }
    }

    private func newRFA(_ c: Int) -> RFAReceived {
        let count = 1 + (c / 5) % 3
        return RFAReceived(
            rfaId: RFAID("R\(serial)"),
            receivedAt: noon,
            transmission: Transmission.allCases[c % 3],
            physician: "Dr. \(serial)",
            treatmentRecommendedOn: c % 2 == 0 ? clock : nil,
            reviewType: ReviewType.allCases[(c / 3) % 3],
            expedited: c % 4 == 0,
            formulary: c % 6 == 0,
            items: (1...count).map { RequestedItem(id: ItemID("\(serial).\($0)"), description: "treatment \($0)") }
        )
    }

    private static let unresolved: Set<ItemStatus> = [
        .pendingUR, .imrApplied, .imrEligible, .imrAssigned, .overturned, .appealed,
    ]

    func validCommands(_ c: Int) -> [CaseCommand] {
        let s = h.state
        guard s.facts != nil else {
            return [
                .openCase(
                    CaseOpened(
                        caseId: "prop",
                        claimNumber: "C-1",
                        employer: "E",
                        claimsAdministrator: "TPA",
                        injuredWorkerReference: "W-\(c % 1000)",
                        dateOfInjury: clock,
                        coordinator: "ana"
                    )
                )
            ]
        }
        guard s.isOpen else { return [.addNote("after the end \(serial)")] }
        // Administrative commands are offered rarely, so runs get deep into IMR and appeals.
        var admin: [CaseCommand] = [
            .addNote("note \(serial)"), .receiveRFA(newRFA(c)),
            .reassignCoordinator(to: s.coordinator == "ana" ? "ben" : "ana"),
        ]
        var out: [CaseCommand] = s.rfas.isEmpty ? [.receiveRFA(newRFA(c))] : []
        for rfa in s.rfas {
            let pending = rfa.itemIds.compactMap(s.item).filter { $0.urOutcome == nil }
            guard !pending.isEmpty else { continue }
            if rfa.informationRequestedOn == nil {
                out.append(
                    .requestMoreInformation(
                        MoreInformationRequested(rfaId: rfa.id, requestedOn: clock, whatIsNeeded: "notes")
                    )
                )
            } else if rfa.informationReceivedOn == nil {
                out.append(.receiveInformation(InformationReceived(rfaId: rfa.id, receivedOn: clock)))
            }
            if rfa.deferredOn == nil, pending.count == rfa.itemIds.count {
                out.append(.deferUR(URDeferred(rfaId: rfa.id, deferredOn: clock, liabilityDispute: "AOE/COE")))
            }
            let outcome = URItemOutcome.allCases[(c / 3) % 3]
            out.append(
                .issueURDecision(
                    URDecisionIssued(
                        rfaId: rfa.id,
                        decidedAt: noon,
                        decisions: pending.prefix(1 + c % 2).map {
                            URItemDecision(
                                itemId: $0.id,
                                outcome: outcome,
                                authorizedPortion: outcome == .modified ? "half" : nil
                            )
                        }
                    )
                )
            )
        }
        let unnotified = s.items.filter { $0.urOutcome != nil && $0.physicianNotifiedAt == nil }.map(\.id)
        if !unnotified.isEmpty {
            out.append(.notifyPhysician(PhysicianNotified(itemIds: unnotified, notifiedAt: noon, method: .fax)))
        }
        let unserved = s.items.filter { $0.urOutcome != nil && $0.writtenDecisionServedOn == nil }.map(\.id)
        if !unserved.isEmpty {
            out.append(
                .serveWrittenDecision(
                    WrittenURDecisionServed(
                        itemIds: unserved,
                        servedOn: clock,
                        method: ServiceMethod.allCases[c % 5],
                        destination: ServiceDestination.allCases[(c / 5) % 3]
                    )
                )
            )
        }
        for item in s.items {
            let status = item.status
            if status == .denied || status == .modified, item.writtenDecisionServedOn != nil {
                out.append(.receiveIMRApplication(IMRApplicationReceived(itemIds: [item.id], receivedOn: clock)))
            }
            if status == .imrApplied, item.eligibilityInformationRequestedOn == nil {
                let parties = [
                    [EligibilityInformationParty.employee], [.claimsAdministrator], [.employee, .claimsAdministrator],
                ][c % 3]
                out.append(
                    .requestEligibilityInformation(
                        IMREligibilityInformationRequested(
                            itemIds: [item.id],
                            requestedOn: clock,
                            whatIsRequested: "UR denial letter",
                            requestedFrom: parties
                        )
                    )
                )
            }
            if item.eligibilityInformationRequestedOn != nil, item.eligibilityInformationSentOn == nil {
                out.append(
                    .sendEligibilityInformation(IMREligibilityInformationSent(itemIds: [item.id], sentOn: clock))
                )
            }
            if status == .imrApplied {
                out.append(.findEligible(IMREligibilityFound(itemIds: [item.id], foundOn: clock)))
                out.append(
                    .findIneligible(
                        IMRFoundIneligible(
                            itemIds: [item.id],
                            foundOn: clock,
                            reason: IneligibilityReason.allCases[c % 6]
                        )
                    )
                )
            }
            if status == .imrEligible {
                let number = IMRCaseNumber(String(format: "CM%02d-%07d", c % 100, serial))!
                out.append(
                    .assignIMR(
                        IMRAssigned(
                            itemIds: [item.id],
                            imrCaseNumber: number,
                            assignedOn: clock,
                            priority: IMRPriority.allCases[c % 2],
                            noticeMethod: AssignmentNoticeMethod.allCases[(c / 2) % 2]
                        )
                    )
                )
            }
            if status == .imrAssigned, let number = item.imrCaseNumber {
                if item.recordsReceivedOn == nil {
                    out.append(.receiveRecords(IMRRecordsReceived(imrCaseNumber: number, receivedOn: clock)))
                }
                out.append(
                    .issueDetermination(
                        IMRDeterminationIssued(
                            imrCaseNumber: number,
                            decidedOn: clock,
                            mailedOn: clock,
                            reviewerSpecialty: "Orthopedics",
                            items: [
                                IMRItemDetermination(
                                    itemId: item.id,
                                    decision: IMRItemDecision.allCases[(c / 4) % 2],
                                    guideline: "MTUS",
                                    rationaleSummary: "r"
                                )
                            ]
                        )
                    )
                )
            }
            if status == .overturned {
                out.append(
                    .implementDetermination(
                        DeterminationImplemented(
                            itemId: item.id,
                            implementedOn: clock,
                            kind: ImplementationKind.allCases[c % 2]
                        )
                    )
                )
            }
            if [.upheld, .overturned, .implemented].contains(status), item.appealFiledOn == nil {
                out.append(
                    .fileAppeal(
                        WCABAppealFiled(itemIds: [item.id], filedOn: clock, filedBy: AppealingParty.allCases[c % 2])
                    )
                )
            }
            if status == .appealed {
                out.append(
                    .resolveAppeal(
                        WCABAppealResolved(
                            itemIds: [item.id],
                            resolvedOn: clock,
                            outcome: AppealOutcome.allCases[(c / 2) % 3]
                        )
                    )
                )
            }
        }
        if c % 4 == 0, !s.items.contains(where: { Self.unresolved.contains($0.status) }) {
            admin.append(.close(CaseClosed(closedOn: clock, reason: "resolved")))
        }
        if c % 29 == 0 {
            admin.append(.withdraw(CaseWithdrawn(withdrawnOn: clock, reason: "withdrawn")))
        }
        return out.isEmpty || (c / 11) % 5 == 0 ? admin : out
    }

    func invalidCommands() -> [CaseCommand] {
        let s = h.state
        guard let facts = s.facts else {
            return [.receiveRFA(newRFA(0)), .addNote("before opening")]
        }
        var out: [CaseCommand] = [
            .openCase(
                CaseOpened(
                    caseId: facts.caseId,
                    claimNumber: "X",
                    employer: "E",
                    claimsAdministrator: "T",
                    injuredWorkerReference: "AB",
                    dateOfInjury: facts.dateOfInjury,
                    coordinator: "x"
                )
            ),
            .issueURDecision(
                URDecisionIssued(
                    rfaId: s.rfas.first?.id ?? "none",
                    decidedAt: noon,
                    decisions: [URItemDecision(itemId: "no-such-item", outcome: .denied)]
                )
            ),
            .deferUR(
                URDeferred(rfaId: s.rfas.last?.id ?? "none", deferredOn: clock.adding(days: 1), liabilityDispute: "x")
            ),
        ]
        var early = newRFA(1)
        early.rfaId = RFAID("early-\(serial)")
        early.items = [RequestedItem(id: ItemID("early-\(serial)"), description: "x")]
        early.receivedAt = Pacific.instant(facts.dateOfInjury.adding(days: -1), hour: 12)
        out.append(.receiveRFA(early))
        for item in s.items {
            switch item.status {
            case .approved:
                out.append(.receiveIMRApplication(IMRApplicationReceived(itemIds: [item.id], receivedOn: clock)))
                out.append(
                    .requestEligibilityInformation(
                        IMREligibilityInformationRequested(
                            itemIds: [item.id],
                            requestedOn: clock,
                            whatIsRequested: "x",
                            requestedFrom: [.employee]
                        )
                    )
                )
                out.append(
                    .sendEligibilityInformation(IMREligibilityInformationSent(itemIds: [item.id], sentOn: clock))
                )
            case .upheld:
                out.append(
                    .implementDetermination(
                        DeterminationImplemented(itemId: item.id, implementedOn: clock, kind: .authorized)
                    )
                )
            case .pendingUR, .denied:
                out.append(.fileAppeal(WCABAppealFiled(itemIds: [item.id], filedOn: clock, filedBy: .employee)))
                out.append(
                    .assignIMR(
                        IMRAssigned(
                            itemIds: [item.id],
                            imrCaseNumber: IMRCaseNumber("CM99-9999999")!,
                            assignedOn: clock,
                            priority: .standard,
                            noticeMethod: .mail
                        )
                    )
                )
            case .imrAssigned:
                out.append(
                    .issueDetermination(
                        IMRDeterminationIssued(
                            imrCaseNumber: IMRCaseNumber("CM99-9999999")!,
                            decidedOn: clock,
                            mailedOn: clock,
                            reviewerSpecialty: "x",
                            items: [
                                IMRItemDetermination(
                                    itemId: item.id,
                                    decision: .upheld,
                                    guideline: "",
                                    rationaleSummary: ""
                                )
                            ]
                        )
                    )
                )
            default:
                break
            }
        }
        return out
    }

    mutating func tryInvalid(_ c: Int) {
        let options = invalidCommands()
        let command = options[(c / 9) % options.count]
        let before = h.state
        let refusal = #expect(throws: CaseRuleViolation.self, "should be refused: \(command)") {
            try h.run(command)
        }
        #expect(refusal.map { !$0.message.isEmpty } ?? true)
        #expect(h.state == before)
    }

    mutating func tryCorrection(_ c: Int) {
        let targets = h.log.filter { if case .eventCorrected = $0.event { false } else { true } }
        guard !targets.isEmpty, let facts = h.state.facts else { return }
        let target = targets[(c / 9) % targets.count]
        let back = min(c % 6, facts.dateOfInjury.days(until: clock))
        let values: [CorrectionValue] = [
            .date(clock.adding(days: -back)), .instant(Pacific.instant(clock.adding(days: -back), hour: 13)),
        ]
        var candidates: [CorrectEvent] = []
        for field in CorrectableField.allCases {
            for value in values where (try? target.event.correcting(field, to: value)) != nil {
                candidates.append(
                    CorrectEvent(
                        version: target.version,
                        eventId: target.eventId,
                        field: field,
                        value: value,
                        reason: "random"
                    )
                )
            }
        }
        guard !candidates.isEmpty else { return }
        let before = h.state
        do {
            try h.run(.correct(candidates[(c / 54) % candidates.count]))
        } catch is CaseRuleViolation {
            #expect(h.state == before)
        } catch {
            Issue.record("correction failed with an unexpected error: \(error)")
        }
    }
}

@Suite struct CasePropertyTests {
    @Test func randomCommandSequences_rebuildAndCodecRoundTrip_toTheSameState() async {
        await propertyCheck(count: 150, input: Gen.int(in: 0...1_000_000).array(of: 1...60)) { choices in
            var run = RandomCaseRun()
            for c in choices { run.step(c) }
            let log = run.h.log
            #expect(run.h.state.version == log.count)
            #expect(log.map(\.version) == Array(1..<(log.count + 1)))
            #expect(CaseState.rebuild(from: log) == run.h.state)

            var decodedLog: [RecordedCaseEvent] = []
            for recorded in log {
                do {
                    let encoded = try CaseEventCodec.encode(recorded.event)
                    let event = try CaseEventCodec.decode(
                        type: encoded.type,
                        schemaVersion: encoded.schemaVersion,
                        payload: encoded.payload
                    )
                    decodedLog.append(
                        RecordedCaseEvent(
                            event: event,
                            version: recorded.version,
                            eventId: recorded.eventId,
                            recordedAt: recorded.recordedAt
                        )
                    )
                } catch {
                    Issue.record("codec failed on \(recorded.event.typeName): \(error)")
                }
            }
            #expect(CaseState.rebuild(from: decodedLog) == run.h.state)
        }
    }

    @Test func randomSequences_reachEveryStage() async {
        // Guards the generator itself: a generator stuck at opening would make the property vacuous.
        var seen = Set<CaseStage>()
        var types = Set<String>()
        let seed = testSeed("randomSequences_reachEveryStage")
        var generator = SeededGenerator(seed: seed)
        for _ in 0..<300 {
            var run = RandomCaseRun()
            for _ in 0..<80 {
                run.step(Int.random(in: 0...1_000_000, using: &generator))
                seen.insert(run.h.state.stage)
            }
            types.formUnion(run.h.log.map(\.event.typeName))
        }
        // The eligibility-information events are reached too, so the property covers them.
        #expect(
            types.isSuperset(of: ["IMREligibilityInformationRequested", "IMREligibilityInformationSent"]),
            "seed \(seed)"
        )
        let expected: Set<CaseStage> = [
            .opened, .rfaReceived, .urDecided, .imrApplied, .imrEligible, .imrAssigned, .determined, .closed,
        ]
        #expect(expected.isSubset(of: seen), "seed \(seed): missing \(expected.subtracting(seen))")
    }
}
