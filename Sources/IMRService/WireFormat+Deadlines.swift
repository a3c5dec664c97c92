import Foundation
import IMRWire
import Varlink
import Workflow

extension CaseDeadline {
    /// The deadline as `WireFormat.encoder` would write it (the same keys and values; a test
    /// holds the two equal), built by hand: encoding deadlines through Codable was the largest
    /// single cost of recording a command.
    package var wireJSON: JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(id), "rule": .string(rule.rawValue), "caseId": .string(caseId.rawValue),
            "itemIds": .array(itemIds.map { .string($0.rawValue) }), "round": .int(Int64(round)),
            "trigger": trigger.wireJSON, "clockStart": .string(Pacific.rfc3339(clockStart)),
            "due": .string(Pacific.rfc3339(due)),
            "dueDate": .string(dueDate.iso), "isExactInstant": .bool(isExactInstant),
            "status": .string(status.rawValue),
            "party": .string(party.rawValue), "citation": .string(citation), "confidence": .string(confidence.rawValue),
            "explanation": .array(explanation.map { .string($0) }),
            "assumptions": .array(assumptions.map { .string($0) }),
            "consequenceIfMissed": .object([
                "kind": .string(consequenceIfMissed.kind.rawValue), "summary": .string(consequenceIfMissed.summary),
            ]),
            "correctionNotes": .array(correctionNotes.map { .string($0) }),
        ]
        if let rfaId { o["rfaId"] = .string(rfaId.rawValue) }
        if let satisfiedBy { o["satisfiedBy"] = satisfiedBy.wireJSON }
        if let statusNote { o["statusNote"] = .string(statusNote) }
        if let supersededBy { o["supersededBy"] = .string(supersededBy) }
        if let history { o["history"] = .string(history) }
        return .object(o)
    }
}

extension CaseDeadline {
    /// ``wireJSON`` as JSON text, written straight into bytes with the keys in the order
    /// `JSONValue.serialized` sorts them (a test holds the two byte for byte equal): this is
    /// the body the deadline read model stores for each running deadline a command changes.
    package var wireBytes: [UInt8] {
        var w = WireWriter()
        w.open()
        w.key("assumptions")
        w.strings(assumptions)
        w.key("caseId")
        w.string(caseId.rawValue)
        w.key("citation")
        w.string(citation)
        w.key("clockStart")
        w.string(Pacific.rfc3339(clockStart))
        w.key("confidence")
        w.string(confidence.rawValue)
        w.key("consequenceIfMissed")
        w.open()
        w.key("kind")
        w.string(consequenceIfMissed.kind.rawValue)
        w.key("summary")
        w.string(consequenceIfMissed.summary)
        w.close()
        w.key("correctionNotes")
        w.strings(correctionNotes)
        w.key("due")
        w.string(Pacific.rfc3339(due))
        w.key("dueDate")
        w.string(dueDate.iso)
        w.key("explanation")
        w.strings(explanation)
        if let history {
            w.key("history")
            w.string(history)
        }
        w.key("id")
        w.string(id)
        w.key("isExactInstant")
        w.bool(isExactInstant)
        w.key("itemIds")
        w.strings(itemIds.map(\.rawValue))
        w.key("party")
        w.string(party.rawValue)
        if let rfaId {
            w.key("rfaId")
            w.string(rfaId.rawValue)
        }
        w.key("round")
        w.int(Int64(round))
        w.key("rule")
        w.string(rule.rawValue)
        if let satisfiedBy {
            w.key("satisfiedBy")
            w.open()
            if let at = satisfiedBy.at {
                w.key("at")
                w.string(Pacific.rfc3339(at))
            }
            if let eventId = satisfiedBy.eventId {
                w.key("eventId")
                w.string(eventId.uuidString)
            }
            w.key("eventType")
            w.string(satisfiedBy.eventType)
            w.key("eventVersion")
            w.int(Int64(satisfiedBy.eventVersion))
            w.key("on")
            w.string(satisfiedBy.on.iso)
            w.close()
        }
        w.key("status")
        w.string(status.rawValue)
        if let statusNote {
            w.key("statusNote")
            w.string(statusNote)
        }
        if let supersededBy {
            w.key("supersededBy")
            w.string(supersededBy)
        }
        w.key("trigger")
        w.open()
        if let at = trigger.at {
            w.key("at")
            w.string(Pacific.rfc3339(at))
        }
        w.key("date")
        w.string(trigger.date.iso)
        w.key("description")
        w.string(trigger.description)
        if let eventVersion = trigger.eventVersion {
            w.key("eventVersion")
            w.int(Int64(eventVersion))
        }
        w.close()
        w.close()
        return w.bytes
    }
}

