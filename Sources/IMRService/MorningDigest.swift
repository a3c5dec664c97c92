import EventStore
import Foundation
import IMRWire
import Logging
import Varlink
import Workflow

/// One coordinator's morning digest: what is overdue, what is due today and what is due in the
/// six days after, each section in due order, at most ``rowsPerSection`` rows with the count of
/// all of them. `imr-ctl digest` prints it (`io.imr.Deadlines.Digest`), and the daemon sends it
/// to every coordinator once a day at `[alerts] digest_at` (``MorningDigestScheduler``).
///
/// Every section is one page of the coordinator's board on its index (coordinator, due time):
/// a digest costs three index ranges and three bounded counts, whatever the caseload.
package struct MorningDigest: Sendable, Equatable {
    package var coordinator: String
    /// The Pacific date the digest is for.
    package var day: LocalDate
    package var overdue: Section
    package var dueToday: Section
    package var thisWeek: Section

    package struct Section: Sendable, Equatable {
        /// Board rows (io.imr.Deadlines deadline objects), soonest first.
        package var deadlines: [[String: JSONValue]]
        /// All the section's deadlines, counted up to ``DeadlineProjection/countLimit``.
        package var count: Int
        package var countIsAtLeast: Bool
    }

    package static let rowsPerSection = 50

    /// The digest of `coordinator`'s running deadlines at `now`.
    package static func build(in db: ProjectionDatabase, coordinator: String, now: Date) throws -> MorningDigest {
        let today = Pacific.date(of: now)
        let endOfToday = Pacific.instant(today.adding(days: 1)).addingTimeInterval(-1)
        let endOfWeek = Pacific.instant(today.adding(days: 7)).addingTimeInterval(-1)
        let overdue = try DeadlineProjection.boardPage(
            in: db,
            matching: DeadlineBoardFilter(coordinator: coordinator, overdue: true),
            now: now,
            after: nil,
            limit: rowsPerSection
        )
        return MorningDigest(
            coordinator: coordinator,
            day: today,
            overdue: Section(
                deadlines: overdue.deadlines,
                count: overdue.deadlines.count + overdue.remaining,
                countIsAtLeast: overdue.remainingAtLeast
            ),
            dueToday: try section(db, coordinator: coordinator, after: now, through: endOfToday, now: now),
            thisWeek: try section(db, coordinator: coordinator, after: endOfToday, through: endOfWeek, now: now)
        )
    }

    /// The deadlines not yet due at `now`, due after `start` and by `end`: the board's page of
    /// those due by `end`, started after `start` (a cursor past every id due at `start`).
    static func section(
        _ db: ProjectionDatabase,
        coordinator: String,
        after start: Date,
        through end: Date,
        now: Date
    ) throws -> Section {
        // Deadline ids are ASCII: U+007F sorts after every one of them.
        let cursor = DeadlineBoardCursor(dueMicros: start.unixMicroseconds, deadlineId: "\u{7F}")
        let page = try DeadlineProjection.boardPage(
            in: db,
            matching: DeadlineBoardFilter(coordinator: coordinator, overdue: false),
            now: now,
            after: cursor,
            limit: rowsPerSection,
            dueBy: end
        )
        return Section(
            deadlines: page.deadlines,
            count: page.deadlines.count + page.remaining,
            countIsAtLeast: page.remainingAtLeast
        )
    }

    /// The coordinators with at least one running deadline, in name order: one index seek per
    /// coordinator (the next name after the last on the index of running deadlines by
    /// coordinator), so that the daily pass costs what the number of coordinators costs, not
    /// the caseload.
    package static func coordinators(
        in db: ProjectionDatabase,
        after last: String? = nil,
        limit: Int = 1000
    ) throws -> [String] {
        var names: [String] = []
        var previous = last
        while names.count < limit {
            let next = try db.query(
                "SELECT coordinator FROM deadlines INDEXED BY deadlines_coordinator_due WHERE coordinator > ? AND is_open = 1 ORDER BY coordinator LIMIT 1",
                [.text(previous ?? "")]
            ).first?[0].string
            guard let next else { break }
            previous = next
            names.append(next)
        }
        return names
    }

    /// Whether there is nothing to say (no deadline overdue, today or this week).
    package var isEmpty: Bool { overdue.count == 0 && dueToday.count == 0 && thisWeek.count == 0 }

    /// The wire form (io.imr.Deadlines.Digest's reply).
    package var wire: [String: JSONValue] {
        func section(_ s: Section) -> JSONValue {
            .object([
                "deadlines": .array(s.deadlines.map { .object($0) }), "count": .int(Int64(s.count)),
                "countIsAtLeast": .bool(s.countIsAtLeast),
            ])
        }
        return [
            "coordinator": .string(coordinator), "day": .string(day.iso), "overdue": section(overdue),
            "dueToday": section(dueToday),
            "thisWeek": section(thisWeek),
        ]
    }

    /// One line for the journal: "digest for maria, Tue 2024-03-12: 2 overdue, 1 due today, 5 more this week".
    package var summary: String {
        func n(_ s: Section) -> String { "\(s.count)\(s.countIsAtLeast ? "+" : "")" }
        return
            "digest for \(coordinator), \(day.shortLabel): \(n(overdue)) overdue, \(n(dueToday)) due today, \(n(thisWeek)) more this week"
    }
}

