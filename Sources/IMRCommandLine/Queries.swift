import ArgumentParser
import Foundation
import IMRWire
import Varlink
import Workflow

// The read commands. Each prints an aligned table, or with --json the daemon's objects as the
// interface files document them (io.imr.Cases, io.imr.Deadlines), in a stable shape.

/// Options of every read command.
package struct ReadOptions: ParsableArguments {
    @OptionGroup package var connection: ConnectionOptions
    @Flag(help: "Print JSON (the shape documented in README.md and the daemon's interface files).") var json = false
    package init() {}
}

/// A number of days: `7`, `7d`, `2w`.
func days(_ text: String, option: String) throws -> Int {
    let lower = text.lowercased()
    let (digits, factor) =
        lower.hasSuffix("w")
        ? (lower.dropLast(), 7) : lower.hasSuffix("d") ? (lower.dropLast(), 1) : (Substring(lower), 1)
    guard let n = Int(digits), (0...36_500).contains(n), (0...36_500).contains(n * factor) else {
        throw ValidationError("\(option) '\(text)' is not a number of days up to 36500: write 7, 7d or 2w")
    }
    return n * factor
}

/// A due time as a coordinator reads it: the date, and the time when the deadline is an exact instant.
func dueText(_ deadline: JSONValue) -> String {
    guard deadline.at("isExactInstant").boolValue == true, let minute = pacificMinute(deadline.at("due")) else {
        return deadline.at("dueDate").text
    }
    return minute
}

/// An RFC 3339 instant as "YYYY-MM-DD HH:MM" in Pacific time; nil when it is not one.
/// A stage as words: "rfaReceived" → "RFA received", "imrApplied" → "IMR applied".
func stageWords(_ stage: String) -> String {
    guard let known = CaseStage(rawValue: stage) else { return stage }
    return switch known {
    case .opened: "opened"
    case .rfaReceived: "RFA received"
    case .underReview: "under review"
    case .urDecided: "UR decided"
    case .imrApplied: "IMR applied for"
    case .imrIneligible: "IMR ineligible"
    case .imrEligible: "IMR eligible"
    case .imrAssigned: "IMR assigned"
    case .determined: "determined"
    case .implemented: "implemented"
    case .appealed: "appealed"
    case .closed: "closed"
    case .withdrawn: "withdrawn"
    }
}

func pacificMinute(_ value: JSONValue) -> String? {
    guard let instant = value.stringValue.flatMap(WireInstant.parse) else { return nil }
    let seconds = Pacific.secondsSinceMidnight(of: instant)
    return Pacific.date(of: instant).iso + String(format: " %02d:%02d", seconds / 3600, (seconds % 3600) / 60)
}

/// A deadline's due moment as a coordinator reads it (typed form).
func dueText(_ deadline: CaseDeadline) -> String {
    guard deadline.isExactInstant else { return deadline.dueDate.iso }
    let seconds = Pacific.secondsSinceMidnight(of: deadline.due)
    return Pacific.date(of: deadline.due).iso + String(format: " %02d:%02d", seconds / 3600, (seconds % 3600) / 60)
}

/// Whole days from today (Pacific) to a deadline's due date (typed form).
func relativeDays(_ deadline: CaseDeadline, now: Date = Date()) -> String {
    let n = Pacific.date(of: now).days(until: deadline.dueDate)
    return n == 0 ? "today" : n > 0 ? "in \(n)d" : "\(-n)d ago"
}

/// Whole days from today (Pacific) to a deadline's due date: "today", "in 3d", "2d ago".
func relativeDays(_ deadline: JSONValue, now: Date = Date()) -> String {
    guard let due = deadline.at("dueDate").stringValue.flatMap(LocalDate.init(iso:)) else { return "" }
    let n = Pacific.date(of: now).days(until: due)
    return n == 0 ? "today" : n > 0 ? "in \(n)d" : "\(-n)d ago"
}

enum WireInstant {
    static func parse(_ text: String) -> Date? { try? Date(text, strategy: .iso8601) }
}

func deadlineStyle(_ status: String) -> Output.Style? {
    switch status {
    case "missed", "met-late": .red
    case "pending": nil
    case "met": .green
    default: .dim
    }
}

// MARK: - cases

