import Foundation

/// A failure of the event store, with a sentence a person can act on.
///
/// Callers compare ``kind`` with the static kinds (`error.kind == .wrongExpectedVersion`)
/// rather than switching over a closed enum, so new kinds never break them.
public struct EventStoreError: Error, Sendable, CustomStringConvertible, LocalizedError {
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The stream was not at the version the writer expected.
        public static let wrongExpectedVersion = Kind("wrongExpectedVersion")
        /// An event id already stored is reused for different content or at another place.
        public static let duplicateEventId = Kind("duplicateEventId")
        /// The file or its directory cannot be written.
        public static let notWritable = Kind("notWritable")
        /// Another connection held a lock past the busy timeout.
        public static let locked = Kind("locked")
        /// The file was written by a newer version of imr.
        public static let schemaTooNew = Kind("schemaTooNew")
        /// The file is not an imr event log.
        public static let notAnEventLog = Kind("notAnEventLog")
        /// SQLite found the file damaged.
        public static let corrupt = Kind("corrupt")
        /// The disk is full.
        public static let diskFull = Kind("diskFull")
        /// The caller passed something the store cannot accept.
        public static let invalidArgument = Kind("invalidArgument")
        /// The store was closed.
        public static let closed = Kind("closed")
        /// A projection failed to apply an event.
        public static let projectionFailed = Kind("projectionFailed")
        /// A read was interrupted (its caller gave up, or the store is closing).
        public static let interrupted = Kind("interrupted")
        /// Any other SQLite failure.
        public static let storage = Kind("storage")
    }

    public let kind: Kind
    public let message: String
    /// For `.wrongExpectedVersion`: the stream, what was expected and what it holds.
    public let streamId: String?
    public let expected: ExpectedVersion?
    public let actualVersion: Int64?

    init(
        _ kind: Kind,
        _ message: String,
        streamId: String? = nil,
        expected: ExpectedVersion? = nil,
        actualVersion: Int64? = nil
    ) {
        self.kind = kind
        self.message = message
        self.streamId = streamId
        self.expected = expected
        self.actualVersion = actualVersion
    }

    public var description: String { message }
    public var errorDescription: String? { message }

    /// A failure that is not the store's own, reported through it.
    public static func unexpected(_ message: String) -> EventStoreError { EventStoreError(.storage, message) }

    static func wrongExpectedVersion(stream: String, expected: ExpectedVersion, actual: Int64) -> EventStoreError {
        let holds = actual == 0 ? "does not exist yet" : "is at version \(actual)"
        return EventStoreError(
            .wrongExpectedVersion,
            "stream '\(stream)' was expected at \(expected) but \(holds); someone else wrote to it first: reload it and try again",
            streamId: stream,
            expected: expected,
            actualVersion: actual
        )
    }

    /// Translates an SQLite failure into a sentence about the event log at `path`.
    static func from(_ error: SQLiteError, path: String, doing action: String) -> EventStoreError {
        if error.isInterrupted {
            return EventStoreError(
                .interrupted,
                "\(action) on \(path) was interrupted: the caller gave up or the daemon is stopping; ask again"
            )
        }
        if error.isBusy {
            return EventStoreError(
                .locked,
                "the event log \(path) stayed locked by another connection past the busy timeout while \(action); another process may be writing to it: stop it or raise the timeout"
            )
        }
        if error.isReadOnly || error.isCantOpen {
            return EventStoreError(
                .notWritable,
                "cannot \(action) the event log \(path): \(error.message); check that the file and its directory exist and are writable by this user"
            )
        }
        if error.isNotADatabase {
            return EventStoreError(
                .notAnEventLog,
                "\(path) is not an imr event log (SQLite says: \(error.message)); point imr at its own state file"
            )
        }
        if error.isCorrupt {
            return EventStoreError(
                .corrupt,
                "the event log \(path) is corrupt (SQLite says: \(error.message)) while \(action); stop writing to it and restore the latest backup"
            )
        }
        if error.isFull {
            return EventStoreError(
                .diskFull,
                "the disk holding \(path) is full while \(action); free space and retry: nothing was written"
            )
        }
        return EventStoreError(.storage, "SQLite failed while \(action) on \(path): \(error.description)")
    }
}
