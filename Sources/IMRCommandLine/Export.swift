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
    @Option(name: [.short, .long], help: "Write to this file instead of standard output.") var output: String?
    @Flag(help: "Only deadlines of my cases (the coordinator is my user name).") var mine = false
    @Option(help: "Only this coordinator's deadlines.") var coordinator: String?

    func validate() throws {
        if mine && coordinator != nil { throw ValidationError("give --mine or --coordinator, not both") }
    }

    var coordinatorFilter: String? { mine ? currentUserName() : coordinator }

    func write(_ text: String) throws {
        guard let output else { return FileHandle.standardOutput.write(Data(text.utf8)) }
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
        } catch {
            throw CommandFailure("cannot write \(output): \(error.localizedDescription)", status: .dataError)
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
            """
    )
    @OptionGroup var options: ExportOptions
    var connection: ConnectionOptions { options.connection }

    func run(_ client: DaemonClient) throws {
        let deadlines = try everyRow(
            client,
            DeadlineBoardFilter(coordinator: options.coordinatorFilter, withAlerts: true)
        )
        try options.write(ICalendar.document(deadlines, now: Date()))
    }
}

struct ExportCSV: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "csv",
        abstract: "A CSV file (RFC 4180) of running deadlines with their case, or of cases with --cases.",
        discussion: """
            Deadline columns: deadline_id, case_id, claim_number, coordinator, stage, rule, party, items, due, due_date, status, citation.
            Case columns (--cases): case_id, claim_number, employer, claims_administrator, coordinator, date_of_injury, stage, open, imr_case_numbers, items, next_rule, next_due.
            """
    )
    @OptionGroup var options: ExportOptions
    @Flag(help: "One row per case (open and closed) instead of one per deadline.") var cases = false
    var connection: ConnectionOptions { options.connection }

    func run(_ client: DaemonClient) throws {
        // Every case, open and closed.
        let list = try everyRow(client, CaseListFilter(open: nil, coordinator: options.coordinatorFilter))
        var rows: [[String]]
        if cases {
            rows = [
                [
                    "case_id", "claim_number", "employer", "claims_administrator", "coordinator", "date_of_injury",
                    "stage", "open",
                    "imr_case_numbers", "items", "next_rule", "next_due",
                ]
            ]
            rows += list.map { c in
                [
                    c.caseId, c.claimNumber, c.employer, c.claimsAdministrator, c.coordinator, c.dateOfInjury, c.stage,
                    c.isOpen ? "yes" : "no", c.imrCaseNumbers.joined(separator: " "), String(c.items),
                    c.nextRule ?? "", c.nextDue ?? "",
                ]
            }
        } else {
            let byCase = Dictionary(list.map { ($0.caseId, $0) }, uniquingKeysWith: { a, _ in a })
            let deadlines = try everyRow(client, DeadlineBoardFilter(coordinator: options.coordinatorFilter))
            rows = [
                [
                    "deadline_id", "case_id", "claim_number", "coordinator", "stage", "rule", "party", "items", "due",
                    "due_date", "status", "citation",
                ]
            ]
            rows += deadlines.map { row in
                let (d, c) = (row.deadline, byCase[row.deadline.caseId.rawValue])
                return [
                    d.id, d.caseId.rawValue, c?.claimNumber ?? "", row.coordinator ?? "", c?.stage ?? "",
                    d.rule.rawValue,
                    d.party.rawValue, d.itemIds.map(\.rawValue).joined(separator: " "), Pacific.rfc3339(d.due),
                    d.dueDate.iso, d.status.rawValue, d.citation,
                ]
            }
        }
        try options.write(CSV.document(rows))
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

/// iCalendar (RFC 5545) text for deadlines.
enum ICalendar {
    static func document(_ deadlines: [DeadlineRow], now: Date) -> String {
        var lines = [
            "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//imr//imr-ctl//EN", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
            "X-WR-CALNAME:imr deadlines", "X-WR-TIMEZONE:America/Los_Angeles",
        ]
        for d in deadlines { lines += event(d, now: now) }
        lines.append("END:VCALENDAR")
        return lines.map(fold).joined(separator: "\r\n") + "\r\n"
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

    static func utc(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    static func compact(_ day: LocalDate) -> String { day.iso.replacingOccurrences(of: "-", with: "") }

    /// TEXT escaping (RFC 5545 3.3.11).
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ";", with: "\\;")
            .replacingOccurrences(of: ",", with: "\\,").replacingOccurrences(of: "\r\n", with: "\\n")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    /// Folds a content line at 75 octets without splitting a UTF-8 character (RFC 5545 3.1).
    static func fold(_ line: String) -> String {
        var out = ""
        var count = 0
        for character in line {
            let size = String(character).utf8.count
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
