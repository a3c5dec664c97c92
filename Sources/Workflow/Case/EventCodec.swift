import Foundation

/// An event in the shape the event log stores it: a type name, a schema version and a
/// JSON payload with sorted keys (so equal events give equal bytes, which the log's
/// hash chain relies on).
public struct EncodedCaseEvent: Sendable, Equatable {
    public var type: String
    public var schemaVersion: Int
    public var payload: Data

    public init(type: String, schemaVersion: Int, payload: Data) {
        self.type = type
        self.schemaVersion = schemaVersion
        self.payload = payload
    }
}

/// Why a stored event could not be read back.
public struct CaseEventDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    public let type: String
    public let schemaVersion: Int
    public let message: String
    public var description: String { "Cannot read event \(type) v\(schemaVersion): \(message)" }
}

/// Turns case events into stored payloads and back, upcasting old schema versions.
///
/// Instants are stored as whole seconds since 1970 (an integer) and dates as `YYYY-MM-DD`. Every type
/// reads its current version; older versions go through an upcaster that rebuilds the
/// current shape, so the fold only ever sees current events. Versions newer than this
/// code knows are refused rather than guessed at.
///
/// | type name | current schema version |
/// |---|---|
/// | `RFAReceived` | 2 (1: one `treatment`, `receivedDate` without time) |
/// | `IMRAssigned` | 2 (1: `noticeMethod` always present; read as is) |
/// | `IMRDeterminationIssued` | 2 (1: `mailedOn` always present; read as is) |
/// | every other event | 1 |
public enum CaseEventCodec {
    /// Every type name, with its current schema version.
    public static let currentVersions: [String: Int] = Dictionary(
        uniqueKeysWithValues: payloadTypes.map {
            ($0.typeName, $0.schemaVersion)
        }
    )

    private static let payloadTypes: [any CaseEventPayload.Type] = [
        CaseOpened.self, RFAReceived.self, MoreInformationRequested.self, InformationReceived.self,
        URDeferred.self, URDecisionIssued.self, PhysicianNotified.self, WrittenURDecisionServed.self,
        DisputedItemsImported.self, IMRApplicationReceived.self, IMREligibilityInformationRequested.self,
        IMREligibilityInformationSent.self,
        IMREligibilityFound.self, IMRFoundIneligible.self, IMRAssigned.self,
        IMRRecordsReceived.self, IMRDeterminationIssued.self, DeterminationImplemented.self,
        WCABAppealFiled.self, WCABAppealResolved.self, CaseWithdrawn.self, CaseClosed.self,
        CoordinatorReassigned.self, NoteAdded.self, EventCorrected.self,
    ]

    /// The event's type name, current schema version and JSON payload (sorted keys).
    public static func encode(_ event: CaseEvent) throws -> EncodedCaseEvent {
        let payload = event.payload
        return EncodedCaseEvent(
            type: type(of: payload).typeName,
            schemaVersion: type(of: payload).schemaVersion,
            payload: try encodeFast(event) ?? encodeWithCodable(event)
        )
    }

    /// The payload through `JSONEncoder` and Codable alone: what ``encodeFast(_:)`` is tested against.
    package static func encodeWithCodable(_ event: CaseEvent) throws -> Data {
        try encoder().encode(event.payload)
    }

    /// Reads a stored event, upcasting an older schema version to the current shape.
    ///
    /// Throws ``CaseEventDecodingError`` for an unknown type, a version with no upcaster,
    /// or a payload that does not fit (a malformed IMR case number, a missing field).
    public static func decode(type: String, schemaVersion: Int, payload: Data) throws -> CaseEvent {
        // The rebuild of the read models decodes every event of the log: the common types are read
        // without Codable, and anything that reader does not take goes to `JSONDecoder` as before.
        if let event = decodeFast(type: type, schemaVersion: schemaVersion, payload: payload) { return event }
        return try decodeWithCodable(type: type, schemaVersion: schemaVersion, payload: payload)
    }

