import CSQLite
import CSQLiteVFS
import Foundation
import Synchronization

/// A value bound to or read from an SQLite statement.
public enum SQLiteValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    public var int64: Int64? { if case .integer(let v) = self { v } else { nil } }
    public var string: String? { if case .text(let v) = self { v } else { nil } }
    public var double: Double? {
        switch self {
        case .real(let v): v
        case .integer(let v): Double(v)
        default: nil
        }
    }
    public var bytes: [UInt8]? {
        switch self {
        case .blob(let v): v
        case .text(let v): Array(v.utf8)
        default: nil
        }
    }
    public var isNull: Bool { if case .null = self { true } else { false } }
}

extension SQLiteValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(nilLiteral: ()) { self = .null }
}

/// A failure reported by SQLite, with its primary and extended result codes.
struct SQLiteError: Error, CustomStringConvertible {
    let code: Int32
    let extendedCode: Int32
    let message: String
    let sql: String?

    var description: String {
        "SQLite error \(extendedCode): \(message)" + (sql.map { " (while running: \($0))" } ?? "")
    }

    var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }
    var isConstraint: Bool { code == SQLITE_CONSTRAINT }
    var isCorrupt: Bool { code == SQLITE_CORRUPT }
    var isNotADatabase: Bool { code == SQLITE_NOTADB }
    var isCantOpen: Bool { code == SQLITE_CANTOPEN }
    var isReadOnly: Bool { code == SQLITE_READONLY || code == SQLITE_PERM || code == SQLITE_AUTH }
    var isFull: Bool { code == SQLITE_FULL }
    var isInterrupted: Bool { code == SQLITE_INTERRUPT }
}

/// A statement's text as a key (of the statement cache, of a rebuild's counter sums), hashed
/// on its length and a few of its bytes rather than all of them: a rebuild looks a statement up
/// for every row it writes, and hashing whole texts of 100-200 bytes was a tenth of its applying
/// thread's time. Texts that hash alike are told apart by `==`, which for the same literal
/// (how statements are written) compares two addresses and stops.
struct SQLText: Hashable {
    let text: String

    init(_ text: String) { self.text = text }

    /// Byte for byte (what SQLite reads), not as `String`'s `==` (canonical equivalence, which
    /// would make texts equal whose bytes, and so hashes, differ).
    static func == (a: SQLText, b: SQLText) -> Bool {
        let equal = a.text.utf8.withContiguousStorageIfAvailable { p in
            b.text.utf8.withContiguousStorageIfAvailable { q in
                p.count == q.count
                    && (p.baseAddress == q.baseAddress || p.count == 0
                        || memcmp(p.baseAddress!, q.baseAddress!, p.count) == 0)
            }
        }
        return (equal ?? nil) ?? a.text.utf8.elementsEqual(b.text.utf8)
    }

    func hash(into hasher: inout Hasher) {
        // Eight bytes at each quarter and at the end: statements differ in their tables and
        // columns more than in their length.
        func sample(_ bytes: UnsafeBufferPointer<UInt8>) {
            let count = bytes.count
            hasher.combine(count)
            guard count >= 8, let start = bytes.baseAddress else {
                hasher.combine(bytes: UnsafeRawBufferPointer(bytes))
                return
            }
            for offset in [0, count / 4, count / 2, count - count / 4, count] {
                hasher.combine(UnsafeRawPointer(start + min(offset, count - 8)).loadUnaligned(as: UInt64.self))
            }
        }
        if text.utf8.withContiguousStorageIfAvailable(sample) == nil {
            Array(text.utf8).withUnsafeBufferPointer(sample)
        }
    }
}

