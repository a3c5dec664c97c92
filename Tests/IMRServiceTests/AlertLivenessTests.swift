import EventStore
import Foundation
import Testing
@testable import IMRService
@testable import Workflow

private func pacific(_ iso: String, _ hour: Int, _ minute: Int = 0) -> Date {
    Pacific.instant(LocalDate(iso: iso)!, hour: hour, minute: minute)
}

/// Issue 13: whether an alert is live (its deadline running, no higher level of it raised) is
/// stored, and the open alerts' indexes hold the live, unacknowledged alerts only; the column
/// is what the deadlines and the alerts read models give however the log reaches them.
@Suite struct AlertLivenessTests {
    /// The open alerts' indexes (partial on live, unacknowledged alerts).
    static let openIndexes = [
        "alerts_open_position", "alerts_coordinator_open", "alerts_open_due", "alerts_coordinator_due",
        "alerts_rule_due", "alerts_level_due", "alerts_case_open",
    ]

    /// The levels of the deadline's alerts, each with whether it is live.
    static func liveness(_ store: EventStore, of deadlineId: String = AlertFixture.decisionId) throws -> [String: Bool]
    {
        try store.read { db in
            try db.query("SELECT level, is_live FROM alerts WHERE deadline_id = ?", [.text(deadlineId)])
        }.reduce(into: [:]) { $0[$1[0].string ?? ""] = $1[1].int64 == 1 }
    }

    /// How many entries an index holds: the cells of its b-tree (an index keeps entries in its
    /// interior pages too), as SQLite's `dbstat` counts them, whatever a query would let through.
    static func entries(of index: String, in store: EventStore) throws -> Int64 {
        try store.read { db in
            try db.query("SELECT COUNT(*), COALESCE(SUM(ncell), 0) FROM dbstat WHERE name = ?", [.text(index)])
        }.first.map { $0[0].int64 == 0 ? -1 : $0[1].int64 ?? -1 } ?? -1
    }

    /// Whether the deadline runs, as the deadlines read model has it.
    static func runs(_ store: EventStore, _ deadlineId: String = AlertFixture.decisionId) throws -> Bool {
        try store.read { db in
            try db.query("SELECT is_open FROM deadlines WHERE deadline_id = ?", [.text(deadlineId)]).first?[0].int64
        } == 1
    }

    /// Records `event` on its alert's stream.
    static func record(_ event: AlertEvent, of id: UUID, in store: EventStore) throws {
        let stream = AlertStreams.streamId(id)
        try store.append(
            to: stream,
            expected: .exact(try store.version(of: stream)),
            events: [
                NewEvent(
                    type: event.typeName,
                    schemaVersion: AlertEventCodec.schemaVersion,
                    payload: try AlertEventCodec.encode(event)
                )
            ]
        )
    }

    static func decide(_ f: AlertFixture, _ caseId: CaseID = "c1", at now: Date) throws {
        try f.service.execute(
            .issueURDecision(
                URDecisionIssued(
                    rfaId: "A",
                    decidedAt: now,
                    decisions: [URItemDecision(itemId: "1", outcome: .approved, authorizedPortion: nil)]
                )
            ),
            on: caseId,
            actor: f.actor,
            commandId: UUID(),
            now: now
        )
    }

    /// Corrects the review type of the case's RFA (its second event), which picks its UR
    /// decision rule: another rule's deadline replaces the one that ran.
    static func correctReview(_ f: AlertFixture, _ caseId: CaseID = "c1", to type: ReviewType, at now: Date) throws {
        try f.service.execute(
            .correct(
                CorrectEvent(version: 2, field: .reviewType, value: .text(type.rawValue), reason: "read the RFA again")
            ),
            on: caseId,
            actor: f.actor,
            commandId: UUID(),
            now: now
        )
    }

