import Foundation

/// The appeal of a round's determination to the WCAB.
extension ClockBuilder {
    /// `wcab.appeal`, from the first mailing of the group's determination.
    mutating func appeal(_ group: [RoundFacts], first: RoundFacts, key: String) {
        let determined = group.filter { $0.mailedOn != nil }
        if let earliest = determined.min(by: { $0.mailedOn! < $1.mailedOn! }), let mailedOn = earliest.mailedOn {
            let appeals = group.compactMap(\.appeal)
            let act = appeals.min(by: { $0.on < $1.on }).map {
                Act(eventType: $0.event, version: $0.version, at: nil, on: $0.on)
            }
            emit(
                Clock(
                    rule: .wcabAppeal,
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
                        ? [
                            "the determination's mailing date is not recorded: taken as its decision date (\(mailedOn.iso))"
                        ]
                        : [])
                        + [
                            "the determination was taken as served by mail within California (where each party is, is not recorded)"
                        ]
                )
            )
        }
    }
}
