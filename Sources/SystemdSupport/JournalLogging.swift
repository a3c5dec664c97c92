import CSystemd
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// One `NAME=value` field of a journal entry.
package struct JournalField: Sendable, Hashable, CustomStringConvertible {
    /// Upper-case letters, digits and underscores, as journald requires.
    package let name: String
    /// Any text; journald stores newlines and other bytes as they are.
    package let value: String

    /// A field; `name` must already be a valid journal field name (see ``JournalFields/fieldName(forMetadataKey:)``).
    package init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    /// `NAME=value`, as the journal protocol sends it.
    package var description: String { "\(name)=\(value)" }
}

/// Fixed `MESSAGE_ID`s: one 128-bit id (32 lower-case hex digits) per kind of message, so that
/// `journalctl MESSAGE_ID=...` finds every occurrence whatever the text says. Pass one as the
/// metadata value `message.id`. Generated once with `systemd-id128 new`; never change one.
package enum JournalMessageID {
    /// The daemon finished start-up and sent `READY=1`.
    package static let daemonReady = "9b57746311534da78ba0589290b15338"
    /// The daemon re-read its configuration on SIGHUP.
    package static let configurationReloaded = "7a0dd0dc7eb844229e8f5cb13f8cbaf5"
    /// The configuration file is invalid; the daemon did not start or kept the old settings.
    package static let configurationInvalid = "421959b5e1af4c61a365405640619e78"
    /// The daemon is shutting down.
    package static let daemonStopping = "2f89a5999c6d41aeb0dff30fd3b953c9"
    /// Another process holds the state-directory lock or serves the socket.
    package static let alreadyRunning = "81d6b5d8494a417f99282a6f0f72f873"
}

