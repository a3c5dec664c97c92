import Foundation

/// Derives every legal deadline of a case from its folded events.
///
/// Pure: the state and `now` come in, the deadlines go out; nothing is read or written and
/// no clock is consulted. `now` only decides between pending and missed. Every count is done
/// by ``DeadlineCalculator``; this type only decides which clocks a case has, what starts
/// them, what satisfies them, and what the case's events say about them.
///
/// Derivation rules (one clock per line; "act" is what satisfies it):
/// - `ur.decision.*` per RFA: the RFA's receipt with its transmission (the calculator applies
///   the deemed-receipt rule); expedited → `.expedited`, retrospective → `.retrospective`, a
///   formulary drug from 2018 → `.formulary`, otherwise `.prospective` (14 calendar days when
///   information was requested in time). Act: a UR outcome for every item; met or late is
///   judged by the last item decided. A timely deferral makes it not applicable (the clock
///   restarts when liability is resolved, which the case does not record).
/// - `ur.info-request` per prospective/concurrent RFA: act is the information request. It is
///   optional, so it is never "missed": once UR decided without asking, or the window closed
///   unused, it is not applicable.
/// - `ur.deferral` per deferred RFA: act is the deferral.
/// - `ur.notice.physician` and `ur.notice.written` per UR decision event: trigger is the
///   decision instant; acts are the physician's notice and the written service of every item
///   the decision covered.
/// - `imr.application` per denied or modified item: trigger is written service (method and
///   destination give the extension); when service is not recorded, the decision date with
///   an assumed service by mail in California. Act: the application's receipt.
/// - `imr.eligibility-response` per AD request for eligibility information (one clock for the
///   items the request names): trigger the day the request reached the parties; act the
///   response sent for every item (judged by the last). The party is the one asked, or
///   either party when the AD asked both.
/// - `imro.assignment-notice` per eligible item: trigger the eligibility finding; act the assignment.
/// - `imr.records` per IMR case number, first round only: trigger the assignment date; act the
///   records' receipt. Later rounds have no records clock because the case has no second
///   notice of assignment to start one: a WCAB remand sends the items back to the IMRO under
///   the IMR case number they already carry (``decide(_:state:now:)`` refuses a second
///   assignment), the rule counts from the IMRO's notice of assignment (8 CCR 9792.10.5(a)(1)),
///   and inventing a trigger from the remand date would show the claims administrator a
///   penalty clock the regulation does not set. Records received in a later round are still
///   recorded and start that round's determination clock.
///
/// `rfa.deemed-receipt` is not a deadline of its own: nobody must act by it, it only moves the
/// start of the UR clocks. It is shown where it matters, on every UR clock counted from the
/// RFA (decision, information request, deferral): ``CaseDeadline/clockStart`` is the deemed
/// receipt and the explanation names the day and why (after 5:30 p.m., a non-business day, or
/// for mail the arrival day used with its assumption). A `met` entry of its own would put a
/// row on the board for every RFA that asks nothing of anyone.
/// - `imr.determination` per IMR case number and round: trigger the records' receipt, else the
///   assignment date (first round) or the remand date (later rounds), with an assumption.
/// - `imr.implementation` per overturned item and round: trigger the determination's mailing
///   date (its receipt is not recorded); act the implementation.
/// - `wcab.appeal` per IMR case number and round: trigger the determination's mailing, served
///   by mail in California; act the first appeal filed.
/// - A determination without a mailing date (imported from the letter) is taken as mailed on
///   its decision date, and both clocks say so; an assignment without its notice method is
///   taken as mailed for `imr.records`, and says so.
/// - Items imported from a letter (``DisputedItemsImported``) have no RFA receipt, UR decision
///   time or eligibility finding on record: they get no UR clocks and no
///   `imro.assignment-notice` (one ``UnavailableDeadline`` per import says why), and their
///   `imr.records` is not applicable once the determination shows the IMRO had the records.
///
/// A late UR decision or a late notice to the physician marks the RFA's items: their IMR
/// clocks say that the UR was untimely and the WCAB, not IMR, decides (Dubon II; Bodam).
/// On a withdrawn or closed case, clocks that were still running become not applicable.
/// The per-item clocks (`imr.application`, `imro.assignment-notice`, `imr.implementation`)
/// of items that fall due together, with the same status and act, are one deadline for all
/// those items (`mergingItems(_:caseId:)`): one row on the board, one alert per level.
/// When corrections were applied, the deadlines are also derived without them; each deadline
/// whose due date or trigger a correction changed says so, and its pre-correction copy is kept
/// as `superseded`.
public enum DeadlineEngine {
    /// The deadlines of `state` as they stand at `now`.
    public static func deadlines(
        for state: CaseState,
        now: Date,
        calculator: DeadlineCalculator = .init()
    ) -> [CaseDeadline] {
        derivation(for: state, now: now, calculator: calculator).deadlines
    }

