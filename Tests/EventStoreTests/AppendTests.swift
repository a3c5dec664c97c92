import CSQLite
import Foundation
import Synchronization
import Testing
@testable import EventStore

@Suite struct AppendTests {
    @Test func randomUUIDsAreVersion4WithTheRFCVariantAndDistinct() {
        var seen = Set<UUID>()
        for _ in 0..<10_000 {
            let id = UUID.random()
            #expect(id.uuid.6 >> 4 == 4)
            #expect(id.uuid.8 >> 6 == 0b10)
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
        // Foundation parses its own text form back to the same value.
        let id = UUID.random()
        #expect(UUID(uuidString: id.uuidString) == id)
        #expect(id.uuidString.split(separator: "-")[2].first == "4")
    }

    @Test func uuidTextParsesAsFoundationParsesIt() {
        for _ in 0..<2_000 {
            let id = UUID.random()
            #expect(UUID.parse(id.uuidString) == id)
            #expect(UUID.parse(id.uuidString.lowercased()) == id)
        }
        let known = "F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6"
        #expect(UUID.parse(known) == UUID(uuidString: known))
        // Not the 36-character form: Foundation's answer, whatever it is.
        for text in [
            "", "f81d4fae7dec11d0a76500a0c91e6bf6", "f81d4fae-7dec-11d0-a765-00a0c91e6bf",
            "g81d4fae-7dec-11d0-a765-00a0c91e6bf6",
            "f81d4fae-7dec-11d0-a765-00a0c91e6bf6x", "f81d4fae_7dec_11d0_a765_00a0c91e6bf6",
            "{f81d4fae-7dec-11d0-a765-00a0c91e6bf6}",
        ] {
            #expect(UUID.parse(text) == UUID(uuidString: text), "\(text)")
        }
    }

    @Test func uuidLowercaseTextIsFoundationsTextLowered() {
        let edges = [
            UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
            UUID(uuid: (255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255)),
            UUID(
                uuid: (0x09, 0x0A, 0x9F, 0xA0, 0x0F, 0xF0, 0x10, 0x01, 0xAB, 0xCD, 0xEF, 0x12, 0x34, 0x56, 0x78, 0x9A)
            ),
        ]
        for id in edges + (0..<2_000).map({ _ in UUID.random() }) + [UUID.timeOrdered()] {
            #expect(id.lowercasedText == id.uuidString.lowercased())
            #expect(UUID.parse(id.lowercasedText) == id)
        }
    }

    @Test func timeOrderedUUIDsAreVersion7AndSortByTheirMillisecond() {
        let base: UInt64 = 1_764_547_200_123
        // Half way through each millisecond, clear of rounding at its edges.
        func at(_ millis: UInt64) -> Date { Date(timeIntervalSince1970: (Double(millis) + 0.5) / 1000) }
        let start = at(base)
        var previous: UUID?
        for step in 0..<1_000 {
            let id = UUID.timeOrdered(now: at(base + UInt64(step)))
            #expect(id.uuid.6 >> 4 == 7)
            #expect(id.uuid.8 >> 6 == 0b10)
            // The first 48 bits are the Unix milliseconds, so text order is time order.
            #expect(
                id.uuidString.replacingOccurrences(of: "-", with: "").prefix(12)
                    == String(format: "%012llX", base + UInt64(step))
            )
            if let previous { #expect(previous.uuidString < id.uuidString) }
            previous = id
        }
        #expect(UUID.timeOrdered(now: start) != UUID.timeOrdered(now: start))
        // Events appended without an id get one.
        #expect(NewEvent(type: "T", payload: [UInt8]()).id.uuid.6 >> 4 == 7)
    }

    /// The VFS that writes a commit's WAL frames in one call: every connection of the store
    /// goes through it, a transaction several times its buffer commits whole, and each commit
    /// is seen at once by the read connections (its frames are written before the wal-index
    /// names them) and after reopening.
    @Test(arguments: [EventStore.Synchronous.full, .normal])
    func theWALGoesThroughTheCoalescingVFS_whateverTheTransactionsSize(synchronous: EventStore.Synchronous) throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.path("log.sqlite")
        func vfsName(_ db: SQLiteConnection) -> String {
            var name: UnsafeMutablePointer<CChar>?
            guard sqlite3_file_control(db.handle, "main", SQLITE_FCNTL_VFSNAME, &name) == SQLITE_OK, let name else {
                return ""
            }
            defer { sqlite3_free(name) }
            return String(cString: name)
        }
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 300_000)
        do {
            // Without a sync per commit (normal), only the wal-index barrier writes the frames out.
            let store = try EventStore(path: path, options: .init(synchronous: synchronous))
            defer { store.close() }
            #expect(try store.withWriter { (w: Writer) throws(EventStoreError) in vfsName(w.db) }.hasPrefix("imr-wal/"))
            #expect(
                try store.withReader(doing: "test") { (db: SQLiteConnection) throws(SQLiteError) in vfsName(db) }
                    .hasPrefix("imr-wal/")
            )
            for round in 1...20 {
                // About 3 MB in one transaction: the 128 KiB buffer is written out as it fills.
                let events = (0..<10).map { n in
                    NewEvent(
                        type: "Big",
                        payload: Array(#"{"round":\#(round),"n":\#(n),"pad":""#.utf8) + big + Array(#""}"#.utf8)
                    )
                }
                try store.append(to: "s\(round % 3)", expected: .any, events: events)
                // Another connection sees the commit the moment append returns.
                #expect(
                    try store.withReader(doing: "test") { (db: SQLiteConnection) throws(SQLiteError) in
                        try db.scalarInt("SELECT COUNT(*) FROM events")
                    } == Int64((round - 1) * 11 + 10)
                )
                try store.append(to: "small", expected: .any, events: [event("Small")])
                #expect(try store.read(stream: "small").count == round)
            }
            #expect(try store.verify().problem == nil)
        }
        let store = try EventStore(path: path)
        defer { store.close() }
        #expect(try store.headPosition() == 220)
        #expect(try store.read(stream: "s1").allSatisfy { $0.payload.count > 300_000 })
        #expect(try store.verify().problem == nil)
    }

    /// Checkpoints run on the store's checkpoint thread, not at the end of the writer's
    /// commits: past `checkpointFrames` the writer asks for one and goes on; the WAL stays
    /// bounded, the log stays whole, and closing the store ends the thread.
    @Test func theWALIsCheckpointedOnAThreadOfItsOwn_andStaysBounded() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let pad = String(repeating: "p", count: 3_000)
        /// The WAL's largest extent after 400 commits of a page or more each.
        func walBytes(checkpointFrames: Int, path: String) throws -> (bytes: Int, passes: Int) {
            let store = try EventStore(path: path, options: .init(checkpointFrames: checkpointFrames))
            defer { store.close() }
            for n in 0..<400 {
                try store.append(
                    to: "s\(n % 7)",
                    expected: .any,
                    events: [NewEvent(type: "Padded", payload: Array(#"{"n":\#(n),"pad":"\#(pad)"}"#.utf8))]
                )
            }
            let checkpointer = try store.withWriter { (w: Writer) throws(EventStoreError) in w.checkpointer }
            var waited = 0
            while checkpointFrames < 1_000_000 && checkpointer.passes.load(ordering: .relaxed) == 0 && waited < 500 {
                Thread.sleep(forTimeInterval: 0.01)
                waited += 1
            }
            #expect(try store.verify().problem == nil)
            let bytes = (try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
            return (bytes, checkpointer.passes.load(ordering: .relaxed))
        }
        // What the WAL grows to with no checkpoint at all, on the same file system.
        let unbounded = try walBytes(checkpointFrames: 1_000_000, path: dir.path("unbounded.sqlite"))
        #expect(unbounded.passes == 0)
        let frames = 40
        let path = dir.path("log.sqlite")
        let bounded = try walBytes(checkpointFrames: frames, path: path)
        #expect(bounded.passes > 0)
        // The writer checkpoints itself past eight times the threshold, so the WAL's largest
        // extent is about that, plus the commits made while the checkpoint thread's own pass
        // held the checkpoint lock (the writer's checkpoint is then busy: on a loaded machine,
        // a CI run with every suite at once, that was more than 20 frames). Well below what it
        // grows to unchecked, whatever the machine.
        #expect(bounded.bytes > 0 && bounded.bytes < unbounded.bytes / 2, "\(bounded.bytes) of \(unbounded.bytes)")
        let store = try EventStore(path: path)
        defer { store.close() }
        #expect(try store.headPosition() == 400)
        #expect(try store.verify().problem == nil)
    }

    /// Under a steady load a commit lands while each of the checkpoint thread's passes runs, and
    /// the WAL starts over only once every frame in it is copied: the writer copies what was
    /// committed during a pass before its next transaction, so the WAL starts over after (about)
    /// every pass instead of growing to eight times the threshold. A reader's snapshot stands in
    /// for the commits made during a pass (the pass copies no frame past it): that makes the
    /// order certain on a machine of any speed, where counting restarts under a steady load
    /// depended on how commits and passes happened to interleave.
    @Test func theWALStartsOverAfterTheCheckpointThreadsPasses() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.path("log.sqlite")
        let store = try EventStore(path: path, options: .init(checkpointFrames: 40))
        defer { store.close() }
        let (checkpointer, counters) = try store.withWriter { (w: Writer) throws(EventStoreError) in
            (w.checkpointer, w.counters)
        }
        let pad = String(repeating: "p", count: 3_000)
        var n = 0
        func append() throws {
            try store.append(
                to: "s\(n % 7)",
                expected: .any,
                events: [NewEvent(type: "Padded", payload: Array(#"{"n":\#(n),"pad":"\#(pad)"}"#.utf8))]
            )
            n += 1
        }
        for round in 1...3 {
            try append()
            // A reader whose snapshot ends at this commit.
            let reader = try SQLiteConnection(path: path, readOnly: true, create: false)
            try reader.execute("BEGIN")
            #expect(try reader.scalarInt("SELECT count(*) FROM events") == Int64(n))
            // Commits past the threshold ask for a pass, which copies the WAL up to the snapshot.
            let passes = checkpointer.passes.load(ordering: .relaxed)
            var tries = 0
            while checkpointer.passes.load(ordering: .relaxed) == passes && tries < 3_000 {
                if tries < 200 { try append() } else { Thread.sleep(forTimeInterval: 0.01) }
                tries += 1
            }
            #expect(
                checkpointer.passes.load(ordering: .relaxed) > passes,
                "round \(round): no pass after \(tries) tries"
            )
            try reader.execute("COMMIT")
            tries = 0
            while !checkpointer.isIdle && tries < 3_000 {
                Thread.sleep(forTimeInterval: 0.01)
                tries += 1
            }
            // The next commit sees the pass; the writer copies what it left before the one after,
            // and that one starts the WAL over. Nothing else copies those frames: no pass is asked
            // for or running.
            let restarts = counters.walRestarts.load(ordering: .relaxed)
            try append()
            try append()
            #expect(counters.walRestarts.load(ordering: .relaxed) > restarts, "round \(round): \(n) commits")
        }
        #expect(try store.verify().problem == nil)
    }

    /// A checkpoint that fails is reported once, when the failures start, and once when one
    /// succeeds again; appends go on meanwhile. The checkpoint thread's connection is opened at
    /// its first request: with the file renamed away it cannot be, and it can once it is back.
    @Test func aCheckpointThatFailsIsReportedOnce_andSoIsItsRecovery() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.path("log.sqlite")
        let heard = Mutex<[StoreCondition]>([])
        let store = try EventStore(
            path: path,
            options: .init(checkpointFrames: 40, conditions: { condition in heard.withLock { $0.append(condition) } })
        )
        defer { store.close() }
        let pad = String(repeating: "p", count: 3_000)
        var appended = 0
        func append(until done: ([StoreCondition]) -> Bool) throws {
            var tries = 0
            while !heard.withLock({ done($0) }) && tries < 2_000 {
                try store.append(
                    to: "s\(appended % 5)",
                    expected: .any,
                    events: [NewEvent(type: "Padded", payload: Array(#"{"n":\#(appended),"pad":"\#(pad)"}"#.utf8))]
                )
                appended += 1
                tries += 1
                if tries % 20 == 0 { Thread.sleep(forTimeInterval: 0.01) }
            }
        }
        try FileManager.default.moveItem(atPath: path, toPath: path + ".away")
        try append { !$0.isEmpty }
        try FileManager.default.moveItem(atPath: path + ".away", toPath: path)
        try append { $0.count >= 2 }
        // More commits (and checkpoints) after the recovery report nothing more.
        let checkpointer = try store.withWriter { (w: Writer) throws(EventStoreError) in w.checkpointer }
        let passes = checkpointer.passes.load(ordering: .relaxed)
        try append { _ in checkpointer.passes.load(ordering: .relaxed) > passes + 1 }
        let conditions = heard.withLock { $0 }
        #expect(conditions.count == 2, "\(conditions)")
        guard conditions.count == 2,
            case .checkpointFailing(let failingPath, .checkpointThread, let error, _) = conditions[0],
            case .checkpointRecovered(path, .checkpointThread, let failures) = conditions[1]
        else {
            Issue.record("\(conditions)")
            return
        }
        #expect(failingPath == path)
        #expect(error.contains("unable to open"), "\(error)")
        #expect(failures >= 1)
        #expect(conditions[0].description.contains("cannot checkpoint the WAL of \(path)"))
        #expect(try store.headPosition() == Int64(appended))
        #expect(try store.verify().problem == nil)
    }

    @Test func theStatementJournalSpillIsConfiguredBeforeSQLiteStarts() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"))
        defer { store.close() }
        // SQLITE_MISUSE here would mean SQLite was initialized before the configuration, and
        // each savepoint of a group commit would spill its undo pages to a temporary file.
        #expect(SQLiteConnection.configured == SQLITE_OK)
    }

    /// A read model whose one event rewrites every row of a table of about 40 MiB.
    struct WideRewrite: Projection {
        var name = "wide_rewrite"
        func prepare(_ db: ProjectionDatabase) throws {
            try db.executeScript(
                """
                CREATE TABLE wide (id INTEGER PRIMARY KEY, v TEXT NOT NULL);
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40000)
                INSERT INTO wide (id, v) SELECT i, printf('%.1000c', 'a') FROM n;
                """
            )
        }
        func apply(_ event: RecordedEvent, to db: ProjectionDatabase) throws {
            try db.execute("UPDATE wide SET v = printf('%.1000c', ?)", [.text(event.type == "B" ? "b" : "c")])
        }
        func drop(_ db: ProjectionDatabase) throws { try db.executeScript("DROP TABLE IF EXISTS wide") }
    }

    /// A statement whose undo record (the statement journal of the append's savepoint) is
    /// larger than any bound: SQLite 3.40 failed it with "database or disk is full" once the
    /// journal passed a spill size set with SQLITE_CONFIG_STMTJRNL_SPILL (16 MiB then), with no
    /// failing system call and the disk far from full. Statement journals now stay in memory.
    @Test func aStatementChangingMorePagesThanTheOldSpillSizeIsApplied() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"), projections: [WideRewrite()])
        defer { store.close() }
        try store.append(to: "s", expected: .any, events: [event("B")])
        let values = try store.read { try $0.query("SELECT DISTINCT v FROM wide").map { $0[0].string ?? "" } }
        #expect(values == [String(repeating: "b", count: 1000)])
    }

    @Test func appendAssignsPositionsVersionsAndKeepsContent() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"))
        defer { store.close() }
        let first = try store.append(
            to: "case-1",
            expected: .noStream,
            events: [event("Opened", #"{"a":1}"#), event("Noted", #"{"b":2}"#)]
        )
        #expect(first.streamVersion == 2)
        #expect(first.events.map(\.position) == [1, 2])
        let second = try store.append(to: "case-2", expected: .noStream, events: [event("Opened")])
        #expect(second.events.map(\.position) == [3])
        let third = try store.append(to: "case-1", expected: .exact(2), events: [event("Closed")])
        #expect(third.events.map(\.streamVersion) == [3])

        let stream = try store.read(stream: "case-1")
        #expect(stream.map(\.type) == ["Opened", "Noted", "Closed"])
        #expect(stream.map(\.streamVersion) == [1, 2, 3])
        #expect(String(decoding: stream[0].payload, as: UTF8.self) == #"{"a":1}"#)
        #expect(stream[0].metadata.actor == "test")
        #expect(stream[0].metadata.correlationId == "corr-1")
        #expect(try store.read(stream: "case-1", from: 2).map(\.type) == ["Noted", "Closed"])
        #expect(try store.version(of: "case-1") == 3)
        #expect(try store.version(of: "nobody") == 0)
        #expect(try store.headPosition() == 4)
        #expect(try store.readAll(from: 2, limit: 2).map(\.position) == [2, 3])
    }

    @Test func wrongExpectationNamesStreamExpectedAndActual() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"))
        defer { store.close() }
        try store.append(to: "case-1", expected: .noStream, events: [event()])
        do {
            try store.append(to: "case-1", expected: .noStream, events: [event()])
            Issue.record("a second .noStream append must fail")
        } catch {
            #expect(error.kind == .wrongExpectedVersion)
            #expect(error.streamId == "case-1")
            #expect(error.expected == .noStream)
            #expect(error.actualVersion == 1)
            #expect(error.message.contains("case-1") && error.message.contains("version 1"))
        }
        #expect(throws: EventStoreError.self) { try store.append(to: "case-1", expected: .exact(5), events: [event()]) }
        #expect(throws: EventStoreError.self) { try store.append(to: "case-9", expected: .exact(1), events: [event()]) }
        #expect(try store.version(of: "case-1") == 1)
        #expect(try store.headPosition() == 1)
    }

    @Test func twoWritersWithTheSameExpectationExactlyOneWins() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"))
        defer { store.close() }
        for round in 0..<20 {
            let stream = "race-\(round)"
            try await store.append(to: stream, expected: .noStream, events: [event()])
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        (try? store.append(to: stream, expected: .exact(1), events: [event()])) != nil
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 1)
            await #expect(try store.version(of: stream) == 2)
        }
    }

    @Test func manyConcurrentWritersKeepPositionsStrictAndVersionsDense() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"), options: .init(synchronous: .normal))
        defer { store.close() }
        let streams = 16
        let appendsPerStream = 25
        try await withThrowingTaskGroup(of: Void.self) { group in
            for s in 0..<streams {
                group.addTask {
                    for _ in 0..<appendsPerStream {
                        try store.append(to: "stream-\(s)", expected: .any, events: [event(), event()])
                    }
                }
            }
            try await group.waitForAll()
        }
        let all = try await store.readAll(from: 1, limit: 100_000)
        #expect(all.count == streams * appendsPerStream * 2)
        #expect(all.map(\.position) == Array(1...Int64(all.count)))
        #expect(Set(all.map(\.id)).count == all.count)
        for s in 0..<streams {
            let versions = try await store.read(stream: "stream-\(s)").map(\.streamVersion)
            #expect(versions == Array(1...Int64(appendsPerStream * 2)))
        }
        await #expect(try store.verify().isIntact)
    }

    @Test func idempotentRetryWritesNothing_andReusedIdWithOtherContentIsRefused() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"))
        defer { store.close() }
        let a = event("Opened", #"{"n":1}"#)
        let b = event("Noted", #"{"n":2}"#)
        let first = try store.append(to: "case-1", expected: .noStream, events: [a, b])
        let retry = try store.append(to: "case-1", expected: .noStream, events: [a, b])
        #expect(retry.wasAlreadyStored)
        #expect(retry.events == first.events)
        #expect(try store.headPosition() == 2)
        // A retry with .any is also recognised.
        #expect(try store.append(to: "case-1", expected: .any, events: [a, b]).wasAlreadyStored)

        var changed = a
        changed.payload = Array(#"{"n":99}"#.utf8)
        do {
            try store.append(to: "case-1", expected: .any, events: [changed])
            Issue.record("reusing an id for other content must fail")
        } catch {
            #expect(error.kind == .duplicateEventId)
            #expect(error.message.contains(a.id.uuidString.lowercased()))
        }
        #expect(throws: EventStoreError.self) { try store.append(to: "case-2", expected: .any, events: [a]) }
        #expect(throws: EventStoreError.self) { try store.append(to: "case-1", expected: .any, events: [b, a]) }
        #expect(throws: EventStoreError.self) {
            try store.append(to: "case-1", expected: .any, events: [a, b, event()])
        }
        #expect(try store.headPosition() == 2)
    }

    @Test func batchAppendCommitsTogetherButRefusesRequestsOneByOne() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"))
        defer { store.close() }
        try store.append(to: "taken", expected: .noStream, events: [event()])
        let results = try store.append(batch: [
            AppendRequest(streamId: "a", expected: .noStream, events: [event()]),
            AppendRequest(streamId: "taken", expected: .noStream, events: [event()]),
            AppendRequest(streamId: "b", expected: .noStream, events: [event(), event()]),
        ])
        #expect((try? results[0].get())?.events.map(\.position) == [2])
        #expect(throws: EventStoreError.self) { try results[1].get() }
        #expect((try? results[2].get())?.events.map(\.position) == [3, 4])
        #expect(try store.version(of: "taken") == 1)
        #expect(try store.verify().isIntact)
    }

    @Test func emptyAppendsAndEmptyStreamIdsAreRefusedWithASentence() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"))
        defer { store.close() }
        #expect { try store.append(to: "s", expected: .any, events: []) } throws: { error in
            (error as? EventStoreError)?.kind == .invalidArgument && "\(error)".contains("no events")
        }
        #expect { try store.append(to: "", expected: .any, events: [event()]) } throws: { error in
            (error as? EventStoreError)?.kind == .invalidArgument
        }
        let id = UUID()
        #expect { try store.append(to: "s", expected: .any, events: [event(id: id), event(id: id)]) } throws: { error in
            (error as? EventStoreError)?.kind == .invalidArgument
        }
    }
}

