import ArgumentParser
import Foundation
import Varlink
import Workflow

// The recording commands: one per lifecycle fact of io.imr.Cases. Each sends one call; the
// daemon decides whether the lifecycle allows it (refusals exit 1 with the reason).

/// Options every recording command takes.
package struct RecordingOptions: ParsableArguments {
    @OptionGroup package var connection: ConnectionOptions

    @Option(
        name: .customLong("command-id"),
        help: ArgumentHelp(
            "A UUID naming this command: sending it again with the same id records nothing new (for scripts that retry); a different command with an id already used is refused (exit 65).",
            valueName: "uuid"
        )
    )
    var commandId: String?

    @Flag(help: "Print what was recorded as JSON (the io.imr.Cases Recorded object).")
    var json = false

    package init() {}

    package func validate() throws {
        if let commandId, UUID(uuidString: commandId) == nil {
            throw ValidationError("--command-id '\(commandId)' is not a UUID (e.g. \(UUID().uuidString.lowercased()))")
        }
    }
}

/// A recording command: builds the parameters of one io.imr.Cases method.
protocol RecordingCommand: DaemonCommand {
    var recording: RecordingOptions { get }
    var method: String { get }
    var caseId: String { get }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue]
}

extension RecordingCommand {
    package var connection: ConnectionOptions { recording.connection }

    package func run(_ client: DaemonClient) throws {
        var parameters = try self.parameters(client)
        parameters["caseId"] = .string(caseId)
        parameters["commandId"] = recording.commandId.map { .string($0) } ?? .null
        let reply = try client.call("io.imr.Cases.\(method)", parameters)
        let recorded = reply["recorded"] ?? .null
        if recording.json {
            Output.json(recorded)
            return
        }
        let types = recorded.at("events").arrayValue.map(\.text)
        if recorded.at("alreadyRecorded").boolValue == true {
            print(
                "case \(caseId): this command was recorded before; nothing changed (version \(recorded.at("version").text))"
            )
            return
        }
        // In words: what was recorded, the dates and instants it carries (saying which were
        // the default or a day word), then the deadlines it started and met.
        let when = Readback.dates(parameters, words: Readback.dayWords(of: self))
        print(
            "case \(caseId): recorded \(types.map(Readback.words).joined(separator: ", "))"
                + (when.isEmpty ? "" : " (\(when.joined(separator: ", ")))")
                + " (\(types.joined(separator: ", ")), version \(recorded.at("version").text))"
        )
        let version = Int(recorded.at("version").text) ?? 0
        let new = Set((version - types.count + 1)...max(version, version - types.count + 1))
        // The deadlines as they stand now; a failure to read them leaves the recording as it is.
        guard let reply = try? client.call("io.imr.Deadlines.ForCase", ["caseId": .string(caseId)]) else { return }
        for deadline in reply["deadlines"]?.arrayValue ?? []
        where deadline.at("supersededBy") == .null || deadline.at("supersededBy").stringValue == nil {
            let rule = deadline.at("rule").text
            let status = deadline.at("status").text
            if let v = deadline.at("trigger").at("eventVersion").intValue, new.contains(Int(v)),
                status == "pending" || status == "missed"
            {
                print(
                    "  started \(rule), due \(dueText(deadline)) (\(relativeDays(deadline)))"
                        + (status == "missed" ? ": already passed" : "")
                )
            }
            if let v = deadline.at("satisfiedBy").at("eventVersion").intValue, new.contains(Int(v)) {
                print("  \(status == "met-late" ? "met late" : "met") \(rule) (due \(dueText(deadline)))")
            }
        }
    }
}

/// What a recording command prints in words.
enum Readback {
    /// "URDecisionIssued" → "UR decision issued"; "IMRApplicationReceived" → "IMR application received".
    static func words(_ typeName: String) -> String {
        var words: [String] = []
        var current = ""
        let letters = Array(typeName)
        for (i, c) in letters.enumerated() {
            let next = i + 1 < letters.count ? letters[i + 1] : nil
            let previous = i > 0 ? letters[i - 1] : nil
            if c.isUppercase, !current.isEmpty,
                previous?.isLowercase == true || (next?.isLowercase == true && previous?.isUppercase == true)
            {
                words.append(current)
                current = ""
            }
            current.append(c)
        }
        if !current.isEmpty { words.append(current) }
        return words.enumerated().map { index, word in
            word.count > 1 && word.allSatisfy(\.isUppercase) ? word : index == 0 ? word : word.lowercased()
        }.joined(separator: " ")
    }

    /// The day words (today, now, ...) the command's options were given, as typed or by default.
    static func dayWords(of command: Any) -> Set<String> {
        var words: Set<String> = []
        for child in Mirror(reflecting: command).children {
            let value = (child.value as? String) ?? ((child.value as? Option<String>)?.wrappedValue)
            if let value, ["today", "yesterday", "tomorrow", "now"].contains(value.lowercased()) {
                words.insert(value.lowercased())
            }
        }
        return words
    }

