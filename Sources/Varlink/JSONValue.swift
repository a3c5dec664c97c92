import Foundation

/// Any JSON value, for Varlink parameters whose shape the protocol layer does not know.
package enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
    /// JSON text written out as it is: a reply can carry a value stored as JSON (a read
    /// model's row) without parsing and printing it again. Anything that looks into it (a
    /// subscript, a decoder, Codable) reads it parsed.
    case raw(RawJSON)

    package init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    package func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        case .raw(let r): try c.encode(r.parsed)
        }
    }

    package subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        if case .raw(let r) = self { return r.parsed[key] }
        return nil
    }

    package var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    package var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    /// A number, whether written as an integer or not.
    package var doubleValue: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }
    /// A number as an integer (a fraction cut off); nil for one an `Int64` cannot hold.
    package var intValue: Int64? {
        switch self {
        case .int(let i): i
        case .double(let d): d.isFinite && abs(d) < 9.2e18 ? Int64(d) : nil
        default: nil
        }
    }
    package var objectValue: [String: JSONValue]? {
        switch self {
        case .object(let o): o
        case .raw(let r): r.parsed.objectValue
        default: nil
        }
    }

    /// The value with every ``raw(_:)`` in it parsed (itself when it holds none).
    package var resolved: JSONValue {
        switch self {
        case .raw(let r): r.parsed
        case .array(let a) where a.contains(where: \.holdsRaw): .array(a.map(\.resolved))
        case .object(let o) where o.values.contains(where: \.holdsRaw): .object(o.mapValues(\.resolved))
        default: self
        }
    }

    var holdsRaw: Bool {
        switch self {
        case .raw: true
        case .array(let a): a.contains(where: \.holdsRaw)
        case .object(let o): o.values.contains(where: \.holdsRaw)
        default: false
        }
    }

    /// Encodes any `Encodable` value into a JSON value.
    package static func from<T: Encodable>(_ value: T) throws -> JSONValue {
        let data = try JSONCoding.encoder.encode(value)
        return try JSONParser.parse(Array(data), maximumDepth: JSONCoding.maximumDepth)
    }

    /// Decodes this JSON value as `T`.
    package func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONValueDecoder().decode(T.self, from: self)
    }
}

enum JSONCoding {
    /// How deep a value a client or a conversion reads (the server's own bound is in its limits).
    static let maximumDepth = 512

    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByNilLiteral,
    ExpressibleByIntegerLiteral,
    ExpressibleByDictionaryLiteral, ExpressibleByArrayLiteral
{
    package init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { $1 }))
    }
    package init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    package init(stringLiteral value: String) { self = .string(value) }
    package init(booleanLiteral value: Bool) { self = .bool(value) }
    package init(nilLiteral: ()) { self = .null }
    package init(integerLiteral value: Int64) { self = .int(value) }
}

// MARK: - Writing JSON without Codable

extension JSONValue {
    /// This value as JSON text (keys sorted, slashes not escaped: what `JSONCoding.encoder`
    /// writes), without the Codable machinery, which cost more than the rest of a call.
    package var serialized: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        append(to: &out)
        return out
    }

    func append(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: Self.nullBytes)
        case .bool(let b): out.append(contentsOf: b ? Self.trueBytes : Self.falseBytes)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .double(let d):
            // JSON has no NaN or infinity; such a value is sent as null rather than as invalid text.
            if d.isFinite { out.append(contentsOf: String(d).utf8) } else { out.append(contentsOf: Self.nullBytes) }
        case .string(let s): Self.appendString(s, to: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (n, element) in a.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                element.append(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            Self.appendObject(o.sorted { Self.utf8Precedes($0.key, $1.key) }, to: &out)
        case .raw(let r): out.append(contentsOf: r.bytes)
        }
    }

    static func appendObject(_ members: [(key: String, value: JSONValue)], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        for (n, member) in members.enumerated() {
            if n > 0 { out.append(UInt8(ascii: ",")) }
            appendString(member.key, to: &out)
            out.append(UInt8(ascii: ":"))
            member.value.append(to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// Whether `a` sorts before `b` byte by byte in UTF-8 (the order keys are written in).
    static func utf8Precedes(_ a: String, _ b: String) -> Bool {
        var a = a
        var b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                let common = min(x.count, y.count)
                if common > 0, let p = x.baseAddress, let q = y.baseAddress {
                    let order = memcmp(p, q, common)
                    if order != 0 { return order < 0 }
                }
                return x.count < y.count
            }
        }
    }

    /// `s` as a JSON string. Text with nothing to escape (nearly all of it) is copied whole.
    package static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            var clean = 0
            for (index, byte) in bytes.enumerated() {
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[clean..<index]))
                clean = index + 1
                out.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(byte)
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                default:
                    out.append(contentsOf: [
                        UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                        hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)],
                    ])
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[clean...]))
        }
        out.append(UInt8(ascii: "\""))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
    private static let nullBytes = Array("null".utf8)
    private static let trueBytes = Array("true".utf8)
    private static let falseBytes = Array("false".utf8)
}

