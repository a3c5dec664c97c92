import EventStore
import Foundation
import IMRWire
import Synchronization
import TestSupport
import Testing
import Varlink
@testable import IMRService
@testable import Workflow

private func pacific(_ iso: String, _ hour: Int, _ minute: Int = 0, _ second: Int = 0) -> Date {
    Pacific.instant(LocalDate(iso: iso)!, hour: hour, minute: minute, second: second)
}

/// A wall clock a test sets and moves.
final class TestClock: Sendable {
    private let now: Mutex<Date>
    init(_ start: Date) { now = Mutex(start) }
    func set(_ date: Date) { now.withLock { $0 = date } }
    func read() -> Date { now.withLock { $0 } }
}

/// A real SQLite event log in a fresh directory, with the daemon's projections, and one case
/// ("c1", coordinator maria) with a faxed prospective RFA received Monday 4 March 2024 10:00:
/// its UR decision is due Monday 11 March.
struct AlertFixture {
    let dir: URL
    let store: EventStore
    let service: CaseService
    let actor = Actor(uid: 1000, name: "maria")
    var path: String { dir.appendingPathComponent("imr.sqlite").path }
    static let decisionId = "c1/ur.decision.prospective/A"

    static func projections() -> [any Projection] { [CaseListProjection(), DeadlineProjection(), AlertProjection()] }

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("imr-alerts-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        store = try EventStore(
            path: dir.appendingPathComponent("imr.sqlite").path,
            options: .init(synchronous: .normal),
            projections: Self.projections()
        )
        service = CaseService(store: store)
        try openCase("c1", claimNumber: "ADJ-1", coordinator: "maria")
    }

    /// Opens a case as c1 is (injured 2 November 2023) with the same faxed prospective RFA "A"
    /// received Monday 4 March 2024 10:00 (both recorded at 10:30).
    func openCase(_ id: CaseID, claimNumber: String, coordinator: String) throws {
        try Self.openCase(id, claimNumber: claimNumber, coordinator: coordinator, with: service, actor: actor)
    }

    /// The same, through any store's case service.
    static func openCase(
        _ id: CaseID,
        claimNumber: String,
        coordinator: String,
        with service: CaseService,
        actor: Actor
    ) throws {
        let now = pacific("2024-03-04", 10, 30)
        try service.execute(
            .openCase(
                CaseOpened(
                    caseId: id,
                    claimNumber: claimNumber,
                    employer: "Acme",
                    claimsAdministrator: "Golden TPA",
                    injuredWorkerReference: "J.S.",
                    dateOfInjury: LocalDate(iso: "2023-11-02")!,
                    coordinator: coordinator
                )
            ),
            on: id,
            actor: actor,
            commandId: UUID(),
            now: now
        )
        try service.execute(
            .receiveRFA(
                RFAReceived(
                    rfaId: "A",
                    receivedAt: pacific("2024-03-04", 10),
                    transmission: .fax,
                    physician: "Dr. Lee",
                    treatmentRecommendedOn: nil,
                    reviewType: .prospective,
                    items: [RequestedItem(id: "1", description: "MRI lumbar spine")]
                )
            ),
            on: id,
            actor: actor,
            commandId: UUID(),
            now: now
        )
    }

    func close() {
        store.close()
        try? FileManager.default.removeItem(at: dir)
    }

    /// Every AlertRaised in the log, in log order.
    func raisedEvents(in store: EventStore? = nil) throws -> [AlertRaised] {
        try (store ?? self.store).readAll(from: 1, limit: 100_000).compactMap { event in
            if case .raised(let raised)? = try AlertStreams.decode(event) { return raised }
            return nil
        }
    }

    /// Every alert the policy gives the open deadlines that is due at `now`.
    /// Worked out from the running deadlines and the policy alone: for each deadline, the
    /// highest level due by `now` (the lower ones it supersedes are never owed).
    func expectedHighest(at now: Date, policy: AlertPolicy = .standard) throws -> Set<String> {
        let bodies = try store.read { db in
            try db.query("SELECT body FROM deadlines WHERE is_open = 1").compactMap { $0["body"].string }
        }
        var keys: Set<String> = []
        for body in bodies {
            let deadline = try WireFormat.decoder.decode(CaseDeadline.self, from: Data(body.utf8))
            if let top = policy.schedule(for: deadline, calculator: .init()).filter({ $0.at <= now }).max(by: {
                $0.level < $1.level
            }) {
                keys.insert("\(top.deadlineId)#\(top.level.rawValue)")
            }
        }
        return keys
    }

    /// The highest level raised so far for each deadline, from the log.
    func highestRaised() throws -> Set<String> {
        var top: [String: AlertRaised] = [:]
        for event in try raisedEvents() where top[event.deadlineId].map({ $0.level < event.level }) ?? true {
            top[event.deadlineId] = event
        }
        return Set(top.values.map(\.key))
    }
}

