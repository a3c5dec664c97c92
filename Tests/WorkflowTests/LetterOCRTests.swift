import Foundation
import Testing
@testable import Workflow

/// What OCR does to a letter, one kind of damage per test (issue 17): the parser corrects what
/// the known shapes allow, with a warning naming the fact, and guesses nothing else.
@Suite struct LetterOCRTests {
    /// A clean letter as Tesseract would give it (no layout columns), with parts to damage.
    static func letter(
        caseNumber: String = "CM16-0229336",
        assigned: String = "12/05/2016",
        decided: String = "12/30/2016",
        headings: String = "MRI of the right knee: Upheld",
        guidelines: Int = 1
    ) -> String {
        let body = """
            Claims Administrator guideline: Decision based on MTUS ACOEM.
            MAXIMUS guideline: Decision based on MTUS Knee Complaints.
            Decision rationale: The guidelines do not support it. Therefore, the request is not medically necessary.

            """
        let extra = String(repeating: body, count: max(0, guidelines - 1))
        return """
            MAXIMUS
            Federal Services
            Case Number: \(caseNumber)
            Date Assigned: \(assigned) Date of Injury: 10/20/2016
            Decision Date: \(decided) UR Denial Date: 10/28/2016
            Priority: Standard Application 11/28/2016
            Received:

            HOW THE IMR FINAL DETERMINATION WAS MADE
            The Expert Reviewer has the following credentials:
            Certification(s)/Specialty: Orthopedic Surgery

            IMR ISSUES, DECISIONS AND RATIONALES
            The Final Determination was based on decisions for the disputed items/services set forth below:

            \(headings)

            \(body)\(extra)
            """
    }

    /// Every word read at `confidence`, unless `low` names it.
    static func reading(_ text: String, confidence: Double = 95, low: [String: Double] = [:]) -> OCRReading {
        let words = text.split(whereSeparator: { $0.isWhitespace }).map { word in
            OCRWord(text: String(word), confidence: low[String(word)] ?? confidence)
        }
        return OCRReading(text: text, engine: "tesseract 5.3.0", pages: [1], words: words)
    }

    @Test func aCleanReadingGivesTheFactsWithoutOCRWarnings() throws {
        let facts = try LetterParser.parse(Self.reading(Self.letter()))
        #expect(facts.caseNumber == "CM16-0229336")
        #expect(facts.decisionDate == LocalDate(year: 2016, month: 12, day: 30))
        #expect(facts.items.map(\.disputed) == ["MRI of the right knee"])
        #expect(facts.warnings.filter { $0.contains("OCR") }.isEmpty, "\(facts.warnings)")
        let ocr = try #require(facts.ocr)
        #expect(ocr.engine == "tesseract 5.3.0" && ocr.pages == [1] && ocr.confidence == 95)
        #expect(ocr.fieldConfidence["caseNumber"] == 95)
        #expect(ocr.fieldConfidence["item1.disputed"] == 95)
    }

