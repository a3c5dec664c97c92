import Foundation
import Logging
import Synchronization
import Varlink

#if canImport(Glibc)
import Glibc
#endif

/// What a connected user may do. Each role includes the ones below it.
package enum Role: Int, Comparable, Sendable, CustomStringConvertible {
    case none = 0
    case reader, coordinator, admin

    package static func < (a: Role, b: Role) -> Bool { a.rawValue < b.rawValue }

    package var description: String {
        switch self {
        case .none: "no role"
        case .reader: "reader"
        case .coordinator: "coordinator"
        case .admin: "admin"
        }
    }
}

/// Decides a connection's role from its peer credentials and Unix group membership.
/// Root is always admin.
package struct AccessPolicy: Sendable, Equatable {
    /// Members of any of these groups may read.
    package var readerGroups: Set<String>
    /// Members of any of these groups may also record events.
    package var coordinatorGroups: Set<String>
    /// Members of any of these groups may also back up, verify and rebuild.
    package var adminGroups: Set<String>

    /// The defaults match `deploy/systemd/sysusers.d/imr.conf`: the socket's group `imr`
    /// reads, `imr-coordinators` records, `imr-admins` administers.
    package init(
        readerGroups: Set<String> = ["imr"],
        coordinatorGroups: Set<String> = ["imr-coordinators"],
        adminGroups: Set<String> = ["imr-admins"]
    ) {
        self.readerGroups = readerGroups
        self.coordinatorGroups = coordinatorGroups
        self.adminGroups = adminGroups
    }

    package func role(of peer: PeerCredentials?) -> Role {
        guard let peer else { return .none }
        if peer.uid == 0 { return .admin }
        let groups = Self.groupNames(uid: peer.uid, primaryGid: peer.gid)
        if !groups.isDisjoint(with: adminGroups) { return .admin }
        if !groups.isDisjoint(with: coordinatorGroups) { return .coordinator }
        if !groups.isDisjoint(with: readerGroups) { return .reader }
        return .none
    }

    /// The actor for a user id (the daemon's own user, for what it records at start).
    package static func actor(uid: UInt32) -> Actor {
        Actor(uid: uid, name: userName(uid: uid) ?? "uid\(uid)")
    }

    /// The actor recorded in event metadata for a peer.
    package static func actor(of peer: PeerCredentials?) -> Actor {
        guard let peer else { return Actor(uid: UInt32.max, name: "unknown") }
        return actor(uid: peer.uid)
    }

    /// Throws `PermissionDenied` unless the peer has at least `needed`.
    package func require(
        _ needed: Role,
        _ context: VarlinkCallContext,
        method: String,
        log: (String) -> Void = { _ in }
    ) throws(VarlinkError) {
        let role = role(of: context.peer)
        guard role >= needed else {
            log("refused \(method) to uid \(context.peer.map { String($0.uid) } ?? "?"): needs \(needed), has \(role)")
            throw VarlinkError.permissionDenied
        }
    }

    static func userName(uid: UInt32) -> String? {
        AccountCache.shared.userName(uid: uid)
    }

    static func groupNames(uid: UInt32, primaryGid: UInt32) -> Set<String> {
        AccountCache.shared.groupNames(uid: uid, primaryGid: primaryGid)
    }

    fileprivate static func lookUpUserName(uid: UInt32) -> String? {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &pwd, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return String(cString: pwd.pw_name)
    }

    fileprivate static func lookUpGroupNames(uid: UInt32, primaryGid: UInt32) -> Set<String> {
        var gids: [gid_t] = [primaryGid]
        if let name = lookUpUserName(uid: uid) {
            var count: Int32 = 64
            var list = [gid_t](repeating: 0, count: Int(count))
            if getgrouplist(name, primaryGid, &list, &count) == -1 {
                list = [gid_t](repeating: 0, count: Int(count))
                _ = getgrouplist(name, primaryGid, &list, &count)
            }
            gids += list.prefix(Int(max(count, 0)))
        }
        var names: Set<String> = []
        for gid in Set(gids) {
            var grp = group()
            var result: UnsafeMutablePointer<group>?
            var buffer = [CChar](repeating: 0, count: 8192)
            if getgrgid_r(gid, &grp, &buffer, buffer.count, &result) == 0, result != nil {
                names.insert(String(cString: grp.gr_name))
            }
        }
        return names
    }
}

