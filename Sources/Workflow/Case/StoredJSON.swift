import Foundation

/// A strict, allocation-light reader of the JSON objects ``CaseEventCodec`` stores, for the
/// codec's fast path (`JSONDecoder` with Codable costs several times the parse itself).
///
/// It takes standard JSON only (RFC 8259: no BOM, no leading zeros, no lone surrogates, no
/// control characters or invalid UTF-8 in strings, nesting at most ``maximumDepth`` deep), and
/// object keys only as plain ASCII without escapes, the way the codec's encoder writes them.
/// Anything else is ``Declined``: the codec then reads the payload with `JSONDecoder`, which
/// gives the value or today's error. So this reader may refuse what `JSONDecoder` takes (which
/// is looser: a skipped member's number is not even checked), but must never take what it
/// refuses or read a value differently.
package enum StoredJSON {
    /// The reader met something it does not take; never shown to anyone.
    struct Declined: Error {}

    /// Nesting deeper than this is declined (`JSONDecoder` has a limit of its own).
    static let maximumDepth = 32

    /// Members an object may have: more are declined (an event has a dozen at most).
    static let maximumMembers = 32

    /// Reads `payload` as one JSON object (with whitespace around it), handing its members to
    /// `body`; nil when the payload is anything else or `body` declines.
    static func readObject<T>(_ payload: Data, _ body: (Object) throws(Declined) -> T) -> T? {
        payload.withUnsafeBytes { raw -> T? in
            let bytes = Bytes(raw.bindMemory(to: UInt8.self))
            let start = bytes.skipWhitespace(0)
            do {
                let (value, end) = try bytes.readObject(start, depth: 0, body)
                guard bytes.skipWhitespace(end) == bytes.count else { throw Declined() }
                return value
            } catch {
                return nil
            }
        }
    }

    /// The members of `payload`, one JSON object this reader takes (every value checked): each
    /// key and the byte range of its value in the payload; nil for anything else. For text that
    /// is edited where it stands (a read model's stored row spliced into a reply).
    package static func members(of payload: Data) -> [(key: String, value: Range<Int>)]? {
        readObject(payload) { object in
            object.members.map { member in
                (
                    String(decoding: UnsafeBufferPointer(rebasing: object.bytes.buffer[member.key]), as: UTF8.self),
                    member.value.start..<member.value.end
                )
            }
        }
    }

    /// Where a value is in the payload, as the scan that checked it found it.
    struct Span {
        var start: Int
        /// Just after its last byte.
        var end: Int
        /// A string with escapes (one without is its bytes as they are).
        var escaped = false
    }

    /// A member of an object: its key's bytes (between the quotes) and its value.
    struct Member {
        var key: Range<Int>
        var value: Span
    }

    /// An object's members, found in one pass that also checked every value.
    struct Object {
        fileprivate let bytes: Bytes
        fileprivate let members: UnsafeBufferPointer<Member>
        fileprivate let depth: Int

        /// The value under `key`, nil when the object has no such key. Declines a key given
        /// twice (`JSONDecoder` takes the first; no encoder of ours writes one).
        func valueIfPresent(_ key: StaticString) throws(Declined) -> Value? {
            let name = UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
            var found: Value?
            for member in members where bytes.equal(member.key, name) {
                guard found == nil else { throw Declined() }
                found = Value(bytes: bytes, span: member.value, depth: depth + 1)
            }
            return found
        }

        /// The value under `key`, which must be there.
        func value(_ key: StaticString) throws(Declined) -> Value {
            guard let value = try valueIfPresent(key) else { throw Declined() }
            return value
        }

        /// The value under `key` of an optional property: nil when absent or null, as Codable's
        /// `decodeIfPresent` reads it.
        func optional(_ key: StaticString) throws(Declined) -> Value? {
            guard let value = try valueIfPresent(key), !value.isNull else { return nil }
            return value
        }
    }

    /// A value in the payload, read as the type its property has.
    struct Value {
        fileprivate let bytes: Bytes
        fileprivate let span: Span
        fileprivate let depth: Int

        private var start: Int { span.start }

        var isNull: Bool { bytes.hasLiteral("null", at: start) }

        func bool() throws(Declined) -> Bool {
            if bytes.hasLiteral("true", at: start) { return true }
            if bytes.hasLiteral("false", at: start) { return false }
            throw Declined()
        }

        /// A string, its escapes replaced.
        func string() throws(Declined) -> String {
            guard bytes[start] == quote else { throw Declined() }
            let content = start + 1..<span.end - 1
            guard span.escaped else { return bytes.text(content) }
            return try bytes.unescaped(content)
        }

        /// A string-backed enumeration, through `init(rawValue:)` as Codable does.
        func choice<E: RawRepresentable>(_: E.Type = E.self) throws(Declined) -> E where E.RawValue == String {
            guard let value = E(rawValue: try string()) else { throw Declined() }
            return value
        }

        func identifier<I: StringIdentifier>(_: I.Type = I.self) throws(Declined) -> I { I(try string()) }

        /// Through `IMRCaseNumber(_:)`, the check Codable's `init(from:)` makes.
        func imrCaseNumber() throws(Declined) -> IMRCaseNumber {
            guard let number = IMRCaseNumber(try string()) else { throw Declined() }
            return number
        }

        /// `"YYYY-MM-DD"` in ASCII digits, through `LocalDate(year:month:day:)` as
        /// `LocalDate(iso:)` does; a sign, an escape or a day that does not exist is declined.
        func localDate() throws(Declined) -> LocalDate {
            guard bytes[start] == quote, bytes[start + 5] == hyphen, bytes[start + 8] == hyphen,
                bytes[start + 11] == quote,
                let year = bytes.digits(start + 1..<start + 5),
                let month = bytes.digits(start + 6..<start + 8),
                let day = bytes.digits(start + 9..<start + 11),
                let date = LocalDate(year: year, month: month, day: day)
            else { throw Declined() }
            return date
        }

        /// Whole seconds since 1970 as an integer, as the codec's date strategy reads an
        /// `Int64`; a fraction or an exponent (which `JSONDecoder` would also take) is declined.
        func instant() throws(Declined) -> Date {
            var position = start
            let negative = bytes[position] == minus
            if negative { position += 1 }
            // A leading zero is a number only alone (and then the scan of the object checked it).
            var magnitude: UInt64 = 0
            let first = position
            while let digit = bytes.digit(at: position) {
                let (times10, overflow) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, carry) = times10.addingReportingOverflow(UInt64(digit))
                guard !overflow, !carry else { throw Declined() }
                magnitude = sum
                position += 1
            }
            guard position > first, !(bytes[first] == zero && position - first > 1) else { throw Declined() }
            let next = bytes[position]
            guard next != dot, next != lowerE, next != upperE else { throw Declined() }
            let seconds: Int64
            if negative {
                guard magnitude <= UInt64(Int64.max) + 1 else { throw Declined() }
                seconds = Int64(bitPattern: 0 &- magnitude)
            } else {
                guard magnitude <= UInt64(Int64.max) else { throw Declined() }
                seconds = Int64(magnitude)
            }
            return Date(timeIntervalSince1970: TimeInterval(seconds))
        }

        /// An array, each element read by `element`.
        func array<T>(_ element: (Value) throws(Declined) -> T) throws(Declined) -> [T] {
            guard bytes[start] == openBracket else { throw Declined() }
            var result: [T] = []
            var position = bytes.skipWhitespace(start + 1)
            if bytes[position] == closeBracket { return result }
            while true {
                let span = try bytes.scanValue(position, depth: depth + 1)
                result.append(try element(Value(bytes: bytes, span: span, depth: depth + 1)))
                position = bytes.skipWhitespace(span.end)
                if bytes[position] == comma {
                    position = bytes.skipWhitespace(position + 1)
                } else if bytes[position] == closeBracket {
                    return result
                } else {
                    throw Declined()
                }
            }
        }

        /// An object, its members handed to `body`.
        func object<T>(_ body: (Object) throws(Declined) -> T) throws(Declined) -> T {
            try bytes.readObject(start, depth: depth, body).value
        }
    }
}