/// Sends every coordinator's ``MorningDigest`` once a day at a Pacific time: a journal entry
/// each (MESSAGE_ID ``LogMessageID/morningDigest``, fields IMR_COORDINATOR, IMR_DIGEST_OVERDUE,
/// IMR_DIGEST_DUE_TODAY, IMR_DIGEST_THIS_WEEK), and, when a notification command is set, that
/// command with IMR_DIGEST=1, those variables, and the digest as JSON on stdin. A coordinator
/// with nothing overdue or due this week gets none. A daemon down at the time sends that day's
/// digest when it starts, if it is still the same Pacific day; it keeps, in memory, the last day
/// it sent, so a restart later that day sends it again (at most once per start).
package final class MorningDigestScheduler: Sendable {
    let store: EventStore
    let at: TimeOfDay
    let clock: @Sendable () -> Date
    let logger: Logger
    let deliver: @Sendable (MorningDigest) -> Void

    package init(
        store: EventStore,
        at: TimeOfDay,
        clock: @escaping @Sendable () -> Date,
        logger: Logger,
        deliver: @escaping @Sendable (MorningDigest) -> Void = { _ in }
    ) {
        self.store = store
        self.at = at
        self.clock = clock
        self.logger = logger
        self.deliver = deliver
    }

    /// The instant of the digest time on `day`.
    func instant(on day: LocalDate) -> Date {
        Pacific.instant(day, hour: at.minutes / 60, minute: at.minutes % 60)
    }

    /// Sends the digests of `now`'s day; the number sent.
    @discardableResult
    package func sendAll(now: Date) async throws -> Int {
        var sent = 0
        var after: String?
        while true {
            let last = after
            let names = try await store.read(lane: .bulk) {
                try MorningDigest.coordinators(in: $0, after: last, limit: 100)
            }
            guard !names.isEmpty else { break }
            for name in names {
                let digest = try await store.read(lane: .bulk) {
                    try MorningDigest.build(in: $0, coordinator: name, now: now)
                }
                guard !digest.isEmpty else { continue }
                logger.info(
                    "\(digest.summary)",
                    metadata: [
                        "message.id": .string(LogMessageID.morningDigest), "imr.coordinator": .string(name),
                        "imr.digest.overdue": .string("\(digest.overdue.count)"),
                        "imr.digest.due_today": .string("\(digest.dueToday.count)"),
                        "imr.digest.this_week": .string("\(digest.thisWeek.count)"),
                    ]
                )
                deliver(digest)
                sent += 1
            }
            after = names.last
        }
        return sent
    }

    /// Sends each day's digests at the configured time until cancelled. Started after that
    /// time, it sends the day's digests at once.
    package func run() async {
        var lastDay: LocalDate?
        var waitNoted: LocalDate?
        while !Task.isCancelled {
            let now = clock()
            let today = Pacific.date(of: now)
            if lastDay != today, now >= instant(on: today) {
                // A digest read from a read model being rebuilt would leave deadlines out: it
                // waits for the end of the rebuild.
                let rebuilding = store.rebuildsInProgress()
                if let name = ["deadlines", "alerts"].first(where: { rebuilding[$0] != nil }) {
                    if waitNoted != today {
                        logger.notice("morning digest of \(today.iso) waits: the \(name) read model is being rebuilt")
                        waitNoted = today
                    }
                    try? await Task.sleep(for: .seconds(30))
                    continue
                }
                do {
                    let sent = try await sendAll(now: now)
                    logger.info("morning digest of \(today.iso) sent to \(sent) coordinators")
                    lastDay = today
                } catch {
                    logger.error("morning digest: \(error); trying again in a minute")
                    try? await Task.sleep(for: .seconds(60))
                    continue
                }
            }
            // Wake at the next digest time, at least once a minute (a jump of the wall clock).
            let next = instant(on: lastDay == today ? today.adding(days: 1) : today)
            let wait = min(max(next.timeIntervalSince(clock()), 0.05), 60)
            try? await Task.sleep(for: .milliseconds(Int64(wait * 1000)))
        }
    }

    /// The notification command's delivery of a digest.
    package static func delivery(_ digest: MorningDigest) -> AlertCommandRunner.Delivery {
        AlertCommandRunner.Delivery(
            name: "digest for \(digest.coordinator)",
            metadata: ["imr.coordinator": digest.coordinator],
            environment: [
                "IMR_DIGEST": "1", "IMR_COORDINATOR": digest.coordinator, "IMR_DIGEST_DAY": digest.day.iso,
                "IMR_DIGEST_OVERDUE": "\(digest.overdue.count)", "IMR_DIGEST_DUE_TODAY": "\(digest.dueToday.count)",
                "IMR_DIGEST_THIS_WEEK": "\(digest.thisWeek.count)",
            ],
            json: Data(JSONValue.object(digest.wire).serialized)
        )
    }
}
