import ArgumentParser
import CSQLite
import Foundation
import IMRService
import Workflow

/// `imr-bench derive`: the CPU time of working out a case's deadlines, the step every command
/// (deciding ahead) and every rebuild (one per case) repeats: the engine alone
/// (`DeadlineEngine.deadlines`), then the deadlines read model's rows (the engine, plus each
/// row's stored body and alert plan), on cases of a seeded store folded in memory.
struct Derive: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "derive",
        abstract: "Time working out the deadlines of a store's cases: the engine, and the read model's rows.",
        discussion: """
            Reads the events of up to --cases case streams of the store's log (spread over it), opened read-only and \
            immutable, and folds each case's state in memory. Then times --rounds rounds, each working out every \
            case's deadlines once with the engine and once as the deadlines read model's rows (a fresh calculator \
            and read model each round, so no round reuses another's memo), and prints microseconds of this thread's \
            CPU time per case for each, with the medians. `--only` times one of them alone, for a profiler.
            """,
        shouldDisplay: false
    )

    @Option(help: "The store (an imr.sqlite file).") var store: String
    @Option(help: "Case streams to read from the log.") var cases: Int = 20_000
    @Option(help: "Rounds, each timing both once.") var rounds: Int = 5
    @Option(help: "Time only this one, engine or rows (for a profiler).") var only: String?

    func validate() throws {
        guard (1...2_000_000).contains(cases) else {
            throw ValidationError("--cases takes 1 to 2,000,000, not \(cases)")
        }
        guard (1...1000).contains(rounds) else { throw ValidationError("--rounds takes 1 to 1000, not \(rounds)") }
        guard only == nil || ["engine", "rows"].contains(only) else {
            throw ValidationError("--only takes engine or rows, not \(only!)")
        }
    }

    func run() throws {
        let states = try Self.states(store, limit: cases)
        guard !states.isEmpty else { throw ValidationError("\(store) has no case streams") }
        // One instant for every round: the same statuses each time.
        let now = Date()
        var checksum = 0
        func engine() -> UInt64 {
            let calculator = DeadlineCalculator()
            let start = InProcessTiming.threadCPUNanoseconds()
            for state in states {
                checksum &+= DeadlineEngine.deadlines(for: state, now: now, calculator: calculator).count
            }
            return InProcessTiming.threadCPUNanoseconds() - start
        }
        func rows() throws -> UInt64 {
            let projection = DeadlineProjection()
            let start = InProcessTiming.threadCPUNanoseconds()
            for state in states { checksum &+= try projection.rowCount(for: state, at: now) }
            return InProcessTiming.threadCPUNanoseconds() - start
        }
        let events = states.reduce(0) { $0 + $1.version }
        print(String(format: "%d cases (%d events); µs of CPU time per case:", states.count, events))
        var engineRounds: [Double] = []
        var rowsRounds: [Double] = []
        for round in 1...rounds {
            switch only {
            case "engine": engineRounds.append(Double(engine()) / 1000 / Double(states.count))
            case "rows": rowsRounds.append(Double(try rows()) / 1000 / Double(states.count))
            default:
                // Which goes first alternates: a burst of other work on the machine slows both alike.
                if round % 2 == 1 {
                    engineRounds.append(Double(engine()) / 1000 / Double(states.count))
                    rowsRounds.append(Double(try rows()) / 1000 / Double(states.count))
                } else {
                    rowsRounds.append(Double(try rows()) / 1000 / Double(states.count))
                    engineRounds.append(Double(engine()) / 1000 / Double(states.count))
                }
            }
            print(
                String(
                    format: "round %2d  engine %7.2f  rows %7.2f",
                    round,
                    engineRounds.last ?? .nan,
                    rowsRounds.last ?? .nan
                )
            )
        }
        precondition(checksum != 0)
        print(
            String(
                format: "median    engine %7.2f  rows %7.2f",
                InProcessTiming.median(engineRounds),
                InProcessTiming.median(rowsRounds)
            )
        )
    }

    /// The states of up to `limit` case streams of the log at `path` (every n-th stream started,
    /// by position, so they span it), each folded from its events.
    static func states(_ path: String, limit: Int) throws -> [CaseState] {
        let sql = """
            WITH started AS (
                SELECT stream_id FROM events
                WHERE stream_version = 1 AND stream_id LIKE 'case-%'
                  AND position % max(1, (SELECT max(position) FROM events) / (?1 * 8)) = 0
                LIMIT ?1
            )
            SELECT e.stream_id, e.event_type, e.schema_version, e.payload, e.stream_version, e.recorded_at_us
            FROM started JOIN events e ON e.stream_id = started.stream_id
            ORDER BY e.stream_id, e.stream_version
            """
        return try InProcessTiming.withStatement(on: path, sql) { stmt in
            sqlite3_bind_int64(stmt, 1, Int64(limit))
            var states: [CaseState] = []
            var stream = ""
            var state = CaseState()
            while sqlite3_step(stmt) == SQLITE_ROW {
                let id = String(cString: sqlite3_column_text(stmt, 0))
                if id != stream {
                    if !stream.isEmpty { states.append(state) }
                    (stream, state) = (id, CaseState())
                }
                let bytes = sqlite3_column_blob(stmt, 3)
                let count = Int(sqlite3_column_bytes(stmt, 3))
                let event = try CaseEventCodec.decode(
                    type: String(cString: sqlite3_column_text(stmt, 1)),
                    schemaVersion: Int(sqlite3_column_int64(stmt, 2)),
                    payload: bytes.map { Data(bytes: $0, count: count) } ?? Data()
                )
                state = evolve(
                    state,
                    RecordedCaseEvent(
                        event: event,
                        version: Int(sqlite3_column_int64(stmt, 4)),
                        eventId: UUID(),
                        recordedAt: Date(timeIntervalSince1970: Double(sqlite3_column_int64(stmt, 5)) / 1_000_000)
                    )
                )
            }
            if !stream.isEmpty { states.append(state) }
            return states
        }
    }
}