    @Test func aHigherLevelSupersedesAnAlert_andItsDeadlineMetEndsTheRest() throws {
        let f = try AlertFixture()
        defer { f.close() }
        let scheduler = AlertScheduler(store: f.store)
        try scheduler.raiseDue(now: pacific("2024-03-07", 9))
        #expect(try Self.liveness(f.store) == ["reminder": true])
        try scheduler.raiseDue(now: pacific("2024-03-11", 9))
        #expect(try Self.liveness(f.store) == ["reminder": false, "due-today": true])
        try Self.decide(f, at: pacific("2024-03-11", 10))
        #expect(try !Self.runs(f.store))
        #expect(try Self.liveness(f.store) == ["reminder": false, "due-today": false])
        // The open list says the same as before the column: nothing of the met deadline.
        #expect(
            try AlertProjection.open(in: f.store, now: pacific("2024-03-11", 10)).filter {
                $0.deadlineId == AlertFixture.decisionId
            }.isEmpty
        )
    }

    /// UR deferred (a liability dispute) or the case withdrawn: the decision's clock no longer
    /// runs, and its alert is not live.
    @Test(arguments: ["deferred", "withdrawn"])
    func aDeadlineCancelled_endsItsAlerts(by how: String) throws {
        let f = try AlertFixture()
        defer { f.close() }
        try AlertScheduler(store: f.store).raiseDue(now: pacific("2024-03-07", 9))
        #expect(try Self.liveness(f.store) == ["reminder": true])
        let day = LocalDate(iso: "2024-03-07")!
        try f.service.execute(
            how == "deferred"
                ? .deferUR(URDeferred(rfaId: "A", deferredOn: day, liabilityDispute: "AOE/COE"))
                : .withdraw(CaseWithdrawn(withdrawnOn: day, reason: "settled")),
            on: "c1",
            actor: f.actor,
            commandId: UUID(),
            now: pacific("2024-03-07", 10)
        )
        #expect(try !Self.runs(f.store))
        #expect(try Self.liveness(f.store) == ["reminder": false])
    }

    /// A correction can make a deadline run again: its alerts are live again, except those a
    /// higher level superseded meanwhile (as the open list read them before the column).
    @Test func aDeadlineCorrectedBackToRunning_bringsBackItsAlertsNotSuperseded() throws {
        let f = try AlertFixture()
        defer { f.close() }
        let scheduler = AlertScheduler(store: f.store)
        try scheduler.raiseDue(now: pacific("2024-03-07", 9))
        try scheduler.raiseDue(now: pacific("2024-03-11", 9))
        #expect(try Self.liveness(f.store) == ["reminder": false, "due-today": true])
        try Self.correctReview(f, to: .retrospective, at: pacific("2024-03-11", 9, 30))
        #expect(try !Self.runs(f.store), "the prospective decision's deadline is replaced")
        #expect(try Self.liveness(f.store) == ["reminder": false, "due-today": false])
        try Self.correctReview(f, to: .prospective, at: pacific("2024-03-11", 9, 45))
        #expect(try Self.runs(f.store), "the prospective decision's deadline runs again")
        #expect(try Self.liveness(f.store) == ["reminder": false, "due-today": true])
        #expect(
            try AlertProjection.open(in: f.store, now: pacific("2024-03-11", 10)).filter {
                $0.deadlineId == AlertFixture.decisionId
            }.map(\.level) == ["due-today"]
        )
    }

    /// Alerts of settled or superseded deadlines, and alerts a higher level superseded, are not
    /// in the open alerts' indexes (never acknowledged, they used to stay there for good).
    @Test func deadAlertsAreNotInTheOpenIndexes() throws {
        let f = try AlertLivenessRebuildTests.caseload()
        defer { f.close() }
        func count(_ condition: String) throws -> Int64 {
            try f.store.read { try $0.query("SELECT COUNT(*) FROM alerts WHERE " + condition) }.first?[0].int64 ?? -1
        }
        // c4's overdue alert snoozed (live); the caseload snoozed a reminder superseded since.
        let overdue = try #require(
            try f.store.read { db in
                try db.query(
                    "SELECT alert_id FROM alerts WHERE deadline_id = 'c4/ur.decision.prospective/A' AND level = 'overdue'"
                ).first?[0].string.flatMap(UUID.init(uuidString:))
            }
        )
        try Self.record(
            .snoozed(
                AlertSnoozed(alertId: overdue, until: pacific("2024-03-13", 9), by: "li", at: pacific("2024-03-12", 9))
            ),
            of: overdue,
            in: f.store
        )
        let unacknowledged = try count("acknowledged_us IS NULL")
        let open = try count("acknowledged_us IS NULL AND is_live = 1")
        // c1's two (met), c2's two superseded, c3's two (deferred), c4's two superseded; one of
        // them (a reminder) acknowledged.
        #expect(unacknowledged - open == 7)
        #expect(open == 3, "c2's and c4's overdue alerts, and the reminder to notify c1's physician")
        for index in Self.openIndexes {
            #expect(try Self.entries(of: index, in: f.store) == open, "\(index)")
        }
        #expect(try count("acknowledged_us IS NULL AND snoozed_until_us IS NOT NULL") == 2)
        #expect(try Self.entries(of: "alerts_snoozed", in: f.store) == 1, "c4's overdue alert only")
        // Every alert is still kept (its deadline's alerts, an alert asked for by its id).
        #expect(try count("1") == unacknowledged + 1)
        // c4's deadline replaced by a correction: its alert leaves the indexes too.
        try Self.correctReview(f, "c4", to: .retrospective, at: pacific("2024-03-12", 10))
        #expect(try count("acknowledged_us IS NULL AND is_live = 1") == open - 1)
        for index in Self.openIndexes + ["alerts_snoozed"] {
            #expect(try Self.entries(of: index, in: f.store) == (index == "alerts_snoozed" ? 0 : open - 1), "\(index)")
        }
    }
}

