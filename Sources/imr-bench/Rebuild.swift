import ArgumentParser
import Foundation
import Varlink

#if canImport(Glibc)
import Glibc
#endif

/// `imr-bench rebuild`: `io.imr.Admin.Rebuild` of every read model through a real daemon's
/// socket on a seeded store, timed by phase, with the daemon's CPU and memory.
struct Rebuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Rebuild every read model of a seeded store through a real imr-daemon, timed by phase.",
        discussion: """
            Starts the imr-daemon beside this binary (or --daemon) on --dir, a state directory written by \
            `imr-bench seed`, and asks it (io.imr.Admin.Rebuild, with more) to rebuild every read model there, in \
            place: the store is still whole afterwards. Prints the events read and events/s as the daemon reports \
            them; the phases as its last reply gives them: the start (the page cache warmed, the old tables dropped) \
            until the pass begins, the pass over the log, the \
            lists' indexes created after it, and the catch-up on what was recorded meanwhile (from a daemon that \
            does not give them, as its progress replies, about one a second, show them); the daemon's CPU during the \
            rebuild (user and system, from /proc/PID/stat) and its largest resident memory (sampled at each reply). \
            --runs K does it K times, each on a daemon started afresh, and ends with the medians. See BENCHMARKS.md.
            """
    )

    @Option(help: "The seeded state directory (imr-bench seed --dir); rebuilt in place.") var dir: String
    @Option(help: "Rebuilds, each on a daemon started afresh.") var runs: Int = 1
    @Option(help: "The imr-daemon binary.") var daemon: String?

    func validate() throws {
        guard (1...50).contains(runs) else { throw ValidationError("--runs takes 1 to 50, not \(runs)") }
        guard FileManager.default.fileExists(atPath: dir + "/imr.sqlite") else {
            throw ValidationError("\(dir) holds no imr.sqlite; write one with imr-bench seed --dir \(dir)")
        }
    }

    /// One rebuild's figures.
    struct Figures {
        var events = 0
        var seconds = 0.0
        var firstEventsAt = 0.0
        var logReadAt = 0.0
        var indexes = 0.0
        var catchUp = 0.0
        /// Whether the phases are the daemon's own (its last reply's), not seen from its replies.
        var phasesFromDaemon = false
        var userSeconds = 0.0
        var systemSeconds = 0.0
        var largestRSSKiB = 0
        var eventsPerSecond: Double { seconds > 0 ? Double(events) / seconds : 0 }
    }

    func run() throws {
        let daemonBinary = try Binaries.daemon(daemon)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("imr-rebuild-\(getpid())").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        print("imr-bench rebuild: \(dir)/imr.sqlite, \(runs) run\(runs == 1 ? "" : "s")")
        var all: [Figures] = []
        for n in 1...runs {
            let target = TortureDaemon(binary: daemonBinary, directory: work, stateDirectory: dir)
            try target.start(timeout: 600)
            defer { target.stop() }
            let figures = try Self.rebuild(on: target)
            all.append(figures)
            print("  run \(n): " + Self.line(figures))
        }
        if runs > 1 {
            func median(_ value: (Figures) -> Double) -> Double { InProcessTiming.median(all.map(value)) }
            print(
                String(
                    format: "  medians: %.0f events/s, %.1f s; first events after %.1f s, indexes %.1f s; CPU %.1f s",
                    median(\.eventsPerSecond),
                    median(\.seconds),
                    median(\.firstEventsAt),
                    median(\.indexes),
                    median { $0.userSeconds + $0.systemSeconds }
                )
            )
        }
    }

    static func line(_ f: Figures) -> String {
        String(
            format:
                "%d events in %.1f s (%.0f events/s); first events read after %.2f s, the log read by %.2f s, indexes %.2f s, catch-up %.2f s (%@); daemon CPU %.1f s (user %.1f, system %.1f); resident memory at most %.0f MiB",
            f.events,
            f.seconds,
            f.eventsPerSecond,
            f.firstEventsAt,
            f.logReadAt,
            f.indexes,
            f.catchUp,
            f.phasesFromDaemon ? "the daemon's phases" : "phases seen from its replies, to about a second",
            f.userSeconds + f.systemSeconds,
            f.userSeconds,
            f.systemSeconds,
            Double(f.largestRSSKiB) / 1024
        )
    }

    static func rebuild(on target: TortureDaemon) throws -> Figures {
        let connection = try RawConnection(path: target.socketPath, timeout: 600)
        let before = target.cpuSeconds()
        var figures = Figures()
        figures.largestRSSKiB = target.resources().rssKiB
        let started = ContinuousClock.now
        guard connection.send("io.imr.Admin.Rebuild", [:], more: true) else {
            throw TortureFailure("could not send io.imr.Admin.Rebuild")
        }
        while true {
            let reply = try connection.receive()
            let parameters = try RawConnection.parameters(of: reply)
            let at = (ContinuousClock.now - started).seconds
            figures.largestRSSKiB = max(figures.largestRSSKiB, target.resources().rssKiB)
            let progress = parameters["progress"]?.objectValue
            let events = Int(progress?["events"]?.intValue ?? 0)
            let of = Int(progress?["of"]?.intValue ?? 0)
            if events > 0 && figures.firstEventsAt == 0 { figures.firstEventsAt = at }
            if of > 0 && events >= of && figures.logReadAt == 0 { figures.logReadAt = at }
            guard reply.continues == true else {
                guard case .array(let rebuilt)? = parameters["rebuilt"], !rebuilt.isEmpty else {
                    throw TortureFailure("the last reply names no read model rebuilt: \(parameters)")
                }
                figures.events = events
                figures.seconds = progress?["seconds"]?.doubleValue ?? at
                if let phases = progress?["phases"]?.objectValue, let start = phases["start"]?.doubleValue,
                    let pass = phases["pass"]?.doubleValue, let indexes = phases["indexes"]?.doubleValue,
                    let catchUp = phases["catchUp"]?.doubleValue
                {
                    figures.firstEventsAt = start
                    figures.logReadAt = start + pass
                    figures.indexes = indexes
                    figures.catchUp = catchUp
                    figures.phasesFromDaemon = true
                } else {
                    // The daemon's own clock ends the rebuild; this one saw its replies a little later.
                    if figures.logReadAt == 0 { figures.logReadAt = figures.seconds }
                    figures.logReadAt = min(figures.logReadAt, figures.seconds)
                    figures.firstEventsAt = min(figures.firstEventsAt, figures.logReadAt)
                    figures.indexes = figures.seconds - figures.logReadAt
                }
                break
            }
        }
        let after = target.cpuSeconds()
        figures.userSeconds = after.user - before.user
        figures.systemSeconds = after.system - before.system
        return figures
    }
}
