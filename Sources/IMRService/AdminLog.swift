import EventStore
import Foundation
import Workflow

/// The log's own administrative facts, on a stream of their own (`admin`), apart from cases
/// and alerts (the read models pass over it).
public enum AdminLog {
    public static let streamId = "admin"

    /// An operator started the daemon on a log whose head did not match its anchor
    /// (`imr-daemon --accept-tampered-log`): who, when, and what the check found.
    public struct TamperedLogAccepted: Codable, Sendable, Equatable {
        public static let typeName = "TamperedLogAccepted"
        /// The operator, as `uid:N name`.
        public var acceptedBy: String
        /// RFC 3339, Pacific.
        public var acceptedAt: String
        /// The check's sentence.
        public var found: String
        /// The position the anchor recorded (nil when it was missing) and its hash.
        public var anchorPosition: Int64?
        public var anchorHash: String?
        /// The log's last position and hash when accepted.
        public var lastPosition: Int64
        public var lastHash: String
        /// For a deleted tail: the first missing position.
        public var missingFrom: Int64?
    }

    /// Records the acceptance; the append moves the anchor to this event, so the log is
    /// consistent with its anchor again (its history still shows what was found).
    @discardableResult
    public static func recordAcceptance(
        of check: HeadCheck, in store: EventStore, actor: Actor, at now: Date
    ) throws -> AppendResult {
        let fact = TamperedLogAccepted(
            acceptedBy: actor.label, acceptedAt: Pacific.rfc3339(now), found: check.problem ?? "nothing",
            anchorPosition: check.anchor?.position, anchorHash: check.anchor?.hashHex, lastPosition: check.lastPosition,
            lastHash: check.lastHash.hexString, missingFrom: check.missingFrom)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let id = UUID.random()
        return try store.append(to: streamId, expected: .any, events: [
            NewEvent(
                id: id, type: TamperedLogAccepted.typeName, payload: try encoder.encode(fact),
                metadata: EventMetadata(actor: actor.label, correlationId: id.uuidString.lowercased())),
        ])
    }
}
