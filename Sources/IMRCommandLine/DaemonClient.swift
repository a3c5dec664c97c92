import ArgumentParser
import ChildProcess
import Foundation
import IMRWire
import Varlink

#if canImport(Glibc)
import Glibc
#endif

/// Where the daemon listens: `--socket PATH`, else `$IMR_SOCKET`, else `/run/imr/imr.sock`.
package struct ConnectionOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp("The daemon's socket (default: $IMR_SOCKET, else /run/imr/imr.sock).", valueName: "path")
    )
    package var socket: String?

    package init() {}

    package static let defaultSocket = "/run/imr/imr.sock"

    package var socketPath: String {
        if let socket, !socket.isEmpty { return socket }
        if let fromEnvironment = ProcessInfo.processInfo.environment["IMR_SOCKET"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        return Self.defaultSocket
    }
}

/// The exit statuses of imr-ctl (documented in README.md and `imr-ctl --help`).
package enum ExitStatus: Int32, Sendable {
    /// The lifecycle refused the command, or a letter contradicts what is recorded.
    case refused = 1
    /// The command line is wrong (ArgumentParser's validation errors use 64 too).
    case usage = 64
    /// A value or input file imr cannot accept.
    case dataError = 65
    /// No such case (or alert).
    case notFound = 66
    /// No daemon answers at the socket.
    case unavailable = 69
    /// The daemon failed in a way that is not the caller's doing.
    case software = 70
    /// An output file (a backup, an export's `-o`) cannot be created as asked: bad name, no such
    /// directory, or it exists.
    case cantCreate = 73
    /// The daemon's event log failed (disk full, read-only, corrupt, I/O error), or a backup or an
    /// export could not be written.
    case ioError = 74
    /// The case changed while the command ran, or the daemon is at a limit; send it again.
    case tempFail = 75
    /// The daemon, or the socket's permissions, refused this user.
    case permissionDenied = 77
}

/// One error a command reports: `imr-ctl: <message>` on stderr, exit `status`.
package struct CommandFailure: Error, CustomStringConvertible {
    package let message: String
    package let status: ExitStatus

    package init(_ message: String, status: ExitStatus) {
        self.message = message
        self.status = status
    }

    package var description: String { message }
}

