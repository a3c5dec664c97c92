/// A fact the calculator can be given beside the trigger (``DeadlineOptions``), by what it
/// changes. A rule reads only some of them; ``DeadlineRule/reads`` says which, so that a
/// caller offering them by name (`imr-ctl calc`) can refuse the rest instead of ignoring them.
public enum DeadlineInput: String, CaseIterable, Sendable {
    /// How an RFA was sent (fax, e-mail, mail): its deemed receipt starts the clock.
    case transmission
    /// How the triggering document was served: a service extension, or electronic notice.
    case service
    /// Where the served party is (California, elsewhere in the United States, abroad).
    case destination
    /// Expedited review.
    case expedited
    /// Prospective, concurrent or retrospective review.
    case review
    /// A drug on the formulary.
    case formulary
    /// The treatment recommendation's date (the 14-day cap).
    case treatmentRecommendationDate
    /// UR asked for more information in time.
    case informationRequested
    /// Whether the notice of assignment was sent electronically.
    case noticeSentElectronically
    /// The services were already provided when the determination came.
    case servicesAlreadyProvided
    /// The receiving date stamp on a faxed RFA: the day it counts as received.
    case receivingDateStamp
    /// `imr.determination`: the trigger is the assignment date, the records' receipt unknown.
    case triggerIsAssignmentDate
}

extension DeadlineRule {
    /// The facts beside the trigger that can change this rule's deadline or what its
    /// explanation says of them (a limit set aside, say), derived from the
    /// rule's own data (its variants, cap, service extension and start), so that a rule edited
    /// in the rule book reads what its new data needs.
    public var reads: Set<DeadlineInput> {
        var inputs = Set<DeadlineInput>()
        let periods = [period] + variants.map(\.period)
        let conditions = Set(variants.map(\.condition))
        if startsAtRFAReceipt || id == .rfaDeemedReceipt {
            // The deemed receipt: how the RFA came, and (for fax and e-mail) whether an
            // expedited or concurrent review sets the after-hours rule aside.
            inputs.formUnion([.transmission, .service, .expedited, .review, .receivingDateStamp])
        }
        if periods.contains(where: { $0.serviceExtension != .none }) {
            inputs.formUnion([.service, .destination])
        }
        if conditions.contains(.noticeSentElectronically) {
            inputs.formUnion([.service, .noticeSentElectronically])
        }
        if conditions.contains(.expedited) || id == .urDecisionExpedited { inputs.insert(.expedited) }
        if conditions.contains(.concurrent) || conditions.contains(.retrospective) || id == .urDecisionRetrospective {
            inputs.insert(.review)
        }
        if conditions.contains(.formulary) || id == .urDecisionFormulary { inputs.insert(.formulary) }
        if conditions.contains(.informationRequested) { inputs.insert(.informationRequested) }
        if conditions.contains(.servicesAlreadyProvided) { inputs.insert(.servicesAlreadyProvided) }
        if id == .imrDetermination { inputs.insert(.triggerIsAssignmentDate) }
        if periods.contains(where: { $0.capDaysAfterTreatmentRecommendation != nil || $0.capSetAside != nil }) {
            inputs.insert(.treatmentRecommendationDate)
        }
        return inputs
    }
}
