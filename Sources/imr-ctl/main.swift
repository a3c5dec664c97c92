import ArgumentParser
import IMRCommandLine

@main
struct IMRControl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imr-ctl",
        abstract: "The case coordinator's command line for imr.",
        discussion: "imr keeps California UR/IMR disputes as events in an append-only log and warns before legal deadlines pass.",
        subcommands: [Calc.self, Rules.self, Import.self, Call.self, Demo.self])
}
