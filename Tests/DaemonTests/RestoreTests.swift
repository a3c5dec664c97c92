import EventStore
import Foundation
import TestSupport
import Testing
import Varlink

#if canImport(Glibc)
import Glibc
#endif

/// A backup restored into a new state directory is the same log: the same hash head, the same
/// read models, verify clean; a truncated file is refused with its reason.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct RestoreTests {
    @Test func aBackupRestoredIntoANewStateDirectoryServesTheSameLog() async throws {
        let first = try DaemonProcess()
        defer { first.cleanup() }
        _ = try #require(await offThePool { first.waitUntilReady() })
        let (snapshot, backupPath) = try await offThePool { () throws -> ([JSONValue], String) in
            let c = try first.client()
            for n in 1...5 { try openCaseWithRFA(c, "R-\(n)", receivedAt: "2024-03-0\(n)T10:00") }
            _ = try c.call("io.imr.Cases.AddNote", ["caseId": "R-2", "text": "before the backup"])
            let backup = try c.call("io.imr.Admin.Backup", ["name": "restore-me.sqlite"])
            // Appends after the backup are not in it.
            _ = try c.call("io.imr.Cases.AddNote", ["caseId": "R-3", "text": "after the backup"])
            return ([.object(backup)], backup["path"]?.stringValue ?? "")
        }
        _ = first.stop()
        let backupHead = snapshot[0].objectValue?["headPosition"]

        // Restore: the copy becomes the event log of a new state directory.
        let restored = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-restored-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(
            at: restored.appendingPathComponent("state"),
            withIntermediateDirectories: true
        )
        try FileManager.default.copyItem(
            atPath: backupPath,
            toPath: restored.appendingPathComponent("state/imr.sqlite").path
        )
        let second = try DaemonProcess(directory: restored)
        defer { second.cleanup() }
        _ = try #require(await offThePool { second.waitUntilReady() })
        try await offThePool {
            let c = try second.client()
            let verify = try c.call("io.imr.Admin.Verify")
            #expect(verify["intact"] == .bool(true))
            // At least the backup's head: the restored daemon may raise alerts that are overdue by now.
            func int(_ v: JSONValue?) -> Int? { if case .int(let i)? = v { Int(i) } else { nil } }
            #expect((int(verify["headPosition"]) ?? 0) >= (int(backupHead) ?? Int.max))
            let lists = { () throws -> [JSONValue] in
                [.object(try c.call("io.imr.Cases.List")), .object(try c.call("io.imr.Deadlines.List"))]
            }
            let served = try lists()
            _ = try c.call("io.imr.Admin.Rebuild")
            #expect(try lists() == served, "the restored read models differ from a rebuild")
            let notes = try c.call("io.imr.Cases.Get", ["caseId": "R-2"])["case"]?.objectValue?["notes"]
            #expect("\(String(describing: notes))".contains("before the backup"))
            let after = try c.call("io.imr.Cases.Get", ["caseId": "R-3"])["case"]?.objectValue?["notes"]
            #expect(!"\(String(describing: after))".contains("after the backup"))
        }
        // The hash head of the restored log is the backup's.
        _ = second.stop()
        let original = try EventStore(path: first.storePath)
        let copy = try EventStore(path: second.storePath)
        defer {
            original.close()
            copy.close()
        }
        let head = try #require(backupHead.flatMap { if case .int(let i) = $0 { Int64(i) } else { nil } })
        await #expect(
            try original.readAll(from: head, limit: 1).first?.hash == copy.readAll(from: head, limit: 1).first?.hash
        )
    }

    @Test func aTruncatedFileIsRefusedAtStartWithItsReason() async throws {
        let first = try DaemonProcess()
        defer { first.cleanup() }
        _ = try #require(await offThePool { first.waitUntilReady() })
        try await offThePool {
            let c = try first.client()
            for n in 1...40 { try openCaseWithRFA(c, "T-\(n)", receivedAt: "2024-03-04T10:00") }
        }
        _ = first.stop()
        // Cut the file in half, as a failed copy or a full disk during a restore would.
        let size = try #require(try FileManager.default.attributesOfItem(atPath: first.storePath)[.size] as? NSNumber)
            .intValue
        #expect(truncate(first.storePath, off_t(size / 2)) == 0)
        let second = try DaemonProcess(directory: first.directory)
        let (status, output) = second.wait()
        #expect(status != 0)
        #expect(
            output.contains("imr.sqlite")
                && (output.contains("corrupt") || output.contains("malformed") || output.contains("altered")),
            "\(output)"
        )
    }
}
