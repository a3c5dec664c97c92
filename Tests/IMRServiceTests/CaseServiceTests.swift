import EventStore
import Foundation
import Testing
@testable import IMRService
@testable import Workflow

private func pacific(_ iso: String, _ hour: Int, _ minute: Int = 0) -> Date {
    Pacific.instant(LocalDate(iso: iso)!, hour: hour, minute: minute)
}

private struct Fixture {
    let dir: URL
    let store: EventStore
    let service: CaseService
    let alice = Actor(uid: 1000, name: "alice")

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-service-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        store = try EventStore(
            path: dir.appendingPathComponent("imr.sqlite").path,
            options: .init(synchronous: .normal),
            projections: [CaseListProjection()]
        )
        service = CaseService(store: store)
    }

    func close() {
        store.close()
        try? FileManager.default.removeItem(at: dir)
    }

    func opened(_ id: String, coordinator: String = "maria") -> CaseOpened {
        CaseOpened(
            caseId: CaseID(id),
            claimNumber: "ADJ-\(id)",
            employer: "Acme",
            claimsAdministrator: "Golden TPA",
            injuredWorkerReference: "J.S.",
            dateOfInjury: LocalDate(iso: "2023-11-02")!,
            coordinator: coordinator
        )
    }

    static let rfa = RFAReceived(
        rfaId: "A",
        receivedAt: pacific("2024-02-26", 10, 15),
        transmission: .fax,
        physician: "Dr. Lee",
        treatmentRecommendedOn: nil,
        reviewType: .prospective,
        items: [
            RequestedItem(id: "1", description: "8 massage therapy visits"),
            RequestedItem(id: "2", description: "MRI lumbar spine"),
        ]
    )
}

@Suite struct CaseServiceTests {
    @Test func commandsAreDecidedAppendedAndFoldedWithTheActorInMetadata() throws {
        let f = try Fixture()
        defer { f.close() }
        let now = pacific("2024-03-01", 9)
        try f.service.execute(.openCase(f.opened("c1")), on: "c1", actor: f.alice, commandId: UUID(), now: now)
        let outcome = try f.service.execute(
            .receiveRFA(Fixture.rfa),
            on: "c1",
            actor: f.alice,
            commandId: UUID(),
            correlationId: "req-7",
            now: now
        )
        #expect(outcome.version == 2)
        #expect(outcome.eventTypes == ["RFAReceived"])
        let state = try f.service.state(of: "c1")
        #expect(state.items.map(\.id) == ["1", "2"])
        let history = try f.service.history(of: "c1")
        #expect(history.map { $0.metadata.actor } == ["uid:1000 alice", "uid:1000 alice"])
        #expect(history[1].metadata.correlationId == "req-7")
        #expect(history[1].metadata.commandId != nil)
    }

