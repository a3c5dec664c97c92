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

/// An instant as "YYYY-MM-DD HH:MM" in Pacific time.
func pacificMinute(_ instant: Date) -> String {
    let seconds = Pacific.secondsSinceMidnight(of: instant)
    return Pacific.date(of: instant).iso + String(format: " %02d:%02d", seconds / 3600, (seconds % 3600) / 60)
}

/// A due time as a coordinator reads it: the date, and the time when the deadline is an exact instant.
func dueText(_ deadline: CaseDeadline) -> String {
    deadline.isExactInstant ? pacificMinute(deadline.due) : deadline.dueDate.iso
}

/// Whole days from today (Pacific) to a deadline's due date: "today", "in 3d", "2d ago".
func relativeDays(_ deadline: CaseDeadline, now: Date = Date()) -> String {
    let n = Pacific.date(of: now).days(until: deadline.dueDate)
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

    var request: CaseListFilter {
        CaseListFilter(
            open: includeClosed ? nil : !closed,
            stage: stage,
            coordinator: mine ? currentUserName() : coordinator,
            claimNumber: claim,
            imrCaseNumber: imrCase,
            limit: limit,
            after: after,
            includeHistory: includeHistory ? true : nil
        )
    }

    package func run(_ client: DaemonClient) throws {
        if let search {
            let request = CaseSearchRequest(text: search, limit: limit)
            let reply = try client.call(request)
            if read.json { return Output.json(reply["cases"] ?? .array([])) }
            let found = try DaemonClient.decode(CaseSearchReply.self, reply, method: CaseSearchRequest.method)
            let cases = found.cases
            guard !cases.isEmpty else {
                return print(
                    "no case's id, claim number, IMR case number, employer or administrator starts with '\(search)'"
                )
            }
            Output.table(Self.header, cases.map(Self.row), style: Self.style)
            if found.more { print("more cases match; type more of it, or --limit up to 100") }
            return
        }
        try PagedOutput.show(
            client,
            request,
            noun: "case",
            all: all,
            json: read.json,
            header: includeHistory ? Self.header + ["HISTORY"] : Self.header,
            row: { [includeHistory] in includeHistory ? Self.rowWithHistory($0) : Self.row($0) },
            style: Self.style,
            empty: after == nil ? "no cases match" : "no cases after that cursor"
        )
    }

    static let header = ["CASE", "CLAIM", "COORDINATOR", "STAGE", "IMR CASE", "ITEMS", "NEXT DEADLINE", "DUE", ""]

    static func row(_ c: CaseSummary) -> [String] {
        let now = Date()
        let next = c.nextDue.flatMap(WireInstant.parse)
        let due = next.map { Pacific.date(of: $0).iso } ?? "-"
        let relative: String =
            next.map { d in
                let n = Pacific.date(of: now).days(until: Pacific.date(of: d))
                return d <= now ? "overdue" : n == 0 ? "today" : "in \(n)d"
            } ?? ""
        return [
            c.caseId, c.claimNumber, c.coordinator, stageWords(c.stage), c.imrCaseNumbers.joined(separator: ","),
            String(c.items), c.nextRule ?? "-", due, relative,
        ]
    }

    /// The row with a last column for the misses kept as history: "2 missed, last 2016-05-03".
    static func rowWithHistory(_ c: CaseSummary) -> [String] {
        let count = c.missedInHistory ?? 0
        let last = c.lastMissedDue.flatMap(WireInstant.parse).map { Pacific.date(of: $0).iso }
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
        let reply = try client.call(CaseGetRequest(caseId: caseId))
        if read.json { return Output.json(reply["case"] ?? .null) }
        let c = try DaemonClient.decode(CaseReply.self, reply, method: CaseGetRequest.method).case
        // Stored text is shown terminal-safe: a note or a name cannot forge a line.
        let safe = Output.terminalSafe
        print(
            Output.styled("Case \(safe(c.caseId ?? caseId))", .bold)
                + "  \(safe(stageWords(c.stage)))\(c.isOpen ? "" : " (closed)")"
        )
        let facts: [(String, String?)] = [
            ("claim", c.claimNumber), ("employer", c.employer), ("claims administrator", c.claimsAdministrator),
            ("injured worker", c.injuredWorkerReference), ("date of injury", c.dateOfInjury?.iso),
            ("coordinator", c.coordinator), ("closed on", c.closedOn?.iso), ("withdrawn on", c.withdrawnOn?.iso),
        ]
        for (label, value) in facts {
            if let value { print("  \(label.padding(toLength: 21, withPad: " ", startingAt: 0))\(safe(value))") }
        }
        for rfa in c.rfas {
            print(
                "  RFA \(safe(rfa.rfaId)): received \(Pacific.rfc3339(rfa.receivedAt)) by \(safe(rfa.transmission)), "
                    + "\(safe(rfa.reviewType))\(rfa.expedited ? ", expedited" : ""), physician \(safe(rfa.physician))"
            )
        }
        print("\n" + Output.styled("Items", .bold))
        Output.table(
            ["ITEM", "RFA", "STATUS", "UR", "IMR CASE", "IMR", "DESCRIPTION"],
            c.items.map { i in
                [
                    i.itemId, i.rfaId, i.status,
                    [i.urOutcome, i.authorizedPortion].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": "),
                    i.imrCaseNumber ?? "", i.imrDecision ?? "", i.description,
                ]
            }
        )
        print("\n" + Output.styled("Deadlines", .bold))
        if c.deadlines.isEmpty { print("  none yet") }
        for d in c.deadlines {
            let status = d.status.rawValue
            let items = safe(d.itemIds.map(\.rawValue).joined(separator: ","))
            let head =
                "  \(status.padding(toLength: 15, withPad: " ", startingAt: 0))\(dueText(d).padding(toLength: 17, withPad: " ", startingAt: 0))"
                + "\(d.rule.rawValue)\(items.isEmpty ? "" : " (items \(items))")  \(safe(d.citation))"
            print(Output.styled(head, deadlineStyle(status)))
            if let note = d.statusNote { print("      \(safe(note))") }
            if explain {
                for line in d.explanation { print("      - \(safe(line))") }
                for line in d.assumptions { print("      assumption: \(safe(line))") }
            }
        }
        print("\n" + Output.styled("Timeline", .bold))
        Output.table(
            ["VERSION", "RECORDED", "EVENT", "BY"],
            c.timeline.map { [String($0.version), Pacific.rfc3339($0.recordedAt), $0.type, $0.actor ?? ""] }
        )
        printOCRFacts(c.timeline)
        if !c.notes.isEmpty {
            print("\n" + Output.styled("Notes", .bold))
            for n in c.notes { print("  \(Pacific.rfc3339(n.writtenAt))  \(safe(n.text))") }
        }
        if !c.corrections.isEmpty {
            print("\n" + Output.styled("Corrections", .bold))
            for k in c.corrections {
                // "event 9 corrected event 5 (IMRAssigned): assignedOn 2024-03-20 → 2024-03-21 (notice dated a day later)"
                let type = k.correctedType.map { " (\(safe($0)))" } ?? ""
                let change = k.previous.map { "\(safe($0)) → \(safe(k.value))" } ?? "→ \(safe(k.value))"
                print(
                    "  event \(k.version) corrected event \(k.correctedVersion)\(type): \(safe(k.field)) \(change) (\(safe(k.reason)))"
                )
            }
        }
    }
}

