import EventStore
import Foundation
import Synchronization
import Workflow

/// Case states at their stream version, the most recently used kept, so that a command on a
/// case used lately reads and folds none of its events.
///
/// Filled only once a write is durable (by the writer thread, in commit order), and every
/// entry is checked against the stream's last event (version and event id) before it is
/// used, so a write that bypassed the cache or was rolled back can never show through:
/// the stream is then read and folded as if there were no cache. Rebuilding or restarting
/// never depends on it.
///
/// Bounded by entries: two generations of at most `capacity / 2` each; when the young one
/// is full it becomes the old one and the old one is dropped (an approximate LRU in O(1)).
package final class CaseStateCache: Sendable {
    /// A case's state after the event `lastEventId` at `version` of its stream.
    package struct Entry: Sendable {
        package let version: Int64
        package let lastEventId: UUID
        package let state: CaseState
    }

    private struct Generations {
        var young: [String: Entry] = [:]
        var old: [String: Entry] = [:]
    }

    package let capacity: Int
    private let storage = Mutex(Generations())
    private let hitCount = Atomic<Int64>(0)
    private let missCount = Atomic<Int64>(0)

    /// The default: 8,000 cases, 37-56 MiB (a state measured 4.6 KB at the synthetic
    /// caseload's six events a case, about 7 KB at ten); 20,000 held up to 140 MB, more than
    /// the daemon's whole memory target at 2,000,000 cases (BENCHMARKS.md, sixteenth session).
    package static let defaultCapacity = 8_000

    /// `capacity` 0 keeps nothing (every command reads its case's stream).
    package init(capacity: Int = CaseStateCache.defaultCapacity) {
        self.capacity = max(capacity, 0)
    }

    /// The entry for a stream, if it holds the state after exactly this event.
    package func state(of streamId: String, at version: Int64, lastEventId: UUID) -> CaseState? {
        let entry = storage.withLock { g -> Entry? in
            if let e = g.young[streamId] { return e }
            guard let e = g.old.removeValue(forKey: streamId) else { return nil }
            Self.insert(e, for: streamId, into: &g, half: max(capacity / 2, 1))
            return e
        }
        guard let entry, entry.version == version, entry.lastEventId == lastEventId else {
            missCount.add(1, ordering: .relaxed)
            return nil
        }
        hitCount.add(1, ordering: .relaxed)
        return entry.state
    }

    /// The latest state held for a stream, unchecked: what a command may be decided on ahead
    /// of the writer, which then checks it against the stream's last event.
    package func latest(of streamId: String) -> Entry? {
        storage.withLock { $0.young[streamId] ?? $0.old[streamId] }
    }

    /// Keeps a stream's state as of its event `lastEventId` at `version`, replacing an older one.
    package func remember(_ state: CaseState, of streamId: String, at version: Int64, lastEventId: UUID) {
        guard capacity > 0 else { return }
        let entry = Entry(version: version, lastEventId: lastEventId, state: state)
        storage.withLock { g in
            if let existing = g.young[streamId] ?? g.old[streamId], existing.version > version { return }
            g.old[streamId] = nil
            Self.insert(entry, for: streamId, into: &g, half: max(capacity / 2, 1))
        }
    }

    /// Forgets everything (for tests and after a restore).
    package func removeAll() {
        storage.withLock { $0 = Generations() }
    }

    private static func insert(_ entry: Entry, for key: String, into g: inout Generations, half: Int) {
        if g.young[key] == nil && g.young.count >= half {
            g.old = g.young
            g.young = [:]
        }
        g.young[key] = entry
    }

    /// Entries held, and lookups that found a usable state or not, since start.
    package var figures: (entries: Int, hits: Int64, misses: Int64) {
        let entries = storage.withLock { $0.young.count + $0.old.count }
        return (entries, hitCount.load(ordering: .relaxed), missCount.load(ordering: .relaxed))
    }
}
