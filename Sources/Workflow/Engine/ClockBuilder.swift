import Foundation

/// The act that satisfies a deadline, as the case records it.
struct Act {
    var eventType: String
    var version: Int
    var at: Date?
    var on: LocalDate
}

/// A later fact that leaves nothing to act on: before the due date the clock is not
/// applicable; after it, the miss is kept in the case's history, off the board.
struct Settlement {
    var on: LocalDate
    var reason: String
}

/// One clock of a case as the engine asks for it: the rule, what starts it, what satisfies
/// it, and what the case says about it. ``ClockBuilder/emit(_:)`` counts it and judges it.
struct Clock {
    var rule: RuleID
    /// What tells this clock from the rule's others in the case: an RFA, items, an IMR case number.
    var key: String
    /// The IMR round (a WCAB remand starts another); rounds after the first add `/r<round>` to the id.
    var round = 1
    var rfaId: RFAID?
    var itemIds: [ItemID]
    var trigger: DeadlineTrigger
    /// The fact of the case that started the clock, as the explanation's first line names it.
    var triggerFact: DeadlineTriggerFact
    var options = DeadlineOptions()
    /// The recorded act that satisfies it, if any.
    var act: Act?
    /// Lines added to the calculator's explanation.
    var notes: [String] = []
    /// Assumptions of the case (the calculator's own are added after them).
    var assumptions: [String] = []
    /// A note on the clock whatever its status (say, that the UR was untimely).
    var statusNote: String?
    /// When set, the clock does not apply, for this reason.
    var notApplicable: String?
    /// When set, the act is optional: a clock that passed without it is not applicable, for
    /// this reason, instead of missed.
    var optionalAct: String?
    /// Who must act, when not the rule's usual party.
    var party: DeadlineParty?
    /// A later fact that made the act unnecessary.
    var settled: Settlement?

    /// `<case>/<rule>/<key>[/r<round>]`.
    func id(in caseId: CaseID) -> String {
        var id = caseId.rawValue
        id.reserveCapacity(id.utf8.count + rule.rawValue.utf8.count + key.utf8.count + 8)
        id += "/"
        id += rule.rawValue
        id += "/"
        id += key
        if round > 1 { id += "/r" + String(round) }
        return id
    }
}

/// Works out a case's clocks, one `emit` each, in the order the case's facts come: the UR
/// clocks (`ClockBuilder+UR.swift`), the IMR ones (`ClockBuilder+IMR.swift`) and the appeal
/// (`ClockBuilder+Appeal.swift`).
struct ClockBuilder {
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

    // MARK: - Building one deadline

    /// Computes one clock and its status, appends it to ``output`` and returns it; nil when
    /// the calculator cannot compute it (a rule not in force on the trigger date, say), because
    /// then the case has no such clock and ``unavailable`` says why.
    @discardableResult
    mutating func emit(_ clock: Clock) -> CaseDeadline? {
        let id = clock.id(in: caseId)
        let computed: Deadline
        do {
            computed = try calculator.deadline(clock.rule, from: clock.trigger, options: clock.options)
        } catch {
            unavailable.append(
                UnavailableDeadline(id: id, rule: clock.rule, itemIds: clock.itemIds, reason: String(describing: error))
            )
            return nil
        }
        // One buffer (inserting in front of the calculator's lines copied them all again).
        var explanation: [String] = []
        explanation.reserveCapacity(computed.explanation.count + clock.notes.count + 2)
        explanation.append("case: " + clock.triggerFact.description + " on " + clock.triggerFact.date.shortLabel)
        explanation.append(contentsOf: computed.explanation)
        explanation.append(contentsOf: clock.notes)
        var assumptions = clock.assumptions
        for line in computed.assumptions where !assumptions.contains(line) { assumptions.append(line) }

        let (status, statusNote) = currentStatus(of: clock, computed, assumptions: &assumptions)
        var note = statusNote
        if status == .metLate || status == .missed {
            let effect = "\(status == .missed ? "missed" : "met late"): \(computed.consequenceIfMissed.summary)"
            explanation.append(effect)
            if note == nil { note = effect }
        }
        let history = status == .missed ? history(of: clock, missing: computed) : nil
        if let history { explanation.append(history) }

        let deadline = CaseDeadline(
            id: id,
            rule: clock.rule,
            caseId: caseId,
            rfaId: clock.rfaId,
            itemIds: clock.itemIds,
            round: clock.round,
            trigger: clock.triggerFact,
            clockStart: computed.start,
            due: computed.due,
            dueDate: computed.dueDate,
            isExactInstant: computed.isExactInstant,
            status: status,
            satisfiedBy: clock.act.map(satisfyingFact),
            party: clock.party ?? Self.party(clock.rule),
            citation: computed.citation,
            confidence: computed.confidence,
            explanation: explanation,
            assumptions: assumptions,
            consequenceIfMissed: computed.consequenceIfMissed,
            statusNote: note,
            correctionNotes: [],
            supersededBy: nil,
            history: history
        )
        output.append(deadline)
        return deadline
    }

