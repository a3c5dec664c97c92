import Foundation

/// The UR commands: RFAs, imported items, information, deferral, decision, notice and written service.
extension CaseRules {
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
}
