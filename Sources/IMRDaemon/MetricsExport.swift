import CoreMetrics
import EventStore
import IMRService
import Dispatch
import Foundation
import Logging
import Prometheus
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's metrics in Prometheus text format, written to a file for node_exporter's
/// textfile collector (`[metrics] textfile`). A file rather than a port: the unit gives the
/// daemon no network (`PrivateNetwork=yes`, `RestrictAddressFamilies=AF_UNIX`), and node_exporter
/// already runs on the machines operators watch.
///
/// The registry is swift-metrics' backend for the whole process (bootstrapped once, whether or
/// not a file is written, so `io.imr.Admin.Status` and the file never disagree about what was
/// counted). The file is rewritten every `interval` on a queue of its own, never on Swift's
/// cooperative pool: written beside the target and renamed, so a reader never sees half of it.
final class MetricsExport: @unchecked Sendable {
    /// One registry per process: swift-metrics can be bootstrapped only once.
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Commits are small: events per append in ones, not the default hundreds.
        factory.valueHistogramBuckets["imr_append_events"] = [1, 2, 3, 5, 8, 13, 21, 50, 100]
        factory.valueHistogramBuckets["imr_alert_lag_seconds"] = [0.5, 1, 5, 15, 60, 300, 3600, 86400]
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    let path: String
    let interval: Duration
    let logger: Logger
    /// Process figures sampled before each write (open cases, head position, RSS, descriptors).
    let sample: @Sendable () -> Void
    private let queue = DispatchQueue(label: "imr-daemon.metrics")
    private var timer: DispatchSourceTimer?
    private var lastError: String?

    init(path: String, interval: Duration, logger: Logger, sample: @escaping @Sendable () -> Void) {
        self.path = path
        self.interval = interval
        self.logger = logger
        self.sample = sample
    }

    func start() {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let milliseconds = Int(
            interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000
        )
        timer.schedule(deadline: .now(), repeating: .milliseconds(max(100, milliseconds)))
        timer.setEventHandler { [weak self] in self?.writeNow() }
        self.timer = timer
        timer.resume()
    }

    /// Writes once more (at stop) and stops the timer.
    func stop() {
        queue.sync {
            timer?.cancel()
            timer = nil
            writeNow()
        }
    }

    /// The store's figures at the last write.
    private static let lastWrites = Mutex(WriteFigures(commits: 0, pagesWritten: 0, groups: 0, writes: 0))

    /// Gauges read at each write: open cases, the log's head, this process's memory and
    /// descriptors; and the store's commits and the pages they wrote (counters).
    static func sample(store: EventStore) {
        if let open = try? store.read({ try CaseListProjection.openCount(in: $0) }) {
            Gauge(label: "imr_open_cases").record(open)
        }
        if let head = try? store.headPosition() { Gauge(label: "imr_event_log_head_position").record(head) }
        // The store's totals counted up by what each write adds (a counter, as rate() expects).
        let writes = store.writeFigures
        let added = lastWrites.withLock { last in
            defer { last = writes }
            return (commits: writes.commits - last.commits, pages: writes.pagesWritten - last.pagesWritten)
        }
        if added.commits > 0 { Counter(label: "imr_store_commits_total").increment(by: added.commits) }
        if added.pages > 0 { Counter(label: "imr_store_pages_written_total").increment(by: added.pages) }
        let process = AdminInterface.Figures.process()
        Gauge(label: "imr_process_resident_bytes").record(process.residentBytes)
        Gauge(label: "imr_process_open_descriptors").record(process.openDescriptors)
    }

    private func writeNow() {
        sample()
        let text = Self.registry.emitToBuffer()
        let partial = path + ".partial"
        let fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        var problem: String?
        if fd < 0 {
            problem = "cannot write \(partial): \(String(cString: strerror(errno)))"
        } else {
            // Readable by node_exporter's user whatever the daemon's umask: counts only, no case data.
            fchmod(fd, 0o644)
            let written = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            Glibc.close(fd)
            if written != text.count {
                problem = "cannot write \(partial): \(written < 0 ? String(cString: strerror(errno)) : "short write")"
            } else if rename(partial, path) != 0 {
                problem = "cannot rename \(partial) to \(path): \(String(cString: strerror(errno)))"
            }
        }
        if let problem {
            unlink(partial)
            // Once per distinct problem, not every interval.
            if problem != lastError {
                logger.warning(
                    "metrics: \(problem); check [metrics] textfile and that the daemon may write its directory"
                )
            }
        } else if lastError != nil {
            logger.notice("metrics: writing \(path) again")
        }
        lastError = problem
    }
}
