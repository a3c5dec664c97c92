import Foundation
import Logging
import Synchronization

/// What one client, and all of them together, may cost the server. Each limit names the
/// `[server]` key of imr-daemon's configuration that sets it (the `limit` parameter of the
/// errors the server sends when one is reached).
package struct VarlinkServerLimits: Sendable, Hashable {
    /// `max_message_bytes`: a message (a call, up to its NUL) larger than this is refused and its
    /// connection closed.
    package var maximumMessageSize: Int
    /// `max_nesting_depth`: arrays and objects nested deeper than this in a message are refused.
    package var maximumNestingDepth: Int
    /// `max_connections`: connections open at once; more are refused.
    package var maximumConnections: Int
    /// `max_connections_per_user`: connections open at once by one peer uid.
    package var maximumConnectionsPerUser: Int
    /// `admin_reserve`: connections a privileged peer (root, an admin) may open beyond both
    /// limits, so an operator can still run `imr-ctl status` while they are reached.
    package var privilegedReserve: Int
    /// `idle_timeout_seconds`: a connection with no call in progress that sends no complete
    /// message for this long is closed. A `more` call streaming replies is a call in progress.
    package var idleTimeout: Duration
    /// `partial_message_timeout_seconds`: a message begun and not finished within this is refused
    /// and its connection closed.
    package var partialMessageTimeout: Duration
    /// `max_buffered_input_bytes`: received bytes not yet made into calls, across all connections.
    /// A connection whose input would go beyond it while it holds an unfinished message is refused.
    package var maximumBufferedInput: Int
    /// `max_queued_calls`: calls of one connection received and not yet answered; the server reads
    /// no more from that connection until it has answered some (the kernel's buffer holds the rest).
    package var maximumQueuedCalls: Int
    /// `max_unsent_output_bytes`: replies written and not yet taken by the client; beyond this the
    /// server answers no more of its calls until the client reads.
    package var maximumUnsentOutput: Int
    /// `unsent_output_timeout_seconds`: a connection whose client has not taken its replies for
    /// this long (output over the bound all the while) is closed.
    package var unsentOutputTimeout: Duration

    package init(
        maximumMessageSize: Int = 1 << 20,
        maximumNestingDepth: Int = 64,
        maximumConnections: Int = 1024,
        maximumConnectionsPerUser: Int = 128,
        privilegedReserve: Int = 16,
        idleTimeout: Duration = .seconds(600),
        partialMessageTimeout: Duration = .seconds(30),
        maximumBufferedInput: Int = 64 << 20,
        maximumQueuedCalls: Int = 16,
        maximumUnsentOutput: Int = 1 << 20,
        unsentOutputTimeout: Duration = .seconds(60)
    ) {
        self.maximumMessageSize = maximumMessageSize
        self.maximumNestingDepth = maximumNestingDepth
        self.maximumConnections = maximumConnections
        self.maximumConnectionsPerUser = maximumConnectionsPerUser
        self.privilegedReserve = privilegedReserve
        self.idleTimeout = idleTimeout
        self.partialMessageTimeout = partialMessageTimeout
        self.maximumBufferedInput = maximumBufferedInput
        self.maximumQueuedCalls = maximumQueuedCalls
        self.maximumUnsentOutput = maximumUnsentOutput
        self.unsentOutputTimeout = unsentOutputTimeout
    }
}

/// Warnings about misbehaving peers, at most one line per peer uid per `interval`; the next line
/// says how many were left out meanwhile. A flood of bad messages cannot flood the journal.
package final class RateLimitedLog: Sendable {
    private struct Entry {
        var last: ContinuousClock.Instant
        var suppressed: Int
    }
    private let logger: Logger
    private let interval: Duration
    private let entries = Mutex<[UInt32: Entry]>([:])

    package init(logger: Logger, interval: Duration = .seconds(10)) {
        self.logger = logger
        self.interval = interval
    }

    /// Logs `message` as a warning unless this uid had a line within the interval.
    /// Returns whether the line was written.
    @discardableResult
    package func warning(uid: UInt32?, _ message: @autoclosure () -> String, metadata: Logger.Metadata = [:]) -> Bool {
        let key = uid ?? UInt32.max
        let now = ContinuousClock.now
        let suppressed: Int? = entries.withLock { entries in
            if let entry = entries[key], now - entry.last < interval {
                entries[key]!.suppressed += 1
                return nil
            }
            if entries.count >= 4096 { entries.removeAll() }  // bounded, whatever the number of uids
            let count = entries[key]?.suppressed ?? 0
            entries[key] = Entry(last: now, suppressed: 0)
            return count
        }
        guard let suppressed else { return false }
        var metadata = metadata
        metadata["peer.uid"] = "\(uid.map(String.init) ?? "?")"
        let note =
            suppressed > 0
            ? " (\(suppressed) more from uid \(uid.map(String.init) ?? "?") not logged in the last \(interval))" : ""
        logger.warning("\(message())\(note)", metadata: metadata)
        return true
    }
}
