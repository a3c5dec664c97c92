import Foundation

/// The UR clocks of a case: decision, information request, deferral, the two notices.
extension ClockBuilder {
    /// Every UR clock of one RFA, in this order: the information request, the deferral, the
    /// decision, then per decision event the physician's notice and the written one.
    mutating func utilizationReview(_ rfa: RFAState) {
        let receipt = receiptClock(rfa)
        let items = urItems(rfa)
        var decision = decisionClock(rfa, from: receipt)
        if decision.rule == .urDecisionProspective {
            informationRequest(rfa, items, from: receipt, extending: &decision)
        }
        decision.notApplicable = deferral(rfa, from: receipt)
        urDecision(rfa, items, decision)
        notices(rfa, decided: items.decided)
    }

    /// What every UR clock counted from `rfa`'s receipt shares: the receipt as the trigger (the
    /// calculator applies the deemed-receipt rule for its transmission), the treatment
    /// recommendation, and what the case does not record. Its rule is the prospective decision.
    func receiptClock(_ rfa: RFAState) -> Clock {
        let rfaVersion = lastVersion {
            if case .rfaReceived(let e) = $0 { return e.rfaId == rfa.id }
            return false
        }
        var clock = Clock(
            rule: .urDecisionProspective,
            key: rfa.id.rawValue,
            rfaId: rfa.id,
            itemIds: rfa.itemIds,
            trigger: rfa.receivedTimeOfDayKnown ? .instant(rfa.receivedAt) : .date(rfa.receivedOn),
            triggerFact: DeadlineTriggerFact(
                description: "RFA \(rfa.id) received by \(rfa.transmission.rawValue)",
                date: rfa.receivedOn,
                at: rfa.receivedTimeOfDayKnown ? rfa.receivedAt : nil,
                eventVersion: rfaVersion
            ),
            options: DeadlineOptions(treatmentRecommendationDate: rfa.treatmentRecommendedOn)
        )
        if rfa.transmission == .mail {
            // The event records the day the RFA arrived, not the day it was posted: the
            // 5-business-day mail rule counts from posting, so the arrival is the receipt.
            clock.assumptions.append(
                "RFA sent by mail: the recorded day of arrival (\(rfa.receivedOn.iso)) was used as its receipt; the "
                    + "posting date is not recorded, so the 5-business-day mail rule was not applied"
            )
        } else {
            clock.options.transmission = rfa.transmission
        }
        if !rfa.receivedTimeOfDayKnown {
            clock.assumptions.append("only the day the RFA arrived is recorded (\(rfa.receivedOn.iso)), not the time")
        }
        return clock
    }

    /// The decision clock `rfa` has: expedited, retrospective, formulary (a drug from 2018) or
    /// prospective.
    func decisionClock(_ rfa: RFAState, from receipt: Clock) -> Clock {
        var clock = receipt
        if rfa.expedited {
            clock.rule = .urDecisionExpedited
            clock.options.review = rfa.reviewType == .concurrent ? .concurrent : nil
            if rfa.reviewType == .retrospective {
                clock.assumptions.append(
                    "the RFA is marked both expedited and retrospective: the expedited clock was used"
                )
            }
        } else if rfa.reviewType == .retrospective {
            clock.rule = .urDecisionRetrospective
            clock.options.review = .retrospective
        } else if rfa.formulary && rfa.receivedOn >= RuleBook.formularyStart {
            clock.rule = .urDecisionFormulary
            clock.options.formulary = true
            clock.options.review = rfa.reviewType
        } else {
            clock.options.review = rfa.reviewType
        }
        return clock
    }

    /// The items of `rfa` and those UR has decided (worked out once per RFA).
    func urItems(_ rfa: RFAState) -> (all: [ItemState], decided: [ItemState]) {
        let items = rfa.itemIds.compactMap(state.item)
        return (items, items.filter { $0.urOutcome != nil })
    }

    /// `ur.info-request`, only where a request can extend the decision clock. It is optional:
    /// never missed. A request in time makes the decision period 14 calendar days from receipt.
    mutating func informationRequest(
        _ rfa: RFAState,
        _ urItems: (all: [ItemState], decided: [ItemState]),
        from receipt: Clock,
        extending decision: inout Clock
    ) {
        let requestVersion = lastVersion {
            if case .moreInformationRequested(let e) = $0 { return e.rfaId == rfa.id }
            return false
        }
        var clock = receipt
        clock.rule = .urInfoRequest
        clock.options.review = rfa.reviewType
        clock.act = rfa.informationRequestedOn.map {
            Act(eventType: MoreInformationRequested.typeName, version: requestVersion ?? 0, at: nil, on: $0)
        }
        let (items, decided) = urItems
        if clock.act == nil && !items.isEmpty && decided.count == items.count {
            clock.notApplicable = "UR decided every item without asking for more information"
        }
        clock.optionalAct = "the window to ask for more information closed unused: the ordinary decision period applies"
        guard let request = emit(clock), let on = rfa.informationRequestedOn else { return }
        if request.status == .met {
            decision.options.informationRequested = true
            decision.notes.append(
                "information requested in time (\(on.shortLabel)): the decision period is 14 calendar days from receipt"
            )
        } else {
            decision.notes.append(
                "information requested on \(on.shortLabel), after the 5-business-day window: the ordinary period applies"
            )
        }
    }