    @Test func lettersForDigitsInTheCaseNumberAreCorrectedWithAWarning() throws {
        for read in ["CMl6-O229336", "CMI6-0229336", "CM1-6-0229336", "OM16-0229336", "CMI6-o229336", "©M16-0229336"] {
            let facts = try LetterParser.parse(Self.reading(Self.letter(caseNumber: read)))
            #expect(facts.caseNumber == "CM16-0229336", "\(read)")
            if read != "CM1-6-0229336" {
                #expect(
                    facts.warnings.contains { $0.contains("Case Number") && $0.contains(read) },
                    "\(facts.warnings)"
                )
            }
        }
    }

    @Test func aCaseNumberOfAnotherShapeIsNotGuessed_andTheLetterCannotBeImported() throws {
        let facts = try LetterParser.parse(Self.reading(Self.letter(caseNumber: "CM16-02293")))
        #expect(facts.caseNumber == nil)
        #expect(facts.warnings.contains { $0.contains("Case Number") })
        #expect(LetterImport.missingFacts(facts).contains("no IMR case number"))
    }

    @Test func lettersForDigitsInADateAreCorrectedWithAWarningNamingTheDate() throws {
        let facts = try LetterParser.parse(Self.reading(Self.letter(decided: "l2/3O/2016")))
        #expect(facts.decisionDate == LocalDate(year: 2016, month: 12, day: 30))
        #expect(facts.warnings.contains { $0.contains("Decision Date") && $0.contains("l2/3O/2016") })
        let spaced = try LetterParser.parse(Self.reading(Self.letter(assigned: "1 2/05/201 6")))
        #expect(spaced.dateAssigned == LocalDate(year: 2016, month: 12, day: 5))
    }

    @Test func aDateThatDoesNotExistIsLeftOut_andTheLetterIsRefused() throws {
        let facts = try LetterParser.parse(Self.reading(Self.letter(decided: "02/30/2017")))
        #expect(facts.decisionDate == nil)
        #expect(facts.warnings.contains { $0.contains("Decision Date") && $0.contains("not a real date") })
        #expect(LetterImport.missingFacts(facts) == ["no decision date"])
    }

    @Test func datesOutOfOrderAreAWarningNamingBoth() throws {
        // 12/30 misread as 10/30: before the date assigned.
        let facts = try LetterParser.parse(Self.reading(Self.letter(decided: "10/30/2016")))
        #expect(facts.warnings.contains { $0.contains("Date Assigned") && $0.contains("Decision Date") })
    }

    @Test func aDecisionWordALetterOrTwoAwayIsTakenWithAWarning_anotherWordIsNot() throws {
        let facts = try LetterParser.parse(Self.reading(Self.letter(headings: "MRI of the right knee: Overtumed")))
        #expect(facts.items.first?.decision == .overturned)
        #expect(facts.warnings.contains { $0.contains("decision of item 1") && $0.contains("Overtumed") })
        #expect(throws: LetterParseError.notADetermination) {
            try LetterParser.parse(Self.reading(Self.letter(headings: "MRI of the right knee: Unknown")))
        }
    }

    /// A speck read as "©" after the heading's colon, the decision misread on the next line.
    @Test func aDecisionWrappedAfterASpeckReadAsASign_isTheHeadingsDecision() throws {
        let heading = "Physical therapy three times a week for two weeks for the cervical, thoracic, and lumbar"
        let facts = try LetterParser.parse(Self.reading(Self.letter(headings: "\(heading): ©\nOvertumed")))
        #expect(facts.items.map(\.disputed) == [heading])
        #expect(facts.items.map(\.decision) == [.overturned])
        #expect(facts.warnings.contains { $0.contains("decision of item 1") && $0.contains("Overtumed") })
    }

    @Test func strayMarksAroundHeadingsAndLabelsAreDropped() throws {
        let text = Self.letter(
            caseNumber: "| CM16-0229336_ |",
            headings:
                "‘ MRI of the right knee:. Upheld ‘ .\n\n\" -Ultram (tramadol) 50mg #90; Overturned f 5\n\n− Physical therapy: Upheld",
            guidelines: 3
        ).replacingOccurrences(
            of: "Certification(s)/Specialty: Orthopedic",
            with: "Cettification(sy/Specialty: -Orthopedic"
        )
        let facts = try LetterParser.parse(Self.reading(text))
        #expect(facts.caseNumber == "CM16-0229336")
        #expect(
            facts.items.map(\.disputed) == ["MRI of the right knee", "Ultram (tramadol) 50mg #90", "Physical therapy"]
        )
        #expect(facts.items.map(\.decision) == [.upheld, .overturned, .upheld])
        #expect(facts.reviewerSpecialty == "Orthopedic Surgery")
    }

    @Test func aHeadingBrokenByASpeckReadAsAFullStopStaysOneHeading() throws {
        let heading = """
            The request for Acute inpatient rehabilitation physical therapy .
            . and occupational therapy 7-10 days for left foot fracture: Overturned
            """
        let facts = try LetterParser.parse(Self.reading(Self.letter(headings: heading)))
        #expect(
            facts.items.map(\.disputed) == [
                "The request for Acute inpatient rehabilitation physical therapy and occupational therapy 7-10 days for left foot fracture"
            ]
        )
    }

    @Test func aFactReadWithLowConfidenceIsAWarningNamingIt() throws {
        let facts = try LetterParser.parse(
            Self.reading(Self.letter(), low: ["12/30/2016": 41, "knee:": 52])
        )
        #expect(facts.warnings.contains { $0.contains("Decision Date") && $0.contains("41%") })
        #expect(facts.warnings.contains { $0.contains("disputed text of item 1") && $0.contains("52%") })
        #expect(facts.ocr?.fieldConfidence["decisionDate"] == 41)
        #expect(facts.warnings.allSatisfy { !$0.contains("Case Number") })
    }

    @Test func aDecisionOCRMissedIsAWarning() throws {
        // Two items' blocks, but the second heading's decision is unreadable.
        let facts = try LetterParser.parse(
            Self.reading(Self.letter(headings: "MRI of the right knee: Upheld", guidelines: 2))
        )
        #expect(facts.items.count == 1)
        #expect(facts.warnings.contains { $0.contains("2 disputed items") && $0.contains("only 1") })
    }

    @Test func aMisreadDecisionWordOnALineOfItsOwnIsTakenWithAWarning() throws {
        let facts = try LetterParser.parse(
            Self.reading(Self.letter(headings: "Additional physical therapy for the bilateral knees:\nUpheid ; '"))
        )
        #expect(facts.items.map(\.disputed) == ["Additional physical therapy for the bilateral knees"])
        #expect(facts.items.map(\.decision) == [.upheld])
        #expect(facts.warnings.contains { $0.contains("decision of item 1") && $0.contains("Upheid") })
    }

    @Test func aSecondReadingOfTheHeaderFillsWhatTheFirstMissed_confirmsOrDisagrees() throws {
        var reading = Self.reading(Self.letter(assigned: "12/45/2016", decided: "12/30/2016"), confidence: 60)
        reading.header = """
            Case Number: CM16-0229386
            Date Assigned: 12/05/2016 Date of Injury: 10/20/2016
            Decision Date: 12/30/2016 UR Denial Date: 10/28/2016
            Priority: Standard Application 11/28/2016
            Received:
            """
        let facts = try LetterParser.parse(reading)
        // Missed by the first reading (not a real date): taken from the second, with a warning.
        #expect(facts.dateAssigned == LocalDate(year: 2016, month: 12, day: 5))
        #expect(facts.warnings.contains { $0.contains("Date Assigned") && $0.contains("second OCR reading") })
        #expect(facts.ocr?.fieldConfidence["dateAssigned"] == 0)
        // Disagreement: the first reading's value stays, with a warning.
        #expect(facts.caseNumber == "CM16-0229336")
        #expect(facts.warnings.contains { $0.contains("disagree on the Case Number") })
        // Agreement: no warning for the low confidence (60%) of a date both readings gave.
        #expect(!facts.warnings.contains { $0.contains("Decision Date") }, "\(facts.warnings)")
        #expect(facts.warnings.contains { $0.contains("Date of Injury") } == false)
        // Both readings see the same speck: agreement does not cover a confidence below half.
        var twice = Self.reading(Self.letter(caseNumber: "CM17-0008591"), confidence: 99, low: ["CM17-0008591": 22])
        twice.header = "Case Number: CM17-0008591\nDate Assigned: 12/05/2016"
        let unsure = try LetterParser.parse(twice)
        #expect(unsure.caseNumber == "CM17-0008591")
        #expect(unsure.warnings.contains { $0.contains("Case Number") && $0.contains("22%") }, "\(unsure.warnings)")
    }

    @Test func aSpecialtyWordOutsideTheSpecialtiesIsAWarning() {
        #expect(OCRCleanup.unknownSpecialtyWord("Physical Medicine & Rehabilitation, Pain Management") == nil)
        #expect(OCRCleanup.unknownSpecialtyWord("Anesthesiology, Pairi Management")?.contains("Pairi") == true)
        #expect(OCRCleanup.unknownSpecialtyWord("Physical Medicine & Rehabilitation: Pain Management") != nil)
        #expect(OCRCleanup.unknownSpecialtyWord("Hospice &.Palliative Medicine") != nil)
    }

    @Test func aSpecialtyWordALetterOrTwoOffIsCorrectedWithAWarning() throws {
        for (read, taken) in [
            (
                "Preventive Medicine, Occupational Medicine, Medical Toxicolog",
                "Preventive Medicine, Occupational Medicine, Medical Toxicology"
            ),
            ("Internal Medicine, Hospice d & Palliative Medicine", "Internal Medicine, Hospice & Palliative Medicine"),
            (
                "Physical Medicine .& Rehabilitation, Pain Management",
                "Physical Medicine & Rehabilitation, Pain Management"
            ),
            // A comma lost, or blurred with a speck, between two specialties.
            (
                "Physical Medicine & Rehabilitation Pain Management",
                "Physical Medicine & Rehabilitation, Pain Management"
            ),
            ("Preventive Medicine,.Occupational Medicine", "Preventive Medicine, Occupational Medicine"),
            (
                "Physical Medicine & Rehabilitation, Pediatri¢ Rehabilitation Medicine",
                "Physical Medicine & Rehabilitation, Pediatric Rehabilitation Medicine"
            ),
        ] {
            var facts = LetterFacts(reviewerSpecialty: read)
            OCRCleanup.correctSpecialty(&facts)
            #expect(facts.reviewerSpecialty == taken)
            #expect(facts.warnings.contains { $0.contains("reviewer specialty") && $0.contains(read) })
        }
        for kept in [
            "Physical Medicine & Rehabilitation, Pain Management",
            "Physical Medicine & Rehabilitation, Pediatric Rehabilitation Medicine",
            "Preventive Medicine, Occupational Medicine, Medical Toxicology",
        ] {
            var right = LetterFacts(reviewerSpecialty: kept)
            OCRCleanup.correctSpecialty(&right)
            #expect(right.warnings.isEmpty && right.reviewerSpecialty == kept)
        }
    }

    @Test func aMisreadPriorityLabelAndValueAreCorrectedWithAWarning() throws {
        let text = Self.letter().replacingOccurrences(of: "Priority: Standard", with: "Pnority: Standad")
        let facts = try LetterParser.parse(Self.reading(text))
        #expect(facts.priority == .standard)
        #expect(facts.warnings.contains { $0.contains("Priority") && $0.contains("Standad") })
    }

    @Test func anInvalidCaseNumberLeavesRoomForTheSecondReading() throws {
        var reading = Self.reading(Self.letter(caseNumber: "CM16-02293366"))
        reading.header = "Case Number: CM16-0229336\nDate Assigned: 12/05/2016"
        let facts = try LetterParser.parse(reading)
        #expect(facts.caseNumber == "CM16-0229336")
        #expect(facts.warnings.contains { $0.contains("CM16-02293366") })
        #expect(facts.warnings.contains { $0.contains("second OCR reading") && $0.contains("Case Number") })
    }

    @Test func aHeadingTheRationaleReadsOtherwiseIsAWarning() throws {
        let text = Self.letter(headings: "Daily RN for wound care and medication Management: Overturned")
            .replacingOccurrences(
                of: "The guidelines do not support it.",
                with: "The request for Daily RN for wound care and medication management is supported."
            )
        let facts = try LetterParser.parse(Self.reading(text, confidence: 99))
        #expect(facts.warnings.contains { $0.contains("disputed text of item 1") && $0.contains("elsewhere") })
    }

    /// `letter(headings:)` whose rationale and summary name the items again, as the letters do.
    static func letter(headings: String, alsoSaying sentences: [String], guidelines: Int = 1) -> String {
        letter(headings: headings, guidelines: guidelines).replacingOccurrences(
            of: "The guidelines do not support it.",
            with: sentences.joined(separator: " ")
        )
    }

    @Test func aWordTheLettersOtherReadingsAgreeOnIsTaken_withAWarningNamingTheItem() throws {
        let text = Self.letter(
            headings: "MRI of the cervical spine without coritrast: Upheld",
            alsoSaying: [
                "Utilization review determined MRI of the cervical spine without contrast was not medically necessary.",
                "The request for MRI of the cervical spine without contrast is not supported.",
            ]
        )
        // The misread word with the confidence such words have (a word read at 95 or more is
        // kept: below).
        let facts = try LetterParser.parse(Self.reading(text, confidence: 99, low: ["coritrast:": 62]))
        #expect(facts.items.map(\.disputed) == ["MRI of the cervical spine without contrast"])
        #expect(
            facts.warnings.contains {
                $0.contains("disputed text of item 1") && $0.contains("coritrast") && $0.contains("taken as")
            },
            "\(facts.warnings)"
        )
        #expect(facts.ocr?.fieldConfidence["item1.disputed"] == 0)
    }

    /// The body of a letter is set lighter than its headings: a fax can misread a word of it the
    /// same way every time. A heading's word read at 95% or more is kept against them; a word
    /// read less surely still takes their vote, even from a reading that differs from the
    /// heading in a word read surely.
    @Test func aHeadingsWordReadSurelyIsNotOutvoted_byTheSameMisreadingInTheBody() throws {
        let heading = "Physical, therapy, 2 times a week for 4 weeks, right knee: Overturned"
        let text = Self.letter(
            headings: heading,
            alsoSaying: [
                "The physician requested physical therapy 2 times a weck for 4 wecks, right knee.",
                "The request for physical therapy, 2 times a weck for 4 wocks, right knee is medically necessary.",
            ]
        )
        let low = ["weck": 86.0, "wecks,": 72, "wocks,": 69, "Physical,": 79]
        let facts = try LetterParser.parse(Self.reading(text, confidence: 97, low: low))
        #expect(facts.items.map(\.disputed) == ["Physical therapy, 2 times a week for 4 weeks, right knee"])
        #expect(
            facts.warnings.contains {
                $0.contains("disputed text of item 1") && $0.contains("Physical, therapy") && $0.contains("taken as")
            },
            "\(facts.warnings)"
        )
        // Read less surely, the heading's "week" goes with the body's two readings.
        let unsure = try LetterParser.parse(
            Self.reading(text, confidence: 97, low: low.merging(["week": 90]) { a, _ in a })
        )
        #expect(unsure.items.map(\.disputed) == ["Physical therapy, 2 times a weck for 4 weeks, right knee"])
        // Nor does a word the letter uses more often replace a word read surely.
        #expect(
            OCRCleanup.LettersWords(counts: ["wocks": 3, "weeks": 1]).apply(to: "4 weeks", sure: ["weeks"]) == "4 weeks"
        )
        #expect(OCRCleanup.LettersWords(counts: ["wocks": 3, "weeks": 1]).apply(to: "4 weeks") == "4 wocks")
    }

    @Test func aMarkOneReadingHasBetweenWords_andAnotherHasNot_isASpeck() throws {
        let text = Self.letter(
            headings: "Physical therapy to the lumbar spine 2 times,a week for 2, weeks (4): Upheld",
            alsoSaying: [
                "The request for Physical therapy to the lumbar spine 2 times a week for 2 weeks (4) is not supported."
            ]
        )
        let facts = try LetterParser.parse(Self.reading(text, confidence: 99, low: ["times,a": 71, "2,": 80]))
        #expect(facts.items.map(\.disputed) == ["Physical therapy to the lumbar spine 2 times a week for 2 weeks (4)"])
        #expect(facts.warnings.contains { $0.contains("disputed text of item 1") && $0.contains("taken as") })
    }

    @Test func marksEnglishDoesNotWriteBetweenWordsAreTakenOut_whereTheLetterNamesTheItemOnce() throws {
        let cases = [
            "Norco 5/325mg oral tablet, one.tablet twice daily 14-days #40":
                "Norco 5/325mg oral tablet, one tablet twice daily 14 days #40",
            "Left'L5-S1 epidural steroid injection": "Left L5-S1 epidural steroid injection",
            "Right.L5-S1 epidural steroid injection": "Right L5-S1 epidural steroid injection",
            "Anecream ¢ream 4% #30": "Anecream cream 4% #30",
            "Diclofenac sodium 3% 300mg¢/g #1": "Diclofenac sodium 3% 300mg/g #1",
            "Cyclobenzaprine 5mg tab #30 DOS: 11/ 14/16": "Cyclobenzaprine 5mg tab #30 DOS: 11/14/16",
            "Injection of Icc of lidocaine Ipercent'": "Injection of 1cc of lidocaine 1percent",
            "Injection of icc of lidocaine [percent'and dexamethasone":
                "Injection of 1cc of lidocaine 1percent and dexamethasone",
            "Right LS-S1 and L4-LS facet injection": "Right L5-S1 and L4-L5 facet injection",
            "Cyclobenzaprine Smg tab #30": "Cyclobenzaprine 5mg tab #30",
            "Retrospective Cyclobenzaprine-5mg tab #30": "Retrospective Cyclobenzaprine 5mg tab #30",
            "MR] without contrast of the right elbow": "MRI without contrast of the right elbow",
            "Diclofenac sodium 3% 300me/g #1": "Diclofenac sodium 3% 300mg/g #1",
            "Diclofenac sodium 3% 300mgj/g #1": "Diclofenac sodium 3% 300mg/g #1",
            "Lidocaine {percent": "Lidocaine 1percent",
            "Norco s/325mg oral tablet": "Norco 5/325mg oral tablet",
        ]
        for (read, taken) in cases {
            let facts = try LetterParser.parse(Self.reading(Self.letter(headings: "\(read): Upheld"), confidence: 99))
            #expect(facts.items.map(\.disputed) == [taken])
            #expect(
                facts.warnings.contains { $0.contains("disputed text of item 1") && $0.contains("speck") },
                "\(read)"
            )
        }
        // A mark left before the first word (a heading joined to the line above it).
        #expect(OCRCleanup.withoutStraySeparators("- Physical therapy 6 sessions") == "Physical therapy 6 sessions")
        #expect(OCRCleanup.withoutStraySeparators("i aii Physical therapy") == "Physical therapy")
        // What English writes there stays.
        for kept in [
            "Naproxen 500mg b.i.d. #60", "Physical therapy, 6 sessions, cervical and thoracic spine",
            "Acute inpatient rehabilitation 7-10 days", "Tramadol 3-day supply", "Patient's home health aide",
            "Ibuprofen 800mg #60", "Lidocaine 5% patch #1", "U.S. Physical Therapy evaluation",
            "Workers' gym membership", "Lidocaine 5mg/ml solution", "Fentanyl 25mcg/hr patch #10",
        ] {
            let facts = try LetterParser.parse(Self.reading(Self.letter(headings: "\(kept): Upheld"), confidence: 99))
            #expect(facts.items.map(\.disputed) == [kept])
            #expect(!facts.warnings.contains { $0.contains("taken as") }, "\(facts.warnings)")
        }
    }

    @Test func aWordTheLetterHasNowhereElse_oneOCRConfusionFromAWordItUsesOften_isTakenAsThatWord() throws {
        let text = Self.letter(
            headings: "Physical therapy evaluation, cervical and thoracic spirie: Upheld",
            alsoSaying: [
                "The patient has pain of the cervical spine and the thoracic spine.",
                "An MRI of the spine showed no fracture.",
                "Physical therapy sessions for the cervical spine were approved.",
            ]
        )
        let facts = try LetterParser.parse(Self.reading(text, confidence: 99, low: ["spirie:": 58]))
        #expect(facts.items.map(\.disputed) == ["Physical therapy evaluation, cervical and thoracic spine"])
        #expect(facts.warnings.contains { $0.contains("disputed text of item 1") && $0.contains("nowhere else") })
        // A plural the letter uses in the singular is its own word; so is a word it uses twice.
        let plural = Self.letter(
            headings: "Physical therapy evaluations: Upheld",
            alsoSaying: ["One evaluation. Another evaluation. A third evaluation."]
        )
        #expect(
            try LetterParser.parse(Self.reading(plural, confidence: 99)).items.map(\.disputed) == [
                "Physical therapy evaluations"
            ]
        )
        #expect(OCRCleanup.withLettersWords("thoracic spirie", counts: ["spine": 3, "spirie": 1]) == "thoracic spine")
        #expect(OCRCleanup.withLettersWords("thoracic spirie", counts: ["spine": 1, "spirie": 1]) == "thoracic spirie")
        #expect(OCRCleanup.withLettersWords("thoracic spirie", counts: ["spine": 3, "spirie": 2]) == "thoracic spirie")
    }

    @Test func aSpeckReadAsALetter_orAFragmentOfTheNextWord_isDropped() throws {
        // Read as a word in the heading, not at all in the rationale and the summary.
        let text = Self.letter(
            headings: "Lumbar epidural steroid injection v with pain consult: Upheld",
            alsoSaying: [
                "Utilization review denied the lumbar epidural steroid injection with pain consult.",
                "The request for lumbar epidural steroid injection with pain consult is not supported.",
            ]
        )
        let facts = try LetterParser.parse(Self.reading(text, confidence: 99, low: ["v": 40]))
        #expect(facts.items.map(\.disputed) == ["Lumbar epidural steroid injection with pain consult"])
        let fragment = try LetterParser.parse(
            Self.reading(
                Self.letter(headings: "Two physical therapy se sessions for the lumbar: Upheld"),
                confidence: 99
            )
        )
        #expect(fragment.items.map(\.disputed) == ["Two physical therapy sessions for the lumbar"])
        #expect(fragment.warnings.contains { $0.contains("disputed text of item 1") && $0.contains("taken as") })
    }

    @Test func theSectionHeadingAndItsIntroductionReadWithAnErrorStillStartTheItems() throws {
        let text = Self.letter(headings: "Additional physical therapy for the lumbar;\nUpheld")
            .replacingOccurrences(of: "IMR ISSUES, DECISIONS", with: "IMR TISSUES, DECISIONS")
            .replacingOccurrences(of: "set forth below:", with: "set forth. below:")
        let facts = try LetterParser.parse(Self.reading(text, confidence: 99))
        #expect(facts.items.map(\.disputed) == ["Additional physical therapy for the lumbar"])
        #expect(facts.items.map(\.decision) == [.upheld])
        #expect(!facts.warnings.contains { $0.contains("no \"IMR ISSUES") }, "\(facts.warnings)")
    }

    @Test func aHeadingBrokenAfterAWordNoSentenceEndsWith_staysOneHeading_andOneStartingInLowerCaseIsAWarning() throws {
        let broken = try LetterParser.parse(
            Self.reading(
                Self.letter(headings: "Retrospective injection of dexamethasone 120mg to.\nthe right knee: Overturned"),
                confidence: 99
            )
        )
        #expect(broken.items.map(\.disputed) == ["Retrospective injection of dexamethasone 120mg to the right knee"])
        let lower = try LetterParser.parse(
            Self.reading(Self.letter(headings: "Retrospective injection.\nthe right knee: Overturned"), confidence: 99)
        )
        #expect(lower.items.map(\.disputed) == ["the right knee"])
        #expect(lower.warnings.contains { $0.contains("disputed text of item 1") && $0.contains("lower-case") })
    }

    /// CM16-0229336 as a fax reads on tesseract 5.3.0: a speck read as a full stop and a
    /// paragraph break inside the first sentence of a partial-certification heading, a mark
    /// standing alone between two words, and the decision misread on the heading's last line.
    @Test func aPartialHeadingBrokenByOCR_readsInItsKnownShape_andItsMisreadDecisionIsNamed() throws {
        let heading = """
            Acute inpatient rehabilitation physical therapy and occupational therapy 7-10 days for left.

            foot fracture was the original request. The Claims Administrator authorized Skilled —
            nursing facility for 7 days with PT/OT once a day for left foot fracture, leaving the original
            request IMR eligible. The » original request, Acute inpatient rehabilitation physical therapy
            and occupational therapy 7-10 days for left foot fracture is: Overtumed
            """
        let facts = try LetterParser.parse(Self.reading(Self.letter(headings: heading), confidence: 99))
        let disputed =
            "Acute inpatient rehabilitation physical therapy and occupational therapy 7-10 days for left foot fracture"
        #expect(facts.items.map(\.disputed) == [disputed])
        #expect(facts.items.first?.originalRequest == disputed)
        #expect(
            facts.items.first?.authorizedPortion
                == "Skilled nursing facility for 7 days with PT/OT once a day for left foot fracture"
        )
        #expect(facts.items.map(\.decision) == [.overturned])
        #expect(!facts.warnings.contains { $0.contains("unfamiliar shape") }, "\(facts.warnings)")
        #expect(facts.warnings.contains { $0.contains("decision of item 1") && $0.contains("Overtumed") })
        #expect(facts.ocr?.fieldConfidence["item1.decision"] == 0)
    }

    @Test func aMarkStandingAloneBetweenWordsIsASpeck_aDashIsNot() {
        var corrections = OCRCleanup.Corrections()
        let cleaned = OCRCleanup.clean("The » original ‘ request - Physical therapy", corrections: &corrections)
        #expect(cleaned == "The original request - Physical therapy")
    }

    @Test func aLineGoingOnInLowerCase_afterAFullStopOrABlankLine_continuesTheLineBefore_whenTheLetterHasThePhrase() {
        var lines = [
            "pain in the left foot.", "", "Therapy for left.", "", "foot fracture.", "x-ray of the right.", "knee",
        ]
        OCRCleanup.rejoinBrokenSentences(&lines, from: 0)
        #expect(
            lines == [
                "pain in the left foot.", "", "Therapy for left", "foot fracture.", "x-ray of the right.", "knee",
            ]
        )
    }

    @Test func anotherItemsPhrase_orTheSameWordsInLowerCase_areNotAnotherReading() throws {
        let text = Self.letter(
            headings: """
                Physical therapy 2 times a week for 2 weeks (4): Upheld

                MR Arthrogram of the right shoulder: Upheld
                """,
            alsoSaying: [
                "The UR approved Physical therapy 2 times a week for 3 weeks (6).",
                "Physical therapy 2 times a week for 3 weeks (6) was the original request.",
                "The request for MR arthrogram of the right shoulder is not supported.",
                "An MR arthrogram of the right shoulder was requested.",
            ],
            guidelines: 2
        )
        let facts = try LetterParser.parse(Self.reading(text, confidence: 99))
        #expect(
            facts.items.map(\.disputed) == [
                "Physical therapy 2 times a week for 2 weeks (4)", "MR Arthrogram of the right shoulder",
            ]
        )
        #expect(!facts.warnings.contains { $0.contains("taken as") }, "\(facts.warnings)")
    }

    @Test func nearestDecisionNeedsOneWordOfTheVocabularyWithinTwoEdits() {
        #expect(OCRCleanup.nearestDecision("Overtumed") == "Overturned")
        #expect(OCRCleanup.nearestDecision("Uphe1d") == "Upheld")
        #expect(OCRCleanup.nearestDecision("Uplield") == "Upheld")
        // As OCR sees letters: "rn" read "m", then a letter more or another.
        #expect(OCRCleanup.nearestDecision("Overtiumed") == "Overturned")
        #expect(OCRCleanup.nearestDecision("Overtimed") == "Overturned")
        #expect(OCRCleanup.nearestDecision("Upheld") == nil)  // not a correction
        #expect(OCRCleanup.nearestDecision("Unheard") == nil)
        #expect(OCRCleanup.nearestDecision("Standard") == nil)
    }
}

