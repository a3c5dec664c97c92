import Foundation

/// Checks `command` against the case and returns the events that record it.
///
/// Pure: `now` is the current instant, passed in by the caller; facts dated after it are
/// refused, and a note is stamped with it.
///
/// Refusals (each a ``CaseRuleViolation`` naming the item, RFA and dates):
/// - any command but opening on a case never opened; opening a case id twice;
/// - imported items (``DisputedItemsImported``) with no item, a reused item or RFA id, an
///   approved outcome or a modification without its authorized portion;
/// - anything but notes, reassignment and corrections on a closed or withdrawn case;
/// - an injured-worker reference that looks like more than initials or an internal id;
/// - a date before the date of injury, or after `now`;
/// - a fact dated before the fact that triggers it: information received before it was
///   requested, a UR decision before the RFA's receipt, physician notice before the UR
///   decision, written service before the decision day, an IMR application before service,
///   a request for eligibility information before the application, its response before the
///   request, eligibility before the application, assignment before eligibility, records before
///   assignment, a determination before assignment or mailed before it was decided,
///   implementation before the determination, an appeal before its mailing, a resolution
///   before the appeal;
/// - reused RFA or item ids, RFAs without items, unknown RFAs or items, items named twice;
/// - a second UR decision for an item (a new decision needs a new RFA with new item ids),
///   a modification without the authorized portion, notices for undecided items,
///   information requests or deferrals after UR decided every item;
/// - IMR for an undecided or approved item or before the written decision was served (an
///   imported item may skip the written service, which its letter proves happened on a day it
///   does not give: its application is checked against the UR decision's day instead), or
///   for an injury before 2013 whose UR decision was served before 2013-07-01 (SB 863);
///   a request for eligibility information without an application, after the eligibility
///   finding, twice for an item, or naming no party (or one twice); a response to it never
///   requested, or sent twice;
///   eligibility twice or without an application; assignment unless found eligible (an
///   imported item may be assigned without a recorded finding, never after an ineligible one);
///   records or a determination under a case number the items do not carry; a second
///   determination; implementing an upheld or undetermined item, or implementing twice;
///   an appeal before a determination, while one is pending, or twice; resolving an appeal
///   never filed;
/// - closing while an item still waits for UR, IMR, implementation or the WCAB;
/// - a correction of an unknown event, of a correction, of a field the event lacks, with a
///   value of the wrong kind, or one that would make the stream break any rule above.
///
/// Before any of these, every value the command carries is checked against its character set
/// and length (``CommandValues/validate(_:)``): a value outside them is refused as
/// ``CaseRuleViolation/Code/invalidValue`` with the same sentence. A caller that must name the
/// field (the service's `InvalidParameter`) validates first, as the service does.
///
/// - Throws: ``CaseRuleViolation`` and nothing else: the refusal's code and sentence.
public func decide(_ command: CaseCommand, state: CaseState, now: Date) throws(CaseRuleViolation) -> [CaseEvent] {
    do {
        try CommandValues.validate(command)
    } catch {
        throw CaseRuleViolation(.invalidValue, error.message)
    }
    return try decideUnnormalized(command, state: state, now: now).map { $0.truncatingInstantsToSeconds() }
}

private func decideUnnormalized(
    _ command: CaseCommand,
    state: CaseState,
    now: Date
) throws(CaseRuleViolation) -> [CaseEvent] {
    let rules = CaseRules(state: state, now: now)
    switch command {
    case .openCase(let e): return [.caseOpened(try rules.open(e))]
    case .receiveRFA(let e): return [.rfaReceived(try rules.receiveRFA(e))]
    case .requestMoreInformation(let e): return [.moreInformationRequested(try rules.requestInformation(e))]
    case .receiveInformation(let e): return [.informationReceived(try rules.receiveInformation(e))]
    case .deferUR(let e): return [.urDeferred(try rules.deferReview(e))]
    case .issueURDecision(let e): return [.urDecisionIssued(try rules.decideUR(e))]
    case .notifyPhysician(let e): return [.physicianNotified(try rules.notifyPhysician(e))]
    case .serveWrittenDecision(let e): return [.writtenURDecisionServed(try rules.serveWritten(e))]
    case .importDisputedItems(let e): return [.disputedItemsImported(try rules.importItems(e))]
    case .receiveIMRApplication(let e): return [.imrApplicationReceived(try rules.receiveApplication(e))]
    case .requestEligibilityInformation(let e):
        return [.imrEligibilityInformationRequested(try rules.requestEligibilityInformation(e))]
    case .sendEligibilityInformation(let e):
        return [.imrEligibilityInformationSent(try rules.sendEligibilityInformation(e))]
    case .findEligible(let e): return [.imrEligibilityFound(try rules.findEligible(e))]
    case .findIneligible(let e): return [.imrFoundIneligible(try rules.findIneligible(e))]
    case .assignIMR(let e): return [.imrAssigned(try rules.assign(e))]
    case .receiveRecords(let e): return [.imrRecordsReceived(try rules.receiveRecords(e))]
    case .issueDetermination(let e): return [.imrDeterminationIssued(try rules.determine(e))]
    case .implementDetermination(let e): return [.determinationImplemented(try rules.implement(e))]
    case .fileAppeal(let e): return [.wcabAppealFiled(try rules.fileAppeal(e))]
    case .resolveAppeal(let e): return [.wcabAppealResolved(try rules.resolveAppeal(e))]
    case .withdraw(let e): return [.caseWithdrawn(try rules.withdraw(e))]
    case .close(let e): return [.caseClosed(try rules.close(e))]
    case .reassignCoordinator(let to): return [.coordinatorReassigned(try rules.reassign(to: to))]
    case .addNote(let text): return [.noteAdded(try rules.note(text))]
    case .correct(let c): return [.eventCorrected(try rules.correct(c))]
    }
}

