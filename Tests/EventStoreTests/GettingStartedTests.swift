import EventStore
import Foundation
import Testing

/// The code of `EventStore.docc/GettingStarted.md`, compiled and run on a real file, with what
/// the article says of its results checked.
@Suite struct GettingStartedTests {
    struct CountByType: Projection {
        var name: String { "count_by_type" }
        func prepare(_ db: ProjectionDatabase) throws {
            try db.execute("CREATE TABLE count_by_type (type TEXT PRIMARY KEY, n INTEGER NOT NULL)")
        }
        func apply(_ event: RecordedEvent, to db: ProjectionDatabase) throws {
            try db.execute(
                "INSERT INTO count_by_type VALUES (?, 1) ON CONFLICT(type) DO UPDATE SET n = n + 1",
                [.text(event.type)]
            )
        }
        func drop(_ db: ProjectionDatabase) throws {
            try db.execute("DROP TABLE IF EXISTS count_by_type")
        }
    }

    @Test func theArticleRunsAsWritten() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("getting-started-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("orders.sqlite").path

        let store = try EventStore(path: path)
        let placed = NewEvent(type: "OrderPlaced", payload: Array(#"{"item":"MRI"}"#.utf8))
        let result = try store.append(to: "order-1", expected: .noStream, events: [placed])
        #expect(result.streamVersion == 1 && result.events[0].position == 1)

        let late = NewEvent(type: "OrderCancelled", payload: Array("{}".utf8))
        var refused: EventStoreError?
        do {
            try store.append(to: "order-1", expected: .noStream, events: [late])
        } catch {
            refused = error
        }
        #expect(refused?.kind == .wrongExpectedVersion)

        let stream = try store.read(stream: "order-1")
        let everything = try store.readAll(from: 1, limit: 100)
        let report = try store.verify()
        #expect(stream.map(\.type) == ["OrderPlaced"] && everything == stream)
        #expect(report.firstBadPosition == nil && report.eventsChecked == 1)
        store.close()

        let counted = try EventStore(path: path, projections: [CountByType()])
        defer { counted.close() }
        let rows = try counted.read { db in try db.query("SELECT type, n FROM count_by_type ORDER BY type") }
        #expect(rows.map { $0["type"].string } == ["OrderPlaced"] && rows.map { $0["n"].int64 } == [1])
    }
}
