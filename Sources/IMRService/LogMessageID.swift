/// Fixed journal MESSAGE_IDs for the service's kinds of message, so operators can filter
/// (`journalctl MESSAGE_ID=...`). Made with `systemd-id128 new`; never change one.
public enum LogMessageID {
    /// A command recorded events on a case (fields IMR_CASE, IMR_EVENT_POSITION, IMR_ACTOR).
    public static let eventsRecorded = "9baa2f47bd2e47c9abf173345f3bbcc6"
    /// The lifecycle refused a command (IMR_CASE, IMR_REFUSAL_CODE).
    public static let transitionRefused = "644625d1ed82415586aa71ba401e9dc0"
    /// A connection was refused a method by its role.
    public static let accessRefused = "509ce2dd2eb04ec895c5d80c9a4a2f11"
}