extension VarlinkCall {
    /// The call as one JSON object (without its NUL terminator), keys sorted as
    /// `JSONCoding.encoder` writes them.
    package var serialized: [UInt8] {
        var members: [(key: String, value: JSONValue)] = [("method", .string(method))]
        if let more { members.append(("more", .bool(more))) }
        if let oneway { members.append(("oneway", .bool(oneway))) }
        if let parameters { members.append(("parameters", .object(parameters))) }
        if let upgrade { members.append(("upgrade", .bool(upgrade))) }
        var out: [UInt8] = []
        out.reserveCapacity(256)
        JSONValue.appendObject(members, to: &out)
        return out
    }
}

extension VarlinkReply {
    /// Whether the reply carries a long list (more than 64 elements in an array of its
    /// parameters, or of an object in them): worth writing out as JSON away from the threads
    /// that answer calls.
    var isLong: Bool {
        guard let parameters else { return false }
        for value in parameters.values {
            switch value {
            case .array(let a) where a.count > 64: return true
            case .object(let o)
            where o.values.contains(where: { if case .array(let a) = $0 { a.count > 64 } else { false } }): return true
            default: continue
            }
        }
        return false
    }

    /// A reply frame (without its NUL terminator) read as a reply.
    package static func parse<C: Collection<UInt8>>(frame: C) throws -> VarlinkReply {
        try JSONValueDecoder().decode(
            VarlinkReply.self,
            from: try JSONParser.parse(frame, maximumDepth: JSONCoding.maximumDepth)
        )
    }

    /// The reply as one JSON object (without its NUL terminator).
    package var serialized: [UInt8] {
        var members: [(key: String, value: JSONValue)] = []
        if let continues { members.append(("continues", .bool(continues))) }
        if let error { members.append(("error", .string(error))) }
        if let parameters { members.append(("parameters", .object(parameters))) }
        var out: [UInt8] = []
        out.reserveCapacity(256)
        JSONValue.appendObject(members, to: &out)
        return out
    }
}

/// One JSON value as text (UTF-8), checked when made: a ``JSONValue/raw(_:)`` is written out
/// byte for byte, so it must be one complete, valid JSON value.
package struct RawJSON: Sendable, Hashable {
    package let bytes: [UInt8]

    /// The text, if it is one JSON value the parser takes (at most `maximumDepth` deep);
    /// nil otherwise.
    package init?(validating bytes: [UInt8], maximumDepth: Int = JSONCoding.maximumDepth) {
        guard (try? JSONParser.parse(bytes, maximumDepth: maximumDepth)) != nil else { return nil }
        self.bytes = bytes
    }

    /// Text the caller built from valid JSON and vouches for (not checked again).
    package init(trusted bytes: [UInt8]) { self.bytes = bytes }

    /// The value parsed; null if the text is not JSON after all.
    package var parsed: JSONValue {
        (try? JSONParser.parse(bytes, maximumDepth: JSONCoding.maximumDepth)) ?? .null
    }
}
