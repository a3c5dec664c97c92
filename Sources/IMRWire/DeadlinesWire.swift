import Foundation
import Workflow

/// io.imr.Deadlines.ForCase's reply: every deadline of one case (`Deadline` in the interface
/// file), as `CaseDeadline` encodes it.
package struct DeadlinesOfCase: Codable, Sendable, Equatable {
    package var deadlines: [CaseDeadline]
    package init(deadlines: [CaseDeadline]) { self.deadlines = deadlines }
}

/// A row of the deadline board (`Deadline` in the interface file, as `List` and `Digest` give
/// it): the case deadline with the case's coordinator, and with `withAlerts` when the daemon's
/// policy alerts on it.
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

    package init(deadline: CaseDeadline, coordinator: String?, alerts: [AlertTime]?) {
        self.deadline = deadline
        self.coordinator = coordinator
        self.alerts = alerts
    }

    private enum Extra: String, CodingKey { case coordinator, alerts }

    /// The deadline's own keys and the row's beside them in one object.
    package init(from decoder: any Decoder) throws {
        deadline = try CaseDeadline(from: decoder)
        let c = try decoder.container(keyedBy: Extra.self)
        coordinator = try c.decodeIfPresent(String.self, forKey: .coordinator)
        alerts = try c.decodeIfPresent([AlertTime].self, forKey: .alerts)
    }

    package func encode(to encoder: any Encoder) throws {
        try deadline.encode(to: encoder)
        var c = encoder.container(keyedBy: Extra.self)
        try c.encodeIfPresent(coordinator, forKey: .coordinator)
        try c.encodeIfPresent(alerts, forKey: .alerts)
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
