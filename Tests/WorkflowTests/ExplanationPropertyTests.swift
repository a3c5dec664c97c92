import Foundation
import TestSupport
import Testing
@testable import Workflow

/// Issue 16: every explanation agrees with its own due date. Random triggers over the whole
/// range the calendars cover (weighted to holidays, the 5:30 p.m. cut-off and the days daylight
/// saving changes), random options each rule reads; for every deadline computed:
/// - the last line is the due date (or instant) itself, and `dueDate` is the due instant's day;
/// - every "Ddd YYYY-MM-DD" label names that date's weekday;
/// - every step that passes over days (a business-day count, a roll-over, a deemed receipt)
///   is followed by exactly the days its calendar closes in that span, each with its reason,
///   and a business-day count ends after as many business days as it says.
///
/// The seed is printed; `IMR_PROPERTY_SEED=N` replays a run.
@Suite struct ExplanationPropertyTests {
    static let calculator = DeadlineCalculator()

    /// A trigger day: any day of the range, or one near a holiday of a calendar, or near a
    /// daylight-saving Sunday.
    static func day(_ random: inout SeededGenerator) -> LocalDate {
        let year = Int.random(in: CalendarID.generatedYears, using: &random)
        switch Int.random(in: 0..<4, using: &random) {
        case 0:
            return LocalDate(year: year, month: 1, day: 1)!.adding(days: Int.random(in: 0..<365, using: &random))
        case 1, 2:
            let calendar = calculator.calendar(CalendarID.allCases.randomElement(using: &random)!)
            let holiday = calendar.holidays(in: year).randomElement(using: &random)!
            return holiday.date.adding(days: Int.random(in: -9...2, using: &random))
        default:
            // Second Sunday of March or first Sunday of November.
            let march = Bool.random(using: &random)
            var sunday = LocalDate(year: year, month: march ? 3 : 11, day: 1)!
            while sunday.weekday != .sunday { sunday = sunday.adding(days: 1) }
            if march { sunday = sunday.adding(days: 7) }
            return sunday.adding(days: Int.random(in: -3...1, using: &random))
        }
    }

    static func trigger(_ random: inout SeededGenerator) -> DeadlineTrigger {
        let date = day(&random)
        if Bool.random(using: &random) { return .date(date) }
        let (hour, minute) =
            Bool.random(using: &random)
            ? (17, Int.random(in: 28...32, using: &random))
            : (Int.random(in: 0..<24, using: &random), Int.random(in: 0..<60, using: &random))
        let instants = Pacific.instants(date, hour: hour, minute: minute)
        return instants.isEmpty ? .date(date) : .instant(instants.randomElement(using: &random)!)
    }

    /// Options the rule reads, each given or not at random.
    static func options(for rule: DeadlineRule, trigger: LocalDate, _ random: inout SeededGenerator) -> DeadlineOptions
    {
        var options = DeadlineOptions()
        func coin() -> Bool { Int.random(in: 0..<3, using: &random) == 0 }
        for input in rule.reads where coin() {
            switch input {
            case .transmission: options.transmission = Transmission.allCases.randomElement(using: &random)
            case .service:
                options.service = ServiceMethod.allCases.filter { $0 != .personal }.randomElement(using: &random)
            case .destination: options.destination = ServiceDestination.allCases.randomElement(using: &random)!
            case .expedited: options.expedited = true
            case .review: options.review = ReviewType.allCases.randomElement(using: &random)
            case .formulary: options.formulary = true
            case .treatmentRecommendationDate:
                options.treatmentRecommendationDate = trigger.adding(days: -Int.random(in: 0...30, using: &random))
            case .informationRequested: options.informationRequested = true
            case .noticeSentElectronically: options.noticeSentElectronically = Bool.random(using: &random)
            case .servicesAlreadyProvided: options.servicesAlreadyProvided = true
            case .receivingDateStamp:
                options.receivingDateStamp = trigger.adding(days: Int.random(in: 0...3, using: &random))
            case .triggerIsAssignmentDate: options.triggerIsAssignmentDate = true
            }
        }
        return options
    }