    /// The deadlines of `state` at `now`, with the clocks the case would have but that
    /// cannot be computed (a rule not in force on the trigger date, IMR not available under
    /// SB 863), each with the reason, so a coordinator is never left with a silent gap.
    public static func derivation(
        for state: CaseState,
        now: Date,
        calculator: DeadlineCalculator = .init()
    ) -> DeadlineDerivation {
        let derived = derive(state, now: now, calculator: calculator)
        return DeadlineDerivation(
            deadlines: withCorrections(derived.deadlines, state: state, now: now, calculator: calculator),
            unavailable: derived.unavailable
        )
    }

    private static func withCorrections(
        _ derived: [CaseDeadline],
        state: CaseState,
        now: Date,
        calculator: DeadlineCalculator
    ) -> [CaseDeadline] {
        var current = derived
        guard !state.corrections.isEmpty else { return current }

        // The same case as if no correction had been recorded: what the coordinator saw before.
        let uncorrectedLog = state.recorded.filter {
            if case .eventCorrected = $0.event { return false }
            return true
        }
        let before = derive(CaseState.rebuild(from: uncorrectedLog), now: now, calculator: calculator).deadlines
        var indexByID: [String: Int] = [:]
        for (index, deadline) in current.enumerated() { indexByID[deadline.id] = index }
        var superseded: [CaseDeadline] = []
        for old in before {
            if let index = indexByID[old.id] {
                let new = current[index]
                guard new.due != old.due || new.trigger != old.trigger else {
                    // Same clock, but a corrected act can change whether it was met.
                    if new.status != old.status || new.satisfiedBy != old.satisfiedBy {
                        let versions = Set(
                            [old.satisfiedBy?.eventVersion, new.satisfiedBy?.eventVersion].compactMap { $0 }
                        )
                        let line = "status after a correction: \(new.status.rawValue) (was \(old.status.rawValue))"
                        current[index].correctionNotes.append(line)
                        current[index].correctionNotes.append(contentsOf: correctionLines(state, touching: versions))
                        current[index].explanation.append(line)
                    }
                    continue
                }
                let versions = Set([old.trigger.eventVersion, new.trigger.eventVersion].compactMap { $0 })
                let notes = correctionLines(state, touching: versions)
                let line = "recomputed after a correction: was due \(describeDue(old)), now due \(describeDue(new))"
                current[index].correctionNotes.append(line)
                current[index].correctionNotes.append(contentsOf: notes)
                current[index].explanation.append(line)
                current[index].explanation.append(contentsOf: notes)
                superseded.append(supersede(old, by: new.id, note: "replaced by \(new.id) after a correction"))
            } else if let replacement = current.first(where: { sameClockFamily($0, old) }) {
                // A corrected flag (expedited, formulary, review type) chose another UR decision rule.
                let line =
                    "recomputed after a correction: \(old.rule.rawValue) was due \(describeDue(old)), "
                    + "now \(replacement.rule.rawValue) is due \(describeDue(replacement))"
                if let index = indexByID[replacement.id], !current[index].correctionNotes.contains(line) {
                    current[index].correctionNotes.append(line)
                    current[index].correctionNotes.append(contentsOf: correctionLines(state, touching: []))
                    current[index].explanation.append(line)
                }
                superseded.append(
                    supersede(old, by: replacement.id, note: "replaced by \(replacement.id) after a correction")
                )
            } else {
                superseded.append(
                    supersede(
                        old,
                        by: nil,
                        note: "a correction removed this deadline: the corrected facts do not start this clock"
                    )
                )
            }
        }
        return current + superseded
    }

    private static let urDecisionRules: Set<RuleID> = [
        .urDecisionProspective, .urDecisionExpedited, .urDecisionRetrospective, .urDecisionFormulary,
    ]

