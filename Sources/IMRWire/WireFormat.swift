import Foundation
import Varlink
import Workflow

/// How values cross the wire: dates as `YYYY-MM-DD`, instants as RFC 3339 or
/// `YYYY-MM-DDTHH:MM[:SS]` read as Pacific time.
package enum WireFormat {
    /// Parses an instant; nil when the text is neither form.
    package static func instant(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
            return date
        }
        // A local Pacific wall-clock time with no zone.
        let parts = text.split(separator: "T", maxSplits: 1)
        guard parts.count == 2, let day = LocalDate(iso: String(parts[0])) else { return nil }
        let clock = parts[1].split(separator: ":").map { Int($0) }
        guard (2...3).contains(clock.count), clock.allSatisfy({ $0 != nil }) else { return nil }
        let (h, m, s) = (clock[0]!, clock[1]!, clock.count == 3 ? clock[2]! : 0)
        guard (0..<24).contains(h), (0..<60).contains(m), (0..<60).contains(s) else { return nil }
        return Pacific.instant(day, hour: h, minute: m, second: s)
    }

    /// A decoder for wire parameters: instants in either accepted form; dates and instants
    /// outside ``LocalDate/supportedRange`` (1900-01-01 to 2199-12-31, Pacific) refused.
    package static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.userInfo[LocalDate.supportedRangeOnly] = true
        decoder.dateDecodingStrategy = .custom(decodeInstant)
        return decoder
    }

    /// The same as ``decoder`` for a value already parsed (call parameters, a stored body read
    /// with the Varlink parser): no JSON text printed and parsed again.
    package static var valueDecoder: JSONValueDecoder {
        var decoder = JSONValueDecoder()
        decoder.userInfo[LocalDate.supportedRangeOnly] = true
        decoder.dateDecoding = decodeInstant
        return decoder
    }

    /// A stored JSON text (a deadline's body, say) decoded as `T` through the Varlink parser
    /// and ``valueDecoder``.
    package static func decode<T: Decodable>(_ type: T.Type, json text: String) throws -> T {
        let value = try JSONParser.parse(Array(text.utf8), maximumDepth: 64)
        return try valueDecoder.decode(T.self, from: value)
    }

    @Sendable static func decodeInstant(_ d: any Decoder) throws -> Date {
        let c = try d.singleValueContainer()
        let text = try c.decode(String.self)
        guard let date = instant(text) else {
            throw DecodingError.dataCorruptedError(
                in: c,
                debugDescription:
                    "'\(text)' is not an instant: use RFC 3339 (2024-03-01T16:10:00-08:00) or YYYY-MM-DDTHH:MM in Pacific time"
            )
        }
        guard isSupported(date) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: LocalDate.outsideRange("'\(text)'"))
        }
        return date
    }

    /// Whether an instant's Pacific date is within ``LocalDate/supportedRange``.
    package static func isSupported(_ instant: Date) -> Bool {
        // Far outside the range the Pacific conversion itself may not hold: compare in UTC first.
        let seconds = instant.timeIntervalSince1970
        guard seconds.isFinite, seconds > -2_300_000_000, seconds < 7_300_000_000 else { return false }
        return LocalDate.supportedRange.contains(Pacific.date(of: instant))
    }

    /// ``encoder`` with slashes as they are: the text of replies kept as the encoder wrote it.
    package static var replyEncoder: JSONEncoder {
        let encoder = encoder
        encoder.outputFormatting.insert(.withoutEscapingSlashes)
        return encoder
    }

    /// An encoder for wire results: instants as RFC 3339 with the Pacific offset.
    package static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, e in
            var c = e.singleValueContainer()
            try c.encode(Pacific.rfc3339(date))
        }
        return encoder
    }

    /// Decodes the call's parameters as `T`; failures name the parameter and the reason.
    package static func decode<T: Decodable>(_ type: T.Type, from call: VarlinkCall) throws(VarlinkError) -> T {
        do {
            return try valueDecoder.decode(T.self, from: .object(call.parameters ?? [:]))
        } catch let error as DecodingError {
            let parameter = VarlinkCall.parameterName(of: error)
            switch error {
            case .dataCorrupted(let context) where !context.codingPath.isEmpty:
                throw VarlinkError(
                    "io.imr.Cases.InvalidValue",
                    parameters: [
                        "parameter": .string(parameter), "message": .string(context.debugDescription),
                    ]
                )
            default:
                throw VarlinkError.invalidParameter(parameter)
            }
        } catch {
            throw VarlinkError.invalidParameter("parameters")
        }
    }

    /// Encodes a value as a JSON object for a reply.
    package static func object<T: Encodable>(_ value: T) throws -> [String: JSONValue] {
        try parsedObject(try encoder.encode(value))
    }

    /// The members of encoded JSON text, parsed with Varlink's parser, not `JSONDecoder`:
    /// decoding `JSONValue` through Codable tries each kind of value in turn and cost several
    /// times the encoding.
    private static func parsedObject(_ data: Data) throws -> [String: JSONValue] {
        try data.withUnsafeBytes { try JSONParser.parse($0, maximumDepth: 512) }.objectValue ?? [:]
    }

    /// ``object(_:)`` with each member's value kept as the encoder wrote it
    /// (``JSONValue/raw(_:)``): a large reply (a case's detail, its timeline and every
    /// deadline) is written out without being parsed back into values and printed again. The
    /// same keys and values as ``object(_:)`` (a test holds the two equal); text the scan does
    /// not take (``StoredJSON/members(of:)``) is parsed as ``object(_:)`` does.
    package static func replyObject<T: Encodable>(_ value: T) throws -> [String: JSONValue] {
        let data = try replyEncoder.encode(value)
        guard let members = StoredJSON.members(of: data) else { return try parsedObject(data) }
        var object: [String: JSONValue] = [:]
        object.reserveCapacity(members.count)
        for member in members {
            object[member.key] = .raw(RawJSON(trusted: [UInt8](data[member.value])))
        }
        return object
    }
}
