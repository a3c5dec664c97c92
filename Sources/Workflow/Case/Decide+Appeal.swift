import Foundation

/// The WCAB appeal commands: an appeal filed and resolved.
extension CaseRules {
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
}
