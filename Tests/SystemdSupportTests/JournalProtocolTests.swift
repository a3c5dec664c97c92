import ChildProcess
import Foundation
import Testing
@testable import SystemdSupport
#if canImport(Glibc)
import Glibc
#endif

/// What `JournalLogHandler` really sends, read off the journal's native protocol: the probe
/// logs inside a private mount namespace whose /run holds a stand-in journald socket (a
/// Python receiver), so the host's /run is never touched. Needs root for `unshare --mount`.
@Suite(.timeLimit(.minutes(1)))
struct JournalProtocolTests {
    static let canUnshare = geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")

    /// Receives one datagram on /run/systemd/journal/socket and prints its fields as
    /// NAME=value lines, escaping newlines; handles both the NAME=value and the binary
    /// NAME\n<64-bit length><bytes> forms of the protocol, and a memfd for large entries.
    static let receiver = #"""
        import os, socket, struct, sys
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind("/run/systemd/journal/socket")
        open("/run/receiver-ready", "w").close()
        s.settimeout(10)
        data, ancillary, _, _ = s.recvmsg(1 << 20, socket.CMSG_SPACE(4))
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fd = struct.unpack("i", payload[:4])[0]
                os.lseek(fd, 0, 0)
                data = os.read(fd, 1 << 20)
        i = 0
        while i < len(data):
            end = data.index(b"\n", i)
            line = data[i:end]
            if b"=" in line:
                name, value = line.split(b"=", 1)
                i = end + 1
            else:
                name = line
                size = struct.unpack("<Q", data[end + 1:end + 9])[0]
                value = data[end + 9:end + 9 + size]
                i = end + 9 + size + 1
            print(name.decode() + "=" + value.decode().replace("\\", "\\\\").replace("\n", "\\n"))
        """#

    @Test(.enabled(if: canUnshare, "needs root and unshare(1) for a private /run"))
    func journalHandler_sendsMessagePriorityIdentifierAndIMRFields_overTheNativeProtocol() throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: probePath),
            "build imr-systemd-probe first (swift build)"
        )
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let receiverPath = dir.path("receiver.py")
        try Self.receiver.write(toFile: receiverPath, atomically: true, encoding: .utf8)
        let script = """
            set -e
            mount -t tmpfs tmpfs /run
            mkdir -p /run/systemd/journal
            python3 '\(receiverPath)' > '\(dir.path("fields"))' &
            receiver=$!
            for i in $(seq 1 200); do [ -e /run/receiver-ready ] && break; sleep 0.05; done
            '\(probePath)' journal
            wait $receiver
            """
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        process.arguments = ["--mount", "--propagation", "private", "sh", "-c", script]
        // python3 may live outside /usr/bin (pyenv), so this child gets this process's PATH.
        process.environment = childEnvironment.merging(
            ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]) { _, new in new }
        let errors = Pipe.forChild()
        process.standardError = errors
        try process.start()
        let exit = process.waitForExit()
        let stderrText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        try #require(exit.succeeded, "unshare script failed: \(stderrText)")

        let lines = try String(contentsOfFile: dir.path("fields"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let fields = lines.filter { !$0.hasPrefix("CODE_") }
        #expect(
            fields == [
                "MESSAGE=deadline due\\ntomorrow",
                "PRIORITY=4",
                "SYSLOG_IDENTIFIER=imr-probe",
                "IMR_CASE=ADJ1234567",
                "MESSAGE_ID=\(JournalMessageID.daemonReady)",
            ]
        )
        #expect(lines.contains("CODE_FILE=imr_systemd_probe/main.swift"), "\(lines)")
        #expect(lines.contains { $0.hasPrefix("CODE_LINE=") })
    }
}
