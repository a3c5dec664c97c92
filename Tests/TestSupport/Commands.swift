import ChildProcess
import Foundation

/// Runs a command (found on PATH by `env`); its exit status and output, stdout and stderr
/// together.
@discardableResult
package func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
    let p = SpawnedProcess()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let out = Pipe.forChild()
    p.standardOutput = out
    p.standardError = out
    try p.start()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return (p.waitForExit().status, text)
}