    nonisolated(unsafe) static let label = try! Regex(#"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (\d{4}-\d{2}-\d{2})"#)

    /// Every dated label in `line`, in order, with the weekday name it was given.
    static func labels(in line: String) -> [(weekday: String, date: LocalDate)] {
        line.matches(of: label).compactMap { match in
            guard let weekday = match.output[1].substring, let iso = match.output[2].substring,
                let date = LocalDate(iso: String(iso))
            else { return nil }
            return (String(weekday), date)
        }
    }

    nonisolated(unsafe) static let calendarName = try! Regex(
        #"(?:on the|is a weekend day or holiday on the) (calhr|ur-pre2020|judicial) calendar|\((calhr|ur-pre2020|judicial) calendar\)"#
    )

    /// The problems with one deadline's explanation; empty when it is consistent.
    static func problems(_ deadline: Deadline) -> [String] {
        var problems: [String] = []
        let lines = deadline.explanation
        guard let last = lines.last else { return ["no explanation"] }
        let expectedLast =
            deadline.isExactInstant
            ? "due at \(Pacific.rfc3339(deadline.due))"
            : "due by the end of \(deadline.dueDate.shortLabel) (23:59:59 Pacific)"
        if last != expectedLast { problems.append("last line '\(last)', expected '\(expectedLast)'") }
        if Pacific.date(of: deadline.due) != deadline.dueDate {
            problems.append("dueDate \(deadline.dueDate.iso) is not the due instant's day")
        }
        if !deadline.isExactInstant && deadline.due != Pacific.endOfDay(deadline.dueDate) {
            problems.append("a day deadline not at 23:59:59")
        }

        for line in lines + deadline.assumptions {
            for (weekday, date) in labels(in: line) where weekday != String(date.weekday.name.prefix(3)) {
                problems.append("'\(weekday) \(date.iso)' in '\(line)': it is a \(date.weekday.name)")
            }
        }

        var index = 0
        while index < lines.count {
            let line = lines[index]
            var skipped: [(date: LocalDate, reason: String)] = []
            var next = index + 1
            while next < lines.count, lines[next].hasPrefix("skipped ") {
                // "skipped Sat … and Sun … (weekend)", "skipped Fri … (Veterans Day (observed))".
                let tail = lines[next].matches(of: label).last.map { lines[next][$0.range.upperBound...] } ?? ""
                let reason = tail.hasPrefix(" (") && tail.hasSuffix(")") ? String(tail.dropFirst(2).dropLast()) : "?"
                skipped += labels(in: lines[next]).map { ($0.date, reason) }
                next += 1
            }
            defer { index = next }
            let calendarMatch = line.firstMatch(of: calendarName)
            let name = calendarMatch.flatMap { $0.output[1].substring ?? $0.output[2].substring }.map(String.init)
            let dated = labels(in: line).map(\.date)
            guard let name, let id = CalendarID(rawValue: name), dated.count >= 2 else {
                if !skipped.isEmpty {
                    problems.append("skipped days after '\(line)', which names no calendar and span")
                }
                continue
            }
            let calendar = calculator.calendar(id)
            let (from, to) = (dated[0], dated[dated.count - 1])
            // The days the step passes over, and why each is closed.
            var span: [LocalDate] = []
            var reasonOf: (LocalDate) -> SkipReason? = calendar.nonBusinessReason
            if line.contains("rolled forward to") {
                span = from < to ? (from.dayNumber..<to.dayNumber).map(LocalDate.init(dayNumber:)) : []
                reasonOf = calendar.rollOverReason
            } else if line.contains("business days after") || line.contains("business day after")
                || line.contains("deemed received")
            {
                span = from < to ? (from.dayNumber + 1..<to.dayNumber).map(LocalDate.init(dayNumber:)) : []
            } else {
                continue
            }
            let closed = span.compactMap { day in reasonOf(day).map { (day, $0.text) } }
            if closed.map(\.0) != skipped.map(\.date) || closed.map(\.1) != skipped.map(\.reason) {
                problems.append(
                    "'\(line)': skipped \(skipped.map { "\($0.date.iso) (\($0.reason))" }), "
                        + "but the \(id.rawValue) calendar closes \(closed.map { "\($0.0.iso) (\($0.1))" })"
                )
            }
            if let amount = line.firstMatch(of: /^(\d+) business days? after/)?.output.1, let n = Int(amount) {
                let open = span.count - closed.count + (calendar.isBusinessDay(to) ? 1 : 0)
                if open != n || !calendar.isBusinessDay(to) {
                    problems.append("'\(line)': \(open) business days to \(to.iso), not \(n)")
                }
            }
        }
        return problems
    }

    @Test func everyExplanationAgreesWithItsOwnDueDate() throws {
        let seed = testSeed("ExplanationPropertyTests")
        var random = SeededGenerator(seed: seed)
        var computed = 0
        var steps = 0
        var byRule: [RuleID: Int] = [:]
        for _ in 0..<6_000 {
            let rule = RuleBook.standard.rules.randomElement(using: &random)!
            let trigger = Self.trigger(&random)
            let options = Self.options(for: rule, trigger: trigger.date, &random)
            guard let deadline = try? Self.calculator.deadline(rule.id, from: trigger, options: options) else {
                continue
            }
            computed += 1
            byRule[rule.id, default: 0] += 1
            steps += deadline.explanation.filter { $0.hasPrefix("skipped ") }.count
            let found = Self.problems(deadline)
            #expect(found.isEmpty, "seed \(seed): \(rule.id.rawValue) from \(trigger) with \(options): \(found)")
            if !found.isEmpty { break }
        }
        // The run reached every rule and many skipped days, or it proved little.
        #expect(
            computed > 4_000 && byRule.count == RuleID.allCases.count && steps > 2_000,
            "seed \(seed): \(computed), \(byRule.count) rules, \(steps) skip lines"
        )
    }

