import Foundation

/// One IMR round of one item: the dates of its milestones, corrected.
struct RoundFacts {
    var itemId: ItemID
    var rfaId: RFAID
    var round: Int
    var caseNumber: IMRCaseNumber
    var assignedOn: LocalDate
    var assignedVersion: Int?
    var priority: IMRPriority
    var noticeMethod: AssignmentNoticeMethod
    /// False when the assignment did not record how the notice went (``noticeMethod`` is then mail).
    var noticeMethodKnown: Bool
    /// True when the determination recorded no mailing date: ``mailedOn`` is its decision date.
    var mailingAssumed = false
    /// True for an item imported from a letter (``ItemState/importedFrom``).
    var imported: Bool
    /// The remand that opened this round (rounds after the first).
    var remand: ItemMilestone?
    var records: ItemMilestone?
    var determination: ItemMilestone?
    var mailedOn: LocalDate?
    var decision: IMRItemDecision?
    var implementation: ItemMilestone?
    var implementationKind: ImplementationKind?
    var appeal: ItemMilestone?
}

/// The IMR clocks of a case: application, eligibility response, assignment notice, and per
/// round the records, the determination and its implementation.
extension ClockBuilder {
    // MARK: - IMR application and assignment

    mutating func imrApplication(_ item: ItemState) {
        guard let outcome = item.urOutcome, outcome != .approved, let decidedAt = item.urDecidedAt else { return }
        let rfa = state.rfa(item.rfaId)
        var options = DeadlineOptions(formulary: rfa?.formulary ?? false)
        var assumptions: [String] = []
        let trigger: DeadlineTrigger
        let triggerFact: DeadlineTriggerFact
        if let servedOn = item.writtenDecisionServedOn {
            options.service = item.writtenDecisionServiceMethod
            options.destination = item.writtenDecisionServiceDestination ?? .california
            trigger = .date(servedOn)
            triggerFact = DeadlineTriggerFact(
                description:
                    "written UR decision (\(outcome.rawValue)) served by \(item.writtenDecisionServiceMethod?.rawValue ?? "an unrecorded method")",
                date: servedOn,
                at: nil,
                eventVersion: lastMilestone(WrittenURDecisionServed.typeName, of: item)?.version
            )
        } else {
            let decidedOn = Pacific.date(of: decidedAt)
            options.service = .mail
            options.destination = .california
            trigger = .date(decidedOn)
            assumptions.append(
                "service date not recorded: assumed served by mail in California on the decision date (\(decidedOn.iso))"
            )
            triggerFact = DeadlineTriggerFact(
                description: "UR decision (\(outcome.rawValue)); written service not recorded",
                date: decidedOn,
                at: nil,
                eventVersion: (lastMilestone(URDecisionIssued.typeName, of: item)
                    ?? lastMilestone(DisputedItemsImported.typeName, of: item))?.version
            )
        }
        if let injured = state.facts?.dateOfInjury, injured < RuleBook.imrStart,
            trigger.date < RuleBook.imrForDecisionsFrom
        {
            unavailable.append(
                UnavailableDeadline(
                    id: "\(caseId.rawValue)/\(RuleID.imrApplication.rawValue)/\(item.id.rawValue)",
                    rule: .imrApplication,
                    itemIds: [item.id],
                    reason:
                        "IMR does not apply to item \(item.id): the injury (\(injured.iso)) is before \(RuleBook.imrStart.year) and the UR decision "
                        + "was served (\(trigger.date.iso)) before \(RuleBook.imrForDecisionsFrom.iso) (SB 863)"
                )
            )
            return
        }
        var notes: [String] = []
        var statusNote: String?
        if let untimely = untimelyUR[item.id] {
            statusNote =
                "the UR was untimely: \(untimely); the UR is invalid and not subject to IMR, the WCAB decides the treatment (Dubon II, en banc 2014)"
            notes.append(statusNote!)
        }
        if let on = item.imrIneligibleOn {
            notes.append(
                "found ineligible for IMR on \(on.shortLabel)"
                    + (item.ineligibilityReason.map { " (\($0.rawValue))" } ?? "")
            )
        }
        let act = item.imrApplicationReceivedOn.map {
            Act(
                eventType: IMRApplicationReceived.typeName,
                version: lastMilestone(IMRApplicationReceived.typeName, of: item)?.version ?? 0,
                at: nil,
                on: $0
            )
        }
        emit(
            Clock(
                rule: .imrApplication,
                key: item.id.rawValue,
                rfaId: item.rfaId,
                itemIds: [item.id],
                trigger: trigger,
                triggerFact: triggerFact,
                options: options,
                act: act,
                notes: notes,
                assumptions: assumptions,
                statusNote: statusNote
            )
        )
    }

