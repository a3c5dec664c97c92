import Foundation

/// Who did what, why, and as part of which request: stored with every event.
public struct EventMetadata: Codable, Sendable, Hashable {
    /// Who caused the event (for example `uid:1000 alice`).
    public var actor: String?
    /// Ties together every event of one user request across streams.
    public var correlationId: String?
    /// The event or message that caused this one.
    public var causationId: String?
    /// The command that produced the event.
    public var commandId: String?
    /// Anything else a caller wants kept with the event.
    public var extras: [String: String]

    public init(
        actor: String? = nil,
        correlationId: String? = nil,
        causationId: String? = nil,
        commandId: String? = nil,
        extras: [String: String] = [:]
    ) {
        self.actor = actor
        self.correlationId = correlationId
        self.causationId = causationId
        self.commandId = commandId
        self.extras = extras
    }

    /// The stored form: JSON with sorted keys and no insignificant white space, so equal
    /// metadata always has equal bytes. Written by hand: JSONEncoder costs more than the
    /// rest of an append.
    func encoded() -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "{")]
        var first = true
        func key(_ name: String) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            Self.appendJSONString(name, to: &out)
            out.append(UInt8(ascii: ":"))
        }
        if let actor {
            key("actor")
            Self.appendJSONString(actor, to: &out)
        }
        if let causationId {
            key("causationId")
            Self.appendJSONString(causationId, to: &out)
        }
        if let commandId {
            key("commandId")
            Self.appendJSONString(commandId, to: &out)
        }
        if let correlationId {
            key("correlationId")
            Self.appendJSONString(correlationId, to: &out)
        }
        key("extras")
        out.append(UInt8(ascii: "{"))
        for (index, name) in extras.keys.sorted().enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            Self.appendJSONString(name, to: &out)
            out.append(UInt8(ascii: ":"))
            Self.appendJSONString(extras[name]!, to: &out)
        }
        out.append(contentsOf: [UInt8(ascii: "}"), UInt8(ascii: "}")])
        return out
    }

    static func appendJSONString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20: out.append(contentsOf: Array(String(format: "\\u%04x", byte).utf8))
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    static func decode(_ bytes: [UInt8]) -> EventMetadata {
        if let parsed = FlatJSON.parseMetadata(bytes) { return parsed }
        // Not the shape ``encoded()`` writes (written by hand, or by an older version): the full decoder.
        return (try? JSONDecoder().decode(EventMetadata.self, from: Data(bytes))) ?? EventMetadata()
    }
}

extension UUID {
    /// A random (version 4) UUID from the system's generator (`getrandom(2)`). Foundation's
    /// `UUID()` on Linux opens and reads `/dev/urandom` for each one: a file opened per event
    /// appended.
    public static func random() -> UUID {
        var generator = SystemRandomNumberGenerator()
        return stamped(version: 4, generator.next(), generator.next())
    }

    /// A time-ordered (version 7, RFC 9562) UUID: 48 bits of Unix milliseconds, then 74
    /// random bits. Events get these: the log's unique index on event ids then grows at its
    /// end, so the events of one group commit share a page or two of it instead of each
    /// writing a page at a random place.
    public static func timeOrdered(now: Date = Date()) -> UUID {
        var generator = SystemRandomNumberGenerator()
        let millis = UInt64(max(0, now.timeIntervalSince1970 * 1000)) & 0xFFFF_FFFF_FFFF
        let random: UInt64 = generator.next()
        return stamped(version: 7, millis << 16 | random & 0xFFFF, generator.next())
    }

    /// The 128 bits `high` then `low` (big-endian), with the version and the RFC 9562 variant set.
    private static func stamped(version: UInt8, _ high: UInt64, _ low: UInt64) -> UUID {
        var bytes = (high.bigEndian, low.bigEndian)
        return withUnsafeMutableBytes(of: &bytes) { raw in
            raw[6] = (raw[6] & 0x0F) | version << 4
            raw[8] = (raw[8] & 0x3F) | 0x80
            return UUID(uuid: raw.load(as: uuid_t.self))
        }
    }