    /// `ur.deferral` of a deferred RFA. A timely deferral makes the decision clock not
    /// applicable: the reason is returned.
    mutating func deferral(_ rfa: RFAState, from receipt: Clock) -> String? {
        guard let deferredOn = rfa.deferredOn else { return nil }
        let version = lastVersion {
            if case .urDeferred(let e) = $0 { return e.rfaId == rfa.id }
            return false
        }
        var clock = receipt
        clock.rule = .urDeferral
        clock.act = Act(eventType: URDeferred.typeName, version: version ?? 0, at: nil, on: deferredOn)
        guard emit(clock)?.status == .met else { return nil }
        return "UR deferred on \(deferredOn.shortLabel) for a liability dispute"
            + (rfa.liabilityDispute.map { " (\($0))" } ?? "")
            + ": the UR clock starts again when liability is resolved, which the case does not record"
    }

    /// The decision clock: met when every item is decided, judged by the last. A late or
    /// missing decision marks the RFA's items: their IMR clocks say the UR was untimely.
    mutating func urDecision(_ rfa: RFAState, _ urItems: (all: [ItemState], decided: [ItemState]), _ clock: Clock) {
        var decision = clock
        let (items, decided) = urItems
        if !items.isEmpty, decided.count == items.count,
            let last = decided.max(by: { ($0.urDecidedAt ?? .distantPast) < ($1.urDecidedAt ?? .distantPast) }),
            let at = last.urDecidedAt
        {
            decision.act = Act(
                eventType: URDecisionIssued.typeName,
                version: lastMilestone(URDecisionIssued.typeName, of: last)?.version ?? 0,
                at: at,
                on: Pacific.date(of: at)
            )
            if items.count > 1 {
                decision.notes.append("judged by the last item decided: item \(last.id) at \(Self.describe(at))")
            }
        } else if !decided.isEmpty {
            decision.notes.append(
                "\(decided.count) of \(items.count) items decided; the deadline is met only when every item is"
            )
        }
        guard let emitted = emit(decision), emitted.status == .metLate || emitted.status == .missed else { return }
        let how = emitted.status == .missed ? "was not made" : "came late"
        for id in rfa.itemIds {
            untimelyUR[id] = "the UR decision (\(emitted.rule.rawValue), due \(emitted.dueDate.shortLabel)) \(how)"
        }
    }

    /// `ur.notice.physician` and `ur.notice.written`, one pair per decision event of `rfa`,
    /// for the items that decision covered.
    mutating func notices(_ rfa: RFAState, decided: [ItemState]) {
        let groups = Dictionary(grouping: decided) { lastMilestone(URDecisionIssued.typeName, of: $0)?.version ?? 0 }
        for version in groups.keys.sorted() {
            guard let group = groups[version], let decidedAt = group.first?.urDecidedAt else { continue }
            let ids = group.map(\.id)
            let decision = Clock(
                rule: .urNoticePhysician,
                key: rfa.id.rawValue + "/" + ids.map(\.rawValue).joined(separator: "+"),
                rfaId: rfa.id,
                itemIds: ids,
                trigger: .instant(decidedAt),
                triggerFact: DeadlineTriggerFact(
                    description:
                        "UR decision on item\(ids.count == 1 ? "" : "s") \(ids.map(\.rawValue).joined(separator: ", "))",
                    date: Pacific.date(of: decidedAt),
                    at: decidedAt,
                    eventVersion: version == 0 ? nil : version
                )
            )
            physicianNotice(decision, group)
            writtenNotice(decision, group, review: rfa.reviewType)
        }
    }

    /// `ur.notice.physician`: 24 hours to tell the physician. A late notice makes the UR
    /// untimely as well (Bodam).
    mutating func physicianNotice(_ decision: Clock, _ group: [ItemState]) {
        var clock = decision
        if group.allSatisfy({ $0.physicianNotifiedAt != nil }),
            let last = group.max(by: { $0.physicianNotifiedAt! < $1.physicianNotifiedAt! }),
            let at = last.physicianNotifiedAt
        {
            clock.act = Act(
                eventType: PhysicianNotified.typeName,
                version: lastMilestone(PhysicianNotified.typeName, of: last)?.version ?? 0,
                at: at,
                on: Pacific.date(of: at)
            )
            if let method = last.physicianNotificationMethod, method == .mail || method == .personal {
                clock.notes.append(
                    "the physician was told by \(method.rawValue); the rule asks for phone, fax or e-mail: counted as notice when recorded"
                )
            }
        }
        guard let physician = emit(clock), physician.status == .metLate || physician.status == .missed else { return }
        let how = physician.status == .missed ? "has not reached" : "reached"
        for id in decision.itemIds where untimelyUR[id] == nil {
            untimelyUR[id] =
                "the UR decision \(how) the physician within 24 hours (due \(Pacific.rfc3339(physician.due)); Bodam)"
        }
    }

    /// `ur.notice.written`: the written decision served on every item it covered.
    mutating func writtenNotice(_ decision: Clock, _ group: [ItemState], review: ReviewType) {
        var clock = decision
        clock.rule = .urNoticeWritten
        clock.options = DeadlineOptions(review: review)
        if group.allSatisfy({ $0.writtenDecisionServedOn != nil }),
            let last = group.max(by: { $0.writtenDecisionServedOn! < $1.writtenDecisionServedOn! }),
            let on = last.writtenDecisionServedOn
        {
            clock.act = Act(
                eventType: WrittenURDecisionServed.typeName,
                version: lastMilestone(WrittenURDecisionServed.typeName, of: last)?.version ?? 0,
                at: nil,
                on: on
            )
        }
        emit(clock)
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
}