extension CaseEvent {
    /// The log stores instants as whole seconds; events leave `decide` already truncated,
    /// so the state folded from a fresh event equals the state folded from its stored copy.
    func truncatingInstantsToSeconds() -> CaseEvent {
        func whole(_ instant: Date) -> Date {
            Date(timeIntervalSince1970: instant.timeIntervalSince1970.rounded(.down))
        }
        switch self {
        case .rfaReceived(var e):
            e.receivedAt = whole(e.receivedAt)
            return .rfaReceived(e)
        case .urDecisionIssued(var e):
            e.decidedAt = whole(e.decidedAt)
            return .urDecisionIssued(e)
        case .physicianNotified(var e):
            e.notifiedAt = whole(e.notifiedAt)
            return .physicianNotified(e)
        case .noteAdded(var e):
            e.writtenAt = whole(e.writtenAt)
            return .noteAdded(e)
        case .eventCorrected(var e):
            if case .instant(let i) = e.value { e.value = .instant(whole(i)) }
            return .eventCorrected(e)
        default: return self
        }
    }
}

/// The command that would have produced `event`; nil for events that only annotate
/// (notes, corrections). Lets a correction be checked by replaying the stream.
func replayCommand(for event: CaseEvent) -> CaseCommand? {
    switch event {
    case .caseOpened(let e): .openCase(e)
    case .rfaReceived(let e): .receiveRFA(e)
    case .moreInformationRequested(let e): .requestMoreInformation(e)
    case .informationReceived(let e): .receiveInformation(e)
    case .urDeferred(let e): .deferUR(e)
    case .urDecisionIssued(let e): .issueURDecision(e)
    case .physicianNotified(let e): .notifyPhysician(e)
    case .writtenURDecisionServed(let e): .serveWrittenDecision(e)
    case .disputedItemsImported(let e): .importDisputedItems(e)
    case .imrApplicationReceived(let e): .receiveIMRApplication(e)
    case .imrEligibilityInformationRequested(let e): .requestEligibilityInformation(e)
    case .imrEligibilityInformationSent(let e): .sendEligibilityInformation(e)
    case .imrEligibilityFound(let e): .findEligible(e)
    case .imrFoundIneligible(let e): .findIneligible(e)
    case .imrAssigned(let e): .assignIMR(e)
    case .imrRecordsReceived(let e): .receiveRecords(e)
    case .imrDeterminationIssued(let e): .issueDetermination(e)
    case .determinationImplemented(let e): .implementDetermination(e)
    case .wcabAppealFiled(let e): .fileAppeal(e)
    case .wcabAppealResolved(let e): .resolveAppeal(e)
    case .caseWithdrawn(let e): .withdraw(e)
    case .caseClosed(let e): .close(e)
    case .coordinatorReassigned, .noteAdded, .eventCorrected: nil
    }
}

/// The checks of ``decide(_:state:now:)``, one method per command.
private struct CaseRules {
    let state: CaseState
    let now: Date

    private func refuse(_ code: CaseRuleViolation.Code, _ message: String) -> CaseRuleViolation {
        CaseRuleViolation(code, message)
    }

    private var today: LocalDate { Pacific.date(of: now) }

    // MARK: Common checks

    /// The case's facts, when it is open for new facts.
    private func openFacts() throws(CaseRuleViolation) -> CaseFacts {
        guard let facts = state.facts else {
            throw refuse(
                .caseNotOpen,
                "This case has not been opened; open it with its claim number and date of injury first"
            )
        }
        if let on = state.withdrawnOn {
            throw refuse(
                .caseWithdrawn,
                "Case \(facts.caseId) was withdrawn on \(on); only notes and corrections can be recorded on it"
            )
        }
        if let on = state.closedOn {
            throw refuse(
                .caseClosed,
                "Case \(facts.caseId) was closed on \(on); only notes and corrections can be recorded on it"
            )
        }
        return facts
    }

    private func openedFacts() throws(CaseRuleViolation) -> CaseFacts {
        guard let facts = state.facts else {
            throw refuse(
                .caseNotOpen,
                "This case has not been opened; open it with its claim number and date of injury first"
            )
        }
        return facts
    }

