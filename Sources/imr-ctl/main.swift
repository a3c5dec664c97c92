import ArgumentParser
import Foundation
import IMRCommandLine
import Workflow

@main
struct IMRControl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imr-ctl",
        abstract: "The case coordinator's command line for imr.",
        discussion: """
            imr keeps California UR/IMR disputes as events in an append-only log and warns before legal deadlines pass.
            The daemon's socket: --socket PATH, else $IMR_SOCKET, else /run/imr/imr.sock.
            Dates are YYYY-MM-DD (California dates; 2024-3-5, today, yesterday, tomorrow and now work too); \
            instants YYYY-MM-DDTHH:MM (Pacific time) or RFC 3339 or now; both from \
            1900-01-01 to 2199-12-31. Case, RFA and item ids are 1 to 64 ASCII letters, digits and - _ . : / #; \
            a case id may be typed in any letter case when only one case has it.
            Exit status: 0 done; 1 refused (the lifecycle does not allow it, a letter contradicts the case, snooze of an \
            alert already acknowledged, the log \
            was altered or its tail deleted); 64 usage; 65 a value or file imr cannot accept (or a command id already \
            used for a different command); 66 no such case or alert; 69 no daemon \
            at the socket; 70 the daemon failed (its sentence is printed); 73 a backup or an export's file cannot be \
            created as asked; 74 the daemon's event log failed (disk full, read-only, corrupt) or a backup or an \
            export could not be written; \
            75 the case changed meanwhile or the daemon is at a connection limit (run again); 77 permission denied.
            """,
        version: IMRControlCommands.version,
        subcommands: IMRControlCommands.all
    )

    /// The first word that should name a subcommand but names none: the word, the path of
    /// commands before it, and the nearest names (a typo of one or two letters, or a prefix).
    static func unknownSubcommand(_ arguments: [String]) -> (String, [String], [String])? {
        var current: any ParsableCommand.Type = IMRControl.self
        var path: [String] = []
        for word in arguments {
            if word.hasPrefix("-") || word == "help" { return nil }
            let subcommands = current.configuration.subcommands
            guard !subcommands.isEmpty else { return nil }
            if let next = subcommands.first(where: {
                $0._commandName == word || $0.configuration.aliases.contains(word)
            }) {
                current = next
                path.append(word)
                continue
            }
            // A group with a default subcommand takes the word as that one's argument.
            if current.configuration.defaultSubcommand != nil { return nil }
            let names = subcommands.map { $0._commandName }
            func distance(_ a: String, _ b: String) -> Int { editDistance(a, b) }
            let near = names.filter {
                distance($0, word.lowercased()) <= 2 || (word.count >= 3 && $0.hasPrefix(word.lowercased()))
            }
            return (word, path, near.sorted { distance($0, word) < distance($1, word) })
        }
        return nil
    }

    /// ArgumentParser's own main, except that a value refused once parsing is done (a
    /// ValidationError thrown by a subcommand's run) prints that subcommand's usage, not the
    /// top-level one.
    static func main() async {
        // A parent that started imr-ctl with these blocked (a test runner, a service manager)
        // must not make `alerts --follow` deaf to Ctrl-C and kill: they end it as usual.
        var interrupting = sigset_t()
        sigemptyset(&interrupting)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&interrupting, signal) }
        sigprocmask(SIG_UNBLOCK, &interrupting, nil)
        if let (typed, parent, near) = Self.unknownSubcommand(Array(CommandLine.arguments.dropFirst())) {
            let path = (["imr-ctl"] + parent).joined(separator: " ")
            let hint = near.isEmpty ? "" : "; did you mean " + near.map { "'\($0)'" }.joined(separator: " or ") + "?"
            FileHandle.standardError.write(
                Data(
                    "Error: '\(typed)' is not a command of \(path)\(hint)\n  See '\(path) --help' for the commands.\n"
                        .utf8
                )
            )
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
        let command: any ParsableCommand
        do { command = try parseAsRoot() } catch { exit(withError: error) }
        do {
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                var synchronous = command
                try synchronous.run()
            }
        } catch let error as ValidationError {
            let usage = usageString(for: type(of: command))
            // "imr-ctl rfa receive <case-id> ..." → "imr-ctl rfa receive".
            let path = usage.split(separator: " ").prefix {
                !$0.hasPrefix("<") && !$0.hasPrefix("[") && !$0.hasPrefix("-")
            }.joined(separator: " ")
            FileHandle.standardError.write(
                Data("Error: \(error.message)\nUsage: \(usage)\n  See '\(path) --help' for more information.\n".utf8)
            )
            Foundation.exit(ExitCode.validationFailure.rawValue)
        } catch {
            exit(withError: error)
        }
    }
}