    /// The dates and instants among the parameters, in words: "decided at 2026-11-30 10:12 (now)".
    static func dates(_ parameters: [String: JSONValue], words: Set<String>) -> [String] {
        parameters.keys.sorted().compactMap { key -> String? in
            guard key.hasSuffix("On") || key.hasSuffix("At"), let text = parameters[key]?.stringValue else {
                return nil
            }
            let label = Readback.words(String(key.prefix(1)).uppercased() + key.dropFirst()).lowercased()
            let day = ["today", "yesterday", "tomorrow"].first { words.contains($0) }
            if key.hasSuffix("At"), let minute = pacificMinute(.string(text)) {
                if words.contains("now") { return "\(label) \(minute) (now)" }
                if let day { return "\(label) \(minute.prefix(10)) (\(day), time of day unknown)" }
                return "\(label) \(minute)"
            }
            let word = day.map { " (\($0))" } ?? ""
            return "\(label) \(text)\(word)"
        }
    }
}

/// Dates and instants as a coordinator types them: ISO dates (`2024-03-05`, also `2024-3-5`),
/// Pacific times (`2024-03-05T09:30`), RFC 3339, and the words today, yesterday, tomorrow and
/// now. A US date (`03/05/2024`) is refused with the ISO date it most likely means.
package enum When {
    /// The words every date and instant option takes.
    static let words = "today, yesterday, tomorrow or now"

    /// A calendar date: YYYY-MM-DD, an instant (its Pacific date), or one of the words.
    package static func date(_ text: String, option: String, now: Date = Date()) throws -> String {
        if let day = relativeDay(text, now: now) { return day.iso }
        let normal = try normalised(text, option: option)
        do {
            return try parse(normal, text: text, option: option).day.iso
        } catch is DeadlineError {
            throw ValidationError(
                "\(option) '\(text)' is not a date: write YYYY-MM-DD (a California date), an instant, or \(words)"
            )
        }
    }

    /// The trigger `normal` names. A date outside the accepted range is a value imr cannot
    /// accept (exit 65); a Pacific time that daylight saving skipped or repeated is refused
    /// with the reason and the spellings that work; any other error is the caller's to word.
    static func parse(_ normal: String, text: String, option: String) throws -> DeadlineTrigger {
        do {
            return try DeadlineTrigger(parsing: normal)
        } catch let error as DeadlineError where error.isTriggerOutOfRange {
            throw CommandFailure(
                "\(option) '\(text)' is outside the dates imr accepts: \(LocalDate.supportedRange.lowerBound.iso) to "
                    + "\(LocalDate.supportedRange.upperBound.iso)",
                status: .dataError
            )
        } catch let error as DeadlineError where error.isLocalTimeNotUnique {
            throw ValidationError("\(option): \(error)")
        }
    }

    /// An instant: RFC 3339, YYYY-MM-DDTHH:MM (Pacific), `now`; a bare date or today,
    /// yesterday, tomorrow (then the time of day is unknown and the second value is false).
    package static func instant(_ text: String, option: String, now: Date = Date()) throws -> (String, timeKnown: Bool)
    {
        if text.trimmingCharacters(in: .whitespaces).lowercased() == "now" { return (Pacific.rfc3339(now), true) }
        if let day = relativeDay(text, now: now) { return (Pacific.rfc3339(Pacific.startOfDay(day)), false) }
        let trigger: DeadlineTrigger
        do {
            trigger = try parse(try normalised(text, option: option), text: text, option: option)
        } catch is DeadlineError {
            throw ValidationError(
                "\(option) '\(text)' is not an instant: write YYYY-MM-DDTHH:MM (Pacific time), RFC 3339 (2024-03-01T16:10:00-08:00), a date, or \(words)"
            )
        }
        switch trigger {
        case .instant(let instant): return (Pacific.rfc3339(instant), true)
        case .date(let day): return (Pacific.rfc3339(Pacific.startOfDay(day)), false)
        }
    }

    /// A trigger as `calc --from` takes it: the same forms, `now` an instant, the day words dates.
    package static func trigger(_ text: String, option: String, now: Date = Date()) throws -> DeadlineTrigger {
        if text.trimmingCharacters(in: .whitespaces).lowercased() == "now" { return .instant(now) }
        if let day = relativeDay(text, now: now) { return .date(day) }
        do {
            return try parse(try normalised(text, option: option), text: text, option: option)
        } catch let error as DeadlineError {
            throw ValidationError("\(option) '\(text)': \(error)")
        }
    }

    /// today, yesterday, tomorrow (and `now` where a date is asked for): the Pacific date.
    static func relativeDay(_ text: String, now: Date) -> LocalDate? {
        let today = Pacific.date(of: now)
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "today", "now": return today
        case "yesterday": return today.adding(days: -1)
        case "tomorrow": return today.adding(days: 1)
        default: return nil
        }
    }

    /// `2024-3-5` (and `2024-3-5T9:30`) with its month, day and hour zero-padded; a US date
    /// (MM/DD/YYYY) refused with the ISO date it most likely means.
    static func normalised(_ text: String, option: String) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let us = trimmed.split(separator: "/", omittingEmptySubsequences: false)
        if us.count == 3, us.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
            let m = Int(us[0]), let d = Int(us[1]), let y = Int(us[2]), us[2].count == 4
        {
            let guess = LocalDate(year: y, month: m, day: d)
            throw ValidationError(
                "\(option) '\(text)' is not a date imr reads: write year-month-day"
                    + (guess.map { ", did you mean \($0.iso)?" } ?? " (YYYY-MM-DD)")
            )
        }
        let (datePart, rest): (Substring, Substring) = {
            if let t = trimmed.firstIndex(where: { $0 == "T" || $0 == "t" || $0 == " " }) {
                return (trimmed[..<t], trimmed[t...])
            }
            return (trimmed[...], "")
        }()
        let fields = datePart.split(separator: "-", omittingEmptySubsequences: false)
        guard fields.count == 3, fields[0].count == 4, (1...2).contains(fields[1].count),
            (1...2).contains(fields[2].count),
            fields.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } })
        else { return trimmed }
        func pad(_ s: Substring) -> String { s.count == 1 ? "0" + s : String(s) }
        var time = String(rest)
        // T9:30 → T09:30; a space between date and time as the T.
        if let first = time.first, first == " " || first == "t" { time = "T" + time.dropFirst() }
        if time.count >= 2, time.dropFirst().prefix { $0 != ":" }.count == 1 { time = "T0" + time.dropFirst() }
        return "\(fields[0])-\(pad(fields[1]))-\(pad(fields[2]))" + time
    }
}