/// A connection to `imr-daemon` for one command, with every failure turned into a sentence
/// and an exit status.
package struct DaemonClient {
    package let socketPath: String

    package init(_ options: ConnectionOptions) {
        self.socketPath = options.socketPath
    }

    package init(socketPath: String) {
        self.socketPath = socketPath
    }

    /// One call, its reply's parameters. Varlink errors named in `passing` are thrown as they
    /// came, for a caller that reports them itself; every other failure becomes a CommandFailure.
    package func call(
        _ method: String,
        _ parameters: [String: JSONValue] = [:],
        passing: Set<String> = []
    ) throws -> [String: JSONValue] {
        let client = try connect()
        do {
            return try client.call(method, Self.droppingNulls(parameters))
        } catch let error as VarlinkError where Self.sameCaseInOtherLetters(error, parameters) != nil {
            // Case ids match in any letter case: the one case whose id differs only in that.
            var again = parameters
            again["caseId"] = .string(Self.sameCaseInOtherLetters(error, parameters)!)
            return try call(method, again, passing: passing)
        } catch let error as VarlinkError where passing.contains(error.name) {
            throw error
        } catch {
            throw Self.failure(error, method: method, socket: socketPath)
        }
    }

    /// The method `request` is the parameters of, called with them: the reply as the daemon
    /// sent it (what --json prints).
    package func call<Request: WireCall>(_ request: Request, passing: Set<String> = []) throws -> [String: JSONValue] {
        try call(Request.method, try WireFormat.object(request), passing: passing)
    }

    /// The method `request` is the parameters of, called with them: the reply decoded.
    package func reply<Request: WireCall>(_ request: Request) throws -> Request.Reply {
        try Self.decode(Request.Reply.self, try call(request), method: Request.method)
    }

    /// A `more` call of the method `request` is the parameters of.
    package func stream<Request: WireCall>(
        _ request: Request,
        passing: Set<String> = [],
        _ body: ([String: JSONValue]) throws -> Bool
    ) throws {
        try stream(Request.method, try WireFormat.object(request), passing: passing, body)
    }

    /// A reply's parameters as the wire type both ends share (IMRWire); a reply this imr-ctl
    /// cannot read (a daemon of another version, say) is a failure naming the method.
    package static func decode<T: Decodable>(_ type: T.Type, _ reply: [String: JSONValue], method: String) throws -> T {
        try decode(type, value: .object(reply), method: method)
    }

    /// A value of a reply (one row of a list, say) decoded as `T`, as ``decode(_:_:method:)``.
    package static func decode<T: Decodable>(_ type: T.Type, value: JSONValue, method: String) throws -> T {
        do {
            return try WireFormat.valueDecoder.decode(T.self, from: value)
        } catch {
            throw CommandFailure(
                "the daemon's reply to \(method) is not what this imr-ctl reads (\(error)); use an imr-ctl of the daemon's version",
                status: .software
            )
        }
    }

    /// A `more` call: `body` receives each reply; it returns false to stop.
    /// Varlink errors named in `passing` are thrown as they came.
    package func stream(
        _ method: String,
        _ parameters: [String: JSONValue] = [:],
        passing: Set<String> = [],
        _ body: ([String: JSONValue]) throws -> Bool
    ) throws {
        let client = try connect()
        var replied = false
        do {
            try client.stream(method, Self.droppingNulls(parameters)) { reply in
                replied = true
                return try body(reply)
            }
        } catch let failure as CommandFailure {
            throw failure
        } catch let error as VarlinkError where !replied && Self.sameCaseInOtherLetters(error, parameters) != nil {
            // Case ids match in any letter case, as in ``call(_:_:passing:)``; nothing was shown yet.
            var again = parameters
            again["caseId"] = .string(Self.sameCaseInOtherLetters(error, parameters)!)
            try stream(method, again, passing: passing, body)
        } catch let error as VarlinkError where passing.contains(error.name) {
            throw error
        } catch {
            throw Self.failure(error, method: method, socket: socketPath)
        }
    }

    private func connect() throws -> VarlinkClient {
        do {
            return try VarlinkClient(path: socketPath)
        } catch {
            throw Self.failure(error, method: nil, socket: socketPath)
        }
    }

    /// The id of the one case whose id is the asked one in other letters, from a CaseNotFound.
    static func sameCaseInOtherLetters(_ error: VarlinkError, _ parameters: [String: JSONValue]) -> String? {
        guard error.name == "io.imr.Cases.CaseNotFound", case .string(let asked)? = parameters["caseId"],
            case .array(let near)? = error.parameters["didYouMean"], near.count == 1, case .string(let id) = near[0],
            id != asked, id.lowercased() == asked.lowercased()
        else { return nil }
        return id
    }

    /// Optional parameters the caller left out are omitted rather than sent as null.
    static func droppingNulls(_ parameters: [String: JSONValue]) -> [String: JSONValue] {
        parameters.filter { if case .null = $0.value { false } else { true } }
    }

    /// The sentence and exit status for a failed call.
    static func failure(_ error: Error, method: String?, socket: String) -> CommandFailure {
        if let failure = error as? CommandFailure { return failure }
        if let connection = error as? VarlinkClient.ConnectionError {
            switch connection {
            case .unavailable(let path, let reason):
                return CommandFailure(
                    "no imr daemon answers at \(path) (\(reason)); start it (systemctl start imr-daemon.socket), "
                        + "or name its socket with --socket PATH or IMR_SOCKET",
                    status: .unavailable
                )
            case .permissionDenied(let path):
                return CommandFailure(
                    "permission denied connecting to \(path); ask an administrator to add your user to the imr group "
                        + "(coordinators also to imr-coordinators), then log in again",
                    status: .permissionDenied
                )
            case .protocolError(let detail):
                return CommandFailure(
                    "the daemon at \(socket) broke off: \(detail); check `journalctl -u imr-daemon`",
                    status: .software
                )
            }
        }
        guard let error = error as? VarlinkError else {
            return CommandFailure("\(error)", status: .software)
        }
        let p = error.parameters
        func text(_ key: String) -> String? { if case .string(let s)? = p[key] { s } else { nil } }
        let short = error.name.split(separator: ".").last.map(String.init) ?? error.name
        switch short {
        case "CaseNotFound":
            let near: [String] = {
                if case .array(let ids)? = p["didYouMean"] { ids.compactMap(\.stringValue) } else { [] }
            }()
            let hint =
                near.isEmpty
                ? "`imr-ctl cases --search TEXT` finds one"
                : "did you mean " + near.map { "'\($0)'" }.joined(separator: " or ") + "?"
            return CommandFailure(
                "there is no case \(text("caseId").map { "'\($0)'" } ?? "with that id"); \(hint)",
                status: .notFound
            )
        case "AlertNotFound":
            return CommandFailure(
                "there is no open alert \(text("alertId").map { "'\($0)'" } ?? "with that id"); `imr-ctl alerts --all` lists the open ones",
                status: .notFound
            )
        case "AlreadyAcknowledged":
            return CommandFailure(
                "alert \(text("alertId") ?? "?") is already acknowledged (by \(text("by") ?? "?")); only open alerts can be snoozed",
                status: .refused
            )
        case "ProjectionNotFound":
            return CommandFailure("there is no read model '\(text("projection") ?? "?")'", status: .notFound)
        case "TransitionRefused":
            let hint =
                text("code").flatMap { RefusalHint.command(forCode: $0, caseId: text("caseId") ?? "CASE") }.map {
                    "; \($0)"
                } ?? ""
            return CommandFailure(
                "refused: \(text("message") ?? "the lifecycle does not allow this")\(hint)",
                status: .refused
            )
        case "ReadModelRebuilding":
            return CommandFailure(
                text("message") ?? "a read model is being rebuilt; try again when `imr-ctl status` no longer says so",
                status: .tempFail
            )
        case "ConcurrentUpdate":
            return CommandFailure("the case changed while the command ran; run the command again", status: .tempFail)
        case "InvalidValue":
            let parameter = text("parameter") ?? "a value"
            let message = text("message") ?? "not accepted"
            // The value rules' sentences name the parameter themselves.
            return CommandFailure(
                message.hasPrefix(parameter + " ") ? message : "\(parameter): \(message)",
                status: .dataError
            )
        case "CommandIdReused":
            if let message = text("message") { return CommandFailure(message, status: .dataError) }
            return CommandFailure(
                "command id \(text("commandId") ?? "?") was already used for a different command on case '\(text("caseId") ?? "?")'; "
                    + "nothing was recorded: give each new command its own id",
                status: .dataError
            )
        case "InvalidParameter":
            return CommandFailure(
                "the daemon did not accept the parameter '\(text("parameter") ?? "?")'; check the value's format in `imr-ctl help`",
                status: .dataError
            )
        case "PermissionDenied":
            return CommandFailure(
                "the daemon refused \(method ?? "the call") for your user; recording needs the imr-coordinators group, "
                    + "administration the imr-admins group",
                status: .permissionDenied
            )
        case "BackupFailed":
            return CommandFailure(
                "the backup was not written to \(text("path") ?? "?"): \(text("message") ?? "")",
                status: .ioError
            )
        case "BackupRefused":
            return CommandFailure("no backup written: \(text("message") ?? "")", status: .cantCreate)
        case "StorageFailed" where text("kind") == "interrupted":
            return CommandFailure(
                text("message") ?? "the daemon is stopping; try again when it is back",
                status: .tempFail
            )
        case "StorageFailed":
            return CommandFailure(
                "the daemon's event log failed: \(text("message") ?? "no reason given"); nothing was recorded by this command",
                status: .ioError
            )
        case "InternalError":
            return CommandFailure(
                "the daemon failed: \(text("message") ?? "no reason given"); `journalctl -u imr-daemon` has the details",
                status: .software
            )
        case "TooManyConnections", "ServerBusy", "TooManyFollowers":
            return CommandFailure(
                "the daemon is at a limit and refused this: \(text("message") ?? error.name); try again shortly",
                status: .tempFail
            )
        case "MessageTimeout":
            return CommandFailure(
                "the daemon closed the connection: \(text("message") ?? error.name)",
                status: .software
            )
        case "FollowerTooSlow":
            return CommandFailure(
                "\(text("message") ?? "this follower fell behind"); run the command again",
                status: .tempFail
            )
        case "MethodNotFound", "InterfaceNotFound", "MethodNotImplemented":
            return CommandFailure(
                "the daemon at \(socket) does not know \(method ?? "this call"); is it an older imr-daemon?",
                status: .software
            )
        default:
            return CommandFailure("the daemon answered \(error.name) \(Output.compact(.object(p)))", status: .software)
        }
    }
}