/// The mapping from swift-log events to journal fields, shared by ``JournalLogHandler`` and
/// ``KeyValueStderrLogHandler`` so both show the same facts.
package enum JournalFields {
    /// The journal field for a swift-log metadata key.
    ///
    /// `case.id`, `deadline.id` and `rule.id` become `IMR_CASE`, `IMR_DEADLINE` and `IMR_RULE`;
    /// `message.id` becomes `MESSAGE_ID`; any other key becomes `IMR_` followed by the key in
    /// upper case with every character other than a letter or digit replaced by `_`
    /// (`event.position` → `IMR_EVENT_POSITION`). The `IMR_` prefix keeps our fields apart
    /// from journald's own (`_PID`, `CODE_FILE`, ...) and lets `journalctl -F` list them.
    package static func fieldName(forMetadataKey key: String) -> String {
        switch key {
        case "message.id": return "MESSAGE_ID"
        case "case.id": return "IMR_CASE"
        case "deadline.id": return "IMR_DEADLINE"
        case "rule.id": return "IMR_RULE"
        default:
            // As bytes: the daemon logs a line for every command it records.
            var name: [UInt8] = Array("IMR_".utf8)
            name.reserveCapacity(4 + key.utf8.count)
            for scalar in key.unicodeScalars {
                switch scalar.value {
                case 0x61...0x7A: name.append(UInt8(scalar.value - 32))  // a-z
                case 0x41...0x5A, 0x30...0x39: name.append(UInt8(scalar.value))  // A-Z, 0-9
                default: name.append(UInt8(ascii: "_"))
                }
            }
            // journald drops fields with names longer than 64 characters.
            return String(decoding: name.prefix(64), as: UTF8.self)
        }
    }

    /// The syslog priority for a swift-log level (`PRIORITY=`): 7 debug ... 2 critical.
    package static func priority(for level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// The fields of one entry, in a fixed order: `MESSAGE`, `PRIORITY`, `SYSLOG_IDENTIFIER`,
    /// the metadata sorted by field name, then `CODE_FILE`, `CODE_LINE`, `CODE_FUNC`.
    ///
    /// A pure function of its arguments, so the mapping can be tested without a journal.
    /// - Parameters:
    ///   - metadata: the handler's, the provider's and the call's metadata, already merged.
    ///   - error: the error passed to the log call, if any, as `IMR_ERROR`.
    /// The fields of one swift-log event, with the handler's merged metadata: what both
    /// handlers (the journal's and stderr's) write.
    static func fields(of event: LogEvent, metadata: Logger.Metadata, syslogIdentifier: String) -> [JournalField] {
        fields(
            level: event.level,
            message: event.message.description,
            metadata: metadata,
            syslogIdentifier: syslogIdentifier,
            error: event.error,
            file: event.file,
            function: event.function,
            line: event.line
        )
    }

    package static func fields(
        level: Logger.Level,
        message: String,
        metadata: Logger.Metadata,
        syslogIdentifier: String,
        error: (any Error)? = nil,
        file: String,
        function: String,
        line: UInt
    ) -> [JournalField] {
        var result: [JournalField] = []
        result.reserveCapacity(metadata.count + 7)
        result.append(JournalField("MESSAGE", message))
        result.append(JournalField("PRIORITY", String(priority(for: level))))
        result.append(JournalField("SYSLOG_IDENTIFIER", syslogIdentifier))
        // A few fields a line: a list searched is cheaper than a dictionary built and sorted.
        var extra: [JournalField] = []
        extra.reserveCapacity(metadata.count + 1)
        func put(_ name: String, _ value: String) {
            if let at = extra.firstIndex(where: { $0.name == name }) {
                extra[at] = JournalField(name, value)
            } else {
                extra.append(JournalField(name, value))
            }
        }
        // In key order, so that when two keys map to one field ("case", "case.id") the same one wins every time.
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            put(fieldName(forMetadataKey: key), value.text)
        }
        if let error { put("IMR_ERROR", "\(error)") }
        extra.sort { $0.name < $1.name }
        result += extra
        result.append(JournalField("CODE_FILE", file))
        result.append(JournalField("CODE_LINE", String(line)))
        result.append(JournalField("CODE_FUNC", function))
        return result
    }

    /// Whether to log to the journal: its socket exists and stderr is the stream systemd
    /// connected to the journal (`JOURNAL_STREAM` is `<device>:<inode>` of that stream; a
    /// process whose stderr was redirected keeps the variable but not the stream).
    ///
    /// - Parameters:
    ///   - journalStream: the value of `JOURNAL_STREAM`, or `nil` when unset.
    ///   - standardErrorIdentity: device and inode of file descriptor 2, or `nil` when closed.
    ///   - journalSocketExists: whether `/run/systemd/journal/socket` exists.
    package static func shouldUseJournal(
        journalStream: String?,
        standardErrorIdentity: (device: UInt64, inode: UInt64)?,
        journalSocketExists: Bool
    ) -> Bool {
        guard journalSocketExists, let journalStream, let standardErrorIdentity else { return false }
        let parts = journalStream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        return device == standardErrorIdentity.device && inode == standardErrorIdentity.inode
    }
}

extension Logger.MetadataValue {
    /// The value as its field shows it: a string as it is (no interpolation), anything else
    /// as swift-log describes it.
    var text: String {
        if case .string(let text) = self { return text }
        return description
    }
}

/// Merges the handler's metadata, the provider's and the call's; the call wins.
private func mergedMetadata(
    _ handler: Logger.Metadata,
    _ provider: Logger.MetadataProvider?,
    _ call: Logger.Metadata?
) -> Logger.Metadata {
    // Most lines carry only the call's metadata: nothing to merge.
    if handler.isEmpty, provider == nil { return call ?? [:] }
    var merged = handler
    if let provided = provider?.get() { merged.merge(provided) { _, new in new } }
    if let call { merged.merge(call) { _, new in new } }
    return merged
}

