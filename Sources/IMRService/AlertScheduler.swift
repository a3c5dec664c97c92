import EventStore
import Foundation
import Logging
import Synchronization
import Workflow

/// Raises each deadline alert once, when it becomes due.
///
/// The scheduler sleeps until the earliest instant an alert of any open deadline becomes
/// due, found from the `deadlines` read model ordered by due time (only deadlines due
/// within the policy's ``AlertPolicy/horizon``, plus overdue ones still owed their overdue
/// alert, are looked at: no scan of every case). A commit to a case stream wakes it early,
/// since it may add, move, meet or cancel a deadline. A deadline that is met, cancelled or
/// superseded leaves the open set and so stops alerting.
///
/// Raising appends an ``AlertRaised`` to the alert's own stream, which must not exist yet,
/// under an event id derived from (deadline id, level): the log holds each alert once
/// whatever restarts or races happen, and an alert whose time passed while the daemon was
/// down is raised at the next pass, marked late, in due order.
///
/// Due times are wall-clock instants read from the injected clock. Sleeps last at most
/// ``Options/maximumSleep``, after which the clock is read again, so a jump of the wall
/// clock (NTP, suspend) is noticed within that slice.
public final class AlertScheduler: Sendable {
    public struct Options: Sendable {
        /// The longest single sleep; bounds how late a wall-clock jump is noticed.
        public var maximumSleep: Duration
        /// An alert raised more than this after its scheduled instant is marked late.
        public var lateAfter: TimeInterval
        /// How long to wait before trying again when the log cannot be read or written.
        public var retryAfterFailure: Duration

        /// After a commit wakes the loop, how long it lets further commits gather before it
        /// looks: a burst of commits (an import, say) then costs one pass, not one each.
        public var settleAfterCommit: Duration

        public init(maximumSleep: Duration = .seconds(60), lateAfter: TimeInterval = 60, retryAfterFailure: Duration = .seconds(5),
                    settleAfterCommit: Duration = .milliseconds(200)) {
            self.maximumSleep = maximumSleep
            self.lateAfter = lateAfter
            self.retryAfterFailure = retryAfterFailure
            self.settleAfterCommit = settleAfterCommit
        }
    }

    /// What one pass did.
    public struct Pass: Sendable {
        /// The alerts this pass raised, in due order.
        public var raised: [AlertRaised]
        /// The next instant an alert becomes due, if any deadline will raise one.
        public var next: Date?
    }

    public let store: EventStore
    public let policy: AlertPolicy
    public let calculator: DeadlineCalculator
    public let options: Options
    let clock: @Sendable () -> Date
    let logger: Logger
    let onRaised: @Sendable (AlertRaised) -> Void
    let doorbell = Doorbell()
    private let passes = Mutex<Int>(0)
    /// Each running deadline's alert schedule as of its stored body: a pass decodes and
    /// schedules only the deadlines whose body changed since the last pass (most do not).
    private let schedules = Mutex<[String: (body: String, alerts: [ScheduledAlert])]>([:])
    /// Cases committed to since the last pass (the loop then looks at them alone).
    private let changedCases = Mutex<Set<String>>([])

    /// - Parameters:
    ///   - clock: the wall clock; tests inject one.
    ///   - onRaised: called once for each alert this scheduler raised (after its commit), in
    ///     due order; the daemon runs the notification command from it. It must not block.
    public init(
        store: EventStore, policy: AlertPolicy = .standard, calculator: DeadlineCalculator = .init(),
        options: Options = .init(), clock: @escaping @Sendable () -> Date = { Date() },
        logger: Logger = Logger(label: "imr.alerts", factory: { _ in SwiftLogNoOpLogHandler() }),
        onRaised: @escaping @Sendable (AlertRaised) -> Void = { _ in }
    ) {
        self.store = store
        self.policy = policy
        self.calculator = calculator
        self.options = options
        self.clock = clock
        self.logger = logger
        self.onRaised = onRaised
    }

    /// How many passes ran (for tests that wait for the loop to notice something).
    public var passCount: Int { passes.withLock { $0 } }