/// The command that records what a refused command was waiting for, by refusal code.
enum RefusalHint {
    static func command(forCode code: String, caseId c: String) -> String? {
        switch code {
        case "ur-not-decided": "first record the UR decision: imr-ctl ur decide \(c) --item ID=denied --at WHEN"
        case "information-not-requested":
            "first record UR's request: imr-ctl rfa request-info \(c) --need TEXT --on DATE"
        case "written-decision-not-served":
            "first record the written decision's service: imr-ctl ur serve \(c) --on DATE"
        case "no-imr-application": "first record the application: imr-ctl imr apply \(c) --received DATE"
        case "not-eligible": "first record the eligibility finding: imr-ctl imr eligible \(c) --on DATE"
        case "not-assigned":
            "first record the assignment: imr-ctl imr assign \(c) --imr-case CM..-....... --assigned DATE"
        case "not-determined":
            "first record the determination: imr-ctl imr determine \(c) ... (or imr-ctl import LETTER.pdf)"
        case "no-appeal": "first record the appeal: imr-ctl appeal \(c) --item ID --filed DATE --by PARTY"
        case "unknown-rfa", "unknown-item", "item-not-on-rfa": "imr-ctl show \(c) lists its RFAs and items"
        case "unknown-event", "uncorrectable-field": "imr-ctl history \(c) shows each event's version and type"
        case "items-unresolved":
            "record what is left (imr-ctl show \(c)), or withdraw the case: imr-ctl case withdraw \(c) --reason TEXT"
        case "case-not-open": "open it first: imr-ctl case open \(c) ..."
        default: nil
        }
    }
}