extension DeadlineTrigger {
    var day: LocalDate {
        switch self {
        case .date(let d): d
        case .instant(let i): Pacific.date(of: i)
        }
    }
}

/// A choice among the vocabulary's values, with the valid ones named when it is wrong.
func choice<T: RawRepresentable & CaseIterable>(_ text: String, _ type: T.Type, option: String) throws -> T
where T.RawValue == String {
    guard let value = T(rawValue: text) else {
        throw ValidationError(
            "\(option) '\(text)' is not one of: \(T.allCases.map(\.rawValue).joined(separator: ", "))"
        )
    }
    return value
}

/// `KEY=VALUE` pairs of repeated options, such as `--item 1=denied`.
func pair(_ text: String, option: String, example: String) throws -> (String, String) {
    guard let eq = text.firstIndex(of: "="), eq != text.startIndex, text.index(after: eq) != text.endIndex else {
        throw ValidationError("\(option) '\(text)' must be ITEM=VALUE, e.g. \(option) \(example)")
    }
    return (
        String(text[..<eq]).trimmingCharacters(in: .whitespaces),
        String(text[text.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
    )
}

func strings(_ values: [String]) -> JSONValue { .array(values.map { .string($0) }) }

/// The case as the daemon has it, for commands that default their items from its state.
func caseDetail(_ client: DaemonClient, _ caseId: String) throws -> JSONValue {
    try client.call("io.imr.Cases.Get", ["caseId": .string(caseId)])["case"] ?? .null
}

/// The given item ids, or else every item of the case whose status is one of `statuses`.
/// `without`: a date field the item must not have yet (e.g. not yet notified).
/// `lacking`: the refusal code of what the case lacks, for the command that records it.
func itemsOrDefault(
    _ given: [String],
    _ client: DaemonClient,
    _ caseId: String,
    statuses: Set<String>,
    without: String? = nil,
    what: String,
    lacking: String? = nil
) throws -> [String] {
    if !given.isEmpty { return given }
    let items = try caseDetail(client, caseId).at("items").arrayValue
        .filter { item in statuses.contains(item.at("status").text) && (without.map { item.at($0) == .null } ?? true) }
        .map { $0.at("itemId").text }
    guard !items.isEmpty else {
        let hint = lacking.flatMap { RefusalHint.command(forCode: $0, caseId: caseId) }.map { "; \($0)" } ?? ""
        throw CommandFailure("case \(caseId) has no item \(what); name the items with --item\(hint)", status: .refused)
    }
    return items
}

// MARK: - case

package struct CaseGroup: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "case",
        abstract: "Open, close, withdraw or reassign a case, or add a note.",
        subcommands: [CaseOpen.self, CaseClose.self, CaseWithdraw.self, CaseReassign.self, CaseNote.self]
    )
    package init() {}
}