package struct Cases: DaemonCommand {
    package static let configuration = CommandConfiguration(
        abstract: "List cases, soonest next deadline first, a page at a time.",
        discussion: """
            Open cases unless --closed or --include-closed. Prints the first page (--limit cases, 100 unless given) \
            and a last line saying how many more match and how to see them: --all prints every page as it comes, \
            --after CURSOR the page after the one that line came with. The next deadline is the earliest running one \
            that must be met (the optional window to ask for more information is on the deadline board, not here). \
            --json prints an array of io.imr.Cases CaseSummary objects (caseId, claimNumber, employer, \
            claimsAdministrator, coordinator, dateOfInjury, stage, isOpen, imrCaseNumbers, items, version, nextDue, \
            nextRule): the page, or with --all every case, streamed; the line about the rest goes to stderr.
            --search TEXT finds cases whose id, claim number, IMR case number, employer or claims \
            administrator starts with TEXT, in any letter case (open and closed; at most --limit, 20 \
            unless given, up to 100), e.g. imr-ctl cases --search acme; imr-ctl cases --search cm16-02.
            """
    )
    @OptionGroup var read: ReadOptions
    @Flag(help: "Closed and withdrawn cases only.") var closed = false
    @Flag(name: .customLong("include-closed"), help: "Open and closed cases (open ones first).") var includeClosed =
        false
    @Option(help: "Only cases at this stage (\(CaseStage.allCases.map(\.rawValue).joined(separator: ", "))).")
    var stage: String?
    @Option(help: "Only this coordinator's cases.") var coordinator: String?
    @Flag(help: "Only my cases (the coordinator is my user name).") var mine = false
    @Option(help: "Only cases with this claim number.") var claim: String?
    @Option(name: .customLong("imr-case"), help: "Only the case with this IMR case number.") var imrCase: String?
    @Option(help: "Cases per page, 1 to \(pageMaximum) (100 unless given).") var limit: Int?
    @Option(help: "Start after this cursor (from the line under the previous page).") var after: String?
    @Flag(help: "Every matching case, page after page, as the daemon sends them.") var all = false
    @Option(
        help: ArgumentHelp(
            "Cases whose id, claim number, IMR case number, employer or administrator starts with this, in any letter case.",
            valueName: "text"
        )
    ) var search: String?
    @Flag(
        name: .customLong("include-history"),
        help: ArgumentHelp(
            "Also each case's misses kept as history (nobody can act on them any more): how many, and the latest's due date."
        )
    )
    var includeHistory = false
    package var connection: ConnectionOptions { read.connection }
    package init() {}

    static let pageMaximum = 1000

    package func validate() throws {
        if closed && includeClosed { throw ValidationError("give --closed or --include-closed, not both") }
        if mine && coordinator != nil { throw ValidationError("give --mine or --coordinator, not both") }
        if let stage { _ = try choice(stage, CaseStage.self, option: "--stage") }
        if let search {
            if closed || includeClosed || stage != nil || mine || coordinator != nil || claim != nil || imrCase != nil
                || after != nil || all || includeHistory
            {
                throw ValidationError(
                    "--search finds cases by itself; leave out the other filters, --after, --all and --include-history (only --limit and --json go with it)"
                )
            }
            if search.trimmingCharacters(in: .whitespaces).isEmpty {
                throw ValidationError(
                    "--search needs some text: the start of a claim number, IMR case number, employer, administrator or case id"
                )
            }
            if let limit, !(1...100).contains(limit) {
                throw ValidationError("--search shows 1 to 100 cases, not \(limit); type more of the text to narrow it")
            }
        }
        if let limit, !(1...Self.pageMaximum).contains(limit) {
            throw ValidationError(
                "--limit takes 1 to \(Self.pageMaximum) cases a page, not \(limit); --all shows every page"
            )
        }
    }

    var parameters: [String: JSONValue] {
        [
            "open": includeClosed ? .null : .bool(!closed), "stage": stage.map { .string($0) } ?? .null,
            "coordinator": (mine ? currentUserName() : coordinator).map { .string($0) } ?? .null,
            "claimNumber": claim.map { .string($0) } ?? .null, "imrCaseNumber": imrCase.map { .string($0) } ?? .null,
            "limit": limit.map { .int(Int64($0)) } ?? .null, "after": after.map { .string($0) } ?? .null,
            "includeHistory": includeHistory ? .bool(true) : .null,
        ]
    }

    package func run(_ client: DaemonClient) throws {
        if let search {
            let reply = try client.call(
                "io.imr.Cases.Search",
                ["text": .string(search), "limit": limit.map { .int(Int64($0)) } ?? .null]
            )
            let cases = reply["cases"]?.arrayValue ?? []
            if read.json { return Output.json(.array(cases)) }
            guard !cases.isEmpty else {
                return print(
                    "no case's id, claim number, IMR case number, employer or administrator starts with '\(search)'"
                )
            }
            Output.table(Self.header, cases.map(Self.row), style: Self.style)
            if reply["more"]?.boolValue == true { print("more cases match; type more of it, or --limit up to 100") }
            return
        }
        try PagedOutput.show(
            client,
            "io.imr.Cases.List",
            parameters,
            key: "cases",
            noun: "case",
            all: all,
            json: read.json,
            header: includeHistory ? Self.header + ["HISTORY"] : Self.header,
            row: includeHistory ? Self.rowWithHistory : Self.row,
            style: Self.style,
            empty: after == nil ? "no cases match" : "no cases after that cursor"
        )
    }

    static let header = ["CASE", "CLAIM", "COORDINATOR", "STAGE", "IMR CASE", "ITEMS", "NEXT DEADLINE", "DUE", ""]

    static func row(_ c: JSONValue) -> [String] {
        let now = Date()
        let next = c.at("nextDue").stringValue.flatMap(WireInstant.parse)
        let due = next.map { Pacific.date(of: $0).iso } ?? "-"
        let relative: String =
            next.map { d in
                let n = Pacific.date(of: now).days(until: Pacific.date(of: d))
                return d <= now ? "overdue" : n == 0 ? "today" : "in \(n)d"
            } ?? ""
        return [
            c.at("caseId").text, c.at("claimNumber").text, c.at("coordinator").text, stageWords(c.at("stage").text),
            c.at("imrCaseNumbers").arrayValue.map(\.text).joined(separator: ","), c.at("items").text,
            c.at("nextRule").stringValue ?? "-", due, relative,
        ]
    }

    /// The row with a last column for the misses kept as history: "2 missed, last 2016-05-03".
    static func rowWithHistory(_ c: JSONValue) -> [String] {
        let count = Int(c.at("missedInHistory").intValue ?? 0)
        let last = c.at("lastMissedDue").stringValue.flatMap(WireInstant.parse).map { Pacific.date(of: $0).iso }
        return row(c) + [count == 0 ? "-" : "\(count) missed" + (last.map { ", last \($0)" } ?? "")]
    }

    static func style(_ row: [String]) -> Output.Style? {
        row.count > 8 && row[8] == "overdue" ? .red : row.count > 8 && row[8] == "today" ? .yellow : nil
    }
}

