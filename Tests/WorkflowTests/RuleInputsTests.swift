import Foundation
import Testing
@testable import Workflow

/// `DeadlineRule.reads` is what lets `imr-ctl calc` refuse an option instead of ignoring it:
/// it must never leave out a fact that changes a rule's deadline.
@Suite struct RuleInputsTests {
    /// Each fact, by the values that could change a deadline.
    static func variations(of input: DeadlineInput, trigger: LocalDate) -> [DeadlineOptions] {
        switch input {
        case .transmission: [.fax, .email, .mail].map { DeadlineOptions(transmission: $0) }
        case .service: ServiceMethod.allCases.map { DeadlineOptions(service: $0) }
        case .destination: [.otherState, .outsideUnitedStates].map { DeadlineOptions(destination: $0) }
        case .expedited: [DeadlineOptions(expedited: true)]
        case .review: ReviewType.allCases.map { DeadlineOptions(review: $0) }
        case .formulary: [DeadlineOptions(formulary: true)]
        case .treatmentRecommendationDate:
            [1, 10, 40].map { DeadlineOptions(treatmentRecommendationDate: trigger.adding(days: -$0)) }
        case .informationRequested: [DeadlineOptions(informationRequested: true)]
        case .noticeSentElectronically: [true, false].map { DeadlineOptions(noticeSentElectronically: $0) }
        case .servicesAlreadyProvided: [DeadlineOptions(servicesAlreadyProvided: true)]
        case .receivingDateStamp: [0, 2].map { DeadlineOptions(receivingDateStamp: trigger.adding(days: $0)) }
        case .triggerIsAssignmentDate: [DeadlineOptions(triggerIsAssignmentDate: true)]
        }
    }

    /// For every rule, over triggers spread across 2014-2034 (with and without a time of day,
    /// some after 5:30 p.m.), a fact the rule is said not to read leaves the due instant
    /// unchanged (or is refused outright).
    @Test func aFactARuleDoesNotReadNeverChangesItsDeadline() throws {
        let calculator = DeadlineCalculator()
        var checked = 0
        for id in RuleID.allCases {
            let rule = try #require(RuleBook.standard[id])
            let unread = DeadlineInput.allCases.filter { !rule.reads.contains($0) }
            var day = LocalDate(year: 2014, month: 1, day: 6)!
            var step = 0
            while day.year < 2035 {
                let triggers: [DeadlineTrigger] = [
                    .date(day), .instant(Pacific.instant(day, hour: step % 2 == 0 ? 18 : 9, minute: 18)),
                ]
                for trigger in triggers {
                    guard let baseline = try? calculator.deadline(id, from: trigger) else { continue }
                    for input in unread {
                        for options in Self.variations(of: input, trigger: day) {
                            guard let other = try? calculator.deadline(id, from: trigger, options: options) else {
                                continue
                            }
                            #expect(
                                other.due == baseline.due,
                                "\(id.rawValue) from \(trigger): \(input.rawValue) changed the due instant"
                            )
                            checked += 1
                        }
                    }
                }
                step += 1
                day = day.adding(days: 53 + step % 5)
            }
        }
        #expect(checked > 5_000)
    }

    /// The facts each rule reads, as DEADLINES.md describes them.
    @Test func whatEachRuleReads() throws {
        func reads(_ id: RuleID) -> Set<DeadlineInput> { RuleBook.standard[id]?.reads ?? [] }
        #expect(reads(.urNoticePhysician).isEmpty)
        #expect(reads(.imrImplementation) == [.servicesAlreadyProvided])
        #expect(reads(.wcabAppeal) == [.service, .destination])
        #expect(
            reads(.imrApplication) == [.service, .destination, .formulary],
            "formulary selects a variant with its own assumption"
        )
        #expect(reads(.imrRecords).isSuperset(of: [.service, .noticeSentElectronically, .expedited]))
        #expect(reads(.imrDetermination) == [.expedited, .formulary, .triggerIsAssignmentDate])
        #expect(
            reads(.urDecisionProspective).isSuperset(of: [
                .transmission, .service, .expedited, .review, .treatmentRecommendationDate,
            ])
        )
        #expect(!reads(.urDecisionProspective).contains(.destination))
        #expect(reads(.rfaDeemedReceipt) == [.transmission, .service, .expedited, .review, .receivingDateStamp])
        #expect(reads(.urDecisionProspective).contains(.receivingDateStamp))
        // The UR decision rules whose periods set the 14-day limit aside read the date, to say so.
        for id in [RuleID.urDecisionExpedited, .urDecisionRetrospective, .urDecisionFormulary] {
            #expect(reads(id).contains(.treatmentRecommendationDate), "\(id.rawValue)")
        }
        #expect(!reads(.urInfoRequest).contains(.treatmentRecommendationDate))
    }
}