struct CaseOpen: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "open",
        abstract: "Start tracking a dispute.",
        discussion:
            "Example: imr-ctl case open C-1001 --claim 05A-123456 --employer 'Acme Foods' --administrator 'Pacific Claims' --worker J.D. --injured 2023-06-14 --coordinator alice"
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case id you choose (e.g. your file number): 1 to 64 ASCII letters, digits and - _ . : / #.")
    var caseId: String
    @Option(help: "The claim number: 1 to 64 ASCII letters, digits, spaces and - _ . : / # ( ).") var claim: String
    @Option(help: "The employer.") var employer: String
    @Option(help: "The claims administrator.") var administrator: String
    @Option(help: "The injured worker: initials or an internal reference, never a name.") var worker: String
    @Option(help: "The date of injury (YYYY-MM-DD).") var injured: String
    @Option(
        help:
            "The coordinator who follows the case (default: your user name): 1 to 64 ASCII letters, digits and . _ - @."
    ) var coordinator: String?
    var method: String { "Open" }

    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        [
            "claimNumber": .string(claim), "employer": .string(employer), "claimsAdministrator": .string(administrator),
            "injuredWorkerReference": .string(worker),
            "dateOfInjury": .string(try When.date(injured, option: "--injured")),
            "coordinator": .string(coordinator ?? currentUserName()),
        ]
    }
}

struct CaseClose: RecordingCommand {
    static let configuration = CommandConfiguration(commandName: "close", abstract: "Close a case.")
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(help: "The day it closed.") var on: String = "today"
    @Option(help: "Why.") var reason: String
    var method: String { "Close" }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        ["closedOn": .string(try When.date(on, option: "--on")), "reason": .string(reason)]
    }
}

struct CaseWithdraw: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "withdraw",
        abstract: "Record that the dispute was withdrawn."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(help: "The day it was withdrawn.") var on: String = "today"
    @Option(help: "Why.") var reason: String
    var method: String { "Withdraw" }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        ["withdrawnOn": .string(try When.date(on, option: "--on")), "reason": .string(reason)]
    }
}

struct CaseReassign: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "reassign",
        abstract: "Move a case to another coordinator."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(help: "The new coordinator.") var to: String
    var method: String { "Reassign" }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] { ["coordinator": .string(to)] }
}

struct CaseNote: RecordingCommand {
    static let configuration = CommandConfiguration(commandName: "note", abstract: "Add a free-text note to a case.")
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Argument(help: "The note: at most 10,000 characters; newline and tab are the only control characters allowed.")
    var text: String
    var method: String { "AddNote" }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] { ["text": .string(text)] }
}

// MARK: - rfa

package struct RFAGroup: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "rfa",
        abstract: "Record a Request for Authorization and UR's requests for information.",
        subcommands: [RFAReceive.self, RFARequestInformation.self, RFAInformationReceived.self]
    )
    package init() {}
}

struct RFAReceive: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "receive",
        abstract: "A Request for Authorization reached the claims administrator.",
        discussion: """
            Example: imr-ctl rfa receive C-1001 --item "Lumbar MRI" --item "Physical therapy x12" --received 2024-03-01T16:10 --via fax
            Items are numbered 1, 2, ... in the order given, continuing after the case's earlier items; \
            later commands name them by these numbers. A --received date without a time means the time of day is unknown.
            """
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(help: "The RFA's id within the case (default: R1, R2, ... in order).") var rfa: String?
    @Option(name: .customLong("item"), help: "A requested treatment (repeat for each).") var items: [String] = []
    @Option(help: "When it was received: YYYY-MM-DDTHH:MM (Pacific), RFC 3339, or a date.") var received: String
    @Option(help: "How it came: fax, email or mail.") var via: Transmission
    @Option(help: "The requesting physician.") var physician: String = "not recorded"
    @Option(help: "prospective, concurrent or retrospective.") var review: ReviewType = .prospective
    @Flag(help: "Expedited review (imminent and serious threat to health).") var expedited = false
    @Flag(help: "A formulary drug request.") var formulary = false
    @Option(help: "The day the physician recommended the treatment (caps UR at 14 days).") var recommended: String?
    var method: String { "ReceiveRFA" }

    func validate() throws {
        if items.isEmpty { throw ValidationError("name at least one requested treatment with --item \"...\"") }
    }

    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        let (at, timeKnown) = try When.instant(received, option: "--received")
        let existing = try caseDetail(client, caseId)
        let first = existing.at("items").arrayValue.count + 1
        let rfaId = rfa ?? "R\(existing.at("rfas").arrayValue.count + 1)"
        return [
            "rfaId": .string(rfaId), "receivedAt": .string(at), "receivedTimeOfDayKnown": .bool(timeKnown),
            "transmission": .string(via.rawValue), "physician": .string(physician),
            "treatmentRecommendedOn": try recommended.map { .string(try When.date($0, option: "--recommended")) }
                ?? .null,
            "reviewType": .string(review.rawValue), "expedited": .bool(expedited), "formulary": .bool(formulary),
            "items": .array(
                items.enumerated().map {
                    .object(["id": .string(String(first + $0.offset)), "description": .string($0.element)])
                }
            ),
        ]
    }
}

