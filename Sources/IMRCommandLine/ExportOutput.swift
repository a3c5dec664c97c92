import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where an export goes, written a page at a time as the daemon streams the rows: standard
/// output as it comes, or a file (`-o`) that appears under its name only whole.
///
/// The file is written under a temporary name beside it (`.NAME.XXXXXX`, so that the rename is
/// within one file system), flushed to disk and renamed over the name at the end. A failure on
/// the way (the daemon gone, the disk full, Ctrl-C) removes the temporary file: whatever had
/// that name before is left as it was, and no half export is ever under it. A name that is not
/// a regular file (`/dev/stdout`, a FIFO) is written directly, as standard output is.
final class ExportOutput {
    /// The name the export ends under; nil for standard output.
    let path: String?
    /// Something had that name before (a file the export would replace, a device).
    private(set) var existed = false
    private let fd: Int32
    /// The file being written, renamed to `target` by ``finish()``; nil when writing directly.
    private var temporary: String?
    private let target: String?
    private var finished = false

    /// Standard output.
    init() {
        path = nil
        target = nil
        fd = STDOUT_FILENO
    }

    /// The file `path`: a temporary file beside it, or the file itself when it is not a
    /// regular one. Throws when it cannot be created (no such directory, no permission).
    init(path: String) throws {
        self.path = path
        var status = stat()
        let exists = stat(path, &status) == 0
        existed = exists
        if exists, status.st_mode & S_IFMT != S_IFREG {
            if status.st_mode & S_IFMT == S_IFDIR {
                throw CommandFailure("cannot write \(path): it is a directory", status: .cantCreate)
            }
            // A device or a FIFO: written as it is, like standard output.
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw Self.failure(path, errno, status: .cantCreate) }
            self.fd = fd
            target = nil
            return
        }
        // A symbolic link stays one: the file it names is replaced.
        let resolved = realpath(path, nil).map { p in
            defer { free(p) }
            return String(cString: p)
        }
        let final = resolved ?? path
        let url = URL(fileURLWithPath: final)
        let directory = url.deletingLastPathComponent().path
        var template = Array("\(directory)/.\(url.lastPathComponent).XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw Self.failure(path, errno, status: .cantCreate) }
        let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        // mkstemp makes it 0600: give it the mode the file has, or a new file's (0666 less the umask).
        let mask = umask(0)
        umask(mask)
        fchmod(fd, resolved != nil && stat(final, &status) == 0 ? status.st_mode & 0o7777 : 0o666 & ~mask)
        self.fd = fd
        self.temporary = temporary
        target = final
        ExportOutput.removeOnSignal(temporary)
    }

    deinit {
        if !finished { discard() }
    }

    /// Writes `text` whole, or throws (the disk full, standard output closed).
    func write(_ text: String) throws {
        var text = text
        try text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw Self.failure(path ?? "standard output", errno, status: .ioError)
                }
                offset += n
            }
        }
    }

    /// What a failure midway leaves, for the message that reports it.
    var whatAFailureLeaves: String {
        guard let path else { return "the export on standard output is incomplete" }
        if target == nil { return "the export written to \(path) is incomplete" }
        return existed ? "\(path) was left as it was" : "nothing was written to \(path)"
    }

    /// The export is complete: the file is flushed and takes its name.
    func finish() throws {
        guard !finished else { return }
        defer { finished = true }
        guard let temporary, let target else {
            if path != nil { close(fd) }
            return
        }
        if fsync(fd) != 0 || close(fd) != 0 {
            let code = errno
            unlink(temporary)
            ExportOutput.removeOnSignal(nil)
            throw Self.failure(path ?? target, code, status: .ioError)
        }
        if rename(temporary, target) != 0 {
            let code = errno
            unlink(temporary)
            ExportOutput.removeOnSignal(nil)
            throw Self.failure(path ?? target, code, status: .cantCreate)
        }
        ExportOutput.removeOnSignal(nil)
        self.temporary = nil
    }

    /// The export failed: the temporary file is removed, the name left as it was.
    func discard() {
        guard !finished else { return }
        finished = true
        if path != nil { close(fd) }
        if let temporary { unlink(temporary) }
        ExportOutput.removeOnSignal(nil)
    }

    /// The sentence for a failed write of `path`.
    private static func failure(_ path: String, _ code: Int32, status: ExitStatus) -> CommandFailure {
        CommandFailure("cannot write \(path): \(String(cString: strerror(code)))", status: status)
    }

    // MARK: Signals

    /// The temporary file a signal that ends imr-ctl (SIGINT, SIGTERM, SIGHUP) removes first;
    /// nil restores the default handling.
    private static func removeOnSignal(_ path: String?) {
        if let old = pendingRemoval {
            pendingRemoval = nil
            free(old)
        }
        guard let path else {
            for signal in handledSignals { Glibc.signal(signal, SIG_DFL) }
            return
        }
        pendingRemoval = strdup(path)
        for signal in handledSignals {
            Glibc.signal(signal) { number in
                // Only async-signal-safe calls: unlink, then die of the signal as before.
                if let path = ExportOutput.pendingRemoval { unlink(path) }
                Glibc.signal(number, SIG_DFL)
                raise(number)
            }
        }
    }

    private static let handledSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP]
    /// Read by the signal handler; set only by ``removeOnSignal(_:)`` on the main thread.
    nonisolated(unsafe) private static var pendingRemoval: UnsafeMutablePointer<CChar>?
}
