import ChildProcess
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.timeLimit(.minutes(1))) struct ChildProcessTests {
    /// `sh -c SCRIPT`, started; its stdout pipe.
    func shell(_ script: String) throws -> (SpawnedProcess, Pipe) {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        let out = Pipe.forChild()
        process.standardOutput = out
        process.standardInput = FileHandle.nullDevice
        try process.start()
        return (process, out)
    }

    /// A child that leaves a grandchild behind holding every descriptor it inherited (as a
    /// concurrently started daemon can hold another child's): Foundation's own reaper hears of
    /// the exit only when the grandchild ends too; waitForExit sees it at once.
    @Test func aChildIsReapedWhenItEndsEvenIfAGrandchildKeepsItsDescriptors() throws {
        let (process, out) = try shell("sleep 30 >/dev/null 2>&1 & echo $!; exit 3")
        let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        let grandchild = try #require(pid_t(line.trimmingCharacters(in: .whitespacesAndNewlines)), "no pid in \(line)")
        defer { kill(grandchild, SIGKILL) }
        let started = Date()
        let exit = process.waitForExit(seconds: 20)
        #expect(exit == ChildExit(status: 3, signalled: false))
        #expect(Date().timeIntervalSince(started) < 10, "waited until the grandchild ended")
        #expect(process.hasExited)
        #expect(process.poll() == exit, "a second look gives the same exit")
    }

    /// The child keeps only its three standard streams: a descriptor the parent opened without
    /// close-on-exec is closed in it (Foundation listed /proc/self/fd to close them, and its
    /// listing read past its buffer now and then: a crash); its environment, arguments and
    /// stdin are the ones given, nil stdin being /dev/null.
    @Test func aChildGetsOnlyItsStandardStreams_itsEnvironment_andItsArguments() throws {
        let leaked = open("/dev/null", O_RDONLY)  // no O_CLOEXEC
        #expect(leaked > 2)
        defer { close(leaked) }
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [
            "-c", "[ -e /proc/$$/fd/\(leaked) ] && echo inherited || echo closed; echo \"$IMR_X $1\"; cat", "sh",
            "two words",
        ]
        process.environment = ["IMR_X": "x=1", "PATH": "/usr/bin:/bin"]
        process.standardInput = nil
        let out = Pipe.forChild()
        process.standardOutput = out
        try process.start()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.waitForExit() == ChildExit(status: 0, signalled: false))
        #expect(text == "closed\nx=1 two words\n")
        #expect(!process.isRunning && process.processIdentifier > 0)
    }

    @Test func aSignalledChildSaysWhichSignal() throws {
        let (process, _) = try shell("kill -TERM $$; sleep 5")
        let exit = process.waitForExit()
        #expect(exit == ChildExit(status: SIGTERM, signalled: true))
        #expect(exit.description == "killed by signal \(SIGTERM)")
        #expect(!exit.succeeded)
    }

    @Test func killAndWaitEndsARunningChildAndLeavesAnEndedOneAlone() throws {
        let (running, _) = try shell("sleep 30")
        #expect(running.poll() == nil)
        #expect(running.waitForExit(seconds: 0.2) == nil, "a running child is not reported ended")
        #expect(running.killAndWait() == ChildExit(status: SIGKILL, signalled: true))

        let (ended, _) = try shell("exit 0")
        #expect(ended.waitForExit().succeeded)
        // Its pid is free for reuse: a second kill must not be sent.
        #expect(ended.killAndWait() == ChildExit(status: 0, signalled: false))
    }

    /// Pipes made for one child are close-on-exec: a child started by another thread at the same
    /// moment (here with a bare posix_spawn, which closes nothing, as a start that looked for
    /// open descriptors just before the pipe was made) cannot hold them open, so the reader sees
    /// end-of-file when its own child ends.
    @Test func aPipeMadeForOneChildIsNotInheritedByAnother() throws {
        let out = Pipe.forChild()
        var other: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("30"), nil]
        defer { argv.forEach { free($0) } }
        #expect(posix_spawn(&other, "/bin/sleep", nil, nil, argv, environ) == 0)
        defer {
            kill(other, SIGKILL)
            var status: Int32 = 0
            waitpid(other, &status, 0)
        }
        let first = SpawnedProcess()
        first.executableURL = URL(fileURLWithPath: "/bin/sh")
        first.arguments = ["-c", "echo one"]
        first.standardOutput = out
        try first.start()
        let read = DispatchSemaphore(value: 0)
        let box = Collected()
        Thread.detachNewThread {
            box.set(out.fileHandleForReading.readDataToEndOfFile())
            read.signal()
        }
        #expect(first.waitForExit().succeeded)
        #expect(read.wait(timeout: .now() + 10) == .success, "the pipe stayed open in another child")
        #expect(String(decoding: box.data, as: UTF8.self) == "one\n")
    }
}

/// @unchecked Sendable: every access holds the lock.
private final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes = Data()
    func set(_ data: Data) { lock.withLock { bytes = data } }
    var data: Data { lock.withLock { bytes } }
}
