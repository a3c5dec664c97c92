import Foundation
import Workflow

/// io.imr.Deadlines.ForCase's reply: every deadline of one case (`Deadline` in the interface
/// file), as `CaseDeadline` encodes it.
package struct DeadlinesOfCase: Codable, Sendable, Equatable {
    package var deadlines: [CaseDeadline]
    package init(deadlines: [CaseDeadline]) { self.deadlines = deadlines }
}

/// A row of the deadline board (`Deadline` in the interface file, as `List` and `Digest` give
/// it): the case deadline with the case's coordinator, with `withAlerts` when the daemon's
/// policy alerts on it, and with `withCase` the case's claim number and stage.
package struct DeadlineRow: Codable, Sendable, Equatable {
    /// An alert level and the instant the policy raises it.
    package struct AlertTime: Codable, Sendable, Equatable {
        package var level: String
        package var at: Date
        package init(level: String, at: Date) {
            self.level = level
            self.at = at
        }
    }

    package var deadline: CaseDeadline
    package var coordinator: String?
    package var alerts: [AlertTime]?
    /// The case's claim number, with `withCase` (the deadline CSV's column).
    package var claimNumber: String?
    /// The case's stage (`CaseSummary.stage`), with `withCase`.
    package var stage: String?

    package init(
        deadline: CaseDeadline,
        coordinator: String?,
        alerts: [AlertTime]?,
        claimNumber: String? = nil,
        stage: String? = nil
    ) {
        self.deadline = deadline
        self.coordinator = coordinator
        self.alerts = alerts
        self.claimNumber = claimNumber
        self.stage = stage
    }

    private enum Extra: String, CodingKey { case coordinator, alerts, claimNumber, stage }

    /// The deadline's own keys and the row's beside them in one object.
    package init(from decoder: any Decoder) throws {
        deadline = try CaseDeadline(from: decoder)
        let c = try decoder.container(keyedBy: Extra.self)
        coordinator = try c.decodeIfPresent(String.self, forKey: .coordinator)
        alerts = try c.decodeIfPresent([AlertTime].self, forKey: .alerts)
        claimNumber = try c.decodeIfPresent(String.self, forKey: .claimNumber)
        stage = try c.decodeIfPresent(String.self, forKey: .stage)
    }

    package func encode(to encoder: any Encoder) throws {
        try deadline.encode(to: encoder)
        var c = encoder.container(keyedBy: Extra.self)
        try c.encodeIfPresent(coordinator, forKey: .coordinator)
        try c.encodeIfPresent(alerts, forKey: .alerts)
        try c.encodeIfPresent(claimNumber, forKey: .claimNumber)
        try c.encodeIfPresent(stage, forKey: .stage)
    }
}

/// `Deadlines.List`'s reply.
package struct DeadlinePage: PagedReply, Encodable {
    package static let rowsKey = "deadlines"
    package var deadlines: [DeadlineRow]
    package var next: String?
    package var remaining: Int64
    package var remainingAtLeast: Bool
    package var rows: [DeadlineRow] { deadlines }
}

/// `Deadlines.Digest`'s reply: one coordinator's running deadlines overdue, due today and due in
/// the six days after, each at most 50 rows with the count of all.
package struct DigestReply: Codable, Sendable {
    package struct Section: Codable, Sendable {
        package var deadlines: [DeadlineRow]
        package var count: Int
        package var countIsAtLeast: Bool
    }
    package var coordinator: String
    package var day: LocalDate
    package var overdue: Section
    package var dueToday: Section
    package var thisWeek: Section
}
