import CSQLite
import Foundation
import Testing
@testable import EventStore

@Suite struct IntegrityTests {
    @Test func updateAndDeleteAreRefusedByTheDatabaseItself() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.path("log.sqlite")
        let store = try EventStore(path: path)
        try store.append(to: "case-1", expected: .noStream, events: [event("Opened", #"{"x":1}"#)])
        store.close()

        let raw = RawConnection(path)
        let update = raw.exec("UPDATE events SET payload = x'7b7d' WHERE position = 1")
        #expect(update?.contains("append-only") == true)
        let delete = raw.exec("DELETE FROM events WHERE position = 1")
        #expect(delete?.contains("append-only") == true)
        #expect(raw.int("SELECT COUNT(*) FROM events") == 1)

        let reopened = try EventStore(path: path)
        defer { reopened.close() }
        #expect(try reopened.read(stream: "case-1").first?.payload == Array(#"{"x":1}"#.utf8))
    }

    @Test func verifyNamesTheFirstTamperedPosition() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.path("log.sqlite")
        let store = try EventStore(path: path)
        for i in 1...10 {
            try store.append(to: "case-\(i % 3)", expected: .any, events: [event("E", #"{"i":\#(i)}"#)])
        }
        let clean = try store.verify()
        #expect(clean.isIntact)
        #expect(clean.eventsChecked == 10)
        store.close()

        // An intruder drops the trigger and flips one byte of event 7's payload.
        let raw = RawConnection(path)
        #expect(raw.exec("DROP TRIGGER events_refuse_update") == nil)
        #expect(raw.exec(#"UPDATE events SET payload = CAST('{"i":8}' AS BLOB) WHERE position = 7"#) == nil)

        let reopened = try EventStore(path: path)
        defer { reopened.close() }
        let report = try reopened.verify()
        #expect(report.firstBadPosition == 7)
        #expect(report.problem?.contains("altered") == true)
    }

    @Test func verifyNamesABrokenLinkAndAForgedHash() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.path("log.sqlite")
        let store = try EventStore(path: path)
        for i in 1...5 { try store.append(to: "s", expected: .any, events: [event("E", #"{"i":\#(i)}"#)]) }
        store.close()
        let raw = RawConnection(path)
        raw.exec("DROP TRIGGER events_refuse_update")
        // Rewriting a hash breaks the next event's link even if that event is untouched.
        raw.exec("UPDATE events SET hash = zeroblob(32) WHERE position = 3")
        let reopened = try EventStore(path: path)
        defer { reopened.close() }
        #expect(try reopened.verify().firstBadPosition == 3)
    }

    @Test func openingAForeignDatabaseOrNewerSchemaFailsWithASentence() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }

        let foreign = dir.path("foreign.sqlite")
        RawConnection(foreign).exec("CREATE TABLE invoices (id INTEGER)")
        #expect { try EventStore(path: foreign) } throws: { error in
            (error as? EventStoreError)?.kind == .notAnEventLog && "\(error)".contains("not an imr event log")
        }

        let text = dir.path("notes.txt")
        try Data(String(repeating: "not a database\n", count: 200).utf8).write(to: URL(fileURLWithPath: text))
        #expect { try EventStore(path: text) } throws: { error in
            (error as? EventStoreError)?.kind == .notAnEventLog
        }
        #expect(try String(contentsOfFile: text, encoding: .utf8).hasPrefix("not a database"))

        let newer = dir.path("newer.sqlite")
        try EventStore(path: newer).close()
        RawConnection(newer).exec("INSERT INTO schema_migrations VALUES (99, 'from the future', 0)")
        #expect { try EventStore(path: newer) } throws: { error in
            (error as? EventStoreError)?.kind == .schemaTooNew && "\(error)".contains("99")
        }

        #expect { try EventStore(path: dir.path("missing-dir/log.sqlite")) } throws: { error in
            (error as? EventStoreError)?.kind == .notWritable && "\(error)".contains("writable")
        }
    }

    @Test func migrationsAreRecordedOnce() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.path("log.sqlite")
        try EventStore(path: path).close()
        try EventStore(path: path).close()
        let raw = RawConnection(path)
        #expect(raw.int("SELECT COUNT(*) FROM schema_migrations") == Int64(Schema.migrations.count))
        #expect(raw.int("PRAGMA application_id") == Schema.applicationId)
        #expect(raw.int("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'") == 2)
    }

    @Test func aLockHeldPastTheTimeoutIsReportedAsLocked() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.path("log.sqlite")
        let store = try EventStore(path: path, options: .init(busyTimeout: .milliseconds(200)))
        defer { store.close() }
        let raw = RawConnection(path)
        #expect(raw.exec("BEGIN IMMEDIATE") == nil)
        #expect { try store.append(to: "s", expected: .any, events: [event()]) } throws: { error in
            (error as? EventStoreError)?.kind == .locked && "\(error)".contains("locked")
        }
        raw.exec("ROLLBACK")
        try store.append(to: "s", expected: .any, events: [event()])
        #expect(try store.headPosition() == 1)
    }

    @Test func synchronousSettingIsApplied() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let full = try EventStore(path: dir.path("full.sqlite"))
        defer { full.close() }
        #expect(try full.read { try $0.query("PRAGMA journal_mode")[0][0].string } == "wal")
        // synchronous is per connection: check the writer's through the store's own pragma read.
        let writerMode = try full.writerPragma("synchronous")
        #expect(writerMode == 2)  // FULL
        let normal = try EventStore(path: dir.path("normal.sqlite"), options: .init(synchronous: .normal))
        defer { normal.close() }
        #expect(try normal.writerPragma("synchronous") == 1)  // NORMAL
        // The writer's page cache: SQLite's 2 MiB unless given (negative: KiB).
        #expect(try normal.writerPragma("cache_size") == -2000)
        let cached = try EventStore(path: dir.path("cached.sqlite"), options: .init(writerCacheKiB: 65_536))
        defer { cached.close() }
        #expect(try cached.writerPragma("cache_size") == -65_536)
    }
}

@Suite struct CorruptionTests {
    @Test func aDamagedFileIsReportedAsCorruptWithWhatToDo() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.path("log.sqlite")
        let store = try EventStore(path: path)
        let big = String(repeating: "x", count: 3000)
        for i in 1...200 {
            try store.append(to: "s\(i % 9)", expected: .any, events: [event("E", #"{"i":\#(i),"pad":"\#(big)"}"#)])
        }
        store.close()

        // Overwrite pages in the middle of the file with garbage, as a failing disk would.
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: size / 2)
        try handle.write(contentsOf: Data(repeating: 0xA5, count: 16 * 4096))
        try handle.close()

        let error: EventStoreError? = {
            do {
                let reopened = try EventStore(path: path)
                defer { reopened.close() }
                _ = try reopened.readAll(from: 1, limit: 1000)
                _ = try reopened.verify()
                return nil
            } catch {
                return error as? EventStoreError
            }
        }()
        #expect(error?.kind == .corrupt)
        #expect(error?.message.contains("restore the latest backup") == true)
    }
}
