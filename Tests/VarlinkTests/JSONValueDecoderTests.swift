import Foundation
import Testing
@testable import Varlink

/// `JSONValueDecoder` reads parsed values as `JSONDecoder` reads their text: the same values,
/// and failures of the same kind at the same coding path (the daemon names the offending
/// parameter from that path).
struct JSONValueDecoderTests {
    enum Kind: String, Codable, Equatable { case prospective, retrospective }

    struct Item: Codable, Equatable {
        var code: String
        var quantity: Int?
        var kind: Kind
    }

    struct Request: Codable, Equatable {
        var id: UUID
        var items: [Item]
        var notes: [String: String]
        var score: Double
        var count: Int64
        var small: UInt8
        var flag: Bool
        var nested: [[Int]]
        var optional: String?
        var at: Date
    }

    static let text = """
        {"id":"6F1C2A4E-6C2B-4B8E-9C55-0C2C41A0F001","items":[{"code":"97110","quantity":12,"kind":"prospective"},\
        {"code":"J1885","kind":"retrospective","ignored":true}],"notes":{"a":"b","c":"d"},"score":2,"count":-9007199254740993,\
        "small":255,"flag":true,"nested":[[1,2],[],[3]],"optional":null,"at":731000000.5}
        """

    static func parsed(_ text: String) throws -> JSONValue {
        try JSONParser.parse(Array(text.utf8), maximumDepth: 64)
    }

