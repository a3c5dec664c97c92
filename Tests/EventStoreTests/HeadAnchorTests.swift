import CSQLite
import Foundation
import Testing
@testable import EventStore

/// Issue 11: a deleted tail, and text with a NUL in it.
@Suite struct HeadAnchorTests {
    @Test func verifyNamesTheFirstMissingPositionOfADeletedTail() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.path("log.sqlite")
        let store = try EventStore(path: path)
        for i in 1...30 { try store.append(to: "case-\(i % 4)", expected: .any, events: [event("E", #"{"i":\#(i)}"#)]) }
        #expect(try store.verify().isIntact)
        #expect(try store.head()?.position == 30)
        store.close()
        #expect(try EventStore.checkHead(path: path).isIntact)

        // An intruder drops the trigger and deletes the last eight events: the chain that is
        // left is intact on its own.
        let raw = RawConnection(path)
        #expect(raw.exec("DROP TRIGGER events_refuse_delete") == nil)
        #expect(raw.exec("DELETE FROM events WHERE position > 22") == nil)

        let check = try EventStore.checkHead(path: path)
        #expect(!check.isIntact)
        #expect(check.missingFrom == 23)
        #expect(check.lastPosition == 22)
        #expect(check.problem?.contains("from position 23 to 30") == true)

        let reopened = try EventStore(path: path)
        defer { reopened.close() }
        let report = try reopened.verify()
        #expect(!report.isIntact)
        #expect(report.eventsChecked == 22)
        #expect(report.firstBadPosition == 23)
        #expect(report.missingFrom == 23)
        #expect(report.anchorPosition == 30)
        #expect(report.problem?.contains("truncated") == true)
    }

    @Test func theCheapHeadCheckFindsAReplacedLastEventAndEventsAddedBehindTheStore() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.path("log.sqlite")
        let store = try EventStore(path: path)
        for i in 1...5 { try store.append(to: "s", expected: .any, events: [event("E", #"{"i":\#(i)}"#)]) }
        store.close()

        let raw = RawConnection(path)
        raw.exec("DROP TRIGGER events_refuse_update")
        raw.exec(#"UPDATE events SET payload = CAST('{"i":6}' AS BLOB) WHERE position = 5"#)
        let altered = try EventStore.checkHead(path: path)
        #expect(altered.problem?.contains("position 5") == true)
        #expect(altered.missingFrom == nil)

        raw.exec(#"UPDATE events SET payload = CAST('{"i":5}' AS BLOB) WHERE position = 5"#)
        #expect(try EventStore.checkHead(path: path).isIntact)
        raw.exec("UPDATE log_head SET position = 4")
        #expect(try EventStore.checkHead(path: path).problem?.contains("after position 4") == true)
        raw.exec("DELETE FROM log_head")
        #expect(try EventStore.checkHead(path: path).problem?.contains("missing") == true)
    }

    @Test func batchAppendsMoveTheAnchorAndABackupCarriesIt() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"))
        defer { store.close() }
        let results = try store.append(batch: [
            AppendRequest(streamId: "a", expected: .noStream, events: [event(), event()]),
            // refused: the anchor must not move for it
            AppendRequest(streamId: "b", expected: .exact(3), events: [event()]),
            AppendRequest(streamId: "c", expected: .noStream, events: [event()]),
        ])
        #expect(results.filter { (try? $0.get()) != nil }.count == 2)
        let last = try store.readAll().last!
        #expect(try store.head() == LogHead(position: 3, hash: last.hash))
        #expect(try store.verify().isIntact)

        let copy = dir.path("backup.sqlite")
        _ = try store.backup(to: copy)
        let check = try EventStore.checkHead(path: copy)
        #expect(check.isIntact)
        #expect(check.anchor?.position == 3)
    }

    @Test func aLogFromBeforeTheAnchorGetsItFromItsHeadOnMigration() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.path("log.sqlite")
        let store = try EventStore(path: path)
        for _ in 1...4 { try store.append(to: "s", expected: .any, events: [event()]) }
        let lastHash = try store.readAll().last!.hash
        store.close()
        // Back to schema version 1, as an older imr left it.
        let raw = RawConnection(path)
        #expect(
            raw.exec(
                """
                DROP TABLE log_head; ALTER TABLE projection_checkpoints DROP COLUMN version; DROP TABLE projection_deferred_indexes;
                ALTER TABLE projection_checkpoints DROP COLUMN rebuild_to; ALTER TABLE projection_checkpoints DROP COLUMN rebuild_stream;
                ALTER TABLE projection_checkpoints DROP COLUMN rebuild_version; DELETE FROM schema_migrations WHERE version >= 2
                """
            ) == nil
        )

        let migrated = try EventStore(path: path)
        defer { migrated.close() }
        #expect(try migrated.head() == LogHead(position: 4, hash: lastHash))
        #expect(try migrated.verify().isIntact)
        try migrated.append(to: "s", expected: .any, events: [event()])
        #expect(try migrated.head()?.position == 5)
    }

    @Test func aStreamIdWithANulIsRefusedAndTextKeepsItsNul() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.path("log.sqlite")
        let store = try EventStore(path: path)
        defer { store.close() }
        try store.append(to: "case-A", expected: .noStream, events: [event()])
        #expect { try store.append(to: "case-A\u{0}B", expected: .any, events: [event()]) } throws: { error in
            (error as? EventStoreError)?.kind == .invalidArgument && "\(error)".contains("NUL")
        }
        #expect { try store.append(to: "s", expected: .any, events: [event("T\u{0}x")]) } throws: { error in
            (error as? EventStoreError)?.kind == .invalidArgument
        }
        #expect(try store.version(of: "case-A") == 1)
        #expect(try store.headPosition() == 1)
        #expect(try store.verify().isIntact)

        // Text goes in and comes out with its byte length: a NUL neither cuts nor matches early.
        let echoed = try store.read {
            try $0.query("SELECT ?, length(CAST(? AS BLOB))", [.text("A\u{0}B"), .text("A\u{0}B")])
        }
        #expect(echoed[0][0].string == "A\u{0}B")
        #expect(echoed[0][1].int64 == 3)
        #expect(try store.version(of: "case-A\u{0}B") == 0)
        #expect(try store.read(stream: "case-A\u{0}zzz").isEmpty)
    }
}