extension AlertRaised {
    var key: String { "\(deadlineId)#\(level.rawValue)" }
}

@Suite struct AlertSchedulerTests {
    @Test func anAlertIsRaisedOnceAtItsTime_byAnyNumberOfPassesAndRestarts() throws {
        let f = try AlertFixture()
        defer { f.close() }
        // Thursday 7 March 08:00 is two business days before the due day.
        let scheduler = AlertScheduler(store: f.store)
        let before = try scheduler.raiseDue(now: pacific("2024-03-07", 7, 59, 59))
        #expect(!before.raised.contains { $0.deadlineId == AlertFixture.decisionId })
        #expect(before.next != nil && before.next! <= pacific("2024-03-07", 8))
        let at = pacific("2024-03-07", 8, 0, 30)
        let pass = try scheduler.raiseDue(now: at)
        let reminder = try #require(pass.raised.first { $0.deadlineId == AlertFixture.decisionId })
        #expect(reminder.level == .reminder)
        #expect(reminder.scheduledAt == pacific("2024-03-07", 8))
        #expect(!reminder.late)
        #expect(reminder.coordinator == "maria")
        #expect(reminder.alertId == AlertStreams.alertId(deadlineId: AlertFixture.decisionId, level: .reminder))
        // Again, and from a second store on the same file (a restarted daemon): nothing new.
        #expect(try scheduler.raiseDue(now: at).raised.isEmpty)
        let reopened = try EventStore(
            path: f.path,
            options: .init(synchronous: .normal),
            projections: AlertFixture.projections()
        )
        #expect(try AlertScheduler(store: reopened).raiseDue(now: at.addingTimeInterval(60)).raised.isEmpty)
        reopened.close()
        let keys = try f.raisedEvents().map(\.key)
        #expect(keys.count == Set(keys).count)
        #expect(try f.highestRaised() == (try f.expectedHighest(at: at)))
    }

    @Test func racingSchedulersOnTwoConnections_stillRaiseEachAlertOnce() async throws {
        let f = try AlertFixture()
        defer { f.close() }
        let other = try EventStore(
            path: f.path,
            options: .init(synchronous: .normal),
            projections: AlertFixture.projections()
        )
        defer { other.close() }
        let now = pacific("2024-03-12", 9)
        let stores = [f.store, other, f.store, other]
        let counts = try await withThrowingTaskGroup(of: Int.self) { group in
            for store in stores {
                group.addTask {
                    try await offThePool { try AlertScheduler(store: store).raiseDue(now: now).raised.count }
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        let keys = try f.raisedEvents().map(\.key)
        #expect(!keys.isEmpty)
        #expect(keys.count == Set(keys).count)
        #expect(counts.reduce(0, +) == keys.count, "each alert is reported raised by exactly one scheduler")
    }

    /// An alert whose time had passed when its facts were recorded is marked late (it came
    /// after its time), but the daemon's lag is counted from the recording, not from the alert's
    /// time: an operator watching the lag sees the daemon's delay, not a coordinator's backlog
    /// of mail. A scheduler that has not yet covered the alert's time cannot tell the two apart.
    @Test func anAlertWhoseFactsWereRecordedAfterItsTime_lagsFromTheRecording() throws {
        let f = try AlertFixture()
        defer { f.close() }
        let scheduler = AlertScheduler(store: f.store)
        // The first pass, at start-up: c1's decision was due Monday, nothing had covered it.
        let first = pacific("2024-03-12", 9)
        let atStart = try scheduler.raiseDue(now: first)
        let c1 = try #require(atStart.raised.firstIndex { $0.deadlineId == AlertFixture.decisionId })
        #expect(atStart.raised[c1].level == .overdue && atStart.raised[c1].late)
        #expect(atStart.lags[c1] == first.timeIntervalSince(pacific("2024-03-12", 0)))
        // c2, with the same RFA of 4 March, recorded now: its alerts are as late, but the
        // daemon raised them at the next pass, 5 s after the one that had covered their time.
        try f.openCase("c2", claimNumber: "ADJ-2", coordinator: "maria")
        let second = pacific("2024-03-12", 9, 0, 5)
        let pass = try scheduler.raiseDue(now: second)
        let c2 = pass.raised.filter { $0.caseId == "c2" }
        #expect(c2.map(\.level) == [.overdue] && c2.allSatisfy(\.late))
        #expect(pass.lags == [5])
        #expect(pass.lags.allSatisfy { $0 <= scheduler.options.lateAfter })
        // The first commit since the covering pass began counts, when the scheduler heard one.
        let event = try #require(c2.first)
        let covered = AlertScheduler.Coverage(covered: first, firstCommit: first.addingTimeInterval(3))
        #expect(AlertScheduler.lag(of: event, now: second, coverage: covered) == 2)
        #expect(AlertScheduler.lag(of: event, now: second, coverage: .init(covered: first)) == 5)
        // Its time after the last covering pass: it lags from its time (the daemon was
        // stopped, or it could not raise it).
        let earlier = AlertScheduler.Coverage(covered: pacific("2024-03-11", 23), firstCommit: first)
        #expect(
            AlertScheduler.lag(of: event, now: second, coverage: earlier) == second.timeIntervalSince(event.scheduledAt)
        )
        #expect(
            AlertScheduler.lag(of: event, now: second, coverage: .init()) == second.timeIntervalSince(event.scheduledAt)
        )
    }

    /// Passes over a deadlines read model being rebuilt (an upgrade) cover nothing: the alerts
    /// they could not see were owed all along, so once it is rebuilt they lag from their time,
    /// late by the daemon, not by recording.
    @Test func passesDuringARebuildCoverNothing_soItsAlertsLagFromTheirTime() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-cover-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("imr.sqlite").path
        do {
            // A store whose deadlines read model was never built (as after an upgrade).
            let store = try EventStore(
                path: path,
                options: .init(synchronous: .normal),
                projections: [CaseListProjection()]
            )
            defer { store.close() }
            let service = CaseService(store: store)
            try AlertFixture.openCase(
                "c1",
                claimNumber: "ADJ-1",
                coordinator: "maria",
                with: service,
                actor: Actor(uid: 1000, name: "maria")
            )
        }
        let store = try EventStore(
            path: path,
            options: .init(synchronous: .normal, finishesRebuildsOnOpen: false),
            projections: AlertFixture.projections()
        )
        defer { store.close() }
        #expect(store.rebuildsInProgress()["deadlines"] != nil)
        let scheduler = AlertScheduler(store: store)
        let during = pacific("2024-03-12", 9)
        #expect(try scheduler.raiseDue(now: during).raised.isEmpty, "no deadline rebuilt yet")
        try store.finishRebuilds { _ in }
        #expect(store.rebuildsInProgress().isEmpty)
        let after = pacific("2024-03-12", 9, 0, 5)
        let pass = try scheduler.raiseDue(now: after)
        let decision = try #require(pass.raised.firstIndex { $0.deadlineId == AlertFixture.decisionId })
        #expect(pass.raised[decision].level == .overdue)
        #expect(pass.lags[decision] == after.timeIntervalSince(pass.raised[decision].scheduledAt))
        #expect(pass.lags.allSatisfy { $0 > scheduler.options.lateAfter })
    }