    /// The 36-character text form in lower case, as `uuidString.lowercased()` gives it, written
    /// straight into one string: Foundation formats `uuidString` with `snprintf` and the
    /// lowering makes a second string, and an append wrote several (event ids, the command's
    /// ids in the metadata, the hash chain), 2% of a command's time on the event loop.
    public var lowercasedText: String {
        withUnsafeBytes(of: uuid) { raw in
            String(unsafeUninitializedCapacity: 36) { out in
                var index = 0
                for n in 0..<16 {
                    if n == 4 || n == 6 || n == 8 || n == 10 {
                        out[index] = 0x2D
                        index += 1
                    }
                    let byte = raw[n]
                    let high = byte >> 4
                    let low = byte & 0x0F
                    out[index] = high < 10 ? 0x30 &+ high : 0x57 &+ high
                    out[index + 1] = low < 10 ? 0x30 &+ low : 0x57 &+ low
                    index += 2
                }
                return 36
            }
        }
    }

    /// Parses the 36-character text form (either case) without Foundation's `sscanf`, which
    /// was a share of every event read back in a rebuild; any other text goes to Foundation.
    static func parse(_ text: String) -> UUID? {
        var text = text
        let fast = text.withUTF8 { bytes -> UUID? in
            guard bytes.count == 36, bytes[8] == 0x2D, bytes[13] == 0x2D, bytes[18] == 0x2D, bytes[23] == 0x2D else {
                return nil
            }
            func nibble(_ c: UInt8) -> UInt8? {
                switch c {
                case 0x30...0x39: c &- 0x30
                case 0x61...0x66: c &- 0x57
                case 0x41...0x46: c &- 0x37
                default: nil
                }
            }
            var raw: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            let complete = withUnsafeMutableBytes(of: &raw) { out -> Bool in
                var index = 0
                for n in 0..<16 {
                    if index == 8 || index == 13 || index == 18 || index == 23 { index += 1 }
                    guard let high = nibble(bytes[index]), let low = nibble(bytes[index + 1]) else { return false }
                    out[n] = high << 4 | low
                    index += 2
                }
                return true
            }
            return complete ? UUID(uuid: raw) : nil
        }
        return fast ?? UUID(uuidString: text)
    }
}

/// An event to append: the store gives it a position, a stream version, a time and a hash.
public struct NewEvent: Sendable, Hashable {
    public var id: UUID
    public var type: String
    public var schemaVersion: Int
    /// The JSON payload, stored byte for byte.
    public var payload: [UInt8]
    public var metadata: EventMetadata

    public init(
        id: UUID = .timeOrdered(),
        type: String,
        schemaVersion: Int = 1,
        payload: [UInt8],
        metadata: EventMetadata = .init()
    ) {
        self.id = id
        self.type = type
        self.schemaVersion = schemaVersion
        self.payload = payload
        self.metadata = metadata
    }

    public init(
        id: UUID = .timeOrdered(),
        type: String,
        schemaVersion: Int = 1,
        payload: Data,
        metadata: EventMetadata = .init()
    ) {
        self.init(id: id, type: type, schemaVersion: schemaVersion, payload: Array(payload), metadata: metadata)
    }
}

/// An event as the log holds it.
public struct RecordedEvent: Sendable, Hashable {
    /// Global position: strictly increasing over the whole log, assigned at commit.
    public let position: Int64
    public let streamId: String
    /// 1-based and dense within its stream.
    public let streamVersion: Int64
    public let id: UUID
    public let type: String
    public let schemaVersion: Int
    public let payload: [UInt8]
    public let recordedAt: Date
    /// SHA-256 of the previous event's hash and this event's canonical encoding.
    public let hash: [UInt8]
    /// The metadata as appended, or as stored and parsed only when asked for: a projection
    /// catching up on millions of events reads the payload and seldom the metadata.
    private let storedMetadata: StoredMetadata

    enum StoredMetadata: Sendable {
        case decoded(EventMetadata)
        case stored([UInt8])
    }

    public var metadata: EventMetadata {
        switch storedMetadata {
        case .decoded(let metadata): metadata
        case .stored(let bytes): EventMetadata.decode(bytes)
        }
    }