/// A subcommand that talks to the daemon. Its failures print one sentence on stderr and exit
/// with the documented status.
package protocol DaemonCommand: ParsableCommand {
    var connection: ConnectionOptions { get }
    func run(_ client: DaemonClient) throws
}

extension DaemonCommand {
    package func run() throws {
        do {
            try run(DaemonClient(connection))
        } catch let failure as CommandFailure {
            Output.error(failure.message)
            throw ExitCode(failure.status.rawValue)
        }
    }
}

/// What imr-ctl prints.
package enum Output {
    /// Pretty JSON with sorted keys on stdout.
    package static func json(_ value: JSONValue) {
        print(prettyJSON(value))
    }

    /// Pretty JSON with sorted keys, each line after `indent`.
    package static func prettyJSON(_ value: JSONValue, indent: String = "") -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let text = String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self)
        guard !indent.isEmpty else { return text }
        // Line breaks inside strings are escaped (\n): every line break is the printer's. The
        // empty line inside an empty array stays empty, as the printer leaves it.
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : indent + $0 }
            .joined(separator: "\n")
    }

    /// A JSON array printed an element at a time as pages arrive, the same text as ``json(_:)``
    /// prints for the whole array: nothing is printed before the first element, so a call that
    /// fails at once leaves stdout empty.
    package struct StreamedArray {
        private var count = 0

        package init() {}

        /// The text that adds `element`.
        package mutating func add(_ element: JSONValue) -> String {
            defer { count += 1 }
            return (count == 0 ? "[\n" : ",\n") + Output.prettyJSON(element, indent: "  ")
        }

        /// The text that ends the array (the whole empty array when nothing was added), and the
        /// line break ``json(_:)`` ends with.
        package func finish() -> String {
            count == 0 ? Output.prettyJSON(.array([])) + "\n" : "\n]\n"
        }
    }

    /// One-line JSON (for messages and streamed lines).
    package static func compact(_ value: JSONValue) -> String {
        // The daemon's own writer: sorted keys, slashes as they are; a row of a streamed list is
        // printed this way, so it must be cheap.
        String(decoding: value.serialized, as: UTF8.self)
    }

    /// `imr-ctl: message` on stderr.
    package static func error(_ message: String) {
        FileHandle.standardError.write(Data("imr-ctl: \(terminalSafe(message))\n".utf8))
    }

    /// `text` with every character that a terminal would act on shown as an escape instead:
    /// C0 controls (newline, tab and escape included: stored text cannot start an escape
    /// sequence, move the cursor or forge a line of a table), DEL, C1 controls, and the
    /// bidirectional overrides that reorder what is shown. Printable text is unchanged.
    package static func terminalSafe(_ text: String) -> String {
        func unsafe(_ v: UInt32) -> Bool {
            v < 0x20 || (0x7F...0x9F).contains(v) || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)
                || v == 0x200E || v == 0x200F
        }
        guard text.unicodeScalars.contains(where: { unsafe($0.value) }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case let v where unsafe(v): out += "\\u{" + String(v, radix: 16, uppercase: true) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    package enum Style: String, Sendable {
        case red = "31"
        case yellow = "33"
        case green = "32"
        case dim = "2"
        case bold = "1"
    }

    /// Sends the rest of stdout through `$PAGER` (else `less -FRX`) when stdout is a terminal
    /// and `lines` would not fit on it; never when stdout is a pipe or a file, nor when PAGER is
    /// set to "" or "cat". At exit, stdout is closed and the pager waited for.
    package static func pageIfTaller(than lines: Int) {
        guard !paging, isatty(STDOUT_FILENO) == 1 else { return }
        var size = winsize()
        let rows = ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_row > 0 ? Int(size.ws_row) : 24
        guard lines >= rows - 1 else { return }
        let pager = ProcessInfo.processInfo.environment["PAGER"] ?? "less -FRX"
        guard !pager.trimmingCharacters(in: .whitespaces).isEmpty, pager != "cat" else { return }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", pager]
        process.standardInput = FileHandle(fileDescriptor: fds[0], closeOnDealloc: false)
        guard (try? process.start()) != nil else {
            close(fds[0])
            close(fds[1])
            return
        }
        close(fds[0])
        fflush(nil)
        dup2(fds[1], STDOUT_FILENO)
        close(fds[1])
        paging = true
        pagerProcess = process
        atexit {
            fflush(nil)
            close(STDOUT_FILENO)
            Output.pagerProcess?.waitForExit()
        }
    }

    nonisolated(unsafe) static var paging = false
    nonisolated(unsafe) static var pagerProcess: SpawnedProcess?

    /// Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org).
    package static var colourEnabled: Bool {
        if let noColour = ProcessInfo.processInfo.environment["NO_COLOR"], !noColour.isEmpty { return false }
        // Paging began on a terminal: the pager (less -R) shows the colours.
        return paging || isatty(STDOUT_FILENO) == 1
    }

    package static func styled(_ text: String, _ style: Style?) -> String {
        guard let style, colourEnabled else { return text }
        return "\u{1B}[\(style.rawValue)m\(text)\u{1B}[0m"
    }

    /// Aligned columns on stdout; `style` may colour a whole row. A table taller than the
    /// terminal goes through the pager (``pageIfTaller(than:)``).
    package static func table(_ header: [String], _ rows: [[String]], style: ([String]) -> Style? = { _ in nil }) {
        pageIfTaller(than: rows.count + 1)
        print(tableText(header, rows, style: style), terminator: "")
    }

    /// The table as text. `widths` (from an earlier page of the same table) fixes the columns
    /// instead of fitting them to these rows; without the header, rows follow that page's.
    /// Cells are shown terminal-safe (``terminalSafe(_:)``): stored text cannot forge a line.
    package static func tableText(
        _ header: [String],
        _ rows: [[String]],
        style: ([String]) -> Style? = { _ in nil },
        widths fixed: [Int]? = nil,
        withHeader: Bool = true
    ) -> String {
        let rows = rows.map { $0.map(terminalSafe) }
        var widths = fixed ?? header.map(\.count)
        if fixed == nil {
            for row in rows {
                for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
            }
        }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (i, cell) in cells.enumerated() {
                let isLast = i == cells.count - 1
                // Longer than its column (a later page's value): shown whole, never cut.
                parts.append(
                    isLast || cell.count >= widths[i]
                        ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                )
            }
            // No trailing spaces, also when the last cells are empty.
            var text = parts.joined(separator: "  ")
            while text.last == " " { text.removeLast() }
            return text
        }
        var out = withHeader ? styled(line(header), .bold) + "\n" : ""
        for row in rows { out += styled(line(row), style(row)) + "\n" }
        return out
    }
}

