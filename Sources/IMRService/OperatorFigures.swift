import CoreMetrics
import Foundation
import IMRWire
import Synchronization

/// The figures an operator watches, reported through swift-metrics (the daemon exports them in
/// Prometheus text format when `[metrics]` asks for it) and kept here as running totals for
/// `io.imr.Admin.Status`, so `imr-ctl status` says the same in words.
///
/// Metric names (Prometheus): `imr_commands_total{outcome}` (recorded, already_recorded,
/// refused, invalid, failed), `imr_command_duration_seconds` (decide and append),
/// `imr_append_events` (events per append: the commit size), `imr_alerts_raised_total{level}`,
/// `imr_alert_lag_seconds` (how long after it could have been an alert was raised: after its
/// scheduled time, or after the fact that made it owed was recorded if that came later),
/// `imr_alerts_raised_late_total{cause}` (more than a minute after its scheduled time: `daemon`,
/// not running or not able to, or `recording`, its facts recorded after its time), `imr_scheduler_passes_total{outcome}`,
/// `imr_scheduler_pass_duration_seconds`, `imr_access_refusals_total{interface}`; the Varlink
/// server adds `varlink_*` (see ``Varlink``).
package final class OperatorFigures: Sendable {
    package static let shared = OperatorFigures()

    /// The counts (the wire type io.imr.Admin.Status carries).
    package typealias Totals = ServiceFigures

    private let totals = Mutex(Totals())

    package init() {}

    package var snapshot: Totals { totals.withLock { $0 } }

    package enum CommandOutcome: String, Sendable {
        case recorded
        case alreadyRecorded = "already_recorded"
        case refused, invalid, failed
    }

    package func command(_ outcome: CommandOutcome, events: Int = 0, duration: Duration? = nil) {
        Counter(label: "imr_commands_total", dimensions: [("outcome", outcome.rawValue)]).increment()
        if let duration {
            CoreMetrics.Timer(label: "imr_command_duration_seconds").recordNanoseconds(duration.nanoseconds)
        }
        if outcome == .recorded { Recorder(label: "imr_append_events").record(events) }
        totals.withLock { t in
            switch outcome {
            case .recorded:
                t.commandsRecorded += 1
                t.eventsAppendedByCommands += Int64(events)
            case .alreadyRecorded: t.commandsAlreadyRecorded += 1
            case .refused: t.commandsRefused += 1
            case .invalid: t.commandsInvalid += 1
            case .failed: t.commandsFailed += 1
            }
            if let duration { t.slowestCommandMs = max(t.slowestCommandMs, Double(duration.nanoseconds) / 1e6) }
        }
    }

    package func accessRefused(interface: String) {
        Counter(label: "imr_access_refusals_total", dimensions: [("interface", interface)]).increment()
        totals.withLock { $0.accessRefusals += 1 }
    }

    /// An alert raised `lagSeconds` after the daemon could have raised it
    /// (``AlertScheduler/lag(of:now:coverage:)``); `late`: why it came more than a minute
    /// after its scheduled time, if it did.
    package func alertRaised(level: String, lagSeconds: Double, late: AlertScheduler.LateCause?) {
        Counter(label: "imr_alerts_raised_total", dimensions: [("level", level)]).increment()
        Recorder(label: "imr_alert_lag_seconds").record(max(0, lagSeconds))
        if let late {
            Counter(label: "imr_alerts_raised_late_total", dimensions: [("cause", late.rawValue)]).increment()
        }
        totals.withLock { t in
            t.alertsRaised += 1
            if late != nil { t.alertsRaisedLate += 1 }
            if late == .recording { t.alertsRaisedLateByRecording += 1 }
            t.largestAlertLagSeconds = max(t.largestAlertLagSeconds, lagSeconds)
        }
    }

    package func schedulerPass(duration: Duration, failed: Bool) {
        Counter(label: "imr_scheduler_passes_total", dimensions: [("outcome", failed ? "failed" : "ok")]).increment()
        CoreMetrics.Timer(label: "imr_scheduler_pass_duration_seconds").recordNanoseconds(duration.nanoseconds)
        totals.withLock { t in
            t.schedulerPasses += 1
            if failed { t.schedulerFailures += 1 }
        }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
