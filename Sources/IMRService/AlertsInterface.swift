import EventStore
import Foundation
import IMRWire
import Logging
import Varlink
import Workflow

/// `io.imr.Alerts`: open alerts, a live feed of them, and acknowledging, snoozing and
/// reassigning them (each recorded as an event on the alert's stream).
package struct AlertsInterface: VarlinkHandler {
    package let interface = try! VarlinkInterface(
        description: String(decoding: PackageResources.io_imr_Alerts_varlink, as: UTF8.self)
    )
    let store: EventStore
    let access: AccessControl
    let clock: @Sendable () -> Date
    let logger: Logger
    let stopping = Latch()
    /// How long a follower sleeps at most before it looks at the clock again for snoozes that
    /// ended (a snooze set meanwhile, or a jump of the wall clock, is noticed within this).
    let snoozeCheck: Duration
    /// The live alerts of all followers, each into its own bounded queue.
    let feed: AlertFeed
    let replayPage: Int

    /// - Parameters:
    ///   - maximumFollowers: `Follow` calls at once (`server.max_followers`); more get `TooManyFollowers`.
    ///   - followerQueue: replies a follower may leave unread before it gets `FollowerTooSlow`
    ///     (`server.follower_queue`).
    ///   - replayPage: open alerts read at a time for a new follower's replay.
    package init(
        store: EventStore,
        access: AccessControl,
        clock: @escaping @Sendable () -> Date = { Date() },
        snoozeCheck: Duration = .seconds(60),
        maximumFollowers: Int = 128,
        followerQueue: Int = 1024,
        replayPage: Int = AlertProjection.maximumPage,
        logger: Logger = Logger(label: "imr.alerts", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.feed = AlertFeed(
            store: store,
            maximumFollowers: maximumFollowers,
            queueCapacity: followerQueue,
            logger: logger
        )
        self.store = store
        self.access = access
        self.clock = clock
        self.snoozeCheck = snoozeCheck
        self.replayPage = max(1, replayPage)
        self.logger = logger
    }

    /// Ends every `Follow` stream (with a last reply) and refuses new ones: the daemon calls
    /// this before it stops, since a follower's call would otherwise never finish.
    package func stopFollowers() {
        stopping.open()
        feed.stop()
    }

    /// Followers now (tests).
    package var followerCount: Int { feed.followerCount }

    /// The followers' feed's state, for a diagnosis in tests.
    package var feedDiagnosis: String { feed.diagnosis }

    /// Checked by the server before any parameter is decoded: reading for List and Follow,
    /// coordinating for the rest.
    package func admit(member: String, context: VarlinkCallContext) throws {
        let role: Role = member == "List" || member == "Follow" ? .reader : .coordinator
        try access.require(role, context, method: "io.imr.Alerts.\(member)")
    }

    package func error(for failure: any Error, in call: VarlinkCall) -> VarlinkError {
        ServiceFailure.error(for: failure, interface: interface.name)
    }

    package func handle(
        _ call: VarlinkCall,
        context: VarlinkCallContext,
        replier: VarlinkReplier
    ) async throws -> [String: JSONValue] {
        switch call.member {
        case "List":
            let request = try WireFormat.decode(AlertListRequest.self, from: call)
            let filter = try listFilter(request, coordinator: try coordinatorFilter(call, context))
            try await CasesInterface.requireCase(filter.caseId, in: store)
            try ReadModelGate.require(["alerts", "deadlines"], of: store, interface: "io.imr.Alerts")
            let order = filter.order
            let paging = PagedReplies<AlertCursor>(
                invalidValue: "io.imr.Alerts.InvalidValue",
                noun: "alerts",
                defaultPage: AlertProjection.defaultPage,
                maximumPage: AlertProjection.maximumPage,
                parse: { AlertCursor(text: $0, order: order) },
                text: \.text
            )
            let limit = try paging.pageSize(request.limit)
            let (store, now) = (self.store, clock())
            return try await paging.answer(
                from: try paging.cursor(request.after),
                streaming: call.more == true,
                replier: replier,
                store: store
            ) { from in
                let page = try store.read {
                    try AlertProjection.openPage(in: $0, matching: filter, now: now, after: from, limit: limit)
                }
                return (
                    [
                        "alerts": .array(page.alerts.map { .raw(RawJSON(trusted: $0.wireBytes)) }),
                        "remaining": .int(Int64(page.remaining)), "remainingAtLeast": .bool(page.remainingAtLeast),
                    ], page.next
                )
            }
        case "Follow":
            guard replier.more else { throw VarlinkError.expectedMore }
            return try await follow(coordinator: try coordinatorFilter(call, context), replier: replier)
        case "Acknowledge":
            let ref = try WireFormat.decode(AcknowledgeAlertRequest.self, from: call)
            let id = try alertId(ref.alertId)
            let actor = AccessPolicy.actor(of: context.peer)
            let now = clock()
            return [
                "alert": .object(
                    try await record(id, by: actor) { view in
                        view.acknowledgedAt != nil
                            ? nil : .acknowledged(AlertAcknowledged(alertId: id, by: actor.name, at: now))
                    }.wire
                )
            ]
        case "Snooze":
            let request = try WireFormat.decode(SnoozeAlertRequest.self, from: call)
            let id = try alertId(request.alertId)
            let now = clock()
            guard let until = WireFormat.instant(request.until) else {
                throw invalid(
                    "until",
                    "'\(request.until)' is not an instant: use RFC 3339 (2024-03-01T16:10:00-08:00) or YYYY-MM-DDTHH:MM in Pacific time"
                )
            }
            guard until > now else {
                throw invalid(
                    "until",
                    "\(Pacific.rfc3339(until)) is not in the future (now is \(Pacific.rfc3339(now))); snooze until a later time"
                )
            }
            let actor = AccessPolicy.actor(of: context.peer)
            return [
                "alert": .object(
                    try await record(id, by: actor) { view in
                        if let by = view.acknowledgedBy {
                            throw VarlinkError(
                                "io.imr.Alerts.AlreadyAcknowledged",
                                parameters: ["alertId": .string(request.alertId), "by": .string(by)]
                            )
                        }
                        return .snoozed(AlertSnoozed(alertId: id, until: until, by: actor.name, at: now))
                    }.wire
                )
            ]
        case "Reassign":
            let request = try WireFormat.decode(ReassignAlertRequest.self, from: call)
            let id = try alertId(request.alertId)
            let coordinator = request.coordinator.trimmingCharacters(in: .whitespaces)
            guard !coordinator.isEmpty else {
                throw invalid("coordinator", "the coordinator is empty; give a user name")
            }
            do { try CommandValues.coordinator(coordinator) } catch { throw invalid(error.field, error.message) }
            let actor = AccessPolicy.actor(of: context.peer)
            let now = clock()
            return [
                "alert": .object(
                    try await record(id, by: actor) { view in
                        view.coordinator == coordinator
                            ? nil
                            : .reassigned(
                                AlertReassigned(alertId: id, coordinator: coordinator, by: actor.name, at: now)
                            )
                    }.wire
                )
            ]
        default:
            throw VarlinkError.methodNotImplemented(call.method)
        }
    }

    private func invalid(_ parameter: String, _ message: String) -> VarlinkError {
        VarlinkError(
            "io.imr.Alerts.InvalidValue",
            parameters: ["parameter": .string(parameter), "message": .string(message)]
        )
    }

    private func coordinatorFilter(_ call: VarlinkCall, _ context: VarlinkCallContext) throws -> String? {
        let filter = try WireFormat.decode(AlertFollowRequest.self, from: call)
        if filter.mine == true {
            if filter.coordinator != nil { throw invalid("coordinator", "give either mine or coordinator, not both") }
            return AccessPolicy.actor(of: context.peer).name
        }
        return try CoordinatorFilter.checked(filter.coordinator, errorName: "io.imr.Alerts.InvalidValue")
    }

    /// `List`'s filters and order, each checked: a case id as the log holds them, a known level
    /// and rule, an id's start of at least 4 hex digits.
    private func listFilter(_ request: AlertListRequest, coordinator: String?) throws -> AlertFilter {
        var filter = AlertFilter(coordinator: coordinator)
        if let caseId = request.caseId {
            do { filter.caseId = try CommandValues.caseId(caseId).rawValue } catch {
                throw invalid(error.field, error.message)
            }
        }
        filter.level = try choice(request.level, parameter: "level", what: "an alert level")
        filter.rule = try choice(request.rule, parameter: "rule", what: "a rule id")
        if let text = request.alertIdPrefix {
            let prefix = text.lowercased()
            guard prefix.utf8.count <= 36, prefix.utf8.allSatisfy({ Self.idCharacters.contains($0) }),
                prefix.utf8.filter({ $0 != UInt8(ascii: "-") }).count >= 4
            else {
                throw invalid(
                    "alertIdPrefix",
                    "'\(text.prefix(64))' is not the start of an alert id: give at least 4 of its hex digits (0-9 and a-f, hyphens as in the id), as imr-ctl alerts shows them"
                )
            }
            filter.alertIdPrefix = prefix
        }
        filter.order = try choice(request.order, parameter: "order", what: "an order of alerts") ?? .raised
        return filter
    }

    /// The value `text` names among `Value`'s; nil for none given.
    private func choice<Value: RawRepresentable & CaseIterable>(
        _ text: String?,
        parameter: String,
        what: String
    ) throws -> Value? where Value.RawValue == String {
        guard let text else { return nil }
        guard let value = Value(rawValue: text) else {
            throw invalid(
                parameter,
                "'\(text.prefix(64))' is not \(what); give one of: \(Value.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        return value
    }

    /// What an alert id is written with (lower case).
    private static let idCharacters = Set("0123456789abcdef-".utf8)

    private func alertId(_ text: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else {
            throw invalid("alertId", "'\(text)' is not an alert id (a UUID); list alerts with imr-ctl alerts --all")
        }
        return id
    }

    /// Appends the event `decide` makes from the alert's current view (none: nothing to
    /// record), at the stream version that was read, with `actor` in its metadata as every
    /// case event has it, and returns the alert as it now is.
    private func record(
        _ id: UUID,
        by actor: Actor,
        _ decide: @escaping @Sendable (AlertView) throws -> AlertEvent?
    ) async throws -> AlertView {
        let stream = AlertStreams.streamId(id)
        // Read, decided and appended in the writer's transaction: nobody acts on it in between.
        return try await store.write { context in
            let version = try context.lastEvent(of: stream)?.version ?? 0
            guard version > 0, let view = try AlertProjection.alert(id, in: context.database) else {
                throw VarlinkError(
                    "io.imr.Alerts.AlertNotFound",
                    parameters: ["alertId": .string(id.lowercasedText)]
                )
            }
            guard let event = try decide(view) else { return view }
            let payload = try AlertEventCodec.encode(event)
            try context.append(
                to: stream,
                expected: .exact(version),
                events: [
                    NewEvent(
                        type: event.typeName,
                        schemaVersion: AlertEventCodec.schemaVersion,
                        payload: payload,
                        metadata: EventMetadata(actor: actor.label)
                    )
                ]
            )
            return try AlertProjection.alert(id, in: context.database) ?? view
        }
    }

    /// Replays the open alerts, then streams each newly raised one and each whose snooze ended,
    /// until the daemon stops or the client goes away (the server then cancels the call). New
    /// alerts come through the shared ``AlertFeed`` into this follower's bounded queue; a
    /// follower that lets it fill up gets `FollowerTooSlow`.
    private func follow(coordinator: String?, replier: VarlinkReplier) async throws -> [String: JSONValue] {
        guard let queue = try feed.register(coordinator: coordinator) else { return ["replayed": false] }
        defer { feed.unregister(queue) }
        let start = clock()
        let head = try await store.read { db in
            try db.query("SELECT COALESCE(MAX(position), 0) FROM events").first?[0].int64 ?? 0
        }
        // The open alerts up to the head, a page at a time (each sent before the next is read);
        // those raised since come through the feed.
        var after: AlertCursor? = nil
        replay: while true {
            let from = after
            let page = try await store.read {
                try AlertProjection.openPage(
                    in: $0,
                    matching: AlertFilter(coordinator: coordinator),
                    now: start,
                    after: from,
                    limit: replayPage,
                    counting: false
                )
            }
            for alert in page.alerts {
                guard alert.position <= head else { break replay }
                try await replier.yield(["alert": .object(alert.wire), "replayed": true])
            }
            guard let next = page.next else { break }
            after = next
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [store, clock, snoozeCheck] in
                // Snoozed alerts come back when their snooze ends, if still open by then.
                var since = start
                while !Task.isCancelled {
                    let after = since
                    let next = try await store.read { try AlertProjection.nextSnoozeEnd(in: $0, after: after) }
                    let wait = min(next.map { $0.timeIntervalSince(clock()) } ?? .infinity, snoozeCheck.seconds)
                    if wait > 0 { try await Task.sleep(for: .milliseconds(Int64((wait * 1000).rounded(.up)))) }
                    let now = clock()
                    guard now > since else {
                        since = now
                        continue
                    }  // the wall clock went back: look again from here
                    let ended = try await store.read { [since] in
                        try AlertProjection.snoozesEnded(in: $0, coordinator: coordinator, after: since, upTo: now)
                    }
                    for view in ended {
                        guard
                            queue.post(.init(position: .max, reply: ["alert": .object(view.wire), "replayed": false]))
                        else { return }
                    }
                    since = now
                }
            }
            group.addTask { [stopping] in
                await stopping.wait()
                queue.finish()
            }
            // The writer: one reply at a time, in the order they were queued. Alerts the
            // replay already had (the feed may lag behind the replay's read) are skipped.
            for await item in queue.items where item.position > head {
                try await replier.yield(item.reply)
            }
            group.cancelAll()
        }
        if queue.overflowed {
            throw VarlinkError(
                "io.imr.Alerts.FollowerTooSlow",
                parameters: [
                    "queued": .int(Int64(queue.capacity)),
                    "message": .string(
                        "this follower did not read its alerts as fast as they came (\(queue.capacity) waited); follow again to be replayed the open alerts"
                    ),
                ]
            )
        }
        if stopping.isOpen || Task.isCancelled { return ["replayed": false] }
        throw VarlinkError(
            "io.imr.Alerts.InternalError",
            parameters: [
                "message": .string("the daemon's alert feed stopped (journalctl -u imr-daemon says why); follow again")
            ]
        )
    }
}
