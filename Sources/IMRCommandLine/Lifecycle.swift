import ArgumentParser
import Foundation
import IMRWire
import Varlink
import Workflow

// The recording commands: one per lifecycle fact of io.imr.Cases. Each sends one call; the
// daemon decides whether the lifecycle allows it (refusals exit 1 with the reason).
// The commands, by group: Lifecycle+Case.swift, Lifecycle+RFA.swift, Lifecycle+UR.swift,
// Lifecycle+IMR.swift (with implement), Lifecycle+Appeal.swift, Lifecycle+Corrections.swift;
// the dates and instants they take: When.swift.

/// Options every recording command takes.
package struct RecordingOptions: ParsableArguments {
    @OptionGroup package var connection: ConnectionOptions

    @Option(
        name: .customLong("command-id"),
        help: ArgumentHelp(
            "A UUID naming this command: sending it again with the same id records nothing new (for scripts that retry); a different command with an id already used is refused (exit 65). Without it the daemon makes an id of its own, and the same command sent again is a new one.",
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
    var caseId: String { get }
    /// The lifecycle fact to record, built from the options as the typed value the daemon
    /// decodes (`RecordingCall` names its method and encodes it).
    func command(_ client: DaemonClient) throws -> CaseCommand
}

extension RecordingCommand {
    package var connection: ConnectionOptions { recording.connection }

    package func run(_ client: DaemonClient) throws {
        let (method, parameters) = try RecordingCall.call(
            try command(client),
            caseId: caseId,
            commandId: recording.commandId
        )
        let reply = try client.call(method, parameters)
        if recording.json {
            Output.json(reply["recorded"] ?? .null)
            return
        }
        let recorded: RecordedReply
        do {
            recorded = try WireFormat.valueDecoder.decode(RecordedReply.self, from: reply["recorded"] ?? .null)
        } catch {
            throw CommandFailure(
                "the daemon's reply to \(method) is not what this imr-ctl reads: \(error)",
                status: .software
            )
        }
        let types = recorded.events
        if recorded.alreadyRecorded {
            print("case \(caseId): this command was recorded before; nothing changed (version \(recorded.version))")
            return
        }
        // In words: what was recorded, the dates and instants it carries (saying which were
        // the default or a day word), then the deadlines it started and met.
        let when = Readback.dates(parameters, words: Readback.dayWords(of: self))
        print(
            "case \(caseId): recorded \(types.map(Readback.words).joined(separator: ", "))"
                + (when.isEmpty ? "" : " (\(when.joined(separator: ", ")))")
                + " (\(types.joined(separator: ", ")), version \(recorded.version))"
        )
        let version = Int(recorded.version)
        let new = Set((version - types.count + 1)...max(version, version - types.count + 1))
        // The deadlines as they stand now; a failure to read them leaves the recording as it is.
        guard let page = try? client.reply(DeadlinesForCaseRequest(caseId: caseId)) else { return }
        for deadline in page.deadlines where deadline.supersededBy == nil {
            let rule = deadline.rule.rawValue
            if let v = deadline.trigger.eventVersion, new.contains(v),
                deadline.status == .pending || deadline.status == .missed
            {
                print(
                    "  started \(rule), due \(dueText(deadline)) (\(relativeDays(deadline)))"
                        + (deadline.status == .missed ? ": already passed" : "")
                )
            }
            if let v = deadline.satisfiedBy?.eventVersion, new.contains(v) {
                print("  \(deadline.status == .metLate ? "met late" : "met") \(rule) (due \(dueText(deadline)))")
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
            if key.hasSuffix("At"), let instant = WireInstant.parse(text) {
                let minute = pacificMinute(instant)
                if words.contains("now") { return "\(label) \(minute) (now)" }
                if let day { return "\(label) \(minute.prefix(10)) (\(day), time of day unknown)" }
                return "\(label) \(minute)"
            }
            let word = day.map { " (\($0))" } ?? ""
            return "\(label) \(text)\(word)"
        }
    }
}

/// A date option as the fact's `LocalDate` (YYYY-MM-DD, or today, yesterday, tomorrow).
func day(_ text: String, option: String) throws -> LocalDate {
    // When.date answers in the wire's own form, so the conversion cannot fail.
    LocalDate(iso: try When.date(text, option: option))!
}

/// An instant option as the fact's `Date`, and whether a time of day was given.
func instant(_ text: String, option: String) throws -> (at: Date, timeKnown: Bool) {
    let (wire, timeKnown) = try When.instant(text, option: option)
    return (WireFormat.instant(wire)!, timeKnown)
}

func itemIDs(_ ids: [String]) -> [ItemID] { ids.map(ItemID.init) }

/// An IMR case number as the fact's type; one the daemon would refuse is refused here with
/// its sentence (exit 65), before any call.
func imrCaseNumber(_ text: String) throws -> IMRCaseNumber {
    do {
        return try WireFormat.valueDecoder.decode(IMRCaseNumber.self, from: .string(text))
    } catch let DecodingError.dataCorrupted(context) {
        throw CommandFailure("imrCaseNumber: \(context.debugDescription)", status: .dataError)
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

/// The case as the daemon has it, for commands that default their items from its state.
func caseDetail(_ client: DaemonClient, _ caseId: String) throws -> CaseView {
    try client.reply(CaseGetRequest(caseId: caseId)).case
}

/// The given item ids, or else every item of the case whose status is one of `statuses`.
/// `without`: whether an item already has what the command records (it was notified, say): such an item is left out.
/// `lacking`: the refusal code of what the case lacks, for the command that records it.
func itemsOrDefault(
    _ given: [String],
    _ client: DaemonClient,
    _ caseId: String,
    statuses: Set<String>,
    without done: (CaseView.Item) -> Bool = { _ in false },
    what: String,
    lacking: String? = nil
) throws -> [String] {
    if !given.isEmpty { return given }
    let items = try caseDetail(client, caseId).items
        .filter { item in
            statuses.contains(item.status) && !done(item)
        }
        .map(\.itemId)
    guard !items.isEmpty else {
        let hint = lacking.flatMap { RefusalHint.command(forCode: $0, caseId: caseId) }.map { "; \($0)" } ?? ""
        throw CommandFailure("case \(caseId) has no item \(what); name the items with --item\(hint)", status: .refused)
    }
    return items
}

/// Options of the IMR commands that act on items.
struct ItemSelection: ParsableArguments {
    @Option(name: .customLong("item"), help: "An item (repeat; default: the items at the step before this one).")
    var items: [String] = []
}

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