    @Test func aRetriedCommandIdWritesNothingAndReturnsTheFirstOutcome() throws {
        let f = try Fixture()
        defer { f.close() }
        let now = pacific("2024-03-01", 9)
        let id = UUID()
        let first = try f.service.execute(.openCase(f.opened("c1")), on: "c1", actor: f.alice, commandId: id, now: now)
        let again = try f.service.execute(.openCase(f.opened("c1")), on: "c1", actor: f.alice, commandId: id, now: now)
        #expect(again.wasAlreadyRecorded)
        #expect(again.positions == first.positions)
        #expect(try f.store.headPosition() == 1)
        // A new command id for the same fact is a second open, which the lifecycle refuses.
        #expect(throws: CaseServiceError.self) {
            try f.service.execute(.openCase(f.opened("c1")), on: "c1", actor: f.alice, commandId: UUID(), now: now)
        }
    }

    /// A command sent without an id gets one made here, time-ordered: its events' ids keep
    /// that order (the log's index on event ids grows at its end) and carry no digest, since
    /// nobody can send it again; a named id keeps the ids derived from it and its digest.
    @Test func aCommandWithoutAnIdGetsTimeOrderedIds_aNamedOneKeepsItsDerivedIds() throws {
        let f = try Fixture()
        defer { f.close() }
        let first = pacific("2024-03-01", 9)
        let later = first.addingTimeInterval(3_600)
        let opened = try f.service.execute(
            .openCase(f.opened("c1")),
            on: "c1",
            actor: f.alice,
            commandId: nil,
            now: first
        )
        let rfa = try f.service.execute(.receiveRFA(Fixture.rfa), on: "c1", actor: f.alice, commandId: nil, now: later)
        let named = UUID.random()
        let note = try f.service.execute(.addNote("called"), on: "c1", actor: f.alice, commandId: named, now: later)
        let history = try f.service.history(of: "c1")
        #expect(history.count == 3)
        for (outcome, event, at) in [(opened, history[0], first), (rfa, history[1], later)] {
            #expect(outcome.commandId.uuid.6 >> 4 == 7)
            #expect(event.metadata.commandId == outcome.commandId.lowercasedText)
            #expect(event.metadata.extras[CaseService.commandDigestKey] == nil)
            // Version 7, the command id's 48-bit milliseconds first.
            #expect(event.id.uuid.6 >> 4 == 7)
            #expect(event.id.uuid.8 >> 6 == 0b10)
            #expect(event.id.lowercasedText.prefix(13) == outcome.commandId.lowercasedText.prefix(13))
            #expect(event.id == CaseService.eventId(madeCommandId: outcome.commandId, index: 0))
            let millis = UInt64(at.timeIntervalSince1970 * 1000)
            #expect(
                event.id.lowercasedText.replacingOccurrences(of: "-", with: "").prefix(12)
                    == String(format: "%012llx", millis)
            )
        }
        #expect(history[0].id.lowercasedText < history[1].id.lowercasedText)
        #expect(note.commandId == named)
        #expect(history[2].id == CaseService.eventId(commandId: named, index: 0))
        #expect(history[2].metadata.extras[CaseService.commandDigestKey] != nil)
        let again = try f.service.execute(.addNote("called"), on: "c1", actor: f.alice, commandId: named, now: later)
        #expect(again.wasAlreadyRecorded && again.positions == note.positions && again.commandId == named)
        // A made id sent back (it is in the history) is an id already used, whatever the command.
        for command in [CaseCommand.receiveRFA(Fixture.rfa), .addNote("sent back")] {
            #expect {
                try f.service.execute(command, on: "c1", actor: f.alice, commandId: rfa.commandId, now: later)
            } throws: { error in
                guard case .commandIdReused(let reuse) = error as? CaseServiceError else { return false }
                return reuse.commandId == rfa.commandId && reuse.positions == rfa.positions
            }
        }
        #expect(try f.service.history(of: "c1").count == 3)
    }

    @Test func refusalsAndUnknownCasesAreTypedAndWriteNothing() throws {
        let f = try Fixture()
        defer { f.close() }
        let now = pacific("2024-03-01", 9)
        do {
            try f.service.execute(.receiveRFA(Fixture.rfa), on: "nope", actor: f.alice, commandId: UUID(), now: now)
            Issue.record("a command on a missing case must fail")
        } catch {
            guard case .caseNotFound(let id) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(id == "nope")
        }
        try f.service.execute(.openCase(f.opened("c1")), on: "c1", actor: f.alice, commandId: UUID(), now: now)
        try f.service.execute(.receiveRFA(Fixture.rfa), on: "c1", actor: f.alice, commandId: UUID(), now: now)
        let approve = URDecisionIssued(
            rfaId: "A",
            decidedAt: pacific("2024-02-28", 9),
            decisions: [
                URItemDecision(itemId: "1", outcome: .approved), URItemDecision(itemId: "2", outcome: .approved),
            ]
        )
        try f.service.execute(.issueURDecision(approve), on: "c1", actor: f.alice, commandId: UUID(), now: now)
        let head = try f.store.headPosition()
        do {
            try f.service.execute(
                .receiveIMRApplication(
                    IMRApplicationReceived(itemIds: ["2"], receivedOn: LocalDate(iso: "2024-03-01")!)
                ),
                on: "c1",
                actor: f.alice,
                commandId: UUID(),
                now: now
            )
            Issue.record("an IMR application for an approved item must be refused")
        } catch {
            guard case .refused(let violation) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(violation.message.contains("item 2"))
        }
        #expect(try f.store.headPosition() == head)
    }

    @Test func concurrentCommandsOnOneCaseAllLandWithoutConflict() async throws {
        let f = try Fixture()
        defer { f.close() }
        let now = pacific("2024-03-01", 9)
        try await f.service.execute(.openCase(f.opened("c1")), on: "c1", actor: f.alice, commandId: UUID(), now: now)
        let service = f.service
        // The writer decides each on the state the one before it left (in one group or the
        // next): no command of the case is refused as a concurrent update.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<32 {
                group.addTask {
                    try await service.execute(
                        .addNote("note \(i)"),
                        on: "c1",
                        actor: Actor(uid: 1000, name: "alice"),
                        commandId: UUID(),
                        now: now
                    )
                }
            }
            // A synchronous writer on another thread meanwhile takes the same lock.
            group.addTask {
                try service.execute(
                    .addNote("sync"),
                    on: "c1",
                    actor: Actor(uid: 1000, name: "alice"),
                    commandId: UUID(),
                    now: now
                )
            }
            try await group.waitForAll()
        }
        let state = try await f.service.state(of: "c1")
        #expect(state.notes.count == 33)
        #expect(try await f.store.version(of: "case-c1") == 34)
        // The cached state equals a fold of the stream.
        await #expect(state == (try CaseStreams.fold(f.store.read(stream: "case-c1"))))
        await #expect(try f.store.verify().isIntact)
    }

    /// Commands decided ahead of the writer (on the cached state, with the deadline rows worked
    /// out in the caller's task) leave the same read models as a rebuild from the log, also when
    /// several commands race on one case and the writer must decide some of them again.
    @Test func commandsDecidedAheadLeaveReadModelsEqualToARebuild() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-ahead-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let models = ReadModels.standard()
        let store = try EventStore(
            path: dir.appendingPathComponent("imr.sqlite").path,
            options: .init(synchronous: .normal),
            projections: models.all
        )
        defer { store.close() }
        let service = CaseService(store: store, deadlines: models.deadlines)
        let f = try Fixture()
        defer { f.close() }
        let now = pacific("2024-02-27", 9)
        let alice = f.alice
        let ids = (1...12).map { "c\($0)" }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for id in ids {
                let opened = f.opened(id, coordinator: ["maria", "li"][id.count % 2])
                group.addTask {
                    try await service.execute(
                        .openCase(opened),
                        on: CaseID(id),
                        actor: alice,
                        commandId: UUID(),
                        now: now
                    )
                    try await service.execute(
                        .receiveRFA(Fixture.rfa),
                        on: CaseID(id),
                        actor: alice,
                        commandId: UUID(),
                        now: now
                    )
                    let decision = URDecisionIssued(
                        rfaId: "A",
                        decidedAt: pacific("2024-02-28", 9),
                        decisions: [
                            URItemDecision(itemId: "1", outcome: .approved),
                            URItemDecision(itemId: "2", outcome: .denied),
                        ]
                    )
                    try await service.execute(
                        .issueURDecision(decision),
                        on: CaseID(id),
                        actor: alice,
                        commandId: UUID(),
                        now: pacific("2024-02-28", 9)
                    )
                }
            }
            // Notes racing on one case: a note decided ahead on a state another one changed
            // meanwhile is decided again by the writer, never appended at the stale version.
            for n in 0..<16 {
                group.addTask {
                    try await Task.sleep(for: .milliseconds(n % 4))
                    _ = try? await service.execute(
                        .addNote("note \(n)"),
                        on: "c1",
                        actor: alice,
                        commandId: UUID(),
                        now: now
                    )
                }
            }
            try await group.waitForAll()
        }
        // Alerts on the deadlines still running, then a case withdrawn: its alerts are not live.
        let raised = try AlertScheduler(store: store).raiseDue(now: pacific("2024-03-06", 9)).raised
        #expect(raised.contains { $0.caseId == "c2" })
        try await service.execute(
            .withdraw(CaseWithdrawn(withdrawnOn: LocalDate(iso: "2024-03-06")!, reason: "settled")),
            on: "c2",
            actor: alice,
            commandId: UUID(),
            now: pacific("2024-03-06", 10)
        )
        let liveness = try await store.read { db in
            try db.query("SELECT case_id = 'c2', is_live FROM alerts").map {
                "\($0[0].int64 ?? -1) \($0[1].int64 ?? -1)"
            }
        }
        #expect(Set(liveness) == ["0 1", "1 0"], "the withdrawn case's alerts dead, the others live")
        func snapshot() throws -> [[String]] {
            try store.read { db in
                try db.query(
                    "SELECT deadline_id, rule, party, coordinator, due_us, is_open, status, body FROM deadlines ORDER BY deadline_id"
                ).map { row in
                    (0..<8).map { "\(row[$0])" }
                } + db.query("SELECT * FROM case_list ORDER BY case_id").map { row in row.values.map { "\($0)" } }
                    + db.query("SELECT * FROM case_items ORDER BY case_id, item_id").map { row in
                        (0..<7).map { "\(row[$0])" }
                    } + db.query("SELECT * FROM alerts ORDER BY alert_id").map { row in (0..<15).map { "\(row[$0])" } }
                    // The counts the figures read (a rebuild sums them over each batch).
                    + db.query("SELECT * FROM case_counts ORDER BY stage, is_open").map { $0.values.map { "\($0)" } }
                    + db.query("SELECT * FROM case_item_figures WHERE count != 0 ORDER BY figure, value").map {
                        $0.values.map { "\($0)" }
                    }
                    + db.query("SELECT * FROM deadline_outcome_counts WHERE count != 0 ORDER BY rule, status").map {
                        $0.values.map { "\($0)" }
                    }
            }
        }
        let live = try snapshot()
        #expect(live.count > 12 * 3)
        for name in ["deadlines", "case_list", "case_items", "alerts"] {
            try await store.rebuildProjection(named: name)
        }
        #expect(try snapshot() == live)
        // Together, in batches of 3 events (cases cut between batches), their rows worked out
        // ahead on the rebuild's thread: the same rows.
        try await store.rebuildProjections(
            named: ["case_items", "deadlines", "case_list", "alerts"],
            batchSize: 3,
            progress: nil
        )
        #expect(try snapshot() == live)
        // Each open case's next deadline, worked out from the rows derived ahead (commands and
        // rebuild alike), is the one the deadlines table gives.
        let nexts = try await store.read { db in
            try db.query("SELECT case_id, next_due_us, next_rule FROM case_list WHERE is_open = 1").map { row in
                let fromTable = try db.query(CaseListProjection.nextDeadlineSQL, [row[0]]).first
                return ("\(row[1]) \(row[2])", fromTable.map { "\($0[0]) \($0[1])" } ?? "null null")
            }
        }
        #expect(nexts.count == 11 && nexts.allSatisfy { $0.0 == $0.1 }, "\(nexts)")
        #expect(nexts.contains { $0.0 != "null null" })
        let c1 = try await service.state(of: "c1")
        await #expect(c1 == (try CaseStreams.fold(store.read(stream: "case-c1"))))
        await #expect(try store.verify().isIntact)
    }

    @Test func theCaseListFollowsEveryAppendAndRebuildsToTheSameRows() throws {
        let f = try Fixture()
        defer { f.close() }
        let now = pacific("2024-03-01", 9)
        for (id, who) in [("c1", "maria"), ("c2", "li"), ("c3", "maria")] {
            try f.service.execute(
                .openCase(f.opened(id, coordinator: who)),
                on: CaseID(id),
                actor: f.alice,
                commandId: UUID(),
                now: now
            )
        }
        try f.service.execute(.receiveRFA(Fixture.rfa), on: "c2", actor: f.alice, commandId: UUID(), now: now)
        try f.service.execute(
            .withdraw(CaseWithdrawn(withdrawnOn: LocalDate(iso: "2024-03-01")!, reason: "settled")),
            on: "c3",
            actor: f.alice,
            commandId: UUID(),
            now: now
        )

        let all = try CaseListProjection.cases(in: f.store, matching: .init())
        #expect(all.map(\.caseId) == ["c1", "c2", "c3"])
        #expect(all.map(\.stage) == ["opened", "rfaReceived", "withdrawn"])
        #expect(
            try CaseListProjection.cases(in: f.store, matching: .init(open: true, coordinator: "maria")).map(\.caseId)
                == ["c1"]
        )
        #expect(try CaseListProjection.cases(in: f.store, matching: .init(claimNumber: "ADJ-c2")).map(\.items) == [2])

        try f.store.rebuildProjection(named: "case_list")
        #expect(try CaseListProjection.cases(in: f.store, matching: .init()) == all)
    }
}

