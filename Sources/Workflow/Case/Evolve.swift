import Foundation

/// Folds one recorded event into the case state.
///
/// Total: an event the state cannot place (an unknown item, say) changes nothing rather
/// than trapping, because the log is the source of truth and a rebuild must never crash.
/// ``decide(_:state:now:)`` keeps such events out of the log in the first place.
///
/// A correction re-folds the stream from the start with every correction applied to the
/// event it names, so the fold reads the corrected value everywhere.
public func evolve(_ state: CaseState, _ recorded: RecordedCaseEvent) -> CaseState {
    var next = state
    next.recorded.append(recorded)
    next.version = recorded.version
    if case .eventCorrected = recorded.event {
        return refold(next.recorded)
    }
    next.apply(recorded.event, version: recorded.version)
    return next
}

/// Replays `log` with each event read through the corrections that name it.
///
/// A correction only reaches events recorded before it (by version and event id), so an
/// incremental fold and a rebuild agree whatever the log holds.
private func refold(_ log: [RecordedCaseEvent]) -> CaseState {
    var corrections: [Int: [(EventCorrected, Int)]] = [:]
    for entry in log {
        if case .eventCorrected(let c) = entry.event, c.correctedVersion < entry.version {
            corrections[c.correctedVersion, default: []].append((c, entry.version))
        }
    }
    var state = CaseState()
    state.recorded = log
    state.version = log.last?.version ?? 0
    for entry in log {
        if case .eventCorrected(let c) = entry.event {
            if c.correctedVersion < entry.version {
                state.corrections.append(AppliedCorrection(version: entry.version, correction: c))
            }
            continue
        }
        // A correction decide accepted always applies; one that does not fit is skipped.
        let event =
            (try? entry.readThrough(corrections[entry.version]?.map(\.0) ?? [], skippingMisfits: true)) ?? entry.event
        state.apply(event, version: entry.version)
    }
    return state
}