extension JSONValue {
    /// The text of a string, a number, or a boolean; "" for null; compact JSON otherwise.
    /// Control characters in strings are shown escaped (``Output/terminalSafe(_:)``): this is
    /// what reaches a terminal.
    var text: String {
        switch self {
        case .string(let s): Output.terminalSafe(s)
        case .int(let i): String(i)
        case .double(let d): String(d)
        case .bool(let b): b ? "yes" : "no"
        case .null: ""
        default: Output.compact(self)
        }
    }

    /// The member `key` of an object; null when absent or not an object.
    func at(_ key: String) -> JSONValue {
        if case .object(let o) = self { return o[key] ?? .null }
        return .null
    }

    var arrayValue: [JSONValue] {
        if case .array(let a) = self { return a }
        return []
    }

}

/// The most rows a page of a paged list holds (the daemon's limit), what the streaming
/// helpers below ask for.
let largestPage = 1000

/// Each page of a paged list as the daemon streams it, a page (at most `pageSize` rows) a
/// reply: only the page being handed to `body` is held, however long the list.
func eachPage<Request: WireCall>(
    _ client: DaemonClient,
    _ request: Request,
    pageSize: Int = largestPage,
    _ body: ([String: JSONValue]) throws -> Void
) throws where Request.Reply: PagedReply {
    try eachPageWhile(client, request, pageSize: pageSize) {
        try body($0)
        return true
    }
}