// MARK: - Scanning

private let quote = UInt8(ascii: "\"")
private let backslash = UInt8(ascii: "\\")
private let slash = UInt8(ascii: "/")
private let colon = UInt8(ascii: ":")
private let comma = UInt8(ascii: ",")
private let hyphen = UInt8(ascii: "-")
private let minus = UInt8(ascii: "-")
private let plus = UInt8(ascii: "+")
private let dot = UInt8(ascii: ".")
private let zero = UInt8(ascii: "0")
private let lowerE = UInt8(ascii: "e")
private let upperE = UInt8(ascii: "E")
private let openBrace = UInt8(ascii: "{")
private let closeBrace = UInt8(ascii: "}")
private let openBracket = UInt8(ascii: "[")
private let closeBracket = UInt8(ascii: "]")

/// The payload's bytes. Reading past the end gives 0, which no JSON token starts or goes on
/// with (and a string must not hold raw): every scan that runs off the end declines, so no
/// read needs a bounds check of its own.
private struct Bytes {
    let buffer: UnsafeBufferPointer<UInt8>

    init(_ buffer: UnsafeBufferPointer<UInt8>) { self.buffer = buffer }

    var count: Int { buffer.count }

    subscript(position: Int) -> UInt8 {
        @inline(__always) get { position < buffer.count ? buffer[position] : 0 }
    }

