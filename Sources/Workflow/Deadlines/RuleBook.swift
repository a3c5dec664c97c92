/// The deadline rules the calculator uses, one per ``RuleID``.
///
/// ``standard`` is `domain/DEADLINES.md` as data. An organisation (or a test) that reads a
/// rule differently replaces it with ``replacing(_:)`` instead of changing code; that is how
/// the M and L rules stay easy to change.
public struct RuleBook: Sendable, Equatable, Codable {
    private var byID: [RuleID: DeadlineRule]

    /// A book of the given rules; a later rule with the same id replaces an earlier one.
    public init(rules: [DeadlineRule]) {
        byID = Dictionary(rules.map { ($0.id, $0) }, uniquingKeysWith: { _, later in later })
    }

    /// The rule with `id`, or nil when this book has none.
    public subscript(id: RuleID) -> DeadlineRule? { byID[id] }

    /// Every rule, in the order of `RuleID.allCases`.
    public var rules: [DeadlineRule] { RuleID.allCases.compactMap { byID[$0] } }

    /// A copy of this book with `rule` in place of the rule with the same id.
    public func replacing(_ rule: DeadlineRule) -> RuleBook {
        var copy = self
        copy.byID[rule.id] = rule
        return copy
    }
}

extension RuleBook {
    private static func day(_ year: Int, _ month: Int, _ day: Int) -> LocalDate {
        LocalDate(year: year, month: month, day: day)!
    }

    // The cut-over dates of the law, here only: the rules below, the case rules (`decide`)
    // and the deadline engine all read them from the book.

    /// SB 863: IMR exists for disputes from 2013: for every injury from 2013-01-01 ...
    public static let imrStart = day(2013, 1, 1)
    /// ... and for every UR decision communicated from 2013-07-01, whatever the injury's date.
    public static let imrForDecisionsFrom = day(2013, 7, 1)
    /// The drug formulary took effect on 2018-01-01.
    public static let formularyStart = day(2018, 1, 1)
    /// SB 537: UR business days follow CalHR's holiday list from 2020-01-01 (the Gov. Code
    /// 6700 holidays before); 8 CCR 10605 replaced 10507 for WCAB service the same day.
    public static let calhrCalendarFrom = day(2020, 1, 1)

    /// LC 4610(i)(1)'s 14 days after the treatment recommendation, where a UR decision
    /// period does not take it, and why.
    private static func capSetAside(_ reason: String, verified: Bool) -> CapSetAside {
        CapSetAside(days: 14, reason: reason, verified: verified)
    }

    static let expeditedCapSetAside = capSetAside(
        "an expedited review has its own limit, 72 hours from receipt (LC 4610(i)(3)); the 14-day limit is "
            + "LC 4610(i)(1)'s, for the ordinary prospective or concurrent decision",
        verified: false
    )
    static let retrospectiveCapSetAside = capSetAside(
        "LC 4610(i)(1) and its 14-day limit are for prospective and concurrent decisions; a retrospective review "
            + "(care already given) has 30 days",
        verified: true
    )
    static let formularyCapSetAside = capSetAside(
        "the formulary period is 5 business days with no extension (LC 4610(i)(1) second sentence), counted as it stands",
        verified: false
    )

    private static let urInvalid = MissConsequence(
        .urInvalid,
        "A late UR decision, or a late communication of it, makes the UR invalid and not subject to IMR; "
            + "the WCAB decides the treatment (Dubon II, en banc 2014; Bodam 2014)."
    )