    /// Raises every alert due at `now` that is not raised yet, in due order, and says when
    /// the next one becomes due. With `cases`, looks only at those cases' deadlines (what a
    /// commit to them may have changed); `next` then covers only them.
    @discardableResult
    /// A pass's three queries. Open deadlines that may owe an alert: due within the horizon
    /// (parameter 1) and, if past due (before parameter 3), not yet given their overdue alert (a
    /// rule without one stops at its due time); the alerts already raised for them; the earliest
    /// due beyond the horizon. For a pass over some cases, their ids are one bound parameter (a
    /// JSON array, parameter 2), so the text is the same every time, and the unary plus keeps
    /// SQLite on `deadlines_case` rather than walking every open deadline by due time
    /// (`deadlines_open_due`, which the full pass uses).
    static func passQueries(forCases: Bool, rulesWithoutOverdue: [RuleID]) -> (due: String, raised: String, beyond: String) {
        let onlyCases = forCases ? " AND d.case_id IN (SELECT value FROM json_each(?))" : ""
        let openDue = forCases ? "+d.is_open = 1 AND +d.due_us" : "d.is_open = 1 AND d.due_us"
        let excluded = rulesWithoutOverdue.isEmpty ? "" : " AND d.rule NOT IN (\(rulesWithoutOverdue.map { "'\($0.rawValue)'" }.joined(separator: ", ")))"
        return (
            due: """
                SELECT d.deadline_id, d.body, d.coordinator FROM deadlines d
                WHERE \(openDue) <= ?\(onlyCases)
                  AND (d.due_us >= ? OR (NOT EXISTS (SELECT 1 FROM alerts a WHERE a.deadline_id = d.deadline_id AND a.level = 'overdue')\(excluded)))
                ORDER BY d.due_us, d.deadline_id
                """,
            raised: """
                SELECT a.alert_id FROM alerts a JOIN deadlines d ON a.deadline_id = d.deadline_id
                WHERE \(openDue) <= ?\(onlyCases)
                """,
            beyond: "SELECT MIN(due_us) FROM deadlines d WHERE \(openDue) > ?\(onlyCases)")
    }

