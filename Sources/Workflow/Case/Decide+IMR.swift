import Foundation

/// The IMR commands: application, eligibility, assignment, records, determination, implementation.
extension CaseRules {
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
}