// MARK: - show

package struct Show: DaemonCommand {
    package static let configuration = CommandConfiguration(
        abstract:
            "One case: facts, items and their state, the timeline with actors, every deadline with its status and explanation.",
        discussion:
            "--json prints the io.imr.Cases.Get case object (facts, rfas, items, notes, corrections, timeline, deadlines)."
    )
    @OptionGroup var read: ReadOptions
    @Argument(help: "The case.") var caseId: String
    @Flag(help: "Show each deadline's explanation and assumptions.") var explain = false
    package var connection: ConnectionOptions { read.connection }
    package init() {}

    package func run(_ client: DaemonClient) throws {
        let c = try caseDetail(client, caseId)
        if read.json { return Output.json(c) }
        print(
            Output.styled("Case \(c.at("caseId").text)", .bold)
                + "  \(stageWords(c.at("stage").text))\(c.at("isOpen").boolValue == true ? "" : " (closed)")"
        )
        let facts: [(String, JSONValue)] = [
            ("claim", c.at("claimNumber")), ("employer", c.at("employer")),
            ("claims administrator", c.at("claimsAdministrator")),
            ("injured worker", c.at("injuredWorkerReference")), ("date of injury", c.at("dateOfInjury")),
            ("coordinator", c.at("coordinator")), ("closed on", c.at("closedOn")),
            ("withdrawn on", c.at("withdrawnOn")),
        ]
        for (label, value) in facts where value != .null {
            print("  \(label.padding(toLength: 21, withPad: " ", startingAt: 0))\(value.text)")
        }
        for rfa in c.at("rfas").arrayValue {
            print(
                "  RFA \(rfa.at("rfaId").text): received \(rfa.at("receivedAt").text) by \(rfa.at("transmission").text), "
                    + "\(rfa.at("reviewType").text)\(rfa.at("expedited").boolValue == true ? ", expedited" : ""), physician \(rfa.at("physician").text)"
            )
        }
        print("\n" + Output.styled("Items", .bold))
        Output.table(
            ["ITEM", "RFA", "STATUS", "UR", "IMR CASE", "IMR", "DESCRIPTION"],
            c.at("items").arrayValue.map { i in
                [
                    i.at("itemId").text, i.at("rfaId").text, i.at("status").text,
                    [i.at("urOutcome").text, i.at("authorizedPortion").text].filter { !$0.isEmpty }.joined(
                        separator: ": "
                    ),
                    i.at("imrCaseNumber").text, i.at("imrDecision").text, i.at("description").text,
                ]
            }
        )
        print("\n" + Output.styled("Deadlines", .bold))
        let deadlines = c.at("deadlines").arrayValue
        if deadlines.isEmpty { print("  none yet") }
        for d in deadlines {
            let status = d.at("status").text
            let items = d.at("itemIds").arrayValue.map(\.text).joined(separator: ",")
            let head =
                "  \(status.padding(toLength: 15, withPad: " ", startingAt: 0))\(dueText(d).padding(toLength: 17, withPad: " ", startingAt: 0))"
                + "\(d.at("rule").text)\(items.isEmpty ? "" : " (items \(items))")  \(d.at("citation").text)"
            print(Output.styled(head, deadlineStyle(status)))
            if let note = d.at("statusNote").stringValue { print("      \(note)") }
            if explain {
                for line in d.at("explanation").arrayValue { print("      - \(line.text)") }
                for line in d.at("assumptions").arrayValue { print("      assumption: \(line.text)") }
            }
        }
        print("\n" + Output.styled("Timeline", .bold))
        Output.table(
            ["VERSION", "RECORDED", "EVENT", "BY"],
            c.at("timeline").arrayValue.map {
                [$0.at("version").text, $0.at("recordedAt").text, $0.at("type").text, $0.at("actor").text]
            }
        )
        printOCRFacts(c.at("timeline").arrayValue)
        let notes = c.at("notes").arrayValue
        if !notes.isEmpty {
            print("\n" + Output.styled("Notes", .bold))
            for n in notes { print("  \(n.at("writtenAt").text)  \(n.at("text").text)") }
        }
        let corrections = c.at("corrections").arrayValue
        if !corrections.isEmpty {
            print("\n" + Output.styled("Corrections", .bold))
            for k in corrections {
                // "event 9 corrected event 5 (IMRAssigned): assignedOn 2024-03-20 → 2024-03-21 (notice dated a day later)"
                let target = k.at("correctedVersion").stringValue ?? k.at("correctedVersion").text
                let type = k.at("correctedType").stringValue.map { " (\($0))" } ?? ""
                let change =
                    k.at("previous").stringValue.map { "\($0) → \(k.at("value").text)" } ?? "→ \(k.at("value").text)"
                print(
                    "  event \(k.at("version").text) corrected event \(target)\(type): \(k.at("field").text) \(change) (\(k.at("reason").text))"
                )
            }
        }
    }
}