    public func raiseDue(now: Date, cases: Set<String>? = nil) throws -> Pass {
        defer { passes.withLock { $0 += 1 } }
        let horizonEnd = now.addingTimeInterval(policy.horizon)
        let caseArgument: [SQLiteValue] = cases.map { ids in
            [.text(String(decoding: (try? JSONEncoder().encode(ids.sorted())) ?? Data("[]".utf8), as: UTF8.self))]
        } ?? []
        let noOverdue = RuleID.allCases.filter { !policy.leadTimes(for: $0).overdue || !policy.leadTimes(for: $0).enabled }
        let sql = Self.passQueries(forCases: cases != nil, rulesWithoutOverdue: noOverdue)
        let (rows, raisedIds, beyond) = try store.read { db in
            let rows = try db.query(sql.due, [.integer(horizonEnd.unixMicroseconds)] + caseArgument + [.integer(now.addingTimeInterval(-1).unixMicroseconds)])
            let raised = try db.query(sql.raised, [.integer(horizonEnd.unixMicroseconds)] + caseArgument)
            let beyond = try db.query(sql.beyond, [.integer(horizonEnd.unixMicroseconds)] + caseArgument).first?[0].int64
            return (rows, Set(raised.compactMap { $0[0].string }), beyond)
        }
        var due: [(ScheduledAlert, String)] = []
        var next: Date? = beyond.map { Date(timeIntervalSince1970: Double($0) / 1_000_000 - policy.horizon) }
        let previous = schedules.withLock { $0 }
        var current: [String: (body: String, alerts: [ScheduledAlert])] = [:]
        for row in rows {
            let id = row["deadline_id"].string ?? ""
            guard let body = row["body"].string else { continue }
            let alerts: [ScheduledAlert]
            if let known = previous[id], known.body == body {
                alerts = known.alerts
            } else {
                guard let deadline = try? WireFormat.decode(CaseDeadline.self, json: body) else {
                    logger.warning("alerts: cannot read deadline \(id) from the deadlines read model; rebuild it")
                    continue
                }
                alerts = policy.schedule(for: deadline, calculator: calculator)
            }
            current[id] = (body, alerts)
            for alert in alerts
            where !raisedIds.contains(AlertStreams.alertId(deadlineId: alert.deadlineId, level: alert.level).uuidString.lowercased()) {
                if alert.at <= now {
                    due.append((alert, row["coordinator"].string ?? ""))
                } else if next == nil || alert.at < next! {
                    next = alert.at
                }
            }
        }
        schedules.withLock { known in
            if cases == nil {
                known = current
            } else {
                for (id, schedule) in current { known[id] = schedule }
            }
        }
        due.sort { ($0.0.at, $0.0.deadlineId, $0.0.level) < ($1.0.at, $1.0.deadlineId, $1.0.level) }
        guard !due.isEmpty else { return Pass(raised: [], next: next) }

        let raisedAt = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        var events: [AlertRaised] = []
        var requests: [AppendRequest] = []
        for (alert, coordinator) in due {
            let id = AlertStreams.alertId(deadlineId: alert.deadlineId, level: alert.level)
            let event = AlertRaised(
                alertId: id, caseId: alert.caseId, rule: alert.rule, deadlineId: alert.deadlineId, level: alert.level,
                due: alert.due, scheduledAt: alert.at, raisedAt: raisedAt,
                late: now.timeIntervalSince(alert.at) > options.lateAfter, coordinator: coordinator)
            let payload = try AlertEventCodec.encode(.raised(event))
            events.append(event)
            requests.append(AppendRequest(streamId: AlertStreams.streamId(id), expected: .noStream, events: [
                NewEvent(id: id, type: AlertRaised.typeName, schemaVersion: AlertEventCodec.schemaVersion, payload: payload,
                         metadata: EventMetadata(actor: "imr-daemon alert scheduler", correlationId: alert.deadlineId)),
            ]))
        }
        let results = try store.append(batch: requests)
        var raised: [AlertRaised] = []
        var failure: EventStoreError?
        for (event, result) in zip(events, results) {
            switch result {
            case .success(let r) where !r.wasAlreadyStored:
                raised.append(event)
            case .success:
                continue
            case .failure(let error) where error.kind == .wrongExpectedVersion || error.kind == .duplicateEventId:
                continue  // Another scheduler raised it first: it is in the log once.
            case .failure(let error):
                failure = failure ?? error
            }
        }
        // Every alert that reached the log is announced, even when another of the batch failed:
        // the next pass counts it as raised and would never announce it.
        for event in raised {
            OperatorFigures.shared.alertRaised(level: event.level.rawValue, late: event.late, lagSeconds: now.timeIntervalSince(event.scheduledAt))
            log(event)
            onRaised(event)
        }
        if let failure { throw failure }
        return Pass(raised: raised, next: next)
    }

    /// The journal entry of a raised alert: a fixed MESSAGE_ID per level and the fields
    /// IMR_CASE, IMR_RULE, IMR_DEADLINE, IMR_DUE, IMR_COORDINATOR, IMR_ALERT_ID,
    /// IMR_ALERT_LEVEL, IMR_ALERT_LATE.
    func log(_ event: AlertRaised) {
        let due = Pacific.rfc3339(event.due)
        let owner = event.coordinator.isEmpty ? "no coordinator" : event.coordinator
        logger.notice(
            "alert \(event.level.rawValue): \(event.rule.rawValue) of case \(event.caseId.rawValue) due \(due) (\(owner))\(event.late ? ", raised late" : "")",
            metadata: [
                "message.id": .string(LogMessageID.alert(event.level)),
                "case.id": .string(event.caseId.rawValue),
                "rule.id": .string(event.rule.rawValue),
                "deadline.id": .string(event.deadlineId),
                "due": .string(due),
                "coordinator": .string(event.coordinator),
                "alert.id": .string(event.alertId.uuidString.lowercased()),
                "alert.level": .string(event.level.rawValue),
                "alert.late": .string(event.late ? "true" : "false"),
            ])
    }

