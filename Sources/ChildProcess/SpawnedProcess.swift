import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A `Process` started with `posix_spawn` directly instead of Foundation's `run()`.
///
/// swift-corelibs-foundation's `run()` closes the parent's descriptors in the child by listing
/// `/proc/self/fd` and copying each entry's whole 256-byte `d_name` out of readdir's buffer; for
/// the last, shorter entry that reads past the buffer, which faults when the buffer ends at an
/// unmapped page (seen as a crash in `Process.run()` in full test runs, whose process holds a
/// thousand descriptors and more). Here the child closes every descriptor from 3 on itself
/// (`posix_spawn_file_actions_addclosefrom_np`), after its standard streams are set up as
/// Foundation would: a `Pipe`'s end, a `FileHandle`, or `/dev/null` for nil and
/// `FileHandle.nullDevice`. The child gets a
/// process group of its own, as with Foundation. Everything else of `Process` (arguments,
/// environment, the streams) is set as usual; `start()`, `poll()` and `waitForExit()` of this
/// module reap it and give its exit (`terminationStatus` and `terminationReason`, which a
/// subclass cannot override, are not set).
package final class SpawnedProcess: Process, @unchecked Sendable {
    // @unchecked Sendable: the pid is set once, before any other thread can see the process.
    private let pid = Atomic<Int32>(0)

    override package var processIdentifier: Int32 { pid.load(ordering: .acquiring) }

    override package var isRunning: Bool { processIdentifier > 0 && poll() == nil }

    override package func terminate() { send(SIGTERM) }

    override package func interrupt() { send(SIGINT) }

    override package func run() throws {
        precondition(processIdentifier == 0, "a process is started once")
        guard let path = executableURL?.path else {
            throw NSError(
                domain: NSPOSIXErrorDomain,
                code: Int(ENOENT),
                userInfo: [NSLocalizedDescriptionKey: "no executable"]
            )
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        try check(posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP)), "set the process group")

        for (target, stream, childReads) in [
            (STDIN_FILENO, standardInput, true), (STDOUT_FILENO, standardOutput, false),
            (STDERR_FILENO, standardError, false),
        ] {
            switch stream {
            case let pipe as Pipe:
                let end = childReads ? pipe.fileHandleForReading : pipe.fileHandleForWriting
                try check(posix_spawn_file_actions_adddup2(&actions, end.fileDescriptor, target), "give a pipe")
            case let handle as FileHandle where handle.fileDescriptor >= 0:  // FileHandle.nullDevice has none
                if handle.fileDescriptor != target {
                    try check(posix_spawn_file_actions_adddup2(&actions, handle.fileDescriptor, target), "give a file")
                }
            default:
                try check(posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_RDWR, 0), "open /dev/null")
            }
        }
        guard let closeFrom = Self.addCloseFrom else {
            throw NSError(
                domain: NSPOSIXErrorDomain,
                code: Int(ENOSYS),
                userInfo: [
                    NSLocalizedDescriptionKey:
                        "posix_spawn_file_actions_addclosefrom_np is missing (glibc 2.34 or later)"
                ]
            )
        }
        try check(closeFrom(&actions, 3), "close the other descriptors")
        // Foundation's default is the directory current when the Process was made.
        if let directory = currentDirectoryURL?.path, directory != FileManager.default.currentDirectoryPath {
            guard let changeDirectory = Self.addChangeDirectory else {
                throw NSError(
                    domain: NSPOSIXErrorDomain,
                    code: Int(ENOSYS),
                    userInfo: [NSLocalizedDescriptionKey: "posix_spawn_file_actions_addchdir_np is missing"]
                )
            }
            try check(changeDirectory(&actions, directory), "change to \(directory)")
        }

        let environment = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let argv = ([path] + (arguments ?? [])).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var child = pid_t()
        let result = posix_spawn(&child, path, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw NSError(
                domain: NSPOSIXErrorDomain,
                code: Int(result),
                userInfo: [NSLocalizedDescriptionKey: "cannot start \(path): \(String(cString: strerror(result)))"]
            )
        }
        pid.store(child, ordering: .releasing)
        // The child's ends, held by it now: closing them here lets the parent see end of file.
        if let pipe = standardInput as? Pipe { try? pipe.fileHandleForReading.close() }
        if let pipe = standardOutput as? Pipe { try? pipe.fileHandleForWriting.close() }
        if let pipe = standardError as? Pipe { try? pipe.fileHandleForWriting.close() }
    }

    private func check(_ result: Int32, _ action: String) throws {
        guard result != 0 else { return }
        throw NSError(
            domain: NSPOSIXErrorDomain,
            code: Int(result),
            userInfo: [NSLocalizedDescriptionKey: "cannot \(action) for a child: \(String(cString: strerror(result)))"]
        )
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which Swift's Glibc module
    /// does not declare.
    private typealias AddChangeDirectory =
        @convention(c) (
            UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>
        ) -> Int32

    /// glibc's `posix_spawn_file_actions_addchdir_np` (2.29+), not declared either.
    private static let addChangeDirectory: AddChangeDirectory? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np")
        else { return nil }
        return unsafeBitCast(symbol, to: AddChangeDirectory.self)
    }()

    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()
}