    @Test func afterAThreeDayGap_theMissedAlertsAreRaisedLate_inDueOrder() throws {
        let f = try AlertFixture()
        defer { f.close() }
        let scheduler = AlertScheduler(store: f.store)
        try scheduler.raiseDue(now: pacific("2024-03-06", 9))
        let seen = try f.raisedEvents().count
        // Down from Wednesday 6 March 09:00 to Tuesday 12 March 09:00.
        let back = pacific("2024-03-12", 9)
        let pass = try scheduler.raiseDue(now: back)
        let decision = pass.raised.filter { $0.deadlineId == AlertFixture.decisionId }
        // Reminder, due-today and overdue all came due meanwhile: overdue alone is raised, it
        // supersedes the others.
        #expect(decision.map(\.level) == [.overdue])
        #expect(decision.map(\.scheduledAt) == [pacific("2024-03-12", 0)])
        #expect(pass.raised.allSatisfy { $0.late && $0.raisedAt == back })
        // Their time passed while the daemon was down: each lags from it, late by the daemon.
        #expect(pass.lags == pass.raised.map { back.timeIntervalSince($0.scheduledAt) })
        #expect(pass.lags.allSatisfy { $0 > scheduler.options.lateAfter })
        #expect(pass.raised.map(\.scheduledAt) == pass.raised.map(\.scheduledAt).sorted(), "raised in due order")
        let logged = try f.raisedEvents()
        #expect(Array(logged.dropFirst(seen)) == pass.raised, "appended to the log in the same order")
        #expect(try f.highestRaised() == (try f.expectedHighest(at: back)))
    }

    /// An alert's event id comes from its deadline and level, so two stores (one process: tests,
    /// a restore's check) hold the same alert at the same position raised at other times: each
    /// store's event decodes as its own, whichever was decoded just before.
    @Test func theSameAlertInTwoStores_decodesAsEachStoresOwn() throws {
        let first = try AlertFixture()
        defer { first.close() }
        let second = try AlertFixture()
        defer { second.close() }
        let times = [pacific("2024-03-12", 9), pacific("2024-03-12", 9, 0, 5)]
        try AlertScheduler(store: first.store).raiseDue(now: times[0])
        try AlertScheduler(store: second.store).raiseDue(now: times[1])
        let events = try [first, second].map { f in
            try #require(f.store.readAll(from: 1, limit: 100_000).last { $0.streamId.hasPrefix(AlertStreams.prefix) })
        }
        #expect(events[0].id == events[1].id && events[0].position == events[1].position, "the same alert, in turn")
        for (event, time) in zip(events + events, times + times) {
            guard case .raised(let raised)? = try AlertStreams.decode(event) else {
                Issue.record("not an AlertRaised: \(event.type)")
                continue
            }
            #expect(raised.raisedAt == time)
        }
    }