extension Show {
    /// The facts recorded from letters read through OCR, each with the engine's confidence,
    /// so that a coordinator knows what to check against the paper; nothing for other cases.
    func printOCRFacts(_ timeline: [CaseView.Event]) {
        var seen = Set<String>()
        var lines: [String] = []
        for event in timeline {
            guard let ocr = event.importedFromOCR, seen.insert(event.importedFrom ?? "").inserted else { continue }
            let confidence = ocr.confidence.map { ", mean confidence \(Int($0.rounded()))%" } ?? ""
            let pages = ocr.pages.map(String.init).joined(separator: ",")
            lines.append(
                Output.terminalSafe(
                    "  \(event.importedFrom ?? "?"): read through OCR (\(ocr.engine), page\(pages.contains(",") ? "s" : "") \(pages)\(confidence)), events from version \(event.version)"
                )
            )
            for fact in ocr.facts {
                let item = fact.itemId.map { "item \($0) " } ?? ""
                let check = fact.confidence < 80 ? "  check it" : ""
                lines.append(
                    Output.terminalSafe("    \(item)\(fact.fact): \(Int(fact.confidence.rounded()))%\(check)")
                )
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

    func request() throws -> DeadlineBoardFilter {
        DeadlineBoardFilter(
            coordinator: mine ? currentUserName() : coordinator,
            rule: rule,
            party: party,
            caseId: caseId,
            withinDays: try within.map { try days($0, option: "--within") },
            overdue: overdue ? true : pending ? false : nil,
            limit: limit,
            after: after,
            includeHistory: includeHistory ? true : nil
        )
    }

    package func run(_ client: DaemonClient) throws {
        if includeHistory, let caseId {
            // The case's running deadlines and its history, from the case's own derivation.
            let reply = try client.call(DeadlinesForCaseRequest(caseId: caseId))
            let all = try DaemonClient.decode(DeadlinesOfCase.self, reply, method: DeadlinesForCaseRequest.method)
            // The rows as the daemon sent them (for --json), beside the decoded deadlines.
            let shown = zip(all.deadlines, reply["deadlines"]?.arrayValue ?? []).filter { d, _ in
                d.supersededBy == nil && (d.status == .pending || d.status == .missed)
                    && (rule.map { d.rule.rawValue == $0 } ?? true) && (party.map { d.party.rawValue == $0 } ?? true)
            }.sorted { $0.0.due < $1.0.due }
            if read.json { return Output.json(.array(shown.map(\.1))) }
            guard !shown.isEmpty else {
                return print("case \(caseId) has no running deadline and no miss kept as history")
            }
            Output.table(
                Self.header,
                shown.map { Self.row(DeadlineRow(deadline: $0.0, coordinator: nil, alerts: nil)) },
                style: Self.style
            )
            for (d, _) in shown {
                if let why = d.history { print("  \(d.rule.rawValue): \(Output.terminalSafe(why))") }
            }
            return
        }
        try PagedOutput.show(
            client,
            try request(),
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

    static func row(_ row: DeadlineRow) -> [String] {
        let d = row.deadline
        return [
            dueText(d), relativeDays(d), d.history != nil ? "history" : d.status.rawValue, d.rule.rawValue,
            d.caseId.rawValue, d.itemIds.map(\.rawValue).joined(separator: ","), d.party.rawValue,
            row.coordinator ?? "",
        ]
    }

    static func style(_ row: [String]) -> Output.Style? {
        row[2] == "missed" ? .red : row[2] == "history" ? .dim : row[1] == "today" ? .yellow : nil
    }
}

/// A list printed page by page as the daemon streams it: the table's columns take their widths
/// from the first page; JSON is one array written element by element, the daemon's objects as
/// they came.
struct PagedOutput<Reply: PagedReply> {
    let method: String
    let json: Bool
    let header: [String]
    let row: (Reply.Row) -> [String]
    let style: ([String]) -> Output.Style?
    private var widths: [Int]?
    private var printed = 0

    init(
        _ method: String,
        json: Bool,
        header: [String],
        row: @escaping (Reply.Row) -> [String],
        style: @escaping ([String]) -> Output.Style?
    ) {
        self.method = method
        self.json = json
        self.header = header
        self.row = row
        self.style = style
        if json { print("[", terminator: "") }
    }

    mutating func add(_ reply: [String: JSONValue]) throws {
        if json {
            for item in reply[Reply.rowsKey]?.arrayValue ?? [] {
                print(printed == 0 ? "\n  " : ",\n  ", terminator: "")
                print(Output.compact(item), terminator: "")
                printed += 1
            }
            return
        }
        let items = try DaemonClient.decode(Reply.self, reply, method: method).rows
        guard !items.isEmpty else { return }
        let rows = items.map { row($0).map(Output.terminalSafe) }
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
    /// otherwise one page (the parameters say which) and the line about the rest, which names
    /// `allFlag` as the way to see every page.
    static func show<Request: WireCall>(
        _ client: DaemonClient,
        _ request: Request,
        noun: String,
        all: Bool,
        allFlag: String = "--all",
        json: Bool,
        header: [String],
        row: @escaping (Reply.Row) -> [String],
        style: @escaping ([String]) -> Output.Style?,
        empty: String
    ) throws where Request.Reply == Reply {
        let method = Request.method
        var pages = PagedOutput(method, json: json, header: header, row: row, style: style)
        if all {
            try client.stream(request) { reply in
                try pages.add(reply)
                return true
            }
            return pages.finish(empty: empty)
        }
        let reply = try client.call(request)
        try pages.add(reply)
        pages.finish(empty: empty)
        moreLine(
            try DaemonClient.decode(PageInfo.self, reply, method: method),
            noun: noun,
            allFlag: allFlag,
            json: json
        )
    }

    /// The line under a page when more follow: how many, and how to see them (stderr with --json).
    static func moreLine(_ page: PageInfo, noun: String, allFlag: String = "--all", json: Bool) {
        guard let next = page.next else { return }
        let count = page.remaining
        let more =
            page.remainingAtLeast == true
            ? "at least \(count) more \(noun)s" : count == 1 ? "1 more \(noun)" : "\(count) more \(noun)s"
        let line = "\(more): add \(allFlag) to see them all; the next page: --after \(next)"
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
        if read.json {
            // A page at a time, the same text as the whole array.
            var array = Output.StreamedArray()
            try eachPage(client, CaseHistoryRequest(caseId: caseId)) { page in
                for entry in page[HistoryPage.rowsKey]?.arrayValue ?? [] {
                    print(array.add(entry), terminator: "")
                }
            }
            return print(array.finish(), terminator: "")
        }
        let events = try everyRow(client, CaseHistoryRequest(caseId: caseId))
        Output.table(
            ["POSITION", "VERSION", "RECORDED", "TYPE", "ACTOR", "COMMAND"],
            events.map { e in
                [
                    String(e.position), String(e.version), Pacific.rfc3339(e.recordedAt), e.type, e.actor ?? "",
                    e.commandId?.lowercased() ?? "",
                ]
            }
        )
        if payload {
            for e in events {
                print("\(e.version) \(e.type) \(Output.compact(Self.readable(e.payload)))")
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
            "The daemon: version, uptime, database size, head position, open cases, who I am to it (user and role), read models, and its figures since start.",
        discussion:
            "The figures (commands, refusals, alerts, connections, calls, the store's commits and the pages they wrote, memory) are those the [metrics] Prometheus file exports. --json prints the io.imr.Admin.Status reply."
    )
    @OptionGroup var read: ReadOptions
    package var connection: ConnectionOptions { read.connection }
    package init() {}

    /// A span of whole seconds as days, hours and minutes ("2d 7h 29m").
    static func span(_ seconds: Int) -> String {
        "\(seconds / 86400)d \(seconds % 86400 / 3600)h \(seconds % 3600 / 60)m"
    }

    /// An alert's lag in seconds under two minutes, else as a span: an alert raised days late
    /// (the daemon stopped over a weekend) reads as days, not 199,791 s.
    package static func lag(_ seconds: Double) -> String {
        seconds < 120 ? String(format: "%.0f s", seconds) : span(Int(seconds))
    }

    /// The alerts raised late, by cause: "0 late", or "12 late: 2 by the daemon, 10 recorded
    /// after their time" (the daemon was stopped or could not raise them, against facts
    /// recorded after the alert's time had passed, which it raised at once).
    package static func late(_ service: ServiceFigures) -> String {
        let late = service.alertsRaisedLate
        guard late > 0 else { return "0 late" }
        let recorded = min(late, service.alertsRaisedLateByRecording)
        return "\(late) late: \(late - recorded) by the daemon, \(recorded) recorded after their time"
    }

    package func run(_ client: DaemonClient) throws {
        let reply = try client.call("io.imr.Admin.Status")
        if read.json { return Output.json(.object(reply)) }
        let s = try DaemonClient.decode(AdminStatus.self, reply, method: "io.imr.Admin.Status")
        let uptime = Int(s.uptimeSeconds)
        print("imr-daemon \(s.version) at \(client.socketPath)")
        print(
            "  up since       \(Pacific.rfc3339(s.startedAt)) (\(Self.span(uptime)))"
        )
        print("  database       \(s.databasePath), \(String(format: "%.1f", Double(s.databaseBytes) / 1_048_576)) MiB")
        print("  head position  \(s.headPosition)")
        print("  open cases     \(s.openCases)")
        if let caller = s.caller { print(Output.terminalSafe("  you            \(caller.user), \(caller.role)")) }
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
            "  alerts         \(service.alertsRaised) raised (\(Self.late(service))), "
                + "\(service.schedulerPasses) scheduler passes (\(service.schedulerFailures) failed), "
                + "largest lag \(Self.lag(service.largestAlertLagSeconds))"
        )
        if let server = f.server {
            print(
                "  connections    \(server.connectionsOpen) open, \(server.connectionsAccepted) accepted, "
                    + "\(server.connectionsRefused) refused at a limit, \(server.messagesRejected) malformed messages rejected"
            )
            print("  calls          \(server.calls) answered, \(server.failedCalls) with an error")
        }
        if let store = f.store {
            let perCommit = store.commits > 0 ? Double(store.pagesWritten) / Double(store.commits) : 0
            let perGroup = store.groups > 0 ? Double(store.writes) / Double(store.groups) : 0
            print(
                "  store          \(store.commits) commits, \(store.pagesWritten) pages written "
                    + String(format: "(%.1f a commit)", perCommit)
                    + "; \(store.writes) writes in \(store.groups) groups "
                    + String(format: "(%.1f a group)", perGroup)
            )
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
    @Argument(help: "One read model (default: all; deadlines brings case_list with it).") var projection: String?
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
            print(
                "rebuilt \(rebuilt): \(p.events) events read in \(p.seconds) s (\(p.eventsPerSecond) events/s)"
                    + (p.phases.map { "; \($0.words)" } ?? "")
            )
        } else {
            print("rebuilt \(rebuilt)")
        }
    }
}
