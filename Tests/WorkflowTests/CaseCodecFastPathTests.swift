import Foundation
import TestSupport
import Testing
@testable import Workflow

/// What a decoder made of a payload: the event, or the error it threw.
enum DecodeOutcome: Equatable {
    case event(CaseEvent)
    case error(CaseEventDecodingError)

    init(_ decode: () throws -> CaseEvent) {
        do {
            self = .event(try decode())
        } catch let error as CaseEventDecodingError {
            self = .error(error)
        } catch {
            self = .error(CaseEventDecodingError(type: "?", schemaVersion: 0, message: "\(error)"))
        }
    }
}

/// Decodes a payload the three ways: the fast path alone, Codable alone and the codec's
/// `decode`. The codec must give what Codable gives (value or error) and the fast path, when it
/// reads the payload at all, the same value. Returns the fast path's event.
@discardableResult
func decodeBothWays(
    _ type: String,
    _ version: Int,
    _ payload: Data,
    sourceLocation: SourceLocation = #_sourceLocation
) -> CaseEvent? {
    let fast = CaseEventCodec.decodeFast(type: type, schemaVersion: version, payload: payload)
    let codable = DecodeOutcome {
        try CaseEventCodec.decodeWithCodable(type: type, schemaVersion: version, payload: payload)
    }
    let codec = DecodeOutcome { try CaseEventCodec.decode(type: type, schemaVersion: version, payload: payload) }
    let text = String(decoding: payload, as: UTF8.self)
    #expect(codec == codable, "\(type) v\(version): \(text)", sourceLocation: sourceLocation)
    if let fast {
        #expect(codable == .event(fast), "\(type) v\(version): \(text)", sourceLocation: sourceLocation)
    }
    return fast
}

/// The types and versions the fast path must read whenever Codable can.
let fastPathTypes: Set<String> = [
    "CaseOpened", "RFAReceived", "URDecisionIssued", "WrittenURDecisionServed", "PhysicianNotified",
    "IMRApplicationReceived", "IMREligibilityFound", "IMRAssigned", "IMRRecordsReceived", "IMRDeterminationIssued",
    "MoreInformationRequested", "CaseClosed", "DeterminationImplemented", "WCABAppealFiled",
]

/// Events of the fast path's types with every field drawn at random, from a wide range: text
/// with quotes, backslashes, control characters and non-ASCII; dates over years 0-9999; instants
/// before 1970 and far beyond; empty and longer arrays; optionals nil or not. Fields of one type
/// get different values, so a field read from another's key shows.
struct RandomPayloads {
    var random: SeededGenerator

    static let pieces = [
        "a", "Dr. Okafor", "Lumbar MRI", " ", "\"", "\\", "/", "\n", "\t", "\r", "\u{8}", "\u{C}", "\u{0}", "\u{1}",
        "\u{1F}", "\u{7F}", "é", "e\u{301}", "日本", "😀", "\u{2028}", "\u{FEFF}", "\u{10FFFF}", "{", "}", "[", ",",
        ":", "null", "true", "0", "-1", "\\u0041", "CM24-0012345",
    ]

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
    mutating func bool() -> Bool { Bool.random(using: &random) }

    mutating func text() -> String { (0..<int(0...6)).map { _ in Self.pieces.randomElement(using: &random)! }.joined() }
    mutating func id<I: StringIdentifier>() -> I { I(text() + "\(int(0...999))") }
    mutating func ids() -> [ItemID] { (0..<int(0...4)).map { _ in id() } }
    mutating func choice<E: CaseIterable>() -> E { E.allCases.randomElement(using: &random)! }
    mutating func optional<T>(_ make: (inout Self) -> T) -> T? { bool() ? make(&self) : nil }

    mutating func date() -> LocalDate {
        LocalDate(
            dayNumber: int(
                LocalDate(year: 0, month: 1, day: 1)!.dayNumber...LocalDate(year: 9999, month: 12, day: 31)!.dayNumber
            )
        )
    }

