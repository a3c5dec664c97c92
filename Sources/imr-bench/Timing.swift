import ArgumentParser
import CSQLite
import EventStore
import Foundation

/// What the timing tools share (`decode` and `derive` time in process; `load` takes medians).
enum InProcessTiming {
    /// This thread's CPU time in nanoseconds: on a machine busy with other work, the time the
    /// thread waited for a CPU does not count.
    static func threadCPUNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// The median of `values`; NaN for none.
    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        return sorted.count % 2 == 1
            ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    /// Runs `body` with `sql` prepared on the store at `path`, opened read-only and immutable
    /// (nothing is written to it, and no lock is taken).
    static func withStatement<T>(on path: String, _ sql: String, _ body: (OpaquePointer) throws -> T) throws -> T {
        var handle: OpaquePointer?
        SQLiteConnection.configureBeforeFirstUse()  // the event store opens in this process too
        let uri = "file:" + path + "?mode=ro&immutable=1"
        guard sqlite3_open_v2(uri, &handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nil) == SQLITE_OK, let db = handle
        else {
            sqlite3_close(handle)
            throw ValidationError("cannot open \(path) read-only")
        }
        defer { sqlite3_close(db) }
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK, let stmt else {
            throw BenchError("\(path): \(String(cString: sqlite3_errmsg(db)))")
        }
        defer { sqlite3_finalize(stmt) }
        return try body(stmt)
    }
}
