import ChildProcess
import Foundation
import TestSupport
import Testing
import Varlink

/// The fixture letters beside the checkout (../shared), as the other tests read them.
private let letters = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/fixtures/letters")

private let imrCtl = productsDirectory.appendingPathComponent("imr-ctl").path

/// Runs the real imr-ctl against the daemon, off the cooperative pool; stdout and stderr apart.
private func importing(
    _ arguments: [String],
    daemon: DaemonProcess
) async throws -> (status: Int32, out: String, err: String) {
    try await offThePool {
        let p = SpawnedProcess()
        p.executableURL = URL(fileURLWithPath: imrCtl)
        p.arguments = ["import", "--socket", daemon.socketPath] + arguments
        let out = Pipe.forChild()
        let err = Pipe.forChild()
        p.standardOutput = out
        p.standardError = err
        try p.start()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        return (p.waitForExit().status, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

private func reports(_ output: String) throws -> [[String: Any]] {
    try #require(
        try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]],
        "not a JSON array: \(output)"
    )
}

/// How many case events the log holds (the sum of every case's version). Not the log's head:
/// the alert scheduler appends alert events of its own whenever a deadline's alert comes due.
private func head(_ daemon: DaemonProcess) async throws -> JSONValue? {
    try await offThePool {
        guard case .array(let cases)? = try daemon.client().call("io.imr.Cases.List")["cases"] else { return nil }
        return .int(cases.reduce(Int64(0)) { sum, c in if case .int(let v)? = c["version"] { sum + v } else { sum } })
    }
}

private func caseDetail(_ daemon: DaemonProcess, _ caseId: String) async throws -> JSONValue? {
    try await offThePool { try daemon.client().call("io.imr.Cases.Get", ["caseId": .string(caseId)])["case"] }
}

