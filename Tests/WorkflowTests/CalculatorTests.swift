import Foundation
import Testing
import PropertyBased
@testable import Workflow

@Suite struct CalculatorTests {
    let calculator = DeadlineCalculator()

    static func day(_ iso: String) -> LocalDate { LocalDate(iso: iso)! }
    static func at(_ iso: String, _ hour: Int, _ minute: Int) -> Date {
        Pacific.instant(day(iso), hour: hour, minute: minute)
    }

    // MARK: Hour rules are exact instants, across daylight-saving changes

    @Test func expeditedUR_is72ClockHours_acrossSpringForward() throws {
        // DST began Sun 2024-03-10: 10:00 PST Friday + 72 h = 11:00 PDT Monday.
        let start = Self.at("2024-03-08", 10, 0)
        let deadline = try calculator.deadline(.urDecisionExpedited, from: start)
        #expect(deadline.due.timeIntervalSince(start) == 72 * 3600)
        #expect(deadline.isExactInstant)
        #expect(Pacific.rfc3339(deadline.due) == "2024-03-11T11:00:00-07:00")
        #expect(deadline.explanation.contains { $0.contains("daylight-saving") })
        #expect(deadline.calendar == nil)
    }

    @Test func physicianNotice_is24ClockHours_acrossFallBack() throws {
        // DST ended Sun 2024-11-03: 12:00 PDT Saturday + 24 h = 11:00 PST Sunday.
        let start = Self.at("2024-11-02", 12, 0)
        let deadline = try calculator.deadline(.urNoticePhysician, from: start)
        #expect(deadline.due.timeIntervalSince(start) == 24 * 3600)
        #expect(Pacific.rfc3339(deadline.due) == "2024-11-03T11:00:00-08:00")
    }

    @Test func expeditedRecords_are24ClockHours() throws {
        let start = Self.at("2024-03-09", 20, 15)
        let deadline = try calculator.deadline(.imrRecords, from: start, options: DeadlineOptions(expedited: true))
        #expect(deadline.due.timeIntervalSince(start) == 24 * 3600)
        #expect(Pacific.rfc3339(deadline.due) == "2024-03-10T21:15:00-07:00")
    }

    @Test func hourRulesAreExactForAnyInstant() async {
        let first = Self.at("2013-01-01", 0, 0).timeIntervalSince1970
        let last = Self.at("2035-12-31", 0, 0).timeIntervalSince1970
        await propertyCheck(count: 200, input: Gen.int(in: Int(first)...Int(last))) { seconds in
            let start = Date(timeIntervalSince1970: TimeInterval(seconds))
            let expedited = try self.calculator.deadline(.urDecisionExpedited, from: start)
            #expect(expedited.due.timeIntervalSince(start) == 72 * 3600)
            let physician = try self.calculator.deadline(.urNoticePhysician, from: start)
            #expect(physician.due.timeIntervalSince(start) == 24 * 3600)
        }
    }

    // MARK: Day rules

    @Test func dayDeadlinesEndAt235959Pacific() throws {
        let deadline = try calculator.deadline(.urDeferral, from: Self.at("2024-07-01", 9, 0))
        // Mon 2024-07-01 + 5 calhr business days skips Thu 4 July: Tue 2024-07-09.
        #expect(deadline.dueDate == Self.day("2024-07-09"))
        #expect(deadline.summary.due == "2024-07-09T23:59:59-07:00")
        #expect(deadline.calendar == .calhr)
        #expect(deadline.explanation.contains("skipped Thu 2024-07-04 (Independence Day)"))
        #expect(deadline.explanation.contains("skipped Sat 2024-07-06 and Sun 2024-07-07 (weekend)"))
        #expect(deadline.explanation.contains { $0.hasPrefix("calendar: calhr") })
    }

