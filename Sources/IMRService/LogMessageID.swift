import Workflow

/// Fixed journal MESSAGE_IDs for the service's kinds of message, so operators can filter
/// (`journalctl MESSAGE_ID=...`). Made with `systemd-id128 new`; never change one.
package enum LogMessageID {
    /// A command recorded events on a case (fields IMR_CASE, IMR_EVENT_POSITION, IMR_ACTOR).
    package static let eventsRecorded = "9baa2f47bd2e47c9abf173345f3bbcc6"
    /// The lifecycle refused a command (IMR_CASE, IMR_REFUSAL_CODE).
    package static let transitionRefused = "644625d1ed82415586aa71ba401e9dc0"
    /// A connection was refused a method by its role.
    package static let accessRefused = "509ce2dd2eb04ec895c5d80c9a4a2f11"
    /// The event log's head anchor at start and stop (IMR_LOG_HEAD_POSITION, IMR_LOG_HEAD_HASH).
    package static let logHead = "f8c69a94a9094e80968ff2fb5e56983b"
    /// The event log's head does not match its anchor: the daemon refused to start, or started
    /// because --accept-tampered-log was given (IMR_PROBLEM, IMR_MISSING_FROM).
    package static let logTampered = "6aa509598a3041a1b78a2fa9785aa4c8"
    /// The WAL could not be checkpointed into the main file (warning; it grows meanwhile), or
    /// could again (notice) (IMR_CHECKPOINTER, IMR_ERROR, IMR_WAL_PAGES, IMR_FAILURES).
    package static let walCheckpoint = "6bf9fb0cbcde4c47b61ab801c326dcf6"
}

extension LogMessageID {
    /// An alert of level notice was raised (IMR_CASE, IMR_RULE, IMR_DEADLINE, IMR_DUE,
    /// IMR_COORDINATOR, IMR_ALERT_ID, IMR_ALERT_LEVEL, IMR_ALERT_LATE).
    package static let alertNotice = "92ee04ead481442c825515ac7f8aaa07"
    /// An alert of level reminder was raised (same fields).
    package static let alertReminder = "310321ba49d04490a1828fd8f6969a3b"
    /// An alert of level due-today was raised (same fields).
    package static let alertDueToday = "1d87ccdbb8d7470a9e90c8862f7d3654"
    /// An alert of level overdue was raised (same fields).
    package static let alertOverdue = "38893cd1167c41f59de4435f91e1b223"
    /// The alert notification command failed or timed out (IMR_ALERT_ID, IMR_ATTEMPT, IMR_ERROR).
    package static let alertCommandFailed = "fdc818e0581949acb5821d9c393b4e2d"

    /// A coordinator's morning digest (IMR_COORDINATOR, IMR_DIGEST_OVERDUE,
    /// IMR_DIGEST_DUE_TODAY, IMR_DIGEST_THIS_WEEK).
    package static let morningDigest = "08c9871798d44419b4f8dd1fbb10aa54"

    /// The MESSAGE_ID of a raised alert's journal entry.
    package static func alert(_ level: AlertLevel) -> String {
        switch level {
        case .notice: alertNotice
        case .reminder: alertReminder
        case .dueToday: alertDueToday
        case .overdue: alertOverdue
        }
    }
}
