/// A JSON parser for untrusted messages: one pass over the bytes (linear time), nesting bounded
/// before it is entered, no intermediate representation. Foundation's `JSONDecoder` decoding
/// ``JSONValue`` costs time quadratic in the nesting depth (each failed `try?` of
/// `init(from:)` describes the subtree), so a few kilobytes of `[[[[…]]]]` could stall the
/// daemon; this parser is what the server reads calls with.
package enum JSONParser {
    /// Why a message is not acceptable JSON; `description` is a sentence for the sender.
    package struct Failure: Error, Hashable, CustomStringConvertible {
        package let reason: String
        /// Byte offset in the message where the problem was found.
        package let offset: Int
        package var description: String { "\(reason) (at byte \(offset))" }
    }

    /// Parses one JSON text (RFC 8259) into a ``JSONValue``. Arrays and objects nested deeper
    /// than `maximumDepth` are refused as soon as the first one too deep opens.
    package static func parse(_ bytes: UnsafeRawBufferPointer, maximumDepth: Int) throws(Failure) -> JSONValue {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw Failure(reason: "the message is not valid UTF-8", offset: 0)
        }
        var parser = Parser(bytes: bytes, maximumDepth: maximumDepth)
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.failure("there is text after the JSON value") }
        return value
    }

    /// Parses `bytes` (copied into contiguous memory first when they are not).
    package static func parse<C: Collection<UInt8>>(_ bytes: C, maximumDepth: Int) throws(Failure) -> JSONValue {
        let result: Result<JSONValue, Failure>? = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(Failure) in try parse(UnsafeRawBufferPointer(buffer), maximumDepth: maximumDepth) }
        }
        if let result { return try result.get() }
        let array = Array(bytes)
        return try array.withUnsafeBytes { raw in
            Result { () throws(Failure) in try parse(raw, maximumDepth: maximumDepth) }
        }.get()
    }

    private struct Parser {
        let bytes: UnsafeRawBufferPointer
        let maximumDepth: Int
        var index = 0

        func failure(_ reason: String) -> Failure { Failure(reason: reason, offset: index) }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) throws(Failure) -> JSONValue {
            guard let byte = current else { throw failure("the JSON text ends where a value was expected") }
            switch byte {
            case UInt8(ascii: "{"):
                guard depth < maximumDepth else {
                    throw failure("arrays and objects are nested deeper than \(maximumDepth) levels")
                }
                return try object(depth: depth + 1)
            case UInt8(ascii: "["):
                guard depth < maximumDepth else {
                    throw failure("arrays and objects are nested deeper than \(maximumDepth) levels")
                }
                return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"):
                try literal("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try literal("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try literal("null")
                return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw failure("unexpected character where a value was expected")
            }
        }

        mutating func literal(_ word: StaticString) throws(Failure) {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { throw failure("unknown literal") }
            for i in 0..<count where bytes[index + i] != word.utf8Start[i] { throw failure("unknown literal") }
            index += count
        }

        mutating func object(depth: Int) throws(Failure) -> JSONValue {
            index += 1  // {
            var members: [String: JSONValue] = [:]
            skipWhitespace()
            if current == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else { throw failure("an object's key must be a string") }
                let key = try string()
                skipWhitespace()
                guard current == UInt8(ascii: ":") else { throw failure("expected ':' after an object's key") }
                index += 1
                skipWhitespace()
                members[key] = try value(depth: depth)
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"):
                    index += 1
                    return .object(members)
                default: throw failure("expected ',' or '}' in an object")
                }
            }
        }

        mutating func array(depth: Int) throws(Failure) -> JSONValue {
            index += 1  // [
            var elements: [JSONValue] = []
            skipWhitespace()
            if current == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                elements.append(try value(depth: depth))
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"):
                    index += 1
                    return .array(elements)
                default: throw failure("expected ',' or ']' in an array")
                }
            }
        }

        mutating func string() throws(Failure) -> String {
            index += 1  // opening quote
            let start = index
            // Fast path: no escapes.
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                    index += 1
                    return text
                }
                if byte == UInt8(ascii: "\\") { break }
                if byte < 0x20 { throw failure("a string holds a control character; escape it") }
                index += 1
            }
            var scalars: [UInt8] = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    return String(decoding: scalars, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    index += 1
                    guard let escaped = current else { throw failure("a string ends inside an escape") }
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(escaped)
                    case UInt8(ascii: "b"): scalars.append(0x08)
                    case UInt8(ascii: "f"): scalars.append(0x0C)
                    case UInt8(ascii: "n"): scalars.append(0x0A)
                    case UInt8(ascii: "r"): scalars.append(0x0D)
                    case UInt8(ascii: "t"): scalars.append(0x09)
                    case UInt8(ascii: "u"):
                        var code = try hex4()
                        if (0xD800..<0xDC00).contains(code) {
                            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                                bytes[index + 1] == UInt8(ascii: "u")
                            else {
                                throw failure("a \\u escape holds half of a surrogate pair")
                            }
                            index += 2
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else {
                                throw failure("a \\u escape holds half of a surrogate pair")
                            }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00..<0xE000).contains(code) {
                            throw failure("a \\u escape holds half of a surrogate pair")
                        }
                        scalars.append(contentsOf: String(Character(Unicode.Scalar(code)!)).utf8)
                    default:
                        throw failure("unknown escape in a string")
                    }
                default:
                    if byte < 0x20 { throw failure("a string holds a control character; escape it") }
                    scalars.append(byte)
                    index += 1
                }
            }
            throw failure("a string is not terminated")
        }

        mutating func hex4() throws(Failure) -> UInt32 {
            guard index + 4 <= bytes.count else { throw failure("a \\u escape needs four hex digits") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw failure("a \\u escape needs four hex digits")
                }
                value = value << 4 | UInt32(digit)
                index += 1
            }
            return value
        }

        mutating func number() throws(Failure) -> JSONValue {
            let start = index
            var integral = true
            if current == UInt8(ascii: "-") { index += 1 }
            func digits(_ p: inout Parser) -> Int {
                var n = 0
                while let b = p.current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) {
                    p.index += 1
                    n += 1
                }
                return n
            }
            let first = current
            let whole = digits(&self)
            guard whole > 0 else { throw failure("a number needs digits") }
            if first == UInt8(ascii: "0") && whole > 1 { throw failure("a number has a leading zero") }
            if current == UInt8(ascii: ".") {
                index += 1
                integral = false
                guard digits(&self) > 0 else { throw failure("a number needs digits after '.'") }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                index += 1
                integral = false
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
                guard digits(&self) > 0 else { throw failure("a number needs digits in its exponent") }
            }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            if integral, let int = Int64(text) { return .int(int) }
            guard let double = Double(text), double.isFinite else { throw failure("a number is out of range") }
            return .double(double)
        }
    }
}
