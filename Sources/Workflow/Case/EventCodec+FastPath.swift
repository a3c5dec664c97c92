import Foundation

extension CaseEventCodec {
    /// The event read without Codable, for the current versions of the types that make up
    /// almost all of a log (``StoredJSON`` and an initialiser per type); nil for any other type
    /// or version, and for a payload the reader declines, which ``decode(type:schemaVersion:payload:)``
    /// then reads with `JSONDecoder`. When it gives an event, it is the one `JSONDecoder` gives.
    package static func decodeFast(type: String, schemaVersion: Int, payload: Data) -> CaseEvent? {
        func read<P: CaseEventPayload>(
            alsoReads older: Int? = nil,
            _ make: (StoredJSON.Object) throws(StoredJSON.Declined) -> P
        ) -> P? {
            guard schemaVersion == P.schemaVersion || schemaVersion == older else { return nil }
            return StoredJSON.readObject(payload, make)
        }
        switch type {
        case RFAReceived.typeName: return read(RFAReceived.init(stored:)).map(CaseEvent.rfaReceived)
        case URDecisionIssued.typeName: return read(URDecisionIssued.init(stored:)).map(CaseEvent.urDecisionIssued)
        case PhysicianNotified.typeName: return read(PhysicianNotified.init(stored:)).map(CaseEvent.physicianNotified)
        case WrittenURDecisionServed.typeName:
            return read(WrittenURDecisionServed.init(stored:)).map(CaseEvent.writtenURDecisionServed)
        case CaseOpened.typeName: return read(CaseOpened.init(stored:)).map(CaseEvent.caseOpened)
        case IMRApplicationReceived.typeName:
            return read(IMRApplicationReceived.init(stored:)).map(CaseEvent.imrApplicationReceived)
        case IMREligibilityFound.typeName:
            return read(IMREligibilityFound.init(stored:)).map(CaseEvent.imrEligibilityFound)
        // Version 1 is version 2 with the optional field always present (as `decode` reads it).
        case IMRAssigned.typeName: return read(alsoReads: 1, IMRAssigned.init(stored:)).map(CaseEvent.imrAssigned)
        case IMRRecordsReceived.typeName:
            return read(IMRRecordsReceived.init(stored:)).map(CaseEvent.imrRecordsReceived)
        case IMRDeterminationIssued.typeName:
            return read(alsoReads: 1, IMRDeterminationIssued.init(stored:)).map(CaseEvent.imrDeterminationIssued)
        case MoreInformationRequested.typeName:
            return read(MoreInformationRequested.init(stored:)).map(CaseEvent.moreInformationRequested)
        case CaseClosed.typeName: return read(CaseClosed.init(stored:)).map(CaseEvent.caseClosed)
        case DeterminationImplemented.typeName:
            return read(DeterminationImplemented.init(stored:)).map(CaseEvent.determinationImplemented)
        case WCABAppealFiled.typeName: return read(WCABAppealFiled.init(stored:)).map(CaseEvent.wcabAppealFiled)
        default: return nil
        }
    }
}

// Each initialiser reads the properties Codable's synthesized `init(from:)` reads, under the
// same keys, through the same initialisers (an optional property is absent or null when nil).

extension CaseOpened {
    init(stored o: StoredJSON.Object) throws(StoredJSON.Declined) {
        self.init(
            caseId: try o.value("caseId").identifier(),
            claimNumber: try o.value("claimNumber").string(),
            employer: try o.value("employer").string(),
            claimsAdministrator: try o.value("claimsAdministrator").string(),
            injuredWorkerReference: try o.value("injuredWorkerReference").string(),
            dateOfInjury: try o.value("dateOfInjury").localDate(),
            coordinator: try o.value("coordinator").string()
        )
    }
}

extension RFAReceived {
    init(stored o: StoredJSON.Object) throws(StoredJSON.Declined) {
        self.init(
            rfaId: try o.value("rfaId").identifier(),
            receivedAt: try o.value("receivedAt").instant(),
            receivedTimeOfDayKnown: try o.value("receivedTimeOfDayKnown").bool(),
            transmission: try o.value("transmission").choice(),
            physician: try o.value("physician").string(),
            treatmentRecommendedOn: try o.optional("treatmentRecommendedOn")?.localDate(),
            reviewType: try o.value("reviewType").choice(),
            expedited: try o.value("expedited").bool(),
            formulary: try o.value("formulary").bool(),
            items: try o.value("items").array { item throws(StoredJSON.Declined) in
                try item.object { o throws(StoredJSON.Declined) in
                    RequestedItem(id: try o.value("id").identifier(), description: try o.value("description").string())
                }
            }
        )
    }
}