    mutating func instant() -> Date {
        let seconds =
            switch int(0...3) {
            case 0: int(1_400_000_000...1_900_000_000)
            case 1: int(-100_000...100_000)
            case 2: int(-(1 << 62)...(1 << 62))
            default: int(-5_000_000_000...5_000_000_000)
            }
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    mutating func caseNumber() -> IMRCaseNumber {
        IMRCaseNumber("CM\(int(10...99))-\(String(int(0...9_999_999)).leftPadded(to: 7))")!
    }

    mutating func event() -> CaseEvent {
        switch int(0...13) {
        case 0:
            .caseOpened(
                CaseOpened(
                    caseId: id(),
                    claimNumber: text(),
                    employer: text(),
                    claimsAdministrator: text(),
                    injuredWorkerReference: text(),
                    dateOfInjury: date(),
                    coordinator: text()
                )
            )
        case 1:
            .rfaReceived(
                RFAReceived(
                    rfaId: id(),
                    receivedAt: instant(),
                    receivedTimeOfDayKnown: bool(),
                    transmission: choice(),
                    physician: text(),
                    treatmentRecommendedOn: optional { $0.date() },
                    reviewType: choice(),
                    expedited: bool(),
                    formulary: bool(),
                    items: (0..<int(0...4)).map { _ in RequestedItem(id: id(), description: text()) }
                )
            )
        case 2:
            .urDecisionIssued(
                URDecisionIssued(
                    rfaId: id(),
                    decidedAt: instant(),
                    decisions: (0..<int(0...4)).map { _ in
                        URItemDecision(itemId: id(), outcome: choice(), authorizedPortion: optional { $0.text() })
                    }
                )
            )
        case 3: .physicianNotified(PhysicianNotified(itemIds: ids(), notifiedAt: instant(), method: choice()))
        case 4:
            .writtenURDecisionServed(
                WrittenURDecisionServed(itemIds: ids(), servedOn: date(), method: choice(), destination: choice())
            )
        case 5: .imrApplicationReceived(IMRApplicationReceived(itemIds: ids(), receivedOn: date()))
        case 6: .imrEligibilityFound(IMREligibilityFound(itemIds: ids(), foundOn: date()))
        case 7:
            .imrAssigned(
                IMRAssigned(
                    itemIds: ids(),
                    imrCaseNumber: caseNumber(),
                    assignedOn: date(),
                    priority: choice(),
                    noticeMethod: optional { $0.choice() }
                )
            )
        case 8: .imrRecordsReceived(IMRRecordsReceived(imrCaseNumber: caseNumber(), receivedOn: date()))
        case 9:
            .imrDeterminationIssued(
                IMRDeterminationIssued(
                    imrCaseNumber: caseNumber(),
                    decidedOn: date(),
                    mailedOn: optional { $0.date() },
                    reviewerSpecialty: text(),
                    items: (0..<int(0...4)).map { _ in
                        IMRItemDetermination(
                            itemId: id(),
                            decision: choice(),
                            guideline: text(),
                            rationaleSummary: text()
                        )
                    }
                )
            )
        case 10:
            .moreInformationRequested(
                MoreInformationRequested(rfaId: id(), requestedOn: date(), whatIsNeeded: text())
            )
        case 11: .caseClosed(CaseClosed(closedOn: date(), reason: text()))
        case 12:
            .determinationImplemented(
                DeterminationImplemented(itemId: id(), implementedOn: date(), kind: choice())
            )
        default: .wcabAppealFiled(WCABAppealFiled(itemIds: ids(), filedOn: date(), filedBy: choice()))
        }
    }

    /// A payload changed at random: most no longer JSON, or not an event, some still both.
    mutating func mutate(_ payload: Data) -> Data {
        var bytes = Array(payload)
        let position = int(0...bytes.count)
        let noise: [UInt8] =
            Array(#" ",:{}[]\"-0.eE1nulltruefalse/u"#.utf8) + [0x00, 0x0A, 0x7F, 0xC3, 0xA9, 0xFF, 0xED]
        switch int(0...5) {
        case 0: bytes.removeSubrange(position...)
        case 1: if position < bytes.count { bytes.remove(at: position) }
        case 2: bytes.insert(noise.randomElement(using: &random)!, at: position)
        case 3: if position < bytes.count { bytes[position] = noise.randomElement(using: &random)! }
        case 4:
            // Another member, known or not, in front.
            let keys = ["reason", "itemIds", "zzz", "items", "noticeMethod", "mailedOn", "receivedAt", "caseId"]
            let values = [
                "null", "1", "-0", "1.5e3", "\"x\"", "[]", "{}", "[{\"a\":[1,{}]}]", "true", "\"2024-01-01\"",
            ]
            let member = "\"\(keys.randomElement(using: &random)!)\":\(values.randomElement(using: &random)!),"
            bytes.insert(contentsOf: member.utf8, at: min(1, bytes.count))
        default:
            // One of its members again, in front (JSONDecoder reads the first).
            guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
                let key = object.keys.sorted().randomElement(using: &random),
                let value = try? JSONSerialization.data(withJSONObject: object[key]!, options: .fragmentsAllowed)
            else { break }
            bytes.insert(contentsOf: Array("\"\(key)\":".utf8) + Array(value) + Array(",".utf8), at: 1)
        }
        return Data(bytes)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

@Suite struct CaseCodecFastPathTests {
    @Test func randomValuesOfEveryFastType_readTheSame_fastAndWithCodable() throws {
        let seed = testSeed("randomValuesOfEveryFastType")
        var payloads = RandomPayloads(random: SeededGenerator(seed: seed))
        var types = Set<String>()
        for _ in 0..<4000 {
            let event = payloads.event()
            let encoded = try CaseEventCodec.encode(event)
            types.insert(encoded.type)
            let fast = decodeBothWays(encoded.type, encoded.schemaVersion, encoded.payload)
            #expect(fast == event, "seed \(seed): \(String(decoding: encoded.payload, as: UTF8.self))")
        }
        #expect(types == fastPathTypes, "seed \(seed)")
    }

    @Test func randomValuesOfEveryFastType_areWrittenByteForByteAsJSONEncoderWritesThem() throws {
        let seed = testSeed("randomValuesWrittenFast")
        var payloads = RandomPayloads(random: SeededGenerator(seed: seed))
        var types = Set<String>()
        for _ in 0..<4000 {
            let event = payloads.event()
            let codable = try CaseEventCodec.encodeWithCodable(event)
            let fast = try #require(CaseEventCodec.encodeFast(event), "seed \(seed): \(event)")
            #expect(
                fast == codable,
                "seed \(seed): fast \(String(decoding: fast, as: UTF8.self)) codable \(String(decoding: codable, as: UTF8.self))"
            )
            #expect(try CaseEventCodec.encode(event).payload == codable)
            types.insert(type(of: event.payload).typeName)
        }
        #expect(types == fastPathTypes, "seed \(seed)")
        // Every control character, escaped as JSONEncoder escapes it.
        let controls = String((0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) }) + "\u{7F}\\\"/é😀"
        let closed = CaseEvent.caseClosed(CaseClosed(closedOn: LocalDate(iso: "2026-12-03")!, reason: controls))
        #expect(CaseEventCodec.encodeFast(closed) == (try CaseEventCodec.encodeWithCodable(closed)))
    }

    /// Every event of random case runs is written as `JSONEncoder` writes it (the other types
    /// by `JSONEncoder` itself) and read the same fast and with Codable.
    @Test func everyEventOfRandomCaseRuns_isWrittenAndReadTheSame_fastAndWithCodable() throws {
        let seed = testSeed("everyEventOfRandomCaseRuns")
        var generator = SeededGenerator(seed: seed)
        var types = Set<String>()
        var others = Set<String>()
        for _ in 0..<200 {
            var run = RandomCaseRun()
            for _ in 0..<60 { run.step(Int.random(in: 0...1_000_000, using: &generator)) }
            for recorded in run.h.log {
                let encoded = try CaseEventCodec.encode(recorded.event)
                #expect(encoded.payload == (try CaseEventCodec.encodeWithCodable(recorded.event)), "seed \(seed)")
                let fast = decodeBothWays(encoded.type, encoded.schemaVersion, encoded.payload)
                if fastPathTypes.contains(encoded.type) {
                    #expect(fast == recorded.event, "seed \(seed)")
                    #expect(CaseEventCodec.encodeFast(recorded.event) == encoded.payload, "seed \(seed)")
                    types.insert(encoded.type)
                } else {
                    #expect(fast == nil, "\(encoded.type) is left to Codable")
                    #expect(CaseEventCodec.encodeFast(recorded.event) == nil, "\(encoded.type) is left to JSONEncoder")
                    others.insert(encoded.type)
                }
            }
        }
        #expect(types.isSuperset(of: fastPathTypes.subtracting(["WCABAppealFiled", "CaseClosed"])), "seed \(seed)")
        #expect(!others.isEmpty, "seed \(seed): the runs had only events the fast paths take")
    }

    @Test func mutatedPayloads_decodeAsWithCodable_orFallBackToIt() throws {
        let seed = testSeed("mutatedPayloads")
        var payloads = RandomPayloads(random: SeededGenerator(seed: seed))
        var taken = 0
        var declined = 0
        for _ in 0..<6000 {
            let encoded = try CaseEventCodec.encode(payloads.event())
            var payload = encoded.payload
            for _ in 0..<payloads.int(1...3) { payload = payloads.mutate(payload) }
            if decodeBothWays(encoded.type, encoded.schemaVersion, payload) == nil {
                declined += 1
            } else {
                taken += 1
            }
        }
        // Both sides are exercised: some mutations leave a payload the fast path still reads.
        #expect(taken > 500 && declined > 500, "seed \(seed): \(taken) taken, \(declined) declined")
    }

    @Test func reformattedPayloads_areReadFast() throws {
        // JSONSerialization writes other whitespace, key order and escapes (`\/`) than the codec.
        let seed = testSeed("reformattedPayloads")
        var payloads = RandomPayloads(random: SeededGenerator(seed: seed))
        for _ in 0..<500 {
            let event = payloads.event()
            let encoded = try CaseEventCodec.encode(event)
            let object = try JSONSerialization.jsonObject(with: encoded.payload)
            let pretty = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted])
            // Not compared with `event`: JSONSerialization drops a U+FEFF from a string.
            #expect(decodeBothWays(encoded.type, encoded.schemaVersion, pretty) != nil, "seed \(seed)")
        }
    }