/// A letter's text as `pdftotext -layout` gives it, with header lines edited.
private func editedLetter(_ pdf: String, in dir: URL, replacing edits: [(String, String)]) throws -> String {
    let result = try run(["pdftotext", "-layout", letters.appendingPathComponent(pdf).path, "-"])
    var lines = result.output.components(separatedBy: "\n")
    for index in 0..<min(6, lines.count) {
        for (old, new) in edits { lines[index] = lines[index].replacingOccurrences(of: old, with: new) }
    }
    let path = dir.appendingPathComponent("edited-\(UUID().uuidString.prefix(6)).txt").path
    try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// `imr-ctl import` through the real daemon. Serialized: each test starts a daemon.
@Suite(.serialized, .timeLimit(.minutes(5))) struct LetterImportDaemonTests {
    @Test func aLetterOpensACase_recordsItsDetermination_derivesDeadlines_andAgainChangesNothing() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        let pdf = letters.appendingPathComponent("pdf/CM16-0229336.pdf").path

        let first = try await importing(["--json", pdf], daemon: daemon)
        #expect(first.status == 0, "\(first.err)")
        let report = try #require(try reports(first.out).first)
        #expect(report["status"] as? String == "opened")
        #expect(report["case_id"] as? String == "CM16-0229336")
        #expect(
            report["events"] as? [String] == [
                "CaseOpened", "DisputedItemsImported", "IMRApplicationReceived", "IMRAssigned",
                "IMRDeterminationIssued",
            ]
        )
        #expect(report["determined_items"] as? [String] == ["1"])

        let detail = try #require(try await caseDetail(daemon, "CM16-0229336"))
        #expect(detail["dateOfInjury"] == "2016-10-20")
        #expect(detail["claimNumber"] == "unknown (imported from letter CM16-0229336)")
        let item = try #require(detail["items"]?.list?.first)
        #expect(item["imrDecision"] == "overturned")
        #expect(item["imrCaseNumber"] == "CM16-0229336")
        #expect(item["urDecidedOn"] == "2016-10-28")
        #expect(item["importedFrom"] == "IMR Final Determination CM16-0229336 (CM16-0229336.pdf)")
        // Every event says where it came from.
        let timeline = try #require(detail["timeline"]?.list)
        #expect(timeline.count == 5)
        #expect(timeline.allSatisfy { $0["importedFrom"] == "IMR Final Determination CM16-0229336 (CM16-0229336.pdf)" })
        // The overturned item's implementation clock: 5 working days from the decision date
        // (Fri 2016-12-30; Mon 2017-01-02 is the observed New Year's Day), with the assumption said.
        let deadlines = try #require(detail["deadlines"]?.list)
        let implementation = try #require(deadlines.first { $0["rule"] == "imr.implementation" })
        #expect(implementation["dueDate"] == "2017-01-09")
        #expect(
            implementation["assumptions"]?.list?.contains {
                $0.stringValue?.contains("mailing date is not recorded") == true
            } == true
        )
        #expect(deadlines.first { $0["rule"] == "wcab.appeal" } != nil)
        #expect(!deadlines.contains { $0["rule"]?.stringValue?.hasPrefix("ur.") == true })

        let before = try await head(daemon)
        #expect(before == .int(5))
        let again = try await importing([pdf], daemon: daemon)
        #expect(again.status == 0, "\(again.err)")
        #expect(again.out == "CM16-0229336: already recorded on case CM16-0229336, nothing changed\n")
        #expect(try await head(daemon) == before)
    }

    @Test func aContradictingLetterIsRefusedWithItsDifferences_andForceRecordsCorrections() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        let imported = try await importing(
            [letters.appendingPathComponent("pdf/CM16-0229336.pdf").path],
            daemon: daemon
        )
        #expect(imported.status == 0, "\(imported.err)")
        let before = try await head(daemon)

        let edited = try editedLetter(
            "pdf/CM16-0229336.pdf",
            in: daemon.directory,
            replacing: [
                ("Date of Injury:      10/20/2016", "Date of Injury:      10/19/2016"),
                ("Decision Date:        12/30/2016", "Decision Date:        12/29/2016"),
            ]
        )
        let refused = try await importing(["--json", edited], daemon: daemon)
        #expect(refused.status == 1, "\(refused.err)")
        let report = try #require(try reports(refused.out).first)
        #expect(report["status"] as? String == "refused")
        let differences = try #require(report["differences"] as? [[String: Any]])
        #expect(
            differences.map { "\($0["field"]!) \($0["recorded"]!) \($0["letter"]!)" } == [
                "dateOfInjury 2016-10-20 2016-10-19", "decisionDate 2016-12-30 2016-12-29",
            ]
        )
        #expect(refused.err.contains("refused"))
        #expect(try await head(daemon) == before)

        let human = try await importing([edited], daemon: daemon)
        #expect(human.status == 1)
        #expect(human.out.contains("CM16-0229336: refused: the letter contradicts case CM16-0229336, nothing recorded"))
        #expect(human.out.contains("dateOfInjury: recorded 2016-10-20, letter 2016-10-19"))
        #expect(human.out.contains("decisionDate (item 1): recorded 2016-12-30, letter 2016-12-29"))

        let forced = try await importing(["--force", "--json", edited], daemon: daemon)
        #expect(forced.status == 0, "\(forced.err)")
        let corrected = try #require(try reports(forced.out).first)
        #expect(corrected["status"] as? String == "corrected")
        #expect(corrected["events"] as? [String] == ["EventCorrected", "EventCorrected"])
        let detail = try #require(try await caseDetail(daemon, "CM16-0229336"))
        #expect(detail["dateOfInjury"] == "2016-10-19")
        #expect(detail["items"]?.list?.first?["determinationDecidedOn"] == "2016-12-29")
        let corrections = try #require(detail["corrections"]?.list)
        #expect(corrections.count == 2)
        #expect(
            corrections.allSatisfy {
                $0["reason"]?.stringValue?.hasPrefix("imported from IMR Final Determination CM16-0229336 (edited-")
                    == true
            }
        )

        // Corrected, the case says what the letter says: importing it again writes nothing.
        let settled = try await head(daemon)
        let again = try await importing(["--force", edited], daemon: daemon)
        #expect(again.status == 0)
        #expect(again.out.contains("already recorded"))
        #expect(try await head(daemon) == settled)
    }

    @Test func aLetterNamedToACaseAwaitingIMR_recordsItsAssignmentAndDetermination_thenIsFoundByItsNumber() async throws
    {
        let daemon = try DaemonProcess()
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        // The case of seed letter 001 (CM13-0050377), recorded by hand up to the eligibility finding.
        try await offThePool {
            let c = try daemon.client()
            func call(_ m: String, _ p: [String: JSONValue]) throws { _ = try c.call("io.imr.Cases." + m, p) }
            try call(
                "Open",
                [
                    "caseId": "c1", "claimNumber": "ADJ-9", "employer": "Acme", "claimsAdministrator": "Golden TPA",
                    "injuredWorkerReference": "M.R.", "dateOfInjury": "2012-03-17", "coordinator": "maria",
                ]
            )
            try call(
                "ReceiveRFA",
                [
                    "caseId": "c1", "rfaId": "A", "receivedAt": "2013-10-14T09:00", "receivedTimeOfDayKnown": true,
                    "transmission": "fax", "physician": "Dr. Lee", "reviewType": "prospective", "expedited": false,
                    "formulary": false,
                    "items": .array([.object(["id": "1", "description": "6 additional massage therapy treatments"])]),
                ]
            )
            try call(
                "DecideUR",
                [
                    "caseId": "c1", "rfaId": "A", "decidedAt": "2013-10-18T11:00",
                    "decisions": .array([.object(["itemId": "1", "outcome": "denied"])]),
                ]
            )
            try call(
                "ServeWrittenDecision",
                [
                    "caseId": "c1", "itemIds": .array(["1"]), "servedOn": "2013-10-18", "method": "mail",
                    "destination": "california",
                ]
            )
            try call("ReceiveIMRApplication", ["caseId": "c1", "itemIds": .array(["1"]), "receivedOn": "2013-11-13"])
            try call("FindEligible", ["caseId": "c1", "itemIds": .array(["1"]), "foundOn": "2013-12-20"])
        }
        let seed = letters.appendingPathComponent("seeds/001_a437b3b9d38f480f.txt").path
        let named = try await importing(["--case", "c1", seed], daemon: daemon)
        #expect(named.status == 0, "\(named.err)")
        #expect(named.out == "CM13-0050377: recorded determination for 1 item on case c1\n")
        let detail = try #require(try await caseDetail(daemon, "c1"))
        let item = try #require(detail["items"]?.list?.first)
        #expect(item["imrCaseNumber"] == "CM13-0050377")
        #expect(item["imrAssignedOn"] == "2013-12-27")
        #expect(item["imrDecision"] == "upheld")
        // A field with no value is left out of the reply.
        #expect(item["importedFrom"] == nil)
        let timeline = try #require(detail["timeline"]?.list)
        #expect(timeline.map { $0["importedFrom"] != nil } == [false, false, false, false, false, false, true, true])

        // Now the case carries the number: the letter finds it by itself, and nothing changes.
        let settled = try await head(daemon)
        let again = try await importing([seed], daemon: daemon)
        #expect(again.out == "CM13-0050377: already recorded on case c1, nothing changed\n")
        #expect(try await head(daemon) == settled)
    }

    @Test func anUnreadableOrHeaderlessFileImportsNothing_evenBesideAGoodLetter() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        let good = letters.appendingPathComponent("pdf/CM16-0213037.pdf").path
        let empty = daemon.directory.appendingPathComponent("scan.txt").path
        try Data("\u{0C}\n\u{0C}\n".utf8).write(to: URL(fileURLWithPath: empty))
        let broken = daemon.directory.appendingPathComponent("broken.pdf").path
        try Data("%PDF-1.4 not really".utf8).write(to: URL(fileURLWithPath: broken))
        let headerless = letters.appendingPathComponent("seeds/000_2f4fcea6c50ea917.txt").path

        for bad in [empty, broken, headerless] {
            let result = try await importing([good, bad], daemon: daemon)
            #expect(result.status == 65, "\(bad): \(result.out) \(result.err)")
            #expect(result.err.contains(bad), "\(result.err)")
            #expect(result.err.contains("nothing was imported"))
            #expect(!result.err.contains(good))
        }
        #expect(try await head(daemon) == .int(0))
    }

    @Test func aReaderMayNotImport() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-import-access-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let config = dir.appendingPathComponent("imr-daemon.toml")
        try "[access]\nreaders = [\"nogroup\"]\ncoordinators = [\"imr-coordinators\"]\nadmins = [\"imr-admins\"]\n"
            .write(to: config, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(directory: dir, arguments: ["--config", config.path])
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        chmod(dir.path, 0o755)
        chmod(daemon.socketPath, 0o666)
        let letter = dir.appendingPathComponent("letter.txt")
        try FileManager.default.copyItem(
            at: letters.appendingPathComponent("seeds/001_a437b3b9d38f480f.txt"),
            to: letter
        )
        chmod(letter.path, 0o644)
        let socket = daemon.socketPath
        let result = try await offThePool {
            try run([
                "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", imrCtl, "import", "--socket", socket,
                letter.path,
            ])
        }
        #expect(result.status == 77, "\(result.output)")
        #expect(result.output.contains("imr-coordinators"))
        #expect(try await head(daemon) == .int(0))
    }

    /// Every fixture letter with a header opens its case with the items and decisions
    /// expected.json gives; the four without a header are refused as not importable.
    @Test func allFixtureLettersImportIntoOneDaemon() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanup() }
        _ = try #require(await offThePool { daemon.waitUntilReady() })
        let expectedData = try Data(contentsOf: letters.appendingPathComponent("expected.json"))
        let expected = try #require(try JSONSerialization.jsonObject(with: expectedData) as? [String: [String: Any]])
        #expect(expected.count == 44)
        let headed = expected.keys.sorted().filter { expected[$0]?["case_number"] is String }
        let headerless = expected.keys.sorted().filter { !(expected[$0]?["case_number"] is String) }
        #expect(headed.count == 40)
        #expect(headerless.count == 4)

        let result = try await importing(
            ["--json"] + headed.map { letters.appendingPathComponent($0).path },
            daemon: daemon
        )
        #expect(result.status == 0, "\(result.err)")
        let imported = try reports(result.out)
        #expect(imported.count == 40)
        func normal(_ text: Any?) -> String {
            ((text as? String) ?? "").lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
        }
        var problems: [String] = []
        for (file, report) in zip(headed, imported) {
            let want = expected[file]!
            let number = want["case_number"] as! String
            if report["status"] as? String != "opened" || report["case_id"] as? String != number {
                problems.append("\(file): \(report["status"] ?? "?") \(report["message"] ?? "")")
                continue
            }
            guard let detail = try await caseDetail(daemon, number) else {
                problems.append("\(file): no case")
                continue
            }
            let wantItems = (want["items"] as? [[String: Any]]) ?? []
            let items = detail["items"]?.list ?? []
            if items.count != wantItems.count {
                problems.append("\(file): \(items.count) items, expected \(wantItems.count)")
            }
            for (item, wanted) in zip(items, wantItems) {
                let text = item["disputedPortion"]?.stringValue ?? item["description"]?.stringValue
                if item["imrDecision"]?.stringValue != wanted["decision"] as? String
                    || normal(text) != normal(wanted["disputed"])
                {
                    problems.append(
                        "\(file): item \(item["itemId"]?.stringValue ?? "?") is \(item["imrDecision"]?.stringValue ?? "?") \(text ?? ""), expected \(wanted)"
                    )
                }
            }
            if detail["dateOfInjury"]?.stringValue != want["date_of_injury"] as? String {
                problems.append("\(file): date of injury")
            }
            if items.first?["imrAssignedOn"]?.stringValue != want["date_assigned"] as? String {
                problems.append("\(file): assignment")
            }
            if items.first?["determinationDecidedOn"]?.stringValue != want["decision_date"] as? String {
                problems.append("\(file): decision date")
            }
            let overturned = wantItems.filter { $0["decision"] as? String == "overturned" }.count
            let clocks = detail["deadlines"]?.list?.filter { $0["rule"] == "imr.implementation" }.count ?? -1
            if clocks != overturned {
                problems.append("\(file): \(clocks) implementation clocks for \(overturned) overturned items")
            }
        }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")

        let cases = try await offThePool { try daemon.client().call("io.imr.Cases.List")["cases"]?.list?.count }
        #expect(cases == 40)
        let settled = try await head(daemon)
        let again = try await importing(
            ["--json"] + headed.map { letters.appendingPathComponent($0).path },
            daemon: daemon
        )
        #expect(again.status == 0, "\(again.err)")
        let againReports = try reports(again.out)
        #expect(againReports.count == 40)
        #expect(againReports.allSatisfy { $0["status"] as? String == "already-recorded" })
        #expect(try await head(daemon) == settled)

        for file in headerless {
            let path = letters.appendingPathComponent(file).path
            let refused = try await importing([path], daemon: daemon)
            #expect(refused.status == 65, "\(file)")
            #expect(
                refused.err.contains("\(path): the letter carries no IMR case number, no decision date"),
                "\(refused.err)"
            )
        }
        #expect(try await head(daemon) == settled)
    }
}

extension JSONValue {
    /// The elements of an array; nil for anything else.
    fileprivate var list: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
}