extension Show {
    /// The facts recorded from letters read through OCR, each with the engine's confidence,
    /// so that a coordinator knows what to check against the paper; nothing for other cases.
    func printOCRFacts(_ timeline: [JSONValue]) {
        var seen = Set<String>()
        var lines: [String] = []
        for event in timeline {
            let ocr = event.at("importedFromOCR")
            guard ocr != .null, seen.insert(event.at("importedFrom").text).inserted else { continue }
            let confidence = ocr.at("confidence").doubleValue.map { ", mean confidence \(Int($0.rounded()))%" } ?? ""
            let pages = ocr.at("pages").arrayValue.map(\.text).joined(separator: ",")
            lines.append(
                "  \(event.at("importedFrom").text): read through OCR (\(ocr.at("engine").text), page\(pages.contains(",") ? "s" : "") \(pages)\(confidence)), events from version \(event.at("version").text)"
            )
            for fact in ocr.at("facts").arrayValue {
                let c = fact.at("confidence").doubleValue ?? 0
                let item = fact.at("itemId").stringValue.map { "item \($0) " } ?? ""
                let check = c < 80 ? "  check it" : ""
                lines.append("    \(item)\(fact.at("fact").text): \(Int(c.rounded()))%\(check)")
            }
        }
        guard !lines.isEmpty else { return }
        print("\n" + Output.styled("Read through OCR (check these facts against the letter)", .bold))
        for line in lines { print(line) }
    }
}

// MARK: - deadlines

