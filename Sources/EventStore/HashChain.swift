import Crypto
import Foundation

/// The hash chain over the log: each event's hash is
/// SHA-256(previous hash ‖ canonical encoding of the event's own fields).
///
/// The canonical encoding is a tag followed by every field, each as an 8-byte big-endian
/// length and its bytes (integers as 8-byte big-endian values), so no two different events
/// share an encoding and the result never depends on JSON formatting or SQLite's storage.
enum HashChain {
    static let genesis = [UInt8](repeating: 0, count: 32)
    private static let tag = Array("imr-event-v1".utf8)

    static func hash(
        previous: [UInt8],
        position: Int64,
        streamId: String,
        streamVersion: Int64,
        eventId: UUID,
        type: String,
        schemaVersion: Int64,
        payload: [UInt8],
        metadata: [UInt8],
        recordedAtMicros: Int64
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128 + payload.count + metadata.count)
        func field(_ b: [UInt8]) {
            integer(Int64(b.count))
            bytes.append(contentsOf: b)
        }
        func integer(_ v: Int64) {
            withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) }
        }
        field(tag)
        integer(position)
        field(Array(streamId.utf8))
        integer(streamVersion)
        field(Array(eventId.lowercasedText.utf8))
        field(Array(type.utf8))
        integer(schemaVersion)
        field(payload)
        field(metadata)
        integer(recordedAtMicros)

        var hasher = SHA256()
        hasher.update(data: previous)
        hasher.update(data: bytes)
        return Array(hasher.finalize())
    }
}

extension Array where Element == UInt8 {
    /// Lower-case hexadecimal.
    public var hexString: String {
        // Two table lookups a byte: String(format:) per byte cost more than the hash itself.
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
