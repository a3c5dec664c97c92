import Foundation
import Testing
@testable import Varlink

/// The hand-written JSON writer must say exactly what Foundation's encoder says, value for
/// value: replies and parameters go through it on every call.
struct JSONSerializationTests {
    /// A random JSON value: strings drawn from quotes, backslashes, every control character,
    /// slashes, non-ASCII letters, emoji and the line separators; numbers of every sign and size.
    static func randomValue(_ rng: inout SplitMix64, depth: Int = 0) -> JSONValue {
        let pieces =
            ["\"", "\\", "/", "a", "Z", "0", " ", "é", "中", "🙂", "\u{2028}", "\u{2029}", "\u{7F}", "\u{0}"]
            + (0..<0x20).map { String(UnicodeScalar(UInt8($0))) }
        func string() -> String {
            (0..<Int(rng.next() % 12)).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
        }
        switch rng.next() % (depth > 3 ? 5 : 7) {
        case 0: return .null
        case 1: return .bool(rng.next() % 2 == 0)
        case 2: return .int(Int64(bitPattern: rng.next()) >> Int64(rng.next() % 64))
        case 3: return .double(Double(Int64(bitPattern: rng.next()) >> 20) / Double(1 << Int(rng.next() % 40)))
        case 4: return .string(string())
        case 5: return .array((0..<Int(rng.next() % 5)).map { _ in randomValue(&rng, depth: depth + 1) })
        default:
            return .object(
                Dictionary(
                    (0..<Int(rng.next() % 5)).map { _ in (string(), randomValue(&rng, depth: depth + 1)) },
                    uniquingKeysWith: { $1 }
                )
            )
        }
    }

    @Test func readsBackAsTheSameValueAsFoundationsEncoding() throws {
        var rng = SplitMix64(seed: 12)
        for _ in 0..<2000 {
            let value = Self.randomValue(&rng)
            let ours = Data(value.serialized)
            let decoded = try JSONDecoder().decode(JSONValue.self, from: ours)
            let theirs = try JSONDecoder().decode(JSONValue.self, from: JSONCoding.encoder.encode(value))
            #expect(decoded == theirs, "\(String(decoding: ours, as: UTF8.self))")
        }
    }

    @Test func writesSortedKeysAndEscapesWhatJSONRequires() {
        let value: JSONValue = ["b": "a\"b\\c/d\n\t\u{1}", "a": [1, true, nil], "é": .double(2.5)]
        #expect(
            String(decoding: value.serialized, as: UTF8.self)
                == #"{"a":[1,true,null],"b":"a\"b\\c/d\n\t\u0001","é":2.5}"#
        )
        #expect(String(decoding: JSONValue.double(.nan).serialized, as: UTF8.self) == "null")
    }

    @Test func keysSortByteByByte_aPrefixFirst() {
        let value: JSONValue = ["ab": 1, "a": 2, "B": 3, "aB": 4, "": 5]
        #expect(String(decoding: value.serialized, as: UTF8.self) == #"{"":5,"B":3,"a":2,"aB":4,"ab":1}"#)
    }

    @Test func aCallIsTheObjectFoundationWouldWrite_andEveryValueParsesBackAsItself() throws {
        var rng = SplitMix64(seed: 99)
        for _ in 0..<500 {
            guard case .object(let parameters) = Self.randomValue(&rng, depth: 1) else { continue }
            let call = VarlinkCall(
                method: "org.example.M",
                parameters: parameters,
                oneway: rng.next() % 2 == 0 ? nil : false,
                more: rng.next() % 2 == 0 ? nil : true
            )
            // The same object (Foundation orders keys and prints numbers its own way).
            #expect(
                try JSONValueDecoder().decode(
                    VarlinkCall.self,
                    from: JSONParser.parse(call.serialized, maximumDepth: 64)
                ) == call
            )
            #expect(
                try JSONDecoder().decode(JSONValue.self, from: Data(call.serialized))
                    == JSONDecoder().decode(JSONValue.self, from: JSONCoding.encoder.encode(call))
            )
            let reply = VarlinkReply(parameters: parameters, continues: call.more)
            #expect(try VarlinkReply.parse(frame: reply.serialized) == reply)
        }
    }

    @Test func aReplyIsTheObjectFoundationWouldWrite() throws {
        let reply = VarlinkReply(parameters: ["x": 1], continues: true, error: nil)
        #expect(String(decoding: reply.serialized, as: UTF8.self) == #"{"continues":true,"parameters":{"x":1}}"#)
        let error = VarlinkReply(parameters: [:], error: "org.example.Bad")
        #expect(try JSONDecoder().decode(VarlinkReply.self, from: Data(error.serialized)) == error)
    }
}