/// Issue 11: a command id names one command.
@Suite struct CommandIdReuseTests {
    @Test func theSameCommandAgainIsIdempotent_aDifferentOneUnderItsIdIsRefusedNamingTheFirst() throws {
        let f = try Fixture()
        defer { f.close() }
        let now = pacific("2024-03-01", 9)
        let u = UUID()
        let first = try f.service.execute(.openCase(f.opened("c1")), on: "c1", actor: f.alice, commandId: u, now: now)
        let again = try f.service.execute(
            .openCase(f.opened("c1")),
            on: "c1",
            actor: f.alice,
            commandId: u,
            now: now.addingTimeInterval(60)
        )
        #expect(again.wasAlreadyRecorded)
        #expect(again.positions == first.positions)

        func reuse(_ body: () throws -> Any) -> CommandIdReuse? {
            guard case .failure(let error) = Result(catching: body),
                case .commandIdReused(let r)? = error as? CaseServiceError
            else { return nil }
            return r
        }
        let note = reuse {
            try f.service.execute(.addNote("lost before the fix"), on: "c1", actor: f.alice, commandId: u, now: now)
        }
        #expect(note == CommandIdReuse(commandId: u, caseId: "c1", eventTypes: ["CaseOpened"], positions: [1]))
        #expect(
            note?.message.contains("already used for a different command (CaseOpened on case 'c1', at position 1)")
                == true
        )
        let elsewhere = reuse {
            try f.service.execute(.openCase(f.opened("c2")), on: "c2", actor: f.alice, commandId: u, now: now)
        }
        #expect(elsewhere?.caseId == "c1")
        #expect(try f.store.headPosition() == 1)
        #expect(try f.service.state(of: "c1").notes.isEmpty)