/// A single SQLite connection. Not thread-safe: the event store confines each
/// connection to one lock (the writer) or hands it to one reader at a time.
///
/// @unchecked Sendable: a connection is used by one thread at a time, either under the
/// writer's lock or checked out of the reader pool, never shared while in use.
package final class SQLiteConnection: @unchecked Sendable {
    let handle: OpaquePointer
    let path: String
    /// Unique among every connection this process opens, never reused.
    let serial = SQLiteConnection.serials.add(1, ordering: .relaxed).newValue
    private static let serials = Atomic<UInt64>(0)
    private var statementCache: [SQLText: SQLiteStatement] = [:]

    /// Process-wide SQLite configuration, set once before the first connection opens. Each
    /// command of a group commit runs in a savepoint whose undo record (the statement journal)
    /// holds the pages it changes, a few hundred KiB with the read models; at SQLite's default
    /// of 64 KiB every command created, wrote and deleted a temporary file on the writer thread.
    /// Statement journals stay in memory whatever their size (-1): with a spill size (16 MiB
    /// was tried), SQLite 3.40 failed a statement whose journal passed it with "database or
    /// disk is full", no system call failing (a read model's UPDATE of 66,000 alerts in a
    /// rebuild; `aStatementChangingMorePagesThanTheOldSpillSizeIsApplied`). A statement's
    /// journal holds the pages it changes once each: large only for a statement that rewrites
    /// a large table, which the read models do not do per command.
    ///
    /// Memory statistics off: with them, each allocation SQLite makes on any thread took one
    /// process-wide mutex, and a rebuild's applying thread spent most of its waits there,
    /// behind the thread reading the log (`imr_sqlite_config_no_memory_statistics`).
    static let configured: Int32 = {
        let spill = imr_sqlite_config_statement_journal_spill(-1)
        let statistics = imr_sqlite_config_no_memory_statistics()
        return spill != SQLITE_OK ? spill : statistics
    }()

    /// Applies ``configured`` now, whoever opens SQLite first: a process that also opens
    /// SQLite by other means (a test's raw connection, a benchmark's plain writer) calls this
    /// before, or SQLite starts unconfigured and the configuration fails with SQLITE_MISUSE.
    /// Returns SQLITE_OK, or the code the configuration failed with.
    @discardableResult
    package static func configureBeforeFirstUse() -> Int32 { configured }

    /// The VFS every connection opens through (``imr_wal_vfs_register()``): a commit's WAL
    /// frames in one write instead of two per page. Registered after the configuration above
    /// (registering starts SQLite); nil, and SQLite's default, if it could not be.
    static let vfs: String? = {
        _ = configured
        return imr_wal_vfs_register() == SQLITE_OK ? IMR_WAL_VFS_NAME : nil
    }()

    init(path: String, readOnly: Bool = false, create: Bool = true) throws(SQLiteError) {
        let vfs = Self.vfs
        var db: OpaquePointer?
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        if readOnly {
            flags |= SQLITE_OPEN_READONLY
        } else {
            flags |= SQLITE_OPEN_READWRITE
            if create { flags |= SQLITE_OPEN_CREATE }
        }
        let rc = sqlite3_open_v2(path, &db, flags, vfs)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: rc & 0xff, extendedCode: rc, message: message, sql: nil)
        }
        self.handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
    }

    deinit {
        statementCache.removeAll()
        sqlite3_close_v2(handle)
    }

    func error(_ rc: Int32, sql: String? = nil) -> SQLiteError {
        SQLiteError(
            code: rc & 0xff,
            extendedCode: sqlite3_extended_errcode(handle),
            message: String(cString: sqlite3_errmsg(handle)),
            sql: sql
        )
    }

    /// Runs one or more statements that return no rows.
    func execute(_ sql: String) throws(SQLiteError) {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc, sql: sql) }
    }

    func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc, sql: sql) }
        return SQLiteStatement(stmt, connection: self, sql: sql)
    }

    /// A prepared statement kept for the life of the connection, reset and unbound.
    /// A prepared statement for `sql`, kept for the next call with the same text. The cache
    /// holds at most ``maximumCachedStatements``: a caller that builds a new text each time
    /// (values written into the SQL) would otherwise grow it, and the process, without end.
    func cached(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let stmt = statementCache[SQLText(sql)] {
            stmt.reset()
            return stmt
        }
        let stmt = try prepare(sql)
        if statementCache.count >= Self.maximumCachedStatements {
            // Rare by design (the texts are fixed); dropping them all is simpler than an LRU
            // and a statement still in use stays alive through its caller's reference.
            statementCache.removeAll(keepingCapacity: true)
        }
        statementCache[SQLText(sql)] = stmt
        return stmt
    }

    static let maximumCachedStatements = 256

    /// How many prepared statements the cache holds (for tests).
    var cachedStatementCount: Int { statementCache.count }

    func run(_ sql: String, _ arguments: [SQLiteValue] = []) throws(SQLiteError) {
        let stmt = try cached(sql)
        try stmt.bind(arguments)
        while try stmt.step() {}
        stmt.reset()
    }

    func rows(_ sql: String, _ arguments: [SQLiteValue] = []) throws(SQLiteError) -> [Row] {
        let stmt = try cached(sql)
        try stmt.bind(arguments)
        var result: [Row] = []
        while try stmt.step() { result.append(stmt.row()) }
        stmt.reset()
        return result
    }

    func scalarInt(_ sql: String, _ arguments: [SQLiteValue] = []) throws(SQLiteError) -> Int64? {
        try rows(sql, arguments).first?[0].int64
    }

    var changes: Int { Int(sqlite3_changes(handle)) }
    var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    func setBusyTimeout(milliseconds: Int32) { sqlite3_busy_timeout(handle, milliseconds) }
}