    /// Whether `a` and `b` are the UR decision clock of the same RFA under different rules.
    private static func sameClockFamily(_ a: CaseDeadline, _ b: CaseDeadline) -> Bool {
        a.rfaId == b.rfaId && a.round == b.round && urDecisionRules.contains(a.rule) && urDecisionRules.contains(b.rule)
    }

    private static func supersede(_ old: CaseDeadline, by id: String?, note: String) -> CaseDeadline {
        var copy = old
        copy.id = old.id + "/superseded"
        copy.status = .superseded
        copy.supersededBy = id
        copy.statusNote = note
        return copy
    }

    private static func describeDue(_ deadline: CaseDeadline) -> String {
        deadline.isExactInstant ? Pacific.rfc3339(deadline.due) : "end of \(deadline.dueDate.shortLabel)"
    }

    /// The corrections that changed the events at `versions` (all corrections when none did,
    /// because then the change came through a fact the trigger depends on indirectly).
    private static func correctionLines(_ state: CaseState, touching versions: Set<Int>) -> [String] {
        let direct = state.corrections.filter { versions.contains($0.correction.correctedVersion) }
        return (direct.isEmpty ? state.corrections : direct).map { applied in
            let c = applied.correction
            let type = state.recorded.first { $0.version == c.correctedVersion }?.event.typeName ?? "event"
            return
                "correction (event \(applied.version)): \(c.field.rawValue) of \(type) (event \(c.correctedVersion)) "
                + "set to \(c.value); reason: \(c.reason)"
        }
    }

    static func derive(
        _ state: CaseState,
        now: Date,
        calculator: DeadlineCalculator
    ) -> (deadlines: [CaseDeadline], unavailable: [UnavailableDeadline]) {
        guard let facts = state.facts else { return ([], []) }
        var builder = Builder(state: state, caseId: facts.caseId, now: now, calculator: calculator)
        for rfa in state.rfas { builder.utilizationReview(rfa) }
        builder.importedItems()
        for item in state.items { builder.imrApplication(item) }
        builder.eligibilityResponses()
        for item in state.items { builder.assignmentNotice(item) }
        builder.imrRounds()
        return (mergingItems(builder.output, caseId: facts.caseId), builder.unavailable)
    }

    /// The clocks counted per item, merged: one deadline for every item it covers, so that a
    /// UR decision denying three items asks for one IMR application, shown and alerted once.
    static let perItemRules: Set<RuleID> = [.imrApplication, .imroAssignmentNotice, .imrImplementation]

    /// Per-item deadlines of one rule, RFA and round that fall due at the same instant with the
    /// same status, act and history become one, for all their items (id
    /// `<case>/<rule>/<item>+<item>…[/r<round>]`); lines that differ between the items (the
    /// outcome each was decided with, a note about one item) are all kept, in order.
    static func mergingItems(_ deadlines: [CaseDeadline], caseId: CaseID) -> [CaseDeadline] {
        var merged: [CaseDeadline] = []
        var index: [String: Int] = [:]
        for deadline in deadlines {
            guard perItemRules.contains(deadline.rule) else {
                merged.append(deadline)
                continue
            }
            let key = [
                deadline.rule.rawValue, String(deadline.round), deadline.rfaId?.rawValue ?? "",
                String(deadline.due.timeIntervalSince1970),
                String(deadline.clockStart.timeIntervalSince1970), deadline.status.rawValue, deadline.party.rawValue,
                deadline.satisfiedBy.map { "\($0.eventVersion)|\($0.on.iso)|\($0.at?.timeIntervalSince1970 ?? -1)" }
                    ?? "-",
                deadline.history == nil ? "open" : "history",
            ].joined(separator: "\u{1F}")
            guard let at = index[key] else {
                index[key] = merged.count
                merged.append(deadline)
                continue
            }
            var group = merged[at]
            group.itemIds += deadline.itemIds
            func union(_ lines: inout [String], _ more: [String]) {
                for line in more where !lines.contains(line) { lines.append(line) }
            }
            union(&group.explanation, deadline.explanation)
            union(&group.assumptions, deadline.assumptions)
            union(&group.correctionNotes, deadline.correctionNotes)
            if let note = deadline.statusNote, group.statusNote != note {
                group.statusNote = group.statusNote.map { $0.contains(note) ? $0 : $0 + "; " + note } ?? note
            }
            group.id =
                "\(caseId.rawValue)/\(group.rule.rawValue)/" + group.itemIds.map(\.rawValue).joined(separator: "+")
                + (group.round > 1 ? "/r\(group.round)" : "")
            merged[at] = group
        }
        return merged
    }
}