package struct Deadlines: DaemonCommand {
    package static let configuration = CommandConfiguration(
        abstract: "The deadline board: every running legal clock, soonest first.",
        discussion: """
            Examples: imr-ctl deadlines --within 7d --mine; imr-ctl deadlines --overdue --rule ur.decision.prospective
            Prints the first page (--limit deadlines, 100 unless given) and a last line saying how many more match and \
            how to see them: --all prints every page as it comes, --after CURSOR the page after the one that line came with. \
            --json prints an array of io.imr.Deadlines deadline objects (id, rule, caseId, rfaId, itemIds, round, trigger, \
            clockStart, due, dueDate, isExactInstant, status, satisfiedBy, party, coordinator, citation, confidence, \
            explanation, assumptions, consequenceIfMissed, statusNote, correctionNotes, supersededBy): the page, or with \
            --all every deadline, streamed; the line about the rest goes to stderr.
            """
    )
    @OptionGroup var read: ReadOptions
    @Option(help: "Only deadlines due within this many days (7, 7d, 2w); overdue ones included.") var within: String?
    @Flag(help: "Only deadlines already past due.") var overdue = false
    @Flag(help: "Only deadlines not yet past due.") var pending = false
    @Flag(help: "Only deadlines of my cases (the coordinator is my user name).") var mine = false
    @Option(help: "Only this coordinator's deadlines.") var coordinator: String?
    @Option(help: "Only this rule (see 'imr-ctl rules').") var rule: String?
    @Option(
        help:
            "Only deadlines this party must meet: claims-administrator, employee, imro, administrative-director, either-party."
    ) var party: String?
    @Option(name: .customLong("case"), help: "Only this case's deadlines.") var caseId: String?
    @Option(help: "Deadlines per page, 1 to 1000 (100 unless given).") var limit: Int?
    @Option(help: "Start after this cursor (from the line under the previous page).") var after: String?
    @Flag(help: "Every matching deadline, page after page, as the daemon sends them.") var all = false
    @Flag(
        name: .customLong("include-history"),
        help: ArgumentHelp(
            "Also the misses kept as history (nobody can act on them any more; with --case, with why)."
        )
    )
    var includeHistory = false
    package var connection: ConnectionOptions { read.connection }
    package init() {}

    package func validate() throws {
        if mine && coordinator != nil { throw ValidationError("give --mine or --coordinator, not both") }
        if overdue && pending { throw ValidationError("give --overdue or --pending, not both") }
        if let within { _ = try days(within, option: "--within") }
        if let rule, RuleID(rawValue: rule) == nil {
            throw ValidationError("--rule '\(rule)' is not a rule id; 'imr-ctl rules' lists them")
        }
        if let party { _ = try choice(party, DeadlineParty.self, option: "--party") }
        if let limit, !(1...1000).contains(limit) {
            throw ValidationError("--limit takes 1 to 1000 deadlines a page, not \(limit); --all shows every page")
        }
    }

    func parameters() throws -> [String: JSONValue] {
        [
            "coordinator": (mine ? currentUserName() : coordinator).map { .string($0) } ?? .null,
            "rule": rule.map { .string($0) } ?? .null, "party": party.map { .string($0) } ?? .null,
            "caseId": caseId.map { .string($0) } ?? .null,
            "withinDays": try within.map { .int(Int64(try days($0, option: "--within"))) } ?? .null,
            "overdue": overdue ? .bool(true) : pending ? .bool(false) : .null,
            "limit": limit.map { .int(Int64($0)) } ?? .null,
            "after": after.map { .string($0) } ?? .null, "includeHistory": includeHistory ? .bool(true) : .null,
        ]
    }

    package func run(_ client: DaemonClient) throws {
        if includeHistory, let caseId {
            // The case's running deadlines and its history, from the case's own derivation.
            let all =
                try client.call("io.imr.Deadlines.ForCase", ["caseId": .string(caseId)])["deadlines"]?.arrayValue ?? []
            let shown = all.filter { d in
                d.at("supersededBy").stringValue == nil
                    && (["pending", "missed"].contains(d.at("status").text))
                    && (rule.map { d.at("rule").text == $0 } ?? true)
                    && (party.map { d.at("party").text == $0 } ?? true)
            }.sorted {
                ($0.at("due").stringValue.flatMap(WireInstant.parse) ?? .distantPast)
                    < ($1.at("due").stringValue.flatMap(WireInstant.parse) ?? .distantPast)
            }
            if read.json { return Output.json(.array(shown)) }
            guard !shown.isEmpty else {
                return print("case \(caseId) has no running deadline and no miss kept as history")
            }
            Output.table(Self.header, shown.map(Self.row), style: Self.style)
            for d in shown { if let why = d.at("history").stringValue { print("  \(d.at("rule").text): \(why)") } }
            return
        }
        try PagedOutput.show(
            client,
            "io.imr.Deadlines.List",
            try parameters(),
            key: "deadlines",
            noun: "deadline",
            all: all,
            json: read.json,
            header: Self.header,
            row: Self.row,
            style: Self.style,
            empty: after == nil
                ? (includeHistory
                    ? "no running deadline and no miss kept as history matches" : "no running deadline matches")
                : "no running deadlines after that cursor"
        )
    }

    static let header = ["DUE", "", "STATUS", "RULE", "CASE", "ITEMS", "PARTY", "COORDINATOR"]

    static func row(_ d: JSONValue) -> [String] {
        [
            dueText(d), relativeDays(d), d.at("history").stringValue != nil ? "history" : d.at("status").text,
            d.at("rule").text, d.at("caseId").text,
            d.at("itemIds").arrayValue.map(\.text).joined(separator: ","), d.at("party").text, d.at("coordinator").text,
        ]
    }

    static func style(_ row: [String]) -> Output.Style? {
        row[2] == "missed" ? .red : row[2] == "history" ? .dim : row[1] == "today" ? .yellow : nil
    }
}

