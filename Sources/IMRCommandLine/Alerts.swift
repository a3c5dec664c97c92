import ArgumentParser
import Foundation
import Varlink
import Workflow

// Deadline alerts (io.imr.Alerts): list or follow the open ones, acknowledge, snooze.

/// The row of an alert in a table: its short id, level, case, rule, due and owner.
private func alertRow(_ a: JSONValue) -> [String] {
    let due = pacificMinute(a.at("due")) ?? ""
    let raised = pacificMinute(a.at("raisedAt")) ?? ""
    return [String(a.at("alertId").text.prefix(8)), a.at("level").text, a.at("caseId").text, a.at("rule").text, due,
            a.at("coordinator").text, raised + (a.at("late").boolValue == true ? " (late)" : "")]
}

private let alertHeader = ["ALERT", "LEVEL", "CASE", "RULE", "DUE", "COORDINATOR", "RAISED"]

private func alertStyle(_ row: [String]) -> Output.Style? {
    row[1] == "overdue" ? .red : row[1] == "due-today" ? .yellow : nil
}

/// The full id of the open alert `text` names: a whole id, or the start of exactly one open
/// alert's id (as the table shows them).
private func resolveAlertId(_ text: String, _ client: DaemonClient) throws -> String {
    let lower = text.lowercased()
    if UUID(uuidString: lower) != nil { return lower }
    guard lower.count >= 4, lower.allSatisfy({ $0.isHexDigit || $0 == "-" }) else {
        throw CommandFailure("'\(text)' is not an alert id; give the id `imr-ctl alerts --all` shows (at least its first 4 characters)", status: .usage)
    }
    let open = try everyPage(client, "io.imr.Alerts.List", [:], key: "alerts")
    let matches = open.compactMap { $0.at("alertId").stringValue }.filter { $0.hasPrefix(lower) }
    switch matches.count {
    case 1: return matches[0]
    case 0: throw CommandFailure("there is no open alert whose id starts with '\(text)'; `imr-ctl alerts --all` lists them", status: .notFound)
    default: throw CommandFailure("'\(text)' starts \(matches.count) alert ids (\(matches.joined(separator: ", "))); give more of it", status: .usage)
    }
}

public struct Alerts: DaemonCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Open deadline alerts: mine by default, everyone's with --all; --follow streams them.",
        discussion: """
            The daemon raises an alert once per deadline and level when its lead time comes: "notice" and "reminder" \
            (5 and 2 business days before a day deadline, 24 and 4 hours before an hour deadline), "due-today" \
            (08:00 Pacific on the due day) and "overdue"; the lead times are set in [alerts] of imr-daemon.toml. An \
            alert raised after its time because the daemon was down is marked late. An alert stays open until \
            acknowledged (imr-ctl ack) or its deadline is met or cancelled; a snoozed one (imr-ctl snooze) is hidden until its snooze ends.
            Mine: alerts whose coordinator is my Unix user name (the daemon reads it from the socket's credentials).
            --follow prints the open alerts, then each new one as it is raised and each snoozed one when its snooze \
            ends, until interrupted or the daemon stops. Should it fall behind (its output read too slowly, \
            more than the daemon's server.follower_queue alerts waiting), the daemon ends its stream with \
            FollowerTooSlow and it follows again: the open alerts are printed again, then the new ones.
            --json prints an array of io.imr.Alerts Alert objects (alertId, deadlineId, caseId, rule, level, due, \
            scheduledAt, raisedAt, late, coordinator, acknowledgedBy, acknowledgedAt, snoozedUntil, position); with \
            --follow, one JSON object per line: {"alert": Alert, "replayed": bool}.
            Examples: imr-ctl alerts; imr-ctl alerts --all; imr-ctl alerts --coordinator maria --json; imr-ctl alerts --follow
            """)
    @OptionGroup var read: ReadOptions
    @Flag(help: "Everyone's open alerts.") var all = false
    @Option(help: "Only this coordinator's alerts.") var coordinator: String?
    @Flag(help: "Print the open alerts, then each new one as it is raised, until interrupted.") var follow = false
    @Option(help: "Show at most this many (the most recently raised); the table says how many more there are.") var limit: Int?
    public var connection: ConnectionOptions { read.connection }
    public init() {}

    public func validate() throws {
        if all && coordinator != nil { throw ValidationError("give --all or --coordinator, not both") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if limit != nil && follow { throw ValidationError("--limit does not apply to --follow") }
    }

    var filter: [String: JSONValue] {
        if all { return [:] }
        if let coordinator { return ["coordinator": .string(coordinator)] }
        return ["mine": true]
    }

    public func run(_ client: DaemonClient) throws {
        if follow {
            var printedHeader = false
            // A follower that fell behind (its output read too slowly) is told so by the daemon;
            // it follows again, and the replay of the open alerts brings it back in step.
            while true {
                do {
                    try client.stream("io.imr.Alerts.Follow", filter, passing: ["io.imr.Alerts.FollowerTooSlow"]) { reply in
                        guard let alert = reply["alert"], alert != .null else { return true }
                        if read.json {
                            print(Output.compact(.object(["alert": alert, "replayed": reply["replayed"] ?? false])))
                        } else {
                            if !printedHeader {
                                print(Output.tableText(alertHeader, []), terminator: "")
                                printedHeader = true
                            }
                            let row = alertRow(alert)
                            print(Output.styled(row.joined(separator: "  "), alertStyle(row)))
                        }
                        fflush(nil)  // each line as it comes, also into a pipe
                        return true
                    }
                    return
                } catch let error as VarlinkError {
                    Output.error("\(error.parameters["message"]?.stringValue ?? error.name); following again (the open alerts are shown again)")
                }
            }
        }
        let open = try everyPage(client, "io.imr.Alerts.List", filter, key: "alerts")
        let alerts = limit.map { Array(open.suffix($0)) } ?? open
        if read.json { return Output.json(.array(alerts)) }
        guard !alerts.isEmpty else {
            return print(all ? "no open alerts" : "no open alerts for \(coordinator ?? currentUserName()); --all shows everyone's")
        }
        Output.table(alertHeader, alerts.map(alertRow), style: alertStyle)
        if alerts.count < open.count { print("... and \(open.count - alerts.count) earlier open alerts (without --limit: all of them)") }
    }
}

