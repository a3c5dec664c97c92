import Foundation
import TestSupport
import Testing
import Varlink

#if canImport(Glibc)
import Glibc
#endif

/// Every Varlink method, called by five peers (root, an admin, a coordinator, a reader and a
/// stranger, told apart by their primary group through `setpriv`), is allowed or refused
/// exactly as README.md's "Who may call what" says; every refusal is logged.
@Suite(
    .serialized,
    .timeLimit(.minutes(3)),
    .enabled(if: geteuid() == 0, "changing uid with setpriv needs root (CI runs as root)")
)
struct AccessMatrixTests {
    enum Peer: String, CaseIterable {
        case root, admin, coordinator, reader, stranger

        /// The role the daemon must give the peer under the test's [access] groups.
        var rank: Int {
            switch self {
            case .root, .admin: 3
            case .coordinator: 2
            case .reader: 1
            case .stranger: 0
            }
        }

        /// setpriv's arguments: uid nobody with a primary group that names the role.
        var launcher: [String] {
            switch self {
            case .root: []
            case .admin: ["setpriv", "--reuid=65534", "--regid=2", "--clear-groups"]  // bin
            case .coordinator: ["setpriv", "--reuid=65534", "--regid=1", "--clear-groups"]  // daemon
            case .reader: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]  // nogroup
            case .stranger: ["setpriv", "--reuid=65534", "--regid=3", "--clear-groups"]  // sys
            }
        }
    }

    /// The least role each method needs (README.md, "Who may call what"): 0 anyone who can
    /// connect, 1 reader, 2 coordinator, 3 admin.
    static let needed: [String: Int] = {
        var table: [String: Int] = [
            "org.varlink.service.GetInfo": 0, "org.varlink.service.GetInterfaceDescription": 0,
            "io.imr.Admin.Status": 1, "io.imr.Admin.Verify": 3, "io.imr.Admin.Backup": 3, "io.imr.Admin.Rebuild": 3,
            "io.imr.Alerts.List": 1, "io.imr.Alerts.Follow": 1, "io.imr.Alerts.Acknowledge": 2,
            "io.imr.Alerts.Snooze": 2, "io.imr.Alerts.Reassign": 2,
            "io.imr.Deadlines.List": 1, "io.imr.Deadlines.ForCase": 1, "io.imr.Deadlines.Digest": 1,
            "io.imr.Cases.List": 1, "io.imr.Cases.Get": 1, "io.imr.Cases.History": 1, "io.imr.Cases.Stats": 1,
            "io.imr.Cases.Search": 1,
            "io.imr.Cases.ImportDetermination": 2,
        ]
        for method in [
            "Open", "ReceiveRFA", "RequestInformation", "ReceiveInformation", "DeferUR", "DecideUR", "NotifyPhysician",
            "ServeWrittenDecision", "ReceiveIMRApplication", "RequestEligibilityInformation",
            "SendEligibilityInformation",
            "FindEligible", "FindIneligible", "AssignIMR", "ReceiveRecords", "RecordDetermination",
            "RecordImplementation",
            "FileAppeal", "ResolveAppeal", "Withdraw", "Close", "Reassign", "AddNote", "Correct",
        ] {
            table["io.imr.Cases." + method] = 2
        }
        return table
    }()

    @Test func everyMethodIsAllowedOrRefusedAsDocumented_andRefusalsAreLogged() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-matrix-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let config = dir.appendingPathComponent("imr-daemon.toml")
        try "[access]\nreaders = [\"nogroup\"]\ncoordinators = [\"daemon\"]\nadmins = [\"bin\"]\n".write(
            to: config,
            atomically: true,
            encoding: .utf8
        )
        let daemon = try DaemonProcess(directory: dir, arguments: ["--config", config.path])
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        chmod(dir.path, 0o755)
        chmod(daemon.socketPath, 0o666)

        // Every method the interface files declare is in the table, and no other.
        let declared = try await offThePool { () -> Set<String> in
            let c = try daemon.client()
            var methods: Set<String> = ["org.varlink.service.GetInfo", "org.varlink.service.GetInterfaceDescription"]
            guard case .array(let names)? = try c.call("org.varlink.service.GetInfo")["interfaces"] else {
                return methods
            }
            for case .string(let name) in names where name != "org.varlink.service" {
                let text =
                    try c.call("org.varlink.service.GetInterfaceDescription", ["interface": .string(name)])[
                        "description"
                    ]?.stringValue ?? ""
                for line in text.split(separator: "\n") where line.hasPrefix("method ") {
                    methods.insert(name + "." + line.dropFirst("method ".count).prefix { $0 != "(" })
                }
            }
            return methods
        }
        #expect(declared == Set(Self.needed.keys))

        let ctl = productsDirectory.appendingPathComponent("imr-ctl").path
        var refusals = 0
        for peer in Peer.allCases {
            for (method, needed) in Self.needed.sorted(by: { $0.key < $1.key }) {
                let parameters = method.hasSuffix("GetInterfaceDescription") ? #"{"interface":"io.imr.Cases"}"# : "{}"
                let outcome = try await offThePool {
                    try run(peer.launcher + [ctl, "call", "--socket", daemon.socketPath, method, parameters])
                }
                let refused = outcome.output.contains("org.varlink.service.PermissionDenied")
                #expect(refused == (peer.rank < needed), "\(peer) \(method): \(outcome.output)")
                if refused { refusals += 1 }
            }
        }
        // Nothing any of them sent changed a case; every refusal was counted.
        let head = try await offThePool { try daemon.client().call("io.imr.Cases.List")["cases"] }
        #expect(head == .array([]))
        let figures = try await offThePool { try daemon.client().call("io.imr.Admin.Status")["figures"] }
        #expect(figures?.objectValue?["service"]?.objectValue?["accessRefusals"] == .int(Int64(refusals)))
        let (_, output) = daemon.stop()
        // Logged, at most once per uid per 10 s (the rest counted in the next line).
        let logged = output.split(separator: "\n").filter { $0.contains("refused") && $0.contains("uid 65534") }
        #expect(logged.count >= 1, "refusals are logged")
        #expect(logged.allSatisfy { $0.contains("MESSAGE_ID=509ce2dd2eb04ec895c5d80c9a4a2f11") }, "\(logged)")
        #expect(refusals > 0)
    }
}