    /// ``decode(type:schemaVersion:payload:)`` through `JSONDecoder` and Codable alone: the
    /// reference the fast path is tested and measured against, and what gives every error.
    package static func decodeWithCodable(type: String, schemaVersion: Int, payload: Data) throws -> CaseEvent {
        func read<P: CaseEventPayload>(_: P.Type, alsoReads older: Set<Int> = []) throws -> P {
            guard schemaVersion == P.schemaVersion || older.contains(schemaVersion) else {
                throw CaseEventDecodingError(
                    type: type,
                    schemaVersion: schemaVersion,
                    message:
                        "this build reads \(P.typeName) up to version \(P.schemaVersion) and has no upcaster for version \(schemaVersion)"
                )
            }
            return try decoder().decode(P.self, from: payload)
        }
        do {
            switch type {
            case CaseOpened.typeName: return .caseOpened(try read(CaseOpened.self))
            case RFAReceived.typeName:
                if schemaVersion == 1 {
                    return .rfaReceived(try decoder().decode(RFAReceivedV1.self, from: payload).upcast())
                }
                return .rfaReceived(try read(RFAReceived.self))
            case MoreInformationRequested.typeName:
                return .moreInformationRequested(try read(MoreInformationRequested.self))
            case InformationReceived.typeName: return .informationReceived(try read(InformationReceived.self))
            case URDeferred.typeName: return .urDeferred(try read(URDeferred.self))
            case URDecisionIssued.typeName: return .urDecisionIssued(try read(URDecisionIssued.self))
            case PhysicianNotified.typeName: return .physicianNotified(try read(PhysicianNotified.self))
            case WrittenURDecisionServed.typeName:
                return .writtenURDecisionServed(try read(WrittenURDecisionServed.self))
            case IMRApplicationReceived.typeName: return .imrApplicationReceived(try read(IMRApplicationReceived.self))
            case IMREligibilityInformationRequested.typeName:
                return .imrEligibilityInformationRequested(try read(IMREligibilityInformationRequested.self))
            case IMREligibilityInformationSent.typeName:
                return .imrEligibilityInformationSent(try read(IMREligibilityInformationSent.self))
            case IMREligibilityFound.typeName: return .imrEligibilityFound(try read(IMREligibilityFound.self))
            case IMRFoundIneligible.typeName: return .imrFoundIneligible(try read(IMRFoundIneligible.self))
            // Version 1 is version 2 with the optional field always present.
            case IMRAssigned.typeName: return .imrAssigned(try read(IMRAssigned.self, alsoReads: [1]))
            case IMRRecordsReceived.typeName: return .imrRecordsReceived(try read(IMRRecordsReceived.self))
            case IMRDeterminationIssued.typeName:
                return .imrDeterminationIssued(try read(IMRDeterminationIssued.self, alsoReads: [1]))
            case DisputedItemsImported.typeName: return .disputedItemsImported(try read(DisputedItemsImported.self))
            case DeterminationImplemented.typeName:
                return .determinationImplemented(try read(DeterminationImplemented.self))
            case WCABAppealFiled.typeName: return .wcabAppealFiled(try read(WCABAppealFiled.self))
            case WCABAppealResolved.typeName: return .wcabAppealResolved(try read(WCABAppealResolved.self))
            case CaseWithdrawn.typeName: return .caseWithdrawn(try read(CaseWithdrawn.self))
            case CaseClosed.typeName: return .caseClosed(try read(CaseClosed.self))
            case CoordinatorReassigned.typeName: return .coordinatorReassigned(try read(CoordinatorReassigned.self))
            case NoteAdded.typeName: return .noteAdded(try read(NoteAdded.self))
            case EventCorrected.typeName: return .eventCorrected(try read(EventCorrected.self))
            default:
                throw CaseEventDecodingError(type: type, schemaVersion: schemaVersion, message: "unknown event type")
            }
        } catch let error as CaseEventDecodingError {
            throw error
        } catch {
            throw CaseEventDecodingError(type: type, schemaVersion: schemaVersion, message: "\(error)")
        }
    }

    // New coders per call: JSONEncoder is a class, and sharing one would need a lock.
    private static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Int64(date.timeIntervalSince1970.rounded(.down)))
        }
        return encoder
    }

    private static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            Date(timeIntervalSince1970: TimeInterval(try decoder.singleValueContainer().decode(Int64.self)))
        }
        return decoder
    }
}

/// `RFAReceived` as first stored: one treatment per RFA and only the day of receipt.
struct RFAReceivedV1: Decodable {
    var rfaId: RFAID
    var receivedDate: LocalDate
    var transmission: Transmission
    var physician: String
    var treatmentRecommendedOn: LocalDate?
    var reviewType: ReviewType
    var expedited: Bool
    var treatment: String

    /// Version 1 streams had one item per RFA, so the RFA id also names its only item;
    /// that keeps item ids unique within the case. The time of receipt was never
    /// recorded: it becomes the start of the Pacific day, flagged as date-only, so the
    /// deadline engine can state its assumption. Formulary requests did not exist yet.
    func upcast() -> RFAReceived {
        RFAReceived(
            rfaId: rfaId,
            receivedAt: Pacific.startOfDay(receivedDate),
            receivedTimeOfDayKnown: false,
            transmission: transmission,
            physician: physician,
            treatmentRecommendedOn: treatmentRecommendedOn,
            reviewType: reviewType,
            expedited: expedited,
            formulary: false,
            items: [RequestedItem(id: ItemID(rfaId.rawValue), description: treatment)]
        )
    }
}