    @Test func aDeadlineMetBeforeItsLeadTime_raisesNothingMore() throws {
        let f = try AlertFixture()
        defer { f.close() }
        let scheduler = AlertScheduler(store: f.store)
        try scheduler.raiseDue(now: pacific("2024-03-05", 9))
        // The UR decision is issued on Tuesday, before Thursday's reminder.
        try f.service.execute(
            .issueURDecision(
                URDecisionIssued(
                    rfaId: "A",
                    decidedAt: pacific("2024-03-05", 15),
                    decisions: [URItemDecision(itemId: "1", outcome: .approved, authorizedPortion: nil)]
                )
            ),
            on: "c1",
            actor: f.actor,
            commandId: UUID(),
            now: pacific("2024-03-05", 15)
        )
        try scheduler.raiseDue(now: pacific("2024-03-20", 9))
        #expect(try f.raisedEvents().filter { $0.deadlineId == AlertFixture.decisionId }.isEmpty)
        #expect(try AlertProjection.alerts(ofDeadline: AlertFixture.decisionId, in: f.store).isEmpty)
    }

    @Test func anAlertWhoseDeadlineIsMetLeavesTheOpenAlerts_butStaysInTheLog() throws {
        let f = try AlertFixture()
        defer { f.close() }
        let scheduler = AlertScheduler(store: f.store)
        // Thursday 7 March: the reminder (the notice's time, 4 March 08:00, came before the RFA
        // arrived); Monday 11 March 09:00: due-today, which supersedes it.
        try scheduler.raiseDue(now: pacific("2024-03-07", 9))
        #expect(
            try AlertProjection.open(in: f.store, now: pacific("2024-03-07", 9)).filter {
                $0.deadlineId == AlertFixture.decisionId
            }.map(\.level) == ["reminder"]
        )
        try scheduler.raiseDue(now: pacific("2024-03-11", 9))
        let raised = try AlertProjection.alerts(ofDeadline: AlertFixture.decisionId, in: f.store)
        #expect(raised.map(\.level) == ["reminder", "due-today"])
        #expect(
            try AlertProjection.open(in: f.store, now: pacific("2024-03-11", 9)).filter {
                $0.deadlineId == AlertFixture.decisionId
            }.map(\.level) == ["due-today"]
        )
        try f.service.execute(
            .issueURDecision(
                URDecisionIssued(
                    rfaId: "A",
                    decidedAt: pacific("2024-03-11", 10),
                    decisions: [URItemDecision(itemId: "1", outcome: .approved, authorizedPortion: nil)]
                )
            ),
            on: "c1",
            actor: f.actor,
            commandId: UUID(),
            now: pacific("2024-03-11", 10)
        )
        // Met: no one needs to act on its alerts any more; they are still in the log.
        #expect(
            try AlertProjection.open(in: f.store, now: pacific("2024-03-11", 10)).filter {
                $0.deadlineId == AlertFixture.decisionId
            }.isEmpty
        )
        #expect(try f.raisedEvents().filter { $0.deadlineId == AlertFixture.decisionId }.count == 2)
    }

    @Test func eachRunningDeadlineKeepsItsNextAlert_movedOnByEachAlertRaised_andClearedWhenMet() throws {
        let f = try AlertFixture()
        defer { f.close() }
        func nextAlert() throws -> Int64? {
            try f.store.read {
                try $0.query(
                    "SELECT next_alert_us FROM deadlines WHERE deadline_id = ?",
                    [.text(AlertFixture.decisionId)]
                ).first?[0].int64
            }
        }
        // Due Monday 11 March: its notice (5 business days before, 4 March 08:00) came before the
        // RFA, so the first is the reminder on Thursday 7 March 08:00.
        #expect(try nextAlert() == pacific("2024-03-07", 8).unixMicroseconds)
        let scheduler = AlertScheduler(store: f.store)
        try scheduler.raiseDue(now: pacific("2024-03-07", 9))
        #expect(try nextAlert() == pacific("2024-03-11", 8).unixMicroseconds, "the due-day alert is next")
        try scheduler.raiseDue(now: pacific("2024-03-11", 8, 30))
        // Overdue from the second after the due day ends.
        #expect(try nextAlert() == (pacific("2024-03-11", 23, 59, 59).unixMicroseconds + 1_000_000))
        try f.service.execute(
            .issueURDecision(
                URDecisionIssued(
                    rfaId: "A",
                    decidedAt: pacific("2024-03-11", 10),
                    decisions: [URItemDecision(itemId: "1", outcome: .approved, authorizedPortion: nil)]
                )
            ),
            on: "c1",
            actor: f.actor,
            commandId: UUID(),
            now: pacific("2024-03-11", 10)
        )
        #expect(try nextAlert() == nil, "a met deadline owes no alert")
        // The column is what a rebuild from the log gives.
        let live = try f.store.read {
            try $0.query("SELECT deadline_id, alert_plan, next_alert_us FROM deadlines ORDER BY deadline_id").map {
                "\($0[0]) \($0[1]) \($0[2])"
            }
        }
        try f.store.rebuildProjection(named: "deadlines")
        let rebuilt = try f.store.read {
            try $0.query("SELECT deadline_id, alert_plan, next_alert_us FROM deadlines ORDER BY deadline_id").map {
                "\($0[0]) \($0[1]) \($0[2])"
            }
        }
        #expect(live == rebuilt)
        #expect(!live.isEmpty)
    }

    /// A store opening catches each read model up a batch at a time, one read model after the
    /// other: the next alerts it gives must be those the appends gave, even when one pass
    /// skipped levels of a deadline (here overdue alone, late, for reminder, due-today and overdue).
    @Test func readModelsBuiltFromTheLogGiveTheNextAlertsTheAppendsGave() throws {
        let f = try AlertFixture()
        defer { f.close() }
        let pass = try AlertScheduler(store: f.store).raiseDue(now: pacific("2024-03-12", 9))
        #expect(pass.raised.filter { $0.deadlineId == AlertFixture.decisionId }.map(\.level) == [.overdue])
        func snapshot(_ store: EventStore) throws -> [String] {
            try store.read {
                try $0.query("SELECT deadline_id, alert_plan, next_alert_us FROM deadlines ORDER BY deadline_id").map {
                    "\($0[0]) \($0[1]) \($0[2])"
                }
                    + $0.query("SELECT alert_id, level, is_live FROM alerts ORDER BY alert_id").map {
                        "\($0[0]) \($0[1]) \($0[2])"
                    }
            }
        }
        let live = try snapshot(f.store)
        #expect(live.contains { $0.hasSuffix("integer(1)") }, "a live alert")
        try f.store.write { context in
            try context.database.executeScript(
                """
                DROP TABLE deadlines; DROP TABLE deadline_alert_policy; DROP TABLE IF EXISTS deadline_alerts; DROP TABLE alerts;
                DROP TABLE deadline_settled; DROP TABLE deadline_outcome_counts;
                DELETE FROM projection_checkpoints WHERE name IN ('deadlines', 'alerts');
                """
            )
        }
        f.store.close()
        let rebuilt = try EventStore(
            path: f.path,
            options: .init(synchronous: .normal),
            projections: AlertFixture.projections()
        )
        defer { rebuilt.close() }
        #expect(try snapshot(rebuilt) == live)
        #expect(try AlertScheduler(store: rebuilt).raiseDue(now: pacific("2024-03-12", 9, 1)).raised.isEmpty)
    }

    @Test func anotherAlertPolicyAtOpen_worksThePlansOutAgain() throws {
        let f = try AlertFixture()
        defer { f.close() }
        let scheduler = AlertScheduler(store: f.store)
        try scheduler.raiseDue(now: pacific("2024-03-07", 9))  // the reminder
        f.store.close()
        // Reopened with lead times of 1 and 3 business days and no due-day alert.
        var policy = AlertPolicy.standard
        policy.leadTimes = AlertLeadTimes(businessDaysBefore: [3, 1], dueDayAt: nil)
        let reopened = try EventStore(
            path: f.path,
            options: .init(synchronous: .normal),
            projections: [CaseListProjection(), DeadlineProjection(policy: policy), AlertProjection()]
        )
        defer { reopened.close() }
        let row = try #require(
            try reopened.read {
                try $0.query(
                    "SELECT alert_plan, next_alert_us FROM deadlines WHERE deadline_id = ?",
                    [.text(AlertFixture.decisionId)]
                ).first
            }
        )
        // 3 business days before Monday 11 March is Wednesday 6 March (its notice); 1 before is
        // Friday 8 March, the reminder, which counts as raised (the standard policy's reminder
        // was), and supersedes the notice: the overdue alert is next.
        let plan = try #require(AlertPlan(text: row[0].string ?? ""))
        #expect(plan.entries.map(\.level) == [.notice, .reminder, .overdue])
        #expect(plan.entries[0].atMicros == pacific("2024-03-06", 8).unixMicroseconds)
        #expect(plan.entries[1].atMicros == pacific("2024-03-08", 8).unixMicroseconds)
        #expect(row[1].int64 == plan.entries[2].atMicros, "the notice is below the reminder raised: never owed")
        let fingerprint = try reopened.read {
            try $0.query("SELECT fingerprint FROM deadline_alert_policy").map { $0[0].string ?? "" }
        }
        #expect(fingerprint == [policy.fingerprint])
        #expect(policy.fingerprint != AlertPolicy.standard.fingerprint)
        // The new policy's alerts are raised, and the scheduler needs no policy of its own.
        let pass = try AlertScheduler(store: reopened).raiseDue(now: pacific("2024-03-08", 9))
        #expect(pass.raised.filter { $0.deadlineId == AlertFixture.decisionId }.isEmpty)
        let overdue = try AlertScheduler(store: reopened).raiseDue(now: pacific("2024-03-12", 9))
        #expect(overdue.raised.filter { $0.deadlineId == AlertFixture.decisionId }.map(\.level) == [.overdue])
    }

    /// `count` cases, each with an RFA received on Monday 4 March 2024 at 10:00 (their UR
    /// decisions' reminders all due at once on Thursday 7 March).
    private func openCasesDueTogether(_ count: Int, in f: AlertFixture) throws {
        let now = pacific("2024-03-04", 10, 30)
        for n in 0..<count {
            let id = CaseID("m\(n)")
            try f.service.execute(
                .openCase(
                    CaseOpened(
                        caseId: id,
                        claimNumber: "ADJ-M\(n)",
                        employer: "Acme",
                        claimsAdministrator: "Golden TPA",
                        injuredWorkerReference: "K.L.",
                        dateOfInjury: LocalDate(iso: "2023-11-02")!,
                        coordinator: "jorge"
                    )
                ),
                on: id,
                actor: f.actor,
                commandId: UUID(),
                now: now
            )
            try f.service.execute(
                .receiveRFA(
                    RFAReceived(
                        rfaId: "A",
                        receivedAt: pacific("2024-03-04", 10),
                        transmission: .fax,
                        physician: "Dr. Lee",
                        treatmentRecommendedOn: nil,
                        reviewType: .prospective,
                        items: [RequestedItem(id: "1", description: "MRI lumbar spine")]
                    )
                ),
                on: id,
                actor: f.actor,
                commandId: UUID(),
                now: now
            )
        }
    }

    @Test func aPassRaisesAtMostAPageOfDeadlines_andSaysTheNextIsDueAtOnce() throws {
        let f = try AlertFixture()
        defer { f.close() }
        try openCasesDueTogether(AlertScheduler.deadlinesPerPass + 20, in: f)
        let scheduler = AlertScheduler(store: f.store)
        let at = pacific("2024-03-07", 9)
        let first = try scheduler.raiseDue(now: at)
        #expect(Set(first.raised.map(\.deadlineId)).count == AlertScheduler.deadlinesPerPass)
        #expect(first.backlog, "a full page: more are due now")
        #expect(first.next == at)
        let second = try scheduler.raiseDue(now: at)
        #expect(!second.raised.isEmpty)
        #expect(second.next != nil && second.next! > at)
        #expect(!second.backlog)
        #expect(try scheduler.raiseDue(now: at).raised.isEmpty)
        #expect(try f.highestRaised() == (try f.expectedHighest(at: at)))
    }

    @Test func theLoopSaysOnceWhenAlertsDueAtOnceAreAllRaised() async throws {
        let f = try AlertFixture()
        defer { f.close() }
        // Two and a half passes' worth: the loop goes on at once twice, then finds no more.
        try openCasesDueTogether(2 * AlertScheduler.deadlinesPerPass + 50, in: f)
        let clock = TestClock(pacific("2024-03-07", 9))
        // The scheduler's own notices (not each alert's), up to " over" (the time they report varies).
        let notices = CapturedLog { level, text in level == .notice && text.hasPrefix("alerts: ") }
        func lines() -> [String] {
            notices.all.map { line in line.range(of: " over ").map { String(line[..<$0.lowerBound]) } ?? line }
        }
        let scheduler = AlertScheduler(
            store: f.store,
            options: .init(maximumSleep: .seconds(3600)),
            clock: { clock.read() },
            logger: notices.logger
        )
        let running = Task { await scheduler.run() }
        defer { running.cancel() }
        for _ in 0..<3000 where notices.all.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        let raised = try f.raisedEvents().count
        #expect(raised >= 2 * AlertScheduler.deadlinesPerPass + 50)
        #expect(lines() == ["alerts: raised the \(raised) alerts that were due at once, in 3 passes"])
        // Nothing more is due: a later pass says nothing.
        clock.set(pacific("2024-03-07", 9, 30))
        scheduler.doorbell.ring()
        let passes = scheduler.passCount
        for _ in 0..<3000 where scheduler.passCount == passes { try await Task.sleep(for: .milliseconds(10)) }
        #expect(notices.all.count == 1)
    }

    @Test func theLoopFollowsWallClockJumps_backwardsWithoutRepeats_forwardsWithCatchUp() async throws {
        let f = try AlertFixture()
        defer { f.close() }
        let clock = TestClock(pacific("2024-03-07", 8, 0, 30))
        let scheduler = AlertScheduler(
            store: f.store,
            options: .init(maximumSleep: .milliseconds(20)),
            clock: { clock.read() }
        )
        let running = Task { await scheduler.run() }
        defer { running.cancel() }
        func waitFor(_ what: String, _ condition: () throws -> Bool) async throws {
            for _ in 0..<3000 where try !condition() { try await Task.sleep(for: .milliseconds(10)) }
            #expect(try condition(), "timed out waiting for \(what)")
        }
        try await waitFor("the reminder") { try f.raisedEvents().contains { $0.deadlineId == AlertFixture.decisionId } }
        let afterReminder = try f.raisedEvents()
        // The clock jumps back a week: passes go on, nothing is raised again.
        clock.set(pacific("2024-02-29", 9))
        let passes = scheduler.passCount
        try await waitFor("five more passes") { scheduler.passCount >= passes + 5 }
        #expect(try f.raisedEvents() == afterReminder)
        // Forwards past the due day (a suspended laptop waking): caught up within a slice, late.
        clock.set(pacific("2024-03-12", 9))
        try await waitFor("the overdue alert") {
            try f.raisedEvents().contains { $0.deadlineId == AlertFixture.decisionId && $0.level == .overdue }
        }
        let decision = try f.raisedEvents().filter { $0.deadlineId == AlertFixture.decisionId }
        // Due-today came due meanwhile too; overdue supersedes it, so it alone is raised.
        #expect(decision.map(\.level) == [.reminder, .overdue])
        #expect(decision.dropFirst().allSatisfy { $0.late })
    }

    @Test func aCommitWakesTheSleepingLoop_andNewDeadlinesAlert() async throws {
        let f = try AlertFixture()
        defer { f.close() }
        let clock = TestClock(pacific("2024-03-12", 9))
        let figures = OperatorFigures()
        // Sleeps of up to an hour: only the commit can wake it within the test.
        let scheduler = AlertScheduler(
            store: f.store,
            options: .init(maximumSleep: .seconds(3600)),
            clock: { clock.read() },
            figures: figures
        )
        let running = Task { await scheduler.run() }
        defer { running.cancel() }
        for _ in 0..<3000 where scheduler.passCount == 0 { try await Task.sleep(for: .milliseconds(10)) }
        let first = try f.raisedEvents().count
        #expect(first > 0)
        // Those were due while no scheduler ran: late by the daemon, by hours.
        #expect(figures.snapshot.alertsRaisedLate == Int64(first) && figures.snapshot.alertsRaisedLateByRecording == 0)
        #expect(figures.snapshot.largestAlertLagSeconds >= 9 * 3_600)
        // Half an hour on, with no pass meanwhile, the RFA below is recorded.
        clock.set(pacific("2024-03-12", 9, 30))
        let lagBefore = figures.snapshot.largestAlertLagSeconds
        // An expedited RFA received 71 hours ago: its 72 hours still run (a clock already over
        // when recorded would be history, with no alert); its notice (24 hours before) and
        // reminder (4 hours before) are due at once, so the reminder alone is raised.
        try await f.service.execute(
            .receiveRFA(
                RFAReceived(
                    rfaId: "B",
                    receivedAt: pacific("2024-03-09", 10),
                    transmission: .fax,
                    physician: "Dr. Lee",
                    treatmentRecommendedOn: nil,
                    reviewType: .prospective,
                    expedited: true,
                    items: [RequestedItem(id: "2", description: "surgery")]
                )
            ),
            on: "c1",
            actor: f.actor,
            commandId: UUID(),
            now: pacific("2024-03-12", 9)
        )
        for _ in 0..<3000
        where try !f.raisedEvents().contains(where: {
            $0.deadlineId == "c1/ur.decision.expedited/B" && $0.level == .reminder
        }) {
            try await Task.sleep(for: .milliseconds(10))
        }
        let expedited = try f.raisedEvents().filter { $0.deadlineId == "c1/ur.decision.expedited/B" }
        #expect(expedited.map(\.level) == [.reminder])
        // Its reminder (06:00) came after its time, late; but the daemon raised it at the
        // commit that recorded it (09:30 by the clock the loop reads), not half an hour after
        // the pass that had covered 06:00: late by recording, lag 0.
        #expect(expedited.allSatisfy { $0.late })
        for _ in 0..<300 where figures.snapshot.alertsRaisedLateByRecording == 0 {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(figures.snapshot.alertsRaisedLateByRecording == 1)
        #expect(figures.snapshot.alertsRaisedLate == Int64(first) + 1)
        #expect(figures.snapshot.largestAlertLagSeconds == lagBefore)
    }
}

