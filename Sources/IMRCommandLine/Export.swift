import ArgumentParser
import Foundation
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

    var coordinatorFilter: JSONValue { (mine ? currentUserName() : coordinator).map { .string($0) } ?? .null }

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
        let deadlines = try everyPage(
            client,
            "io.imr.Deadlines.List",
            ["coordinator": options.coordinatorFilter, "withAlerts": true],
            key: "deadlines"
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
        let list = try everyPage(
            client,
            "io.imr.Cases.List",
            ["coordinator": options.coordinatorFilter, "open": .null],
            key: "cases"
        )
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
                    c.at("caseId").text, c.at("claimNumber").text, c.at("employer").text,
                    c.at("claimsAdministrator").text,
                    c.at("coordinator").text, c.at("dateOfInjury").text, c.at("stage").text,
                    c.at("isOpen").boolValue == true ? "yes" : "no",
                    c.at("imrCaseNumbers").arrayValue.map(\.text).joined(separator: " "), c.at("items").text,
                    c.at("nextRule").text, c.at("nextDue").text,
                ]
            }
        } else {
            let byCase = Dictionary(list.map { ($0.at("caseId").text, $0) }, uniquingKeysWith: { a, _ in a })
            let deadlines = try everyPage(
                client,
                "io.imr.Deadlines.List",
                ["coordinator": options.coordinatorFilter],
                key: "deadlines"
            )
            rows = [
                [
                    "deadline_id", "case_id", "claim_number", "coordinator", "stage", "rule", "party", "items", "due",
                    "due_date", "status", "citation",
                ]
            ]
            rows += deadlines.map { d in
                let c = byCase[d.at("caseId").text] ?? .null
                return [
                    d.at("id").text, d.at("caseId").text, c.at("claimNumber").text, d.at("coordinator").text,
                    c.at("stage").text,
                    d.at("rule").text, d.at("party").text,
                    d.at("itemIds").arrayValue.map(\.text).joined(separator: " "),
                    d.at("due").text, d.at("dueDate").text, d.at("status").text, d.at("citation").text,
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
    static func document(_ deadlines: [JSONValue], now: Date) -> String {
        var lines = [
            "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//imr//imr-ctl//EN", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
            "X-WR-CALNAME:imr deadlines", "X-WR-TIMEZONE:America/Los_Angeles",
        ]
        for d in deadlines { lines += event(d, now: now) }
        lines.append("END:VCALENDAR")
        return lines.map(fold).joined(separator: "\r\n") + "\r\n"
    }

    static func event(_ d: JSONValue, now: Date) -> [String] {
        guard let due = d.at("due").stringValue.flatMap(WireInstant.parse),
            let dueDate = d.at("dueDate").stringValue.flatMap(LocalDate.init(iso:))
        else { return [] }
        let items = d.at("itemIds").arrayValue.map(\.text).joined(separator: ", ")
        let overdue = d.at("status").text == "missed"
        let summary =
            (overdue ? "OVERDUE: " : "") + "\(d.at("rule").text): case \(d.at("caseId").text)"
            + (items.isEmpty ? "" : " (items \(items))")
        var description = [
            "\(d.at("rule").text) due \(d.at("due").text)", d.at("citation").text, "Party: \(d.at("party").text)",
        ]
        description += d.at("explanation").arrayValue.map { "- " + $0.text }
        description += d.at("assumptions").arrayValue.map { "Assumption: " + $0.text }
        var lines = ["BEGIN:VEVENT", "UID:\(escape(d.at("id").text))@imr", "DTSTAMP:\(utc(now))"]
        if d.at("isExactInstant").boolValue == true {
            lines += ["DTSTART:\(utc(due))", "DURATION:PT15M"]
        } else {
            lines += ["DTSTART;VALUE=DATE:\(compact(dueDate))", "DTEND;VALUE=DATE:\(compact(dueDate.adding(days: 1)))"]
        }
        lines += [
            "SUMMARY:\(escape(summary))", "DESCRIPTION:\(escape(description.joined(separator: "\n")))",
            "CATEGORIES:\(escape(d.at("party").text))", "STATUS:CONFIRMED", "TRANSP:TRANSPARENT",
        ]
        // The daemon's alert times before the due time (the overdue alert has no place in a calendar).
        for alert in d.at("alerts").arrayValue {
            guard let at = alert.at("at").stringValue.flatMap(WireInstant.parse), at < due else { continue }
            lines += [
                "BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:\(escape("\(alert.at("level").text): \(summary)"))",
                "TRIGGER;VALUE=DATE-TIME:\(utc(at))", "END:VALARM",
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
