import Foundation
import TestSupport
import Testing
@testable import Workflow

/// `AlertRaised` read without Codable (the scheduler and every rebuild read one per alert):
/// whatever the fast path reads, it reads as `JSONDecoder` does; what it declines, the codec
/// reads with `JSONDecoder`, with its value or its error.
@Suite struct AlertCodecFastPathTests {
    /// The payload as Codable alone reads it (the codec's date strategy), or its error's text.
    static func withCodable(_ payload: Data) -> Result<AlertRaised, Failure> {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            Date(timeIntervalSince1970: TimeInterval(try decoder.singleValueContainer().decode(Int64.self)))
        }
        do { return .success(try decoder.decode(AlertRaised.self, from: payload)) } catch {
            return .failure(Failure(text: "\(error)"))
        }
    }

    struct Failure: Error, Equatable { var text: String }

    static func fast(_ payload: Data) -> AlertRaised? { StoredJSON.readObject(payload, AlertRaised.init(stored:)) }

    static func viaCodec(_ payload: Data) -> Result<AlertRaised, Failure> {
        do {
            guard
                case .raised(let event) = try AlertEventCodec.decode(
                    type: "AlertRaised",
                    schemaVersion: 1,
                    payload: payload
                )
            else { return .failure(Failure(text: "not an AlertRaised")) }
            return .success(event)
        } catch { return .failure(Failure(text: "\(error)")) }
    }

    static func randomEvent(_ random: inout SeededGenerator) -> AlertRaised {
        let pieces = ["a", "maria", " ", "\"", "\\", "/", "\n", "\u{1}", "é", "日本", "😀", "R-1:ur.decision"]
        func text() -> String {
            (0..<Int.random(in: 0...4, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
        }
        func instant() -> Date {
            Date(timeIntervalSince1970: TimeInterval(Int64.random(in: -5_000_000_000...9_000_000_000, using: &random)))
        }
        return AlertRaised(
            alertId: UUID(),
            caseId: CaseID("C-" + text()),
            rule: RuleID.allCases.randomElement(using: &random)!,
            deadlineId: text(),
            level: AlertLevel.allCases.randomElement(using: &random)!,
            due: instant(),
            scheduledAt: instant(),
            raisedAt: instant(),
            late: Bool.random(using: &random),
            coordinator: text()
        )
    }

    @Test func randomAlertsAreReadFast_asCodableReadsThem() throws {
        var random = SeededGenerator(seed: 17)
        for _ in 0..<500 {
            let event = Self.randomEvent(&random)
            let payload = try AlertEventCodec.encode(.raised(event))
            let fast = try #require(Self.fast(payload), "declined \(String(decoding: payload, as: UTF8.self))")
            #expect(fast == event)
            #expect(Self.withCodable(payload) == .success(fast))
            #expect(Self.viaCodec(payload) == .success(event))
        }
    }

    /// A payload the fast path declines (or must not read) gives exactly what Codable gives.
    @Test func payloadsTheFastPathDeclines_decodeAsWithCodable() throws {
        var random = SeededGenerator(seed: 5)
        let good = String(decoding: try AlertEventCodec.encode(.raised(Self.randomEvent(&random))), as: UTF8.self)
        let alertId = try #require(good.firstMatch(of: /"alertId":"[^"]*"/)).output
        let due = try #require(good.firstMatch(of: /"due":-?\d+/)).output
        let variants = [
            good.replacingOccurrences(of: alertId, with: #""alertId":"not-a-uuid""#),
            good.replacingOccurrences(
                of: alertId,
                with: #""alertId":"\u0030\u0030000000-0000-4000-8000-000000000001""#
            ),
            good.replacingOccurrences(of: due, with: #""due":1.5"#),
            good.replacingOccurrences(of: due, with: #""due":"2024-01-01""#),
            good.replacingOccurrences(of: #""late":"#, with: #""lately":"#),
            good.replacingOccurrences(of: #""level":""#, with: #""level":"x"#),
            good.replacingOccurrences(of: #""rule":""#, with: #""rule":"nope."#),
            "[" + good + "]",
            good + "x",
        ]
        for text in variants {
            let payload = Data(text.utf8)
            #expect(Self.fast(payload) == nil || text.contains(#"\u0030"#), "\(text)")
            switch (Self.viaCodec(payload), Self.withCodable(payload)) {
            case (.success(let a), .success(let b)): #expect(a == b, "\(text)")
            case (.failure, .failure): break
            case (let codec, let codable): Issue.record("\(text): codec \(codec), Codable \(codable)")
            }
        }
    }
}