/// A list printed page by page as the daemon streams it: the table's columns take their widths
/// from the first page; JSON is one array written element by element.
struct PagedOutput {
    let json: Bool
    let header: [String]
    let style: ([String]) -> Output.Style?
    private var widths: [Int]?
    private var printed = 0

    init(json: Bool, header: [String], style: @escaping ([String]) -> Output.Style?) {
        self.json = json
        self.header = header
        self.style = style
        if json { print("[", terminator: "") }
    }

    mutating func add(_ items: [JSONValue], row: (JSONValue) -> [String]) {
        if json {
            for item in items {
                print(printed == 0 ? "\n  " : ",\n  ", terminator: "")
                print(Output.compact(item), terminator: "")
                printed += 1
            }
            return
        }
        guard !items.isEmpty else { return }
        let rows = items.map(row)
        if let widths {
            print(Output.tableText(header, rows, style: style, widths: widths, withHeader: false), terminator: "")
        } else {
            widths = header.indices.map { i in max(header[i].count, rows.map { $0[i].count }.max() ?? 0) }
            print(Output.tableText(header, rows, style: style), terminator: "")
        }
        printed += items.count
    }

    func finish(empty: String) {
        if json { print(printed == 0 ? "]" : "\n]") } else if printed == 0 { print(empty) }
    }

    /// A paged list as `imr-ctl` shows it: with `all` every page as the daemon streams them;
    /// otherwise one page (the parameters say which) and the line about the rest.
    static func show(
        _ client: DaemonClient,
        _ method: String,
        _ parameters: [String: JSONValue],
        key: String,
        noun: String,
        all: Bool,
        json: Bool,
        header: [String],
        row: (JSONValue) -> [String],
        style: @escaping ([String]) -> Output.Style?,
        empty: String
    ) throws {
        if all {
            var pages = PagedOutput(json: json, header: header, style: style)
            try client.stream(method, parameters) { reply in
                pages.add(reply[key]?.arrayValue ?? [], row: row)
                return true
            }
            return pages.finish(empty: empty)
        }
        let reply = try client.call(method, parameters)
        let items = reply[key]?.arrayValue ?? []
        if json {
            Output.json(.array(items))
        } else if items.isEmpty {
            print(empty)
        } else {
            Output.table(header, items.map(row), style: style)
        }
        moreLine(reply, noun: noun, json: json)
    }

    /// The line under a page when more follow: how many, and how to see them (stderr with --json).
    static func moreLine(_ reply: [String: JSONValue], noun: String, json: Bool) {
        guard let next = reply["next"]?.stringValue else { return }
        let count = Int(reply["remaining"]?.intValue ?? 0)
        let more =
            reply["remainingAtLeast"] == true
            ? "at least \(count) more \(noun)s" : count == 1 ? "1 more \(noun)" : "\(count) more \(noun)s"
        let line = "\(more): add --all to see them all; the next page: --after \(next)"
        if json { Output.error(line) } else { print(line) }
    }
}

extension DeadlineParty: ExpressibleByArgument {}

// MARK: - history

