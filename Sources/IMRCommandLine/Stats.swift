import ArgumentParser
import Foundation
import IMRWire
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
        let reply = try client.call(CaseStatsRequest())
        if read.json { return Output.json(reply["stats"] ?? .null) }
        let s = try DaemonClient.decode(StatisticsReply.self, reply, method: CaseStatsRequest.method).stats
        func percent(_ share: Double?) -> String { share.map { String(format: "%.1f%%", $0 * 100) } ?? "-" }
        func days(_ median: Double?) -> String { median.map { String(format: "%.1f days", $0) } ?? "-" }
        // The board (`deadlines --within 7d`) also lists the optional windows to ask for more
        // information until they close; the figures leave them out, and say so.
        print(
            "\(s.openCases) open cases; \(s.dueWithin7Days) deadlines due in the next 7 days "
                + "(windows to ask for more information not counted); \(s.overdue) overdue"
        )
        print("")
        Output.table(["STAGE", "OPEN CASES"], s.openByStage.map { [stageWords($0.stage), String($0.cases)] })
        print("")
        Output.table(
            ["RULE", "MET", "LATE", "MISSED", "ON TIME"],
            s.timelinessByRule.map {
                [$0.rule, String($0.met), String($0.metLate), String($0.missed), percent($0.onTimeShare)]
            }
        )
        print("")
        print(
            "IMR determinations: \(s.upheld) upheld, \(s.overturned) overturned; overturn rate \(percent(s.overturnRate))"
        )
        print(
            "Median per item: application to assignment \(days(s.medianDaysApplicationToAssignment)), "
                + "assignment to determination \(days(s.medianDaysAssignmentToDetermination))"
        )
    }
}