    func skipWhitespace(_ position: Int) -> Int {
        var position = position
        while true {
            switch self[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return position
            }
        }
    }

    func digit(at position: Int) -> UInt8? {
        let byte = self[position]
        return byte >= zero && byte <= zero + 9 ? byte - zero : nil
    }

    /// The decimal number of ASCII digits in `range` (nothing else), nil otherwise.
    func digits(_ range: Range<Int>) -> Int? {
        var value = 0
        for position in range {
            guard let digit = digit(at: position) else { return nil }
            value = value * 10 + Int(digit)
        }
        return value
    }

    /// Whether the bytes of `range` (within the payload) are `other`'s.
    func equal(_ range: Range<Int>, _ other: UnsafeBufferPointer<UInt8>) -> Bool {
        guard range.count == other.count else { return false }
        for offset in 0..<other.count where buffer[range.lowerBound + offset] != other[offset] { return false }
        return true
    }

    func hasLiteral(_ literal: StaticString, at position: Int) -> Bool {
        let text = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for offset in 0..<text.count where self[position + offset] != text[offset] { return false }
        return true
    }

    /// The JSON value at `position`, all of it checked.
    func scanValue(_ position: Int, depth: Int) throws(StoredJSON.Declined) -> StoredJSON.Span {
        let end: Int
        switch self[position] {
        case quote:
            let string = try scanString(position)
            return StoredJSON.Span(start: position, end: string.end, escaped: string.escaped)
        case openBrace: end = try scanObject(position, depth: depth, into: nil).end
        case openBracket: end = try endOfArray(position, depth: depth)
        case UInt8(ascii: "t"): end = try endOfLiteral("true", at: position)
        case UInt8(ascii: "f"): end = try endOfLiteral("false", at: position)
        case UInt8(ascii: "n"): end = try endOfLiteral("null", at: position)
        case minus, zero...(zero + 9): end = try endOfNumber(position)
        default: throw StoredJSON.Declined()
        }
        return StoredJSON.Span(start: position, end: end)
    }