package struct History: DaemonCommand {
    package static let configuration = CommandConfiguration(
        abstract: "A case's events as stored, with their metadata.",
        discussion: """
            --payload also prints each event's payload, its instants in RFC 3339 (Pacific) and its UUIDs in lower case. \
            --json prints an array of io.imr.Cases HistoryEntry objects: position, version, eventId, type, schemaVersion, \
            recordedAt, actor, commandId, correlationId, payload (the payload as stored: instants in seconds since 1970).
            """
    )
    @OptionGroup var read: ReadOptions
    @Argument(help: "The case.") var caseId: String
    @Flag(help: "Show each event's payload.") var payload = false
    package var connection: ConnectionOptions { read.connection }
    package init() {}

    package func run(_ client: DaemonClient) throws {
        let events = try everyPage(client, "io.imr.Cases.History", ["caseId": .string(caseId)], key: "events")
        if read.json { return Output.json(.array(events)) }
        Output.table(
            ["POSITION", "VERSION", "RECORDED", "TYPE", "ACTOR", "COMMAND"],
            events.map { e in
                [
                    e.at("position").text, e.at("version").text, e.at("recordedAt").text, e.at("type").text,
                    e.at("actor").text, e.at("commandId").text.lowercased(),
                ]
            }
        )
        if payload {
            for e in events {
                print("\(e.at("version").text) \(e.at("type").text) \(Output.compact(Self.readable(e.at("payload"))))")
            }
        }
    }

    /// A payload as a person reads it: instants (stored as seconds since 1970 under names
    /// ending in "At") as RFC 3339 in Pacific time, UUIDs in lower case.
    static func readable(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let fields):
            var out: [String: JSONValue] = [:]
            for (key, field) in fields {
                if key.hasSuffix("At"), case .int(let seconds) = field {
                    out[key] = .string(Pacific.rfc3339(Date(timeIntervalSince1970: TimeInterval(seconds))))
                } else {
                    out[key] = readable(field)
                }
            }
            return .object(out)
        case .array(let elements):
            return .array(elements.map(readable))
        case .string(let text) where UUID(uuidString: text) != nil:
            return .string(text.lowercased())
        default:
            return value
        }
    }
}

// MARK: - admin

package struct Status: DaemonCommand {
    package static let configuration = CommandConfiguration(
        abstract:
            "The daemon: version, uptime, database size, head position, open cases, read models, and its figures since start.",
        discussion:
            "The figures (commands, refusals, alerts, connections, calls, memory) are those the [metrics] Prometheus file exports. --json prints the io.imr.Admin.Status reply."
    )
    @OptionGroup var read: ReadOptions
    package var connection: ConnectionOptions { read.connection }
    package init() {}

    package func run(_ client: DaemonClient) throws {
        let reply = try client.call("io.imr.Admin.Status")
        if read.json { return Output.json(.object(reply)) }
        let s = try DaemonClient.decode(AdminStatus.self, reply, method: "io.imr.Admin.Status")
        let uptime = Int(s.uptimeSeconds)
        print("imr-daemon \(s.version) at \(client.socketPath)")
        print(
            "  up since       \(Pacific.rfc3339(s.startedAt)) (\(uptime / 86400)d \(uptime % 86400 / 3600)h \(uptime % 3600 / 60)m)"
        )
        print("  database       \(s.databasePath), \(String(format: "%.1f", Double(s.databaseBytes) / 1_048_576)) MiB")
        print("  head position  \(s.headPosition)")
        print("  open cases     \(s.openCases)")
        for p in s.projections {
            if let to = p.rebuildingTo {
                print(
                    "  read model     \(p.name) being rebuilt from the log, up to position \(to) (its lists are incomplete until then)"
                )
            } else {
                print("  read model     \(p.name) at \(p.checkpoint)")
            }
        }
        guard let f = s.figures else { return }
        let service = f.service
        print(
            "  since start    \(service.commandsRecorded) commands recorded (\(service.eventsAppendedByCommands) events), "
                + "\(service.commandsAlreadyRecorded) already recorded, \(service.commandsRefused) refused by the lifecycle, "
                + "\(service.commandsInvalid) with invalid values, \(service.commandsFailed) failed; "
                + String(format: "slowest %.0f ms", service.slowestCommandMs)
        )
        print("  access         \(service.accessRefusals) calls refused for lack of a role")
        print(
            "  alerts         \(service.alertsRaised) raised (\(service.alertsRaisedLate) late), "
                + "\(service.schedulerPasses) scheduler passes (\(service.schedulerFailures) failed), "
                + String(format: "largest lag %.0f s", service.largestAlertLagSeconds)
        )
        if let server = f.server {
            print(
                "  connections    \(server.connectionsOpen) open, \(server.connectionsAccepted) accepted, "
                    + "\(server.connectionsRefused) refused at a limit, \(server.messagesRejected) malformed messages rejected"
            )
            print("  calls          \(server.calls) answered, \(server.failedCalls) with an error")
        }
        print(
            "  process        \(String(format: "%.1f", Double(f.residentBytes) / 1_048_576)) MiB resident, \(f.openDescriptors) open descriptors"
        )
    }
}

