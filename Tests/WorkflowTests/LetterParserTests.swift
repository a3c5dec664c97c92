import Foundation
import Testing
@testable import Workflow

/// Shapes of Final Determination letters, written out by hand (no real case), one per test.
@Suite struct LetterParserTests {
    static let issues = """
        IMR ISSUES, DECISIONS AND RATIONALES
        The Final Determination was based on decisions for the disputed items/services set forth below:

        """

    static func body(
        _ guideline: String = "Decision based on MTUS Chronic Pain Medical Treatment Guidelines."
    ) -> String {
        """
        Claims Administrator guideline: Decision based on MTUS ACOEM.
        MAXIMUS guideline: \(guideline)
        Decision rationale: The guidelines recommend a short course. Therefore, the request is not medically necessary.

        """
    }

    // MARK: Errors

    @Test func emptyText_throwsEmptyInput() {
        #expect(throws: LetterParseError.emptyInput) { try LetterParser.parse("") }
    }

    @Test func whitespaceAndFormFeedsOnly_throwsNoTextLayer() {
        #expect(throws: LetterParseError.noTextLayer) { try LetterParser.parse("\u{0C}\n\u{0C}\n  \n\t\u{0C}") }
        #expect(throws: LetterParseError.noTextLayer) { try LetterParser.parse("   \n\n") }
    }

    @Test func unrelatedText_throwsNotADetermination() {
        let readme = """
            # IMR Final Determination letters

            Real, public IMR Final Determination letters issued by MAXIMUS Federal Services for the
            California Division of Workers' Compensation, for testing the letter importer. Extract
            text with poppler's pdftotext; expected.json holds what a careful reader takes from each file.
            """
        #expect(throws: LetterParseError.notADetermination) { try LetterParser.parse(readme) }
    }

    @Test func errors_sayWhatIsWrongAndWhatToDo() {
        for error in [LetterParseError.emptyInput, .noTextLayer, .notADetermination] {
            let text = error.description
            #expect(text.hasSuffix("."))
            #expect(text.count > 60)
            #expect(error.localizedDescription == text)
        }
        #expect(LetterParseError.noTextLayer.description.contains("OCR"))
        #expect(LetterParseError.notADetermination.description.contains("Final Determination"))
    }

    // MARK: Headings