struct RFARequestInformation: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "request-info",
        abstract: "UR asked the physician for more information."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(help: "The RFA.") var rfa: String = "R1"
    @Option(help: "The day UR asked.") var on: String = "today"
    @Option(help: "What is needed.") var need: String
    var method: String { "RequestInformation" }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        [
            "rfaId": .string(rfa), "requestedOn": .string(try When.date(on, option: "--on")),
            "whatIsNeeded": .string(need),
        ]
    }
}

struct RFAInformationReceived: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "info-received",
        abstract: "The information UR asked for arrived."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(help: "The RFA.") var rfa: String = "R1"
    @Option(help: "The day it arrived.") var on: String = "today"
    var method: String { "ReceiveInformation" }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        ["rfaId": .string(rfa), "receivedOn": .string(try When.date(on, option: "--on"))]
    }
}

// MARK: - ur

package struct URGroup: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "ur",
        abstract: "Record Utilization Review: decision, deferral, notice to the physician, written service.",
        subcommands: [URDecide.self, URDefer.self, URNotify.self, URServe.self]
    )
    package init() {}
}

struct URDecide: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "decide",
        abstract: "UR decided some or all items of an RFA.",
        discussion: """
            Example: imr-ctl ur decide C-1001 --rfa R1 --item 1=denied --item 2=approved --at 2024-03-05T11:00
            A modification names the authorized portion: --item '3=modified:6 sessions'.
            """
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(help: "The RFA.") var rfa: String = "R1"
    @Option(name: .customLong("item"), help: "ITEM=approved|denied|modified:PORTION (repeat for each item).")
    var decisions: [String] = []
    @Option(help: "When UR decided: an instant.") var at: String = "now"
    var method: String { "DecideUR" }

    func validate() throws {
        if decisions.isEmpty {
            throw ValidationError("give each decided item with --item ITEM=approved|denied|modified:PORTION")
        }
    }

    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        let decisions: [JSONValue] = try self.decisions.map { text in
            let (item, value) = try pair(text, option: "--item", example: "1=denied")
            let parts = value.split(separator: ":", maxSplits: 1).map(String.init)
            let outcome = try choice(parts[0], URItemOutcome.self, option: "--item \(item)")
            var portion: JSONValue = .null
            if outcome == .modified {
                guard parts.count == 2, !parts[1].isEmpty else {
                    throw ValidationError(
                        "--item \(item)=modified needs the authorized portion: --item '\(item)=modified:6 sessions'"
                    )
                }
                portion = .string(parts[1])
            }
            return .object([
                "itemId": .string(item), "outcome": .string(outcome.rawValue), "authorizedPortion": portion,
            ])
        }
        return [
            "rfaId": .string(rfa), "decidedAt": .string(try When.instant(at, option: "--at").0),
            "decisions": .array(decisions),
        ]
    }
}

struct URDefer: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "defer",
        abstract: "UR deferred the decision because liability is disputed."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(help: "The RFA.") var rfa: String = "R1"
    @Option(help: "The day UR deferred.") var on: String = "today"
    @Option(name: .customLong("liability-dispute"), help: "The liability dispute.") var liabilityDispute: String
    var method: String { "DeferUR" }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        [
            "rfaId": .string(rfa), "deferredOn": .string(try When.date(on, option: "--on")),
            "liabilityDispute": .string(liabilityDispute),
        ]
    }
}

struct URNotify: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify",
        abstract: "The requesting physician was told of the UR decision."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(name: .customLong("item"), help: "An item (repeat; default: every decided item).") var items: [String] = []
    @Option(help: "When (an instant).") var at: String = "now"
    @Option(help: "How: fax, email, mail, electronic or personal.") var via: ServiceMethod
    var method: String { "NotifyPhysician" }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        let items = try itemsOrDefault(
            self.items,
            client,
            caseId,
            statuses: ["approved", "modified", "denied"],
            without: "physicianNotifiedAt",
            what: "with a UR decision the physician has not been told of"
        )
        return [
            "itemIds": strings(items), "notifiedAt": .string(try When.instant(at, option: "--at").0),
            "method": .string(via.rawValue),
        ]
    }
}

struct URServe: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "The written UR decision was served on the parties."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(name: .customLong("item"), help: "An item (repeat; default: every decided item).") var items: [String] = []
    @Option(help: "The day it was served.") var on: String = "today"
    @Option(help: "How: mail, fax, email, electronic or personal.") var via: ServiceMethod = .mail
    @Option(help: "Where the employee's address is: california, other-state or outside-us.") var destination: String =
        "california"
    var method: String { "ServeWrittenDecision" }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        let destination = try choice(destination, ServiceDestination.self, option: "--destination")
        let items = try itemsOrDefault(
            self.items,
            client,
            caseId,
            statuses: ["approved", "modified", "denied"],
            without: "writtenDecisionServedOn",
            what: "with a UR decision not yet served"
        )
        return [
            "itemIds": strings(items), "servedOn": .string(try When.date(on, option: "--on")),
            "method": .string(via.rawValue), "destination": .string(destination.rawValue),
        ]
    }
}

// MARK: - imr

