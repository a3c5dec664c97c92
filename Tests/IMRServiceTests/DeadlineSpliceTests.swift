import Foundation
@testable import IMRService
import Testing
import Varlink

/// A board row written from its stored body's text (status and coordinator spliced in) reads,
/// once parsed, as the row parsed and printed again; a body the splice cannot handle is left to
/// the parser.
@Suite struct DeadlineSpliceTests {
    /// What the parsed path makes of a body: its status set (unless it has a history) and its
    /// coordinator.
    static func parsedRow(_ body: String, coordinator: String, status: String) -> JSONValue {
        var object = (try? JSONParser.parse(Array(body.utf8), maximumDepth: 64).objectValue) ?? [:]
        if object["history"]?.stringValue == nil { object["status"] = .string(status) }
        object["coordinator"] = .string(coordinator)
        return .object(object)
    }

    static func splicedRow(_ body: String, coordinator: String, status: String) throws -> JSONValue {
        let raw = try #require(DeadlineProjection.splice(body: body, coordinator: coordinator, status: status))
        // What the client reads: the reply's bytes parsed.
        return try JSONParser.parse(JSONValue.raw(raw).serialized, maximumDepth: 64)
    }

    @Test func splicedRowsReadAsParsedRows() throws {
        let bodies = [
            #"{"caseId":"C-1","due":"2024-03-04T23:59:59-08:00","rule":"ur.decision.prospective","status":"pending","trigger":{"at":"x","status":"inner"}}"#,
            #"{"a":1,"status":"missed"}"#,
            #"{"status":"pending","z":[1,{"status":"x"},"}\"]"]}"#,
            #"{"explanation":["a \"quoted\" \\ status: \"x\"","}{"],"rule":"imr.application"}"#,
            #"{ "spaced" : true , "status" : "pending" , "n" : -1.5e3 }"#,
            #"{"only":null}"#,
        ]
        for body in bodies {
            for (coordinator, status) in [("maria", "pending"), ("j.o'neil \"x\" é\\", "missed"), ("", "pending")] {
                #expect(
                    try Self.splicedRow(body, coordinator: coordinator, status: status)
                        == Self.parsedRow(body, coordinator: coordinator, status: status),
                    "\(body) / \(coordinator)"
                )
            }
        }
    }

    /// The nested "status" keeps its value; only the top-level one is set.
    @Test func onlyTheTopLevelStatusIsSet() throws {
        let row = try Self.splicedRow(
            #"{"status":"pending","trigger":{"status":"inner"}}"#,
            coordinator: "m",
            status: "missed"
        )
        #expect(row["status"] == "missed")
        #expect(row["trigger"]?["status"] == "inner")
    }

    @Test func bodiesTheSpliceCannotHandleAreLeftToTheParser() {
        for body in [
            #"{"coordinator":"old","status":"pending"}"#,  // its own coordinator: overwritten when parsed
            #"{"history":"missed","status":"missed"}"#,  // a kept miss keeps its own status
            #"{"k\u0065y":1}"#,  // an escaped key
            "{}", "[1]", #"{"a":}"#, #"{"a":1"#, #"{"a":1}x"#, #"{"a" 1}"#, #"{"a":"unterminated}"#, "",
            #"{"a":{"b":1}"#,
        ] {
            #expect(DeadlineProjection.splice(body: body, coordinator: "m", status: "pending") == nil, "\(body)")
        }
    }
}
