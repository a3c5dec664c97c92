import EventStore
import Foundation
import Workflow

/// How cases live in the event log: one stream per case, named `case-<id>`.
public enum CaseStreams {
    public static let prefix = "case-"

    public static func streamId(_ caseId: CaseID) -> String { prefix + caseId.rawValue }

    /// The case id of a case stream; nil for other streams.
    public static func caseId(ofStream streamId: String) -> CaseID? {
        streamId.hasPrefix(prefix) ? CaseID(String(streamId.dropFirst(prefix.count))) : nil
    }

    /// Decodes a stored event of a case stream.
    public static func decode(_ event: RecordedEvent) throws -> RecordedCaseEvent {
        let payload = try CaseEventCodec.decode(type: event.type, schemaVersion: event.schemaVersion, payload: event.payloadData)
        return RecordedCaseEvent(event: payload, version: Int(event.streamVersion), eventId: event.id, recordedAt: event.recordedAt)
    }

    /// Folds a case stream's stored events into its state.
    public static func fold(_ events: [RecordedEvent]) throws -> CaseState {
        CaseState.rebuild(from: try events.map(decode))
    }
}

extension Date {
    /// Whole microseconds since 1970: how the read models store instants (SQLite integers).
    var unixMicroseconds: Int64 { Int64((timeIntervalSince1970 * 1_000_000).rounded()) }
}
