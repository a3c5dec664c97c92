import Foundation

/// The case-level commands: opening, withdrawal, closing, reassignment and notes.
extension CaseRules {
    /// What an injured-worker reference (initials or an internal id) may hold: built once,
    /// not for every case opened.
    private static let referenceCharacters = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: ".-_"))

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
        if reference.isEmpty || reference.count > 24
            || reference.unicodeScalars.contains(where: { !Self.referenceCharacters.contains($0) })
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
}