    private func endOfLiteral(_ literal: StaticString, at position: Int) throws(StoredJSON.Declined) -> Int {
        guard hasLiteral(literal, at: position) else { throw StoredJSON.Declined() }
        return position + literal.utf8CodeUnitCount
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    private func endOfNumber(_ position: Int) throws(StoredJSON.Declined) -> Int {
        var position = position
        if self[position] == minus { position += 1 }
        if self[position] == zero {
            position += 1
        } else {
            position = try endOfDigits(position)
        }
        if self[position] == dot { position = try endOfDigits(position + 1) }
        if self[position] == lowerE || self[position] == upperE {
            position += 1
            if self[position] == plus || self[position] == minus { position += 1 }
            position = try endOfDigits(position)
        }
        return position
    }

    /// One or more digits.
    private func endOfDigits(_ position: Int) throws(StoredJSON.Declined) -> Int {
        guard digit(at: position) != nil else { throw StoredJSON.Declined() }
        var position = position + 1
        while digit(at: position) != nil { position += 1 }
        return position
    }

    private func endOfArray(_ position: Int, depth: Int) throws(StoredJSON.Declined) -> Int {
        guard depth < StoredJSON.maximumDepth else { throw StoredJSON.Declined() }
        var position = skipWhitespace(position + 1)
        if self[position] == closeBracket { return position + 1 }
        while true {
            position = skipWhitespace(try scanValue(position, depth: depth + 1).end)
            switch self[position] {
            case comma: position = skipWhitespace(position + 1)
            case closeBracket: return position + 1
            default: throw StoredJSON.Declined()
            }
        }
    }

    /// The object at `position` read by `body`, and the position just after it.
    func readObject<T>(
        _ position: Int,
        depth: Int,
        _ body: (StoredJSON.Object) throws(StoredJSON.Declined) -> T
    ) throws(StoredJSON.Declined) -> (value: T, end: Int) {
        try withUnsafeTemporaryAllocation(of: StoredJSON.Member.self, capacity: StoredJSON.maximumMembers) {
            (storage) throws(StoredJSON.Declined) -> (value: T, end: Int) in
            let (end, count) = try scanObject(position, depth: depth, into: storage)
            let members = UnsafeBufferPointer(rebasing: storage[..<count])
            return (try body(StoredJSON.Object(bytes: self, members: members, depth: depth)), end)
        }
    }

    /// The object at `position`, all of it checked: the position just after it and how many
    /// members it has, which are written to `storage` when given (more than it holds are
    /// declined). Keys must be plain ASCII without escapes.
    func scanObject(
        _ position: Int,
        depth: Int,
        into storage: UnsafeMutableBufferPointer<StoredJSON.Member>?
    ) throws(StoredJSON.Declined) -> (end: Int, count: Int) {
        guard self[position] == openBrace, depth < StoredJSON.maximumDepth else { throw StoredJSON.Declined() }
        var position = skipWhitespace(position + 1)
        var count = 0
        if self[position] == closeBrace { return (position + 1, count) }
        while true {
            guard self[position] == quote else { throw StoredJSON.Declined() }
            let key = try scanString(position)
            guard !key.escaped, key.ascii else { throw StoredJSON.Declined() }
            let name = position + 1..<key.end - 1
            position = skipWhitespace(key.end)
            guard self[position] == colon else { throw StoredJSON.Declined() }
            let value = try scanValue(skipWhitespace(position + 1), depth: depth + 1)
            if let storage {
                guard count < storage.count else { throw StoredJSON.Declined() }
                storage[count] = StoredJSON.Member(key: name, value: value)
            }
            count += 1
            position = skipWhitespace(value.end)
            switch self[position] {
            case comma: position = skipWhitespace(position + 1)
            case closeBrace: return (position + 1, count)
            default: throw StoredJSON.Declined()
            }
        }
    }

    /// The string whose opening quote is at `start`, checked: the position after its closing
    /// quote, whether it has escapes and whether it is all ASCII.
    func scanString(_ start: Int) throws(StoredJSON.Declined) -> (end: Int, escaped: Bool, ascii: Bool) {
        var position = start + 1
        var escaped = false
        var ascii = true
        while true {
            let byte = self[position]
            if byte == quote { return (position + 1, escaped, ascii) }
            if byte == backslash {
                escaped = true
                position = try endOfEscape(position).end
            } else if byte < 0x20 {
                throw StoredJSON.Declined()
            } else if byte < 0x80 {
                position += 1
            } else {
                ascii = false
                position = try endOfUTF8Scalar(position)
            }
        }
    }

    /// The escape at `position` (a backslash): the scalar it stands for and the position after
    /// it. A surrogate must be a high one followed by an escaped low one (as `JSONDecoder`
    /// refuses a lone one).
    private func endOfEscape(_ position: Int) throws(StoredJSON.Declined) -> (scalar: Unicode.Scalar, end: Int) {
        let simple: UInt8
        switch self[position + 1] {
        case quote: simple = quote
        case backslash: simple = backslash
        case slash: simple = slash
        case UInt8(ascii: "b"): simple = 0x08
        case UInt8(ascii: "f"): simple = 0x0C
        case UInt8(ascii: "n"): simple = 0x0A
        case UInt8(ascii: "r"): simple = 0x0D
        case UInt8(ascii: "t"): simple = 0x09
        case UInt8(ascii: "u"):
            let unit = try hex4(position + 2)
            if let scalar = Unicode.Scalar(unit) { return (scalar, position + 6) }
            guard (0xD800...0xDBFF).contains(unit), self[position + 6] == backslash,
                self[position + 7] == UInt8(ascii: "u")
            else { throw StoredJSON.Declined() }
            let low = try hex4(position + 8)
            guard (0xDC00...0xDFFF).contains(low),
                let scalar = Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
            else { throw StoredJSON.Declined() }
            return (scalar, position + 12)
        default: throw StoredJSON.Declined()
        }
        return (Unicode.Scalar(simple), position + 2)
    }

    private func hex4(_ position: Int) throws(StoredJSON.Declined) -> UInt32 {
        var value: UInt32 = 0
        for offset in 0..<4 {
            let byte = self[position + offset]
            let nibble: UInt8
            switch byte {
            case zero...(zero + 9): nibble = byte - zero
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = byte - UInt8(ascii: "A") + 10
            default: throw StoredJSON.Declined()
            }
            value = value << 4 | UInt32(nibble)
        }
        return value
    }

    /// The position after the well-formed UTF-8 sequence of one scalar at `position`
    /// (no overlong forms, no surrogates, nothing above U+10FFFF).
    private func endOfUTF8Scalar(_ position: Int) throws(StoredJSON.Declined) -> Int {
        func continuation(_ offset: Int, _ range: ClosedRange<UInt8> = 0x80...0xBF) -> Bool {
            range.contains(self[position + offset])
        }
        let length: Int
        switch self[position] {
        case 0xC2...0xDF: length = continuation(1) ? 2 : 0
        case 0xE0: length = continuation(1, 0xA0...0xBF) && continuation(2) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF: length = continuation(1) && continuation(2) ? 3 : 0
        case 0xED: length = continuation(1, 0x80...0x9F) && continuation(2) ? 3 : 0
        case 0xF0: length = continuation(1, 0x90...0xBF) && continuation(2) && continuation(3) ? 4 : 0
        case 0xF1...0xF3: length = continuation(1) && continuation(2) && continuation(3) ? 4 : 0
        case 0xF4: length = continuation(1, 0x80...0x8F) && continuation(2) && continuation(3) ? 4 : 0
        default: length = 0
        }
        guard length > 0 else { throw StoredJSON.Declined() }
        return position + length
    }

    /// The bytes of `range`, already checked to be UTF-8.
    func text(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: buffer[range]), as: UTF8.self)
    }

    /// The string content in `range` (checked by ``scanString(_:)``) with its escapes replaced.
    /// The result is never longer than the escaped text.
    func unescaped(_ range: Range<Int>) throws(StoredJSON.Declined) -> String {
        do {
            return try String(unsafeUninitializedCapacity: range.count) { output in
                var written = 0
                var position = range.lowerBound
                while position < range.upperBound {
                    guard buffer[position] == backslash else {
                        output[written] = buffer[position]
                        written += 1
                        position += 1
                        continue
                    }
                    let (scalar, end) = try endOfEscape(position)
                    for unit in scalar.utf8 {
                        output[written] = unit
                        written += 1
                    }
                    position = end
                }
                return written
            }
        } catch {
            throw StoredJSON.Declined()
        }
    }
}