    /// One `imr.eligibility-response` clock per request event, for the items it names.
    mutating func eligibilityResponses() {
        var order: [Int] = []
        var byRequest: [Int: [ItemState]] = [:]
        for item in state.items {
            guard item.eligibilityInformationRequestedOn != nil,
                let request = lastMilestone(IMREligibilityInformationRequested.typeName, of: item)
            else { continue }
            if byRequest[request.version] == nil { order.append(request.version) }
            byRequest[request.version, default: []].append(item)
        }
        for version in order {
            guard let group = byRequest[version], let first = group.first,
                let requestedOn = first.eligibilityInformationRequestedOn
            else { continue }
            let ids = group.map(\.id)
            let parties = first.eligibilityInformationRequestedFrom
            let from = parties.map { $0 == .employee ? "the employee" : "the claims administrator" }.joined(
                separator: " and "
            )
            let what = first.eligibilityInformationRequested.map { " (\($0))" } ?? ""
            let triggerFact = DeadlineTriggerFact(
                description: "AD requested eligibility information\(what) from \(from)",
                date: requestedOn,
                at: nil,
                eventVersion: version
            )
            var act: Act?
            if group.allSatisfy({ $0.eligibilityInformationSentOn != nil }),
                let last = group.max(by: { $0.eligibilityInformationSentOn! < $1.eligibilityInformationSentOn! }),
                let sentOn = last.eligibilityInformationSentOn
            {
                act = Act(
                    eventType: IMREligibilityInformationSent.typeName,
                    version: lastMilestone(IMREligibilityInformationSent.typeName, of: last)?.version ?? 0,
                    at: nil,
                    on: sentOn
                )
            }
            var notes: [String] = []
            let answered = group.filter { $0.eligibilityInformationSentOn != nil }
            if act == nil, !answered.isEmpty {
                notes.append(
                    "information sent for \(answered.count) of \(group.count) items; the deadline is met only when it is sent for every item"
                )
            }
            // The AD deciding eligibility for every item leaves nothing to send.
            var settled: Settlement?
            let decided = group.compactMap { $0.imrEligibleOn ?? $0.imrIneligibleOn }
            if act == nil, decided.count == group.count, let on = decided.max() {
                settled = Settlement(
                    on: on,
                    reason:
                        "the AD decided eligibility without the information on \(on.shortLabel): nothing is left to send"
                )
            }
            // The party asked is the one who must answer; DEADLINES.md says "parties" when both were.
            let party: DeadlineParty =
                parties == [.employee]
                ? .employee
                : parties == [.claimsAdministrator] ? .claimsAdministrator : .eitherParty
            emit(
                Clock(
                    rule: .imrEligibilityResponse,
                    key: ids.map(\.rawValue).joined(separator: "+"),
                    rfaId: first.rfaId,
                    itemIds: ids,
                    trigger: .date(requestedOn),
                    triggerFact: triggerFact,
                    options: DeadlineOptions(),
                    act: act,
                    notes: notes,
                    assumptions: [
                        "the AD's request was taken as received by the parties on its recorded date (\(requestedOn.iso))"
                    ],
                    party: party,
                    settled: settled
                )
            )
        }
    }

    mutating func assignmentNotice(_ item: ItemState) {
        guard let eligibleOn = item.imrEligibleOn else { return }
        let triggerFact = DeadlineTriggerFact(
            description: "IMR application found eligible",
            date: eligibleOn,
            at: nil,
            eventVersion: lastMilestone(IMREligibilityFound.typeName, of: item)?.version
        )
        let assigned = firstMilestone(IMRAssigned.typeName, of: item)
        let act = assigned.map { Act(eventType: $0.event, version: $0.version, at: nil, on: $0.on) }
        emit(
            Clock(
                rule: .imroAssignmentNotice,
                key: item.id.rawValue,
                rfaId: item.rfaId,
                itemIds: [item.id],
                trigger: .date(eligibleOn),
                triggerFact: triggerFact,
                options: DeadlineOptions(),
                act: act
            )
        )
    }

    // MARK: - IMR rounds