    @Test func prospective_cappedAt14DaysAfterTheTreatmentRecommendation() throws {
        // Received Mon 2024-03-04 -> 5 business days is Mon 2024-03-11; a recommendation on
        // 2024-02-25 caps it at Sun 2024-03-10 (no roll-over: the earlier date wins).
        let capped = try calculator.deadline(
            .urDecisionProspective,
            from: Self.day("2024-03-04"),
            options: DeadlineOptions(treatmentRecommendationDate: Self.day("2024-02-25"))
        )
        #expect(capped.dueDate == Self.day("2024-03-10"))
        #expect(capped.explanation.contains { $0.contains("the 14-day limit wins") })
        let notCapped = try calculator.deadline(
            .urDecisionProspective,
            from: Self.day("2024-03-04"),
            options: DeadlineOptions(treatmentRecommendationDate: Self.day("2024-03-01"))
        )
        #expect(notCapped.dueDate == Self.day("2024-03-11"))
        #expect(notCapped.explanation.contains { $0.contains("the 5 business days win") })
        // A recommendation so old that the limit passed before receipt: the limit still wins, and the explanation says so.
        let stale = try calculator.deadline(
            .urDecisionProspective,
            from: Self.day("2024-03-04"),
            options: DeadlineOptions(treatmentRecommendationDate: Self.day("2024-02-01"))
        )
        #expect(stale.dueDate == Self.day("2024-02-15"))
        #expect(stale.explanation.contains { $0.contains("already passed") })
        #expect(stale.assumptions.contains { $0.hasPrefix("LC 4610(i)(1) read literally") })
        let unknown = try calculator.deadline(.urDecisionProspective, from: Self.day("2024-03-04"))
        #expect(unknown.assumptions.contains { $0.hasPrefix("treatment recommendation date not given") })
    }

    @Test func prospective_informationRequested_is14CalendarDaysFromReceipt() throws {
        let deadline = try calculator.deadline(
            .urDecisionProspective,
            from: Self.day("2024-03-04"),
            options: DeadlineOptions(informationRequested: true)
        )
        #expect(deadline.dueDate == Self.day("2024-03-18"))
    }