/// User and group names looked up for peers, kept for ``lifetime`` (10 s): a call's role and
/// actor needed `/etc/passwd` and `/etc/group` read through NSS on every call. A change of
/// group membership reaches the daemon within that time, or at once on a reload (SIGHUP,
/// ``AccessControl/replace(with:)``). At most ``capacity`` users are kept; past that the cache
/// starts again empty.
final class AccountCache: Sendable {
    static let shared = AccountCache()
    static let lifetime: Duration = .seconds(10)
    static let capacity = 4096

    private struct Key: Hashable { let uid: UInt32, gid: UInt32 }
    private struct Entry { let name: String?, groups: Set<String>?, until: ContinuousClock.Instant }
    private let entries = Mutex<[Key: Entry]>([:])

    func userName(uid: UInt32) -> String? {
        let key = Key(uid: uid, gid: .max)
        let now = ContinuousClock.now
        if let hit = entries.withLock({ $0[key] }), hit.until > now { return hit.name }
        let name = AccessPolicy.lookUpUserName(uid: uid)
        store(key, Entry(name: name, groups: nil, until: now + Self.lifetime))
        return name
    }

    func groupNames(uid: UInt32, primaryGid: UInt32) -> Set<String> {
        let key = Key(uid: uid, gid: primaryGid)
        let now = ContinuousClock.now
        if let hit = entries.withLock({ $0[key] }), hit.until > now, let groups = hit.groups { return groups }
        let groups = AccessPolicy.lookUpGroupNames(uid: uid, primaryGid: primaryGid)
        store(key, Entry(name: nil, groups: groups, until: now + Self.lifetime))
        return groups
    }

    func removeAll() { entries.withLock { $0.removeAll() } }

    private func store(_ key: Key, _ entry: Entry) {
        entries.withLock {
            if $0.count >= Self.capacity { $0.removeAll(keepingCapacity: true) }
            $0[key] = entry
        }
    }
}

/// The access policy in force, replaceable when the configuration is reloaded. Every refusal
/// is counted (``OperatorFigures``) and, given a logger, logged with MESSAGE_ID
/// ``LogMessageID/accessRefused`` at most once per peer uid per 10 s (with the number left out).
package final class AccessControl: Sendable {
    private let current: Mutex<AccessPolicy>
    private let refusals: RateLimitedLog?

    package init(_ policy: AccessPolicy = AccessPolicy(), logger: Logger? = nil) {
        current = Mutex(policy)
        refusals = logger.map { RateLimitedLog(logger: $0) }
    }

    package var policy: AccessPolicy { current.withLock { $0 } }

    /// The new policy, and group memberships looked up afresh.
    package func replace(with policy: AccessPolicy) {
        AccountCache.shared.removeAll()
        current.withLock { $0 = policy }
    }

    /// Throws `PermissionDenied` unless the peer has at least `needed` under the current policy;
    /// the one place a refusal is counted and logged, whatever the interface.
    package func require(_ needed: Role, _ context: VarlinkCallContext, method: String) throws(VarlinkError) {
        try policy.require(needed, context, method: method) { [refusals] line in
            OperatorFigures.shared.accessRefused(
                interface: method.split(separator: ".").dropLast().joined(separator: ".")
            )
            refusals?.warning(
                uid: context.peer?.uid,
                line,
                metadata: ["message.id": .string(LogMessageID.accessRefused)]
            )
        }
    }
}