        // A note retried with the same id is the same command, though it is stamped later.
        let n = UUID()
        try f.service.execute(.addNote("call back"), on: "c1", actor: f.alice, commandId: n, now: now)
        #expect(
            try f.service.execute(
                .addNote("call back"),
                on: "c1",
                actor: f.alice,
                commandId: n,
                now: now.addingTimeInterval(5)
            ).wasAlreadyRecorded
        )
        #expect(
            reuse { try f.service.execute(.addNote("call back!"), on: "c1", actor: f.alice, commandId: n, now: now) }?
                .positions == [2]
        )
    }

    @Test func aCaseIdTheLogCannotHoldIsRefusedBeforeAnythingIsRead() throws {
        let f = try Fixture()
        defer { f.close() }
        do {
            try f.service.execute(
                .openCase(f.opened("A\u{0}B")),
                on: "A\u{0}B",
                actor: f.alice,
                commandId: UUID(),
                now: Date()
            )
            Issue.record("accepted a NUL")
        } catch {
            guard case .invalidValue(let invalid) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(invalid.field == "caseId")
        }
        #expect(try f.store.headPosition() == 0)
        do {
            try f.service.execute(.addNote("x"), on: "OK-1\u{0}zzz", actor: f.alice, commandId: UUID(), now: Date())
            Issue.record("accepted a NUL")
        } catch {
            guard case .invalidValue(let invalid) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(invalid.field == "caseId")
        }
    }

    @Test func aCaseRecordedBeforeTheSetWasEnforcedStillTakesCommands() throws {
        let f = try Fixture()
        defer { f.close() }
        // As an older imr wrote it: a space in the case id.
        let legacy = try CaseEventCodec.encode(.caseOpened(f.opened("C 1001")))
        try f.store.append(
            to: CaseStreams.streamId("C 1001"),
            expected: .noStream,
            events: [
                NewEvent(type: legacy.type, schemaVersion: legacy.schemaVersion, payload: legacy.payload)
            ]
        )
        let noted = try f.service.execute(
            .addNote("still works"),
            on: "C 1001",
            actor: f.alice,
            commandId: UUID(),
            now: Date()
        )
        #expect(noted.version == 2)
        // A new case cannot take such an id, and one that does not exist is named as invalid, not missing.
        func invalid(_ body: () throws -> Any) -> String? {
            guard case .failure(let error) = Result(catching: body),
                case .invalidValue(let v)? = error as? CaseServiceError
            else { return nil }
            return v.field
        }
        #expect(
            invalid {
                try f.service.execute(
                    .openCase(f.opened("C 1002")),
                    on: "C 1002",
                    actor: f.alice,
                    commandId: UUID(),
                    now: Date()
                )
            } == "caseId"
        )
        #expect(
            invalid {
                try f.service.execute(.addNote("x"), on: "C 1003", actor: f.alice, commandId: UUID(), now: Date())
            } == "caseId"
        )
    }
}
