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

    static func derive(
        _ state: CaseState,
        now: Date,
        calculator: DeadlineCalculator
    ) -> (deadlines: [CaseDeadline], unavailable: [UnavailableDeadline]) {
        guard let facts = state.facts else { return ([], []) }
        var builder = ClockBuilder(state: state, caseId: facts.caseId, now: now, calculator: calculator)
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
    static func isPerItem(_ rule: RuleID) -> Bool {
        switch rule {
        case .imrApplication, .imroAssignmentNotice, .imrImplementation: true
        default: false
        }
    }

    /// What per-item deadlines share to be one entry: the same clock (rule, round, RFA, start
    /// and due), the same status, party and satisfying act, and both on the board or both
    /// history. (A struct: the joined string it replaced printed two doubles per deadline.)
    struct MergeKey: Hashable {
        let rule: RuleID
        let round: Int
        let rfaId: String
        let due: Date
        let clockStart: Date
        let status: DeadlineStatus
        let party: DeadlineParty
        let satisfiedVersion: Int?
        let satisfiedOn: LocalDate?
        let satisfiedAt: Date?
        let isHistory: Bool

        init(_ deadline: CaseDeadline) {
            rule = deadline.rule
            round = deadline.round
            rfaId = deadline.rfaId?.rawValue ?? ""
            due = deadline.due
            clockStart = deadline.clockStart
            status = deadline.status
            party = deadline.party
            satisfiedVersion = deadline.satisfiedBy?.eventVersion
            satisfiedOn = deadline.satisfiedBy?.on
            satisfiedAt = deadline.satisfiedBy?.at
            isHistory = deadline.history != nil
        }
    }

    /// Per-item deadlines of one rule, RFA and round that fall due at the same instant with the
    /// same status, act and history become one, for all their items (id
    /// `<case>/<rule>/<item>+<item>…[/r<round>]`); lines that differ between the items (the
    /// outcome each was decided with, a note about one item) are all kept, in order.
    static func mergingItems(_ deadlines: [CaseDeadline], caseId: CaseID) -> [CaseDeadline] {
        // A case has a few dozen deadlines at most: lists searched in order cost less than
        // dictionaries hashed (this runs for every command and for every case a rebuild reads).
        var merged: [CaseDeadline] = []
        merged.reserveCapacity(deadlines.count)
        var groups: [(key: MergeKey, at: Int)] = []
        var grown: [Int] = []
        for deadline in deadlines {
            guard isPerItem(deadline.rule) else {
                merged.append(deadline)
                continue
            }
            let key = MergeKey(deadline)
            guard let at = groups.first(where: { $0.key == key })?.at else {
                groups.append((key, merged.count))
                merged.append(deadline)
                continue
            }
            // In place: a copy of the group would copy its arrays again for every item.
            func absorb(into group: inout CaseDeadline) {
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
            }
            absorb(into: &merged[at])
            if !grown.contains(at) { grown.append(at) }
        }
        // Named once all its items are in (not again for every item merged).
        for at in grown {
            let group = merged[at]
            merged[at].id =
                "\(caseId.rawValue)/\(group.rule.rawValue)/" + group.itemIds.map(\.rawValue).joined(separator: "+")
                + (group.round > 1 ? "/r\(group.round)" : "")
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