@Suite struct MetadataEncodingTests {
    @Test func storedMetadataIsSortedJSONThatDecodesBack() throws {
        let metadata = EventMetadata(
            actor: "uid:1 a\"b\\c\nd",
            correlationId: "c",
            causationId: nil,
            commandId: "x",
            extras: ["z": "1", "a": "\u{1}é"]
        )
        let bytes = metadata.encoded()
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == #"{"actor":"uid:1 a\"b\\c\nd","commandId":"x","correlationId":"c","extras":{"a":"\u0001é","z":"1"}}"#
        )
        #expect(EventMetadata.decode(bytes) == metadata)
        #expect(try JSONSerialization.jsonObject(with: Data(bytes)) is [String: Any])
    }
}

/// A connection's prepared statements are kept for reuse, but never more than a bound: a
/// query whose text differs each time (a value written into the SQL) once grew the daemon by
/// about 23 KB per call, without end.
@Suite struct StatementCacheTests {
    @Test func theStatementCacheStaysBoundedWhateverTheQueries() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"))
        defer { store.close() }
        var largest = 0
        for n in 0..<(SQLiteConnection.maximumCachedStatements * 3) {
            largest = max(
                largest,
                try store.read { db in
                    _ = try db.query("SELECT \(n) FROM events WHERE position > ?", [.integer(Int64(n))])
                    return db.connection.cachedStatementCount
                }
            )
        }
        #expect(largest <= SQLiteConnection.maximumCachedStatements)
        // The same text is prepared once and reused.
        let counts = try (0..<10).map { n in
            try store.read { db in
                _ = try db.query("SELECT COUNT(*) FROM events WHERE position > ?", [.integer(Int64(n))])
                return db.connection.cachedStatementCount
            }
        }
        #expect(Set(counts.dropFirst()).count == 1)
    }

    /// The cache hashes a text on its length and a few of its bytes: two texts alike in those
    /// and different elsewhere hash alike, and are still two statements. Built at run time, so
    /// that each is a string of its own (not one literal compared by its address).
    @Test func textsThatHashAlikeAreStillDifferentStatements() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try EventStore(path: dir.path("log.sqlite"))
        defer { store.close() }
        let padding = String(repeating: "p", count: 19)
        // 40 bytes; the sign at byte 9 is outside every sampled range.
        let plus = "SELECT 0" + String(" + 1 AS v, '\(padding)'")
        let minus = "SELECT 0" + String(" - 1 AS v, '\(padding)'")
        #expect(plus.utf8.count == 40 && minus.utf8.count == 40)
        #expect(SQLText(plus).hashValue == SQLText(minus).hashValue)
        #expect(SQLText(plus) != SQLText(minus))
        #expect(SQLText(plus) == SQLText(String(plus.utf8.map { Character(UnicodeScalar($0)) })))
        for _ in 0..<3 {
            #expect(try store.read { db in try db.query(plus).first?[0].int64 } == 1)
            #expect(try store.read { db in try db.query(minus).first?[0].int64 } == -1)
        }
        // A short text and one not stored as UTF-8 contiguously hash and compare as well.
        #expect(SQLText("SELECT 1") == SQLText("SELECT" + " 1"))
        #expect(SQLText("SELECT 1").hashValue == SQLText("SELECT" + " 1").hashValue)
        let bridged = NSString(string: plus) as String
        #expect(SQLText(bridged) == SQLText(plus))
        #expect(SQLText(bridged).hashValue == SQLText(plus).hashValue)
        // Equal as Strings (canonically), different bytes: two statements, as SQLite sees them.
        let composed = "SELECT 'caf\u{E9}' AS v"
        let decomposed = "SELECT 'cafe\u{301}' AS v"
        #expect(composed == decomposed)
        #expect(SQLText(composed) != SQLText(decomposed))
    }
}
