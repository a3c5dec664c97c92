import ArgumentParser
import EventStore
import Foundation
import IMRWire
import IMRCommandLine
import IMRService
import Varlink
import Workflow

/// `imr-bench seed`: a large store of synthetic cases, written through the event store's batch
/// path with the daemon's read models, to measure a daemon at size.
struct Seed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract:
            "Write a store of N synthetic cases at every stage (the demo's mix) with the daemon's read models, and time it.",
        discussion: """
            Writes DIR/imr.sqlite (which must not exist) in two steps. The log: --cases cases generated one at a time \
            from --seed, spread over --coordinators coordinators, each case's lifecycle commands decided in memory and \
            appended as one request, --batch cases to a transaction, synchronous=NORMAL (the file is rebuilt, not \
            trusted, if the machine fails meanwhile), with a writer page cache of --cache-mib MiB; with --interleave, \
            each batch's cases event by event in turns (every case's first event, then every second one...), so that \
            the log interleaves cases as one recorded over months does (a rebuild then reads each case's events from \
            all over its batch's part of the log). Then the read \
            models (case list, items, deadlines, alerts): the store is opened with them, and builds them in a rebuild \
            pass as a daemon does for a new read model (the log read case by case, each case worked out on a thread \
            of its own, the list indexes created at the end). Prints progress every 10,000 cases and, at the end, \
            each step's time, cases/s, events/s and the file's size. A daemon started on DIR as its state directory \
            then serves the store. See BENCHMARKS.md.
            """
    )

    @Option(help: "The state directory to create the store in.") var dir: String
    @Option(help: "Synthetic cases to write.") var cases: Int = 20_000
    @Option(help: "Cases per transaction (a large one dirties each index page once for many cases).") var batch: Int =
        5000
    @Option(help: "Coordinators the cases are spread over.") var coordinators: Int = 300
    @Option(help: "Seed of the caseload.") var seed: UInt64 = 2026
    @Option(name: .customLong("cache-mib"), help: "The writer's SQLite page cache in MiB.") var cacheMiB: Int = 256
    @Flag(help: "Append each batch's cases event by event in turns, interleaved in the log.") var interleave = false

    func validate() throws {
        guard (1...10_000_000).contains(cases) else {
            throw ValidationError("--cases takes 1 to 10,000,000, not \(cases)")
        }
        guard (1...10_000).contains(batch) else {
            throw ValidationError("--batch takes 1 to 10,000 cases a transaction, not \(batch)")
        }
        guard (1...100_000).contains(coordinators) else {
            throw ValidationError("--coordinators takes 1 to 100,000, not \(coordinators)")
        }
        guard (2...16_384).contains(cacheMiB) else {
            throw ValidationError("--cache-mib takes 2 to 16384, not \(cacheMiB)")
        }
    }

    func run() throws {
        let path = URL(fileURLWithPath: dir).appendingPathComponent("imr.sqlite").path
        guard !FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("\(path) exists: seed writes a new store; give another --dir or remove it")
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let options = EventStore.Options(synchronous: .normal, writerCacheKiB: cacheMiB * 1024)
        let store = try EventStore(path: path, options: options, projections: [])
        defer { store.close() }
        let seeder = CaseSeeder(store: store, actor: Actor(uid: getuid(), name: "imr-bench-seed"))
        let now = Date()
        let caseload = SyntheticCaseload(
            now: now,
            count: cases,
            seed: seed,
            coordinators: (1...coordinators).map { "coord\($0)" }
        )
        let started = Date()
        var total = CaseSeeder.Outcome()
        // The cases are generated, decided and encoded on a thread of their own, a batch ahead
        // of the one being written (two batches at most in memory).
        let producer = SeedProducer(caseload: caseload, seeder: seeder, count: cases, batch: batch, now: now)
        Thread.detachNewThread { producer.run() }
        var written = 0
        var lastReport = 0
        while let prepared = producer.next() {
            let outcome = try seeder.write(prepared, interleaved: interleave)
            written += prepared.count
            total.cases += outcome.cases
            total.events += outcome.events
            total.refused += outcome.refused
            if written - lastReport >= 10_000 {
                lastReport = written
                let seconds = Date().timeIntervalSince(started)
                say(
                    String(
                        format: "%9d cases  %10d events  %7.1f s  %6.0f cases/s  %7.0f events/s",
                        total.cases,
                        total.events,
                        seconds,
                        Double(total.cases) / seconds,
                        Double(total.events) / seconds
                    )
                )
            }
        }
        store.close()
        let logSeconds = Date().timeIntervalSince(started)
        func bytes() -> Int64 {
            ["", "-wal"].reduce(Int64(0)) { sum, suffix in
                sum
                    + ((try? FileManager.default.attributesOfItem(atPath: path + suffix)[.size] as? NSNumber)?
                        .int64Value ?? 0)
            }
        }
        let logBytes = bytes()
        say(
            String(
                format: "log: %d cases, %d events in %.1f s (%.0f cases/s, %.0f events/s); %@ (%.0f bytes/event)",
                total.cases,
                total.events,
                logSeconds,
                Double(total.cases) / logSeconds,
                Double(total.events) / logSeconds,
                ByteCountFormatter.string(fromByteCount: logBytes, countStyle: .binary),
                Double(logBytes) / Double(max(total.events, 1))
            )
        )
        let modelsStarted = Date()
        try EventStore(path: path, options: options, projections: ReadModels.all()).close()
        let modelsSeconds = Date().timeIntervalSince(modelsStarted)
        let seconds = Date().timeIntervalSince(started)
        let allBytes = bytes()
        say(
            String(
                format: "read models: built in %.1f s (%.0f events/s); %@ more (%.0f bytes/event)",
                modelsSeconds,
                Double(total.events) / modelsSeconds,
                ByteCountFormatter.string(fromByteCount: allBytes - logBytes, countStyle: .binary),
                Double(allBytes - logBytes) / Double(max(total.events, 1))
            )
        )
        say(
            String(
                format:
                    "seeded %d cases, %d events in %.1f s (%.0f cases/s, %.0f events/s); %@ on disk (%.0f bytes/event)",
                total.cases,
                total.events,
                seconds,
                Double(total.cases) / seconds,
                Double(total.events) / seconds,
                ByteCountFormatter.string(fromByteCount: allBytes, countStyle: .binary),
                Double(allBytes) / Double(max(total.events, 1))
            )
        )
        if total.refused > 0 || producer.unconverted > 0 {
            say(
                "\(total.refused) commands refused by the lifecycle and \(producer.unconverted) calls not lifecycle commands were left out"
            )
        }
    }
}

