import EventStore
import Foundation
import Logging
import Synchronization
import Workflow

/// Raises each deadline alert once, when it becomes due.
///
/// The deadlines read model keeps, for each running deadline, the instant its next alert not
/// yet raised becomes due, on a partial index (``DeadlineProjection``, with the alert policy
/// the daemon was configured with). A pass reads only the deadlines whose instant has come,
/// at most ``deadlinesPerPass`` at a time, and sleeps until the earliest instant left: no pass
/// reads every running deadline, whatever the size of the store. A commit to a case stream
/// wakes it early, since it may add, move, meet or cancel a deadline. A deadline that is met,
/// cancelled or superseded leaves the running set and so stops alerting.
///
/// Raising appends an ``AlertRaised`` to the alert's own stream, which must not exist yet,
/// under an event id derived from (deadline id, level): the log holds each alert once
/// whatever restarts or races happen, and an alert whose time passed while the daemon was
/// down is raised at the next pass, marked late, in due order. Levels of one deadline due at
/// once are raised as the highest alone (a deadline that passed while the daemon was down
/// raises one `overdue`, not notice, reminder, due-today and overdue), and a level raised
/// supersedes the lower ones: they are never owed again and leave the open alerts.
///
/// Due times are wall-clock instants read from the injected clock. Sleeps last at most
/// ``Options/maximumSleep``, after which the clock is read again, so a jump of the wall
/// clock (NTP, suspend) is noticed within that slice.
package final class AlertScheduler: Sendable {
    package struct Options: Sendable {
        /// The longest single sleep; bounds how late a wall-clock jump is noticed.
        package var maximumSleep: Duration
        /// An alert raised more than this after its scheduled instant is marked late.
        package var lateAfter: TimeInterval
        /// How long to wait before trying again when the log cannot be read or written.
        package var retryAfterFailure: Duration

        /// After a commit wakes the loop, how long it lets further commits gather before it
        /// looks: a burst of commits (an import, say) then costs one pass, not one each.
        package var settleAfterCommit: Duration

        package init(
            maximumSleep: Duration = .seconds(60),
            lateAfter: TimeInterval = 60,
            retryAfterFailure: Duration = .seconds(5),
            settleAfterCommit: Duration = .milliseconds(200)
        ) {
            self.maximumSleep = maximumSleep
            self.lateAfter = lateAfter
            self.retryAfterFailure = retryAfterFailure
            self.settleAfterCommit = settleAfterCommit
        }
    }

    /// What one pass did.
    package struct Pass: Sendable {
        /// The alerts this pass raised, in due order.
        package var raised: [AlertRaised]
        /// The next instant an alert becomes due, if any deadline will raise one.
        package var next: Date?
        /// More deadlines owed an alert now than one pass reads (``deadlinesPerPass``): the
        /// next pass should run at once.
        package var backlog: Bool = false
        /// For each alert of `raised`, in the same order, how long the daemon took to raise
        /// it, in seconds (``AlertScheduler/lag(of:now:coverage:)``).
        package var lags: [TimeInterval] = []
    }

    /// What the passes have seen: the instant of the last pass that read every deadline owed
    /// an alert then (no backlog, no read model being rebuilt) and raised their alerts, and
    /// the first commit to a case since that pass began. An alert due before such a pass and raised after it was not owed then: a later
    /// commit made it owed (a fact recorded after the alert's time had passed).
    package struct Coverage: Sendable {
        package var covered: Date?
        package var firstCommit: Date?

        package init(covered: Date? = nil, firstCommit: Date? = nil) {
            self.covered = covered
            self.firstCommit = firstCommit
        }
    }

    package let store: EventStore
    package let options: Options
    let clock: @Sendable () -> Date
    let logger: Logger
    let onRaised: @Sendable (AlertRaised) -> Void
    /// Where raised alerts and passes are counted (the daemon's figures, unless a test gives its own).
    let figures: OperatorFigures
    let doorbell = Doorbell()
    private let passes = Mutex<Int>(0)
    private let coverage = Mutex(Coverage())
    private let lastOwingReport = Mutex<Date?>(nil)

    /// The alert policy is the store's: its deadlines read model works each deadline's alerts
    /// out (``ReadModels/standard(policy:)``).
    ///
    /// - Parameters:
    ///   - clock: the wall clock; tests inject one.
    ///   - figures: where raised alerts, their lag and the passes are counted.
    ///   - onRaised: called once for each alert this scheduler raised (after its commit), in
    ///     due order; the daemon runs the notification command from it. It must not block.
    package init(
        store: EventStore,
        options: Options = .init(),
        clock: @escaping @Sendable () -> Date = { Date() },
        logger: Logger = Logger(label: "imr.alerts", factory: { _ in SwiftLogNoOpLogHandler() }),
        figures: OperatorFigures = .shared,
        onRaised: @escaping @Sendable (AlertRaised) -> Void = { _ in }
    ) {
        self.store = store
        self.options = options
        self.clock = clock
        self.logger = logger
        self.figures = figures
        self.onRaised = onRaised
    }

    /// How many passes ran (for tests that wait for the loop to notice something).
    package var passCount: Int { passes.withLock { $0 } }

    /// The most deadlines one pass raises alerts for; a pass that reaches it says the next is
    /// due at once, and the loop goes on. A pass holds the writer for its one transaction
    /// (each alert dirties several random index pages): 500 held commands behind a backlog for
    /// up to half a second at 200,000 cases (p99 509 ms), 100 for about a quarter (BENCHMARKS.md,
    /// fifteenth session), at about the same rate of alerts raised.
    package static let deadlinesPerPass = 100

    /// A pass's query: the running deadlines whose next alert's instant has come, soonest
    /// first, on the partial index of that instant (also what a test explains).
    static let dueQuery = """
        SELECT deadline_id, case_id, rule, due_us, coordinator, alert_plan FROM deadlines INDEXED BY deadlines_next_alert
        WHERE next_alert_us IS NOT NULL AND next_alert_us <= ? ORDER BY next_alert_us, deadline_id LIMIT ?
        """
    /// The instant the next alert of the running deadlines not read by a pass becomes due.
    static let upcomingQuery = "SELECT MIN(next_alert_us) FROM deadlines WHERE next_alert_us > ?"

    /// Raises every alert due at `now` that is not raised yet, in due order, and says when
    /// the next one becomes due.
    ///
    /// It reads only the running deadlines whose next alert is due (the deadlines read model
    /// keeps that instant, indexed, from the policy it was opened with): a pass with nothing
    /// to raise is two index lookups, however many cases the store holds.
    @discardableResult
    package func raiseDue(now: Date) throws -> Pass {
        defer { passes.withLock { $0 += 1 } }
        let seen = coverage.withLock { c in
            defer { c.firstCommit = nil }
            return c
        }
        // A pass that read everything owed at `now` and raised it covers `now`; one that did
        // not (a backlog, a failure) gives the commits it took back to the next. Nor does one
        // over read models being rebuilt (an upgrade, `imr-ctl rebuild`): it sees only the
        // deadlines rebuilt so far, and those it cannot see were owed all along.
        let rebuilding = store.rebuildsInProgress()
        let complete = rebuilding["deadlines"] == nil && rebuilding["alerts"] == nil
        var covers = false
        defer {
            coverage.withLock { c in
                if covers {
                    c.covered = now
                } else {
                    if let first = seen.firstCommit { c.firstCommit = min(c.firstCommit ?? first, first) }
                }
            }
        }
        let nowMicros = now.unixMicroseconds
        let (rows, raisedByDeadline, upcoming) = try store.read { db in
            let rows = try db.query(Self.dueQuery, [.integer(nowMicros), .integer(Int64(Self.deadlinesPerPass))])
            var raised: [String: Set<AlertLevel>] = [:]
            for row in rows {
                let id = row[0].string ?? ""
                raised[id] = Set(
                    try db.query("SELECT level FROM alerts WHERE deadline_id = ?", [.text(id)]).compactMap {
                        $0[0].string.flatMap(AlertLevel.init)
                    }
                )
            }
            return (rows, raised, try db.query(Self.upcomingQuery, [.integer(nowMicros)]).first?[0].int64)
        }
        func instant(_ micros: Int64) -> Date { Date(timeIntervalSince1970: Double(micros) / 1_000_000) }
        // The earliest alert not due yet: of the deadlines not read (their next alert is after
        // now, unless the page was full: then more may be due at once), and of those read.
        var nextMicros: Int64? = upcoming
        var due: [DueAlert] = []
        var owingNothing = 0
        for row in rows {
            let id = row[0].string ?? ""
            guard let plan = AlertPlan(text: row[5].string ?? ""), let rule = RuleID(rawValue: row[2].string ?? "")
            else {
                logger.warning(
                    "alerts: cannot read the alert plan of deadline \(id) from the deadlines read model; rebuild it"
                )
                continue
            }
            let raised = raisedByDeadline[id] ?? []
            // Of the levels due at once (the daemon was down, or the deadline was recorded
            // late in its course), only the highest is raised: it supersedes the others.
            var highest: AlertPlan.Entry?
            for entry in plan.owed(raised: raised) {
                if entry.atMicros <= nowMicros {
                    highest = entry
                } else {
                    nextMicros = min(nextMicros ?? entry.atMicros, entry.atMicros)
                }
            }
            if let entry = highest {
                due.append(
                    DueAlert(
                        deadlineId: id,
                        caseId: CaseID(row[1].string ?? ""),
                        rule: rule,
                        level: entry.level,
                        due: instant(row[3].int64 ?? 0),
                        at: instant(entry.atMicros),
                        coordinator: row[4].string ?? ""
                    )
                )
            } else {
                owingNothing += 1
            }
        }
        if owingNothing > 0 { reportOwingNothing(owingNothing, now: now) }
        // A full page that raised nothing (rows that say they owe an alert already raised,
        // reported above) is no backlog: the loop must not spin on it.
        let backlog = rows.count == Self.deadlinesPerPass && !due.isEmpty
        let next = backlog ? now : nextMicros.map(instant)
        due.sort { ($0.at, $0.deadlineId, $0.level) < ($1.at, $1.deadlineId, $1.level) }
        guard !due.isEmpty else {
            covers = !backlog && complete
            return Pass(raised: [], next: next, backlog: backlog)
        }

        let raisedAt = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        var events: [AlertRaised] = []
        var requests: [AppendRequest] = []
        for alert in due {
            let id = AlertStreams.alertId(deadlineId: alert.deadlineId, level: alert.level)
            let event = AlertRaised(
                alertId: id,
                caseId: alert.caseId,
                rule: alert.rule,
                deadlineId: alert.deadlineId,
                level: alert.level,
                due: alert.due,
                scheduledAt: alert.at,
                raisedAt: raisedAt,
                late: now.timeIntervalSince(alert.at) > options.lateAfter,
                coordinator: alert.coordinator
            )
            let payload = try AlertEventCodec.encode(.raised(event))
            events.append(event)
            requests.append(
                AppendRequest(
                    streamId: AlertStreams.streamId(id),
                    expected: .noStream,
                    events: [
                        NewEvent(
                            id: id,
                            type: AlertRaised.typeName,
                            schemaVersion: AlertEventCodec.schemaVersion,
                            payload: payload,
                            metadata: EventMetadata(
                                actor: "imr-daemon alert scheduler",
                                correlationId: alert.deadlineId
                            )
                        )
                    ]
                )
            )
        }
        let results = try store.append(batch: requests)
        var raised: [AlertRaised] = []
        var lags: [TimeInterval] = []
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
            let lag = Self.lag(of: event, now: now, coverage: seen)
            let cause: LateCause? = event.late ? (lag > options.lateAfter ? .daemon : .recording) : nil
            lags.append(lag)
            figures.alertRaised(level: event.level.rawValue, lagSeconds: lag, late: cause)
            log(event, late: cause)
            onRaised(event)
        }
        if let failure { throw failure }
        covers = !backlog && complete
        return Pass(raised: raised, next: next, backlog: backlog, lags: lags)
    }

    /// Why an alert was raised more than ``Options/lateAfter`` after its scheduled time.
    package enum LateCause: String, Sendable {
        /// The daemon was not running at that time, or could not raise it (its log failed, or
        /// a backlog of alerts due at once).
        case daemon
        /// The fact that made it owed was recorded after its time had passed (an RFA entered
        /// days after it arrived by mail): the daemon raised it as soon as it could.
        case recording
    }

    /// How long the daemon took to raise `event`: from its scheduled time, or, when a pass that
    /// read every alert owed at its instant ran after that time and the alert was not among
    /// them, from the first commit to a case since that pass began (the commit that made it
    /// owed came then or later). At start-up no pass has run: an alert whose time passed
    /// while the daemon was stopped lags from its scheduled time.
    package static func lag(of event: AlertRaised, now: Date, coverage: Coverage) -> TimeInterval {
        var from = event.scheduledAt
        if let covered = coverage.covered, event.scheduledAt <= covered {
            from = max(from, coverage.firstCommit ?? covered)
        }
        return max(0, now.timeIntervalSince(from))
    }

    /// Notes a commit to a case stream (or the end of a rebuild): the first since a pass
    /// began is when what it made owed became known.
    private func noteCaseCommit() {
        let now = clock()
        coverage.withLock { c in
            if c.firstCommit == nil { c.firstCommit = now }
        }
    }

    /// An alert a pass found due, from its deadline's row and alert plan.
    private struct DueAlert {
        var deadlineId: String
        var caseId: CaseID
        var rule: RuleID
        var level: AlertLevel
        var due: Date
        var at: Date
        var coordinator: String
    }

    /// Rows whose next alert was already raised: while the deadlines read model is rebuilt it
    /// meets a deadline's events before the alerts they raised, so this is expected for the
    /// length of a rebuild; outside one, the read model needs rebuilding. Said at most once an
    /// hour.
    private func reportOwingNothing(_ count: Int, now: Date) {
        let due = lastOwingReport.withLock { last -> Bool in
            guard last.map({ now.timeIntervalSince($0) >= 3600 || now < $0 }) ?? true else { return false }
            last = now
            return true
        }
        guard due else { return }
        logger.warning(
            "alerts: \(count) running deadlines say their next alert is due, but it was raised already (expected while the deadlines read model is rebuilt; otherwise rebuild it: imr-ctl rebuild deadlines)"
        )
    }

    /// The journal entry of a raised alert: a fixed MESSAGE_ID per level and the fields
    /// IMR_CASE, IMR_RULE, IMR_DEADLINE, IMR_DUE, IMR_COORDINATOR, IMR_ALERT_ID,
    /// IMR_ALERT_LEVEL, IMR_ALERT_LATE.
    func log(_ event: AlertRaised, late cause: LateCause?) {
        let due = Pacific.rfc3339(event.due)
        let owner = event.coordinator.isEmpty ? "no coordinator" : event.coordinator
        let late =
            switch cause {
            case .daemon: ", raised late"
            case .recording: ", raised late (its facts were recorded after its time)"
            case nil: ""
            }
        logger.notice(
            "alert \(event.level.rawValue): \(event.rule.rawValue) of case \(event.caseId.rawValue) due \(due) (\(owner))\(late)",
            metadata: [
                "message.id": .string(LogMessageID.alert(event.level)),
                "case.id": .string(event.caseId.rawValue),
                "rule.id": .string(event.rule.rawValue),
                "deadline.id": .string(event.deadlineId),
                "due": .string(due),
                "coordinator": .string(event.coordinator),
                "alert.id": .string(event.alertId.lowercasedText),
                "alert.level": .string(event.level.rawValue),
                "alert.late": .string(event.late ? "true" : "false"),
            ]
        )
    }

    /// A run of passes that each found more alerts due than one pass raises.
    private struct DueAtOnce {
        let started: ContinuousClock.Instant
        var passes = 0
        var raised = 0
    }

    /// The end of such a run.
    private func reportDueAtOnce(_ run: DueAtOnce) {
        let seconds = (ContinuousClock.now - run.started).seconds
        logger.notice(
            "alerts: raised the \(run.raised) alerts that were due at once, in \(run.passes) passes over \(String(format: "%.1f", seconds)) s; none is owed now",
            metadata: [
                "alerts.raised": .stringConvertible(run.raised), "alerts.passes": .stringConvertible(run.passes),
            ]
        )
    }

    /// Runs passes until the task is cancelled: after each, sleeps until the next alert is
    /// due, a case commit or the end of a rebuild rings (then lets ``Options/settleAfterCommit``
    /// pass), or ``Options/maximumSleep`` passes, whichever is first.
    package func run() async {
        // A commit to a case may add, move, meet or cancel a deadline: look again at once. Rung
        // by the committing thread itself: no task is woken per commit and nothing is read. A
        // rebuild's end is heard as changes not known (nil): its deadlines may be due already.
        let observation = store.observeCommits { [doorbell, self] changes in
            if changes?.contains(where: { CaseStreams.caseId(ofStream: $0.streamId) != nil }) ?? true {
                noteCaseCommit()
                doorbell.ring()
            }
        }
        defer { observation.cancel() }
        // Passes that found more due than one pass reads, until one found no more: said once,
        // when all are raised (after a long stop, that takes minutes at 2,000,000 cases).
        var dueAtOnce: DueAtOnce?
        while !Task.isCancelled {
            var sleep = options.maximumSleep
            var backlog = false
            let started = ContinuousClock.now
            do {
                let now = clock()
                // On a reader thread: its reads and its one append never hold a cooperative
                // thread. A pass reads only what is due, so it takes the interactive lane:
                // alerts must not wait behind a long export.
                let pass = try await store.offload(doing: "raise due alerts", lane: .interactive) {
                    try self.raiseDue(now: now)
                }
                figures.schedulerPass(duration: ContinuousClock.now - started, failed: false)
                backlog = pass.backlog
                if backlog || dueAtOnce != nil {
                    var run = dueAtOnce ?? DueAtOnce(started: started)
                    run.passes += 1
                    run.raised += pass.raised.count
                    dueAtOnce = backlog ? run : nil
                    if !backlog { reportDueAtOnce(run) }
                }
                if let due = pass.next {
                    let seconds = max(0, due.timeIntervalSince(clock()))
                    sleep = min(sleep, .milliseconds(Int64((seconds * 1000).rounded(.up))))
                }
            } catch {
                figures.schedulerPass(duration: ContinuousClock.now - started, failed: true)
                if (error as? EventStoreError)?.kind != .interrupted {  // not when the daemon is stopping
                    logger.error("alerts: cannot raise due alerts: \(error); trying again shortly")
                }
                sleep = min(sleep, options.retryAfterFailure)
            }
            // A backlog (alerts that came due while the daemon was down) is raised pass after
            // pass, without waiting for commits to settle.
            if backlog {
                await Task.yield()
                continue
            }
            if await doorbell.wait(upTo: sleep) {
                try? await Task.sleep(for: options.settleAfterCommit)
            }
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
            group.addTask {
                try? await Task.sleep(for: duration)
                return false
            }
            group.addTask {
                await self.waitForRing()
                return !Task.isCancelled
            }
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