    public var payloadData: Data { Data(payload) }

    public init(
        position: Int64,
        streamId: String,
        streamVersion: Int64,
        id: UUID,
        type: String,
        schemaVersion: Int,
        payload: [UInt8],
        metadata: EventMetadata,
        recordedAt: Date,
        hash: [UInt8]
    ) {
        self.init(
            position: position,
            streamId: streamId,
            streamVersion: streamVersion,
            id: id,
            type: type,
            schemaVersion: schemaVersion,
            payload: payload,
            storedMetadata: .decoded(metadata),
            recordedAt: recordedAt,
            hash: hash
        )
    }

    init(
        position: Int64,
        streamId: String,
        streamVersion: Int64,
        id: UUID,
        type: String,
        schemaVersion: Int,
        payload: [UInt8],
        storedMetadata: StoredMetadata,
        recordedAt: Date,
        hash: [UInt8]
    ) {
        self.position = position
        self.streamId = streamId
        self.streamVersion = streamVersion
        self.id = id
        self.type = type
        self.schemaVersion = schemaVersion
        self.payload = payload
        self.storedMetadata = storedMetadata
        self.recordedAt = recordedAt
        self.hash = hash
    }

    // Equal when every field is, the metadata as parsed (however each side holds it).
    public static func == (a: RecordedEvent, b: RecordedEvent) -> Bool {
        a.position == b.position && a.streamId == b.streamId && a.streamVersion == b.streamVersion && a.id == b.id
            && a.type == b.type
            && a.schemaVersion == b.schemaVersion && a.payload == b.payload && a.recordedAt == b.recordedAt
            && a.hash == b.hash
            && a.metadata == b.metadata
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(position)
        hasher.combine(streamId)
        hasher.combine(id)
        hasher.combine(hash)
    }
}

/// What a writer expects of a stream before its append.
public enum ExpectedVersion: Sendable, Hashable, CustomStringConvertible {
    /// Append whatever the stream holds.
    case any
    /// The stream must not exist yet.
    case noStream
    /// The stream's last version must be exactly this (0 means empty).
    case exact(Int64)

    public var description: String {
        switch self {
        case .any: "any version"
        case .noStream: "no stream"
        case .exact(let v): "version \(v)"
        }
    }
}

/// The outcome of an append.
public struct AppendResult: Sendable, Hashable {
    public let streamId: String
    /// The stream's version after the append: the next `.exact` expectation.
    public let streamVersion: Int64
    /// The events as stored (for an idempotent retry, as stored the first time).
    public let events: [RecordedEvent]
    /// True when every event was already stored and nothing was written.
    public let wasAlreadyStored: Bool

    public var lastPosition: Int64? { events.last?.position }

    /// Where its events were written.
    var streamChanges: [StreamChange] { events.map { StreamChange(position: $0.position, streamId: $0.streamId) } }
}

/// One stream's append, for batched writes.
public struct AppendRequest: Sendable, Hashable {
    public var streamId: String
    public var expected: ExpectedVersion
    public var events: [NewEvent]

    public init(streamId: String, expected: ExpectedVersion, events: [NewEvent]) {
        self.streamId = streamId
        self.expected = expected
        self.events = events
    }
}

/// The result of checking the hash chain.
public struct VerificationReport: Sendable, Hashable, Codable {
    public let eventsChecked: Int64
    public let headPosition: Int64
    /// The first position whose hash, link or content does not match, or the first missing
    /// one of a deleted tail; nil when the log is intact.
    public let firstBadPosition: Int64?
    /// What is wrong at that position, as a sentence.
    public let problem: String?
    /// The position the head anchor records (the last event the store wrote); nil when the
    /// anchor is missing.
    public let anchorPosition: Int64?
    /// When the log ends before the anchor: the first missing position (events from here
    /// to ``anchorPosition`` were deleted).
    public let missingFrom: Int64?

