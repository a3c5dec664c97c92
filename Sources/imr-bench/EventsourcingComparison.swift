import ChildProcess
import Foundation

/// The Python `eventsourcing` library doing the same kind of durable command as imr (reload a
/// case from its events, apply one, save to SQLite with synchronous=FULL), run by
/// scripts/bench-eventsourcing.py so that `imr-bench load --eventsourcing` prints both from
/// one run on one file system.
struct EventsourcingComparison {
    /// The script's JSON line.
    struct Result: Decodable {
        let library: String
        let clients: Int
        let cases: Int
        let commands: Int
        let seconds: Double
        let commandsPerSecond: Double
        let p50Ms: Double?
        let p99Ms: Double?
        let maxMs: Double?
        let failures: Int
        let database: String
        /// What the script said on stderr (the first failure, when there were some).
        var message: String = ""

        enum CodingKeys: String, CodingKey {
            case library, clients, cases, commands, seconds, commandsPerSecond, p50Ms, p99Ms, maxMs, failures, database
        }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static let scriptPath = "scripts/bench-eventsourcing.py"

    let script: String

    /// `explicit` if given, else the script in the first directory at or above `binaries`
    /// that has it: a build's products sit in the package's .build/<config>.
    init(explicit: String?, binaries: URL) throws {
        if let explicit {
            guard FileManager.default.isReadableFile(atPath: explicit) else {
                throw Failure(description: "--eventsourcing-script \(explicit) is not a readable file")
            }
            script = explicit
            return
        }
        var dir = binaries.resolvingSymlinksInPath()
        while true {
            let candidate = dir.appendingPathComponent(Self.scriptPath).path
            if FileManager.default.isReadableFile(atPath: candidate) {
                script = candidate
                return
            }
            if dir.path == "/" {
                throw Failure(
                    description:
                        "no \(Self.scriptPath) in \(binaries.path) or any directory above it; name it with --eventsourcing-script"
                )
            }
            dir.deleteLastPathComponent()
        }
    }

    /// Fails before any measurement if python3 or the library is missing: the script imports
    /// the library before it reads its arguments.
    func check() throws {
        let (status, _, errors) = try Self.python([script, "--help"])
        guard status == 0 else { throw failure(status: status, errors: errors) }
    }

    /// Runs the script with `clients` threads over `cases` cases, its SQLite file in `directory`.
    func run(clients: Int, cases: Int, directory: String) throws -> Result {
        let (status, output, errors) = try Self.python([
            script, "--clients", String(clients), "--cases", String(cases), "--dir", directory,
        ])
        // The script prints its line even when some commands failed (and then exits 1).
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
            var result = try? JSONDecoder.snakeCase.decode(Result.self, from: Data(line.utf8))
        else { throw failure(status: status, errors: errors) }
        result.message = errors.trimmingCharacters(in: .whitespacesAndNewlines)
        return result
    }

    private func failure(status: Int32, errors: String) -> Failure {
        if status == 127 {
            return Failure(
                description: "python3 is not on PATH; install Python 3 and `pip install eventsourcing` (scripts/setup)"
            )
        }
        let said = errors.split(separator: "\n").last.map(String.init) ?? "nothing on stderr"
        return Failure(description: "\(script) exited with status \(status) without its JSON line: \(said)")
    }

    /// python3 from PATH; its exit status, stdout and stderr.
    private static func python(_ arguments: [String]) throws -> (Int32, String, String) {
        let p = SpawnedProcess()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + arguments
        let out = Pipe.forChild()
        let err = Pipe.forChild()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.start()
        // stderr on a thread of its own, so a chatty stderr cannot fill its pipe and stall the
        // child while this thread waits on stdout.
        let errors = CollectedOutput()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            errors.set(err.fileHandleForReading.readDataToEndOfFile())
            done.signal()
        }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        done.wait()
        return (
            p.waitForExit().status, String(decoding: output, as: UTF8.self),
            String(decoding: errors.data, as: UTF8.self)
        )
    }
}

private final class CollectedOutput: @unchecked Sendable {
    private var bytes = Data()
    private let lock = NSLock()
    func set(_ data: Data) { lock.withLock { bytes = data } }
    var data: Data { lock.withLock { bytes } }
}

extension JSONDecoder {
    fileprivate static var snakeCase: JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}