/// The alerts read model equals the one the appends built, whatever order the two read models
/// are given the log in: rebuilt alone or with the deadlines, caught up in position order, and
/// with commands and alerts appended while one of them is being rebuilt.
@Suite struct AlertLivenessRebuildTests {
    /// Every column of every alert, and each deadline's running flag.
    static func snapshot(_ store: EventStore) throws -> [String] {
        try store.read { db in
            try db.query("SELECT * FROM alerts ORDER BY alert_id").map { row in
                (0..<15).map { "\(row[$0])" }.joined(separator: "|")
            } + db.query("SELECT deadline_id, is_open FROM deadlines ORDER BY deadline_id").map { "\($0[0]) \($0[1])" }
        }
    }

    /// Four cases whose alerts end every way: c1's deadline met, c2's corrected away and back
    /// (its overdue alert raised after), c3's UR deferred, c4's running (overdue); alerts
    /// superseded, one acknowledged, one snoozed.
    static func caseload() throws -> AlertFixture {
        let f = try AlertFixture()
        for (id, coordinator) in [("c2", "li"), ("c3", "maria"), ("c4", "li")] {
            try f.openCase(CaseID(id), claimNumber: "ADJ-\(id)", coordinator: coordinator)
        }
        let scheduler = AlertScheduler(store: f.store)
        let first = try scheduler.raiseDue(now: pacific("2024-03-07", 9)).raised
        try #require(first.count >= 3)
        try AlertLivenessTests.record(
            .acknowledged(AlertAcknowledged(alertId: first[0].alertId, by: "maria", at: pacific("2024-03-07", 9))),
            of: first[0].alertId,
            in: f.store
        )
        try AlertLivenessTests.record(
            .snoozed(
                AlertSnoozed(
                    alertId: first[1].alertId,
                    until: pacific("2024-03-08", 9),
                    by: "li",
                    at: pacific("2024-03-07", 9)
                )
            ),
            of: first[1].alertId,
            in: f.store
        )
        try scheduler.raiseDue(now: pacific("2024-03-11", 9))
        try AlertLivenessTests.decide(f, "c1", at: pacific("2024-03-11", 10))
        try AlertLivenessTests.correctReview(f, "c2", to: .retrospective, at: pacific("2024-03-11", 10))
        try AlertLivenessTests.correctReview(f, "c2", to: .prospective, at: pacific("2024-03-11", 11))
        try f.service.execute(
            .deferUR(URDeferred(rfaId: "A", deferredOn: LocalDate(iso: "2024-03-11")!, liabilityDispute: "AOE/COE")),
            on: "c3",
            actor: f.actor,
            commandId: UUID(),
            now: pacific("2024-03-11", 11)
        )
        try scheduler.raiseDue(now: pacific("2024-03-12", 9))
        return f
    }

