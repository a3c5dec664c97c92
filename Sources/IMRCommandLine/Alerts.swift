import ArgumentParser
import Foundation
import IMRWire
import Varlink
import Workflow

// Deadline alerts (io.imr.Alerts): list or follow the open ones, acknowledge, snooze.

/// The row of an alert in a table: its short id, level, case, rule, due (a date for a day
/// deadline, as `imr-ctl deadlines` shows it; the minute for an hour deadline), the items its
/// deadline covers, owner and when it was raised.
private func alertRow(_ a: AlertView) -> [String] {
    // The alert's own due instant (the deadline's when it was raised), as a date for a day
    // deadline: a deadline moved since (a correction) does not change what the alert was for.
    let due = a.isExactInstant == false ? Pacific.date(of: a.due).iso : pacificMinute(a.due)
    return [
        String(a.alertId.prefix(8)), a.level, a.caseId, a.rule, due,
        a.itemIds.isEmpty ? "-" : a.itemIds.joined(separator: ","),
        a.coordinator, pacificMinute(a.raisedAt) + (a.late ? " (late)" : ""),
    ]
}

private let alertHeader = ["ALERT", "LEVEL", "CASE", "RULE", "DUE", "ITEMS", "COORDINATOR", "RAISED"]

/// Column widths for rows printed one at a time (--follow), where the rows to fit are not
/// known in advance: wide enough for the usual ids, rule names and times.
private let followWidths = [8, 9, 10, 24, 16, 5, 11, 16]

private func alertStyle(_ row: [String]) -> Output.Style? {
    row[1] == "overdue" ? .red : row[1] == "due-today" ? .yellow : nil
}

/// The full id of the open alert `text` names: a whole id, or the start of exactly one open
/// alert's id (as the table shows them), found by the daemon on the alerts' key.
private func resolveAlertId(_ text: String, _ client: DaemonClient) throws -> String {
    let lower = text.lowercased()
    if UUID(uuidString: lower) != nil { return lower }
    guard lower.count <= 36, lower.allSatisfy({ $0.isHexDigit || $0 == "-" }), lower.count(where: \.isHexDigit) >= 4
    else {
        throw CommandFailure(
            "'\(text)' is not an alert id; give the id `imr-ctl alerts --all` shows (at least its first 4 characters)",
            status: .usage
        )
    }
    // Ten are enough to show what the start could mean; the reply counts the rest.
    let page = try client.reply(AlertListRequest(alertIdPrefix: lower, limit: 10))
    let matches = page.alerts.map(\.alertId)
    switch matches.count {
    case 1: return matches[0]
    case 0:
        throw CommandFailure(
            "there is no open alert whose id starts with '\(text)'; `imr-ctl alerts --all` lists them",
            status: .notFound
        )
    default:
        let count = "\(page.remainingAtLeast ? "more than " : "")\(matches.count + Int(page.remaining))"
        let others = page.remaining > 0 ? ", …" : ""
        throw CommandFailure(
            "'\(text)' starts \(count) alert ids (\(matches.joined(separator: ", "))\(others)); give more of it",
            status: .usage
        )
    }
}