/// A store of its own in a temporary directory, with the daemon's read models, for `body`;
/// closed and removed after it.
func withReadModelStore<T>(_ body: (EventStore) throws -> T) throws -> T {
    let dir = try readModelDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = try readModelStore(in: dir)
    defer { store.close() }
    return try body(store)
}

/// A store as `withReadModelStore` makes it, for async `body`, which is also given the
/// directory (for a socket, backups).
func withReadModelDirectory<T>(_ body: (EventStore, URL) async throws -> T) async throws -> T {
    let dir = try readModelDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = try readModelStore(in: dir)
    defer { store.close() }
    return try await body(store, dir)
}

private func readModelDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("imr-store-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

private func readModelStore(in dir: URL) throws -> EventStore {
    try EventStore(
        path: dir.appendingPathComponent("imr.sqlite").path,
        options: .init(synchronous: .normal),
        projections: ReadModels.all()
    )
}

/// The scheduler's queries run on an index: a pass reads the deadlines whose next alert is
/// due on the partial index of that instant, never every running deadline (which at a claims
/// administrator's size would make every pass cost the whole board).
@Suite struct AlertSchedulerQueryPlanTests {
    func plan(_ sql: String, _ arguments: [SQLiteValue], in store: EventStore) throws -> String {
        try store.read { db in
            try db.query("EXPLAIN QUERY PLAN " + sql, arguments).map { $0[3].string ?? "" }.joined(separator: "\n")
        }
    }

    /// An empty store with the daemon's read models, for `body` to explain queries on.
    func withStore(_ body: (EventStore) throws -> Void) throws { try withReadModelStore(body) }

    @Test func aPassFindsWhatIsDue_andTheNextInstant_onTheNextAlertIndex() throws {
        try withStore { store in
            for (sql, arguments) in [
                (AlertScheduler.dueQuery, [.integer(1), .integer(500)]), (AlertScheduler.upcomingQuery, [.integer(1)]),
            ] as [(String, [SQLiteValue])] {
                let text = try plan(sql, arguments, in: store)
                #expect(text.contains("deadlines_next_alert"), "\(text)")
                #expect(!text.contains("SCAN"), "\(text)")
                #expect(!text.contains("TEMP B-TREE"), "\(text)")
            }
            let raised = try plan("SELECT level FROM alerts WHERE deadline_id = ?", [.text("d")], in: store)
            #expect(raised.contains("alerts_deadline"), "\(raised)")
        }
    }

    /// Whether an alert is live is kept on a deadline's alerts by its key: raising one, and a
    /// deadline starting or stopping to run, read and write a few rows (never every alert).
    @Test func theAlertsLivenessIsKeptOnTheDeadlinesKeys() throws {
        try withStore { store in
            for (sql, arguments) in [
                (AlertProjection.liveSQL, [.text("d"), .text("d"), .integer(1)]),
                (AlertProjection.supersedeSQL, [.text("d"), .integer(1)]),
                (AlertProjection.runsSQL, [.text("d")]), (AlertProjection.endsSQL, [.text("d")]),
            ] as [(String, [SQLiteValue])] {
                let text = try plan(sql, arguments, in: store)
                #expect(text.contains("alerts_deadline (deadline_id=?"), "\(text)")
                #expect(
                    !text.split(separator: "\n").contains { $0.hasPrefix("SCAN") && $0 != "SCAN CONSTANT ROW" },
                    "\(text)"
                )
                if sql == AlertProjection.liveSQL {
                    #expect(text.contains("deadlines_running (deadline_id=?"), "\(text)")
                }
            }
        }
    }

    /// A follower's snoozes: the next end, and the alerts whose snooze ended, on the index of
    /// snoozes (not every open alert).
    @Test func aFollowersSnoozeQueriesRunOnTheSnoozeIndex() throws {
        try withStore { store in
            let ended = AlertProjection.snoozesEndedQuery(
                coordinator: "maria",
                after: Date(timeIntervalSince1970: 0),
                upTo: Date()
            )
            for (sql, arguments) in [(AlertProjection.snoozeEndQuery, [.integer(1)]), (ended.sql, ended.arguments)]
                as [(String, [SQLiteValue])]
            {
                let text = try plan(sql, arguments, in: store)
                #expect(text.contains("SEARCH alerts USING INDEX alerts_snoozed"), "\(text)")
                #expect(!text.contains("LIST SUBQUERY"), "\(text)")
                #expect(!text.contains("SCAN"), "\(text)")
            }
        }
    }
}