    /// Runs passes until the task is cancelled: after each, sleeps until the next alert is
    /// due, a case commit rings (then lets ``Options/settleAfterCommit`` pass), or
    /// ``Options/maximumSleep`` passes, whichever is first.
    public func run() async {
        let from = ((try? await store.headPosition()) ?? 0) + 1
        await withTaskGroup(of: Void.self) { group in
            // A commit to a case may add, move, meet or cancel a deadline: look again at once.
            // Should this watcher fail, the bounded sleeps below still find every alert.
            group.addTask { [self, store, doorbell] in
                do {
                    for try await event in store.subscribeToStreams(from: from) {
                        guard let caseId = CaseStreams.caseId(ofStream: event.streamId) else { continue }
                        self.changedCases.withLock { $0.insert(caseId.rawValue) }
                        doorbell.ring()
                    }
                } catch {}
            }
            // A full pass looks at every running deadline; after a commit, a pass looks only at
            // the cases that changed (their deadlines are the only ones that can have moved), and
            // the earliest next alert of the rest is still the one the last full pass found.
            var next: Date? = nil
            var full = true
            while !Task.isCancelled {
                var sleep = options.maximumSleep
                let started = ContinuousClock.now
                do {
                    let now = clock()
                    let cases = full ? nil : changedCases.withLock { c -> Set<String> in defer { c.removeAll() }; return c }
                    if full { changedCases.withLock { $0.removeAll() } }
                    // On a reader thread: its reads and its one append never hold a cooperative thread.
                    // A pass over the cases a commit changed is short, and alerts must not wait
                    // behind a long export: it takes the interactive lane.
                    let pass = try await store.offload(doing: "raise due alerts", lane: cases == nil ? .bulk : .interactive) {
                        try self.raiseDue(now: now, cases: cases)
                    }
                    OperatorFigures.shared.schedulerPass(kind: full ? "full" : "cases", duration: ContinuousClock.now - started, failed: false)
                    next = full ? pass.next : [next, pass.next].compactMap { $0 }.min()
                    if let due = next {
                        let seconds = max(0, due.timeIntervalSince(clock()))
                        sleep = min(sleep, .milliseconds(Int64((seconds * 1000).rounded(.up))))
                    }
                } catch {
                    OperatorFigures.shared.schedulerPass(kind: full ? "full" : "cases", duration: ContinuousClock.now - started, failed: true)
                    if (error as? EventStoreError)?.kind != .interrupted {  // not when the daemon is stopping
                        logger.error("alerts: cannot raise due alerts: \(error); trying again shortly")
                    }
                    sleep = min(sleep, options.retryAfterFailure)
                    next = nil
                }
                let rung = await doorbell.wait(upTo: sleep)
                if rung {
                    try? await Task.sleep(for: options.settleAfterCommit)
                }
                // The timer (or a ring that left no changed case behind): look at everything.
                full = !rung || changedCases.withLock { $0.isEmpty }
            }
            group.cancelAll()
        }
    }
}

/// Wakes one waiting task; a ring with nobody waiting is kept for the next wait.
final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func ring() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.rung = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns on a ring (true), after `duration` or when the task is cancelled (false).
    @discardableResult
    func wait(upTo duration: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { try? await Task.sleep(for: duration); return false }
            group.addTask { await self.waitForRing(); return !Task.isCancelled }
            let rung = await group.next() ?? false
            group.cancelAll()
            return rung
        }
    }

    private func waitForRing() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.rung || Task.isCancelled {
                        s.rung = false
                        return true
                    }
                    s.waiter = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume()
        }
    }
}

/// Opens once; every waiter, present and future, then returns.
final class Latch: Sendable {
    private struct State {
        var open = false
        var nextId = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    var isOpen: Bool { state.withLock { $0.open } }

    func open() {
        let all = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.open = true
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for c in all { c.resume() }
    }

    /// Returns when the latch opens or the task is cancelled.
    func wait() async {
        let id = state.withLock { s -> Int in
            s.nextId += 1
            return s.nextId
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.open || Task.isCancelled { return true }
                    s.waiters[id] = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            let c = state.withLock { $0.waiters.removeValue(forKey: id) }
            c?.resume()
        }
    }
}