package struct Alerts: DaemonCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Open deadline alerts: mine by default, everyone's with --all; --follow streams them.",
        discussion: """
            The daemon raises an alert once per deadline and level when its lead time comes: "notice" and "reminder" \
            (5 and 2 business days before a day deadline, 24 and 4 hours before an hour deadline), "due-today" \
            (08:00 Pacific on the due day) and "overdue"; the lead times are set in [alerts] of imr-daemon.toml. An \
            alert raised more than a minute after its time is marked late: the daemon was down then, or the fact \
            that made it owed was recorded after its time (imr-ctl status counts the two apart). An alert stays open until \
            acknowledged (imr-ctl ack) or its deadline is met or cancelled; a snoozed one (imr-ctl snooze) is hidden until its snooze ends.
            Mine: alerts whose coordinator is my Unix user name (the daemon reads it from the socket's credentials); \
            --all: everyone's; --coordinator: one person's.
            One alert per deadline and level, whatever the number of items the deadline covers (ITEMS lists \
            them). When a deadline reaches a higher level, its lower alerts close (superseded): a missed \
            deadline shows once, as overdue. The list is in due order (alerts due at the same time in the order \
            they were raised); DUE is a date for a day deadline and the minute (Pacific) for an hour deadline, as \
            in `imr-ctl deadlines`. --case, --level and --rule narrow it (the daemon does, on its indexes; \
            with --follow, imr-ctl narrows the stream).
            Prints the first page (--limit alerts, 100 unless given) and a last line saying how many more match \
            and how to see them: --every-page prints every page as it comes, --after CURSOR the page after the \
            one that line came with (with the same options). (--all says whose alerts, not how many pages.)
            --follow prints the open alerts, then each new one as it is raised and each snoozed one when its snooze \
            ends, until interrupted or the daemon stops. Should it fall behind (its output read too slowly, \
            more than the daemon's server.follower_queue alerts waiting), the daemon ends its stream with \
            FollowerTooSlow and it follows again: the open alerts are printed again, then the new ones.
            --json prints an array of io.imr.Alerts Alert objects (alertId, deadlineId, caseId, rule, level, due, \
            dueDate, isExactInstant, itemIds, scheduledAt, raisedAt, late, coordinator, acknowledgedBy, \
            acknowledgedAt, snoozedUntil, position): the page, or with --every-page every alert, streamed; the line \
            about the rest goes to stderr. With --follow, one JSON object per line: {"alert": Alert, "replayed": bool}.
            Examples: imr-ctl alerts; imr-ctl alerts --all --level overdue; imr-ctl alerts --case C-1001; \
            imr-ctl alerts --coordinator maria --json --every-page; imr-ctl alerts --follow
            """
    )
    @OptionGroup var read: ReadOptions
    @Flag(help: "Everyone's open alerts (not only mine).") var all = false
    @Option(help: "Only this coordinator's alerts.") var coordinator: String?
    @Flag(help: "Print the open alerts, then each new one as it is raised, until interrupted.") var follow = false
    @Option(help: "Alerts per page, 1 to \(pageMaximum) (100 unless given): the soonest due first.") var limit: Int?
    @Option(help: "Start after this cursor (from the line under the previous page).") var after: String?
    @Flag(
        name: .customLong("every-page"),
        help: "Every matching alert, page after page, as the daemon sends them."
    ) var everyPage = false
    @Option(name: .customLong("case"), help: ArgumentHelp("Only this case's alerts.", valueName: "case-id")) var caseId:
        String?
    @Option(
        help: ArgumentHelp("Only alerts of this level: notice, reminder, due-today or overdue.", valueName: "level")
    ) var level: String?
    @Option(help: ArgumentHelp("Only alerts of this rule (e.g. imr.application).", valueName: "rule")) var rule: String?
    package var connection: ConnectionOptions { read.connection }
    package init() {}

    static let pageMaximum = 1000

    package func validate() throws {
        if all && coordinator != nil { throw ValidationError("give --all or --coordinator, not both") }
        if let limit, !(1...Self.pageMaximum).contains(limit) {
            throw ValidationError(
                "--limit takes 1 to \(Self.pageMaximum) alerts a page, not \(limit); --every-page shows every page"
            )
        }
        if follow, limit != nil || after != nil || everyPage {
            throw ValidationError(
                "--limit, --after and --every-page do not apply to --follow, which prints every open alert"
            )
        }
        if let level, AlertLevel(rawValue: level) == nil {
            throw ValidationError(
                "--level '\(level)' is not one of: \(AlertLevel.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        if let rule, RuleID(rawValue: rule) == nil {
            throw ValidationError("--rule '\(rule)' is not a rule id; 'imr-ctl rules' lists them")
        }
    }

    /// Whether `alert` passes --case, --level and --rule (a case id in any letter case): the
    /// followed alerts are narrowed here, the listed ones by the daemon.
    func matches(_ alert: AlertView) -> Bool {
        if let caseId, alert.caseId.lowercased() != caseId.lowercased() { return false }
        if let level, alert.level != level { return false }
        if let rule, alert.rule != rule { return false }
        return true
    }

    var filter: AlertFollowRequest {
        if all { return AlertFollowRequest() }
        if let coordinator { return AlertFollowRequest(coordinator: coordinator) }
        return AlertFollowRequest(mine: true)
    }

    /// The page asked for: whose, narrowed by --case, --level and --rule, soonest due first.
    var request: AlertListRequest {
        AlertListRequest(
            mine: filter.mine,
            coordinator: filter.coordinator,
            caseId: caseId,
            level: level,
            rule: rule,
            order: AlertOrder.due.rawValue,
            limit: limit,
            after: after
        )
    }

    package func run(_ client: DaemonClient) throws {
        if follow { return try followAlerts(client) }
        let whose = all ? "" : " for \(coordinator ?? currentUserName())"
        let narrowed = caseId != nil || level != nil || rule != nil ? " matching --case/--level/--rule" : ""
        try PagedOutput.show(
            client,
            request,
            noun: "open alert",
            all: everyPage,
            allFlag: "--every-page",
            json: read.json,
            header: alertHeader,
            row: alertRow,
            style: alertStyle,
            empty: after != nil
                ? "no open alerts\(whose)\(narrowed) after that cursor"
                : "no open alerts\(whose)\(narrowed)" + (all ? "" : "; --all shows everyone's")
        )
    }

    /// --follow: the open alerts, then each change, narrowed here.
    private func followAlerts(_ client: DaemonClient) throws {
        var printedHeader = false
        // A follower that fell behind (its output read too slowly) is told so by the daemon;
        // it follows again, and the replay of the open alerts brings it back in step.
        while true {
            do {
                try client.stream(filter, passing: ["io.imr.Alerts.FollowerTooSlow"]) {
                    reply in
                    let followed = try DaemonClient.decode(
                        AlertFollowReply.self,
                        reply,
                        method: AlertFollowRequest.method
                    )
                    guard let alert = followed.alert, matches(alert) else { return true }
                    if read.json {
                        print(
                            Output.compact(
                                .object(["alert": reply["alert"] ?? .null, "replayed": .bool(followed.replayed)])
                            )
                        )
                    } else {
                        // Aligned as the list is: fixed columns, since rows come one by one.
                        let row = alertRow(alert)
                        print(
                            Output.tableText(
                                alertHeader,
                                [row],
                                style: alertStyle,
                                widths: followWidths,
                                withHeader: !printedHeader
                            ),
                            terminator: ""
                        )
                        printedHeader = true
                    }
                    fflush(nil)  // each line as it comes, also into a pipe
                    return true
                }
                return
            } catch let error as VarlinkError {
                Output.error(
                    "\(error.parameters["message"]?.stringValue ?? error.name); following again (the open alerts are shown again)"
                )
            }
        }
    }
}

