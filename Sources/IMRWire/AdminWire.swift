import Foundation
import Varlink

// io.imr.Admin's parameters and replies, for both ends: the service encodes them, imr-ctl
// decodes them, and a test holds io.imr.Admin.varlink to their fields.

/// What the daemon reports about itself (`Status`).
package struct AdminStatus: Codable, Sendable, Equatable {
    package struct Projection: Codable, Sendable, Equatable {
        package var name: String
        package var checkpoint: Int64
        /// In a rebuild: the log's head the rebuild reads up to (the checkpoint is 0 until it ends).
        package var rebuildingTo: Int64?

        package init(name: String, checkpoint: Int64, rebuildingTo: Int64?) {
            self.name = name
            self.checkpoint = checkpoint
            self.rebuildingTo = rebuildingTo
        }
    }

    package var version: String
    package var startedAt: Date
    package var uptimeSeconds: Int64
    package var databasePath: String
    package var databaseBytes: Int64
    package var headPosition: Int64
    package var openCases: Int64
    package var projections: [Projection]
    /// What the daemon has done since it started (the Prometheus export has the same).
    package var figures: AdminFigures?
    /// Who called, as the daemon sees them: the user name its peer credentials give and the
    /// role their groups give under the access policy in force.
    package var caller: Caller?

    package struct Caller: Codable, Sendable, Equatable {
        package var user: String
        /// "reader", "coordinator" or "admin".
        package var role: String
        package init(user: String, role: String) {
            self.user = user
            self.role = role
        }
    }

    package init(
        version: String,
        startedAt: Date,
        uptimeSeconds: Int64,
        databasePath: String,
        databaseBytes: Int64,
        headPosition: Int64,
        openCases: Int64,
        projections: [Projection],
        figures: AdminFigures?,
        caller: Caller? = nil
    ) {
        self.version = version
        self.startedAt = startedAt
        self.uptimeSeconds = uptimeSeconds
        self.databasePath = databasePath
        self.databaseBytes = databaseBytes
        self.headPosition = headPosition
        self.openCases = openCases
        self.projections = projections
        self.figures = figures
        self.caller = caller
    }
}

/// The operator's figures since start: commands, refusals, alerts, scheduler passes, the
/// server's connections and calls, and the process's memory and descriptors.
package struct AdminFigures: Codable, Sendable, Equatable {
    package var service: ServiceFigures
    package var server: VarlinkServerStatistics.Snapshot?
    package var store: StoreFigures?
    package var residentBytes: Int64
    package var openDescriptors: Int

    package init(
        service: ServiceFigures,
        server: VarlinkServerStatistics.Snapshot?,
        store: StoreFigures?,
        residentBytes: Int64,
        openDescriptors: Int
    ) {
        self.service = service
        self.server = server
        self.store = store
        self.residentBytes = residentBytes
        self.openDescriptors = openDescriptors
    }
}

/// The event log's writes since start: transactions committed (each a sync of the WAL with
/// `synchronous = FULL`), the pages they wrote to it, and the groups the writer thread
/// committed with the writes (commands and other appends) in them.
package struct StoreFigures: Codable, Sendable, Equatable {
    package var commits: Int64
    package var pagesWritten: Int64
    package var groups: Int64
    package var writes: Int64

    package init(commits: Int64, pagesWritten: Int64, groups: Int64, writes: Int64) {
        self.commits = commits
        self.pagesWritten = pagesWritten
        self.groups = groups
        self.writes = writes
    }
}

/// The service's counts since start (the daemon's `OperatorFigures`).
package struct ServiceFigures: Codable, Sendable, Equatable {
    package var commandsRecorded: Int64 = 0
    package var commandsAlreadyRecorded: Int64 = 0
    package var commandsRefused: Int64 = 0
    package var commandsInvalid: Int64 = 0
    package var commandsFailed: Int64 = 0
    package var eventsAppendedByCommands: Int64 = 0
    package var accessRefusals: Int64 = 0
    package var alertsRaised: Int64 = 0
    /// Raised more than a minute after their scheduled time, for either cause.
    package var alertsRaisedLate: Int64 = 0
    /// Of those, the ones whose facts were recorded after their time (the daemon raised them
    /// as soon as it could).
    package var alertsRaisedLateByRecording: Int64 = 0
    package var schedulerPasses: Int64 = 0
    package var schedulerFailures: Int64 = 0
    /// The slowest command (decide and append) since start, in milliseconds.
    package var slowestCommandMs: Double = 0
    /// The longest the daemon took to raise an alert since start, in seconds: from its
    /// scheduled time, or from when the fact that made it owed was recorded, if later.
    package var largestAlertLagSeconds: Double = 0
    package init() {}

    private enum CodingKeys: String, CodingKey {
        case commandsRecorded, commandsAlreadyRecorded, commandsRefused, commandsInvalid, commandsFailed
        case eventsAppendedByCommands, accessRefusals, alertsRaised, alertsRaisedLate, alertsRaisedLateByRecording
        case schedulerPasses, schedulerFailures, slowestCommandMs, largestAlertLagSeconds
    }

    /// Reads a daemon's figures; one that predates a figure leaves it at 0.
    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func count(_ key: CodingKeys) throws -> Int64 { try c.decodeIfPresent(Int64.self, forKey: key) ?? 0 }
        commandsRecorded = try count(.commandsRecorded)
        commandsAlreadyRecorded = try count(.commandsAlreadyRecorded)
        commandsRefused = try count(.commandsRefused)
        commandsInvalid = try count(.commandsInvalid)
        commandsFailed = try count(.commandsFailed)
        eventsAppendedByCommands = try count(.eventsAppendedByCommands)
        accessRefusals = try count(.accessRefusals)
        alertsRaised = try count(.alertsRaised)
        alertsRaisedLate = try count(.alertsRaisedLate)
        alertsRaisedLateByRecording = try count(.alertsRaisedLateByRecording)
        schedulerPasses = try count(.schedulerPasses)
        schedulerFailures = try count(.schedulerFailures)
        slowestCommandMs = try c.decodeIfPresent(Double.self, forKey: .slowestCommandMs) ?? 0
        largestAlertLagSeconds = try c.decodeIfPresent(Double.self, forKey: .largestAlertLagSeconds) ?? 0
    }
}

