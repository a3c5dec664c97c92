import ArgumentParser
import Foundation
import Workflow

/// `imr-ctl calc`: the deadline calculator, offline, over the same engine as the daemon.
package struct Calc: ParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Compute one deadline from its trigger, offline (no daemon), with the explanation.",
        discussion: """
            Examples:
              imr-ctl calc ur.decision.prospective --from 2015-04-17T18:18 --via fax
              imr-ctl calc wcab.appeal --from 2014-11-06 --via mail --json
            --via names how the trigger came, as the recording commands do: for an RFA (rfa.deemed-receipt, \
            the UR clocks) fax, email or mail; for a served document (imr.application, wcab.appeal, ...) \
            mail, fax, email, electronic or personal. --service is the older name of the latter.
            --from takes a date (YYYY-MM-DD), an instant (YYYY-MM-DDTHH:MM, Pacific when no zone is given), \
            today, yesterday, tomorrow or now (an instant).
            An option the rule does not read is refused, naming the options the rule takes.
            Triggers are counted from 2013-01-01 to 2035-12-31, the years imr's calendars are generated for. \
            A Pacific time that daylight saving skipped (02:30 on its March Sunday) or repeated (01:30 on its \
            November Sunday) is refused: give the time a clock showed, or the offset.
            Exit status: 0 computed; 64 usage (a malformed value, an option the rule does not read, contradictory \
            options); 65 a trigger imr cannot count (outside those years, or before the rule or variant was in force).
            --json prints one object with exactly: rule, due, due_date, citation, explanation, assumptions.
            List the rules with 'imr-ctl rules'.
            """
    )

    @Argument(help: "The rule id, e.g. ur.decision.prospective.")
    var rule: String

    @Option(help: "The trigger: a date, an instant, today, yesterday, tomorrow or now.")
    var from: String

    @Option(help: ArgumentHelp("Older name of --via for a served document.", visibility: .hidden))
    var service: ServiceMethod?

    @Flag(
        name: .customLong("outside-ca"),
        help: "The served party's address is outside California (in the United States)."
    )
    var outsideCalifornia = false

    @Flag(name: .customLong("outside-us"), help: "The served party's address is outside the United States.")
    var outsideUnitedStates = false

    @Flag(help: "Expedited review.")
    var expedited = false

    @Option(help: "Review type: prospective, concurrent or retrospective.")
    var review: ReviewType?

    @Flag(help: "A drug on the formulary (requests from 2018).")
    var formulary = false

    @Option(
        name: .customLong("recommended"),
        help: "The physician's treatment recommendation date (caps UR at 14 days)."
    )
    var treatmentRecommendationDate: String?

    @Flag(
        name: .customLong("info-requested"),
        help: "UR asked for more information in time (14 calendar days from receipt)."
    )
    var informationRequested = false

    @Option(
        help: ArgumentHelp(
            "How the trigger came: an RFA by fax, email or mail; a served document by mail, fax, email, electronic or personal.",
            valueName: "how"
        )
    )
    var via: String?

    /// --via as an RFA's transmission, when it is one.
    var transmission: Transmission? { via.flatMap { Transmission(rawValue: $0.lowercased()) } }
    /// --via (or --service) as a service method, when it is one.
    var serviceMethod: ServiceMethod? { service ?? via.flatMap { ServiceMethod(rawValue: $0.lowercased()) } }

    @Flag(
        name: .customLong("electronic-notice"),
        help: "imr.records: the notice of assignment was sent electronically (12 days)."
    )
    var electronicNotice = false

    @Option(
        name: .customLong("stamp"),
        help: ArgumentHelp(
            "rfa.deemed-receipt and the UR clocks: the receiving date stamp on a faxed RFA, the day it counts as received.",
            valueName: "date"
        )
    )
    var receivingDateStamp: String?

    @Flag(
        name: .customLong("assignment-date"),
        help:
            "imr.determination: --from is the assignment date, the IMRO's receipt of the records not being known (said as an assumption)."
    )
    var fromAssignmentDate = false

    @Flag(
        name: .customLong("already-provided"),
        help: "imr.implementation: the services were already given, so the duty is to reimburse (20 calendar days)."
    )
    var servicesAlreadyProvided = false

    @Flag(help: "Print JSON instead of text.")
    var json = false

    package init() {}

    package func validate() throws {
        if service != nil && via != nil {
            throw ValidationError("give --via, not --via and --service (its older name)")
        }
        if let via, Transmission(rawValue: via.lowercased()) == nil, ServiceMethod(rawValue: via.lowercased()) == nil {
            throw ValidationError("--via '\(via)' is not one of: fax, email, mail, electronic, personal")
        }
        if outsideCalifornia && outsideUnitedStates {
            throw ValidationError("give --outside-ca or --outside-us, not both")
        }
        // A date in the wrong form is a usage error here; one outside the accepted range is
        // reported by run (exit 65).
        for (option, text) in [("--recommended", treatmentRecommendationDate), ("--stamp", receivingDateStamp)] {
            guard let text else { continue }
            do { _ = try When.date(text, option: option) } catch is CommandFailure {}
        }
        guard let id = try? RuleID.named(rule) else {
            throw ValidationError(
                "'\(rule)' is not a rule id; 'imr-ctl rules' lists them: \(RuleID.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        try refuseOptionsThatDoNotApply(to: id)
        // Only where the rule reads both (imr.records): elsewhere one was refused above.
        if electronicNotice, let method = serviceMethod, method == .mail || method == .personal {
            throw ValidationError(
                "--electronic-notice says the notice of assignment was sent electronically, --via \(method.rawValue) that it was not: give one"
            )
        }
    }

    /// Each option of the calculator and the facts it can set, in the order help lists them
    /// (--via sets an RFA's transmission or a served document's method, whichever the rule reads).
    static let optionInputs: [(option: String, inputs: Set<DeadlineInput>)] = [
        ("--via", [.transmission, .service]), ("--service", [.service]), ("--outside-ca", [.destination]),
        ("--outside-us", [.destination]), ("--expedited", [.expedited]), ("--review", [.review]),
        ("--formulary", [.formulary]),
        ("--recommended", [.treatmentRecommendationDate]), ("--info-requested", [.informationRequested]),
        ("--electronic-notice", [.noticeSentElectronically]), ("--stamp", [.receivingDateStamp]),
        ("--already-provided", [.servicesAlreadyProvided]), ("--assignment-date", [.triggerIsAssignmentDate]),
    ]

    /// The options given on this command line.
    var given: Set<String> {
        let set: [String: Bool] = [
            "--via": via != nil, "--service": service != nil, "--outside-ca": outsideCalifornia,
            "--outside-us": outsideUnitedStates,
            "--expedited": expedited, "--review": review != nil, "--formulary": formulary,
            "--recommended": treatmentRecommendationDate != nil, "--info-requested": informationRequested,
            "--electronic-notice": electronicNotice, "--stamp": receivingDateStamp != nil,
            "--already-provided": servicesAlreadyProvided, "--assignment-date": fromAssignmentDate,
        ]
        return Set(set.filter(\.value).keys)
    }

    /// An option the rule does not read is refused, naming the rule and what it does take: a
    /// coordinator who gave it must not believe it was used.
    func refuseOptionsThatDoNotApply(to id: RuleID) throws {
        guard let rule = RuleBook.standard[id] else { return }
        let reads = rule.reads
        // --via electronic or personal can only be a served document's method.
        let viaIsTransmission = via.map { Transmission(rawValue: $0.lowercased()) != nil } ?? true
        let given = given
        let unused = Self.optionInputs.filter { option, inputs in
            given.contains(option)
                && inputs.subtracting(option == "--via" && !viaIsTransmission ? [.transmission] : []).isDisjoint(
                    with: reads
                )
        }.map(\.option)
        guard !unused.isEmpty else { return }
        // --service is the hidden older name of --via: not offered.
        let takes = Self.optionInputs.filter { $0.option != "--service" && !$0.inputs.isDisjoint(with: reads) }.map(
            \.option
        )
        func list(_ words: [String]) -> String {
            words.count == 1 ? words[0] : words.dropLast().joined(separator: ", ") + " and " + words.last!
        }
        throw ValidationError(
            "\(list(unused)) \(unused.count == 1 ? "does" : "do") not apply to \(id.rawValue): \(unused.count == 1 ? "it" : "they") would change nothing there. "
                + "\(id.rawValue) takes \(takes.isEmpty ? "only --from" : list(["--from"] + takes)). Drop \(unused.count == 1 ? "it" : "them")."
        )
    }

    package func run() throws {
        do {
            try compute()
        } catch let failure as CommandFailure {
            Output.error(failure.message)
            throw ExitCode(failure.status.rawValue)
        }
    }

    func compute() throws {
        let trigger = try When.trigger(from, option: "--from")
        func date(_ text: String?, _ option: String) throws -> LocalDate? {
            try text.map { LocalDate(iso: try When.date($0, option: option))! }
        }
        let options = DeadlineOptions(
            service: serviceMethod,
            destination: outsideUnitedStates ? .outsideUnitedStates : outsideCalifornia ? .otherState : .california,
            expedited: expedited,
            review: review,
            formulary: formulary,
            treatmentRecommendationDate: try date(treatmentRecommendationDate, "--recommended"),
            informationRequested: informationRequested,
            servicesAlreadyProvided: servicesAlreadyProvided,
            transmission: transmission,
            receivingDateStamp: try date(receivingDateStamp, "--stamp"),
            noticeSentElectronically: electronicNotice ? true : nil,
            triggerIsAssignmentDate: fromAssignmentDate
        )
        let deadline: Deadline
        do {
            deadline = try DeadlineCalculator().deadline(named: rule, from: trigger, options: options)
        } catch let error as DeadlineError where error.isNotInForce || error.isOutsideCalendars {
            // The command is well formed; the trigger is one imr cannot count.
            throw CommandFailure("\(error)", status: .dataError)
        } catch {
            throw ValidationError("\(error)")
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(deadline.summary), as: UTF8.self))
            return
        }
        print(
            "\(deadline.rule.rawValue): due \(deadline.dueDate.weekday.name) \(deadline.dueDate.iso)"
                + (deadline.isExactInstant ? " at \(deadline.dueRFC3339)" : " (end of day, \(deadline.dueRFC3339))")
        )
        print("  \(deadline.citation) (confidence \(deadline.confidence.rawValue))")
        for line in deadline.explanation { print("  - \(line)") }
        for line in deadline.assumptions { print("  assumption: \(line)") }
        print("  if missed: \(deadline.consequenceIfMissed.summary)")
    }
}

extension ServiceMethod: ExpressibleByArgument {}
extension ReviewType: ExpressibleByArgument {}
extension Transmission: ExpressibleByArgument {}

/// `imr-ctl rules`: every rule id with its citation and confidence.
package struct Rules: ParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "List every deadline rule with its citation and confidence."
    )

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    package init() {}

    package func run() throws {
        let rules = RuleBook.standard.rules
        if json {
            let rows: [[String: String]] = rules.map {
                [
                    "rule": $0.id.rawValue, "citation": $0.citation, "confidence": $0.confidence.rawValue,
                    "who_must_act": $0.whoMustAct,
                ]
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
            return
        }
        Output.table(
            ["RULE", "CONF", "WHO MUST ACT", "CITATION"],
            rules.map { [$0.id.rawValue, $0.confidence.rawValue, $0.whoMustAct, $0.citation] }
        )
        print("")
        print(
            "CONF, how sure the rule's reading is (domain/DEADLINES.md): H the operative text was read; M consistent "
                + "secondary sources; L inference; H/M partly each. A deadline's explanation names every assumption behind it."
        )
    }
}