package struct Ack: DaemonCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Acknowledge alerts: record that I took them on; they leave the open alerts.",
        discussion: """
            ALERT_ID is an id as `imr-ctl alerts` shows it (the start of the id is enough when it names one open alert).
            In bulk: --case C acknowledges every open alert of case C (whoever coordinates it); --all-mine \
            --before DATE every open alert of mine due before DATE (its DUE in `imr-ctl alerts`; a date, or \
            today, tomorrow...), reading my alerts in due order only up to DATE. Each alert acknowledged is still one event of its own, with my name; each is \
            printed. Acknowledging an acknowledged alert changes nothing. Needs the coordinator role.
            Examples: imr-ctl ack 3f2a9c1e; imr-ctl ack --case C-1001; imr-ctl ack --all-mine --before today
            """
    )
    @OptionGroup var connectionOptions: ConnectionOptions
    @Argument(help: ArgumentHelp("The alerts to acknowledge.", valueName: "alert-id")) var alertIds: [String] = []
    @Option(name: .customLong("case"), help: ArgumentHelp("Every open alert of this case.", valueName: "case-id"))
    var caseId: String?
    @Flag(name: .customLong("all-mine"), help: "Every open alert of mine due before --before.") var allMine = false
    @Option(help: ArgumentHelp("With --all-mine: only deadlines due before this date.", valueName: "date")) var before:
        String?
    package var connection: ConnectionOptions { connectionOptions }
    package init() {}

    package func validate() throws {
        let ways = [!alertIds.isEmpty, caseId != nil, allMine].filter { $0 }.count
        guard ways == 1 else {
            throw ValidationError(
                ways == 0
                    ? "name the alerts, or give --case CASE or --all-mine --before DATE"
                    : "give alert ids, --case or --all-mine, one of them"
            )
        }
        if allMine && before == nil {
            throw ValidationError(
                "--all-mine needs --before DATE (e.g. --before today), so that it cannot take on every alert at once by mistake"
            )
        }
        if before != nil && !allMine { throw ValidationError("--before goes with --all-mine") }
        if let before { _ = try When.date(before, option: "--before") }
    }

    package func run(_ client: DaemonClient) throws {
        var ids: [String] = []
        if let caseId {
            // Whoever coordinates them; an unknown case is named (exit 66), not "nothing to acknowledge".
            ids = try everyRow(client, AlertListRequest(caseId: caseId, order: AlertOrder.due.rawValue)).map(\.alertId)
        } else if allMine, let before {
            let cutoff = try When.date(before, option: "--before")
            // The alert's own due date, as the DUE column shows it. In due order: the pages end
            // where the alerts reach the cutoff, so only the alerts before it are read, however
            // many of mine are due later.
            try forEachPageWhile(client, AlertListRequest(mine: true, order: AlertOrder.due.rawValue)) { alerts in
                for alert in alerts {
                    guard Pacific.date(of: alert.due).iso < cutoff else { return false }
                    ids.append(alert.alertId)
                }
                return true
            }
        } else {
            ids = try alertIds.map { try resolveAlertId($0, client) }
        }
        if ids.isEmpty {
            print(
                caseId.map { "case \($0) has no open alert; nothing acknowledged" }
                    ?? "no open alert of yours is due before \(before ?? "?"); nothing acknowledged"
            )
            return
        }
        for id in ids {
            let alert = try client.reply(AcknowledgeAlertRequest(alertId: id)).alert
            print(
                Output.terminalSafe(
                    "acknowledged \(id): \(alert.level) \(alert.rule) of case \(alert.caseId) (by \(alert.acknowledgedBy ?? ""))"
                )
            )
        }
        if ids.count > 1 { print("\(ids.count) alerts acknowledged") }
    }
}