    @Test func decodesWhatJSONDecoderDecodes_fromTheParsedValue() throws {
        let expected = try JSONDecoder().decode(Request.self, from: Data(Self.text.utf8))
        let decoded = try JSONValueDecoder().decode(Request.self, from: try Self.parsed(Self.text))
        #expect(decoded == expected)
        #expect(decoded.items[1].quantity == nil)
        #expect(decoded.count == -9_007_199_254_740_993)  // an Int64 beyond a Double's exact range stays exact
        #expect(decoded.at == Date(timeIntervalSinceReferenceDate: 731_000_000.5))
        // A JSONValue inside a type is the value itself (no round trip through Double).
        let wrapped = try JSONValueDecoder().decode(
            [String: JSONValue].self,
            from: try Self.parsed(#"{"x":2.0,"y":[1,"a",null]}"#)
        )
        #expect(wrapped["x"] == .double(2.0))
        #expect(wrapped["y"] == [1, "a", nil])
    }

    /// The failure for `text` from both decoders, as (case, path) strings.
    static func failures<T: Decodable>(_ type: T.Type, _ text: String) throws -> (ours: String, theirs: String) {
        func describe(_ error: any Error) -> String {
            guard let error = error as? DecodingError else { return "not a DecodingError: \(error)" }
            let kind: String
            switch error {
            case .keyNotFound(let key, _): kind = "keyNotFound(\(key.stringValue))"
            case .valueNotFound: kind = "valueNotFound"
            case .typeMismatch: kind = "typeMismatch"
            case .dataCorrupted: kind = "dataCorrupted"
            @unknown default: kind = "?"
            }
            return kind + " at " + VarlinkCall.parameterName(of: error)
        }
        var ours = "decoded"
        var theirs = "decoded"
        do { _ = try JSONValueDecoder().decode(T.self, from: try parsed(text)) } catch { ours = describe(error) }
        do { _ = try JSONDecoder().decode(T.self, from: Data(text.utf8)) } catch { theirs = describe(error) }
        return (ours, theirs)
    }

    @Test(arguments: [
        (
            #"{"items":[{"code":"1","kind":"prospective"},{"kind":"retrospective"}]}"#,
            "keyNotFound(code) at items[1].code"
        ),
        (#"{"items":[{"code":null,"kind":"prospective"}]}"#, "valueNotFound at items[0].code"),
        (#"{"items":[{"code":7,"kind":"prospective"}]}"#, "typeMismatch at items[0].code"),
        (#"{"items":[{"code":"7","kind":"sideways"}]}"#, "dataCorrupted at items[0].kind"),
        (#"{"items":{"code":"7"}}"#, "typeMismatch at items"),
        (#"[]"#, "typeMismatch at parameters"),
    ])
    func failsAsJSONDecoderFails_atTheSamePath(text: String, expected: String) throws {
        struct Items: Decodable { var items: [Item] }
        let (ours, theirs) = try Self.failures(Items.self, text)
        #expect(ours == expected)
        // JSONDecoder agrees on the kind and the path (its words differ).
        #expect(ours == theirs)
    }

    struct Scalars: Codable, Equatable {
        var s: String
        var b: Bool
        var i: Int
        var l: Int64
        var o: String?
        var q: Int?
    }

    /// The scalars a keyed container reads in place decode as `JSONDecoder` decodes them, and a
    /// value of another kind fails as it fails, at the same path.
    @Test(arguments: [
        (#"{"s":"a","b":true,"i":3,"l":-4,"o":"x","q":5}"#, "decoded"),
        (#"{"s":"","b":false,"i":3.0,"l":9007199254740993,"o":null}"#, "decoded"),
        (#"{"s":1,"b":true,"i":3,"l":4}"#, "typeMismatch at s"),
        (#"{"s":null,"b":true,"i":3,"l":4}"#, "valueNotFound at s"),
        (#"{"s":"a","b":"true","i":3,"l":4}"#, "typeMismatch at b"),
        (#"{"s":"a","i":3,"l":4}"#, "keyNotFound(b) at b"),
        (#"{"s":"a","b":true,"i":null,"l":4}"#, "valueNotFound at i"),
        (#"{"s":"a","b":true,"i":"3","l":4}"#, "typeMismatch at i"),
        (#"{"s":"a","b":true,"i":3,"l":"4"}"#, "typeMismatch at l"),
        (#"{"s":"a","b":true,"i":3,"l":4,"o":3}"#, "typeMismatch at o"),
        (#"{"s":"a","b":true,"i":3,"l":4,"q":"5"}"#, "typeMismatch at q"),
        (#"{"s":"a","b":true,"i":3,"l":4,"q":[5]}"#, "typeMismatch at q"),
    ])
    func scalarsReadInPlaceDecodeAndFailAsJSONDecoder(text: String, expected: String) throws {
        let (ours, theirs) = try Self.failures(Scalars.self, text)
        #expect(ours == expected)
        #expect(ours == theirs)
        if expected == "decoded" {
            let value = try JSONValueDecoder().decode(Scalars.self, from: try Self.parsed(text))
            #expect(value == (try JSONDecoder().decode(Scalars.self, from: Data(text.utf8))))
        }
    }

    @Test func anIntegerOutOfRangeIsRefused_notWrapped() throws {
        struct Small: Decodable { var small: UInt8 }
        #expect(throws: DecodingError.self) {
            try JSONValueDecoder().decode(Small.self, from: try Self.parsed(#"{"small":256}"#))
        }
        #expect(throws: DecodingError.self) {
            try JSONValueDecoder().decode(Small.self, from: try Self.parsed(#"{"small":-1}"#))
        }
        #expect(try JSONValueDecoder().decode(Small.self, from: try Self.parsed(#"{"small":3.0}"#)).small == 3)
        // A fraction for an integer: refused at its path (JSONDecoder leaves the path empty here,
        // so a caller could not say which parameter was wrong).
        struct Items: Decodable { var items: [Item] }
        let (ours, _) = try Self.failures(Items.self, #"{"items":[{"code":"7","quantity":1.5,"kind":"prospective"}]}"#)
        #expect(ours == "dataCorrupted at items[0].quantity")
    }

    @Test func aCustomDateStrategyAndUserInfoReachTheValues() throws {
        struct Stamped: Decodable {
            var at: Date
            var seen: Bool
            enum CodingKeys: CodingKey { case at }
            init(from decoder: any Decoder) throws {
                at = try decoder.container(keyedBy: CodingKeys.self).decode(Date.self, forKey: .at)
                seen = decoder.userInfo[CodingUserInfoKey(rawValue: "mark")!] as? Bool == true
            }
        }
        var decoder = JSONValueDecoder()
        decoder.userInfo[CodingUserInfoKey(rawValue: "mark")!] = true
        decoder.dateDecoding = { d in
            let text = try d.singleValueContainer().decode(String.self)
            guard text == "noon" else {
                throw DecodingError.dataCorruptedError(in: try d.singleValueContainer(), debugDescription: "not noon")
            }
            return Date(timeIntervalSince1970: 43_200)
        }
        let stamped = try decoder.decode(Stamped.self, from: try Self.parsed(#"{"at":"noon"}"#))
        #expect(stamped.at == Date(timeIntervalSince1970: 43_200))
        #expect(stamped.seen)
        do {
            _ = try decoder.decode(Stamped.self, from: try Self.parsed(#"{"at":"midnight"}"#))
            Issue.record("decoded a date the strategy refuses")
        } catch let error as DecodingError {
            #expect(VarlinkCall.parameterName(of: error) == "at")
        }
    }
}