    /// The checker itself finds what it is for: a wrong weekday, a missing skipped day, a last
    /// line that is not the due date.
    @Test func theCheckerFindsAnInconsistentExplanation() throws {
        let deadline = try Self.calculator.deadline(.urDecisionProspective, from: .date(LocalDate(iso: "2024-07-02")!))
        #expect(Self.problems(deadline).isEmpty, "\(deadline.explanation)")
        func altered(_ change: (inout [String]) -> Void) -> Deadline {
            var lines = deadline.explanation
            change(&lines)
            return Deadline(
                rule: deadline.rule,
                start: deadline.start,
                due: deadline.due,
                dueDate: deadline.dueDate,
                isExactInstant: deadline.isExactInstant,
                citation: deadline.citation,
                explanation: lines,
                assumptions: deadline.assumptions,
                calendar: deadline.calendar,
                confidence: deadline.confidence,
                period: deadline.period,
                variant: deadline.variant,
                whoMustAct: deadline.whoMustAct,
                satisfiedBy: deadline.satisfiedBy,
                consequenceIfMissed: deadline.consequenceIfMissed
            )
        }
        #expect(deadline.explanation.contains("skipped Thu 2024-07-04 (Independence Day)"), "\(deadline.explanation)")
        #expect(!Self.problems(altered { $0.removeAll { $0.contains("Independence Day") } }).isEmpty)
        #expect(
            !Self.problems(
                altered { $0 = $0.map { $0.replacingOccurrences(of: "Thu 2024-07-04", with: "Fri 2024-07-04") } }
            ).isEmpty
        )
        #expect(
            !Self.problems(altered { $0[$0.count - 1] = "due by the end of Thu 2024-07-11 (23:59:59 Pacific)" }).isEmpty
        )
        #expect(
            !Self.problems(
                altered { $0 = $0.map { $0.replacingOccurrences(of: "(Independence Day)", with: "(weekend)") } }
            ).isEmpty
        )
    }
}
