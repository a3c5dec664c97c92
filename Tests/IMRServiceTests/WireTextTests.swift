import Foundation
import IMRCommandLine
@testable import IMRService
import IMRWire
import Testing
import Varlink
import Workflow

/// Replies written as text (the case list's and the alerts' rows, a case's detail) must say
/// what the dictionaries they replace said: the same keys and values, byte for byte where the
/// dictionary's serializer sorts the keys.
struct WireTextTests {
    static let odd = ["", "plain", "quote \" and \\ back", "tab\tnew\nline\u{1}", "ñ 東京 🙂", "/slash/"]

    @Test func aCaseSummaryWrittenAsTextIsItsDictionarySerialized() throws {
        for (n, text) in Self.odd.enumerated() {
            for optionals in 0..<16 {
                let summary = CaseSummary(
                    caseId: "C-\(n)\(text)",
                    claimNumber: text,
                    employer: "E \(text)",
                    claimsAdministrator: text + "T",
                    coordinator: text,
                    dateOfInjury: "2024-01-02",
                    stage: "ur_decided",
                    isOpen: optionals % 2 == 0,
                    imrCaseNumbers: Array(["CM24-0000001", text].prefix(n % 3)),
                    items: n,
                    version: Int64(n * 1000 - 3),
                    nextDue: optionals & 1 != 0 ? "2024-03-11T23:59:59-07:00" : nil,
                    nextRule: optionals & 2 != 0 ? "ur.decision.prospective" : nil,
                    missedInHistory: optionals & 4 != 0 ? n : nil,
                    lastMissedDue: optionals & 8 != 0 ? "2023-12-01T17:00:00-08:00" : nil
                )
                #expect(summary.wireBytes == JSONValue.object(summary.wireJSON).serialized, "\(summary)")
                #expect(JSONValue.object(summary.wireJSON) == .object(try WireFormat.object(summary)))
                #expect(summary.wireValue.objectValue == summary.wireJSON)
            }
        }
    }

    @Test func anAlertWrittenAsTextIsItsDictionarySerialized() throws {
        let due = Pacific.instant(LocalDate(iso: "2024-03-11")!, hour: 23, minute: 59, second: 59)
        for text in Self.odd {
            for optionals in 0..<32 {
                var view = AlertView(
                    alertId: "0a1b" + text,
                    deadlineId: "c1/ur.decision.prospective/A" + text,
                    caseId: "c1" + text,
                    rule: "ur.decision.prospective",
                    level: "overdue",
                    due: due,
                    scheduledAt: due.addingTimeInterval(1),
                    raisedAt: due.addingTimeInterval(61.5),
                    late: optionals % 3 == 0,
                    coordinator: text,
                    acknowledgedBy: optionals & 1 != 0 ? "jorge" + text : nil,
                    acknowledgedAt: optionals & 2 != 0 ? due.addingTimeInterval(-86_400 * 200) : nil,
                    snoozedUntil: optionals & 4 != 0 ? due.addingTimeInterval(86_400 * 300) : nil,
                    position: Int64(optionals) * 1_000_003
                )
                view.itemIds = Array(["1", text].prefix(optionals % 3))
                view.dueDate = optionals & 8 != 0 ? "2024-03-11" : nil
                view.isExactInstant = optionals & 16 != 0 ? optionals % 2 == 0 : nil
                #expect(view.wireBytes == JSONValue.object(view.wire).serialized, "\(view)")
            }
        }
    }

    /// `replyObject` keeps each member as the encoder's text: the values are those `object`
    /// gives, for every case of a synthetic caseload (its deadlines included).
    @Test func aCaseDetailKeptAsTextHoldsWhatItsParsedFormHolds() throws {
        let now = SyntheticStates.now
        let states = SyntheticStates.fold(cases: 40, seed: 11)
        #expect(states.count == 40)
        var withDeadlines = 0
        for (_, state) in states {
            let deadlines = DeadlineEngine.deadlines(for: state, now: now)
            if !deadlines.isEmpty { withDeadlines += 1 }
            let reply = CaseReply(case: CaseView(state, timeline: [], deadlines: deadlines))
            let text = try WireFormat.replyObject(reply)
            guard case .raw? = text["case"] else {
                Issue.record("the case was parsed, not kept as text")
                continue
            }
            #expect(JSONValue.object(text).resolved == .object(try WireFormat.object(reply)))
            // Byte for byte what the parsed form prints (keys sorted alike, slashes unescaped).
            #expect(JSONValue.object(text).serialized == JSONValue.object(try WireFormat.object(reply)).serialized)
        }
        #expect(withDeadlines > 10)
    }

