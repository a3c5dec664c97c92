import ArgumentParser
import Foundation
import Varlink

/// `imr-ctl call`: one raw Varlink call, for scripts and for debugging the daemon.
package struct Call: ParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Call one Varlink method of the daemon and print the reply as JSON.",
        discussion: """
            Example: imr-ctl call io.imr.Cases.Get '{"caseId": "c1"}'
            An error reply is printed as {"error": NAME, "parameters": {...}} on stderr, exit status 1; no daemon at the socket exits 69, a refused connection 77.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The fully qualified method, e.g. io.imr.Admin.Status.")
    var method: String

    @Argument(help: "The parameters as a JSON object.")
    var parameters: String = "{}"

    package init() {}

    package func run() throws {
        let path = connection.socketPath
        guard let data = parameters.data(using: .utf8),
            let value = try? JSONDecoder().decode(JSONValue.self, from: data), case .object(let object) = value
        else {
            throw ValidationError("the parameters must be a JSON object, e.g. '{\"caseId\": \"c1\"}'")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        do {
            let client = try VarlinkClient(path: path)
            let reply = try client.call(method, object)
            print(String(decoding: try encoder.encode(JSONValue.object(reply)), as: UTF8.self))
        } catch let error as VarlinkError {
            let body = JSONValue.object(["error": .string(error.name), "parameters": .object(error.parameters)])
            FileHandle.standardError.write(try encoder.encode(body) + Data("\n".utf8))
            throw ExitCode(1)
        } catch let error as VarlinkClient.ConnectionError {
            let failure = DaemonClient.failure(error, method: method, socket: path)
            Output.error(failure.message)
            throw ExitCode(failure.status.rawValue)
        }
    }
}