    public init(
        eventsChecked: Int64,
        headPosition: Int64,
        firstBadPosition: Int64?,
        problem: String?,
        anchorPosition: Int64? = nil,
        missingFrom: Int64? = nil
    ) {
        self.eventsChecked = eventsChecked
        self.headPosition = headPosition
        self.firstBadPosition = firstBadPosition
        self.problem = problem
        self.anchorPosition = anchorPosition
        self.missingFrom = missingFrom
    }

    public var isIntact: Bool { firstBadPosition == nil }
}

/// The head anchor: the position and hash of the last event the store appended, kept in a
/// table of its own and written in every append's transaction.
public struct LogHead: Sendable, Hashable, Codable {
    public let position: Int64
    public let hash: [UInt8]
    public var hashHex: String { hash.hexString }
}

/// What the cheap start-up check (``EventStore/checkHead(path:options:)``) found: the head anchor
/// against the last event, without reading the rest of the log.
public struct HeadCheck: Sendable, Hashable, Codable {
    /// The anchor as stored; nil when its row is missing.
    public let anchor: LogHead?
    /// The last event's position (0 for an empty log).
    public let lastPosition: Int64
    /// The last event's stored hash (32 zero bytes for an empty log).
    public let lastHash: [UInt8]
    /// What does not match, as a sentence; nil when the head is intact.
    public let problem: String?
    /// When events after the last one are missing: the first missing position.
    public let missingFrom: Int64?

    public var isIntact: Bool { problem == nil }
}

extension Date {
    /// This instant as the store keeps a recording time: to the microsecond.
    public var roundedToStoredMicroseconds: Date { Date(timeIntervalSince1970: Double(micros(self)) / 1_000_000) }
}

/// Reads the metadata objects ``EventMetadata/encoded()`` writes (string members and one
/// `extras` object of strings) without JSONDecoder, which cost more than the rest of reading
/// an event back. Anything else gives nil, and the caller decodes it in full.
enum FlatJSON {
    static func parseMetadata(_ bytes: [UInt8]) -> EventMetadata? {
        var i = 0
        var metadata = EventMetadata()
        guard
            object(
                bytes,
                &i,
                { key, i in
                    if key == "extras" {
                        var extras: [String: String] = [:]
                        guard
                            object(
                                bytes,
                                &i,
                                { name, i in
                                    guard let value = string(bytes, &i) else { return false }
                                    extras[name] = value
                                    return true
                                }
                            )
                        else { return false }
                        metadata.extras = extras
                        return true
                    }
                    guard let value = string(bytes, &i) else { return false }
                    switch key {
                    case "actor": metadata.actor = value
                    case "correlationId": metadata.correlationId = value
                    case "causationId": metadata.causationId = value
                    case "commandId": metadata.commandId = value
                    default: return false
                    }
                    return true
                }
            ), i == bytes.count
        else { return nil }
        return metadata
    }

    /// `{"key":value,...}` with no white space; `member` reads each value.
    private static func object(_ b: [UInt8], _ i: inout Int, _ member: (String, inout Int) -> Bool) -> Bool {
        guard i < b.count, b[i] == UInt8(ascii: "{") else { return false }
        i += 1
        if i < b.count, b[i] == UInt8(ascii: "}") {
            i += 1
            return true
        }
        while true {
            guard let key = string(b, &i), i < b.count, b[i] == UInt8(ascii: ":") else { return false }
            i += 1
            guard member(key, &i), i < b.count else { return false }
            if b[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if b[i] == UInt8(ascii: "}") {
                i += 1
                return true
            }
            return false
        }
    }

    /// A JSON string with the escapes ``EventMetadata/appendJSONString(_:to:)`` writes; nil for
    /// anything else (a `\u` escape included: rare, and left to the full decoder).
    private static func string(_ b: [UInt8], _ i: inout Int) -> String? {
        guard i < b.count, b[i] == UInt8(ascii: "\"") else { return nil }
        i += 1
        var out: [UInt8] = []
        while i < b.count {
            let c = b[i]
            i += 1
            switch c {
            case UInt8(ascii: "\""): return String(validating: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard i < b.count else { return nil }
                let e = b[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                default: return nil
                }
            case 0..<0x20: return nil
            default: out.append(c)
            }
        }
        return nil
    }
}
