import Foundation
import Testing
@testable import Workflow

@Suite struct RuleBookTests {
    @Test func everyRuleIDHasARuleWithACitation() {
        let book = RuleBook.standard
        #expect(book.rules.count == RuleID.allCases.count)
        for id in RuleID.allCases {
            let rule = book[id]
            #expect(rule != nil, "\(id.rawValue)")
            #expect(rule?.id == id)
            #expect(!(rule?.citation.isEmpty ?? true), "\(id.rawValue)")
            #expect(!(rule?.whoMustAct.isEmpty ?? true))
            #expect(!(rule?.consequenceIfMissed.summary.isEmpty ?? true))
        }
    }

    @Test func ruleIDsAreTheStableSpellings() throws {
        #expect(
            RuleID.allCases.map(\.rawValue) == [
                "rfa.deemed-receipt", "ur.decision.prospective", "ur.decision.expedited", "ur.decision.retrospective",
                "ur.decision.formulary", "ur.info-request", "ur.deferral", "ur.notice.physician", "ur.notice.written",
                "imr.application", "imr.eligibility-response", "imro.assignment-notice", "imr.records",
                "imr.determination", "imr.implementation", "wcab.appeal",
            ]
        )
        #expect(throws: DeadlineError.self) { try RuleID.named("ur.decision.someday") }
        #expect(try RuleID.named("wcab.appeal") == .wcabAppeal)
    }

    @Test func periodsAndConfidencesFollowDeadlinesMD() {
        let book = RuleBook.standard
        #expect(
            book[.urDecisionExpedited]?.period
                == DeadlinePeriod(72, .hours, calendar: .clock, capSetAside: RuleBook.expeditedCapSetAside)
        )
        // The 14-day limit is the ordinary prospective period's; every other UR decision period says why it does not take it.
        #expect(book[.urDecisionProspective]?.period.capDaysAfterTreatmentRecommendation == 14)
        let decisionPeriods =
            [RuleID.urDecisionExpedited, .urDecisionRetrospective, .urDecisionFormulary].compactMap { book[$0]?.period }
            + (book[.urDecisionProspective]?.variants.map(\.period) ?? [])
        #expect(decisionPeriods.count == 7 && decisionPeriods.allSatisfy { $0.capSetAside?.days == 14 })
        #expect(book[.urNoticePhysician]?.period.amount == 24)
        #expect(book[.imrRecords]?.variants.first { $0.condition == .expedited }?.period.unit == .hours)
        #expect(book[.imrApplication]?.period.serviceExtension == .mailCCP1013)
        #expect(book[.wcabAppeal]?.period.serviceExtension == .wcabMailFaxEmail)
        #expect(book[.urDecisionProspective]?.confidence == .highMedium)
        #expect(book[.rfaDeemedReceipt]?.confidence == .medium)
        #expect(book[.urDeferral]?.confidence == .high)
        #expect(book[.imrDetermination]?.consequenceIfMissed.kind == .lateNotVoid)
        #expect(book[.imrDetermination]?.variants.first { $0.condition == .expedited }?.confidence == .medium)
    }

    @Test func aMediumRuleIsChangedAsData() throws {
        // An organisation that reads the written-notice rule (M) as 3 business days changes
        // the book, not the code.
        var rule = try #require(RuleBook.standard[.urNoticeWritten])
        rule.period.amount = 3
        let calculator = DeadlineCalculator(rules: RuleBook.standard.replacing(rule))
        // Mon 2024-03-04 + 3 business days = Thu 2024-03-07 (2 would be Wednesday).
        let deadline = try calculator.deadline(.urNoticeWritten, from: LocalDate(iso: "2024-03-04")!)
        #expect(deadline.dueDate == LocalDate(iso: "2024-03-07"))
        #expect(
            try DeadlineCalculator().deadline(.urNoticeWritten, from: LocalDate(iso: "2024-03-04")!).dueDate
                == LocalDate(iso: "2024-03-06")
        )
    }

    @Test func theBookRoundTripsThroughJSON() throws {
        let data = try JSONEncoder().encode(RuleBook.standard)
        #expect(try JSONDecoder().decode(RuleBook.self, from: data) == RuleBook.standard)
        let settings = CalendarSettings(governorDeclaredHolidays: [
            NamedDay(date: LocalDate(iso: "2024-08-16")!, name: "x")
        ])
        #expect(try JSONDecoder().decode(CalendarSettings.self, from: JSONEncoder().encode(settings)) == settings)
    }
}