/// A clock the case's events would start but that the engine cannot compute, and why.
public struct UnavailableDeadline: Sendable, Equatable, Codable {
    /// The id the deadline would have had.
    public var id: String
    public var rule: RuleID
    public var itemIds: [ItemID]
    /// A sentence naming the problem, e.g. the calculator's "applies only to triggers on or after".
    public var reason: String
}

/// Everything ``DeadlineEngine/derivation(for:now:calculator:)`` finds for a case.
public struct DeadlineDerivation: Sendable, Equatable, Codable {
    public var deadlines: [CaseDeadline]
    public var unavailable: [UnavailableDeadline]
}

/// The act that satisfies a deadline, as the case records it.
private struct Act {
    var eventType: String
    var version: Int
    var at: Date?
    var on: LocalDate
}

/// One IMR round of one item: the dates of its milestones, corrected.
private struct RoundFacts {
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

private struct Builder {
    let state: CaseState
    let caseId: CaseID
    let now: Date
    let calculator: DeadlineCalculator
    var output: [CaseDeadline] = []
    var unavailable: [UnavailableDeadline] = []
    /// Items whose UR was untimely, with the reason: their IMR clocks say so.
    var untimelyUR: [ItemID: String] = [:]

    init(state: CaseState, caseId: CaseID, now: Date, calculator: DeadlineCalculator) {
        self.state = state
        self.caseId = caseId
        self.now = now
        self.calculator = calculator
    }

    // MARK: - Utilization review