    /// Every round of every assigned item, from its history (the current round's fields are
    /// cleared by a remand, the history keeps them).
    func rounds(of item: ItemState) -> [RoundFacts] {
        guard let caseNumber = item.imrCaseNumber, let assignedOn = item.imrAssignedOn else { return [] }
        let assigned = firstMilestone(IMRAssigned.typeName, of: item)
        // Only remands end a round before the last: after any other resolution no appeal can follow.
        var segments: [[ItemMilestone]] = [[]]
        var remands: [ItemMilestone] = []
        for milestone in item.history {
            segments[segments.count - 1].append(milestone)
            if milestone.event == WCABAppealResolved.typeName, segments.count < item.imrRound {
                remands.append(milestone)
                segments.append([])
            }
        }
        return segments.enumerated().map { index, segment in
            func last(_ type: String) -> ItemMilestone? { segment.last { $0.event == type } }
            var facts = RoundFacts(
                itemId: item.id,
                rfaId: item.rfaId,
                round: index + 1,
                caseNumber: caseNumber,
                assignedOn: assignedOn,
                assignedVersion: assigned?.version,
                priority: item.imrPriority ?? .standard,
                noticeMethod: item.assignmentNoticeMethod ?? .mail,
                noticeMethodKnown: item.assignmentNoticeMethod != nil,
                imported: item.importedFrom != nil
            )
            facts.remand = index > 0 ? remands[index - 1] : nil
            facts.records = last(IMRRecordsReceived.typeName)
            facts.determination = last(IMRDeterminationIssued.typeName)
            if let determination = facts.determination,
                case .imrDeterminationIssued(let e) = correctedEvent(determination.version)
            {
                facts.mailedOn = e.mailedOn ?? e.decidedOn
                facts.mailingAssumed = e.mailedOn == nil
                facts.decision = e.items.first { $0.itemId == item.id }?.decision
            }
            facts.implementation = last(DeterminationImplemented.typeName)
            if let implementation = facts.implementation,
                case .determinationImplemented(let e) = correctedEvent(implementation.version)
            {
                facts.implementationKind = e.kind
            }
            facts.appeal = last(WCABAppealFiled.typeName)
            return facts
        }
    }

    mutating func imrRounds() {
        let all = state.items.flatMap(rounds(of:))
        // One records / determination / appeal clock per IMR case number and round.
        var order: [String] = []
        var groups: [String: [RoundFacts]] = [:]
        for facts in all {
            let key = "\(facts.caseNumber.rawValue)#\(facts.round)"
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(facts)
        }
        for key in order {
            guard let group = groups[key], let first = group.first else { continue }
            imrGroup(group, first: first)
        }
    }

    /// The clocks of one IMR case number in one round: the records (first round only), the
    /// determination, the implementation of each overturned item, and the appeal.
    mutating func imrGroup(_ group: [RoundFacts], first: RoundFacts) {
        let key = first.caseNumber.rawValue
        if first.round == 1 { records(group, first: first, key: key) }
        determination(group, first: first, key: key)
        implementations(group)
        appeal(group, first: first, key: key)
    }

    /// `imr.records`: the claims administrator sends the records after the notice of assignment.
    mutating func records(_ group: [RoundFacts], first: RoundFacts, key: String) {
        let ids = group.map(\.itemId)
        let expedited = first.priority == .expedited
        let triggerFact = DeadlineTriggerFact(
            description: "IMRO assigned \(key) (notice of assignment sent by \(first.noticeMethod.rawValue))",
            date: first.assignedOn,
            at: nil,
            eventVersion: first.assignedVersion
        )
        let act =
            group.allSatisfy({ $0.records != nil })
            ? group.compactMap(\.records).max(by: { $0.on < $1.on }).map {
                Act(eventType: $0.event, version: $0.version, at: nil, on: $0.on)
            }
            : nil
        var recordsAssumptions = [
            "the notice of assignment was taken as \(expedited ? "received" : "sent") on the assignment date (\(first.assignedOn.iso))"
        ]
        if !first.noticeMethodKnown {
            recordsAssumptions.append("how the notice of assignment was sent is not recorded: taken as mailed")
        }
        // A determination, imported from the letter or recorded by hand, proves the IMRO had
        // the records; the day they arrived is not recorded, and a penalty clock must not be
        // shown as missed for it. Both paths give the same deadline.
        var recordsNotApplicable: String?
        if act == nil, group.allSatisfy({ $0.determination != nil }),
            let decided = group.compactMap(\.determination).max(by: { $0.on < $1.on })
        {
            recordsNotApplicable =
                (group.allSatisfy({ $0.imported }) ? "imported from a Final Determination letter: " : "")
                + "the IMRO decided on \(decided.on.shortLabel), so it had the records; the day they arrived is not recorded"
        }
        emit(
            Clock(
                rule: .imrRecords,
                key: key,
                rfaId: first.rfaId,
                itemIds: ids,
                trigger: .date(first.assignedOn),
                triggerFact: triggerFact,
                options: DeadlineOptions(
                    expedited: expedited,
                    noticeSentElectronically: first.noticeMethod == .electronic
                ),
                act: act,
                assumptions: recordsAssumptions,
                notApplicable: recordsNotApplicable
            )
        )
    }

