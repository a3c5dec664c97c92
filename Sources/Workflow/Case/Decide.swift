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
struct CaseRules {
    let state: CaseState
    let now: Date

    func refuse(_ code: CaseRuleViolation.Code, _ message: String) -> CaseRuleViolation {
        CaseRuleViolation(code, message)
    }

    var today: LocalDate { Pacific.date(of: now) }

    // MARK: Common checks

    /// The case's facts, when it is open for new facts.
    func openFacts() throws(CaseRuleViolation) -> CaseFacts {
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

    func openedFacts() throws(CaseRuleViolation) -> CaseFacts {
        guard let facts = state.facts else {
            throw refuse(
                .caseNotOpen,
                "This case has not been opened; open it with its claim number and date of injury first"
            )
        }
        return facts
    }

    func requireText(_ text: String, _ what: String) throws(CaseRuleViolation) {
        // A printable ASCII character other than a space settles it without Foundation.
        if text.utf8.contains(where: { $0 > 0x20 && $0 < 0x7F }) { return }
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw refuse(.missingText, "\(what) is empty; record it as the document states it")
        }
    }

    /// `day` must lie between the date of injury and today.
    func checkDay(_ day: LocalDate, _ what: String, facts: CaseFacts) throws(CaseRuleViolation) {
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

    func checkInstant(_ instant: Date, _ what: String, facts: CaseFacts) throws(CaseRuleViolation) {
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

    func notBefore(
        _ day: LocalDate,
        _ what: String,
        _ trigger: LocalDate,
        _ triggerWhat: String
    ) throws(CaseRuleViolation) {
        if day < trigger {
            throw refuse(.dateBeforeTrigger, "\(what) (\(day)) is before \(triggerWhat) (\(trigger)); check both dates")
        }
    }

    func rfa(_ id: RFAID) throws(CaseRuleViolation) -> RFAState {
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

    func item(_ id: ItemID) throws(CaseRuleViolation) -> ItemState {
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
    func items(_ ids: [ItemID], for what: String) throws(CaseRuleViolation) -> [ItemState] {
        guard !ids.isEmpty else { throw refuse(.noItems, "\(what) names no item; name the items it covers") }
        var seen = Set<ItemID>()
        for id in ids where !seen.insert(id).inserted {
            throw refuse(.duplicateItem, "\(what) names item \(id) twice")
        }
        return try ids.map(item)
    }
}