    @Test func prospective_variantsForExpeditedAndRetrospective() throws {
        let expedited = try calculator.deadline(
            .urDecisionProspective,
            from: Self.at("2024-03-08", 10, 0),
            options: DeadlineOptions(expedited: true)
        )
        #expect(Pacific.rfc3339(expedited.due) == "2024-03-11T11:00:00-07:00")
        // Retrospective: 30 calendar days from Thu 2024-10-17 is Sat 2024-11-16 -> Mon 11-18.
        let retro = try calculator.deadline(
            .urDecisionProspective,
            from: Self.day("2024-10-17"),
            options: DeadlineOptions(review: .retrospective)
        )
        #expect(retro.dueDate == Self.day("2024-11-18"))
        #expect(
            try calculator.deadline(.urDecisionRetrospective, from: Self.day("2024-10-17")).dueDate
                == Self.day("2024-11-18")
        )
    }

    @Test func expeditedFaxAfterHours_isNotMovedToTheNextBusinessDay() throws {
        let faxed = Self.at("2015-04-17", 18, 18)
        let deadline = try calculator.deadline(
            .urDecisionExpedited,
            from: faxed,
            options: DeadlineOptions(expedited: true, transmission: .fax)
        )
        #expect(deadline.due.timeIntervalSince(faxed) == 72 * 3600)
        // The rule id alone says the review is expedited.
        let byRule = try calculator.deadline(
            .urDecisionExpedited,
            from: faxed,
            options: DeadlineOptions(transmission: .fax)
        )
        #expect(byRule.due == deadline.due)
        #expect(byRule.explanation.contains { $0.contains("after-hours rule does not apply") })
        let concurrent = try calculator.deadline(
            .rfaDeemedReceipt,
            from: faxed,
            options: DeadlineOptions(review: .concurrent, transmission: .fax)
        )
        #expect(concurrent.dueDate == Self.day("2015-04-17"))
    }

    @Test func mailedRFA_deemedReceived5BusinessDaysAfterDeposit_withAssumption() throws {
        // Deposited Wed 2024-11-27: skips Thanksgiving, the day after and the weekend -> Fri 2024-12-06.
        let receipt = try calculator.deadline(
            .rfaDeemedReceipt,
            from: Self.day("2024-11-27"),
            options: DeadlineOptions(service: .mail)
        )
        #expect(receipt.dueDate == Self.day("2024-12-06"))
        #expect(receipt.explanation.contains("skipped Thu 2024-11-28 (Thanksgiving Day)"))
        #expect(receipt.explanation.contains("skipped Fri 2024-11-29 (Day after Thanksgiving)"))
        #expect(receipt.assumptions.contains { $0.contains("5 business days after deposit") })
    }

    @Test func faxOnAHolidayCountsNextBusinessDay_stampWins() throws {
        // Faxed on Cesar Chavez Day (observed) Mon 2024-04-01 at 09:00 -> received Tue 2024-04-02.
        let holiday = try calculator.deadline(
            .rfaDeemedReceipt,
            from: Self.at("2024-04-01", 9, 0),
            options: DeadlineOptions(transmission: .fax)
        )
        #expect(holiday.dueDate == Self.day("2024-04-02"))
        #expect(holiday.explanation.contains { $0.contains("Cesar Chavez Day (observed)") })
        let stamped = try calculator.deadline(
            .rfaDeemedReceipt,
            from: Self.at("2024-04-01", 9, 0),
            options: DeadlineOptions(transmission: .fax, receivingDateStamp: Self.day("2024-04-03"))
        )
        #expect(stamped.dueDate == Self.day("2024-04-03"))
    }

    @Test func urCalendarSwitchesOn2020_01_01() throws {
        // The day after Thanksgiving 2019 is a working day on ur-pre2020: from Wed 2019-11-27,
        // Thu 28 (Thanksgiving) is skipped, Fri 29 counts, the weekend is skipped, Mon 2 December counts.
        let pre = try calculator.deadline(.urNoticeWritten, from: Self.day("2019-11-27"))
        #expect(pre.dueDate == Self.day("2019-12-02"))
        #expect(pre.calendar == .urPre2020)
        // The same dates in 2020 on calhr: Wed 2020-11-25 + 2 skips Thu and Fri -> Tue 2020-12-01.
        let post = try calculator.deadline(.urNoticeWritten, from: Self.day("2020-11-25"))
        #expect(post.dueDate == Self.day("2020-12-01"))
        #expect(post.calendar == .calhr)
        #expect(post.assumptions.contains { $0.contains("2 business days") })
    }

    @Test func writtenNotice_concurrentIs24Hours() throws {
        let decided = Self.at("2024-05-01", 16, 0)
        let deadline = try calculator.deadline(
            .urNoticeWritten,
            from: decided,
            options: DeadlineOptions(review: .concurrent)
        )
        #expect(deadline.due == Self.at("2024-05-02", 16, 0))
    }

    @Test func imrRecords_mailed15_electronic12_withRollOver() throws {
        // Notice mailed Fri 2024-10-18: +15 = Sat 2024-11-02 -> Mon 2024-11-04.
        let mailed = try calculator.deadline(
            .imrRecords,
            from: Self.day("2024-10-18"),
            options: DeadlineOptions(noticeSentElectronically: false)
        )
        #expect(mailed.dueDate == Self.day("2024-11-04"))
        #expect(mailed.explanation.contains("skipped Sat 2024-11-02 and Sun 2024-11-03 (weekend)"))
        // Electronic: +12 = Wed 2024-10-30.
        let electronic = try calculator.deadline(
            .imrRecords,
            from: Self.day("2024-10-18"),
            options: DeadlineOptions(service: .email)
        )
        #expect(electronic.dueDate == Self.day("2024-10-30"))
        let unknown = try calculator.deadline(.imrRecords, from: Self.day("2024-10-18"))
        #expect(unknown.assumptions.contains { $0.contains("assumed mailed") })
    }

    @Test func rollOverSkipsNamedHolidays() throws {
        // Personal service (no extension) on Sat 2024-10-12: +30 = Mon 2024-11-11, Veterans Day
        // -> Tue 2024-11-12.
        let deadline = try calculator.deadline(
            .imrApplication,
            from: Self.day("2024-10-12"),
            options: DeadlineOptions(service: .personal)
        )
        #expect(deadline.dueDate == Self.day("2024-11-12"))
        #expect(deadline.explanation.contains("skipped Mon 2024-11-11 (Veterans Day)"))
    }

    @Test func electronicServiceOfAUR_decisionGetsNoExtension_andSaysSo() throws {
        let deadline = try calculator.deadline(
            .imrApplication,
            from: Self.day("2024-10-09"),
            options: DeadlineOptions(service: .email)
        )
        #expect(deadline.dueDate == Self.day("2024-11-08"))
        #expect(deadline.assumptions.contains { $0.contains("not verified") && $0.contains("1010.6") })
    }

    @Test func imrDetermination_variants() throws {
        // Records received Mon 2024-12-02: +30 = Wed 2025-01-01 (New Year's Day) -> Thu 2025-01-02.
        let standard = try calculator.deadline(.imrDetermination, from: Self.day("2024-12-02"))
        #expect(standard.dueDate == Self.day("2025-01-02"))
        #expect(standard.consequenceIfMissed.kind == .lateNotVoid)
        // Expedited: +3 = Thu 2024-12-05.
        let expedited = try calculator.deadline(
            .imrDetermination,
            from: Self.day("2024-12-02"),
            options: DeadlineOptions(expedited: true)
        )
        #expect(expedited.dueDate == Self.day("2024-12-05"))
        #expect(expedited.confidence == .medium)
        #expect(expedited.variant == .expedited)
        #expect(expedited.period.amount == 3)
        #expect(standard.variant == nil)
        #expect(expedited.assumptions.contains { $0.contains("3-day") })
        let assigned = try calculator.deadline(
            .imrDetermination,
            from: Self.day("2024-12-02"),
            options: DeadlineOptions(triggerIsAssignmentDate: true)
        )
        #expect(assigned.assumptions.contains { $0.contains("assignment date") })
    }

    /// Issue 16: a faxed notice of assignment counts as electronic for imr.records, as an
    /// assumption the explanation states; e-mail needs none, mail is the 15 days.
    @Test func aFaxedNoticeIsElectronicForTheRecords_asAStatedAssumption() throws {
        let faxed = try calculator.deadline(
            .imrRecords,
            from: Self.day("2024-12-02"),
            options: DeadlineOptions(service: .fax)
        )
        #expect(faxed.variant == .noticeSentElectronically)
        #expect(faxed.period.amount == 12)
        #expect(faxed.assumptions.contains { $0.contains("a fax is treated as sent electronically") })
        let emailed = try calculator.deadline(
            .imrRecords,
            from: Self.day("2024-12-02"),
            options: DeadlineOptions(service: .email)
        )
        #expect(emailed.period.amount == 12 && !emailed.assumptions.contains { $0.contains("fax") })
        let mailed = try calculator.deadline(
            .imrRecords,
            from: Self.day("2024-12-02"),
            options: DeadlineOptions(service: .mail)
        )
        #expect(mailed.period.amount == 15 && !mailed.assumptions.contains { $0.contains("fax") })
    }

    /// A notice delivered in person is a method the regulation does not name: counted as
    /// mailed, and said so (not "not given").
    @Test func aNoticeDeliveredInPersonCountsAsMailed_andSaysWhy() throws {
        let personal = try calculator.deadline(
            .imrRecords,
            from: Self.day("2024-06-03"),
            options: DeadlineOptions(service: .personal)
        )
        #expect(personal.period.amount == 15 && personal.dueDate == Self.day("2024-06-18"))
        #expect(
            personal.assumptions.contains { $0.contains("delivered in person") && $0.contains("counted as mailed") }
        )
        #expect(!personal.assumptions.contains { $0.contains("not given") })
        let unknown = try calculator.deadline(.imrRecords, from: Self.day("2024-06-03"))
        #expect(unknown.assumptions.contains("how the notice of assignment was sent is not given: assumed mailed"))
    }

    /// The written notice: its "2 business days" are unverified, which a concurrent review's
    /// 24 hours do not rely on; before 2020 they are counted on the UR working days of the
    /// time, a reading the output states (the rule's text names the CalHR list).
    @Test func theWrittenNoticesAssumptionsAreTheOnesItsCountUsed() throws {
        let unverified = "the \"2 business days\" rule for the written notice of a prospective decision is not verified"
        let concurrent = try calculator.deadline(
            .urNoticeWritten,
            from: Self.at("2024-11-27", 15, 0),
            options: DeadlineOptions(review: .concurrent)
        )
        #expect(concurrent.variant == .concurrent && !concurrent.assumptions.contains(unverified))
        let prospective = try calculator.deadline(
            .urNoticeWritten,
            from: Self.day("2024-11-27"),
            options: DeadlineOptions(review: .prospective)
        )
        #expect(prospective.dueDate == Self.day("2024-12-03") && prospective.assumptions.contains(unverified))
        #expect(!prospective.assumptions.contains { $0.contains("ur-pre2020") })
        // Wednesday before Thanksgiving 2019: Thursday is a holiday on both calendars, Friday
        // a working day only on the UR calendar of the time.
        let before2020 = try calculator.deadline(
            .urNoticeWritten,
            from: Self.day("2019-11-27"),
            options: DeadlineOptions(review: .prospective)
        )
        #expect(before2020.dueDate == Self.day("2019-12-02") && before2020.calendar == .urPre2020)
        #expect(before2020.assumptions.contains { $0.hasPrefix("before 2020 the written notice's business days") })
        #expect(before2020.assumptions.contains(unverified))
        // A retrospective review's written notice: no period of its own, and the output says so.
        let retrospective = try calculator.deadline(
            .urNoticeWritten,
            from: Self.day("2024-06-03"),
            options: DeadlineOptions(review: .retrospective)
        )
        #expect(retrospective.dueDate == Self.day("2024-06-05") && retrospective.assumptions.contains(unverified))
        #expect(retrospective.assumptions.contains { $0.contains("retrospective review no period of its own") })
        #expect(!prospective.assumptions.contains { $0.contains("retrospective") })
    }

    /// Issue 16: two variants given at once are resolved by a stated rule, never silently.
    @Test func conflictingVariantsAreResolvedByTheRulesOrder_andSaySo() throws {
        let both = try calculator.deadline(
            .imrDetermination,
            from: Self.day("2024-12-02"),
            options: DeadlineOptions(expedited: true, formulary: true)
        )
        #expect(both.dueDate == Self.day("2024-12-05"))
        #expect(both.variant == .expedited)
        #expect(
            both.explanation.contains { $0.contains("expedited and formulary given: the expedited period applies") }
        )
        #expect(both.explanation.contains { $0.contains("set aside: formulary dispute: 5 working days") })
        // Formulary before information requested under the UR decision: no extension.
        let ur = try calculator.deadline(
            .urDecisionProspective,
            from: Self.at("2024-03-04", 10, 0),
            options: DeadlineOptions(formulary: true, informationRequested: true)
        )
        #expect(ur.variant == .formulary)
        #expect(
            ur.explanation.contains {
                $0.contains("formulary and information requested given: the formulary period applies")
            }
        )
        // One variant alone, or one not in force on the trigger's date, sets nothing aside.
        let alone = try calculator.deadline(
            .imrDetermination,
            from: Self.day("2024-12-02"),
            options: DeadlineOptions(expedited: true)
        )
        #expect(!alone.explanation.contains { $0.contains("set aside") })
        let before2018 = try calculator.deadline(
            .imrDetermination,
            from: Self.day("2016-12-01"),
            options: DeadlineOptions(expedited: true, formulary: true)
        )
        #expect(before2018.variant == .expedited && !before2018.explanation.contains { $0.contains("set aside") })
    }

    @Test func implementation_fiveWorkingDays_or20DaysToReimburse() throws {
        #expect(
            try calculator.deadline(.imrImplementation, from: Self.day("2024-12-20")).dueDate == Self.day("2024-12-30")
        )
        let paid = try calculator.deadline(
            .imrImplementation,
            from: Self.day("2024-12-20"),
            options: DeadlineOptions(servicesAlreadyProvided: true)
        )
        #expect(paid.dueDate == Self.day("2025-01-09"))
    }

    @Test func juneteenthAssumptionIsStatedWhenItCouldMatter() throws {
        // Personal service on Mon 2024-05-20: +30 = Wed 2024-06-19.
        let deadline = try calculator.deadline(
            .imrApplication,
            from: Self.day("2024-05-20"),
            options: DeadlineOptions(service: .personal)
        )
        #expect(deadline.dueDate == Self.day("2024-06-19"))
        #expect(deadline.assumptions.contains { $0.contains("Juneteenth") })
        let configured = DeadlineCalculator(settings: CalendarSettings(juneteenthJudicialFrom: Self.day("2022-01-01")))
        let moved = try configured.deadline(
            .imrApplication,
            from: Self.day("2024-05-20"),
            options: DeadlineOptions(service: .personal)
        )
        #expect(moved.dueDate == Self.day("2024-06-20"))
    }

    // MARK: Errors are sentences

    @Test func badInputIsAnErrorThatSaysWhatToDo() throws {
        do {
            _ = try calculator.deadline(named: "ur.decision.tomorrow", from: .date(Self.day("2024-01-02")))
            Issue.record("an unknown rule must throw")
        } catch let error as DeadlineError {
            #expect(error.isUnknownRule)
            #expect(error.message.contains("ur.decision.tomorrow"))
            #expect(error.message.contains("ur.decision.prospective"))
        }
        do {
            _ = try calculator.deadline(.rfaDeemedReceipt, from: Self.day("2024-01-02"))
            Issue.record("a deemed receipt without a transmission must throw")
        } catch let error as DeadlineError {
            #expect(error.isMissingFact)
            #expect(error.message.contains("fax, email or mail"))
        }
        do {
            _ = try calculator.deadline(.urDecisionFormulary, from: Self.day("2017-06-01"))
            Issue.record("formulary clocks start in 2018")
        } catch let error as DeadlineError {
            #expect(error.isNotInForce)
            #expect(error.message.contains("2018-01-01"))
        }
        #expect(throws: DeadlineError.self) {
            try calculator.deadline(
                .urDecisionProspective,
                from: Self.day("2024-01-02"),
                options: DeadlineOptions(expedited: true, review: .retrospective)
            )
        }
        #expect(throws: DeadlineError.self) {
            try calculator.deadline(.imrApplication, from: Self.day("2012-06-01"))
        }
        #expect(throws: DeadlineError.self) {
            try calculator.deadline(
                .urDecisionRetrospective,
                from: Self.day("2024-01-02"),
                options: DeadlineOptions(expedited: true)
            )
        }
        #expect(throws: DeadlineError.self) {
            try calculator.deadline(
                .urDecisionExpedited,
                from: Self.day("2024-01-02"),
                options: DeadlineOptions(review: .retrospective)
            )
        }
        #expect(throws: DeadlineError.self) {
            try calculator.deadline(
                .imrRecords,
                from: Self.day("2024-01-02"),
                options: DeadlineOptions(servicesAlreadyProvided: true)
            )
        }
    }

    @Test func summaryHasTheCommandLineFields() throws {
        let deadline = try calculator.deadline(
            .wcabAppeal,
            from: Self.day("2014-11-06"),
            options: DeadlineOptions(service: .mail)
        )
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(deadline.summary)) as? [String: Any]
        #expect(
            Set(json?.keys.map { $0 } ?? []) == ["rule", "due", "due_date", "citation", "explanation", "assumptions"]
        )
        #expect(json?["rule"] as? String == "wcab.appeal")
        #expect(json?["due_date"] as? String == "2014-12-11")
        #expect((json?["citation"] as? String)?.contains("4610.6(h)") == true)
    }

    @Test func everyRuleComputesForEveryDayWithoutThrowing_andIsNeverBeforeTheTrigger() async {
        let first = Self.day("2018-01-01").dayNumber
        let last = Self.day("2035-12-31").dayNumber
        await propertyCheck(count: 100, input: Gen.int(in: first...last)) { dayNumber in
            let date = LocalDate(dayNumber: dayNumber)
            for rule in RuleID.allCases {
                let options = rule == .rfaDeemedReceipt ? DeadlineOptions(transmission: .fax) : DeadlineOptions()
                let deadline = try self.calculator.deadline(rule, from: date, options: options)
                #expect(deadline.dueDate >= date, "\(rule.rawValue) \(date)")
                #expect(!deadline.explanation.isEmpty)
                #expect(!deadline.citation.isEmpty)
            }
        }
    }

    @Test func rule1_11FridayIsStatedAsAnAssumption_andConfigurable() throws {
        // Personal service on Tue 2021-11-23: +30 = Thu 2021-12-23, no roll. From Wed 2021-11-24:
        // +30 = Fri 2021-12-24, the Friday before Christmas on Saturday.
        let deadline = try calculator.deadline(
            .imrApplication,
            from: Self.day("2021-11-24"),
            options: DeadlineOptions(service: .personal)
        )
        #expect(deadline.dueDate == Self.day("2021-12-24"))
        #expect(deadline.assumptions.contains { $0.contains("rule 1.11") })
        let rule111 = DeadlineCalculator(settings: CalendarSettings(judicialSaturdayHolidaysObservedFriday: true))
        let moved = try rule111.deadline(
            .imrApplication,
            from: Self.day("2021-11-24"),
            options: DeadlineOptions(service: .personal)
        )
        #expect(moved.dueDate == Self.day("2021-12-27"))
        #expect(moved.explanation.contains("skipped Fri 2021-12-24 (Christmas Day (observed))"))
    }

    @Test func triggersParseAsDatesPacificTimesAndInstants() throws {
        #expect(try DeadlineTrigger(parsing: "2015-04-17") == .date(Self.day("2015-04-17")))
        #expect(try DeadlineTrigger(parsing: "2015-04-17T18:18") == .instant(Self.at("2015-04-17", 18, 18)))
        #expect(try DeadlineTrigger(parsing: "2015-04-17T18:18:00-07:00") == .instant(Self.at("2015-04-17", 18, 18)))
        #expect(try DeadlineTrigger(parsing: "2015-04-18T01:18:00Z") == .instant(Self.at("2015-04-17", 18, 18)))
        #expect(try DeadlineTrigger(parsing: "2024-01-02T09:30:00+01:00") == .instant(Self.at("2024-01-02", 0, 30)))
        for bad in ["2015-4-17", "2015-04-17T25:00", "yesterday", "2015-04-17T18:18+7", "2015-02-30"] {
            #expect(throws: DeadlineError.self) { try DeadlineTrigger(parsing: bad) }
        }
        do {
            _ = try DeadlineTrigger(parsing: "tomorrow")
        } catch let error as DeadlineError {
            #expect(error.isBadTrigger)
            #expect(error.message.contains("2015-04-17T18:18"))
        }
    }
}