package struct IMRGroup: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "imr",
        abstract: "Record Independent Medical Review: application, eligibility, assignment, records, determination.",
        subcommands: [
            IMRApply.self, IMRRequestEligibilityInformation.self, IMRSendEligibilityInformation.self, IMREligible.self,
            IMRIneligible.self, IMRAssign.self, IMRRecords.self, IMRDetermine.self,
        ]
    )
    package init() {}
}

/// Options of the IMR commands that act on items.
struct ItemSelection: ParsableArguments {
    @Option(name: .customLong("item"), help: "An item (repeat; default: the items at the step before this one).")
    var items: [String] = []
}

struct IMRApply: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "The Administrative Director received the employee's IMR application."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @OptionGroup var selection: ItemSelection
    @Option(help: "The day it was received.") var received: String = "today"
    var method: String { "ReceiveIMRApplication" }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        let items = try itemsOrDefault(
            selection.items,
            client,
            caseId,
            statuses: ["denied", "modified"],
            what: "denied or modified by UR",
            lacking: "ur-not-decided"
        )
        return ["itemIds": strings(items), "receivedOn": .string(try When.date(received, option: "--received"))]
    }
}

struct IMRRequestEligibilityInformation: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "request-eligibility-info",
        abstract: "The Administrative Director asked the parties for eligibility information."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @OptionGroup var selection: ItemSelection
    @Option(help: "The day the request reached the parties.") var on: String = "today"
    @Option(help: "What is requested.") var what: String
    @Option(name: .customLong("from"), help: "employee and/or claims-administrator (repeat).") var parties: [String] = [
        "employee", "claims-administrator",
    ]
    var method: String { "RequestEligibilityInformation" }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        let parties = try self.parties.map {
            try choice($0, EligibilityInformationParty.self, option: "--from").rawValue
        }
        let items = try itemsOrDefault(
            selection.items,
            client,
            caseId,
            statuses: ["imrApplied"],
            without: "eligibilityInformationRequestedOn",
            what: "with an IMR application",
            lacking: "no-imr-application"
        )
        return [
            "itemIds": strings(items), "requestedOn": .string(try When.date(on, option: "--on")),
            "whatIsRequested": .string(what), "requestedFrom": strings(parties),
        ]
    }
}

struct IMRSendEligibilityInformation: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "send-eligibility-info",
        abstract: "The parties sent the eligibility information asked for."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @OptionGroup var selection: ItemSelection
    @Option(help: "The day it was sent.") var on: String = "today"
    var method: String { "SendEligibilityInformation" }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        let items = try itemsOrDefault(
            selection.items,
            client,
            caseId,
            statuses: ["imrApplied"],
            without: "eligibilityInformationSentOn",
            what: "awaiting eligibility information"
        )
        return ["itemIds": strings(items), "sentOn": .string(try When.date(on, option: "--on"))]
    }
}

struct IMREligible: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "eligible",
        abstract: "The application was found eligible."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @OptionGroup var selection: ItemSelection
    @Option(help: "The day.") var on: String = "today"
    var method: String { "FindEligible" }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        let items = try itemsOrDefault(
            selection.items,
            client,
            caseId,
            statuses: ["imrApplied"],
            what: "with an IMR application",
            lacking: "no-imr-application"
        )
        return ["itemIds": strings(items), "foundOn": .string(try When.date(on, option: "--on"))]
    }
}

struct IMRIneligible: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "ineligible",
        abstract: "The application was found ineligible."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @OptionGroup var selection: ItemSelection
    @Option(help: "The day.") var on: String = "today"
    @Option(help: "late, no-ur-denial, untimely-ur, duplicate, already-decided or other.") var reason: String
    @Option(help: "Details.") var detail: String?
    var method: String { "FindIneligible" }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        let reason = try choice(reason, IneligibilityReason.self, option: "--reason")
        let items = try itemsOrDefault(
            selection.items,
            client,
            caseId,
            statuses: ["imrApplied"],
            what: "with an IMR application",
            lacking: "no-imr-application"
        )
        return [
            "itemIds": strings(items), "foundOn": .string(try When.date(on, option: "--on")),
            "reason": .string(reason.rawValue), "detail": detail.map { .string($0) } ?? .null,
        ]
    }
}

struct IMRAssign: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "assign",
        abstract: "The IMR organization was assigned.",
        discussion: "Example: imr-ctl imr assign C-1001 --imr-case CM24-0012345 --assigned 2024-04-02"
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @OptionGroup var selection: ItemSelection
    @Option(name: .customLong("imr-case"), help: "The IMR case number, e.g. CM24-0012345.") var imrCase: String
    @Option(help: "The day of assignment.") var assigned: String = "today"
    @Option(help: "standard or expedited.") var priority: IMRPriority = .standard
    @Option(help: "How the notice of assignment was sent: mail or electronic.") var notice: String = "mail"
    var method: String { "AssignIMR" }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        let notice = try choice(notice, AssignmentNoticeMethod.self, option: "--notice")
        let items = try itemsOrDefault(
            selection.items,
            client,
            caseId,
            statuses: ["imrApplied", "imrEligible"],
            what: "with an IMR application"
        )
        return [
            "itemIds": strings(items), "imrCaseNumber": .string(imrCase),
            "assignedOn": .string(try When.date(assigned, option: "--assigned")),
            "priority": .string(priority.rawValue), "noticeMethod": .string(notice.rawValue),
        ]
    }
}