/// A line on stdout at once (progress shows as it comes, also into a file or a pipe).
private func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Generates, decides and encodes the batches, one ahead of the writer.
/// @unchecked Sendable: `caseload` is used by the producing thread only; the queue and the
/// count are behind `lock`.
final class SeedProducer: @unchecked Sendable {
    private var caseload: SyntheticCaseload
    private let seeder: CaseSeeder
    private let count: Int
    private let batch: Int
    private let now: Date
    private let ready = DispatchSemaphore(value: 0)
    private let room = DispatchSemaphore(value: 2)
    private let lock = NSLock()
    private var queue: [CaseSeeder.Prepared] = []
    private var skipped = 0

    init(caseload: SyntheticCaseload, seeder: CaseSeeder, count: Int, batch: Int, now: Date) {
        self.caseload = caseload
        self.seeder = seeder
        self.count = count
        self.batch = batch
        self.now = now
    }

    /// Calls that were not lifecycle commands.
    var unconverted: Int { lock.withLock { skipped } }

    func run() {
        var next = 0
        while next < count {
            room.wait()
            var group: [(caseId: CaseID, commands: [CaseCommand])] = []
            while group.count < batch && next < count {
                let calls = caseload.calls(ofCase: next)
                next += 1
                guard let caseId = calls.first?.parameters["caseId"]?.stringValue else { continue }
                var commands: [CaseCommand] = []
                for call in calls {
                    if let command = try? RecordingCall.command(
                        for: VarlinkCall(method: "io.imr.Cases." + call.method, parameters: call.parameters)
                    ) {
                        commands.append(command)
                    } else {
                        lock.withLock { skipped += 1 }
                    }
                }
                group.append((CaseID(caseId), commands))
            }
            let prepared = seeder.prepare(group, now: now)
            lock.withLock { queue.append(prepared) }
            ready.signal()
        }
        ready.signal()  // the end: next() finds the queue empty
    }

    /// The next prepared batch, waiting for it; nil once every batch was taken.
    func next() -> CaseSeeder.Prepared? {
        ready.wait()
        let prepared = lock.withLock { queue.isEmpty ? nil : queue.removeFirst() }
        if prepared != nil { room.signal() }
        return prepared
    }
}