/// `Verify`'s reply: the hash chain recomputed and the head anchor compared.
package struct VerifyReply: Codable, Sendable, Equatable {
    package var eventsChecked: Int64
    package var headPosition: Int64
    package var intact: Bool
    package var firstBadPosition: Int64?
    package var problem: String?
    package var anchorPosition: Int64?
    /// The first position of a deleted tail.
    package var missingFrom: Int64?

    package init(
        eventsChecked: Int64,
        headPosition: Int64,
        intact: Bool,
        firstBadPosition: Int64?,
        problem: String?,
        anchorPosition: Int64?,
        missingFrom: Int64?
    ) {
        self.eventsChecked = eventsChecked
        self.headPosition = headPosition
        self.intact = intact
        self.firstBadPosition = firstBadPosition
        self.problem = problem
        self.anchorPosition = anchorPosition
        self.missingFrom = missingFrom
    }
}

/// `Backup`'s parameters: a file name in the daemon's backup directory, and whether to replace it.
package struct BackupRequest: Codable, Sendable, Equatable {
    package var name: String?
    package var force: Bool?
    package init(name: String?, force: Bool?) {
        self.name = name
        self.force = force
    }
}

/// `Backup`'s reply.
package struct BackupReply: Codable, Sendable, Equatable {
    package var path: String
    package var events: Int64
    package var headPosition: Int64
    package init(path: String, events: Int64, headPosition: Int64) {
        self.path = path
        self.events = events
        self.headPosition = headPosition
    }
}

/// `Rebuild`'s parameters: one read model, or all.
package struct RebuildRequest: Codable, Sendable, Equatable {
    package var projection: String?
    package init(projection: String?) { self.projection = projection }
}

/// `Rebuild`'s replies: with `more`, progress about once a second (`rebuilt` empty), then the
/// read models rebuilt with the final figures.
package struct RebuildReply: Codable, Sendable, Equatable {
    package var rebuilt: [String]
    package var progress: RebuildProgress?
    package init(rebuilt: [String], progress: RebuildProgress?) {
        self.rebuilt = rebuilt
        self.progress = progress
    }
}

/// Where a finished rebuild's time went, in seconds, as the store's reports bound each phase:
/// until the pass began (the page cache warmed, the old tables dropped), the pass over the log
/// (to its last batch), the deferred indexes, and catching up on what was recorded meanwhile.
package struct RebuildPhases: Codable, Sendable, Equatable {
    package var start: Double
    package var pass: Double
    package var indexes: Double
    package var catchUp: Double
    package init(start: Double, pass: Double, indexes: Double, catchUp: Double) {
        self.start = start
        self.pass = pass
        self.indexes = indexes
        self.catchUp = catchUp
    }

    /// "start 1.2 s, the pass 15.1 s, indexes 2.3 s, catch-up 0.1 s".
    package var words: String {
        String(format: "start %.1f s, the pass %.1f s, indexes %.1f s, catch-up %.1f s", start, pass, indexes, catchUp)
    }
}

/// How far a rebuild has come.
package struct RebuildProgress: Codable, Sendable, Equatable {
    /// Events read from the log so far.
    package var events: Int64
    /// About how many it reads (the log's head when it started).
    package var of: Int64
    /// What it is doing: reading the log, creating an index, catching up.
    package var step: String
    package var seconds: Double
    package var eventsPerSecond: Int64
    /// Where a finished rebuild's time went (the last reply only).
    package var phases: RebuildPhases?
    package init(
        events: Int64,
        of: Int64,
        step: String,
        seconds: Double,
        eventsPerSecond: Int64,
        phases: RebuildPhases? = nil
    ) {
        self.events = events
        self.of = of
        self.step = step
        self.seconds = seconds
        self.eventsPerSecond = eventsPerSecond
        self.phases = phases
    }

    /// "450000 of 1386608 events (32%), 41000 events/s, reading the log stream by stream".
    package var words: String {
        "\(events) of \(max(of, 1)) events (\(events * 100 / max(of, 1))%), \(eventsPerSecond) events/s, \(step)"
    }
}
