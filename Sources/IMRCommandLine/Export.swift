import ArgumentParser
import Foundation
import IMRWire
import Varlink
import Workflow

/// `imr-ctl export`: the board for calendar apps and spreadsheets.
package struct Export: ParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Export running deadlines as iCalendar, or cases and deadlines as CSV.",
        subcommands: [ExportICS.self, ExportCSV.self]
    )
    package init() {}
}

/// Options shared by both exports.
struct ExportOptions: ParsableArguments {
    @OptionGroup var connection: ConnectionOptions
    @Option(
        name: [.short, .long],
        help: ArgumentHelp(
            "Write to this file instead of standard output; it appears only once the export is complete.",
            valueName: "file"
        )
    )
    var output: String?
    @Flag(help: "Only deadlines of my cases (the coordinator is my user name).") var mine = false
    @Option(help: "Only this coordinator's deadlines.") var coordinator: String?
    /// Rows asked of the daemon a reply: the most it sends unless a test makes pages small to
    /// cross many of them with few rows.
    @Option(help: .hidden) var pageSize: Int = largestPage

    func validate() throws {
        if mine && coordinator != nil { throw ValidationError("give --mine or --coordinator, not both") }
        if output?.isEmpty == true {
            throw ValidationError("-o needs a file name (or leave it out for standard output)")
        }
        guard (1...largestPage).contains(pageSize) else {
            throw ValidationError("--page-size \(pageSize) is not a page size: give 1 to \(largestPage) rows")
        }
    }

    var coordinatorFilter: String? { mine ? currentUserName() : coordinator }

    /// Runs `body` with the output open; `body` writes each page as it arrives. The file (`-o`)
    /// takes its name only once `body` has written everything; on a failure it is removed and
    /// the message adds what the failure left (``ExportOutput/whatAFailureLeaves``).
    func writing(_ body: (ExportOutput) throws -> Void) throws {
        let out = try output.map { try ExportOutput(path: $0) } ?? ExportOutput()
        do {
            try body(out)
            try out.finish()
        } catch let failure as CommandFailure {
            out.discard()
            throw CommandFailure("\(failure.message); \(out.whatAFailureLeaves)", status: failure.status)
        } catch {
            out.discard()
            throw error
        }
    }
}

struct ExportICS: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "ics",
        abstract: "An iCalendar file of running deadlines, one event each, with alarms at the alert lead times.",
        discussion: """
            Each event's UID is the deadline's stable id, so importing a newer export updates the events \
            instead of duplicating them. Day deadlines are all-day events on their due date; hour-based ones \
            (such as the 72-hour expedited UR) are timed events at their due instant. Each event has an alarm \
            at each of the deadline's alert times, as the daemon's alert policy sets them (by default 5 and 2 \
            business days before and 08:00 on the due day; 24 and 4 hours before an hour-based deadline).

            The events are written a page (1,000 deadlines) at a time as the daemon sends them, so a board of \
            any size takes little memory. With -o the file is written under a temporary name beside it and \
            renamed when complete: a failed export leaves the file as it was.
            """
    )
    @OptionGroup var options: ExportOptions
    var connection: ConnectionOptions { options.connection }

    func run(_ client: DaemonClient) throws {
        // One DTSTAMP for every event of the calendar.
        let now = Date()
        try options.writing { out in
            try out.write(ICalendar.header)
            try forEachPage(
                client,
                DeadlineBoardFilter(coordinator: options.coordinatorFilter, withAlerts: true),
                pageSize: options.pageSize
            ) { deadlines in
                try out.write(ICalendar.events(deadlines, now: now))
            }
            try out.write(ICalendar.footer)
        }
    }
}

struct ExportCSV: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "csv",
        abstract: "A CSV file (RFC 4180) of running deadlines with their case, or of cases with --cases.",
        discussion: """
            Deadline columns: deadline_id, case_id, claim_number, coordinator, stage, rule, party, items, due, due_date, status, citation.
            Case columns (--cases): case_id, claim_number, employer, claims_administrator, coordinator, date_of_injury, stage, open, imr_case_numbers, items, next_rule, next_due.

            The rows are written a page (1,000 rows) at a time as the daemon sends them, so a caseload of any \
            size takes little memory; each deadline's claim number and stage come with it from the daemon. \
            With -o the file is written under a temporary name beside it and renamed when complete: a failed \
            export leaves the file as it was.
            """
    )
    @OptionGroup var options: ExportOptions
    @Flag(help: "One row per case (open and closed) instead of one per deadline.") var cases = false
    var connection: ConnectionOptions { options.connection }

    /// The columns of `--cases`, as the help above lists them.
    static let caseHeader = [
        "case_id", "claim_number", "employer", "claims_administrator", "coordinator", "date_of_injury", "stage", "open",
        "imr_case_numbers", "items", "next_rule", "next_due",
    ]

    /// The columns of the deadline CSV, as the help above lists them.
    static let deadlineHeader = [
        "deadline_id", "case_id", "claim_number", "coordinator", "stage", "rule", "party", "items", "due", "due_date",
        "status", "citation",
    ]

    func run(_ client: DaemonClient) throws {
        try options.writing { out in
            if cases {
                try out.write(CSV.document([Self.caseHeader]))
                // Every case, open and closed.
                try forEachPage(
                    client,
                    CaseListFilter(open: nil, coordinator: options.coordinatorFilter),
                    pageSize: options.pageSize
                ) { page in
                    try out.write(CSV.document(page.map(Self.caseRow)))
                }
            } else {
                try out.write(CSV.document([Self.deadlineHeader]))
                try forEachPage(
                    client,
                    DeadlineBoardFilter(coordinator: options.coordinatorFilter, withCase: true),
                    pageSize: options.pageSize
                ) { page in
                    try out.write(CSV.document(page.map(Self.deadlineRow)))
                }
            }
        }
    }

    static func caseRow(_ c: CaseSummary) -> [String] {
        [
            c.caseId, c.claimNumber, c.employer, c.claimsAdministrator, c.coordinator, c.dateOfInjury, c.stage,
            c.isOpen ? "yes" : "no", c.imrCaseNumbers.joined(separator: " "), String(c.items), c.nextRule ?? "",
            c.nextDue ?? "",
        ]
    }

    static func deadlineRow(_ row: DeadlineRow) -> [String] {
        let d = row.deadline
        return [
            d.id, d.caseId.rawValue, row.claimNumber ?? "", row.coordinator ?? "", row.stage ?? "", d.rule.rawValue,
            d.party.rawValue, d.itemIds.map(\.rawValue).joined(separator: " "), Pacific.rfc3339(d.due), d.dueDate.iso,
            d.status.rawValue, d.citation,
        ]
    }
}

/// RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled, CRLF lines.
enum CSV {
    static func document(_ rows: [[String]]) -> String {
        rows.map { $0.map(field).joined(separator: ",") + "\r\n" }.joined()
    }

    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// iCalendar (RFC 5545) text for deadlines: the header, the events a page at a time, the footer.
enum ICalendar {
    /// The calendar's opening lines.
    static var header: String {
        lines([
            "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//imr//imr-ctl//EN", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
            "X-WR-CALNAME:imr deadlines", "X-WR-TIMEZONE:America/Los_Angeles",
        ])
    }

    /// The calendar's closing line.
    static var footer: String { lines(["END:VCALENDAR"]) }

    /// One event per deadline, folded, each line ending in CRLF.
    static func events(_ deadlines: [DeadlineRow], now: Date) -> String {
        lines(deadlines.flatMap { event($0, now: now) })
    }

    /// A whole calendar of these deadlines: ``header``, ``events(_:now:)``, ``footer``.
    static func document(_ deadlines: [DeadlineRow], now: Date) -> String {
        header + events(deadlines, now: now) + footer
    }

    /// Content lines folded and each ended with CRLF.
    static func lines(_ lines: [String]) -> String {
        lines.map { fold($0) + "\r\n" }.joined()
    }

    static func event(_ row: DeadlineRow, now: Date) -> [String] {
        let d = row.deadline
        let items = d.itemIds.map(\.rawValue).joined(separator: ", ")
        let summary =
            (d.status == .missed ? "OVERDUE: " : "") + "\(d.rule.rawValue): case \(d.caseId.rawValue)"
            + (items.isEmpty ? "" : " (items \(items))")
        var description = [
            "\(d.rule.rawValue) due \(Pacific.rfc3339(d.due))", d.citation, "Party: \(d.party.rawValue)",
        ]
        description += d.explanation.map { "- " + $0 }
        description += d.assumptions.map { "Assumption: " + $0 }
        var lines = ["BEGIN:VEVENT", "UID:\(escape(d.id))@imr", "DTSTAMP:\(utc(now))"]
        if d.isExactInstant {
            lines += ["DTSTART:\(utc(d.due))", "DURATION:PT15M"]
        } else {
            lines += [
                "DTSTART;VALUE=DATE:\(compact(d.dueDate))", "DTEND;VALUE=DATE:\(compact(d.dueDate.adding(days: 1)))",
            ]
        }
        lines += [
            "SUMMARY:\(escape(summary))", "DESCRIPTION:\(escape(description.joined(separator: "\n")))",
            "CATEGORIES:\(escape(d.party.rawValue))", "STATUS:CONFIRMED", "TRANSP:TRANSPARENT",
        ]
        // The daemon's alert times before the due time (the overdue alert has no place in a calendar).
        for alert in row.alerts ?? [] where alert.at < d.due {
            lines += [
                "BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:\(escape("\(alert.level): \(summary)"))",
                "TRIGGER;VALUE=DATE-TIME:\(utc(alert.at))", "END:VALARM",
            ]
        }
        lines.append("END:VEVENT")
        return lines
    }

    /// `YYYYMMDDTHHMMSSZ`, worked out from the seconds since 1970 (the day by
    /// ``LocalDate/init(dayNumber:)``): a `Calendar` took most of an export's time.
    static func utc(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : String(n) }
        return compact(LocalDate(dayNumber: days)) + "T" + two(secondOfDay / 3_600) + two(secondOfDay / 60 % 60)
            + two(secondOfDay % 60) + "Z"
    }

    static func compact(_ day: LocalDate) -> String { day.iso.replacingOccurrences(of: "-", with: "") }

    /// TEXT escaping (RFC 5545 3.3.11), in one pass.
    static func escape(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x5C || $0 == 0x3B || $0 == 0x2C || $0 == 0x0A || $0 == 0x0D }) else {
            return text
        }
        var out = String.UnicodeScalarView()
        var previousCR = false
        for scalar in text.unicodeScalars {
            if previousCR, scalar != "\n" { out.append("\r") }
            previousCR = false
            switch scalar {
            case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
            case ";": out.append(contentsOf: "\\;".unicodeScalars)
            case ",": out.append(contentsOf: "\\,".unicodeScalars)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": previousCR = true
            default: out.append(scalar)
            }
        }
        if previousCR { out.append("\r") }
        return String(out)
    }

    /// Folds a content line at 75 octets without splitting a UTF-8 character (RFC 5545 3.1).
    static func fold(_ line: String) -> String {
        if line.utf8.count <= 75 { return line }
        var out = ""
        var count = 0
        for character in line {
            let size = character.utf8.count
            if count + size > 75 {
                out += "\r\n "
                count = 1
            }
            out.append(character)
            count += size
        }
        return out
    }
}