struct IMRRecords: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "records",
        abstract: "The IMR organization received the medical records."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(name: .customLong("imr-case"), help: "The IMR case number.") var imrCase: String
    @Option(help: "The day they were received.") var received: String = "today"
    var method: String { "ReceiveRecords" }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        ["imrCaseNumber": .string(imrCase), "receivedOn": .string(try When.date(received, option: "--received"))]
    }
}

struct IMRDetermine: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "determine",
        abstract: "Record the IMR Final Determination.",
        discussion: """
            Example: imr-ctl imr determine C-1001 --imr-case CM24-0012345 --decided 2024-05-10 --item 1=overturned --item 2=upheld \\
                       --guideline '1=MTUS ACOEM Low Back' --specialty 'Orthopedic Surgery'
            To import the letter itself, use 'imr-ctl import FILE'.
            """
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(name: .customLong("imr-case"), help: "The IMR case number.") var imrCase: String
    @Option(help: "The day of the determination.") var decided: String
    @Option(help: "The day it was mailed (when unknown, the deadlines count from the determination and say so).")
    var mailed: String?
    @Option(help: "The reviewer's specialty.") var specialty: String = "not stated"
    @Option(name: .customLong("item"), help: "ITEM=upheld|overturned (repeat for each item).") var decisions: [String] =
        []
    @Option(name: .customLong("guideline"), help: "ITEM=guideline the reviewer relied on (repeat).") var guidelines:
        [String] = []
    @Option(name: .customLong("rationale"), help: "ITEM=summary of the rationale (repeat).") var rationales: [String] =
        []
    var method: String { "RecordDetermination" }

    func validate() throws {
        if decisions.isEmpty { throw ValidationError("give each item's decision with --item ITEM=upheld|overturned") }
    }

    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        let guideline = Dictionary(
            try guidelines.map { try pair($0, option: "--guideline", example: "1='MTUS Chronic Pain'") },
            uniquingKeysWith: { $1 }
        )
        let rationale = Dictionary(
            try rationales.map { try pair($0, option: "--rationale", example: "1='not medically necessary'") },
            uniquingKeysWith: { $1 }
        )
        let items: [JSONValue] = try decisions.map { text in
            let (item, value) = try pair(text, option: "--item", example: "1=overturned")
            let decision = try choice(value, IMRItemDecision.self, option: "--item \(item)")
            return .object([
                "itemId": .string(item), "decision": .string(decision.rawValue),
                "guideline": .string(guideline[item] ?? ""), "rationaleSummary": .string(rationale[item] ?? ""),
            ])
        }
        let decidedOn = try When.date(decided, option: "--decided")
        return [
            "imrCaseNumber": .string(imrCase), "decidedOn": .string(decidedOn),
            "mailedOn": try mailed.map { .string(try When.date($0, option: "--mailed")) } ?? .null,
            "reviewerSpecialty": .string(specialty), "items": .array(items),
        ]
    }
}

// MARK: - implement, appeal

struct Implement: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "implement",
        abstract: "An overturned item was implemented (authorized or reimbursed)."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(help: "The item.") var item: String
    @Option(help: "The day.") var on: String = "today"
    @Option(help: "authorized or reimbursed.") var kind: String = "authorized"
    var method: String { "RecordImplementation" }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        let kind = try choice(kind, ImplementationKind.self, option: "--kind")
        return [
            "itemId": .string(item), "implementedOn": .string(try When.date(on, option: "--on")),
            "kind": .string(kind.rawValue),
        ]
    }
}

package struct AppealGroup: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "appeal",
        abstract: "Record a WCAB appeal of a determination, and how it was resolved.",
        subcommands: [AppealFile.self, AppealResolve.self],
        defaultSubcommand: AppealFile.self
    )
    package init() {}
}

struct AppealFile: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "file",
        abstract: "A WCAB appeal was filed (the default: 'imr-ctl appeal CASE ...')."
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @OptionGroup var selection: ItemSelection
    @Option(help: "The day it was filed.") var filed: String = "today"
    @Option(help: "employee or claims-administrator.") var by: String
    var method: String { "FileAppeal" }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        let by = try choice(by, AppealingParty.self, option: "--by")
        let items = try itemsOrDefault(
            selection.items,
            client,
            caseId,
            statuses: ["upheld", "overturned"],
            what: "with an IMR determination",
            lacking: "not-determined"
        )
        return [
            "itemIds": strings(items), "filedOn": .string(try When.date(filed, option: "--filed")),
            "filedBy": .string(by.rawValue),
        ]
    }
}