package struct Snooze: DaemonCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Hide an open alert until a time; it shows again then.",
        discussion: """
            --until takes an instant (YYYY-MM-DDTHH:MM in Pacific time, or RFC 3339), a date or tomorrow \
            (its midnight, Pacific time), or a duration from now (30m, 4h, 2d, 1w). Needs the coordinator role.
            Examples: imr-ctl snooze 3f2a9c1e --until 2h; imr-ctl snooze 3f2a9c1e --until 2024-03-08T09:00
            """
    )
    @OptionGroup var connectionOptions: ConnectionOptions
    @Argument(help: ArgumentHelp("The alert to snooze.", valueName: "alert-id")) var alertId: String
    @Option(
        help: ArgumentHelp(
            "An instant (YYYY-MM-DDTHH:MM Pacific, or RFC 3339), a date or tomorrow (its midnight), or a duration (30m, 4h, 2d, 1w).",
            valueName: "instant|duration"
        )
    )
    var until: String
    package var connection: ConnectionOptions { connectionOptions }
    package init() {}

    /// The duration `text` names, in seconds; nil when it is not one.
    static func duration(_ text: String) -> TimeInterval? {
        let units: [Character: TimeInterval] = ["m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        // At most a year: a longer snooze is a mistake (acknowledge the alert instead).
        guard let unit = text.last.flatMap({ units[$0] }), let n = Double(text.dropLast()), n.isFinite, n > 0,
            n * unit <= 366 * 86_400
        else {
            return nil
        }
        return n * unit
    }

    package func validate() throws {
        guard Self.duration(until) != nil || (try? When.instant(until, option: "--until")) != nil else {
            // A date the coordinator meant but wrote another way gets When's own sentence.
            if until.contains("/") || until.contains("-") { _ = try When.instant(until, option: "--until") }
            throw ValidationError(
                "--until '\(until)' is neither an instant (2024-03-08T09:00, a date, today, tomorrow) nor a duration (30m, 4h, 2d, 1w)"
            )
        }
    }

    package func run(_ client: DaemonClient) throws {
        let id = try resolveAlertId(alertId, client)
        let instant =
            try Self.duration(until).map { Pacific.rfc3339(Date().addingTimeInterval($0)) }
            ?? When.instant(until, option: "--until").0
        let alert = try client.reply(SnoozeAlertRequest(alertId: id, until: instant)).alert
        print(
            Output.terminalSafe(
                "snoozed \(id) until \(alert.snoozedUntil.map(Pacific.rfc3339) ?? ""): \(alert.level) \(alert.rule) of case \(alert.caseId)"
            )
        )
    }
}