/// Each page as ``eachPage(_:_:pageSize:_:)`` gives it, until `body` returns false.
func eachPageWhile<Request: WireCall>(
    _ client: DaemonClient,
    _ request: Request,
    pageSize: Int = largestPage,
    _ body: ([String: JSONValue]) throws -> Bool
) throws where Request.Reply: PagedReply {
    var parameters = try WireFormat.object(request)
    parameters["limit"] = .int(Int64(pageSize))
    try client.stream(Request.method, parameters, body)
}

/// The rows of a paged list a page at a time, each page decoded as it arrives (exports: a page
/// of rows in memory, never the whole list).
func forEachPage<Request: WireCall>(
    _ client: DaemonClient,
    _ request: Request,
    pageSize: Int = largestPage,
    _ body: ([Request.Reply.Row]) throws -> Void
) throws where Request.Reply: PagedReply {
    try eachPage(client, request, pageSize: pageSize) {
        try body(try DaemonClient.decode(Request.Reply.self, $0, method: Request.method).rows)
    }
}

/// The rows of a paged list a page at a time, as ``forEachPage(_:_:pageSize:_:)``, until `body`
/// returns false (a list read in its order up to a point).
func forEachPageWhile<Request: WireCall>(
    _ client: DaemonClient,
    _ request: Request,
    pageSize: Int = largestPage,
    _ body: ([Request.Reply.Row]) throws -> Bool
) throws where Request.Reply: PagedReply {
    try eachPageWhile(client, request, pageSize: pageSize) {
        try body(try DaemonClient.decode(Request.Reply.self, $0, method: Request.method).rows)
    }
}

/// Every row of a paged list, each reply decoded, all in memory: for lists bounded by
/// something else (one case's events or alerts, one coordinator's open alerts); an export
/// streams (``forEachPage``).
func everyRow<Request: WireCall>(_ client: DaemonClient, _ request: Request) throws -> [Request.Reply.Row]
where Request.Reply: PagedReply {
    var all: [Request.Reply.Row] = []
    try forEachPage(client, request) { all += $0 }
    return all
}