package struct Verify: DaemonCommand {
    package static let configuration = CommandConfiguration(
        abstract:
            "Recompute the log's hash chain and check its head anchor; exit 1 when an event was altered or the log's tail deleted (admins).",
        discussion: "--json prints the io.imr.Admin.Verify reply (missingFrom: the first position of a deleted tail)."
    )
    @OptionGroup var read: ReadOptions
    package var connection: ConnectionOptions { read.connection }
    package init() {}

    package func run(_ client: DaemonClient) throws {
        let reply = try client.call("io.imr.Admin.Verify")
        let v = try DaemonClient.decode(VerifyReply.self, reply, method: "io.imr.Admin.Verify")
        if read.json {
            Output.json(.object(reply))
        } else if v.intact {
            print("the log is intact: \(v.eventsChecked) events checked up to position \(v.headPosition)")
        }
        if !v.intact, let missingFrom = v.missingFrom {
            throw CommandFailure(
                "\(v.problem ?? "the log's tail is missing"); the first missing position is \(missingFrom): "
                    + "restore the latest backup and call support",
                status: .refused
            )
        }
        if !v.intact {
            throw CommandFailure(
                "the log was altered at position \(v.firstBadPosition.map(String.init) ?? "?"): \(v.problem ?? ""); "
                    + "restore the latest backup and call support",
                status: .refused
            )
        }
    }
}

package struct Backup: DaemonCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Write a consistent copy of the database while the daemon runs (admins).",
        discussion: """
            The daemon writes the copy into its backup directory (store.backup_directory in \
            /etc/imr/imr-daemon.toml, default /var/lib/imr/backups), as NAME: letters, digits, '.', '_' \
            and '-' (no path). Without NAME it is imr-YYYYMMDD-HHMMSS.sqlite. An existing file is \
            replaced only with --force. The reply names the full path; --json prints the \
            io.imr.Admin.Backup reply. Exit 73 when the copy cannot be created as asked (bad name, \
            file exists), 74 when writing it failed (disk full, I/O error).
            """
    )
    @OptionGroup var read: ReadOptions
    @Argument(help: "The backup's file name in the daemon's backup directory (default: imr-YYYYMMDD-HHMMSS.sqlite).")
    var name: String?
    @Flag(help: "Replace an existing backup of that name.") var force = false
    package var connection: ConnectionOptions { read.connection }
    package init() {}

    package func validate() throws {
        if let name, name.contains("/") {
            throw ValidationError(
                "'\(name)' is a path; give a file name: the daemon writes backups only into its backup directory (store.backup_directory)"
            )
        }
    }

    package func run(_ client: DaemonClient) throws {
        let reply = try client.call(
            "io.imr.Admin.Backup",
            try WireFormat.object(BackupRequest(name: name, force: force ? true : nil))
        )
        if read.json { return Output.json(.object(reply)) }
        let b = try DaemonClient.decode(BackupReply.self, reply, method: "io.imr.Admin.Backup")
        print("backed up \(b.events) events (head position \(b.headPosition)) to \(b.path)")
    }
}

package struct Rebuild: DaemonCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Drop and rebuild the read models from the log (admins).",
        discussion: """
            The read models are rebuilt together: the log is read once, case by case, their list indexes \
            are created at the end, then what was recorded meanwhile is applied. Commands go on meanwhile \
            (they wait while an index is created); lists that read a read model being rebuilt are refused \
            (exit 75) until it ends. How far it has come goes to stderr (on a terminal a line rewritten each second, \
            otherwise a line every 10 seconds); the last line says how many events it read and how fast. \
            --json prints the last io.imr.Admin.Rebuild reply.
            """
    )
    @OptionGroup var read: ReadOptions
    @Argument(help: "One read model (default: all).") var projection: String?
    package var connection: ConnectionOptions { read.connection }
    package init() {}

    package func run(_ client: DaemonClient) throws {
        let terminal = isatty(STDERR_FILENO) == 1
        var final: [String: JSONValue] = [:]
        var lastLine = ContinuousClock.now
        var rewriting = false
        try client.stream("io.imr.Admin.Rebuild", try WireFormat.object(RebuildRequest(projection: projection))) {
            reply in
            final = reply
            let step = try DaemonClient.decode(RebuildReply.self, reply, method: "io.imr.Admin.Rebuild")
            guard step.rebuilt.isEmpty, let progress = step.progress, !read.json else { return true }
            let line = "rebuilding: \(progress.words)"
            if terminal {
                FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
                rewriting = true
            } else if ContinuousClock.now - lastLine >= .seconds(10) {
                lastLine = ContinuousClock.now
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
            return true
        }
        if rewriting { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        if read.json { return Output.json(.object(final)) }
        let r = try DaemonClient.decode(RebuildReply.self, final, method: "io.imr.Admin.Rebuild")
        let rebuilt = r.rebuilt.joined(separator: ", ")
        if let p = r.progress {
            print("rebuilt \(rebuilt): \(p.events) events read in \(p.seconds) s (\(p.eventsPerSecond) events/s)")
        } else {
            print("rebuilt \(rebuilt)")
        }
    }
}