    /// `domain/DEADLINES.md`, rule by rule.
    public static let standard = RuleBook(rules: [
        DeadlineRule(
            id: .rfaDeemedReceipt,
            whoMustAct: "nobody: the rule fixes the receipt date that starts the UR clocks",
            trigger: "RFA transmitted (fax or e-mail with its time; mail with its deposit date)",
            period: DeadlinePeriod(5, .businessDays, calendar: .utilizationReviewByTriggerDate),
            deemedReceipt: DeemedReceiptPolicy(
                cutoffSecondsAfterMidnight: 17 * 3600 + 30 * 60,
                mailBusinessDays: 5,
                calendar: .utilizationReviewByTriggerDate
            ),
            citation: "8 CCR 9792.9.1(a)(1)-(3)",
            confidence: .medium,
            satisfiedBy: "nothing: the result is the date the RFA counts as received",
            consequenceIfMissed: MissConsequence(.none, "No effect of its own: it fixes day 0 of the UR clocks.")
        ),

        DeadlineRule(
            id: .urDecisionProspective,
            whoMustAct: "claims administrator / UR",
            trigger: "RFA deemed received (prospective or concurrent review)",
            period: DeadlinePeriod(
                5,
                .businessDays,
                calendar: .utilizationReviewByTriggerDate,
                capDaysAfterTreatmentRecommendation: 14
            ),
            variants: [
                RuleVariant(
                    when: .expedited,
                    DeadlinePeriod(72, .hours, calendar: .clock, capSetAside: expeditedCapSetAside),
                    summary: "expedited review: 72 hours from receipt",
                    citation: "LC 4610(i)(3); 8 CCR 9792.9.1(c)(4)",
                    confidence: .highMedium
                ),
                RuleVariant(
                    when: .retrospective,
                    DeadlinePeriod(
                        30,
                        .calendarDays,
                        calendar: .fixed(.judicial),
                        rollsOver: true,
                        capSetAside: retrospectiveCapSetAside
                    ),
                    summary: "retrospective review: 30 calendar days from receipt",
                    citation: "LC 4610(i); 8 CCR 9792.9.1(c)",
                    confidence: .medium
                ),
                RuleVariant(
                    when: .formulary,
                    DeadlinePeriod(
                        5,
                        .businessDays,
                        calendar: .utilizationReviewByTriggerDate,
                        capSetAside: formularyCapSetAside
                    ),
                    summary: "formulary drug: 5 business days, no extension for requested information",
                    citation: "LC 4610(i)(1) second sentence",
                    confidence: .medium,
                    effectiveFrom: formularyStart
                ),
                RuleVariant(
                    when: .informationRequested,
                    DeadlinePeriod(
                        14,
                        .calendarDays,
                        calendar: .utilizationReviewByTriggerDate,
                        capSetAside: capSetAside(
                            "information was requested in time, and the request extends the decision to 14 calendar days "
                                + "from receipt of the RFA (8 CCR 9792.9.1(f)(2)(A); LC 4610(i)(5)) in place of LC 4610(i)(1)'s periods",
                            verified: false
                        )
                    ),
                    summary: "information requested in time: 14 calendar days from receipt of the RFA",
                    citation: "8 CCR 9792.9.1(f)(2)(A)",
                    confidence: .medium
                ),
            ],
            startsAtRFAReceipt: true,
            citation: "LC 4610(i)(1) (was 4610(g)(1)); 8 CCR 9792.9.1(c)(3)",
            confidence: .highMedium,
            satisfiedBy: "UR decision on every item",
            consequenceIfMissed: urInvalid
        ),

        DeadlineRule(
            id: .urDecisionExpedited,
            whoMustAct: "claims administrator / UR",
            trigger: "RFA deemed received, marked expedited",
            period: DeadlinePeriod(72, .hours, calendar: .clock, capSetAside: expeditedCapSetAside),
            startsAtRFAReceipt: true,
            citation: "LC 4610(i)(3); 8 CCR 9792.9.1(c)(4)",
            confidence: .highMedium,
            satisfiedBy: "UR decision",
            consequenceIfMissed: urInvalid
        ),

        DeadlineRule(
            id: .urDecisionRetrospective,
            whoMustAct: "claims administrator / UR",
            trigger: "RFA deemed received, retrospective review",
            period: DeadlinePeriod(
                30,
                .calendarDays,
                calendar: .fixed(.judicial),
                rollsOver: true,
                capSetAside: retrospectiveCapSetAside
            ),
            startsAtRFAReceipt: true,
            citation: "LC 4610(i); 8 CCR 9792.9.1(c)",
            confidence: .medium,
            satisfiedBy: "UR decision",
            consequenceIfMissed: urInvalid
        ),

        DeadlineRule(
            id: .urDecisionFormulary,
            whoMustAct: "claims administrator / UR",
            trigger: "RFA for a formulary drug deemed received",
            period: DeadlinePeriod(
                5,
                .businessDays,
                calendar: .utilizationReviewByTriggerDate,
                capSetAside: formularyCapSetAside
            ),
            startsAtRFAReceipt: true,
            effectiveFrom: formularyStart,
            citation: "LC 4610(i)(1) second sentence",
            confidence: .medium,
            satisfiedBy: "UR decision",
            consequenceIfMissed: urInvalid
        ),

        DeadlineRule(
            id: .urInfoRequest,
            whoMustAct: "claims administrator / UR",
            trigger: "RFA deemed received",
            period: DeadlinePeriod(5, .businessDays, calendar: .utilizationReviewByTriggerDate),
            startsAtRFAReceipt: true,
            citation: "8 CCR 9792.9.1(f)(2)(A)",
            confidence: .medium,
            satisfiedBy: "information requested from the physician",
            consequenceIfMissed: MissConsequence(
                .none,
                "No extension: ur.decision.prospective stays at 5 business days; when information requested in "
                    + "time never comes, the item is denied (conditionally non-certified)."
            )
        ),

        DeadlineRule(
            id: .urDeferral,
            whoMustAct: "claims administrator / UR",
            trigger: "RFA deemed received, liability disputed",
            period: DeadlinePeriod(5, .businessDays, calendar: .utilizationReviewByTriggerDate),
            startsAtRFAReceipt: true,
            citation: "LC 4610(l); 8 CCR 9792.9.1(b)(1)",
            confidence: .high,
            satisfiedBy: "written deferral notice",
            consequenceIfMissed: MissConsequence(
                .urInvalid,
                "Without a timely deferral the UR clocks keep running; a UR decision after them is invalid and "
                    + "the WCAB decides the treatment (Dubon II, en banc 2014)."
            )
        ),

        DeadlineRule(
            id: .urNoticePhysician,
            whoMustAct: "claims administrator / UR",
            trigger: "UR decision made",
            period: DeadlinePeriod(24, .hours, calendar: .clock),
            citation: "LC 4610(i)(4)(A); 8 CCR 9792.9.1(e)(3); Bodam (2014): late communication makes the UR untimely",
            confidence: .highMedium,
            satisfiedBy: "requesting physician notified by phone, fax or e-mail",
            consequenceIfMissed: urInvalid
        ),

        DeadlineRule(
            id: .urNoticeWritten,
            whoMustAct: "claims administrator / UR",
            trigger: "UR decision made",
            period: DeadlinePeriod(2, .businessDays, calendar: .utilizationReviewByTriggerDate),
            variants: [
                RuleVariant(
                    when: .concurrent,
                    DeadlinePeriod(24, .hours, calendar: .clock),
                    summary: "concurrent review: 24 hours from the decision"
                )
            ],
            citation: "LC 4610(i)(4)(B); 8 CCR 9792.9.1(e)(4)-(5)",
            confidence: .medium,
            satisfiedBy: "written decision served; denials and modifications enclose the IMR application form",
            consequenceIfMissed: urInvalid,
            periodAssumptions: [
                "the \"2 business days\" rule for the written notice of a prospective decision is not verified"
            ],
            calendarAssumptions: [
                CalendarAssumption(
                    .urPre2020,
                    "before 2020 the written notice's business days were counted on the UR working days of the time "
                        + "(ur-pre2020), as the UR decision's are; the rule's text names the CalHR list, in force from 2020"
                )
            ]
        ),

        DeadlineRule(
            id: .imrApplication,
            whoMustAct: "employee (or attorney)",
            trigger: "written UR decision served on the employee",
            period: DeadlinePeriod(
                30,
                .calendarDays,
                calendar: .fixed(.judicial),
                serviceExtension: .mailCCP1013,
                rollsOver: true
            ),
            variants: [
                RuleVariant(
                    when: .formulary,
                    DeadlinePeriod(
                        30,
                        .calendarDays,
                        calendar: .fixed(.judicial),
                        serviceExtension: .mailCCP1013,
                        rollsOver: true
                    ),
                    summary: "formulary dispute: the ordinary 30-day period is used",
                    assumptions: [
                        "a possible 10-day IMR filing limit for formulary disputes is not verified; the 30-day period was used"
                    ]
                )
            ],
            effectiveFrom: imrStart,
            citation: "LC 4610.5(h)(1); 8 CCR 9792.10.1(b)(1); Avila v. UC Irvine (2015) for +5",
            confidence: .highMedium,
            satisfiedBy: "IMR application received by the Administrative Director (sending it is not enough)",
            consequenceIfMissed: MissConsequence(
                .ineligible,
                "A late IMR application is ineligible (Avila v. UC Irvine, 2015)."
            )
        ),

        DeadlineRule(
            id: .imrEligibilityResponse,
            whoMustAct: "parties",
            trigger: "Administrative Director's request for eligibility information received",
            period: DeadlinePeriod(5, .businessDays, calendar: .fixed(.calhr)),
            effectiveFrom: imrStart,
            citation: "8 CCR 9792.10.3(c)",
            confidence: .high,
            satisfiedBy: "response sent",
            consequenceIfMissed: MissConsequence(
                .none,
                "No specific legal effect is recorded; the eligibility decision may be made without the response."
            )
        ),

        DeadlineRule(
            id: .imroAssignmentNotice,
            whoMustAct: "IMRO",
            trigger: "Administrative Director's eligibility finding",
            period: DeadlinePeriod(1, .businessDays, calendar: .fixed(.calhr)),
            effectiveFrom: imrStart,
            citation: "8 CCR 9792.10.4(b)",
            confidence: .high,
            satisfiedBy: "notice of assignment",
            consequenceIfMissed: MissConsequence(
                .none,
                "No specific legal effect is recorded for a late notice of assignment."
            )
        ),

        DeadlineRule(
            id: .imrRecords,
            whoMustAct: "claims administrator",
            trigger: "IMRO's notice of assignment mailed (standard) or received (expedited)",
            period: DeadlinePeriod(15, .calendarDays, calendar: .fixed(.judicial), rollsOver: true),
            variants: [
                RuleVariant(
                    when: .expedited,
                    DeadlinePeriod(24, .hours, calendar: .clock),
                    summary: "expedited review: 24 hours from receipt of the notice"
                ),
                RuleVariant(
                    when: .noticeSentElectronically,
                    DeadlinePeriod(12, .calendarDays, calendar: .fixed(.judicial), rollsOver: true),
                    summary: "notice sent electronically: 12 calendar days"
                ),
            ],
            effectiveFrom: imrStart,
            citation: "LC 4610.5(l); 8 CCR 9792.10.5(a)(1); penalty 8 CCR 9792.12",
            confidence: .high,
            satisfiedBy: "records received by the IMRO",
            consequenceIfMissed: MissConsequence(
                .administrativePenalty,
                "Late records carry an administrative penalty (8 CCR 9792.12)."
            )
        ),

        DeadlineRule(
            id: .imrDetermination,
            whoMustAct: "IMRO",
            trigger: "IMRO's receipt of the request and supporting documentation (records)",
            period: DeadlinePeriod(30, .calendarDays, calendar: .fixed(.judicial), rollsOver: true),
            variants: [
                RuleVariant(
                    when: .expedited,
                    DeadlinePeriod(3, .calendarDays, calendar: .fixed(.judicial), rollsOver: true),
                    summary: "expedited review: 3 calendar days",
                    confidence: .medium,
                    assumptions: ["the statutory text of the 3-day expedited IMR limit is not verified"]
                ),
                RuleVariant(
                    when: .formulary,
                    DeadlinePeriod(5, .businessDays, calendar: .fixed(.calhr)),
                    summary: "formulary dispute: 5 working days",
                    confidence: .medium,
                    effectiveFrom: formularyStart,
                    assumptions: ["formulary IMR \"working days\" counted on the calhr calendar"]
                ),
            ],
            effectiveFrom: imrStart,
            citation: "LC 4610.6(d); 8 CCR 9792.10.6(g)",
            confidence: .high,
            satisfiedBy: "final determination issued",
            consequenceIfMissed: MissConsequence(
                .lateNotVoid,
                "The limit is directory, not mandatory: a late determination still binds and is \"late\", not void; "
                    + "the remedy is a writ of mandate (CHP v. WCAB (Margaris), 2016)."
            )
        ),

        DeadlineRule(
            id: .imrImplementation,
            whoMustAct: "claims administrator",
            trigger: "receipt of a final determination that overturns an item",
            period: DeadlinePeriod(5, .businessDays, calendar: .fixed(.calhr)),
            variants: [
                RuleVariant(
                    when: .servicesAlreadyProvided,
                    DeadlinePeriod(20, .calendarDays, calendar: .fixed(.calhr)),
                    summary: "services already given: reimburse within 20 calendar days"
                )
            ],
            effectiveFrom: imrStart,
            citation: "8 CCR 9792.10.7(a)(1)-(2); LC 4610.6",
            confidence: .high,
            satisfiedBy: "authorization (or payment) recorded",
            consequenceIfMissed: MissConsequence(
                .administrativePenalty,
                "Late implementation carries an administrative penalty per day (8 CCR 9792.12)."
            )
        ),

        DeadlineRule(
            id: .wcabAppeal,
            whoMustAct: "either party",
            trigger: "mailing of the final determination",
            period: DeadlinePeriod(
                30,
                .calendarDays,
                calendar: .fixed(.judicial),
                serviceExtension: .wcabMailFaxEmail,
                rollsOver: true
            ),
            effectiveFrom: imrStart,
            citation: "LC 4610.6(h); 8 CCR 10575 (was 10957.1); Matute v. LAUSD (en banc 2015) for +5",
            confidence: .high,
            satisfiedBy: "appeal filed with the WCAB",
            consequenceIfMissed: MissConsequence(.dismissed, "A late WCAB appeal is dismissed.")
        ),
    ])
}