    /// What each case's UR decision alerts end as.
    static func expectEndings(_ store: EventStore) throws {
        let levels: [String: Bool] = ["reminder": false, "due-today": false]
        #expect(try AlertLivenessTests.liveness(store) == levels)
        #expect(
            try AlertLivenessTests.liveness(store, of: "c2/ur.decision.prospective/A")
                == levels.merging(["overdue": true]) { $1 }
        )
        #expect(try AlertLivenessTests.liveness(store, of: "c3/ur.decision.prospective/A") == levels)
        #expect(
            try AlertLivenessTests.liveness(store, of: "c4/ur.decision.prospective/A")
                == levels.merging(["overdue": true]) { $1 }
        )
    }

    @Test func rebuiltAlone_withTheDeadlines_orCaughtUp_theAlertsAreThoseTheAppendsGave() throws {
        let f = try Self.caseload()
        defer { f.close() }
        try Self.expectEndings(f.store)
        let live = try Self.snapshot(f.store)
        // A rebuild pass reads alert streams before case streams: alone (the deadlines read model
        // complete), the deadlines alone (the alerts complete), and both together in short batches.
        try f.store.rebuildProjection(named: "alerts")
        #expect(try Self.snapshot(f.store) == live)
        try f.store.rebuildProjection(named: "deadlines")
        #expect(try Self.snapshot(f.store) == live)
        try f.store.rebuildProjections(named: ["deadlines", "alerts"], batchSize: 3, progress: nil)
        #expect(try Self.snapshot(f.store) == live)
        // Caught up in position order from the first event: the alerts alone, then both.
        var store = f.store
        for (names, tables) in [
            (["alerts"], "DELETE FROM alerts;"),
            (["deadlines", "alerts"], "DELETE FROM alerts; DELETE FROM deadlines; DELETE FROM deadline_alerts;"),
        ] {
            let list = names.map { "'\($0)'" }.joined(separator: ", ")
            try store.write { context in
                try context.database.executeScript(
                    tables + " UPDATE projection_checkpoints SET position = 0 WHERE name IN (\(list));"
                )
            }
            store.close()
            store = try EventStore(
                path: f.path,
                options: .init(synchronous: .normal),
                projections: AlertFixture.projections()
            )
            #expect(try Self.snapshot(store) == live, "\(names)")
            try Self.expectEndings(store)
        }
        store.close()
    }

    /// A store whose deadlines and alerts read models are both of older versions (its alerts
    /// table without `is_live`) opens, and rebuilds both to what the appends gave: with the
    /// fixture's read models, and with the daemon's (whose deadlines know the alerts are there).
    @Test(arguments: [false, true]) func aStoreWithOlderDeadlinesAndAlerts_opensAndRebuildsBoth(daemons: Bool) throws {
        let f = try Self.caseload()
        defer { f.close() }
        let live = try Self.snapshot(f.store)
        try f.store.write { context in
            try context.database.executeScript(
                """
                DROP TABLE alerts;
                CREATE TABLE alerts (
                    alert_id TEXT PRIMARY KEY, deadline_id TEXT NOT NULL, case_id TEXT NOT NULL, rule TEXT NOT NULL,
                    level TEXT NOT NULL, due_us INTEGER NOT NULL, scheduled_us INTEGER NOT NULL,
                    raised_us INTEGER NOT NULL, late INTEGER NOT NULL, coordinator TEXT NOT NULL, acknowledged_by TEXT,
                    acknowledged_us INTEGER, snoozed_until_us INTEGER, position INTEGER NOT NULL
                );
                UPDATE projection_checkpoints SET version = version - 1 WHERE name IN ('deadlines', 'alerts');
                """
            )
        }
        f.store.close()
        let reopened = try EventStore(
            path: f.path,
            options: .init(synchronous: .normal),
            projections: daemons ? ReadModels.all() : AlertFixture.projections()
        )
        defer { reopened.close() }
        #expect(try Self.snapshot(reopened) == live)
    }

    /// An alert of the fixture's UR decision deadline, raised by hand with the id given.
    static func raised(_ id: UUID, _ level: AlertLevel, deadlineId: String = AlertFixture.decisionId) -> AlertRaised {
        AlertRaised(
            alertId: id,
            caseId: "c1",
            rule: .urDecisionProspective,
            deadlineId: deadlineId,
            level: level,
            due: pacific("2024-03-11", 17),
            scheduledAt: pacific("2024-03-07", 8),
            raisedAt: pacific("2024-03-07", 8),
            late: false,
            coordinator: "maria"
        )
    }

    /// A rebuild pass applies the alert streams in id order, not in the order the alerts were
    /// raised: a lower level applied after a higher one of its deadline is superseded from the
    /// start.
    @Test func aLowerLevelAppliedAfterAHigherOne_isSupersededFromTheStart() throws {
        let f = try AlertFixture()
        defer { f.close() }
        try appendRaised(Self.raised(UUID(uuidString: "ffffffff-0000-4000-8000-000000000000")!, .notice), to: f.store)
        #expect(try AlertLivenessTests.liveness(f.store) == ["notice": true])
        try appendRaised(Self.raised(UUID(uuidString: "00000000-0000-4000-8000-000000000000")!, .overdue), to: f.store)
        #expect(try AlertLivenessTests.liveness(f.store) == ["notice": false, "overdue": true])
        let live = try Self.snapshot(f.store)
        try f.store.rebuildProjection(named: "alerts")
        #expect(try Self.snapshot(f.store) == live)
    }

    /// A deadline the rebuilt deadlines read model no longer has (as after a version of it that
    /// names deadlines otherwise): its alerts are not live once it is rebuilt.
    @Test func aDeadlineGoneFromTheRebuiltDeadlines_leavesNoLiveAlert() throws {
        let f = try AlertFixture()
        defer { f.close() }
        let gone = "c1/ur.decision.prospective/an-older-name"
        try f.store.write { context in
            try context.database.execute(
                """
                INSERT INTO deadlines (deadline_id, case_id, rule, party, coordinator, due_us, is_open, status, body, alert_plan)
                VALUES (?, 'c1', 'ur.decision.prospective', 'claims-administrator', 'maria', 0, 1, 'pending', '{}', '')
                """,
                [.text(gone)]
            )
        }
        try appendRaised(Self.raised(UUID(), .overdue, deadlineId: gone), to: f.store)
        #expect(try AlertLivenessTests.liveness(f.store, of: gone) == ["overdue": true])
        try f.store.rebuildProjection(named: "deadlines")
        #expect(try !AlertLivenessTests.runs(f.store, gone))
        #expect(try AlertLivenessTests.liveness(f.store, of: gone) == ["overdue": false])
        let afterwards = try Self.snapshot(f.store)
        try f.store.rebuildProjections(named: ["deadlines", "alerts"], batchSize: 1000, progress: nil)
        #expect(try Self.snapshot(f.store) == afterwards)
    }

    /// Commands and alerts appended while the deadlines read model (or the alerts', or both) is
    /// rebuilt: the appends reach the read models not being rebuilt at once and the others after
    /// the pass. An alert raised for a deadline whose row the pass has not written yet (c4's), and
    /// a deadline met in a case the pass wrote before (c2's): the alerts a rebuild of both gives.
    @Test(arguments: [["deadlines"], ["alerts"], ["deadlines", "alerts"]])
    func appendsDuringARebuild_leaveTheAlertsARebuildGives(rebuilt: [String]) throws {
        let f = try Self.caseload()
        defer { f.close() }
        // The pass reads the log stream by stream: the alert streams, then c1's, c2's, c3's, c4's.
        let log = try f.store.readAll(from: 1, limit: 100_000)
        let alertEvents = log.filter { $0.streamId.hasPrefix(AlertStreams.prefix) }.count
        let throughC2 = alertEvents + log.filter { ["case-c1", "case-c2"].contains($0.streamId) }.count
        try #require(alertEvents >= 2 && log.filter { $0.streamId == "case-c4" }.count >= 2)
        var applied = 0
        var appended: [String] = []
        var failure: (any Error)?
        let raisedMeanwhile = UUID()
        try f.store.rebuildProjections(named: rebuilt, batchSize: 2) { step in
            // Only between the pass's batches (the writer is free then; after the pass the
            // catch-up reports from inside its transaction).
            guard step.rebuilding, step.indexCreated == nil, failure == nil else { return }
            applied += step.applied
            do {
                if appended.isEmpty, applied <= alertEvents {
                    // An overdue alert of c4's deadline again (as a second scheduler might).
                    try appendRaised(
                        AlertRaised(
                            alertId: raisedMeanwhile,
                            caseId: "c4",
                            rule: .urDecisionProspective,
                            deadlineId: "c4/ur.decision.prospective/A",
                            level: .overdue,
                            due: pacific("2024-03-11", 17),
                            scheduledAt: pacific("2024-03-12", 0),
                            raisedAt: pacific("2024-03-12", 10),
                            late: true,
                            coordinator: "li"
                        ),
                        to: f.store
                    )
                    appended.append("alert")
                } else if appended == ["alert"], applied >= throughC2 {
                    try AlertLivenessTests.decide(f, "c2", at: pacific("2024-03-12", 11))
                    appended.append("decision")
                }
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        #expect(appended == ["alert", "decision"], "\(applied) events")
        #expect(
            try AlertLivenessTests.liveness(f.store, of: "c2/ur.decision.prospective/A")
                == ["reminder": false, "due-today": false, "overdue": false]
        )
        let c4 = try f.store.read { db in
            try db.query(
                "SELECT alert_id, level, is_live FROM alerts WHERE deadline_id = 'c4/ur.decision.prospective/A' ORDER BY position"
            ).map {
                "\($0[1].string ?? "") \($0[2].int64 ?? -1)"
                    + ($0[0].string == raisedMeanwhile.uuidString.lowercased() ? " *" : "")
            }
        }
        #expect(c4 == ["reminder 0", "due-today 0", "overdue 1", "overdue 1 *"])
        let afterwards = try Self.snapshot(f.store)
        try f.store.rebuildProjections(named: ["deadlines", "alerts"], batchSize: 1000, progress: nil)
        #expect(try Self.snapshot(f.store) == afterwards)
    }
}
