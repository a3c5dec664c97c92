import ArgumentParser
import Varlink
import Workflow

// imr-ctl correct: one field of an earlier event.

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

    func command(_ client: DaemonClient) throws -> CaseCommand {
        let corrected: CorrectionValue
        switch field {
        case .receivedAt, .decidedAt, .notifiedAt:
            corrected = .instant(try instant(value, option: "--value").at)
        case .expedited, .formulary:
            guard let flag = ["yes": true, "true": true, "no": false, "false": false][value.lowercased()] else {
                throw ValidationError("--value for \(field.rawValue) must be yes or no")
            }
            corrected = .flag(flag)
        case .claimNumber, .transmission, .physician, .reviewType, .serviceMethod, .serviceDestination, .priority,
            .noticeMethod, .reviewerSpecialty:
            corrected = .text(value)
        default:
            corrected = .date(try day(value, option: "--value"))
        }
        return .correct(CorrectEvent(version: version, field: field, value: corrected, reason: reason))
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
