import Foundation

/// An alert was raised about a deadline at one level. Keyed by (deadline id, level): the
/// event id is derived from them, so the log holds at most one per pair.
public struct AlertRaised: Codable, Sendable, Hashable {
    public static let typeName = "AlertRaised"
    public var alertId: UUID
    public var caseId: CaseID
    public var rule: RuleID
    public var deadlineId: String
    public var level: AlertLevel
    /// The deadline's due instant.
    public var due: Date
    /// When the alert was due to be raised (lead time, after quiet hours).
    public var scheduledAt: Date
    /// When it was raised.
    public var raisedAt: Date
    /// Raised after its scheduled time: the daemon was not running (or the machine slept).
    public var late: Bool
    /// The case's coordinator when it was raised.
    public var coordinator: String

    public init(
        alertId: UUID,
        caseId: CaseID,
        rule: RuleID,
        deadlineId: String,
        level: AlertLevel,
        due: Date,
        scheduledAt: Date,
        raisedAt: Date,
        late: Bool,
        coordinator: String
    ) {
        self.alertId = alertId
        self.caseId = caseId
        self.rule = rule
        self.deadlineId = deadlineId
        self.level = level
        self.due = due
        self.scheduledAt = scheduledAt
        self.raisedAt = raisedAt
        self.late = late
        self.coordinator = coordinator
    }
}

/// Someone saw the alert and took it on; it leaves the open alerts.
public struct AlertAcknowledged: Codable, Sendable, Hashable {
    public static let typeName = "AlertAcknowledged"
    public var alertId: UUID
    /// The user name of who acknowledged it.
    public var by: String
    public var at: Date

    public init(alertId: UUID, by: String, at: Date) {
        self.alertId = alertId
        self.by = by
        self.at = at
    }
}

/// The alert is hidden from the open alerts until an instant.
public struct AlertSnoozed: Codable, Sendable, Hashable {
    public static let typeName = "AlertSnoozed"
    public var alertId: UUID
    public var until: Date
    public var by: String
    public var at: Date

    public init(alertId: UUID, until: Date, by: String, at: Date) {
        self.alertId = alertId
        self.until = until
        self.by = by
        self.at = at
    }
}

/// The alert now belongs to another coordinator (the case's coordinator is unchanged).
public struct AlertReassigned: Codable, Sendable, Hashable {
    public static let typeName = "AlertReassigned"
    public var alertId: UUID
    public var coordinator: String
    public var by: String
    public var at: Date

    public init(alertId: UUID, coordinator: String, by: String, at: Date) {
        self.alertId = alertId
        self.coordinator = coordinator
        self.by = by
        self.at = at
    }
}

/// An alert event of any kind.
public enum AlertEvent: Sendable, Hashable {
    case raised(AlertRaised)
    case acknowledged(AlertAcknowledged)
    case snoozed(AlertSnoozed)
    case reassigned(AlertReassigned)

    public var typeName: String {
        switch self {
        case .raised: AlertRaised.typeName
        case .acknowledged: AlertAcknowledged.typeName
        case .snoozed: AlertSnoozed.typeName
        case .reassigned: AlertReassigned.typeName
        }
    }
}

/// Stored form of alert events: JSON with sorted keys, instants as whole seconds since
/// 1970 (like case events), schema version 1.
public enum AlertEventCodec {
    public static let schemaVersion = 1
    public static let typeNames: Set<String> = [
        AlertRaised.typeName, AlertAcknowledged.typeName, AlertSnoozed.typeName, AlertReassigned.typeName,
    ]

    public static func encode(_ event: AlertEvent) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Int64(date.timeIntervalSince1970.rounded(.down)))
        }
        switch event {
        case .raised(let e): return try encoder.encode(e)
        case .acknowledged(let e): return try encoder.encode(e)
        case .snoozed(let e): return try encoder.encode(e)
        case .reassigned(let e): return try encoder.encode(e)
        }
    }

    public static func decode(type: String, schemaVersion: Int, payload: Data) throws -> AlertEvent {
        guard schemaVersion == Self.schemaVersion else {
            throw CaseEventDecodingError(
                type: type,
                schemaVersion: schemaVersion,
                message: "this build reads alert events of version 1 only"
            )
        }
        // The scheduler raises and every rebuild reads one AlertRaised per alert: read without
        // Codable when the payload is the plain JSON the encoder writes (as case events are).
        if type == AlertRaised.typeName, let event = StoredJSON.readObject(payload, AlertRaised.init(stored:)) {
            return .raised(event)
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            Date(timeIntervalSince1970: TimeInterval(try decoder.singleValueContainer().decode(Int64.self)))
        }
        do {
            switch type {
            case AlertRaised.typeName: return .raised(try decoder.decode(AlertRaised.self, from: payload))
            case AlertAcknowledged.typeName:
                return .acknowledged(try decoder.decode(AlertAcknowledged.self, from: payload))
            case AlertSnoozed.typeName: return .snoozed(try decoder.decode(AlertSnoozed.self, from: payload))
            case AlertReassigned.typeName: return .reassigned(try decoder.decode(AlertReassigned.self, from: payload))
            default:
                throw CaseEventDecodingError(
                    type: type,
                    schemaVersion: schemaVersion,
                    message: "unknown alert event type"
                )
            }
        } catch let error as CaseEventDecodingError {
            throw error
        } catch {
            throw CaseEventDecodingError(type: type, schemaVersion: schemaVersion, message: "\(error)")
        }
    }
}

extension AlertRaised {
    /// The properties Codable's synthesized `init(from:)` reads, under the same keys (see
    /// ``StoredJSON``); a payload it declines is read with `JSONDecoder`.
    init(stored o: StoredJSON.Object) throws(StoredJSON.Declined) {
        guard let alertId = UUID(uuidString: try o.value("alertId").string()) else { throw StoredJSON.Declined() }
        self.init(
            alertId: alertId,
            caseId: try o.value("caseId").identifier(),
            rule: try o.value("rule").choice(),
            deadlineId: try o.value("deadlineId").string(),
            level: try o.value("level").choice(),
            due: try o.value("due").instant(),
            scheduledAt: try o.value("scheduledAt").instant(),
            raisedAt: try o.value("raisedAt").instant(),
            late: try o.value("late").bool(),
            coordinator: try o.value("coordinator").string()
        )
    }
}
