// imr-daemon: see DaemonCommand in Sources/IMRDaemon.
import IMRDaemon

do {
    let command = try DaemonCommand.parse()
    try await command.start()
} catch {
    DaemonCommand.exit(withError: error)
}