extension MoreInformationRequested {
    init(stored o: StoredJSON.Object) throws(StoredJSON.Declined) {
        self.init(
            rfaId: try o.value("rfaId").identifier(),
            requestedOn: try o.value("requestedOn").localDate(),
            whatIsNeeded: try o.value("whatIsNeeded").string()
        )
    }
}

extension URDecisionIssued {
    init(stored o: StoredJSON.Object) throws(StoredJSON.Declined) {
        self.init(
            rfaId: try o.value("rfaId").identifier(),
            decidedAt: try o.value("decidedAt").instant(),
            decisions: try o.value("decisions").array { decision throws(StoredJSON.Declined) in
                try decision.object { o throws(StoredJSON.Declined) in
                    URItemDecision(
                        itemId: try o.value("itemId").identifier(),
                        outcome: try o.value("outcome").choice(),
                        authorizedPortion: try o.optional("authorizedPortion")?.string()
                    )
                }
            }
        )
    }
}

extension PhysicianNotified {
    init(stored o: StoredJSON.Object) throws(StoredJSON.Declined) {
        self.init(
            itemIds: try o.itemIds(),
            notifiedAt: try o.value("notifiedAt").instant(),
            method: try o.value("method").choice()
        )
    }
}

extension WrittenURDecisionServed {
    init(stored o: StoredJSON.Object) throws(StoredJSON.Declined) {
        self.init(
            itemIds: try o.itemIds(),
            servedOn: try o.value("servedOn").localDate(),
            method: try o.value("method").choice(),
            destination: try o.value("destination").choice()
        )
    }
}

extension IMRApplicationReceived {
    init(stored o: StoredJSON.Object) throws(StoredJSON.Declined) {
        self.init(itemIds: try o.itemIds(), receivedOn: try o.value("receivedOn").localDate())
    }
}

extension IMREligibilityFound {
    init(stored o: StoredJSON.Object) throws(StoredJSON.Declined) {
        self.init(itemIds: try o.itemIds(), foundOn: try o.value("foundOn").localDate())
    }
}

extension IMRAssigned {
    init(stored o: StoredJSON.Object) throws(StoredJSON.Declined) {
        self.init(
            itemIds: try o.itemIds(),
            imrCaseNumber: try o.value("imrCaseNumber").imrCaseNumber(),
            assignedOn: try o.value("assignedOn").localDate(),
            priority: try o.value("priority").choice(),
            noticeMethod: try o.optional("noticeMethod")?.choice()
        )
    }
}

extension IMRRecordsReceived {
    init(stored o: StoredJSON.Object) throws(StoredJSON.Declined) {
        self.init(
            imrCaseNumber: try o.value("imrCaseNumber").imrCaseNumber(),
            receivedOn: try o.value("receivedOn").localDate()
        )
    }
}

extension IMRDeterminationIssued {
    init(stored o: StoredJSON.Object) throws(StoredJSON.Declined) {
        self.init(
            imrCaseNumber: try o.value("imrCaseNumber").imrCaseNumber(),
            decidedOn: try o.value("decidedOn").localDate(),
            mailedOn: try o.optional("mailedOn")?.localDate(),
            reviewerSpecialty: try o.value("reviewerSpecialty").string(),
            items: try o.value("items").array { item throws(StoredJSON.Declined) in
                try item.object { o throws(StoredJSON.Declined) in
                    IMRItemDetermination(
                        itemId: try o.value("itemId").identifier(),
                        decision: try o.value("decision").choice(),
                        guideline: try o.value("guideline").string(),
                        rationaleSummary: try o.value("rationaleSummary").string()
                    )
                }
            }
        )
    }
}

extension DeterminationImplemented {
    init(stored o: StoredJSON.Object) throws(StoredJSON.Declined) {
        self.init(
            itemId: try o.value("itemId").identifier(),
            implementedOn: try o.value("implementedOn").localDate(),
            kind: try o.value("kind").choice()
        )
    }
}

extension WCABAppealFiled {
    init(stored o: StoredJSON.Object) throws(StoredJSON.Declined) {
        self.init(
            itemIds: try o.itemIds(),
            filedOn: try o.value("filedOn").localDate(),
            filedBy: try o.value("filedBy").choice()
        )
    }
}

extension CaseClosed {
    init(stored o: StoredJSON.Object) throws(StoredJSON.Declined) {
        self.init(closedOn: try o.value("closedOn").localDate(), reason: try o.value("reason").string())
    }
}

extension StoredJSON.Object {
    /// The `itemIds` array most IMR and notice events carry.
    fileprivate func itemIds() throws(StoredJSON.Declined) -> [ItemID] {
        try value("itemIds").array { id throws(StoredJSON.Declined) in try id.identifier() }
    }
}