extension CaseState {
    mutating func apply(_ event: CaseEvent, version: Int) {
        switch event {
        case .caseOpened(let e):
            facts = CaseFacts(
                caseId: e.caseId,
                claimNumber: e.claimNumber,
                employer: e.employer,
                claimsAdministrator: e.claimsAdministrator,
                injuredWorkerReference: e.injuredWorkerReference,
                dateOfInjury: e.dateOfInjury
            )
            coordinator = e.coordinator

        case .rfaReceived(let e):
            guard rfa(e.rfaId) == nil else { return }
            rfas.append(
                RFAState(
                    id: e.rfaId,
                    receivedAt: e.receivedAt,
                    receivedTimeOfDayKnown: e.receivedTimeOfDayKnown,
                    transmission: e.transmission,
                    physician: e.physician,
                    treatmentRecommendedOn: e.treatmentRecommendedOn,
                    reviewType: e.reviewType,
                    expedited: e.expedited,
                    formulary: e.formulary,
                    itemIds: e.items.map(\.id)
                )
            )
            let receivedOn = Pacific.date(of: e.receivedAt)
            for requested in e.items where item(requested.id) == nil {
                var newItem = ItemState(id: requested.id, rfaId: e.rfaId, description: requested.description)
                newItem.history.append(ItemMilestone(event: RFAReceived.typeName, on: receivedOn, version: version))
                items.append(newItem)
            }

        case .moreInformationRequested(let e):
            updateRFA(e.rfaId) {
                $0.informationRequestedOn = e.requestedOn
                $0.informationRequested = e.whatIsNeeded
            }

        case .informationReceived(let e):
            updateRFA(e.rfaId) { $0.informationReceivedOn = e.receivedOn }

        case .urDeferred(let e):
            updateRFA(e.rfaId) {
                $0.deferredOn = e.deferredOn
                $0.liabilityDispute = e.liabilityDispute
            }

        case .urDecisionIssued(let e):
            let on = Pacific.date(of: e.decidedAt)
            for decision in e.decisions {
                updateItem(decision.itemId, milestone: (URDecisionIssued.typeName, on, version)) {
                    $0.urOutcome = decision.outcome
                    $0.authorizedPortion = decision.authorizedPortion
                    $0.urDecidedAt = e.decidedAt
                }
            }

        case .physicianNotified(let e):
            updateItems(e.itemIds, milestone: (PhysicianNotified.typeName, Pacific.date(of: e.notifiedAt), version)) {
                $0.physicianNotifiedAt = e.notifiedAt
                $0.physicianNotificationMethod = e.method
            }

        case .writtenURDecisionServed(let e):
            updateItems(e.itemIds, milestone: (WrittenURDecisionServed.typeName, e.servedOn, version)) {
                $0.writtenDecisionServedOn = e.servedOn
                $0.writtenDecisionServiceMethod = e.method
                $0.writtenDecisionServiceDestination = e.destination
            }

        case .disputedItemsImported(let e):
            for imported in e.items where item(imported.id) == nil {
                var newItem = ItemState(id: imported.id, rfaId: e.rfaId, description: imported.description)
                newItem.importedFrom = e.source
                newItem.urOutcome = imported.urOutcome
                newItem.authorizedPortion = imported.authorizedPortion
                newItem.disputedPortion = imported.disputedPortion
                if let on = e.urDecidedOn {
                    newItem.urDecidedAt = Pacific.startOfDay(on)
                    newItem.urDecisionTimeKnown = false
                    newItem.history.append(
                        ItemMilestone(event: DisputedItemsImported.typeName, on: on, version: version)
                    )
                }
                items.append(newItem)
            }

        case .imrApplicationReceived(let e):
            updateItems(e.itemIds, milestone: (IMRApplicationReceived.typeName, e.receivedOn, version)) {
                $0.imrApplicationReceivedOn = e.receivedOn
            }

        case .imrEligibilityInformationRequested(let e):
            updateItems(e.itemIds, milestone: (IMREligibilityInformationRequested.typeName, e.requestedOn, version)) {
                $0.eligibilityInformationRequestedOn = e.requestedOn
                $0.eligibilityInformationRequested = e.whatIsRequested
                $0.eligibilityInformationRequestedFrom = e.requestedFrom
            }

        case .imrEligibilityInformationSent(let e):
            updateItems(e.itemIds, milestone: (IMREligibilityInformationSent.typeName, e.sentOn, version)) {
                $0.eligibilityInformationSentOn = e.sentOn
            }

        case .imrEligibilityFound(let e):
            updateItems(e.itemIds, milestone: (IMREligibilityFound.typeName, e.foundOn, version)) {
                $0.imrEligibleOn = e.foundOn
            }

        case .imrFoundIneligible(let e):
            updateItems(e.itemIds, milestone: (IMRFoundIneligible.typeName, e.foundOn, version)) {
                $0.imrIneligibleOn = e.foundOn
                $0.ineligibilityReason = e.reason
            }

        case .imrAssigned(let e):
            updateItems(e.itemIds, milestone: (IMRAssigned.typeName, e.assignedOn, version)) {
                $0.imrCaseNumber = e.imrCaseNumber
                $0.imrAssignedOn = e.assignedOn
                $0.imrPriority = e.priority
                $0.assignmentNoticeMethod = e.noticeMethod
            }

        case .imrRecordsReceived(let e):
            for assigned in items(assignedTo: e.imrCaseNumber) {
                updateItem(assigned.id, milestone: (IMRRecordsReceived.typeName, e.receivedOn, version)) {
                    $0.recordsReceivedOn = e.receivedOn
                }
            }

        case .imrDeterminationIssued(let e):
            for determined in e.items {
                updateItem(determined.itemId, milestone: (IMRDeterminationIssued.typeName, e.decidedOn, version)) {
                    $0.determinationDecidedOn = e.decidedOn
                    $0.determinationMailedOn = e.mailedOn
                    $0.imrDecision = determined.decision
                    $0.guideline = determined.guideline
                    $0.rationaleSummary = determined.rationaleSummary
                    $0.reviewerSpecialty = e.reviewerSpecialty
                }
            }

        case .determinationImplemented(let e):
            updateItem(e.itemId, milestone: (DeterminationImplemented.typeName, e.implementedOn, version)) {
                $0.implementedOn = e.implementedOn
                $0.implementationKind = e.kind
            }

        case .wcabAppealFiled(let e):
            updateItems(e.itemIds, milestone: (WCABAppealFiled.typeName, e.filedOn, version)) {
                $0.appealFiledOn = e.filedOn
                $0.appealFiledBy = e.filedBy
                $0.appealResolvedOn = nil
                $0.appealOutcome = nil
            }

        case .wcabAppealResolved(let e):
            updateItems(e.itemIds, milestone: (WCABAppealResolved.typeName, e.resolvedOn, version)) {
                $0.appealResolvedOn = e.resolvedOn
                $0.appealOutcome = e.outcome
                if e.outcome == .remanded {
                    // Back to the IMRO for a new determination; the old round stays in history.
                    $0.imrRound += 1
                    $0.recordsReceivedOn = nil
                    $0.determinationDecidedOn = nil
                    $0.determinationMailedOn = nil
                    $0.imrDecision = nil
                    $0.guideline = nil
                    $0.rationaleSummary = nil
                    $0.reviewerSpecialty = nil
                    $0.implementedOn = nil
                    $0.implementationKind = nil
                    $0.appealFiledOn = nil
                    $0.appealFiledBy = nil
                    $0.appealResolvedOn = nil
                    $0.appealOutcome = nil
                }
            }

        case .caseWithdrawn(let e):
            withdrawnOn = e.withdrawnOn

        case .caseClosed(let e):
            closedOn = e.closedOn

        case .coordinatorReassigned(let e):
            coordinator = e.to

        case .noteAdded(let e):
            notes.append(CaseNote(writtenAt: e.writtenAt, text: e.text, version: version))

        case .eventCorrected:
            // Handled by `evolve`, which re-folds the stream.
            break
        }
    }

    private mutating func updateRFA(_ id: RFAID, _ change: (inout RFAState) -> Void) {
        guard let index = rfas.firstIndex(where: { $0.id == id }) else { return }
        change(&rfas[index])
    }

    /// Applies `change` to each named item and records the milestone in its history.
    private mutating func updateItems(
        _ ids: [ItemID],
        milestone: (String, LocalDate, Int),
        _ change: (inout ItemState) -> Void
    ) {
        for id in ids { updateItem(id, milestone: milestone, change) }
    }

    private mutating func updateItem(
        _ id: ItemID,
        milestone: (String, LocalDate, Int),
        _ change: (inout ItemState) -> Void
    ) {
        guard let index = items.firstIndex(where: { $0.id == id }) else { return }
        change(&items[index])
        items[index].history.append(ItemMilestone(event: milestone.0, on: milestone.1, version: milestone.2))
    }
}