    /// `imr.determination`, counted from the records' receipt, else the remand (later
    /// rounds) or the assignment (first round), with an assumption.
    mutating func determination(_ group: [RoundFacts], first: RoundFacts, key: String) {
        let ids = group.map(\.itemId)
        let expedited = first.priority == .expedited
        let formulary = state.rfa(first.rfaId)?.formulary ?? false
        var options = DeadlineOptions(expedited: expedited)
        var assumptions: [String] = []
        let trigger: LocalDate
        let triggerFact: DeadlineTriggerFact
        if let records = first.records {
            trigger = records.on
            triggerFact = DeadlineTriggerFact(
                description: "IMRO received the records for \(key)",
                date: records.on,
                at: nil,
                eventVersion: records.version
            )
        } else if let remand = first.remand {
            trigger = remand.on
            triggerFact = DeadlineTriggerFact(
                description: "WCAB remanded \(key) for a new determination",
                date: remand.on,
                at: nil,
                eventVersion: remand.version
            )
            assumptions.append(
                "round \(first.round) after the WCAB remand of \(remand.on.iso): no receipt of records is recorded for it, "
                    + "so the clock was counted from the remand date"
            )
        } else {
            trigger = first.assignedOn
            options.triggerIsAssignmentDate = true
            triggerFact = DeadlineTriggerFact(
                description: "IMRO assigned \(key) (records' receipt not recorded)",
                date: first.assignedOn,
                at: nil,
                eventVersion: first.assignedVersion
            )
        }
        options.formulary = formulary && trigger >= RuleBook.formularyStart
        let determinationAct =
            group.allSatisfy({ $0.determination != nil })
            ? group.compactMap(\.determination).max(by: { $0.on < $1.on }).map {
                Act(eventType: $0.event, version: $0.version, at: nil, on: $0.on)
            }
            : nil
        emit(
            Clock(
                rule: .imrDetermination,
                key: key,
                round: first.round,
                rfaId: first.rfaId,
                itemIds: ids,
                trigger: .date(trigger),
                triggerFact: triggerFact,
                options: options,
                act: determinationAct,
                assumptions: assumptions
            )
        )
    }

    /// `imr.implementation`, per overturned item, from the determination's mailing.
    mutating func implementations(_ group: [RoundFacts]) {
        for facts in group where facts.decision == .overturned {
            guard let mailedOn = facts.mailedOn, let determination = facts.determination else { continue }
            var options = DeadlineOptions()
            var assumptions = [
                "receipt of the determination is not recorded: counted from its mailing date (\(mailedOn.iso)), the earliest it could have arrived"
            ]
            if facts.mailingAssumed {
                assumptions.insert(
                    "the determination's mailing date is not recorded: taken as its decision date (\(mailedOn.iso))",
                    at: 0
                )
            }
            if let kind = facts.implementationKind {
                options.servicesAlreadyProvided = kind == .reimbursed
            } else {
                assumptions.append("the services were assumed not yet given: 5 working days to authorize them")
            }
            let act = facts.implementation.map { Act(eventType: $0.event, version: $0.version, at: nil, on: $0.on) }
            emit(
                Clock(
                    rule: .imrImplementation,
                    key: facts.itemId.rawValue,
                    round: facts.round,
                    rfaId: facts.rfaId,
                    itemIds: [facts.itemId],
                    trigger: .date(mailedOn),
                    triggerFact: DeadlineTriggerFact(
                        description: "IMR determination overturning item \(facts.itemId), mailed",
                        date: mailedOn,
                        at: nil,
                        eventVersion: determination.version
                    ),
                    options: options,
                    act: act,
                    assumptions: assumptions
                )
            )
        }
    }
}