    mutating func utilizationReview(_ rfa: RFAState) {
        let items = rfa.itemIds.compactMap(state.item)
        let rfaVersion = lastVersion(ofType: RFAReceived.typeName) {
            if case .rfaReceived(let e) = $0 { return e.rfaId == rfa.id }
            return false
        }
        let trigger: DeadlineTrigger = rfa.receivedTimeOfDayKnown ? .instant(rfa.receivedAt) : .date(rfa.receivedOn)
        let triggerFact = DeadlineTriggerFact(
            description: "RFA \(rfa.id) received by \(rfa.transmission.rawValue)",
            date: rfa.receivedOn,
            at: rfa.receivedTimeOfDayKnown ? rfa.receivedAt : nil,
            eventVersion: rfaVersion
        )

        var base = DeadlineOptions(treatmentRecommendationDate: rfa.treatmentRecommendedOn)
        var baseAssumptions: [String] = []
        if rfa.transmission == .mail {
            // The event records the day the RFA arrived, not the day it was posted: the
            // 5-business-day mail rule counts from posting, so the arrival is the receipt.
            baseAssumptions.append(
                "RFA sent by mail: the recorded day of arrival (\(rfa.receivedOn.iso)) was used as its receipt; the "
                    + "posting date is not recorded, so the 5-business-day mail rule was not applied"
            )
        } else {
            base.transmission = rfa.transmission
        }
        if !rfa.receivedTimeOfDayKnown {
            baseAssumptions.append("only the day the RFA arrived is recorded (\(rfa.receivedOn.iso)), not the time")
        }

        let decided = items.filter { $0.urOutcome != nil }
        let allDecided = !items.isEmpty && decided.count == items.count

        // Which decision clock this RFA has.
        var decisionRule = RuleID.urDecisionProspective
        var decisionOptions = base
        var decisionAssumptions = baseAssumptions
        if rfa.expedited {
            decisionRule = .urDecisionExpedited
            decisionOptions.review = rfa.reviewType == .concurrent ? .concurrent : nil
            if rfa.reviewType == .retrospective {
                decisionAssumptions.append(
                    "the RFA is marked both expedited and retrospective: the expedited clock was used"
                )
            }
        } else if rfa.reviewType == .retrospective {
            decisionRule = .urDecisionRetrospective
            decisionOptions.review = .retrospective
        } else if rfa.formulary && rfa.receivedOn >= RuleBook.formularyStart {
            decisionRule = .urDecisionFormulary
            decisionOptions.formulary = true
            decisionOptions.review = rfa.reviewType
        } else {
            decisionOptions.review = rfa.reviewType
        }

        // ur.info-request: only where a request can extend the decision clock.
        var decisionNotes: [String] = []
        if decisionRule == .urDecisionProspective {
            let requestVersion = lastVersion(ofType: MoreInformationRequested.typeName) {
                if case .moreInformationRequested(let e) = $0 { return e.rfaId == rfa.id }
                return false
            }
            let act = rfa.informationRequestedOn.map {
                Act(eventType: MoreInformationRequested.typeName, version: requestVersion ?? 0, at: nil, on: $0)
            }
            var options = base
            options.review = rfa.reviewType
            let request = emit(
                .urInfoRequest,
                key: rfa.id.rawValue,
                rfaId: rfa.id,
                itemIds: rfa.itemIds,
                trigger: trigger,
                triggerFact: triggerFact,
                options: options,
                act: act,
                assumptions: baseAssumptions,
                notApplicable: act == nil && allDecided
                    ? "UR decided every item without asking for more information" : nil,
                optionalAct:
                    "the window to ask for more information closed unused: the ordinary decision period applies"
            )
            if let request, let on = rfa.informationRequestedOn {
                if request.status == .met {
                    decisionOptions.informationRequested = true
                    decisionNotes.append(
                        "information requested in time (\(on.shortLabel)): the decision period is 14 calendar days from receipt"
                    )
                } else {
                    decisionNotes.append(
                        "information requested on \(on.shortLabel), after the 5-business-day window: the ordinary period applies"
                    )
                }
            }
        }

        // ur.deferral
        var deferral: String?
        if let deferredOn = rfa.deferredOn {
            let version = lastVersion(ofType: URDeferred.typeName) {
                if case .urDeferred(let e) = $0 { return e.rfaId == rfa.id }
                return false
            }
            let deferralDeadline = emit(
                .urDeferral,
                key: rfa.id.rawValue,
                rfaId: rfa.id,
                itemIds: rfa.itemIds,
                trigger: trigger,
                triggerFact: triggerFact,
                options: base,
                act: Act(eventType: URDeferred.typeName, version: version ?? 0, at: nil, on: deferredOn),
                assumptions: baseAssumptions
            )
            if deferralDeadline?.status == .met {
                deferral =
                    "UR deferred on \(deferredOn.shortLabel) for a liability dispute"
                    + (rfa.liabilityDispute.map { " (\($0))" } ?? "")
                    + ": the UR clock starts again when liability is resolved, which the case does not record"
            }
        }

        // ur.decision.*
        var decisionAct: Act?
        if allDecided,
            let last = decided.max(by: { ($0.urDecidedAt ?? .distantPast) < ($1.urDecidedAt ?? .distantPast) }),
            let at = last.urDecidedAt
        {
            decisionAct = Act(
                eventType: URDecisionIssued.typeName,
                version: lastMilestone(URDecisionIssued.typeName, of: last)?.version ?? 0,
                at: at,
                on: Pacific.date(of: at)
            )
            if items.count > 1 {
                decisionNotes.append("judged by the last item decided: item \(last.id) at \(Self.describe(at))")
            }
        } else if !decided.isEmpty {
            decisionNotes.append(
                "\(decided.count) of \(items.count) items decided; the deadline is met only when every item is"
            )
        }
        let decision = emit(
            decisionRule,
            key: rfa.id.rawValue,
            rfaId: rfa.id,
            itemIds: rfa.itemIds,
            trigger: trigger,
            triggerFact: triggerFact,
            options: decisionOptions,
            act: decisionAct,
            notes: decisionNotes,
            assumptions: decisionAssumptions,
            notApplicable: deferral
        )
        if let decision, decision.status == .metLate || decision.status == .missed {
            let how = decision.status == .missed ? "was not made" : "came late"
            for id in rfa.itemIds {
                untimelyUR[id] =
                    "the UR decision (\(decision.rule.rawValue), due \(decision.dueDate.shortLabel)) \(how)"
            }
        }

        // Notices, one pair per decision event.
        let groups = Dictionary(grouping: decided) { lastMilestone(URDecisionIssued.typeName, of: $0)?.version ?? 0 }
        for version in groups.keys.sorted() {
            guard let group = groups[version], let decidedAt = group.first?.urDecidedAt else { continue }
            let ids = group.map(\.id)
            let key = rfa.id.rawValue + "/" + ids.map(\.rawValue).joined(separator: "+")
            let decisionFact = DeadlineTriggerFact(
                description:
                    "UR decision on item\(ids.count == 1 ? "" : "s") \(ids.map(\.rawValue).joined(separator: ", "))",
                date: Pacific.date(of: decidedAt),
                at: decidedAt,
                eventVersion: version == 0 ? nil : version
            )

            var physicianAct: Act?
            var physicianNotes: [String] = []
            if group.allSatisfy({ $0.physicianNotifiedAt != nil }),
                let last = group.max(by: { $0.physicianNotifiedAt! < $1.physicianNotifiedAt! }),
                let at = last.physicianNotifiedAt
            {
                physicianAct = Act(
                    eventType: PhysicianNotified.typeName,
                    version: lastMilestone(PhysicianNotified.typeName, of: last)?.version ?? 0,
                    at: at,
                    on: Pacific.date(of: at)
                )
                if let method = last.physicianNotificationMethod, method == .mail || method == .personal {
                    physicianNotes.append(
                        "the physician was told by \(method.rawValue); the rule asks for phone, fax or e-mail: counted as notice when recorded"
                    )
                }
            }
            let physician = emit(
                .urNoticePhysician,
                key: key,
                rfaId: rfa.id,
                itemIds: ids,
                trigger: .instant(decidedAt),
                triggerFact: decisionFact,
                options: DeadlineOptions(),
                act: physicianAct,
                notes: physicianNotes
            )
            if let physician, physician.status == .metLate || physician.status == .missed {
                let how = physician.status == .missed ? "has not reached" : "reached"
                for id in ids where untimelyUR[id] == nil {
                    untimelyUR[id] =
                        "the UR decision \(how) the physician within 24 hours (due \(Pacific.rfc3339(physician.due)); Bodam)"
                }
            }

            var writtenAct: Act?
            if group.allSatisfy({ $0.writtenDecisionServedOn != nil }),
                let last = group.max(by: { $0.writtenDecisionServedOn! < $1.writtenDecisionServedOn! }),
                let on = last.writtenDecisionServedOn
            {
                writtenAct = Act(
                    eventType: WrittenURDecisionServed.typeName,
                    version: lastMilestone(WrittenURDecisionServed.typeName, of: last)?.version ?? 0,
                    at: nil,
                    on: on
                )
            }
            emit(
                .urNoticeWritten,
                key: key,
                rfaId: rfa.id,
                itemIds: ids,
                trigger: .instant(decidedAt),
                triggerFact: decisionFact,
                options: DeadlineOptions(review: rfa.reviewType),
                act: writtenAct
            )
        }
    }

