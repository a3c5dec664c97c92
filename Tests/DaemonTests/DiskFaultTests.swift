import ChildProcess
import EventStore
import Foundation
import TestSupport
import Testing
import Varlink

#if canImport(Glibc)
import Glibc
#endif

/// A small tmpfs mounted for one test (root only), with helpers to fill it up and free it.
final class SmallDisk: @unchecked Sendable {
    let path: String
    private var fillers: [String] = []

    init(at path: String, megabytes: Int) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let mounted = try run(["mount", "-t", "tmpfs", "-o", "size=\(megabytes)m,mode=0700", "tmpfs", path])
        guard mounted.status == 0 else { throw DaemonFailure("cannot mount a tmpfs at \(path): \(mounted.output)") }
    }

    var freeBytes: Int64 {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return 0 }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

    /// Writes a filler file until only `leaving` bytes are free (0: until the disk is full).
    func fill(leaving: Int64 = 0) {
        let name = path + "/filler-\(fillers.count)"
        fillers.append(name)
        let fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0x5A, count: 16 * 1024)
        var left = freeBytes - leaving
        while left > 0 {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, min(chunk.count, Int(left))) }
            if n <= 0 { break }
            left -= Int64(n)
        }
    }

    /// Removes every filler file: the space returns.
    func free() {
        for name in fillers { unlink(name) }
        fillers.removeAll()
    }

    func unmount() {
        _ = try? run(["umount", "-l", path])
    }
}

private func isRoot() -> Bool { geteuid() == 0 }

/// The daemon on a state directory whose disk fills up: appends are refused with a sentence
/// naming the full disk, reads and `status` go on, nothing acknowledged is lost, an alert
/// that fell due meanwhile is raised once space returns, and no restart is needed.
@Suite(
    .serialized,
    .timeLimit(.minutes(3)),
    .enabled(if: isRoot(), "mounting a small tmpfs needs root (CI runs as root)")
)
struct DiskFaultTests {
    @Test func aFullDiskRefusesAppendsWithItsReason_readsGoOn_andItRecoversWithoutARestart() async throws {
        let daemons = try ShiftedDaemons()
        let disk = try SmallDisk(at: daemons.directory.appendingPathComponent("state").path, megabytes: 8)
        defer {
            daemons.cleanup()
            disk.unmount()
        }
        // Monday: case c1's UR decision falls due Monday 11 March; its reminder is Thursday 08:00.
        let first = try await offThePool { try daemons.start(at: "2024-03-04 10:30:00") }
        try await offThePool { try openCaseWithRFA(try first.client(), "c1", receivedAt: "2024-03-04T10:00") }
        daemons.stop(first)

        // Thursday 07:59:50, ten seconds before the reminder: the disk is nearly full at start
        // and wholly full once the daemon is ready.
        disk.fill(leaving: 512 * 1024)
        let daemon = try await offThePool { try daemons.start(at: "2024-03-07 07:59:50") }
        disk.fill()
        #expect(disk.freeBytes < 64 * 1024)

        let outcome = try await offThePool { () throws -> (acknowledged: [String], refusal: VarlinkError?) in
            let c = try daemon.client()
            var acknowledged: [String] = []
            var refusal: VarlinkError?
            // SQLite may still find room in pages it holds; a few hundred notes of 2 KB exceed it.
            for n in 0..<400 {
                let text = "note \(n) " + String(repeating: "x", count: 2000)
                do {
                    _ = try c.call("io.imr.Cases.AddNote", ["caseId": "c1", "text": .string(text)])
                    acknowledged.append("note \(n) ")
                } catch let error as VarlinkError {
                    refusal = error
                    break
                }
            }
            return (acknowledged, refusal)
        }
        let refusal = try #require(outcome.refusal, "no append was refused on a full disk")
        #expect(refusal.name != "org.varlink.service.MethodNotImplemented", "\(refusal)")
        let sentence = refusal.parameters["message"]?.stringValue ?? ""
        #expect(sentence.contains("full"), "\(refusal)")

        // Reads and status go on while the disk is full.
        try await offThePool {
            let c = try daemon.client()
            #expect(try c.call("io.imr.Admin.Status")["openCases"] == 1)
            let detail = try c.call("io.imr.Cases.Get", ["caseId": "c1"])
            #expect(detail["case"]?.objectValue?["caseId"] == "c1")
        }
        // The reminder's time (08:00) passes while the disk is full.
        try await Task.sleep(for: .seconds(12))
        #expect(!daemon.process.hasExited)

        // Space returns: appends and the reminder go on without a restart.
        disk.free()
        let recovered = try await offThePool { () throws -> (note: Bool, reminder: Bool) in
            let c = try daemon.client()
            _ = try c.call("io.imr.Cases.AddNote", ["caseId": "c1", "text": "after the disk was freed"])
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                if try openAlerts(c).contains(where: { $0["level"] == "reminder" }) { return (true, true) }
                Thread.sleep(forTimeInterval: 0.5)
            }
            return (true, false)
        }
        #expect(recovered.note)
        #expect(
            recovered.reminder,
            "the reminder that fell due while the disk was full was not raised once space returned"
        )
        daemons.stop(daemon)

        // Nothing acknowledged is lost, the chain is intact, each alert is in the log once.
        let store = try EventStore(path: daemons.storePath)
        let notes = try await store.read(stream: "case-c1").filter { $0.type == "NoteAdded" }.map {
            String(decoding: $0.payload, as: UTF8.self)
        }
        await #expect(try store.verify().isIntact)
        store.close()
        for note in outcome.acknowledged {
            #expect(notes.contains { $0.contains(note) }, "acknowledged \(note)was lost")
        }
        #expect(notes.contains { $0.contains("after the disk was freed") })
        let (alerts, _) = try loggedAlerts(daemons.storePath)
        #expect(Set(alerts.map(\.key)).count == alerts.count, "an alert was raised twice")
    }
}