    /// A payload of a fast type that the fast path must read, equal to what Codable reads.
    func fast(
        _ type: String,
        _ json: String,
        version: Int = 1,
        sourceLocation: SourceLocation = #_sourceLocation
    )
        -> CaseEvent?
    {
        let event = decodeBothWays(type, version, Data(json.utf8), sourceLocation: sourceLocation)
        #expect(event != nil, "declined: \(json)", sourceLocation: sourceLocation)
        return event
    }

    /// A payload the fast path must leave to Codable (whether Codable reads it or not).
    func declined(_ type: String, _ json: String, version: Int = 1, sourceLocation: SourceLocation = #_sourceLocation) {
        let payload = Data(json.utf8)
        #expect(decodeBothWays(type, version, payload, sourceLocation: sourceLocation) == nil, "read: \(json)")
    }

    func declined(_ type: String, bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(decodeBothWays(type, 1, Data(bytes), sourceLocation: sourceLocation) == nil)
    }

    @Test func escapedAndUnicodeStrings_areReadAsJSONDecoderReadsThem() {
        let cases: [(String, String)] = [
            (#"a\"b\\c\/d"#, "a\"b\\c/d"),
            (#"\b\f\n\r\t"#, "\u{8}\u{C}\n\r\t"),
            (#"\u0041\u00e9\u00E9\u65e5\u0000x"#, "Aéé日\u{0}x"),
            (#"\ud83d\ude00 \uD83D\uDE00"#, "😀 😀"),
            (#"\udbff\udfff"#, "\u{10FFFF}"),
            ("raw é 日本 😀 \u{7F}", "raw é 日本 😀 \u{7F}"),
            ("e\u{301}", "e\u{301}"),
            ("", ""),
            (String(repeating: "long text ", count: 50), String(repeating: "long text ", count: 50)),
        ]
        for (json, text) in cases {
            let event = fast("CaseClosed", #"{"closedOn":"2024-05-06","reason":"\#(json)"}"#)
            #expect(event == .caseClosed(CaseClosed(closedOn: day("2024-05-06"), reason: text)), "\(json)")
            // Equal as Swift strings is canonical equivalence: the scalars must be the same too.
            if case .caseClosed(let closed) = event {
                #expect(Array(closed.reason.unicodeScalars) == Array(text.unicodeScalars), "\(json)")
            }
        }
    }

    @Test func whitespaceKeyOrderAndUnknownKeys_areReadLikeJSONDecoder() {
        let expected = CaseEvent.caseClosed(CaseClosed(closedOn: day("2024-05-06"), reason: "done"))
        for json in [
            " \n\t\r{ \"reason\" : \"done\" ,\n\"closedOn\"\t:\r\"2024-05-06\" } \n",
            #"{"closedOn":"2024-05-06","reason":"done","extra":{"a":[1,-2.5e+3,true,false,null,{"b":"\u00e9"}]}}"#,
            #"{"zz":[],"closedOn":"2024-05-06","aa":{},"reason":"done","n":-0,"m":0.5,"e":1E-7,"s":"x\"y"}"#,
            #"{"x":1,"x":2,"closedOn":"2024-05-06","reason":"done"}"#,
            #"{"Reason":"other","closedOn":"2024-05-06","reason":"done","closedon":"2000-01-01"}"#,
            // Nesting 31 deep in a member nothing reads (the reader takes 32, JSONDecoder more).
            #"{"closedOn":"2024-05-06","reason":"done","x":"#
                + String(repeating: "[", count: 30) + String(repeating: "]", count: 30) + "}",
        ] {
            #expect(fast("CaseClosed", json) == expected, "\(json)")
        }
    }

    @Test func optionalsAbsentOrNull_emptyArrays_andOlderVersions() {
        let assigned = IMRAssigned(
            itemIds: [],
            imrCaseNumber: imrNumber("CM24-0012345"),
            assignedOn: day("2024-04-02"),
            priority: .standard,
            noticeMethod: nil
        )
        let absent = #"{"assignedOn":"2024-04-02","imrCaseNumber":"CM24-0012345","itemIds":[],"priority":"standard"}"#
        let null =
            #"{"assignedOn":"2024-04-02","imrCaseNumber":"CM24-0012345","itemIds":[ ],"noticeMethod":null,"priority":"standard"}"#
        for version in [1, 2] {
            #expect(fast("IMRAssigned", absent, version: version) == .imrAssigned(assigned))
            #expect(fast("IMRAssigned", null, version: version) == .imrAssigned(assigned))
        }
        var mailed = assigned
        mailed.noticeMethod = .mail
        #expect(
            fast(
                "IMRAssigned",
                absent.replacingOccurrences(of: "\"priority\"", with: "\"noticeMethod\":\"mail\",\"priority\"")
            )
                == .imrAssigned(mailed)
        )
        #expect(
            fast(
                "IMRDeterminationIssued",
                #"{"decidedOn":"2024-05-01","imrCaseNumber":"CM24-0012345","items":[],"mailedOn":null,"reviewerSpecialty":"x"}"#,
                version: 1
            )
                == .imrDeterminationIssued(
                    IMRDeterminationIssued(
                        imrCaseNumber: imrNumber("CM24-0012345"),
                        decidedOn: day("2024-05-01"),
                        mailedOn: nil,
                        reviewerSpecialty: "x",
                        items: []
                    )
                )
        )
        // Another version of a fast type, a type the fast path leaves to Codable, an unknown type.
        declined("IMRAssigned", absent, version: 3)
        declined("RFAReceived", #"{"rfaId":"R7","receivedDate":"2016-04-18"}"#, version: 1)
        declined("NoteAdded", #"{"text":"x","writtenAt":0}"#)
        declined("AlienLanded", absent)
    }

    @Test func instants_areWholeSecondsInInt64_negativeAndLarge() {
        func notified(_ seconds: String) -> String {
            #"{"itemIds":["1"],"method":"fax","notifiedAt":\#(seconds)}"#
        }
        for (text, seconds) in [
            ("0", 0.0), ("-0", 0), ("-1", -1), ("1700000000", 1_700_000_000), ("-62135596800", -62_135_596_800),
            ("9223372036854775807", Double(Int64.max)), ("-9223372036854775808", Double(Int64.min)),
        ] {
            #expect(
                fast("PhysicianNotified", notified(text))
                    == .physicianNotified(
                        PhysicianNotified(
                            itemIds: ["1"],
                            notifiedAt: Date(timeIntervalSince1970: seconds),
                            method: .fax
                        )
                    ),
                "\(text)"
            )
        }
        // JSONDecoder takes some of these as Int64 (1.0, 1e3) and refuses others; either way Codable decides.
        for text in [
            "9223372036854775808", "-9223372036854775809", "99999999999999999999", "1.0", "1e3", "1.5", "01", "-",
            "+1", "\"1\"", "null", "true", "0x10", "1 2",
        ] {
            declined("PhysicianNotified", notified(text))
        }
    }

    @Test func malformedPayloads_fallBackToCodable_withItsError() {
        let closed = #"{"closedOn":"2024-05-06","reason":"done"}"#
        for json in [
            "", " ", "null", "[]", "\"x\"", "{", "{}", #"{"closedOn":"2024-05-06"}"#,
            #"{"closedOn":"2024-05-06","reason":null}"#,
            #"{"closedOn":"2024-05-06","reason":5}"#, #"{"closedOn":"2024-05-06","reason":["done"]}"#,
            #"{"closedOn":"2024-05-06","reason":"done",}"#, #"{"closedOn":"2024-05-06","reason":"done"} x"#,
            #"{"closedOn":"2024-05-06","reason":"done"}{}"#, #"{"closedOn":"2024-05-06" "reason":"done"}"#,
            #"{"closedOn":"2024-05-06","reason":"done","reason":"again"}"#,
            #"{"closedOn":"2024-05-06","reason":"do"#, #"{"closedOn":"2024-05-06","reason":"\u00"}"#,
            #"{"closedOn":"2024-05-06","reason":"\ud800"}"#, #"{"closedOn":"2024-05-06","reason":"\udc00\ud800"}"#,
            #"{"closedOn":"2024-05-06","reason":"\ud800\u0041"}"#, #"{"closedOn":"2024-05-06","reason":"\x"}"#,
            #"{"closedOn":"2024-05-06","reason":"a\u000"}"#, "{\"closedOn\":\"2024-05-06\",\"reason\":\"a\tb\"}",
            #"{"closedOn":"2024-02-30","reason":"done"}"#, #"{"closedOn":"2024-5-06","reason":"done"}"#,
            #"{"closedOn":"+024-05-06","reason":"done"}"#, #"{"closedOn":"2024-+5-06","reason":"done"}"#,
            #"{"closedOn":"2024-05-06 ","reason":"done"}"#, #"{"closedOn":"2024\u002d05-06","reason":"done"}"#,
            #"{"closedOn":20240506,"reason":"done"}"#, #"{"closedOn":"10000-01-01","reason":"done"}"#,
            #"{"\u0063losedOn":"2024-05-06","reason":"done"}"#, #"{"closedOn":"2024-05-06","reason":"done","x":01}"#,
            #"{"closedOn":"2024-05-06","reason":"done","x":-}"#, #"{"closedOn":"2024-05-06","reason":"done","x":1.}"#,
            #"{"closedOn":"2024-05-06","reason":"done","x":tru}"#,
            #"{"closedOn":"2024-05-06","reason":"done","x":[1,]}"#,
            #"{"closedOn":"2024-05-06","reason":"done","é":1}"#,
            "{\"closedOn\":\"2024-05-06\",\"reason\":\"done\",\"\u{212A}\":1}",
            #"{"closedOn":"2024-05-06","reason":"done","x":"#
                + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "}",
            String(closed.dropLast()),
        ] {
            declined("CaseClosed", json)
        }
        // A byte order mark, invalid or overlong UTF-8, an encoded surrogate.
        declined("CaseClosed", bytes: [0xEF, 0xBB, 0xBF] + Array(closed.utf8))
        for bytes in [
            [0xFF], [0xC3], [0xC0, 0xA9], [0xE0, 0x80, 0xA9], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
            [0x80], [0xF0, 0x9F, 0x98],
        ] as [[UInt8]] {
            declined("CaseClosed", bytes: bytes + Array(closed.utf8))
            declined("CaseClosed", bytes: Array(closed.utf8.dropLast(2)) + bytes + Array("\"}".utf8))
        }
        declined("CaseClosed", bytes: Array(closed.utf8.dropLast(2)) + [0x00] + Array("\"}".utf8))
    }

    @Test func identifiersEnumsAndCaseNumbers_areCheckedAsCodableChecksThem() {
        func determination(_ number: String, decision: String = "upheld") -> String {
            #"{"decidedOn":"2024-05-01","imrCaseNumber":"\#(number)","items":[{"decision":"\#(decision)","guideline":"g","itemId":"1","rationaleSummary":"r"}],"mailedOn":"2024-05-02","reviewerSpecialty":"x"}"#
        }
        #expect(fast("IMRDeterminationIssued", determination("CM24-0012345"), version: 2) != nil)
        for number in ["CM24-12345", "cm24-0012345", "CM24-00123456", "CM2A-0012345", "CM24-0012345 ", ""] {
            declined("IMRDeterminationIssued", determination(number), version: 2)
        }
        for decision in ["Upheld", "overturned ", "", "denied"] {
            declined("IMRDeterminationIssued", determination("CM24-0012345", decision: decision), version: 2)
        }
        // An item that is not an object, a member missing from one item of two.
        declined(
            "URDecisionIssued",
            #"{"decidedAt":1,"decisions":[{"itemId":"1","outcome":"approved"},"x"],"rfaId":"A"}"#
        )
        declined(
            "URDecisionIssued",
            #"{"decidedAt":1,"decisions":[{"itemId":"1","outcome":"approved"},{"itemId":"2"}],"rfaId":"A"}"#
        )
        #expect(
            fast(
                "URDecisionIssued",
                #"{"decidedAt":1,"decisions":[{"itemId":"1","outcome":"approved","authorizedPortion":null},{"itemId":"2","outcome":"modified","authorizedPortion":"4 of 8"}],"rfaId":""}"#
            )
                == .urDecisionIssued(
                    URDecisionIssued(
                        rfaId: "",
                        decidedAt: Date(timeIntervalSince1970: 1),
                        decisions: [
                            URItemDecision(itemId: "1", outcome: .approved),
                            URItemDecision(itemId: "2", outcome: .modified, authorizedPortion: "4 of 8"),
                        ]
                    )
                )
        )
        declined("IMRApplicationReceived", #"{"itemIds":["1",2],"receivedOn":"2024-03-20"}"#)
        declined("IMRApplicationReceived", #"{"itemIds":"1","receivedOn":"2024-03-20"}"#)
        declined("IMRApplicationReceived", #"{"itemIds":null,"receivedOn":"2024-03-20"}"#)
        declined("RFAReceived", #"{"expedited":0}"#, version: 2)
    }
}