    /// Items imported from a letter have no RFA receipt, UR decision time or notices on
    /// record: their UR clocks cannot be computed, and the case says so once per import.
    mutating func importedItems() {
        var order: [RFAID] = []
        var byRFA: [RFAID: [ItemState]] = [:]
        for item in state.items where item.importedFrom != nil {
            if byRFA[item.rfaId] == nil { order.append(item.rfaId) }
            byRFA[item.rfaId, default: []].append(item)
        }
        for rfaId in order {
            guard let items = byRFA[rfaId], let source = items.first?.importedFrom else { continue }
            unavailable.append(
                UnavailableDeadline(
                    id: "\(caseId.rawValue)/ur/\(rfaId.rawValue)",
                    rule: .urDecisionProspective,
                    itemIds: items.map(\.id),
                    reason:
                        "items \(items.map(\.id.rawValue).joined(separator: ", ")) were imported from \(source): the RFA's receipt, "
                        + "the UR decision's time and its notices are not in the letter, so the UR clocks (ur.decision.*, "
                        + "ur.notice.*) and the IMRO's assignment notice cannot be computed"
                )
            )
        }
    }

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
            .imrApplication,
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
                .imrEligibilityResponse,
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
            .imroAssignmentNotice,
            key: item.id.rawValue,
            rfaId: item.rfaId,
            itemIds: [item.id],
            trigger: .date(eligibleOn),
            triggerFact: triggerFact,
            options: DeadlineOptions(),
            act: act
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

    mutating func imrGroup(_ group: [RoundFacts], first: RoundFacts) {
        let ids = group.map(\.itemId)
        let key = first.caseNumber.rawValue
        let expedited = first.priority == .expedited
        let formulary = state.rfa(first.rfaId)?.formulary ?? false

        if first.round == 1 {
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
                .imrRecords,
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
        }

        // imr.determination
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
            .imrDetermination,
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

        // imr.implementation, per overturned item.
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
                .imrImplementation,
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
        }