extension LetterOCRTests {
    @Test func aFactWithTheShapeOfAnOCRErrorIsAWarning() throws {
        #expect(OCRCleanup.oddShape("MRI of the right knee") == nil)
        #expect(OCRCleanup.oddShape("Lumbar ESI L4-L5, 7-10 days, 5% #30 (2/day)") == nil)
        #expect(OCRCleanup.oddShape("Physical Medicine & Rehabilitation") == nil)
        #expect(OCRCleanup.oddShape("Daily RN for-4 weeks") == "a hyphen out of place")
        #expect(OCRCleanup.oddShape("Tabradol- (unknown quantity)") == "a hyphen out of place")
        #expect(OCRCleanup.oddShape("Hospital bed for.an unspecified rental") == "a full stop inside it")
        #expect(OCRCleanup.oddShape("Family Practice, + Sports Medicine") == "a stray mark")
        #expect(OCRCleanup.oddShape("Pediatri¢ Rehabilitation") == "a character the letters do not use")
        let facts = try LetterParser.parse(Self.reading(Self.letter(headings: "MARS MRI scan f.or hip: Upheld")))
        #expect(facts.warnings.contains { $0.contains("disputed text of item 1") && $0.contains("full stop") })
        // A full stop between two words (not b.i.d.) is a speck: taken out, with a warning.
        let joined = try LetterParser.parse(Self.reading(Self.letter(headings: "MARS MRI scan for.an hip: Upheld")))
        #expect(joined.items.first?.disputed == "MARS MRI scan for an hip")
        #expect(joined.warnings.contains { $0.contains("disputed text of item 1") && $0.contains("speck") })
    }

    @Test func aHeadingReadOnceNeedsHigherConfidenceThanOneTheLetterRepeats() throws {
        // 90%: enough for a heading the rationale repeats word for word, not for one read once.
        let once = try LetterParser.parse(Self.reading(Self.letter(), confidence: 90))
        #expect(once.warnings.contains { $0.contains("disputed text of item 1") })
        let repeated = Self.letter().replacingOccurrences(
            of: "The guidelines do not support it.",
            with: "The guidelines do not support MRI of the right knee."
        )
        let twice = try LetterParser.parse(Self.reading(repeated, confidence: 90))
        #expect(!twice.warnings.contains { $0.contains("disputed text of item 1") }, "\(twice.warnings)")
    }
}
