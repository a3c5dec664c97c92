import ArgumentParser
import Foundation
import Varlink

/// `imr-ctl stats`: the caseload in figures.
package struct Stats: DaemonCommand {
    package static let configuration = CommandConfiguration(
        abstract:
            "Open cases by stage, deadlines due this week, share met on time per rule, IMR overturn rate, median IMR durations.",
        discussion: "--json prints the io.imr.Cases Statistics object."
    )
    @OptionGroup var read: ReadOptions
    package var connection: ConnectionOptions { read.connection }
    package init() {}

    package func run(_ client: DaemonClient) throws {
        let s = try client.call("io.imr.Cases.Stats")["stats"] ?? .null
        if read.json { return Output.json(s) }
        func percent(_ v: JSONValue) -> String {
            guard case .double(let d) = v else {
                if case .int(let i) = v { return "\(i * 100)%" }
                return "-"
            }
            return String(format: "%.1f%%", d * 100)
        }
        func days(_ v: JSONValue) -> String {
            switch v {
            case .double(let d): String(format: "%.1f days", d)
            case .int(let i): "\(i) days"
            default: "-"
            }
        }
        print(
            "\(s.at("openCases").text) open cases; \(s.at("dueWithin7Days").text) deadlines due in the next 7 days; \(s.at("overdue").text) overdue"
        )
        print("")
        Output.table(
            ["STAGE", "OPEN CASES"],
            s.at("openByStage").arrayValue.map { [stageWords($0.at("stage").text), $0.at("cases").text] }
        )
        print("")
        Output.table(
            ["RULE", "MET", "LATE", "MISSED", "ON TIME"],
            s.at("timelinessByRule").arrayValue.map {
                [
                    $0.at("rule").text, $0.at("met").text, $0.at("metLate").text, $0.at("missed").text,
                    percent($0.at("onTimeShare")),
                ]
            }
        )
        print("")
        print(
            "IMR determinations: \(s.at("upheld").text) upheld, \(s.at("overturned").text) overturned; overturn rate \(percent(s.at("overturnRate")))"
        )
        print(
            "Median per item: application to assignment \(days(s.at("medianDaysApplicationToAssignment"))), "
                + "assignment to determination \(days(s.at("medianDaysAssignmentToDetermination")))"
        )
    }
}