struct AppealResolve: RecordingCommand {
    static let configuration = CommandConfiguration(commandName: "resolve", abstract: "The WCAB resolved an appeal.")
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @OptionGroup var selection: ItemSelection
    @Option(help: "The day.") var on: String = "today"
    @Option(help: "dismissed, denied or remanded.") var outcome: String
    var method: String { "ResolveAppeal" }
    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        let outcome = try choice(outcome, AppealOutcome.self, option: "--outcome")
        let items = try itemsOrDefault(
            selection.items,
            client,
            caseId,
            statuses: ["appealed"],
            what: "under appeal",
            lacking: "no-appeal"
        )
        return [
            "itemIds": strings(items), "resolvedOn": .string(try When.date(on, option: "--on")),
            "outcome": .string(outcome.rawValue),
        ]
    }
}

// MARK: - correct

struct Correct: RecordingCommand {
    static let configuration = CommandConfiguration(
        commandName: "correct",
        abstract: "Correct one field of an earlier event; the original stays in the log and deadlines recompute.",
        discussion: """
            Example: imr-ctl correct C-1001 --version 2 --field receivedAt --value 2024-03-01T09:15 --reason "fax log shows 09:15"
            'imr-ctl history CASE' shows each event's version. Fields: \(CorrectableField.allCases.map(\.rawValue).joined(separator: ", ")) \
            (in any letter case; the item field names `show --json` prints, such as imrAssignedOn, work too).
            """
    )
    @OptionGroup var recording: RecordingOptions
    @Argument(help: "The case.") var caseId: String
    @Option(help: "The version of the event to correct (see 'imr-ctl history').") var version: Int
    @Option(help: "The field.") var field: CorrectableField
    @Option(help: "The right value: a date, an instant, yes/no, or text, as the field needs.") var value: String
    @Option(help: "Why (kept in the log).") var reason: String
    var method: String { "Correct" }

    func parameters(_ client: DaemonClient) throws -> [String: JSONValue] {
        let corrected: JSONValue
        switch field {
        case .receivedAt, .decidedAt, .notifiedAt:
            corrected = ["kind": "instant", "value": .string(try When.instant(value, option: "--value").0)]
        case .expedited, .formulary:
            guard let flag = ["yes": true, "true": true, "no": false, "false": false][value.lowercased()] else {
                throw ValidationError("--value for \(field.rawValue) must be yes or no")
            }
            corrected = ["kind": "flag", "value": .bool(flag)]
        case .claimNumber, .transmission, .physician, .reviewType, .serviceMethod, .serviceDestination, .priority,
            .noticeMethod, .reviewerSpecialty:
            corrected = ["kind": "text", "value": .string(value)]
        default:
            corrected = ["kind": "date", "value": .string(try When.date(value, option: "--value"))]
        }
        return [
            "version": .int(Int64(version)), "field": .string(field.rawValue), "value": corrected,
            "reason": .string(reason),
        ]
    }
}

extension CorrectableField: ExpressibleByArgument {
    /// The names `imr-ctl show --json` gives an item's fields, for the field of the event
    /// that recorded them (a coordinator copies the name they see).
    static let shownNames: [String: CorrectableField] = [
        "imrapplicationreceivedon": .receivedOn, "imreligibleon": .foundOn, "imrineligibleon": .foundOn,
        "imrassignedon": .assignedOn,
        "imrpriority": .priority, "recordsreceivedon": .receivedOn, "determinationdecidedon": .decidedOn,
        "determinationmailedon": .mailedOn, "appealfiledon": .filedOn, "appealresolvedon": .resolvedOn,
    ]

    /// A field by its name, in any letter case, or by the name `show` prints for it.
    public init?(argument: String) {
        let key = argument.trimmingCharacters(in: .whitespaces).lowercased()
        guard let field = Self.allCases.first(where: { $0.rawValue.lowercased() == key }) ?? Self.shownNames[key] else {
            return nil
        }
        self = field
    }
}
extension IMRPriority: ExpressibleByArgument {}

/// The login name of the user running imr-ctl (the coordinator "mine" refers to).
func currentUserName() -> String {
    if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return String(cString: name) }
    return ProcessInfo.processInfo.environment["USER"] ?? "unknown"
}

/// Every imr-ctl subcommand, in the order `imr-ctl --help` lists them.
package enum IMRControlCommands {
    /// `imr-ctl --version`; the same as imr-daemon's (a test holds them equal).
    package static let version = "0.1.0"

    package static let all: [ParsableCommand.Type] = [
        CaseGroup.self, RFAGroup.self, URGroup.self, IMRGroup.self, Implement.self, AppealGroup.self, Correct.self,
        Cases.self, Show.self, Deadlines.self, History.self, Stats.self, Export.self,
        Alerts.self, Digest.self, Ack.self, Snooze.self, ReassignAlert.self,
        Calc.self, Rules.self, Import.self,
        Status.self, Verify.self, Backup.self, Rebuild.self, Call.self, Demo.self,
    ]
}