    private func requireText(_ text: String, _ what: String) throws(CaseRuleViolation) {
        // A printable ASCII character other than a space settles it without Foundation.
        if text.utf8.contains(where: { $0 > 0x20 && $0 < 0x7F }) { return }
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw refuse(.missingText, "\(what) is empty; record it as the document states it")
        }
    }

    /// `day` must lie between the date of injury and today.
    private func checkDay(_ day: LocalDate, _ what: String, facts: CaseFacts) throws(CaseRuleViolation) {
        if day < facts.dateOfInjury {
            throw refuse(
                .dateBeforeInjury,
                "\(what) (\(day)) is before the date of injury (\(facts.dateOfInjury)); check the date"
            )
        }
        if day > today {
            throw refuse(
                .dateInFuture,
                "\(what) (\(day)) is in the future (today is \(today)); record facts once they happen"
            )
        }
    }

    private func checkInstant(_ instant: Date, _ what: String, facts: CaseFacts) throws(CaseRuleViolation) {
        if Pacific.date(of: instant) < facts.dateOfInjury {
            throw refuse(
                .dateBeforeInjury,
                "\(what) (\(Pacific.rfc3339(instant))) is before the date of injury (\(facts.dateOfInjury)); check the date"
            )
        }
        if instant > now {
            throw refuse(
                .dateInFuture,
                "\(what) (\(Pacific.rfc3339(instant))) is in the future (now is \(Pacific.rfc3339(now))); record facts once they happen"
            )
        }
    }

    private func notBefore(
        _ day: LocalDate,
        _ what: String,
        _ trigger: LocalDate,
        _ triggerWhat: String
    ) throws(CaseRuleViolation) {
        if day < trigger {
            throw refuse(.dateBeforeTrigger, "\(what) (\(day)) is before \(triggerWhat) (\(trigger)); check both dates")
        }
    }

    private func rfa(_ id: RFAID) throws(CaseRuleViolation) -> RFAState {
        guard let rfa = state.rfa(id) else {
            let known = state.rfas.map(\.id.rawValue).joined(separator: ", ")
            throw refuse(
                .unknownRFA,
                "RFA \(id) is not on this case"
                    + (known.isEmpty ? "; no RFA has been received yet" : "; its RFAs are \(known)")
            )
        }
        return rfa
    }

    private func item(_ id: ItemID) throws(CaseRuleViolation) -> ItemState {
        guard let item = state.item(id) else {
            let known = state.items.map(\.id.rawValue).joined(separator: ", ")
            throw refuse(
                .unknownItem,
                "Item \(id) is not on this case"
                    + (known.isEmpty ? "; no item has been requested yet" : "; its items are \(known)")
            )
        }
        return item
    }

    /// The named items, each once, at least one.
    private func items(_ ids: [ItemID], for what: String) throws(CaseRuleViolation) -> [ItemState] {
        guard !ids.isEmpty else { throw refuse(.noItems, "\(what) names no item; name the items it covers") }
        var seen = Set<ItemID>()
        for id in ids where !seen.insert(id).inserted {
            throw refuse(.duplicateItem, "\(what) names item \(id) twice")
        }
        return try ids.map(item)
    }

    // MARK: Opening and RFAs

    func open(_ e: CaseOpened) throws(CaseRuleViolation) -> CaseOpened {
        if let facts = state.facts {
            throw refuse(
                .caseAlreadyOpen,
                "Case \(facts.caseId) is already open (claim \(facts.claimNumber)); a case id can be opened only once"
            )
        }
        try requireText(e.caseId.rawValue, "The case id")
        try requireText(e.claimNumber, "The claim number")
        try requireText(e.employer, "The employer")
        try requireText(e.claimsAdministrator, "The claims administrator")
        try requireText(e.coordinator, "The coordinator")
        let reference = e.injuredWorkerReference
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: ".-_"))
        if reference.isEmpty || reference.count > 24
            || reference.unicodeScalars.contains(where: { !allowed.contains($0) })
        {
            throw refuse(
                .personalDataRefused,
                "Injured-worker reference '\(reference)' is not initials or an internal id; record initials (e.g. J.S.) or your internal reference, never a name"
            )
        }
        if e.dateOfInjury > today {
            throw refuse(
                .dateInFuture,
                "Date of injury (\(e.dateOfInjury)) is in the future (today is \(today)); check the date"
            )
        }
        return e
    }

    func receiveRFA(_ e: RFAReceived) throws(CaseRuleViolation) -> RFAReceived {
        let facts = try openFacts()
        try requireText(e.rfaId.rawValue, "The RFA id")
        if let existing = state.rfa(e.rfaId) {
            throw refuse(
                .duplicateRFA,
                "RFA \(e.rfaId) was already received on \(Pacific.date(of: existing.receivedAt)); give a new RFA its own id"
            )
        }
        if let imported = state.items.first(where: { $0.rfaId == e.rfaId }), let source = imported.importedFrom {
            throw refuse(
                .duplicateRFA,
                "RFA id \(e.rfaId) names the items imported from \(source); give a new RFA its own id"
            )
        }
        try requireText(e.physician, "The requesting physician of RFA \(e.rfaId)")
        guard !e.items.isEmpty else {
            throw refuse(.noItems, "RFA \(e.rfaId) lists no treatment item; record at least one item")
        }
        var seen = Set<ItemID>()
        for requested in e.items {
            try requireText(requested.id.rawValue, "An item id of RFA \(e.rfaId)")
            try requireText(requested.description, "The description of item \(requested.id)")
            if !seen.insert(requested.id).inserted {
                throw refuse(
                    .duplicateItem,
                    "RFA \(e.rfaId) lists item \(requested.id) twice; give each item its own id"
                )
            }
            if let existing = state.item(requested.id) {
                throw refuse(
                    .duplicateItem,
                    "Item \(requested.id) is already on RFA \(existing.rfaId); item ids are unique within a case, so give this item a new id"
                )
            }
        }
        try checkInstant(e.receivedAt, "Receipt of RFA \(e.rfaId)", facts: facts)
        if let recommended = e.treatmentRecommendedOn {
            try checkDay(recommended, "The treatment recommendation date of RFA \(e.rfaId)", facts: facts)
            let received = Pacific.date(of: e.receivedAt)
            if recommended > received {
                throw refuse(
                    .dateBeforeTrigger,
                    "RFA \(e.rfaId) was received (\(received)) before its treatment recommendation date (\(recommended)); check both dates"
                )
            }
        }
        return e
    }

    /// Items a letter proves: they enter the case with their UR outcome, and no RFA clocks.
    func importItems(_ e: DisputedItemsImported) throws(CaseRuleViolation) -> DisputedItemsImported {
        let facts = try openFacts()
        try requireText(e.rfaId.rawValue, "The RFA id of the imported items")
        try requireText(e.source, "The source of the imported items")
        if state.rfa(e.rfaId) != nil || state.items.contains(where: { $0.rfaId == e.rfaId }) {
            throw refuse(
                .duplicateRFA,
                "RFA id \(e.rfaId) is already on this case; give the imported items an RFA id of their own"
            )
        }
        guard !e.items.isEmpty else {
            throw refuse(.noItems, "The import from \(e.source) lists no treatment item; a letter decides at least one")
        }
        var seen = Set<ItemID>()
        for imported in e.items {
            try requireText(imported.id.rawValue, "An item id of the import")
            try requireText(imported.description, "The description of item \(imported.id)")
            if !seen.insert(imported.id).inserted {
                throw refuse(.duplicateItem, "The import lists item \(imported.id) twice; give each item its own id")
            }
            if let existing = state.item(imported.id) {
                throw refuse(
                    .duplicateItem,
                    "Item \(imported.id) is already on RFA \(existing.rfaId); item ids are unique within a case, so give this item a new id"
                )
            }
            switch imported.urOutcome {
            case .approved:
                throw refuse(
                    .itemNotDisputable,
                    "Imported item \(imported.id) is recorded as approved by UR; only denied or modified items reach IMR"
                )
            case .modified:
                try requireText(
                    imported.authorizedPortion ?? "",
                    "The authorized portion of modified item \(imported.id)"
                )
            case .denied:
                break
            }
        }
        if let on = e.urDecidedOn { try checkDay(on, "The UR decision of the imported items", facts: facts) }
        return e
    }

    private func pendingItems(of rfa: RFAState) -> [ItemState] {
        rfa.itemIds.compactMap(state.item).filter { $0.urOutcome == nil }
    }

    func requestInformation(_ e: MoreInformationRequested) throws(CaseRuleViolation) -> MoreInformationRequested {
        let facts = try openFacts()
        let rfa = try rfa(e.rfaId)
        if let on = rfa.informationRequestedOn {
            throw refuse(.alreadyRecorded, "More information for RFA \(rfa.id) was already requested on \(on)")
        }
        if pendingItems(of: rfa).isEmpty {
            throw refuse(
                .urAlreadyDecided,
                "UR already decided every item of RFA \(rfa.id); more information can only be requested before the decision"
            )
        }
        try requireText(e.whatIsNeeded, "What UR needs")
        try checkDay(e.requestedOn, "The information request for RFA \(rfa.id)", facts: facts)
        try notBefore(
            e.requestedOn,
            "The information request for RFA \(rfa.id)",
            Pacific.date(of: rfa.receivedAt),
            "the RFA's receipt"
        )
        return e
    }

    func receiveInformation(_ e: InformationReceived) throws(CaseRuleViolation) -> InformationReceived {
        let facts = try openFacts()
        let rfa = try rfa(e.rfaId)
        guard let requested = rfa.informationRequestedOn else {
            throw refuse(
                .informationNotRequested,
                "UR has not requested more information for RFA \(rfa.id); record the request first"
            )
        }
        if let on = rfa.informationReceivedOn {
            throw refuse(.alreadyRecorded, "The information for RFA \(rfa.id) was already received on \(on)")
        }
        try checkDay(e.receivedOn, "Receipt of the information for RFA \(rfa.id)", facts: facts)
        try notBefore(e.receivedOn, "Receipt of the information for RFA \(rfa.id)", requested, "its request")
        return e
    }

    func deferReview(_ e: URDeferred) throws(CaseRuleViolation) -> URDeferred {
        let facts = try openFacts()
        let rfa = try rfa(e.rfaId)
        if let on = rfa.deferredOn {
            throw refuse(.alreadyRecorded, "UR of RFA \(rfa.id) was already deferred on \(on)")
        }
        if pendingItems(of: rfa).count < rfa.itemIds.count {
            throw refuse(
                .urAlreadyDecided,
                "UR already decided items of RFA \(rfa.id); a deferral for disputed liability comes before any decision"
            )
        }
        try requireText(e.liabilityDispute, "The liability dispute")
        try checkDay(e.deferredOn, "The deferral of RFA \(rfa.id)", facts: facts)
        try notBefore(
            e.deferredOn,
            "The deferral of RFA \(rfa.id)",
            Pacific.date(of: rfa.receivedAt),
            "the RFA's receipt"
        )
        return e
    }

    // MARK: Utilization review

    func decideUR(_ e: URDecisionIssued) throws(CaseRuleViolation) -> URDecisionIssued {
        let facts = try openFacts()
        let rfa = try rfa(e.rfaId)
        let decided = try items(e.decisions.map(\.itemId), for: "The UR decision on RFA \(rfa.id)")
        for (item, decision) in zip(decided, e.decisions) {
            if item.rfaId != rfa.id {
                throw refuse(
                    .itemNotOnRFA,
                    "Item \(item.id) is on RFA \(item.rfaId), not RFA \(rfa.id); decide it under its own RFA"
                )
            }
            if let outcome = item.urOutcome, let at = item.urDecidedAt {
                throw refuse(
                    .urAlreadyDecided,
                    "UR already decided item \(item.id) (\(outcome.rawValue)) on \(Pacific.date(of: at)); a new decision needs a new RFA with new item ids"
                )
            }
            if decision.outcome == .modified {
                try requireText(decision.authorizedPortion ?? "", "The authorized portion of modified item \(item.id)")
            }
        }
        try checkInstant(e.decidedAt, "The UR decision on RFA \(rfa.id)", facts: facts)
        if e.decidedAt < rfa.receivedAt {
            throw refuse(
                .dateBeforeTrigger,
                "The UR decision at \(Pacific.rfc3339(e.decidedAt)) is before RFA \(rfa.id) was received at \(Pacific.rfc3339(rfa.receivedAt)); check both"
            )
        }
        return e
    }

    private func decidedAt(_ item: ItemState, for what: String) throws(CaseRuleViolation) -> Date {
        guard let at = item.urDecidedAt else {
            throw refuse(.urNotDecided, "UR has not decided item \(item.id); \(what) follows the UR decision")
        }
        return at
    }

    func notifyPhysician(_ e: PhysicianNotified) throws(CaseRuleViolation) -> PhysicianNotified {
        let facts = try openFacts()
        for item in try items(e.itemIds, for: "The physician notice") {
            let at = try decidedAt(item, for: "notice to the physician")
            if let notified = item.physicianNotifiedAt {
                throw refuse(
                    .alreadyRecorded,
                    "The physician was already notified of the decision on item \(item.id) at \(Pacific.rfc3339(notified))"
                )
            }
            if e.notifiedAt < at {
                throw refuse(
                    .dateBeforeTrigger,
                    "Notice to the physician at \(Pacific.rfc3339(e.notifiedAt)) is before UR decided item \(item.id) at \(Pacific.rfc3339(at)); check both"
                )
            }
        }
        try checkInstant(e.notifiedAt, "Notice to the physician", facts: facts)
        return e
    }

    func serveWritten(_ e: WrittenURDecisionServed) throws(CaseRuleViolation) -> WrittenURDecisionServed {
        let facts = try openFacts()
        for item in try items(e.itemIds, for: "The written UR decision") {
            let at = try decidedAt(item, for: "service of the written decision")
            if let served = item.writtenDecisionServedOn {
                throw refuse(
                    .alreadyRecorded,
                    "The written UR decision on item \(item.id) was already served on \(served)"
                )
            }
            try notBefore(
                e.servedOn,
                "Service of the written decision on item \(item.id)",
                Pacific.date(of: at),
                "the UR decision"
            )
        }
        try checkDay(e.servedOn, "Service of the written UR decision", facts: facts)
        return e
    }

    // MARK: IMR

    func receiveApplication(_ e: IMRApplicationReceived) throws(CaseRuleViolation) -> IMRApplicationReceived {
        let facts = try openFacts()
        for item in try items(e.itemIds, for: "The IMR application") {
            let refused = "IMR application for item \(item.id) refused"
            guard let outcome = item.urOutcome, item.urDecidedAt != nil || item.importedFrom != nil else {
                throw refuse(
                    .urNotDecided,
                    "\(refused): UR has not decided item \(item.id); IMR reviews a UR denial or modification"
                )
            }
            if let received = item.imrApplicationReceivedOn {
                throw refuse(
                    .alreadyRecorded,
                    "\(refused): an IMR application for item \(item.id) was already received on \(received)"
                )
            }
            if outcome == .approved {
                throw refuse(
                    .itemNotDisputable,
                    "\(refused): UR approved item \(item.id) on \(item.urDecidedOn?.iso ?? "an unrecorded day"); only denied or modified items can go to IMR"
                )
            }
            if item.importedFrom != nil, item.writtenDecisionServedOn == nil {
                // The letter proves the UR decision went to IMR; its written service is not on record.
                if let decided = item.urDecidedOn {
                    if facts.dateOfInjury < RuleBook.imrStart, decided < RuleBook.imrForDecisionsFrom {
                        throw refuse(
                            .imrNotApplicable,
                            "\(refused): the injury of \(facts.dateOfInjury) predates \(RuleBook.imrStart.year) and the UR decision on item \(item.id) was made on \(decided), before IMR began on \(RuleBook.imrForDecisionsFrom.iso); the WCAB decides this dispute"
                        )
                    }
                    try notBefore(e.receivedOn, "The IMR application for item \(item.id)", decided, "the UR decision")
                }
                continue
            }
            guard let served = item.writtenDecisionServedOn else {
                throw refuse(
                    .writtenDecisionNotServed,
                    "\(refused): the written UR decision on item \(item.id) has not been served; record its service first"
                )
            }
            if facts.dateOfInjury < RuleBook.imrStart, served < RuleBook.imrForDecisionsFrom {
                throw refuse(
                    .imrNotApplicable,
                    "\(refused): the injury of \(facts.dateOfInjury) predates \(RuleBook.imrStart.year) and the UR decision on item \(item.id) was served on \(served), before IMR began on \(RuleBook.imrForDecisionsFrom.iso); the WCAB decides this dispute"
                )
            }
            try notBefore(
                e.receivedOn,
                "The IMR application for item \(item.id)",
                served,
                "service of the written UR decision"
            )
        }
        try checkDay(e.receivedOn, "The IMR application", facts: facts)
        return e
    }

    private func applicationAwaitingEligibility(_ item: ItemState) throws(CaseRuleViolation) -> LocalDate {
        guard let applied = item.imrApplicationReceivedOn else {
            throw refuse(
                .noIMRApplication,
                "No IMR application for item \(item.id) has been received; record the application first"
            )
        }
        if let on = item.imrEligibleOn {
            throw refuse(.eligibilityAlreadyDecided, "Item \(item.id) was already found eligible for IMR on \(on)")
        }
        if let on = item.imrIneligibleOn {
            throw refuse(
                .eligibilityAlreadyDecided,
                "Item \(item.id) was already found ineligible for IMR on \(on) (\(item.ineligibilityReason?.rawValue ?? "other"))"
            )
        }
        return applied
    }

    func requestEligibilityInformation(
        _ e: IMREligibilityInformationRequested
    ) throws(CaseRuleViolation) -> IMREligibilityInformationRequested {
        let facts = try openFacts()
        try requireText(e.whatIsRequested, "What the AD asks for")
        guard !e.requestedFrom.isEmpty else {
            throw refuse(.noParty, "The request for eligibility information names no party; name who must answer it")
        }
        var parties = Set<EligibilityInformationParty>()
        for party in e.requestedFrom where !parties.insert(party).inserted {
            throw refuse(.duplicateParty, "The request for eligibility information names \(party.rawValue) twice")
        }
        for item in try items(e.itemIds, for: "The request for eligibility information") {
            // The AD asks while it decides eligibility: after the application, before the finding.
            let applied = try applicationAwaitingEligibility(item)
            if let on = item.eligibilityInformationRequestedOn {
                throw refuse(
                    .alreadyRecorded,
                    "The AD already asked for eligibility information on item \(item.id) on \(on)"
                )
            }
            try notBefore(
                e.requestedOn,
                "The request for eligibility information on item \(item.id)",
                applied,
                "its IMR application"
            )
        }
        try checkDay(e.requestedOn, "The request for eligibility information", facts: facts)
        return e
    }

    func sendEligibilityInformation(
        _ e: IMREligibilityInformationSent
    ) throws(CaseRuleViolation) -> IMREligibilityInformationSent {
        let facts = try openFacts()
        for item in try items(e.itemIds, for: "The eligibility information sent") {
            guard let requested = item.eligibilityInformationRequestedOn else {
                throw refuse(
                    .informationNotRequested,
                    "The AD has not asked for eligibility information on item \(item.id); record its request first"
                )
            }
            if let on = item.eligibilityInformationSentOn {
                throw refuse(
                    .alreadyRecorded,
                    "The eligibility information on item \(item.id) was already sent on \(on)"
                )
            }
            try notBefore(e.sentOn, "The eligibility information on item \(item.id)", requested, "the AD's request")
        }
        try checkDay(e.sentOn, "The eligibility information sent", facts: facts)
        return e
    }

    func findEligible(_ e: IMREligibilityFound) throws(CaseRuleViolation) -> IMREligibilityFound {
        try checkFinding("eligibility", items: e.itemIds, on: e.foundOn)
        return e
    }

    func findIneligible(_ e: IMRFoundIneligible) throws(CaseRuleViolation) -> IMRFoundIneligible {
        try checkFinding("ineligibility", items: e.itemIds, on: e.foundOn)
        return e
    }

    /// The AD's finding either way: once per item, after its application, on a day the case allows.
    private func checkFinding(_ kind: String, items ids: [ItemID], on foundOn: LocalDate) throws(CaseRuleViolation) {
        let facts = try openFacts()
        for item in try items(ids, for: "The \(kind) finding") {
            let applied = try applicationAwaitingEligibility(item)
            try notBefore(foundOn, "The \(kind) finding for item \(item.id)", applied, "its IMR application")
        }
        try checkDay(foundOn, "The \(kind) finding", facts: facts)
    }

    func assign(_ e: IMRAssigned) throws(CaseRuleViolation) -> IMRAssigned {
        let facts = try openFacts()
        for item in try items(e.itemIds, for: "The IMR assignment") {
            if let number = item.imrCaseNumber, let on = item.imrAssignedOn {
                throw refuse(.alreadyRecorded, "Item \(item.id) was already assigned to IMR case \(number) on \(on)")
            }
            if let on = item.imrIneligibleOn {
                throw refuse(
                    .notEligible,
                    "Item \(item.id) cannot be assigned to IMR: its application was found ineligible on \(on)"
                )
            }
            if item.importedFrom != nil, item.imrEligibleOn == nil {
                // The letter's assignment proves the AD found it eligible, on a day it does not give.
                if let applied = item.imrApplicationReceivedOn {
                    try notBefore(e.assignedOn, "The IMR assignment of item \(item.id)", applied, "its IMR application")
                } else if let decided = item.urDecidedOn {
                    try notBefore(e.assignedOn, "The IMR assignment of item \(item.id)", decided, "its UR decision")
                }
                continue
            }
            guard let eligible = item.imrEligibleOn else {
                throw refuse(
                    .notEligible,
                    "Item \(item.id) cannot be assigned to IMR: no application for it has been found eligible"
                )
            }
            try notBefore(e.assignedOn, "The IMR assignment of item \(item.id)", eligible, "its eligibility finding")
        }
        try checkDay(e.assignedOn, "The IMR assignment", facts: facts)
        return e
    }

    private func assignedItems(_ number: IMRCaseNumber) throws(CaseRuleViolation) -> [ItemState] {
        let assigned = state.items(assignedTo: number)
        if assigned.isEmpty {
            let known = Set(state.items.compactMap(\.imrCaseNumber)).sorted().map(\.rawValue).joined(separator: ", ")
            throw refuse(
                .unknownIMRCaseNumber,
                "No item of this case is assigned to IMR case \(number)"
                    + (known.isEmpty ? "; no item has been assigned to IMR yet" : "; its IMR case numbers are \(known)")
            )
        }
        return assigned
    }

    func receiveRecords(_ e: IMRRecordsReceived) throws(CaseRuleViolation) -> IMRRecordsReceived {
        let facts = try openFacts()
        let assigned = try assignedItems(e.imrCaseNumber)
        if assigned.allSatisfy({ $0.recordsReceivedOn != nil }), let on = assigned.first?.recordsReceivedOn {
            throw refuse(.alreadyRecorded, "The IMRO already received the records for \(e.imrCaseNumber) on \(on)")
        }
        for item in assigned {
            if let on = item.imrAssignedOn {
                try notBefore(e.receivedOn, "Receipt of the records for \(e.imrCaseNumber)", on, "its assignment")
            }
        }
        try checkDay(e.receivedOn, "Receipt of the records", facts: facts)
        return e
    }

    func determine(_ e: IMRDeterminationIssued) throws(CaseRuleViolation) -> IMRDeterminationIssued {
        let facts = try openFacts()
        for item in try items(e.items.map(\.itemId), for: "The final determination \(e.imrCaseNumber)") {
            guard let number = item.imrCaseNumber, let assigned = item.imrAssignedOn else {
                throw refuse(
                    .notAssigned,
                    "Item \(item.id) is not assigned to IMR; a final determination can only decide assigned items"
                )
            }
            if number != e.imrCaseNumber {
                throw refuse(
                    .imrCaseNumberMismatch,
                    "Item \(item.id) is assigned to IMR case \(number), not \(e.imrCaseNumber); check the letter's case number"
                )
            }
            if let decision = item.imrDecision, let on = item.determinationDecidedOn {
                throw refuse(
                    .alreadyDetermined,
                    "IMR already decided item \(item.id) (\(decision.rawValue)) on \(on) under \(number)"
                )
            }
            try notBefore(e.decidedOn, "The determination of item \(item.id)", assigned, "its IMR assignment")
        }
        try checkDay(e.decidedOn, "The determination's decision date", facts: facts)
        if let mailedOn = e.mailedOn {
            try notBefore(mailedOn, "The mailing of determination \(e.imrCaseNumber)", e.decidedOn, "its decision date")
            try checkDay(mailedOn, "The determination's mailing date", facts: facts)
        }
        return e
    }

    func implement(_ e: DeterminationImplemented) throws(CaseRuleViolation) -> DeterminationImplemented {
        let facts = try openFacts()
        let item = try item(e.itemId)
        guard let decision = item.imrDecision, let decided = item.determinationDecidedOn else {
            throw refuse(
                .notDetermined,
                "Item \(item.id) has no IMR determination; only an overturned item is implemented"
            )
        }
        if decision == .upheld {
            throw refuse(
                .notOverturned,
                "Item \(item.id) cannot be implemented: IMR upheld the UR decision on \(decided); only overturned items are implemented"
            )
        }
        if let on = item.implementedOn {
            throw refuse(.alreadyImplemented, "Item \(item.id) was already implemented on \(on)")
        }
        try checkDay(e.implementedOn, "The implementation of item \(item.id)", facts: facts)
        try notBefore(e.implementedOn, "The implementation of item \(item.id)", decided, "its determination")
        return e
    }

    // MARK: Appeal

    func fileAppeal(_ e: WCABAppealFiled) throws(CaseRuleViolation) -> WCABAppealFiled {
        let facts = try openFacts()
        for item in try items(e.itemIds, for: "The WCAB appeal") {
            // An unknown mailing date counts as the decision date, as the deadline engine assumes.
            guard item.imrDecision != nil, let mailed = item.determinationMailedOn ?? item.determinationDecidedOn else {
                throw refuse(
                    .notDetermined,
                    "Appeal of item \(item.id) refused: IMR has not determined item \(item.id); the WCAB hears appeals of final determinations only"
                )
            }
            if let filed = item.appealFiledOn {
                if item.isAppealPending {
                    throw refuse(.appealPending, "An appeal of item \(item.id) filed on \(filed) is still pending")
                }
                throw refuse(
                    .alreadyRecorded,
                    "The determination of item \(item.id) was already appealed on \(filed) (\(item.appealOutcome?.rawValue ?? "resolved"))"
                )
            }
            try notBefore(e.filedOn, "The appeal of item \(item.id)", mailed, "the mailing of its determination")
        }
        try checkDay(e.filedOn, "The WCAB appeal", facts: facts)
        return e
    }

    func resolveAppeal(_ e: WCABAppealResolved) throws(CaseRuleViolation) -> WCABAppealResolved {
        let facts = try openFacts()
        for item in try items(e.itemIds, for: "The appeal resolution") {
            guard item.isAppealPending, let filed = item.appealFiledOn else {
                throw refuse(.noAppeal, "No appeal of item \(item.id) is pending; record the appeal first")
            }
            try notBefore(e.resolvedOn, "The resolution of the appeal of item \(item.id)", filed, "its filing")
        }
        try checkDay(e.resolvedOn, "The appeal resolution", facts: facts)
        return e
    }

    // MARK: Administration

    func withdraw(_ e: CaseWithdrawn) throws(CaseRuleViolation) -> CaseWithdrawn {
        let facts = try openFacts()
        try requireText(e.reason, "The reason for withdrawal")
        try checkDay(e.withdrawnOn, "The withdrawal", facts: facts)
        return e
    }

    func close(_ e: CaseClosed) throws(CaseRuleViolation) -> CaseClosed {
        let facts = try openFacts()
        try requireText(e.reason, "The reason for closing")
        let waiting: [String] = state.items.compactMap { item in
            switch item.status {
            case .pendingUR: "item \(item.id) awaits a UR decision"
            case .imrApplied: "item \(item.id) awaits an IMR eligibility finding"
            case .imrEligible: "item \(item.id) awaits IMR assignment"
            case .imrAssigned: "item \(item.id) awaits the IMR determination (\(item.imrCaseNumber?.rawValue ?? "?"))"
            case .overturned: "item \(item.id) was overturned and awaits implementation"
            case .appealed: "item \(item.id) has a WCAB appeal pending"
            case .approved, .modified, .denied, .imrIneligible, .upheld, .implemented: nil
            }
        }
        if !waiting.isEmpty {
            throw refuse(
                .itemsUnresolved,
                "Case \(facts.caseId) cannot be closed: \(waiting.joined(separator: "; ")); record those steps or withdraw the case"
            )
        }
        try checkDay(e.closedOn, "The closing", facts: facts)
        return e
    }

    func reassign(to coordinator: String) throws(CaseRuleViolation) -> CoordinatorReassigned {
        _ = try openedFacts()
        try requireText(coordinator, "The new coordinator")
        let current = state.coordinator ?? ""
        if coordinator == current {
            throw refuse(.sameCoordinator, "\(coordinator) already coordinates this case")
        }
        return CoordinatorReassigned(from: current, to: coordinator)
    }

    func note(_ text: String) throws(CaseRuleViolation) -> NoteAdded {
        _ = try openedFacts()
        try requireText(text, "The note")
        return NoteAdded(writtenAt: now, text: text)
    }

    // MARK: Corrections

    func correct(_ c: CorrectEvent) throws(CaseRuleViolation) -> EventCorrected {
        let facts = try openedFacts()
        guard let target = state.recorded.first(where: { $0.version == c.version }) else {
            throw refuse(
                .unknownEvent,
                "This case has no event at version \(c.version); it holds versions 1 to \(state.version)"
            )
        }
        if let id = c.eventId, id != target.eventId {
            throw refuse(
                .unknownEvent,
                "The event at version \(c.version) has id \(target.eventId), not \(id); reload the case and try again"
            )
        }
        if case .eventCorrected = target.event {
            throw refuse(
                .uncorrectableField,
                "Version \(c.version) is itself a correction; correct the original event instead"
            )
        }
        try requireText(c.reason, "The reason for the correction")
        _ = try target.event.correcting(c.field, to: c.value)
        if let day = c.value.day {
            if c.field != .dateOfInjury, day < facts.dateOfInjury {
                throw refuse(
                    .dateBeforeInjury,
                    "Corrected \(c.field.rawValue) (\(day)) is before the date of injury (\(facts.dateOfInjury)); check the date"
                )
            }
            if day > today {
                throw refuse(
                    .dateInFuture,
                    "Corrected \(c.field.rawValue) (\(day)) is in the future (today is \(today))"
                )
            }
        }
        let correction = EventCorrected(
            correctedEventId: target.eventId,
            correctedVersion: target.version,
            field: c.field,
            value: c.value,
            reason: c.reason
        )
        try replayWith(correction)
        return correction
    }

    /// Replays the stream as it would read after `correction`, checking every event
    /// against the rules, so a corrected date cannot put a fact before its trigger.
    private func replayWith(_ correction: EventCorrected) throws(CaseRuleViolation) {
        let proposed = evolve(
            state,
            RecordedCaseEvent(
                event: .eventCorrected(correction),
                version: state.version + 1,
                eventId: UUID(uuidString: "00000000-0000-0000-0000-000000000000")!,
                recordedAt: now
            )
        )
        var replayed = CaseState()
        for entry in proposed.recorded {
            if case .eventCorrected = entry.event { continue }
            let event = try entry.readThrough(proposed.corrections.map(\.correction))
            if let command = replayCommand(for: event) {
                do {
                    _ = try decide(command, state: replayed, now: now)
                } catch let violation {
                    throw refuse(
                        violation.code,
                        "Correcting \(correction.field.rawValue) of version \(correction.correctedVersion) to \(correction.value) would break the case at version \(entry.version): \(violation.message)"
                    )
                }
            }
            replayed = evolve(
                replayed,
                RecordedCaseEvent(
                    event: event,
                    version: entry.version,
                    eventId: entry.eventId,
                    recordedAt: entry.recordedAt
                )
            )
        }
    }
}