/// Writes a JSON object member by member, keys given in their final order.
struct WireWriter {
    var bytes: [UInt8] = []
    private var first = true

    init() { bytes.reserveCapacity(1024) }

    mutating func open() {
        bytes.append(UInt8(ascii: "{"))
        first = true
    }

    mutating func close() {
        bytes.append(UInt8(ascii: "}"))
        first = false
    }

    mutating func key(_ name: StaticString) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }

    mutating func string(_ value: String) { JSONValue.appendString(value, to: &bytes) }
    mutating func int(_ value: Int64) { bytes.append(contentsOf: String(value).utf8) }
    mutating func bool(_ value: Bool) { bytes.append(contentsOf: (value ? "true" : "false").utf8) }

    mutating func strings(_ values: [String]) {
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            string(value)
        }
        bytes.append(UInt8(ascii: "]"))
    }
}

extension DeadlineTriggerFact {
    var wireJSON: JSONValue {
        var o: [String: JSONValue] = ["description": .string(description), "date": .string(date.iso)]
        if let at { o["at"] = .string(Pacific.rfc3339(at)) }
        if let eventVersion { o["eventVersion"] = .int(Int64(eventVersion)) }
        return .object(o)
    }
}

extension SatisfyingFact {
    var wireJSON: JSONValue {
        var o: [String: JSONValue] = [
            "eventType": .string(eventType), "eventVersion": .int(Int64(eventVersion)), "on": .string(on.iso),
        ]
        if let eventId { o["eventId"] = .string(eventId.uuidString) }
        if let at { o["at"] = .string(Pacific.rfc3339(at)) }
        return .object(o)
    }
}

extension CaseReply {
    /// `Cases.Get`'s reply as ``WireFormat/replyObject(_:)`` gives it (the case kept as text),
    /// with the deadlines written from their ``CaseDeadline/wireBytes`` instead of through
    /// `JSONEncoder` (the same values; a test holds the two equal): a case's deadlines are
    /// most of its detail, and encoding them was most of a `Get`'s time.
    package static func wire(_ view: CaseView) throws -> [String: JSONValue] {
        guard !view.deadlines.isEmpty else { return try WireFormat.replyObject(CaseReply(case: view)) }
        var rest = view
        rest.deadlines = []
        let text = [UInt8](try WireFormat.replyEncoder.encode(rest))
        // The empty list's member: a `"` inside a string is escaped and a string value is never
        // followed by `:`, so these bytes are the case's own member, the only one of that name.
        guard let member = text.firstRange(of: Array(#""deadlines":[]"#.utf8)) else {
            return try WireFormat.replyObject(CaseReply(case: view))
        }
        let open = member.upperBound - 1  // the `]`
        var spliced: [UInt8] = []
        spliced.reserveCapacity(text.count + view.deadlines.count * 1_600)
        spliced += text[..<open]
        for (index, deadline) in view.deadlines.enumerated() {
            if index > 0 { spliced.append(UInt8(ascii: ",")) }
            spliced += deadline.wireBytes
        }
        spliced += text[open...]
        return ["case": .raw(RawJSON(trusted: spliced))]
    }
}
