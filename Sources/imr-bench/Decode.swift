import ArgumentParser
import CSQLite
import Foundation
import Workflow

/// `imr-bench decode`: the case event codec's decoding of a store's events, `JSONDecoder` with
/// Codable next to the codec's `decode` (its fast path, falling back to Codable), in one process
/// taking turns over the same events, so that a machine busy with other work slows both alike.
struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Time decoding a store's case events: Codable alone against the codec's fast path (interleaved).",
        discussion: """
            Reads up to --events case events of the store's log (spread over it by position) into memory; the store is \
            opened read-only and immutable, so nothing is written to it. Checks that the fast path gives the same \
            event as Codable for every one, then times --rounds rounds, each decoding all of them once with Codable \
            and once with the codec (which goes first alternates), and prints microseconds per event for each and \
            the medians.
            """,
        shouldDisplay: false
    )

    @Option(help: "The store (an imr.sqlite file).") var store: String
    @Option(help: "Events to read from the log.") var events: Int = 200_000
    @Option(help: "Rounds, each timing both decoders once.") var rounds: Int = 6
    @Option(help: "Events each decoder decodes before the other takes its turn.") var chunk: Int = 1000
    @Option(help: "Time only this decoder, codable or codec (for perf stat).") var only: String?

    func validate() throws {
        guard (1...10_000_000).contains(events) else {
            throw ValidationError("--events takes 1 to 10,000,000, not \(events)")
        }
        guard (1...1000).contains(rounds) else { throw ValidationError("--rounds takes 1 to 1000, not \(rounds)") }
        guard chunk >= 1 else { throw ValidationError("--chunk takes a positive number of events, not \(chunk)") }
        guard only == nil || ["codable", "codec"].contains(only) else {
            throw ValidationError("--only takes codable or codec, not \(only!)")
        }
    }

    struct Stored {
        var type: String
        var version: Int
        var payload: Data
    }

    func run() throws {
        let log = try Self.read(store, limit: events)
        guard !log.isEmpty else { throw ValidationError("\(store) has no events") }
        var fastCount = 0
        for event in log {
            let codable = try? CaseEventCodec.decodeWithCodable(
                type: event.type,
                schemaVersion: event.version,
                payload: event.payload
            )
            if let fast = CaseEventCodec.decodeFast(
                type: event.type,
                schemaVersion: event.version,
                payload: event.payload
            ) {
                fastCount += 1
                guard fast == codable else {
                    throw BenchError(
                        "the fast path read a \(event.type) differently: \(fast) against \(String(describing: codable))"
                    )
                }
            }
        }
        print(
            String(
                format: "%d events, %d (%.1f%%) on the fast path; µs of CPU time per event:",
                log.count,
                fastCount,
                100 * Double(fastCount) / Double(log.count)
            )
        )
        let codable = { (e: Stored) in
            try CaseEventCodec.decodeWithCodable(type: e.type, schemaVersion: e.version, payload: e.payload)
        }
        let codec = { (e: Stored) in
            try CaseEventCodec.decode(type: e.type, schemaVersion: e.version, payload: e.payload)
        }
        var checksum = 0
        /// This thread's CPU time to decode `events` with `decode`, in nanoseconds: on a machine busy
        /// with other work, the time the thread waited for a CPU does not count.
        func time(_ events: ArraySlice<Stored>, _ decode: (Stored) throws -> CaseEvent) -> UInt64 {
            let start = InProcessTiming.threadCPUNanoseconds()
            for event in events { checksum &+= (try? decode(event))?.typeName.utf8.count ?? 1 }
            return InProcessTiming.threadCPUNanoseconds() - start
        }
        if let only {
            // One decoder alone, for a profiler or `perf stat` (cycles spent by this process alone).
            let decode = only == "codable" ? codable : codec
            for _ in 1...rounds { _ = time(log[...], decode) }
            precondition(checksum != 0)
            return
        }
        // Both decoders take turns on each chunk of events (which goes first alternates), so a
        // burst of other work on the machine slows both alike.
        var codableRounds: [Double] = []
        var codecRounds: [Double] = []
        for round in 1...rounds {
            var nanoseconds: (codable: UInt64, codec: UInt64) = (0, 0)
            for (index, first) in stride(from: 0, to: log.count, by: chunk).enumerated() {
                let events = log[first..<min(first + chunk, log.count)]
                if (index + round) % 2 == 0 {
                    nanoseconds.codable += time(events, codable)
                    nanoseconds.codec += time(events, codec)
                } else {
                    nanoseconds.codec += time(events, codec)
                    nanoseconds.codable += time(events, codable)
                }
            }
            codableRounds.append(Double(nanoseconds.codable) / 1000 / Double(log.count))
            codecRounds.append(Double(nanoseconds.codec) / 1000 / Double(log.count))
            print(
                String(format: "round %2d  codable %6.2f  codec %6.2f", round, codableRounds.last!, codecRounds.last!)
            )
        }
        precondition(checksum != 0)
        for (name, pick) in [("median  ", InProcessTiming.median), ("best    ", { $0.min()! })]
            as [(String, ([Double]) -> Double)]
        {
            print(
                String(
                    format: "%@  codable %6.2f  codec %6.2f  (%.1fx)",
                    name,
                    pick(codableRounds),
                    pick(codecRounds),
                    pick(codableRounds) / pick(codecRounds)
                )
            )
        }
    }

    /// Up to `limit` events of the log at `path`, every n-th by position so they span it.
    static func read(_ path: String, limit: Int) throws -> [Stored] {
        let sql = """
            SELECT event_type, schema_version, payload FROM events
            WHERE position % max(1, (SELECT max(position) FROM events) / ?1) = 0 ORDER BY position LIMIT ?1
            """
        return try InProcessTiming.withStatement(on: path, sql) { stmt in
            sqlite3_bind_int64(stmt, 1, Int64(limit))
            var events: [Stored] = []
            while sqlite3_step(stmt) == SQLITE_ROW {
                // The log also holds the alert scheduler's events, which the case codec never reads.
                let type = String(cString: sqlite3_column_text(stmt, 0))
                guard CaseEventCodec.currentVersions[type] != nil else { continue }
                let bytes = sqlite3_column_blob(stmt, 2)
                let count = Int(sqlite3_column_bytes(stmt, 2))
                events.append(
                    Stored(
                        type: type,
                        version: Int(sqlite3_column_int64(stmt, 1)),
                        payload: bytes.map { Data(bytes: $0, count: count) } ?? Data()
                    )
                )
            }
            return events
        }
    }
}