/// One row of a result, by column index or name.
public struct Row: Sendable, Hashable {
    public let columns: [String]
    public let values: [SQLiteValue]

    public subscript(_ index: Int) -> SQLiteValue { values[index] }

    public subscript(_ name: String) -> SQLiteValue {
        guard let index = columns.firstIndex(of: name) else { return .null }
        return values[index]
    }
}

final class SQLiteStatement {
    let handle: OpaquePointer
    unowned let connection: SQLiteConnection
    let sql: String
    private lazy var columnNames: [String] = (0..<sqlite3_column_count(handle)).map {
        String(cString: sqlite3_column_name(handle, $0))
    }

    init(_ handle: OpaquePointer, connection: SQLiteConnection, sql: String) {
        self.handle = handle
        self.connection = connection
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    func bind(_ values: [SQLiteValue]) throws(SQLiteError) {
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(handle, index)
            case .integer(let v): rc = sqlite3_bind_int64(handle, index, v)
            case .real(let v): rc = sqlite3_bind_double(handle, index, v)
            case .text(let v):
                // With its byte length: a NUL inside the text is stored, not a place where it ends.
                var text = v
                rc = text.withUTF8 { utf8 in
                    utf8.withMemoryRebound(to: CChar.self) { chars in
                        chars.count == 0
                            ? sqlite3_bind_text(handle, index, "", 0, imr_sqlite_transient())
                            : sqlite3_bind_text(
                                handle,
                                index,
                                chars.baseAddress,
                                Int32(chars.count),
                                imr_sqlite_transient()
                            )
                    }
                }
            case .blob(let v):
                rc = v.withUnsafeBytes { raw in
                    sqlite3_bind_blob(handle, index, raw.baseAddress, Int32(raw.count), imr_sqlite_transient())
                }
            }
            guard rc == SQLITE_OK else { throw connection.error(rc, sql: sql) }
        }
    }

    /// Steps once: true when a row is available.
    func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let err = connection.error(rc, sql: sql)
            sqlite3_reset(handle)
            throw err
        }
    }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    /// The column as text, with its byte length (a NUL inside it does not end it).
    func text(_ column: Int32) -> String {
        guard let p = sqlite3_column_text(handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: p, count: count), as: UTF8.self)
    }

    /// `known` when the column holds the same text (compared byte for byte), else nil.
    func text(_ column: Int32, ifEqualTo known: String) -> String? {
        guard let p = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        var known = known
        let equal = known.withUTF8 { bytes in
            bytes.count == count && (count == 0 || memcmp(bytes.baseAddress!, p, count) == 0)
        }
        return equal ? known : nil
    }

    func bytes(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let p = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: count))
    }

    func value(_ column: Int32) -> SQLiteValue {
        switch sqlite3_column_type(handle, column) {
        case SQLITE_INTEGER: .integer(int64(column))
        case SQLITE_FLOAT: .real(sqlite3_column_double(handle, column))
        case SQLITE_TEXT: .text(text(column))
        case SQLITE_BLOB: .blob(bytes(column))
        default: .null
        }
    }

    func row() -> Row {
        Row(columns: columnNames, values: (0..<Int32(columnNames.count)).map { value($0) })
    }
}
