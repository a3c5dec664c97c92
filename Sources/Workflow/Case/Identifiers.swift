import Foundation

/// A coordinator-chosen identifier: a string in a type of its own, so a case id cannot be
/// passed where an item id is meant. Coded as a bare JSON string.
public protocol StringIdentifier: Hashable, Comparable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    var rawValue: String { get }
    init(_ rawValue: String)
}

extension StringIdentifier {
    public init(stringLiteral value: String) { self.init(value) }
    public init(from decoder: Decoder) throws { self.init(try decoder.singleValueContainer().decode(String.self)) }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
    public var description: String { rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The identity of a dispute: one event stream per case.
public struct CaseID: StringIdentifier {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
}

/// The coordinator's name for one Request for Authorization within a case.
public struct RFAID: StringIdentifier {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
}

/// The identity of one requested treatment item.
///
/// Item ids are unique within the whole case, not just within their RFA: every later
/// fact (UR outcome, IMR application, determination, appeal) names an item by this id
/// alone, so a second RFA that asks again for the same treatment gets new ids
/// (e.g. "1", "2" on the first RFA, "3" on the second). ``decide(_:state:now:)``
/// refuses a reused id.
public struct ItemID: StringIdentifier {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
}

/// The IMRO's case number, e.g. `CM13-0050377`: `CM`, two digits, a hyphen, seven digits.
///
/// The only way to get one is through validation, so a malformed number never reaches
/// the log; decoding a malformed number from storage fails loudly.
public struct IMRCaseNumber: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    /// Returns nil unless `text` has the form `CM\d{2}-\d{7}`.
    public init?(_ text: String) {
        guard IMRCaseNumber.isWellFormed(text) else { return nil }
        rawValue = text
    }

    /// Validates `text`, throwing an error a coordinator can act on.
    public static func parse(_ text: String) throws -> IMRCaseNumber {
        guard let number = IMRCaseNumber(text) else {
            throw CaseRuleViolation(
                .invalidIMRCaseNumber,
                "IMR case number '\(text)' is not valid: it must read CM, two digits, a hyphen and seven digits, e.g. CM13-0050377"
            )
        }
        return number
    }

    static func isWellFormed(_ text: String) -> Bool {
        let chars = Array(text.utf8)
        guard chars.count == 12, chars[0] == UInt8(ascii: "C"), chars[1] == UInt8(ascii: "M"),
            chars[4] == UInt8(ascii: "-")
        else { return false }
        let digits = chars[2...3] + chars[5...]
        return digits.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard IMRCaseNumber.isWellFormed(text) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "'\(text)' is not an IMR case number (CM\\d{2}-\\d{7})"
            )
        }
        rawValue = text
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    public var description: String { rawValue }
    public static func < (lhs: IMRCaseNumber, rhs: IMRCaseNumber) -> Bool { lhs.rawValue < rhs.rawValue }
}
