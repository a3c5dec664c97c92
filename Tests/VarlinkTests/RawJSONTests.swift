import Foundation
import Testing
@testable import Varlink

/// `JSONValue.raw`: stored JSON text a reply writes out byte for byte; whatever looks into it
/// reads it parsed.
@Suite struct RawJSONTests {
    struct Row: Codable, Equatable {
        var rule: String
        var n: Int
    }

    /// A reply's numbers read as the client shows them: an integer or not, and one too large
    /// for an `Int64` (a peer may send it) is nil, not a crash.
    @Test func numbersAreReadWhicheverWayTheyWereWritten() {
        #expect(JSONValue.int(3).doubleValue == 3)
        #expect(JSONValue.double(2.5).doubleValue == 2.5)
        #expect(JSONValue.double(2.5).intValue == 2)
        #expect(JSONValue.int(-7).intValue == -7)
        #expect(JSONValue.double(1e300).intValue == nil)
        #expect(JSONValue.double(.infinity).intValue == nil)
        #expect(JSONValue.string("3").intValue == nil && JSONValue.string("3").doubleValue == nil)
    }

    @Test func rawTextIsWrittenAsItIs_andReadParsedWhenLookedInto() throws {
        let text = #"{"rule":"imr.application","n":3,"z":[1,"\u00e9"]}"#
        let raw = try #require(RawJSON(validating: Array(text.utf8)))
        let value = JSONValue.array([.raw(raw), .int(1)])
        // Written out unchanged (its keys in their own order, its escape kept), inside a reply.
        #expect(String(decoding: value.serialized, as: UTF8.self) == "[" + text + ",1]")
        #expect(JSONValue.raw(raw)["rule"] == "imr.application")
        #expect(JSONValue.raw(raw).objectValue?["n"] == .int(3))
        #expect(JSONValue.raw(raw).resolved == (try JSONParser.parse(Array(text.utf8), maximumDepth: 8)))
        #expect(value.resolved == .array([try JSONParser.parse(Array(text.utf8), maximumDepth: 8), .int(1)]))
        // A decoder and Codable read it parsed.
        #expect(
            try JSONValueDecoder().decode([Row].self, from: .array([.raw(raw)])) == [Row(rule: "imr.application", n: 3)]
        )
        let encoded = try JSONEncoder().encode(JSONValue.object(["row": .raw(raw)]))
        #expect(
            try JSONDecoder().decode([String: Row].self, from: encoded) == ["row": Row(rule: "imr.application", n: 3)]
        )
    }

    @Test func onlyOneCompleteJSONValueIsTakenAsRawText() {
        for text in ["", "{", #"{"a":1}x"#, #"{"a":1}{"b":2}"#, "[1,]", "nul", #""unterminated"#] {
            #expect(RawJSON(validating: Array(text.utf8)) == nil, "\(text)")
        }
        #expect(RawJSON(validating: Array(#"{"a":[[[1]]]}"#.utf8), maximumDepth: 2) == nil)
        #expect(RawJSON(validating: Array(" 12 ".utf8)) != nil)
    }
}
