import EventStore
import Foundation
import Workflow

/// The log's own administrative facts, on a stream of their own (`admin`), apart from cases
/// and alerts (the read models pass over it).
package enum AdminLog {
    package static let streamId = "admin"

    /// An operator started the daemon on a log whose head did not match its anchor
    /// (`imr-daemon --accept-tampered-log`): who, when, and what the check found.
    package struct TamperedLogAccepted: Codable, Sendable, Equatable {
        package static let typeName = "TamperedLogAccepted"
        /// The operator, as `uid:N name`.
        package var acceptedBy: String
        /// RFC 3339, Pacific.
        package var acceptedAt: String
        /// The check's sentence.
        package var found: String
        /// The position the anchor recorded (nil when it was missing) and its hash.
        package var anchorPosition: Int64?
        package var anchorHash: String?
        /// The log's last position and hash when accepted.
        package var lastPosition: Int64
        package var lastHash: String
        /// For a deleted tail: the first missing position.
        package var missingFrom: Int64?
    }

    /// Records the acceptance; the append moves the anchor to this event, so the log is
    /// consistent with its anchor again (its history still shows what was found).
    @discardableResult
    package static func recordAcceptance(
        of check: HeadCheck,
        in store: EventStore,
        actor: Actor,
        at now: Date
    ) throws -> AppendResult {
        let fact = TamperedLogAccepted(
            acceptedBy: actor.label,
            acceptedAt: Pacific.rfc3339(now),
            found: check.problem ?? "nothing",
            anchorPosition: check.anchor?.position,
            anchorHash: check.anchor?.hashHex,
            lastPosition: check.lastPosition,
            lastHash: check.lastHash.hexString,
            missingFrom: check.missingFrom
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let id = UUID.random()
        return try store.append(
            to: streamId,
            expected: .any,
            events: [
                NewEvent(
                    id: id,
                    type: TamperedLogAccepted.typeName,
                    payload: try encoder.encode(fact),
                    metadata: EventMetadata(actor: actor.label, correlationId: id.lowercasedText)
                )
            ]
        )
    }
}