    @Test func headingWrappedOverThreeLines_isOneItem() throws {
        let text = """
            \(Self.issues)Daily RN for 4 weeks for wound care and monitoring of wound healing and
            home safety, medication management, and a review of the home exercise program
            with the injured worker: Overturned

            \(Self.body())
            """
        let facts = try LetterParser.parse(text)
        #expect(facts.items.count == 1)
        #expect(
            facts.items.first?.disputed
                == "Daily RN for 4 weeks for wound care and monitoring of wound healing and home safety, medication management, and a review of the home exercise program with the injured worker"
        )
        #expect(facts.items.first?.decision == .overturned)
    }

    @Test func headingRightAfterARationaleWithoutBlankLine_startsAfterTheLastSentence() throws {
        let text = """
            \(Self.issues)X-rays of right hip: Upheld
            \(Self.body())Given the above, the request for "X-rays of right hip" is not medically
            necessary.
            TENS unit: Upheld
            \(Self.body())
            """
        let facts = try LetterParser.parse(text)
        #expect(facts.items.map(\.disputed) == ["X-rays of right hip", "TENS unit"])
    }

    @Test func decisionWithVariableSpacingAndTrailingSpaces_isRead() throws {
        let text =
            "\(Self.issues)Massage therapy, 12 sessions:     Upheld   \n\n\(Self.body())"
            + "Hot/cold packs:Overturned\n\(Self.body())"
        let facts = try LetterParser.parse(text)
        #expect(facts.items.map(\.disputed) == ["Massage therapy, 12 sessions", "Hot/cold packs"])
        #expect(facts.items.map(\.decision) == [.upheld, .overturned])
    }

    @Test func decisionWordWrappedOntoItsOwnLine_isRead() throws {
        let text = "\(Self.issues)Retrospective Cyclobenzaprine 5mg tab #30 DOS: 11/14/16:\nUpheld\n\(Self.body())"
        let facts = try LetterParser.parse(text)
        #expect(facts.items.map(\.disputed) == ["Retrospective Cyclobenzaprine 5mg tab #30 DOS: 11/14/16"])
    }

    @Test func headingMentioningAGuideline_isAHeadingNotAGuidelineLine() throws {
        let text = "\(Self.issues)Acupuncture per ODG guideline: Upheld\n\(Self.body())"
        #expect(try LetterParser.parse(text).items.map(\.disputed) == ["Acupuncture per ODG guideline"])
    }

    @Test func partialCertification_keepsOriginalAuthorizedAndDisputedPortions() throws {
        let text = """
            \(Self.issues)Norco 10/325mg #60 was the original request. Norco 10/325mg #25 was authorized by the
            Claims Administrator. The remaining IMR eligible portion of the original request, Norco
            10/325mg #35 is: Upheld

            \(Self.body())
            """
        let item = try #require(try LetterParser.parse(text).items.first)
        #expect(item.originalRequest == "Norco 10/325mg #60")
        #expect(item.authorizedPortion == "Norco 10/325mg #25")
        #expect(item.disputed == "Norco 10/325mg #35")
        #expect(item.decision == .upheld)
    }

    @Test func partialCertification_afterARationaleEndingOnTheLineBefore() throws {
        let text = """
            \(Self.issues)X-rays of right hip: Upheld
            \(Self.body())Given the above, the request is not medically necessary.
            Acupuncture 18 sessions was the original request. Acupuncture 6 sessions was authorized
            by the Claims Administrator. The remaining IMR eligible portion of the original request,
            Acupuncture 12 sessions is: Upheld
            \(Self.body())
            """
        let facts = try LetterParser.parse(text)
        #expect(facts.items.count == 2)
        #expect(facts.items.last?.originalRequest == "Acupuncture 18 sessions")
        #expect(facts.items.last?.authorizedPortion == "Acupuncture 6 sessions")
        #expect(facts.items.last?.disputed == "Acupuncture 12 sessions")
    }

    @Test func partialCertification_withoutTheWordIs_beforeTheDecision() throws {
        let text = """
            \(Self.issues)Eight physical therapy sessions for the lumbar was the original request. Six physical
            therapy sessions for the lumbar was authorized by the Claims Administrator. The
            remaining IMR eligible portion of the original request, Two physical therapy sessions for
            the lumbar: Upheld
            \(Self.body())
            """
        let facts = try LetterParser.parse(text)
        let item = try #require(facts.items.first)
        #expect(item.originalRequest == "Eight physical therapy sessions for the lumbar")
        #expect(item.authorizedPortion == "Six physical therapy sessions for the lumbar")
        #expect(item.disputed == "Two physical therapy sessions for the lumbar")
        #expect(facts.warnings.allSatisfy { !$0.contains("Item 1") })
    }

    @Test func otherServiceAuthorized_leavesTheOriginalRequestDisputed() throws {
        let text = """
            \(Self.issues)Partial Hospitalization day treatment was the original request. The Claims Administrator
            authorized an Evaluation only for a Partial Hospitalization day treatment, leaving the
            original request IMR eligible. The original request, Partial Hospitalization day treatment
            is: Overturned
            \(Self.body())
            """
        let item = try #require(try LetterParser.parse(text).items.first)
        #expect(item.disputed == "Partial Hospitalization day treatment")
        #expect(item.originalRequest == "Partial Hospitalization day treatment")
        #expect(item.authorizedPortion == "an Evaluation only for a Partial Hospitalization day treatment")
        #expect(item.decision == .overturned)
    }

    @Test func hyphenatedLineBreak_joinsTheWordAndKeepsTheHyphen() throws {
        let text = """
            \(Self.issues)Lumbar Epidural Steroid Injection, L4-
            L5, with fluoroscopy: Upheld
            \(Self.body("Decision based on MTUS Chronic Pain Medical Treatment 2009, non-\ncertification page 46."))
            """
        let item = try #require(try LetterParser.parse(text).items.first)
        #expect(item.disputed == "Lumbar Epidural Steroid Injection, L4-L5, with fluoroscopy")
        #expect(
            item.guideline == "Decision based on MTUS Chronic Pain Medical Treatment 2009, non-certification page 46."
        )
    }

    @Test func guidelinesAndRationale_arePerItem() throws {
        let text = "\(Self.issues)TENS unit: Upheld\n\(Self.body("Decision based on MTUS TENS, Page(s): 114-116."))"
        let item = try #require(try LetterParser.parse(text).items.first)
        #expect(item.claimsAdministratorGuideline == "Decision based on MTUS ACOEM.")
        #expect(item.guideline == "Decision based on MTUS TENS, Page(s): 114-116.")
        #expect(item.rationale == "Therefore, the request is not medically necessary.")
    }

    // MARK: Blank lines, header, specialty

    @Test func blankLineAfterEveryLine_withSpaceOnlyParagraphBreaks_isRead() throws {
        let lines = [
            " HOW THE IMR FINAL DETERMINATION WAS MADE ",
            "The expert reviewer is Board Certified in Physical Medicine and Rehabilitation, has a ",
            "subspecialty in Interventional Spine. ", " ",
            "IMR ISSUES, DECISIONS AND RATIONALES ",
            "The Final Determination was based on decisions for the disputed items/services set forth below: ", " ",
            "Sedation (for Lumbar Epidural Steroid Injection, L4-L5, with ",
            "fluoroscopy):  Upheld ", " ",
            "MAXIMUS guideline: Decision based on MTUS.   ", " ",
            "Decision rationale: The request is not medically necessary. ", " ",
        ]
        let facts = try LetterParser.parse(lines.joined(separator: "\n\n"))
        #expect(
            facts.items.map(\.disputed) == ["Sedation (for Lumbar Epidural Steroid Injection, L4-L5, with fluoroscopy)"]
        )
        #expect(facts.reviewerSpecialty == "Physical Medicine and Rehabilitation")
        #expect(facts.caseNumber == nil)
        #expect(facts.decisionDate == nil)
        #expect(facts.priority == nil)
        #expect(facts.warnings.contains { $0.contains("no header block") })
    }

    @Test(arguments: [
        (
            "The physician reviewer is Board Certified in Physical Medicine and Rehabilitation and is licensed to practice in California.",
            "Physical Medicine and Rehabilitation"
        ),
        (
            "The expert reviewer is Board Certified in Internal Medicine, Pulmonary Disease and Critical Care and is\nlicensed to practice in California.",
            "Internal Medicine, Pulmonary Disease and Critical Care"
        ),
        (
            "The expert reviewer is Board Certified in Orthopedic Surgery, has a subspecialty in Spine Surgery.",
            "Orthopedic Surgery"
        ),
    ])
    func specialtyInsideASentence_isTaken(sentence: String, specialty: String) throws {
        let text =
            "HOW THE IMR FINAL DETERMINATION WAS MADE\n\(sentence)\n\nCLINICAL CASE SUMMARY\nSummary.\n"
            + "\(Self.issues)TENS unit: Upheld\n\(Self.body())"
        #expect(try LetterParser.parse(text).reviewerSpecialty == specialty)
    }

    @Test func noSpecialtyAnywhere_isNil_withAWarning() throws {
        let facts = try LetterParser.parse("\(Self.issues)TENS unit: Upheld\n\(Self.body())")
        #expect(facts.reviewerSpecialty == nil)
        #expect(facts.warnings.contains { $0.contains("specialty") })
    }

    @Test func introSentenceWrappedOverTwoLines_isNotPartOfTheFirstHeading() throws {
        let text = """
            IMR ISSUES, DECISIONS AND RATIONALES
            The Final Determination was based on decisions for the disputed items/services set forth
            below:
            MRI of the left hip: Upheld
            \(Self.body())
            """
        #expect(try LetterParser.parse(text).items.map(\.disputed) == ["MRI of the left hip"])
    }

    @Test func tabSeparatedHeader_isRead() throws {
        let text = """
            Case Number:\tCM13-0000001\t\t
            Date Assigned:\t12/27/2013\tDate of Injury:\t03/17/2012
            Decision Date:\t03/07/2014\tUR Denial Date:\t10/18/2013
            Priority:\tExpedited\tApplication Received:\t11/13/2013

            HOW THE IMR FINAL DETERMINATION WAS MADE
            Certification(s)/Specialty: Internal Medicine, Hospice & Palliative Medicine
            \(Self.issues)TENS unit: Upheld
            \(Self.body())
            """
        let facts = try LetterParser.parse(text)
        #expect(facts.caseNumber == "CM13-0000001")
        #expect(facts.dateAssigned == LocalDate(iso: "2013-12-27"))
        #expect(facts.dateOfInjury == LocalDate(iso: "2012-03-17"))
        #expect(facts.decisionDate == LocalDate(iso: "2014-03-07"))
        #expect(facts.urDenialDate == LocalDate(iso: "2013-10-18"))
        #expect(facts.applicationReceived == LocalDate(iso: "2013-11-13"))
        #expect(facts.priority == .expedited)
        #expect(facts.reviewerSpecialty == "Internal Medicine, Hospice & Palliative Medicine")
        #expect(facts.warnings.isEmpty)
    }

    @Test func headerWithLabelsAndValuesInSeparateBlocks_isRead() throws {
        let text = """
            Case Number:
            Date Assigned:
            Decision Date:
            Priority:

            CM16-0000002
            11/09/2016
            12/09/2016
            Standard

            Date of Injury:
            UR Denial Date:
            Application
            Received:

            10/13/2016
            11/03/2016
            11/04/2016

            HOW THE IMR FINAL DETERMINATION WAS MADE
            \(Self.issues)TENS unit: Upheld
            \(Self.body())
            """
        let facts = try LetterParser.parse(text)
        #expect(facts.caseNumber == "CM16-0000002")
        #expect(facts.dateAssigned == LocalDate(iso: "2016-11-09"))
        #expect(facts.decisionDate == LocalDate(iso: "2016-12-09"))
        #expect(facts.dateOfInjury == LocalDate(iso: "2016-10-13"))
        #expect(facts.urDenialDate == LocalDate(iso: "2016-11-03"))
        #expect(facts.applicationReceived == LocalDate(iso: "2016-11-04"))
        #expect(facts.priority == .standard)
    }

    @Test func headerWithARedactedDate_leavesOnlyThatDateNil() throws {
        let text = """
            Case Number:          CM16-0000003
            Date Assigned:        11/09/2016                      Date of Injury:
            Decision Date:        12/09/2016                      UR Denial Date:      11/03/2016
            Priority:             Standard                        Application          11/03/2016
                                                                  Received:

            HOW THE IMR FINAL DETERMINATION WAS MADE
            \(Self.issues)TENS unit: Upheld
            \(Self.body())
            """
        let facts = try LetterParser.parse(text)
        #expect(facts.dateOfInjury == nil)
        #expect(facts.dateAssigned == LocalDate(iso: "2016-11-09"))
        #expect(facts.decisionDate == LocalDate(iso: "2016-12-09"))
        #expect(facts.urDenialDate == LocalDate(iso: "2016-11-03"))
        #expect(facts.applicationReceived == LocalDate(iso: "2016-11-03"))
        #expect(facts.warnings.contains { $0.contains("Date of Injury") })
    }

    // MARK: Dry-run JSON

    @Test func dryRunJSON_hasExactlyTheAgreedKeys_withExplicitNulls() throws {
        let facts = try LetterParser.parse("\(Self.issues)TENS unit: Upheld\n\(Self.body())")
        let data = try JSONEncoder().encode(facts.dryRunRecord(file: "letter.pdf"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(
            Set(object.keys) == [
                "file", "case_number", "date_assigned", "date_of_injury", "decision_date", "ur_denial_date",
                "application_received", "priority", "reviewer_specialty", "items", "warnings", "ocr",
            ]
        )
        #expect(object["case_number"] is NSNull)
        #expect(object["ocr"] is NSNull)
        #expect(object["priority"] is NSNull)
        let items = try #require(object["items"] as? [[String: Any]])
        #expect(Set(items[0].keys) == ["disputed", "decision", "original_request", "authorized_portion", "guideline"])
        #expect(items[0]["authorized_portion"] is NSNull)
        #expect(items[0]["decision"] as? String == "upheld")
        #expect(String(decoding: data, as: UTF8.self).contains("\"case_number\":null"))

        let dictionary = facts.dryRunJSON(file: "letter.pdf")
        #expect(Set(dictionary.keys) == Set(object.keys))
        #expect(dictionary["date_assigned"] is NSNull)
        #expect(JSONSerialization.isValidJSONObject(dictionary))
    }
}