/// A swift-log handler that writes structured entries to journald with `sd_journal_sendv`
/// (`sd_journal_send` is variadic and cannot be called from Swift).
///
/// Use ``SystemdLogging/makeHandler(syslogIdentifier:logLevel:metadataProvider:useJournal:)`` to get this handler under
/// systemd and ``KeyValueStderrLogHandler`` otherwise: with no journald `sd_journal_sendv`
/// returns success and drops the entry.
package struct JournalLogHandler: LogHandler {
    /// Metadata added to every entry of this logger (swift-log's value semantics).
    package var metadata: Logger.Metadata = [:]
    /// Supplies task-local metadata, such as the case a request is about.
    package var metadataProvider: Logger.MetadataProvider?
    /// The lowest level sent; swift-log checks it before calling ``log(event:)``.
    package var logLevel: Logger.Level = .info
    /// `SYSLOG_IDENTIFIER=`, what `journalctl -t` filters by.
    package let syslogIdentifier: String

    /// A handler that sends entries tagged `SYSLOG_IDENTIFIER=syslogIdentifier`.
    package init(syslogIdentifier: String, metadataProvider: Logger.MetadataProvider? = nil) {
        self.syslogIdentifier = syslogIdentifier
        self.metadataProvider = metadataProvider
    }

    /// One metadata value of this logger.
    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one entry.
    package func log(event: LogEvent) {
        let fields = JournalFields.fields(
            of: event,
            metadata: mergedMetadata(metadata, metadataProvider, event.metadata),
            syslogIdentifier: syslogIdentifier
        )
        Self.send(fields)
    }

    /// Sends one entry; the values may contain newlines, which `sd_journal_sendv` encodes.
    static func send(_ fields: [JournalField]) {
        // All fields in one buffer, so every iovec points into memory that stays put for the call.
        var bytes: [UInt8] = []
        var ranges: [Range<Int>] = []
        for field in fields {
            let start = bytes.count
            bytes.append(contentsOf: "\(field.name)=\(field.value)".utf8)
            ranges.append(start..<bytes.count)
        }
        bytes.withUnsafeMutableBytes { buffer in
            let iovecs = ranges.map { iovec(iov_base: buffer.baseAddress! + $0.lowerBound, iov_len: $0.count) }
            _ = sd_journal_sendv(iovecs, Int32(iovecs.count))
        }
    }
}

/// A swift-log handler that writes one line per entry to stderr (or another descriptor) with
/// the same fields as ``JournalLogHandler``, as `NAME=value` pairs; for running by hand, in
/// tests, and on machines without journald.
package struct KeyValueStderrLogHandler: LogHandler {
    /// Metadata added to every entry of this logger (swift-log's value semantics).
    package var metadata: Logger.Metadata = [:]
    /// Supplies task-local metadata, such as the case a request is about.
    package var metadataProvider: Logger.MetadataProvider?
    /// The lowest level written; swift-log checks it before calling ``log(event:)``.
    package var logLevel: Logger.Level = .info
    /// Written as `SYSLOG_IDENTIFIER=`, as in the journal.
    package let syslogIdentifier: String
    /// Where lines go; 2 (stderr) unless a test passes a pipe.
    package let fileDescriptor: Int32

    /// A handler writing to `fileDescriptor`, which it does not own or close.
    package init(syslogIdentifier: String, fileDescriptor: Int32 = 2, metadataProvider: Logger.MetadataProvider? = nil)
    {
        self.syslogIdentifier = syslogIdentifier
        self.fileDescriptor = fileDescriptor
        self.metadataProvider = metadataProvider
    }

    /// One metadata value of this logger.
    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// One line: `NAME=value` pairs separated by spaces, ending in a newline. A value is quoted
    /// (with `\"`, `\\`, `\n` escapes) when it is empty or holds a space, quote, `=`, backslash
    /// or control character, so every line splits back into the same fields.
    package static func format(_ fields: [JournalField]) -> String {
        String(decoding: formatBytes(fields), as: UTF8.self)
    }

    /// ``format(_:)`` as UTF-8 bytes, built in one buffer (a line is written for every command
    /// the daemon records, so this is on its hot path).
    static func formatBytes(_ fields: [JournalField]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(fields.reduce(1) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 })
        for (index, field) in fields.enumerated() {
            if index > 0 { out.append(UInt8(ascii: " ")) }
            out.append(contentsOf: field.name.utf8)
            out.append(UInt8(ascii: "="))
            appendQuoted(field.value, to: &out)
        }
        out.append(UInt8(ascii: "\n"))
        return out
    }

    static func quoted(_ value: String) -> String {
        var out: [UInt8] = []
        appendQuoted(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether a value must be quoted: empty, or holding a space, quote, `=`, backslash or a
    /// control character (general category Cc: U+0000-001F, U+007F-009F; U+0080-009F are
    /// the UTF-8 pairs C2 80 to C2 9F).
    private static func needsQuotes(_ utf8: String.UTF8View) -> Bool {
        if utf8.isEmpty { return true }
        var afterC2 = false
        for byte in utf8 {
            if afterC2, (0x80...0x9F).contains(byte) { return true }
            afterC2 = byte == 0xC2
            if byte < 0x20 || byte == 0x7F || byte == 0x20 || byte == 0x22 || byte == 0x3D || byte == 0x5C {
                return true
            }
        }
        return false
    }

    private static func appendQuoted(_ value: String, to out: inout [UInt8]) {
        guard needsQuotes(value.utf8) else { return out.append(contentsOf: value.utf8) }
        out.append(UInt8(ascii: "\""))
        let bytes = Array(value.utf8)
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            switch byte {
            case 0x22: out.append(contentsOf: "\\\"".utf8)
            case 0x5C: out.append(contentsOf: "\\\\".utf8)
            case 0x0A: out.append(contentsOf: "\\n".utf8)
            case 0x0D: out.append(contentsOf: "\\r".utf8)
            case 0x09: out.append(contentsOf: "\\t".utf8)
            case 0..<0x20, 0x7F: out.append(contentsOf: "\\u{\(String(byte, radix: 16))}".utf8)
            case 0xC2 where i + 1 < bytes.count && (0x80...0x9F).contains(bytes[i + 1]):
                i += 1
                out.append(contentsOf: "\\u{\(String(bytes[i], radix: 16))}".utf8)
            default: out.append(byte)
            }
            i += 1
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Writes one entry.
    package func log(event: LogEvent) {
        let fields = JournalFields.fields(
            of: event,
            metadata: mergedMetadata(metadata, metadataProvider, event.metadata),
            syslogIdentifier: syslogIdentifier
        )
        var line = Self.formatBytes(fields)
        // One write per line so lines from concurrent tasks do not interleave.
        line.withUnsafeMutableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(fileDescriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return  // Nowhere left to report a failure to log.
                }
                offset += written
            }
        }
    }
}