        // wcab.appeal, from the first mailing of the group's determination.
        let determined = group.filter { $0.mailedOn != nil }
        if let earliest = determined.min(by: { $0.mailedOn! < $1.mailedOn! }), let mailedOn = earliest.mailedOn {
            let appeals = group.compactMap(\.appeal)
            let act = appeals.min(by: { $0.on < $1.on }).map {
                Act(eventType: $0.event, version: $0.version, at: nil, on: $0.on)
            }
            emit(
                .wcabAppeal,
                key: key,
                round: first.round,
                rfaId: first.rfaId,
                itemIds: determined.map(\.itemId),
                trigger: .date(mailedOn),
                triggerFact: DeadlineTriggerFact(
                    description: "IMR final determination \(key) mailed",
                    date: mailedOn,
                    at: nil,
                    eventVersion: earliest.determination?.version
                ),
                options: DeadlineOptions(service: .mail, destination: .california),
                act: act,
                assumptions: (earliest.mailingAssumed
                    ? ["the determination's mailing date is not recorded: taken as its decision date (\(mailedOn.iso))"]
                    : [])
                    + [
                        "the determination was taken as served by mail within California (where each party is, is not recorded)"
                    ]
            )
        }
    }

    // MARK: - Building one deadline

    /// Computes one clock and its status, appends it to ``output`` and returns it; nil when
    /// the calculator cannot compute it (a rule not in force on the trigger date, say), because
    /// then the case has no such clock.
    @discardableResult
    mutating func emit(
        _ rule: RuleID,
        key: String,
        round: Int = 1,
        rfaId: RFAID?,
        itemIds: [ItemID],
        trigger: DeadlineTrigger,
        triggerFact: DeadlineTriggerFact,
        options: DeadlineOptions,
        act: Act?,
        notes: [String] = [],
        assumptions: [String] = [],
        statusNote: String? = nil,
        notApplicable: String? = nil,
        optionalAct: String? = nil,
        party: DeadlineParty? = nil,
        settled: Settlement? = nil
    ) -> CaseDeadline? {
        let id = "\(caseId.rawValue)/\(rule.rawValue)/\(key)" + (round > 1 ? "/r\(round)" : "")
        let computed: Deadline
        do {
            computed = try calculator.deadline(rule, from: trigger, options: options)
        } catch {
            unavailable.append(
                UnavailableDeadline(id: id, rule: rule, itemIds: itemIds, reason: String(describing: error))
            )
            return nil
        }
        var explanation = computed.explanation
        explanation.insert("case: \(triggerFact.description) on \(triggerFact.date.shortLabel)", at: 0)
        explanation.append(contentsOf: notes)
        var allAssumptions = assumptions
        for line in computed.assumptions where !allAssumptions.contains(line) { allAssumptions.append(line) }

        var status: DeadlineStatus
        var note = statusNote
        if let reason = notApplicable {
            status = .notApplicable
            note = reason
        } else if let act {
            status = judge(act, against: computed, assumptions: &allAssumptions)
        } else if let settled, settled.on <= computed.dueDate {
            status = .notApplicable
            note = settled.reason
        } else if let ended = state.withdrawnOn ?? state.closedOn, computed.dueDate >= ended {
            status = .notApplicable
            note =
                "the case was \(state.withdrawnOn != nil ? "withdrawn" : "closed") on \(ended.shortLabel), before this deadline passed"
        } else if computed.due > now {
            status = .pending
        } else if let optionalAct {
            status = .notApplicable
            note = optionalAct
        } else {
            status = .missed
        }
        if status == .metLate || status == .missed {
            let effect = "\(status == .missed ? "missed" : "met late"): \(computed.consequenceIfMissed.summary)"
            explanation.append(effect)
            if note == nil { note = effect }
        }
        var history: String?
        if status == .missed {
            if let settled {
                history =
                    "\(settled.reason) (on \(settled.on.shortLabel), after it had passed): kept as missed in the case's history"
            } else if let ended = state.withdrawnOn ?? state.closedOn {
                history =
                    "the case was \(state.withdrawnOn != nil ? "withdrawn" : "closed") on \(ended.shortLabel), after it had passed: "
                    + "kept as missed in the case's history"
            } else if let version = triggerFact.eventVersion, let recordedAt = recordedAt(version),
                recordedAt >= computed.due
            {
                history =
                    "its trigger was recorded on \(Pacific.date(of: recordedAt).shortLabel), after it had passed: "
                    + "kept as missed in the case's history, with nothing left to act on"
            }
            if let history { explanation.append(history) }
        }

        let satisfied = act.map { act in
            SatisfyingFact(
                eventType: act.eventType,
                eventVersion: act.version,
                eventId: state.recorded.first { $0.version == act.version }?.eventId,
                at: act.at,
                on: act.on
            )
        }
        let deadline = CaseDeadline(
            id: id,
            rule: rule,
            caseId: caseId,
            rfaId: rfaId,
            itemIds: itemIds,
            round: round,
            trigger: triggerFact,
            clockStart: computed.start,
            due: computed.due,
            dueDate: computed.dueDate,
            isExactInstant: computed.isExactInstant,
            status: status,
            satisfiedBy: satisfied,
            party: party ?? Self.party(rule),
            citation: computed.citation,
            confidence: computed.confidence,
            explanation: explanation,
            assumptions: allAssumptions,
            consequenceIfMissed: computed.consequenceIfMissed,
            statusNote: note,
            correctionNotes: [],
            supersededBy: nil,
            history: history
        )
        output.append(deadline)
        return deadline
    }