    /// `Get`'s reply with its deadlines spliced in from their bodies holds what the whole
    /// case through the encoder holds, for every case of a synthetic caseload, with notes whose
    /// text holds the member the splice looks for.
    @Test func aCaseDetailWithItsDeadlinesSplicedInHoldsWhatTheEncoderWrites() throws {
        let now = SyntheticStates.now
        var spliced = 0
        for (index, (_, state)) in SyntheticStates.fold(cases: 40, seed: 5).enumerated() {
            var view = CaseView(state, timeline: [], deadlines: DeadlineEngine.deadlines(for: state, now: now))
            if index % 2 == 0 {
                view.notes.append(.init(writtenAt: now, text: #"see "deadlines":[] and "deadlines":[1]"#, version: 1))
            }
            let wire = try CaseReply.wire(view)
            let whole = try WireFormat.object(CaseReply(case: view))
            #expect(JSONValue.object(wire).resolved == .object(whole), "\(view.caseId ?? "")")
            if case .raw? = wire["case"], !view.deadlines.isEmpty { spliced += 1 }
        }
        #expect(spliced > 10)
        // A case without deadlines takes the encoder's path.
        var none = CaseView(CaseState(), timeline: [], deadlines: [])
        none.notes.append(.init(writtenAt: now, text: "x", version: 1))
        #expect(
            JSONValue.object(try CaseReply.wire(none)).resolved == .object(try WireFormat.object(CaseReply(case: none)))
        )
    }

    /// What the scan does not take (here more members than it reads at the top) is parsed
    /// instead: the same values either way.
    @Test func aReplyTheScanDeclinesIsParsed() throws {
        var wide: [String: String] = [:]
        for n in 0..<40 { wide["k\(n)"] = "v/\(n)" }
        let text = try WireFormat.replyObject(wide)
        #expect(text == (try WireFormat.object(wide)))
        #expect(text["k7"] == .string("v/7"))
        let small = try WireFormat.replyObject(["o": ["a/b": 1.5, "c": 2.0]])
        guard case .raw? = small["o"] else {
            Issue.record("a small object was expected to be kept as text")
            return
        }
        #expect(JSONValue.object(small).resolved == .object(try WireFormat.object(["o": ["a/b": 1.5, "c": 2.0]])))
        #expect(JSONValue.object(small).serialized.elementsEqual(#"{"o":{"a/b":1.5,"c":2}}"#.utf8))
    }
}

/// `imr-ctl status`'s alert line: the lag as an operator reads it, the late alerts by cause.
struct StatusAlertLineTests {
    @Test func theLagReadsInSecondsUnderTwoMinutes_elseInDaysHoursAndMinutes() {
        #expect(Status.lag(0.2) == "0 s")
        #expect(Status.lag(119.4) == "119 s")
        #expect(Status.lag(199_791) == "2d 7h 29m")
        #expect(Status.lag(8 * 3_600) == "0d 8h 0m")
    }

    @Test func lateAlertsAreSplitByCause() throws {
        var figures = ServiceFigures()
        #expect(Status.late(figures) == "0 late")
        figures.alertsRaisedLate = 12
        figures.alertsRaisedLateByRecording = 10
        #expect(Status.late(figures) == "12 late: 2 by the daemon, 10 recorded after their time")
        // A daemon that predates the split sends no count by recording: all are the daemon's.
        var object = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(figures)) as? [String: Any]
        )
        object["alertsRaisedLateByRecording"] = nil
        let older = try JSONDecoder().decode(ServiceFigures.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(older.alertsRaisedLateByRecording == 0 && older.alertsRaisedLate == 12)
        #expect(Status.late(older) == "12 late: 12 by the daemon, 0 recorded after their time")
    }
}
