import Foundation
import Testing
@testable import Workflow

/// Issue 11: the values a case may hold, checked before any rule of the lifecycle.
@Suite struct CommandValuesTests {
    /// What the value check says of `command`; decide refuses the same command before any
    /// rule, with the same sentence.
    static func refusal(_ command: CaseCommand) -> InvalidValue? {
        let invalid: InvalidValue?
        do {
            try CommandValues.validate(command)
            invalid = nil
        } catch {
            invalid = error
        }
        if let invalid {
            do {
                _ = try decide(command, state: CaseState(), now: Example.now)
                Issue.record("decide took a command with an invalid \(invalid.field)")
            } catch {
                #expect(error.code == .invalidValue && error.message == invalid.message)
            }
        }
        return invalid
    }

    static func opened(_ change: (inout CaseOpened) -> Void) -> CaseCommand {
        var e = Example.opened
        change(&e)
        return .openCase(e)
    }

    @Test func caseIdsAreOneTo64LettersDigitsAndAFewMarks_neverANulOrAControlCharacter() throws {
        for good in [
            "DEMO-0001", "C-1001", "c1", "case-1", "letter-CM24-0012345", "A.B_C:D/E#F",
            String(repeating: "x", count: 64),
        ] {
            #expect(Self.refusal(Self.opened { $0.caseId = CaseID(good) }) == nil, "\(good)")
            #expect(try CommandValues.caseId(good).rawValue == good)
        }
        let nul = try #require(Self.refusal(Self.opened { $0.caseId = "A\u{0}B" }))
        #expect(nul.field == "caseId")
        #expect(
            nul.message
                == "caseId contains U+0000, which is not allowed; a case id is 1 to 64 ASCII letters, digits and - _ . : / #"
        )
        for bad in ["", "A B", "A\tB", "é1", "a;b", "a'b", "a\u{7f}", String(repeating: "x", count: 65)] {
            #expect(Self.refusal(Self.opened { $0.caseId = CaseID(bad) })?.field == "caseId", "\(bad.debugDescription)")
        }
        #expect(throws: InvalidValue.self) { try CommandValues.caseId("OK-1\u{0}zzz") }
    }

    @Test func claimNumbersCoordinatorsAndShortTextHaveTheirOwnSets() {
        #expect(Self.refusal(Self.opened { $0.claimNumber = "unknown (imported from letter CM16-0213037)" }) == nil)
        #expect(Self.refusal(Self.opened { $0.claimNumber = "ADJ\u{0}1" })?.field == "claimNumber")
        #expect(Self.refusal(Self.opened { $0.coordinator = "maria.lopez@tpa" }) == nil)
        #expect(Self.refusal(Self.opened { $0.coordinator = "maria lopez" })?.field == "coordinator")
        #expect(Self.refusal(Self.opened { $0.employer = "Acme\nFoods" })?.message.contains("none is allowed") == true)
        #expect(Self.refusal(Self.opened { $0.employer = String(repeating: "e", count: 201) })?.field == "employer")
        #expect(Self.refusal(.reassignCoordinator(to: "ana\u{0}")).map(\.field) == "coordinator")
    }

    @Test func notesAndLongTextKeepNewlinesAndTabsButNoOtherControlCharacter() {
        #expect(throws: Never.self) { try CommandValues.validate(.addNote("two\nlines\tand a tab")) }
        let escape = Self.refusal(.addNote("red \u{1b}[31m"))
        #expect(escape?.field == "text")
        #expect(
            escape?.message
                == "text contains the control character U+001B; only newline and tab are allowed in this field: remove it"
        )
        #expect(
            Self.refusal(.addNote(String(repeating: "n", count: 10_001)))?.message.contains("at most 10,000") == true
        )
        #expect(
            Self.refusal(.close(CaseClosed(closedOn: Example.dateOfInjury, reason: "done\u{0}"))).map(\.field)
                == "reason"
        )
        var rfa = Example.rfa
        rfa.items[1].description = "MRI\u{85}"
        #expect(Self.refusal(.receiveRFA(rfa))?.field == "items[1].description")
        rfa = Example.rfa
        rfa.items[0].id = "1\u{0}"
        #expect(Self.refusal(.receiveRFA(rfa))?.field == "items[0].id")
    }

    @Test func noFreeTextReordersOrBreaksWhatIsShown() {
        // A right-to-left override makes "approved" display reversed; U+2028 is a newline in disguise.
        for text in ["denied \u{202E}devorppa", "a\u{2066}b", "line\u{2028}break", "mark\u{200F}"] {
            let refusal = Self.refusal(.addNote(text))
            #expect(refusal?.field == "text", "\(text.unicodeScalars.map { String($0.value, radix: 16) })")
            #expect(refusal?.message.contains("changes how the text around it is shown") == true)
        }
        // Other scripts and marks stay welcome.
        #expect(throws: Never.self) { try CommandValues.validate(.addNote("paciente: José, 東京, ملاحظة")) }
    }

    @Test func theCanonicalEncodingTellsCommandsApart_andIgnoresNothingItCarries() {
        #expect(CaseCommand.addNote("a").canonicalEncoding == CaseCommand.addNote("a").canonicalEncoding)
        #expect(CaseCommand.addNote("a").canonicalEncoding != CaseCommand.addNote("b").canonicalEncoding)
        #expect(
            CaseCommand.addNote("a").canonicalEncoding != CaseCommand.reassignCoordinator(to: "a").canonicalEncoding
        )
        #expect(Self.opened { _ in }.canonicalEncoding == Self.opened { _ in }.canonicalEncoding)
        #expect(Self.opened { _ in }.canonicalEncoding != Self.opened { $0.employer = "Other" }.canonicalEncoding)
    }

    @Test func wireDatesOutsideTheSupportedRangeAreRefused_storedOnesStillRead() throws {
        struct Holder: Decodable { let on: LocalDate }
        let bounded = JSONDecoder()
        bounded.userInfo[LocalDate.supportedRangeOnly] = true
        #expect(try bounded.decode(Holder.self, from: Data(#"{"on":"1900-01-01"}"#.utf8)).on.iso == "1900-01-01")
        #expect(try bounded.decode(Holder.self, from: Data(#"{"on":"2199-12-31"}"#.utf8)).on.iso == "2199-12-31")
        for outside in ["0000-01-01", "1899-12-31", "2200-01-01"] {
            #expect(throws: DecodingError.self) {
                try bounded.decode(Holder.self, from: Data(#"{"on":"\#(outside)"}"#.utf8))
            }
        }
        // What the log already holds stays readable.
        #expect(try JSONDecoder().decode(Holder.self, from: Data(#"{"on":"0000-01-01"}"#.utf8)).on.year == 0)
    }

    @Test func offlineTriggersOutsideTheSupportedRangeAreRefusedToo() throws {
        #expect(try DeadlineTrigger(parsing: "1900-01-01") == .date(LocalDate(year: 1900, month: 1, day: 1)!))
        for outside in [
            "0000-01-03T10:00", "0000-01-03", "1899-12-31T23:00", "2200-01-01", "2199-12-31T23:30:00-12:00",
        ] {
            do {
                _ = try DeadlineTrigger(parsing: outside)
                Issue.record("\(outside) accepted")
            } catch let error as DeadlineError {
                #expect(error.isBadTrigger)
                #expect(error.message.contains("1900-01-01 to 2199-12-31"), "\(error.message)")
            }
        }
    }
}