/// Chooses the log handler for the daemon's process.
package enum SystemdLogging {
    /// Where journald listens for native-protocol entries.
    package static let journalSocketPath = "/run/systemd/journal/socket"

    /// A ``JournalLogHandler`` when stderr is connected to the journal, otherwise a
    /// ``KeyValueStderrLogHandler``, for the daemon's main:
    ///
    /// ```swift
    /// let useJournal = SystemdLogging.journalIsConnected()
    /// LoggingSystem.bootstrap { _ in
    ///     SystemdLogging.makeHandler(logLevel: configuration.logLevel, useJournal: useJournal)
    /// }
    /// ```
    ///
    /// - Parameter useJournal: the answer of ``journalIsConnected()``, asked once at start-up
    ///   rather than for every logger; `nil` asks now.
    package static func makeHandler(
        syslogIdentifier: String = "imr-daemon",
        logLevel: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = nil,
        useJournal: Bool? = nil
    ) -> any LogHandler {
        if useJournal ?? journalIsConnected() {
            var handler = JournalLogHandler(syslogIdentifier: syslogIdentifier, metadataProvider: metadataProvider)
            handler.logLevel = logLevel
            return handler
        }
        var handler = KeyValueStderrLogHandler(syslogIdentifier: syslogIdentifier, metadataProvider: metadataProvider)
        handler.logLevel = logLevel
        return handler
    }

    /// Whether this process's stderr is the journal stream systemd set up.
    package static func journalIsConnected() -> Bool {
        var status = stat()
        let identity: (device: UInt64, inode: UInt64)? =
            fstat(2, &status) == 0 ? (UInt64(status.st_dev), UInt64(status.st_ino)) : nil
        return JournalFields.shouldUseJournal(
            journalStream: getenv("JOURNAL_STREAM").map { String(cString: $0) },
            standardErrorIdentity: identity,
            journalSocketExists: access(journalSocketPath, F_OK) == 0
        )
    }
}
