import Foundation
import Logging

/// The log lines a test can count: those `keeping` accepts (by default warnings and worse).
/// @unchecked Sendable: every access holds the lock.
public final class CapturedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    private let keeping: @Sendable (Logger.Level, String) -> Bool

    public init(keeping: @escaping @Sendable (Logger.Level, String) -> Bool = { level, _ in level >= .warning }) {
        self.keeping = keeping
    }

    public func append(_ line: String) { lock.withLock { lines.append(line) } }
    public var all: [String] { lock.withLock { lines } }

    /// A logger whose lines this log keeps.
    public var logger: Logger {
        Logger(label: "test") { _ in Handler(log: self) }
    }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let text = "\(event.message)"
            if log.keeping(event.level, text) { log.append(text) }
        }
    }
}