public struct Ack: DaemonCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Acknowledge alerts: record that I took them on; they leave the open alerts.",
        discussion: """
            ALERT_ID is an id as `imr-ctl alerts` shows it (the start of the id is enough when it names one open alert).
            Acknowledging an acknowledged alert changes nothing. Needs the coordinator role.
            Example: imr-ctl ack 3f2a9c1e
            """)
    @OptionGroup var connectionOptions: ConnectionOptions
    @Argument(help: ArgumentHelp("The alerts to acknowledge.", valueName: "alert-id")) var alertIds: [String]
    public var connection: ConnectionOptions { connectionOptions }
    public init() {}

    public func run(_ client: DaemonClient) throws {
        for text in alertIds {
            let id = try resolveAlertId(text, client)
            let alert = JSONValue.object(try client.call("io.imr.Alerts.Acknowledge", ["alertId": .string(id)])["alert"]?.objectValue ?? [:])
            print("acknowledged \(id): \(alert.at("level").text) \(alert.at("rule").text) of case \(alert.at("caseId").text) (by \(alert.at("acknowledgedBy").text))")
        }
    }
}

public struct Snooze: DaemonCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Hide an open alert until a time; it shows again then.",
        discussion: """
            --until takes an instant (YYYY-MM-DDTHH:MM in Pacific time, or RFC 3339), a date or tomorrow \
            (its midnight, Pacific time), or a duration from now (30m, 4h, 2d, 1w). Needs the coordinator role.
            Examples: imr-ctl snooze 3f2a9c1e --until 2h; imr-ctl snooze 3f2a9c1e --until 2024-03-08T09:00
            """)
    @OptionGroup var connectionOptions: ConnectionOptions
    @Argument(help: ArgumentHelp("The alert to snooze.", valueName: "alert-id")) var alertId: String
    @Option(help: ArgumentHelp("An instant (YYYY-MM-DDTHH:MM Pacific, or RFC 3339), a date or tomorrow (its midnight), or a duration (30m, 4h, 2d, 1w).", valueName: "instant|duration"))
    var until: String
    public var connection: ConnectionOptions { connectionOptions }
    public init() {}

    /// The duration `text` names, in seconds; nil when it is not one.
    static func duration(_ text: String) -> TimeInterval? {
        let units: [Character: TimeInterval] = ["m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        // At most a year: a longer snooze is a mistake (acknowledge the alert instead).
        guard let unit = text.last.flatMap({ units[$0] }), let n = Double(text.dropLast()), n.isFinite, n > 0, n * unit <= 366 * 86_400 else {
            return nil
        }
        return n * unit
    }

    public func validate() throws {
        guard Self.duration(until) != nil || (try? When.instant(until, option: "--until")) != nil else {
            // A date the coordinator meant but wrote another way gets When's own sentence.
            if until.contains("/") || until.contains("-") { _ = try When.instant(until, option: "--until") }
            throw ValidationError("--until '\(until)' is neither an instant (2024-03-08T09:00, a date, today, tomorrow) nor a duration (30m, 4h, 2d, 1w)")
        }
    }

    public func run(_ client: DaemonClient) throws {
        let id = try resolveAlertId(alertId, client)
        let instant = try Self.duration(until).map { Pacific.rfc3339(Date().addingTimeInterval($0)) } ?? When.instant(until, option: "--until").0
        let reply = try client.call("io.imr.Alerts.Snooze", ["alertId": .string(id), "until": .string(instant)])
        let alert = JSONValue.object(reply["alert"]?.objectValue ?? [:])
        print("snoozed \(id) until \(alert.at("snoozedUntil").text): \(alert.at("level").text) \(alert.at("rule").text) of case \(alert.at("caseId").text)")
    }
}

/// `imr-ctl reassign`: give an open alert to another coordinator.
public struct ReassignAlert: DaemonCommand {
    public static let configuration = CommandConfiguration(
        commandName: "reassign",
        abstract: "Give an open alert to another coordinator; it shows in their alerts from then on.",
        discussion: """
            ALERT_ID as `imr-ctl alerts` shows it (the start of the id is enough). The case keeps its coordinator; \
            to move the whole case, use 'imr-ctl case reassign CASE --to USER'. Needs the coordinator role.
            Example: imr-ctl reassign 3f2a9c1e --to jorge
            """)
    @OptionGroup var connectionOptions: ConnectionOptions
    @Argument(help: ArgumentHelp("The alert to reassign.", valueName: "alert-id")) var alertId: String
    @Option(help: ArgumentHelp("The coordinator (a user name) who takes it.", valueName: "user")) var to: String
    public var connection: ConnectionOptions { connectionOptions }
    public init() {}

    public func validate() throws {
        if to.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--to needs a user name") }
    }

    public func run(_ client: DaemonClient) throws {
        let id = try resolveAlertId(alertId, client)
        let alert = JSONValue.object(try client.call("io.imr.Alerts.Reassign", ["alertId": .string(id), "coordinator": .string(to)])["alert"]?.objectValue ?? [:])
        print("reassigned \(id) to \(alert.at("coordinator").text): \(alert.at("level").text) \(alert.at("rule").text) of case \(alert.at("caseId").text)")
    }
}