/// `imr-ctl reassign`: give an open alert to another coordinator.
package struct ReassignAlert: DaemonCommand {
    package static let configuration = CommandConfiguration(
        commandName: "reassign",
        abstract: "Give an open alert to another coordinator; it shows in their alerts from then on.",
        discussion: """
            ALERT_ID as `imr-ctl alerts` shows it (the start of the id is enough). The case keeps its coordinator; \
            to move the whole case, use 'imr-ctl case reassign CASE --to USER'. Needs the coordinator role.
            Example: imr-ctl reassign 3f2a9c1e --to jorge
            """
    )
    @OptionGroup var connectionOptions: ConnectionOptions
    @Argument(help: ArgumentHelp("The alert to reassign.", valueName: "alert-id")) var alertId: String
    @Option(help: ArgumentHelp("The coordinator (a user name) who takes it.", valueName: "user")) var to: String
    package var connection: ConnectionOptions { connectionOptions }
    package init() {}

    package func validate() throws {
        if to.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--to needs a user name") }
    }

    package func run(_ client: DaemonClient) throws {
        let id = try resolveAlertId(alertId, client)
        let alert = try client.reply(ReassignAlertRequest(alertId: id, coordinator: to)).alert
        print(
            Output.terminalSafe(
                "reassigned \(id) to \(alert.coordinator): \(alert.level) \(alert.rule) of case \(alert.caseId)"
            )
        )
    }
}

/// `imr-ctl digest`: the morning digest the daemon sends at `[alerts] digest_at`.
package struct Digest: DaemonCommand {
    package static let configuration = CommandConfiguration(
        abstract: "My morning digest: deadlines overdue, due today and due this week.",
        discussion: """
            The same digest the daemon sends each coordinator once a day at [alerts] digest_at (through \
            the notification command, and as a journal entry). Each section is in due order, with at \
            most 50 deadlines and the count of all of them. Mine by default (my Unix user name); \
            --coordinator for someone else's. --json prints the io.imr.Deadlines.Digest reply.
            Examples: imr-ctl digest; imr-ctl digest --coordinator maria
            """
    )
    @OptionGroup var read: ReadOptions
    @Option(help: ArgumentHelp("Whose digest (default: mine).", valueName: "user")) var coordinator: String?
    package var connection: ConnectionOptions { read.connection }
    package init() {}

    package func run(_ client: DaemonClient) throws {
        let who = coordinator ?? currentUserName()
        let reply = try client.call(DigestRequest(coordinator: who))
        if read.json { return Output.json(.object(reply)) }
        let digest = try DaemonClient.decode(DigestReply.self, reply, method: DigestRequest.method)
        print(Output.styled("Digest for \(who), \(digest.day.shortLabel)", .bold))
        var any = false
        for (section, title, style) in [
            (digest.overdue, "Overdue", Output.Style.red), (digest.dueToday, "Due today", .yellow),
            (digest.thisWeek, "Due this week", nil),
        ] {
            let count = section.count
            guard count > 0 else { continue }
            any = true
            let more = section.countIsAtLeast ? "+" : ""
            print("")
            print(Output.styled("\(title) (\(count)\(more))", style))
            let rows = section.deadlines.map(\.deadline)
            Output.table(
                ["DUE", "WHEN", "RULE", "CASE", "ITEMS", "PARTY"],
                rows.map { d in
                    [
                        dueText(d), relativeDays(d), d.rule.rawValue, d.caseId.rawValue,
                        d.itemIds.map(\.rawValue).joined(separator: ","), d.party.rawValue,
                    ]
                }
            )
            if rows.count < count {
                print("... and \(count - rows.count)\(more) more: imr-ctl deadlines --coordinator \(who)")
            }
        }
        if !any { print("nothing overdue, due today or due this week") }
    }
}