    /// Met or late. An act known only by its day meets a day deadline on that day; against an
    /// hour deadline that falls on the same day it is taken as in time, and said so.
    func judge(_ act: Act, against deadline: Deadline, assumptions: inout [String]) -> DeadlineStatus {
        if let at = act.at { return at <= deadline.due ? .met : .metLate }
        if act.on < deadline.dueDate { return .met }
        if act.on > deadline.dueDate { return .metLate }
        if deadline.isExactInstant {
            assumptions.append(
                "only the day of the act is known (\(act.on.iso)), the day the \(deadline.period.label) end: taken as in time"
            )
        }
        return .met
    }

    static func party(_ rule: RuleID) -> DeadlineParty {
        switch rule {
        case .imrApplication: .employee
        case .imroAssignmentNotice, .imrDetermination: .imro
        case .wcabAppeal, .imrEligibilityResponse: .eitherParty
        case .rfaDeemedReceipt, .urDecisionProspective, .urDecisionExpedited, .urDecisionRetrospective,
            .urDecisionFormulary,
            .urInfoRequest, .urDeferral, .urNoticePhysician, .urNoticeWritten, .imrRecords, .imrImplementation:
            .claimsAdministrator
        }
    }

    static func describe(_ instant: Date) -> String {
        let seconds = Pacific.secondsSinceMidnight(of: instant)
        return "\(Pacific.date(of: instant).shortLabel) " + padded(seconds / 3600, 2) + ":"
            + padded((seconds % 3600) / 60, 2) + " Pacific"
    }

    // MARK: - Reading the log

    /// A later fact that leaves nothing to act on: before the due date the clock is not
    /// applicable; after it, the miss is kept in the case's history, off the board.
    struct Settlement {
        var on: LocalDate
        var reason: String
    }

    /// When the event at stream `version` was recorded (corrections never change it).
    func recordedAt(_ version: Int) -> Date? {
        let recorded = state.recorded
        if version >= 1, version <= recorded.count, recorded[version - 1].version == version {
            return recorded[version - 1].recordedAt
        }
        return recorded.first { $0.version == version }?.recordedAt
    }

    func lastMilestone(_ type: String, of item: ItemState) -> ItemMilestone? { item.history.last { $0.event == type } }
    func firstMilestone(_ type: String, of item: ItemState) -> ItemMilestone? {
        item.history.first { $0.event == type }
    }

    /// The version of the last recorded event of `type` that `matches`.
    func lastVersion(ofType type: String, where matches: (CaseEvent) -> Bool) -> Int? {
        state.recorded.last { $0.event.typeName == type && matches($0.event) }?.version
    }

    /// The event at `version` as the fold read it: with the corrections that name it applied in order.
    func correctedEvent(_ version: Int) -> CaseEvent? {
        guard let entry = state.recorded.first(where: { $0.version == version }) else { return nil }
        var event = entry.event
        for applied in state.corrections
        where applied.correction.correctedVersion == version && applied.correction.correctedEventId == entry.eventId {
            event = (try? event.correcting(applied.correction.field, to: applied.correction.value)) ?? event
        }
        return event
    }
}