    /// The clock's status at ``now`` and the note the board shows with it.
    func currentStatus(
        of clock: Clock,
        _ computed: Deadline,
        assumptions: inout [String]
    ) -> (DeadlineStatus, note: String?) {
        if let reason = clock.notApplicable { return (.notApplicable, reason) }
        if let act = clock.act { return (judge(act, against: computed, assumptions: &assumptions), clock.statusNote) }
        if let settled = clock.settled, settled.on <= computed.dueDate { return (.notApplicable, settled.reason) }
        if let ended = state.withdrawnOn ?? state.closedOn, computed.dueDate >= ended {
            return (
                .notApplicable,
                "the case was \(state.withdrawnOn != nil ? "withdrawn" : "closed") on \(ended.shortLabel), before this deadline passed"
            )
        }
        if computed.due > now { return (.pending, clock.statusNote) }
        if let optional = clock.optionalAct { return (.notApplicable, optional) }
        return (.missed, clock.statusNote)
    }

    /// Why a missed clock is kept in the case's history rather than on the board: a later
    /// fact settled it, the case ended, or its trigger was recorded after it had passed.
    func history(of clock: Clock, missing computed: Deadline) -> String? {
        if let settled = clock.settled {
            return
                "\(settled.reason) (on \(settled.on.shortLabel), after it had passed): kept as missed in the case's history"
        }
        if let ended = state.withdrawnOn ?? state.closedOn {
            return
                "the case was \(state.withdrawnOn != nil ? "withdrawn" : "closed") on \(ended.shortLabel), after it had passed: "
                + "kept as missed in the case's history"
        }
        if let version = clock.triggerFact.eventVersion, let recordedAt = recordedAt(version),
            recordedAt >= computed.due
        {
            return "its trigger was recorded on \(Pacific.date(of: recordedAt).shortLabel), after it had passed: "
                + "kept as missed in the case's history, with nothing left to act on"
        }
        return nil
    }

    func satisfyingFact(_ act: Act) -> SatisfyingFact {
        SatisfyingFact(
            eventType: act.eventType,
            eventVersion: act.version,
            eventId: state.recorded.first { $0.version == act.version }?.eventId,
            at: act.at,
            on: act.on
        )
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

    /// The version of the last recorded event that `matches` (which also says its type).
    func lastVersion(where matches: (CaseEvent) -> Bool) -> Int? {
        state.recorded.last { matches($0.event) }?.version
    }

    /// The event at `version` as the fold read it: with the corrections that name it applied in order.
    func correctedEvent(_ version: Int) -> CaseEvent? {
        guard let entry = state.recorded.first(where: { $0.version == version }) else { return nil }
        return (try? entry.readThrough(state.corrections.map(\.correction), skippingMisfits: true)) ?? entry.event
    }
}
