import CSystemd
#if canImport(Glibc)
import Glibc
#endif

/// A file descriptor the service manager passed to the daemon (`LISTEN_FDS`).
package struct PassedFileDescriptor: Sendable, Hashable {
    /// The descriptor number, 3 and up.
    package let fileDescriptor: Int32
    /// Its `FileDescriptorName=` from the socket unit, or `unknown` when the unit names none.
    package let name: String

    /// A descriptor as systemd describes it; ``SocketActivation/passedFileDescriptors()`` makes these.
    package init(fileDescriptor: Int32, name: String) {
        self.fileDescriptor = fileDescriptor
        self.name = name
    }
}

/// Socket activation: the listening socket systemd opened from `imr-daemon.socket`.
package enum SocketActivation {
    /// The `FileDescriptorName=` of the socket the daemon serves Varlink on.
    package static let varlinkName = "varlink"
    /// The name `sd_listen_fds_with_names` reports for a descriptor the unit did not name.
    package static let unnamed = "unknown"

    /// All descriptors passed by the service manager, with their names.
    ///
    /// Reads and unsets `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES`, so that child processes
    /// do not believe the sockets are theirs. The descriptors are marked close-on-exec. Call it once.
    package static func passedFileDescriptors() -> [PassedFileDescriptor] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(1, &names)
        defer {
            if let names {
                var index = 0
                while let name = names[index] {
                    free(name)
                    index += 1
                }
                free(names)
            }
        }
        guard count > 0 else { return [] }
        return (0..<Int(count)).map { index in
            let name = names?[index].map { String(cString: $0) } ?? unnamed
            return PassedFileDescriptor(fileDescriptor: SD_LISTEN_FDS_START + Int32(index), name: name)
        }
    }

    /// Picks the descriptor to serve Varlink on: the one named `varlink`, or the only one when
    /// the unit names none (as `systemd-socket-activate` without `--fdname` passes it).
    ///
    /// - Returns: `nil` when no descriptors were passed: the daemon binds its own socket.
    /// - Throws: ``SystemdSupportError`` of kind ``SystemdSupportError/Kind/socketActivation``
    ///   when descriptors were passed but none fits, since serving nothing would leave clients
    ///   hanging on a socket systemd holds open.
    package static func chooseVarlinkDescriptor(
        from passed: [PassedFileDescriptor]
    ) throws(SystemdSupportError) -> PassedFileDescriptor? {
        guard !passed.isEmpty else { return nil }
        if let named = passed.first(where: { $0.name == varlinkName }) { return named }
        if passed.count == 1, passed[0].name == unnamed || passed[0].name.isEmpty { return passed[0] }
        let list = passed.map { "fd \($0.fileDescriptor) '\($0.name)'" }.joined(separator: ", ")
        throw SystemdSupportError(
            .socketActivation,
            "systemd passed \(passed.count) file descriptor(s) (\(list)) but none is named '\(varlinkName)'; "
                + "set FileDescriptorName=\(varlinkName) in imr-daemon.socket."
        )
    }

    /// The listening socket systemd passed for Varlink, checked to be a listening Unix stream socket.
    ///
    /// - Returns: `nil` when the daemon was not socket-activated.
    /// - Throws: ``SystemdSupportError`` of kind ``SystemdSupportError/Kind/socketActivation``
    ///   when the passed descriptors do not include one the daemon can serve.
    package static func varlinkListener() throws(SystemdSupportError) -> PassedFileDescriptor? {
        guard let chosen = try chooseVarlinkDescriptor(from: passedFileDescriptors()) else { return nil }
        // A datagram or TCP socket would make NIO fail later with a less helpful message.
        let isUnixStreamListener = sd_is_socket_unix(chosen.fileDescriptor, Int32(SOCK_STREAM.rawValue), 1, nil, 0)
        guard isUnixStreamListener > 0 else {
            throw SystemdSupportError(
                .socketActivation,
                "file descriptor \(chosen.fileDescriptor) '\(chosen.name)' passed by systemd is not a listening "
                    + "Unix stream socket; use ListenStream=/run/imr/imr.sock in imr-daemon.socket."
            )
        }
        return chosen
    }
}
