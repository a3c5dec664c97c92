import Foundation
import Testing
@testable import SystemdSupport

/// The unit files and the code must agree on names the other side cannot check: a mismatch
/// would only show on a real machine, as a daemon that finds no socket or refuses everyone.
@Suite struct DeployFilesTests {
    static let deploy = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("deploy/systemd")

    /// `Key=value` lines of a unit or config file, without comments.
    func settings(_ name: String) throws -> [(key: String, value: String)] {
        let text = try String(contentsOf: Self.deploy.appendingPathComponent(name), encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { return nil }
            return (String(line[..<equals]), String(line[line.index(after: equals)...]))
        }
    }

    func value(_ key: String, in name: String) throws -> String? {
        try settings(name).last { $0.key == key }?.value
    }

    @Test func socketUnit_namesTheDescriptorTheDaemonLooksFor() throws {
        #expect(try value("FileDescriptorName", in: "imr-daemon.socket") == SocketActivation.varlinkName)
        #expect(try value("ListenStream", in: "imr-daemon.socket") == "/run/imr/imr.sock")
        #expect(try value("SocketMode", in: "imr-daemon.socket") == "0660")
        #expect(try value("SocketGroup", in: "imr-daemon.socket") == "imr")
    }

    @Test func serviceUnit_isANotifyServiceWithWatchdogAndReload() throws {
        #expect(try value("Type", in: "imr-daemon.service") == "notify")
        #expect(try value("NotifyAccess", in: "imr-daemon.service") == "main")
        #expect(try value("WatchdogSec", in: "imr-daemon.service") != nil)
        #expect(try value("ExecReload", in: "imr-daemon.service") == "/bin/kill -HUP $MAINPID")
        #expect(try value("ExecStart", in: "imr-daemon.service") == "/usr/local/bin/imr-daemon")
        #expect(try value("StateDirectory", in: "imr-daemon.service") == "imr")
        #expect(try value("RuntimeDirectory", in: "imr-daemon.service") == "imr")
        // Without this, stopping the service deletes /run/imr and the socket unit's socket file.
        #expect(try value("RuntimeDirectoryPreserve", in: "imr-daemon.service") == "yes")
        #expect(try value("User", in: "imr-daemon.service") == "imr")
        // PrivateUsers= would map every client to nobody and break peer-credential roles.
        #expect(try value("PrivateUsers", in: "imr-daemon.service") == nil)
    }

    @Test func sysusers_createsTheUserAndEveryRoleGroup() throws {
        let text = try String(contentsOf: Self.deploy.appendingPathComponent("sysusers.d/imr.conf"), encoding: .utf8)
        let entries = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map {
            $0.split(separator: " ").prefix(2).joined(separator: " ")
        }
        #expect(entries == ["u imr", "g imr-coordinators", "g imr-admins"])
    }
}
