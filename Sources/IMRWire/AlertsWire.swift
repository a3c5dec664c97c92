import Foundation

// io.imr.Alerts' replies, for both ends: the service writes them (by hand for a page, a test
// holding that equal to the encoder's), imr-ctl decodes them, and a test holds
// io.imr.Alerts.varlink to their fields.

/// An alert as the read model shows it.
package struct AlertView: Sendable, Hashable, Codable {
    /// The alert id, lower-case.
    package var alertId: String
    package var deadlineId: String
    package var caseId: String
    package var rule: String
    package var level: String
    package var due: Date
    package var scheduledAt: Date
    package var raisedAt: Date
    package var late: Bool
    /// Whose alert it is: the case's coordinator when raised, or whom it was reassigned to.
    package var coordinator: String
    package var acknowledgedBy: String?
    package var acknowledgedAt: Date?
    package var snoozedUntil: Date?
    /// The global position of the AlertRaised event.
    package var position: Int64
    /// From the alert's deadline while it is in the deadlines read model: every item it covers
    /// (one alert per deadline and level, whatever the number of items), its due date, and
    /// whether it falls due at an exact instant (an hour deadline) rather than at the end of
    /// its day.
    package var itemIds: [String] = []
    package var dueDate: String?
    package var isExactInstant: Bool?

    package init(
        alertId: String,
        deadlineId: String,
        caseId: String,
        rule: String,
        level: String,
        due: Date,
        scheduledAt: Date,
        raisedAt: Date,
        late: Bool,
        coordinator: String,
        acknowledgedBy: String? = nil,
        acknowledgedAt: Date? = nil,
        snoozedUntil: Date? = nil,
        position: Int64,
        itemIds: [String] = [],
        dueDate: String? = nil,
        isExactInstant: Bool? = nil
    ) {
        self.alertId = alertId
        self.deadlineId = deadlineId
        self.caseId = caseId
        self.rule = rule
        self.level = level
        self.due = due
        self.scheduledAt = scheduledAt
        self.raisedAt = raisedAt
        self.late = late
        self.coordinator = coordinator
        self.acknowledgedBy = acknowledgedBy
        self.acknowledgedAt = acknowledgedAt
        self.snoozedUntil = snoozedUntil
        self.position = position
        self.itemIds = itemIds
        self.dueDate = dueDate
        self.isExactInstant = isExactInstant
    }
}

/// The orders of `Alerts.List` (its `order`): as raised (by the position of their AlertRaised),
/// or by their deadline's due instant, alerts due at the same instant in the order they were raised.
package enum AlertOrder: String, Sendable, CaseIterable {
    case raised
    case due
}

/// `Alerts.List`'s reply.
package struct AlertListPage: PagedReply, Encodable {
    package static let rowsKey = "alerts"
    package var alerts: [AlertView]
    package var next: String?
    package var remaining: Int64
    package var remainingAtLeast: Bool
    package var rows: [AlertView] { alerts }
}

/// `Alerts.Follow`'s replies: an alert raised, acknowledged, snoozed or reassigned (nil in the
/// reply that ends the replay of those open when the call began); `replayed` while replaying.
package struct AlertFollowReply: Codable, Sendable {
    package var alert: AlertView?
    package var replayed: Bool
}

/// The reply of `Acknowledge`, `Snooze` and `Reassign`: the alert as it now is.
package struct AlertReply: Codable, Sendable {
    package var alert: AlertView
}
