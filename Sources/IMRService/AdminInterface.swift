import EventStore
import Foundation
import Logging
import Varlink
import Workflow

/// `io.imr.Admin`: status, verification, backup, projection rebuilds.
public struct AdminInterface: VarlinkHandler {
    public let interface = try! VarlinkInterface(description: String(decoding: PackageResources.io_imr_Admin_varlink, as: UTF8.self))
    let store: EventStore
    let access: AccessControl
    let version: String
    let startedAt: Date
    let clock: @Sendable () -> Date
    let logger: Logger

    public init(store: EventStore, access: AccessControl, version: String, startedAt: Date,
                clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger = Logger(label: "imr.admin", factory: { _ in SwiftLogNoOpLogHandler() })) {
        self.store = store
        self.access = access
        self.version = version
        self.startedAt = startedAt
        self.clock = clock
        self.logger = logger
    }

    private var log: (String) -> Void { { [logger] in logger.notice("\($0)") } }

    struct BackupParameters: Decodable { let path: String }
    struct RebuildParameters: Decodable { let projection: String? }

    /// Checked by the server before any parameter is decoded (handle checks again).
    public func admit(member: String, context: VarlinkCallContext) throws {
        try access.require(member == "Status" ? .reader : .admin, context, method: "io.imr.Admin.\(member)", log: log)
    }

    public func error(for failure: any Error, in call: VarlinkCall) -> VarlinkError {
        ServiceFailure.error(for: failure, interface: interface.name)
    }

    public func handle(_ call: VarlinkCall, context: VarlinkCallContext, replier: VarlinkReplier) async throws -> [String: JSONValue] {
        switch call.member {
        case "Status":
            try access.require(.reader, context, method: call.method, log: log)
            let status = try AdminInterface.status(store: store, version: version, startedAt: startedAt, now: clock())
            return try WireFormat.object(status)
        case "Verify":
            try access.require(.admin, context, method: call.method, log: log)
            let report = try store.verify()
            var reply: [String: JSONValue] = [
                "eventsChecked": .int(report.eventsChecked), "headPosition": .int(report.headPosition), "intact": .bool(report.isIntact),
            ]
            reply["firstBadPosition"] = report.firstBadPosition.map { .int($0) }
            reply["problem"] = report.problem.map { .string($0) }
            if !report.isIntact { log("verify found the log altered at position \(report.firstBadPosition ?? 0): \(report.problem ?? "")") }
            return reply
        case "Backup":
            try access.require(.admin, context, method: call.method, log: log)
            let p = try WireFormat.decode(BackupParameters.self, from: call)
            guard p.path.hasPrefix("/") else {
                throw VarlinkError("io.imr.Admin.BackupFailed", parameters: ["path": .string(p.path), "message": "give an absolute path"])
            }
            do {
                let report = try store.backup(to: p.path)
                log("backup written to \(report.path): \(report.events) events")
                return ["path": .string(report.path), "events": .int(report.events), "headPosition": .int(report.headPosition)]
            } catch {
                throw VarlinkError("io.imr.Admin.BackupFailed", parameters: ["path": .string(p.path), "message": .string(error.message)])
            }
        case "Rebuild":
            try access.require(.admin, context, method: call.method, log: log)
            let p = try WireFormat.decode(RebuildParameters.self, from: call)
            let known = store.projectionCheckpoints().keys.sorted()
            let names = p.projection.map { [$0] } ?? known
            for name in names {
                guard known.contains(name) else {
                    throw VarlinkError("io.imr.Admin.ProjectionNotFound", parameters: ["projection": .string(name), "known": .array(known.map { .string($0) })])
                }
                try store.rebuildProjection(named: name)
                log("projection \(name) rebuilt from position 0")
            }
            return ["rebuilt": .array(names.map { .string($0) })]
        default:
            throw VarlinkError.methodNotImplemented(call.method)
        }
    }

    /// What the daemon reports about itself.
    public struct Status: Codable, Sendable, Equatable {
        public struct Projection: Codable, Sendable, Equatable { public var name: String; public var checkpoint: Int64 }
        public var version: String
        public var startedAt: Date
        public var uptimeSeconds: Int64
        public var databasePath: String
        public var databaseBytes: Int64
        public var headPosition: Int64
        public var openCases: Int64
        public var projections: [Projection]
    }

    public static func status(store: EventStore, version: String, startedAt: Date, now: Date) throws -> Status {
        let bytes = ["", "-wal"].reduce(Int64(0)) { total, suffix in
            let size = (try? FileManager.default.attributesOfItem(atPath: store.path + suffix)[.size] as? NSNumber)?.int64Value ?? 0
            return total + size
        }
        let open = try store.read { try $0.query("SELECT COUNT(*) FROM case_list WHERE is_open = 1").first?[0].int64 ?? 0 }
        return Status(
            version: version, startedAt: startedAt, uptimeSeconds: Int64(now.timeIntervalSince(startedAt)), databasePath: store.path,
            databaseBytes: bytes, headPosition: try store.headPosition(), openCases: open,
            projections: store.projectionCheckpoints().sorted { $0.key < $1.key }.map { Status.Projection(name: $0.key, checkpoint: $0.value) })
    }
}
