import CSQLite
import Foundation
@testable import EventStore

/// A fresh directory under the system temporary directory, removed by `cleanup()`.
struct TemporaryDirectory {
    let url: URL

    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("imr-eventstore-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

func event(_ type: String = "Tested", _ json: String = "{}", id: UUID = UUID(), actor: String? = "test") -> NewEvent {
    NewEvent(
        id: id,
        type: type,
        payload: Array(json.utf8),
        metadata: EventMetadata(actor: actor, correlationId: "corr-1")
    )
}

/// A plain SQLite connection that bypasses the event store, as an intruder or operator would.
final class RawConnection {
    let db: OpaquePointer

    init(_ path: String) {
        var handle: OpaquePointer?
        SQLiteConnection.configureBeforeFirstUse()
        precondition(sqlite3_open(path, &handle) == SQLITE_OK)
        db = handle!
        sqlite3_busy_timeout(db, 5000)
    }

    deinit { sqlite3_close(db) }

    /// Runs SQL; returns nil on success or SQLite's error message.
    @discardableResult
    func exec(_ sql: String) -> String? {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &error)
        if rc == SQLITE_OK { return nil }
        defer { sqlite3_free(error) }
        return error.map { String(cString: $0) } ?? "error \(rc)"
    }

    func int(_ sql: String) -> Int64 {
        var stmt: OpaquePointer?
        precondition(sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK, String(cString: sqlite3_errmsg(db)))
        defer { sqlite3_finalize(stmt) }
        precondition(sqlite3_step(stmt) == SQLITE_ROW)
        return sqlite3_column_int64(stmt, 0)
    }
}

/// The directory holding the built products (executables) next to the test bundle.
var productsDirectory: URL {
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var dir = executable.deletingLastPathComponent()
    // On Linux the test runner is <products>/imrPackageTests.xctest; elsewhere it may sit deeper.
    while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("imr-store-crashloop").path),
        dir.path != "/"
    {
        dir = dir.deletingLastPathComponent()
    }
    return dir
}
