import EventStore
import Foundation
import IMRWire
import Varlink
import Workflow

/// `io.imr.Deadlines`: the deadline board and a case's deadlines.
package struct DeadlinesInterface: VarlinkHandler {
    package let interface = try! VarlinkInterface(
        description: String(decoding: PackageResources.io_imr_Deadlines_varlink, as: UTF8.self)
    )
    let service: CaseService
    let access: AccessControl
    let clock: @Sendable () -> Date
    let calculator: DeadlineCalculator
    /// The alert lead times, for the alert schedule `List` gives each deadline.
    let alertPolicy: AlertPolicy

    package init(
        service: CaseService,
        access: AccessControl,
        calculator: DeadlineCalculator = .init(),
        alertPolicy: AlertPolicy = .standard,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.service = service
        self.access = access
        self.calculator = calculator
        self.alertPolicy = alertPolicy
        self.clock = clock
    }

    /// Checked by the server before any parameter is decoded: every method reads.
    package func admit(member: String, context: VarlinkCallContext) throws {
        try access.require(.reader, context, method: "io.imr.Deadlines.\(member)")
    }

    package func error(for failure: any Error, in call: VarlinkCall) -> VarlinkError {
        ServiceFailure.error(for: failure, interface: interface.name)
    }

    package func handle(
        _ call: VarlinkCall,
        context: VarlinkCallContext,
        replier: VarlinkReplier
    ) async throws -> [String: JSONValue] {
        do {
            return try await answer(call, replier: replier)
        } catch let error as VarlinkError where error.name == "io.imr.Cases.CaseNotFound" {
            throw await CasesInterface.withSuggestions(error, store: service.store)
        }
    }

    func answer(_ call: VarlinkCall, replier: VarlinkReplier) async throws -> [String: JSONValue] {
        switch call.member {
        case "List":
            let filter = try WireFormat.decode(DeadlineBoardFilter.self, from: call)
            _ = try CoordinatorFilter.checked(filter.coordinator, errorName: "io.imr.Cases.InvalidValue")
            if let days = filter.withinDays, !(0...36_500).contains(days) {
                throw VarlinkError(
                    "io.imr.Cases.InvalidValue",
                    parameters: [
                        "parameter": "withinDays",
                        "message": .string("\(days) is not a number of days from 0 to 36500"),
                    ]
                )
            }
            if let rule = filter.rule, RuleID(rawValue: rule) == nil {
                throw VarlinkError(
                    "io.imr.Cases.InvalidValue",
                    parameters: [
                        "parameter": "rule",
                        "message": .string(
                            "'\(rule)' is not a rule id; known: \(RuleID.allCases.map(\.rawValue).joined(separator: ", "))"
                        ),
                    ]
                )
            }
            try await CasesInterface.requireCase(filter.caseId, in: service.store)
            let withCase = filter.withCase == true
            try ReadModelGate.require(withCase ? ["deadlines", "case_list"] : ["deadlines"], of: service.store)
            let paging = PagedReplies<DeadlineBoardCursor>(
                invalidValue: "io.imr.Cases.InvalidValue",
                noun: "deadlines",
                defaultPage: DeadlineProjection.defaultPage,
                maximumPage: DeadlineProjection.maximumPage,
                parse: { DeadlineBoardCursor(text: $0) },
                text: \.text
            )
            let limit = try paging.pageSize(filter.limit)
            // One clock for every page of a streamed board: a deadline does not turn from
            // pending to missed between two pages of one answer.
            let (store, now, withAlerts) = (
                service.store, clock(), filter.withAlerts == true
            )
            return try await paging.answer(
                from: try paging.cursor(filter.after),
                streaming: call.more == true,
                replier: replier,
                store: store
            ) { [self] from in
                // A row that gains nothing but its status and coordinator is written from its
                // stored text (spliced), not parsed and printed again.
                let spliced = !withCase && !withAlerts
                let page = try store.read { db in
                    var page = try DeadlineProjection.boardPage(
                        in: db,
                        matching: filter,
                        now: now,
                        after: from,
                        limit: limit,
                        spliced: spliced
                    )
                    if withCase {
                        page.deadlines = try CaseListProjection.withClaimNumberAndStage(page.deadlines, in: db)
                    }
                    return page
                }
                let rows =
                    spliced
                    ? page.wire
                    : (withAlerts ? try page.deadlines.map(withAlertSchedule) : page.deadlines).map { .object($0) }
                return (
                    [
                        "deadlines": .array(rows),
                        "remaining": .int(Int64(page.remaining)), "remainingAtLeast": .bool(page.remainingAtLeast),
                    ], page.next
                )
            }
        case "Digest":
            let p = try WireFormat.decode(DigestRequest.self, from: call)
            _ = try CoordinatorFilter.checked(p.coordinator, errorName: "io.imr.Cases.InvalidValue")
            try ReadModelGate.require(["deadlines", "alerts"], of: service.store)
            let now = clock()
            let digest = try await service.store.read(lane: .interactive) {
                try MorningDigest.build(in: $0, coordinator: p.coordinator, now: now)
            }
            return digest.wire
        case "ForCase":
            let ref = try WireFormat.decode(DeadlinesForCaseRequest.self, from: call)
            let state: CaseState
            do { state = try await service.state(of: CaseID(ref.caseId)) } catch {
                if case .caseNotFound = error {
                    throw VarlinkError("io.imr.Cases.CaseNotFound", parameters: ["caseId": .string(ref.caseId)])
                }
                throw error
            }
            let deadlines = DeadlineEngine.deadlines(for: state, now: clock(), calculator: calculator)
            return ["deadlines": .array(deadlines.map(\.wireJSON))]
        default:
            throw VarlinkError.methodNotImplemented(call.method)
        }
    }

    /// A board row with `alerts`: each level the deadline alerts at and when, by the daemon's policy.
    private func withAlertSchedule(_ row: [String: JSONValue]) throws -> [String: JSONValue] {
        var row = row
        let deadline = try WireFormat.valueDecoder.decode(CaseDeadline.self, from: .object(row))
        row["alerts"] = .array(
            alertPolicy.schedule(for: deadline, calculator: calculator).map {
                .object(["level": .string($0.level.rawValue), "at": .string(Pacific.rfc3339($0.at))])
            }
        )
        return row
    }
}
