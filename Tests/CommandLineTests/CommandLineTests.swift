import ChildProcess
import Foundation
import Testing

/// The real imr-ctl binary, run as a user would.
private var imrCtl: String {
    var dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("imr-ctl").path), dir.path != "/" {
        dir = dir.deletingLastPathComponent()
    }
    return dir.appendingPathComponent("imr-ctl").path
}

private let shared = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared")

/// Runs imr-ctl on a thread of its own: waiting for a child must not hold one of the two
/// threads of the cooperative pool that other tests' tasks need.
private func ctl(_ arguments: [String]) async throws -> (status: Int32, out: String, err: String) {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try runCtl(arguments) })
        }
    }
}

private func runCtl(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
    let p = SpawnedProcess()
    p.executableURL = URL(fileURLWithPath: imrCtl)
    p.arguments = arguments
    let out = Pipe.forChild()
    let err = Pipe.forChild()
    p.standardOutput = out
    p.standardError = err
    try p.start()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    return (p.waitForExit().status, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

@Suite struct CalcCommandTests {
    /// The worked cases of DEADLINES.md, through the command line.
    @Test(arguments: [
        (["ur.decision.prospective", "--from", "2013-07-05", "--via", "fax"], "2013-07-12"),  // Rivera
        (["ur.decision.prospective", "--from", "2015-04-17T18:18", "--via", "fax"], "2015-04-27"),  // Green
        (["ur.decision.prospective", "--from", "2018-03-12"], "2018-03-19"),  // Pa'u
        (["ur.notice.physician", "--from", "2013-10-31T15:00"], "2013-11-01"),  // Bodam
        (["wcab.appeal", "--from", "2014-11-06", "--via", "mail"], "2014-12-11"),  // Matute
        (["imr.application", "--from", "2013-12-24", "--via", "mail"], "2014-01-28"),  // Avila
    ])
    func workedCases(arguments: [String], dueDate: String) async throws {
        let result = try await ctl(["calc"] + arguments + ["--json"])
        #expect(result.status == 0, "\(result.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["rule", "due", "due_date", "citation", "explanation", "assumptions"])
        #expect(object["due_date"] as? String == dueDate)
        #expect(object["rule"] as? String == arguments[0])
        #expect((object["due"] as? String)?.hasPrefix(dueDate + "T") == true)
        #expect(((object["explanation"] as? [String]) ?? []).isEmpty == false)
    }

    /// Issue 16: the deemed-receipt step names the calendar whose holidays it skipped (Admission
    /// Day 2014 on the pre-2020 UR calendar).
    @Test func theDeemedReceiptStepNamesItsCalendar() async throws {
        let result = try await ctl(["calc", "ur.decision.prospective", "--from", "2014-09-08T18:00", "--via", "fax"])
        #expect(result.status == 0, "\(result.err)")
        #expect(
            result.out.contains("deemed received the next business day on the ur-pre2020 calendar, Wed 2014-09-10"),
            "\(result.out)"
        )
        #expect(result.out.contains("skipped Tue 2014-09-09 (Admission Day)"), "\(result.out)")
    }

    /// Issue 16: imr.implementation counts CalHR working days in every year, and its
    /// explanation says why instead of calling the calendar "from 2020-01-01"; a UR clock
    /// still names the UR calendar of its year.
    @Test func imrImplementationSaysWhyItUsesCalHRIn2016() async throws {
        let result = try await ctl(["calc", "imr.implementation", "--from", "2016-03-01"])
        #expect(result.status == 0, "\(result.err)")
        #expect(
            result.out.contains(
                "calendar: calhr (CalHR holidays; imr.implementation counts CalHR working days in every year"
            ),
            "\(result.out)"
        )
        #expect(!result.out.contains("from 2020-01-01"), "\(result.out)")
        let ur = try await ctl(["calc", "ur.decision.prospective", "--from", "2024-03-04T10:00"])
        #expect(ur.out.contains("calendar: calhr (CalHR holidays: UR business days from 2020-01-01"), "\(ur.out)")
    }

    /// Issue 16: two variants at once are resolved by the rule's order, and calc says so.
    @Test func twoVariantsAtOnceAreResolvedInTheOpen() async throws {
        let result = try await ctl(["calc", "imr.determination", "--from", "2024-12-02", "--expedited", "--formulary"])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out.contains("due Thursday 2024-12-05"), "\(result.out)")
        #expect(result.out.contains("expedited and formulary given: the expedited period applies"), "\(result.out)")
        #expect(result.out.contains("set aside: formulary dispute: 5 working days"), "\(result.out)")
    }

    /// Issue 16: the treatment recommendation's 14-day limit is applied to the ordinary period
    /// and set aside, with the reason, under every variant; where the reading is not settled
    /// and the limit would have ended earlier, the assumption gives that date.
    @Test func theFourteenDayLimitIsAppliedOrSetAsideUnderEveryVariant() async throws {
        let base = ["calc", "ur.decision.prospective", "--from", "2023-03-10", "--recommended", "2023-02-10"]
        let ordinary = try await ctl(base)
        #expect(
            ordinary.out.contains("due Friday 2023-02-24") && ordinary.out.contains("the 14-day limit wins"),
            "\(ordinary.out)"
        )
        let cases: [(flag: [String], due: String, reason: String, assumed: Bool)] = [
            (["--info-requested"], "due Friday 2023-03-24", "information was requested in time", true),
            (["--expedited"], "due Monday 2023-03-13", "an expedited review has its own limit, 72 hours", true),
            (
                ["--formulary"], "due Friday 2023-03-17", "the formulary period is 5 business days with no extension",
                true
            ),
            (
                ["--review", "retrospective"], "due Monday 2023-04-10",
                "LC 4610(i)(1) and its 14-day limit are for prospective and concurrent decisions", false
            ),
        ]
        for (flag, due, reason, assumed) in cases {
            let result = try await ctl(base + flag)
            #expect(result.status == 0, "\(flag): \(result.err)")
            #expect(result.out.contains(due), "\(flag): \(result.out)")
            #expect(
                result.out.contains(
                    "treatment recommendation Fri 2023-02-10: the limit of 14 calendar days after it (Fri 2023-02-24) is set aside: \(reason)"
                ),
                "\(flag): \(result.out)"
            )
            #expect(
                result.out.contains("if it does, the decision was due by the end of Fri 2023-02-24; not verified")
                    == assumed,
                "\(flag): \(result.out)"
            )
        }
        // The rules of those variants take the date too, and say the same.
        let expedited = try await ctl([
            "calc", "ur.decision.expedited", "--from", "2023-03-10T09:00", "--recommended", "2023-03-01",
        ])
        #expect(
            expedited.status == 0 && expedited.out.contains("(Wed 2023-03-15) is set aside: an expedited review"),
            "\(expedited.out)\(expedited.err)"
        )
        // A limit that ends after the variant's due date costs nothing: no assumption.
        #expect(!expedited.out.contains("not verified"), "\(expedited.out)")
    }

    /// Issue 16: a Pacific time that daylight saving skipped or repeated is refused with the
    /// reason and spellings that work, in calc and in a recording command (before it needs a
    /// daemon); the offset that says which instant is taken.
    @Test func aTimeDaylightSavingSkippedOrRepeatedIsRefused() async throws {
        let gap = try await ctl(["calc", "ur.decision.expedited", "--from", "2023-03-12T02:30"])
        #expect(gap.status == 64 && gap.out.isEmpty)
        #expect(
            gap.err.contains("'2023-03-12T02:30' never happened in California: daylight saving began on Sun 2023-03-12")
                && gap.err.contains("such as 2023-03-12T03:30 (PDT)"),
            "\(gap.err)"
        )
        let repeated = try await ctl(["calc", "ur.decision.expedited", "--from", "2023-11-05T01:30"])
        #expect(
            repeated.status == 64 && repeated.err.contains("'2023-11-05T01:30' happened twice in California")
                && repeated.err.contains(
                    "2023-11-05T01:30-07:00 (the first, PDT) or 2023-11-05T01:30-08:00 (the second, PST"
                ),
            "\(repeated.err)"
        )
        let first = try await ctl(["calc", "ur.decision.expedited", "--from", "2023-11-05T01:30-07:00"])
        let second = try await ctl(["calc", "ur.decision.expedited", "--from", "2023-11-05T01:30-08:00"])
        #expect(first.out.contains("due Wednesday 2023-11-08 at 2023-11-08T00:30:00-08:00"), "\(first.out)\(first.err)")
        #expect(
            second.out.contains("due Wednesday 2023-11-08 at 2023-11-08T01:30:00-08:00"),
            "\(second.out)\(second.err)"
        )
        let receive = try await ctl([
            "rfa", "receive", "C-1", "--rfa", "R1", "--received", "2024-03-10T02:15", "--via", "fax",
            "--item", "MRI", "--socket", "/nonexistent/imr.sock",
        ])
        #expect(
            receive.status == 64 && receive.err.contains("--received: '2024-03-10T02:15' never happened in California"),
            "\(receive.err)"
        )
    }

    /// Issue 16: a trigger outside the years the calendars are generated for (2013-2035), or
    /// before its rule or variant was in force, is a value imr cannot count: exit 65 with the
    /// range. A count that runs into 2036 says whose holidays it used.
    @Test func aTriggerOutsideTheCalendarsOrTheRuleIsRefusedWithItsRange() async throws {
        let early = try await ctl(["calc", "ur.decision.prospective", "--from", "1999-05-05"])
        #expect(early.status == 65 && early.out.isEmpty)
        #expect(
            early.err.contains("ur.decision.prospective cannot be counted from 1999-05-05")
                && early.err.contains("from 2013-01-01") && early.err.contains("to 2035-12-31"),
            "\(early.err)"
        )
        let late = try await ctl(["calc", "ur.notice.physician", "--from", "2036-01-02T10:00"])
        #expect(late.status == 65 && late.err.contains("cannot be counted from 2036-01-02"), "\(late.err)")
        let formulary = try await ctl(["calc", "imr.determination", "--from", "2017-05-05", "--formulary"])
        #expect(
            formulary.status == 65 && formulary.err.contains("applies only to triggers on or after 2018-01-01"),
            "\(formulary.err)"
        )
        let edge = try await ctl(["calc", "wcab.appeal", "--from", "2035-12-20", "--via", "mail"])
        #expect(edge.status == 0 && edge.out.contains("due Thursday 2036-01-24"), "\(edge.err)")
        #expect(
            edge.out.contains("the count ran past 2035-12-31, the last year the judicial calendar is generated for"),
            "\(edge.out)"
        )
        let inside = try await ctl(["calc", "wcab.appeal", "--from", "2035-10-01", "--via", "mail"])
        #expect(inside.status == 0 && !inside.out.contains("ran past"), "\(inside.out)")
    }

    /// Issue 16: calc offers every variant the engine computes: the reimbursement period of
    /// imr.implementation and the receiving date stamp of a faxed RFA (which is refused for
    /// an RFA that was not faxed, or that predates the transmission).
    @Test func calcOffersTheReimbursementAndTheReceivingDateStamp() async throws {
        let implement = try await ctl(["calc", "imr.implementation", "--from", "2024-03-05"])
        let reimburse = try await ctl(["calc", "imr.implementation", "--from", "2024-03-05", "--already-provided"])
        #expect(implement.out.contains("due Tuesday 2024-03-12"), "\(implement.out)")
        #expect(
            reimburse.out.contains("due Monday 2024-03-25")
                && reimburse.out.contains("reimburse within 20 calendar days"),
            "\(reimburse.out)"
        )
        let assigned = try await ctl(["calc", "imr.determination", "--from", "2024-03-05", "--assignment-date"])
        #expect(
            assigned.out.contains("due Thursday 2024-04-04")
                && assigned.out.contains(
                    "assumption: the IMRO's receipt of the records is not known: the clock was counted from the assignment date"
                ),
            "\(assigned.out)"
        )
        let refused = try await ctl(["calc", "wcab.appeal", "--from", "2024-03-05", "--already-provided"])
        #expect(
            refused.status == 64 && refused.err.contains("--already-provided does not apply to wcab.appeal"),
            "\(refused.err)"
        )

        // After hours the fax counts from the next business day, unless its stamp says otherwise.
        let late = try await ctl(["calc", "rfa.deemed-receipt", "--from", "2024-03-05T19:00", "--via", "fax"])
        let stamped = try await ctl([
            "calc", "rfa.deemed-receipt", "--from", "2024-03-05T19:00", "--via", "fax", "--stamp", "2024-03-05",
        ])
        #expect(late.out.contains("due Wednesday 2024-03-06"), "\(late.out)")
        #expect(
            stamped.out.contains("due Tuesday 2024-03-05")
                && stamped.out.contains("receiving date stamp Tue 2024-03-05"),
            "\(stamped.out)"
        )
        let decision = try await ctl([
            "calc", "ur.decision.prospective", "--from", "2024-03-05", "--via", "fax", "--stamp", "2024-03-07",
        ])
        #expect(decision.out.contains("due Thursday 2024-03-14"), "\(decision.out)")
        let unsaid = try await ctl(["calc", "rfa.deemed-receipt", "--from", "2024-03-05", "--stamp", "2024-03-06"])
        #expect(
            unsaid.out.contains("assumption: how the RFA was sent is not given: it was taken as faxed"),
            "\(unsaid.out)"
        )
        let mailed = try await ctl([
            "calc", "rfa.deemed-receipt", "--from", "2024-03-05", "--via", "mail", "--stamp", "2024-03-06",
        ])
        #expect(mailed.status == 64 && mailed.err.contains("fixes the receipt of a faxed RFA"), "\(mailed.err)")
        let before = try await ctl([
            "calc", "rfa.deemed-receipt", "--from", "2024-03-05", "--via", "fax", "--stamp", "2024-03-04",
        ])
        #expect(before.status == 64 && before.err.contains("is before the RFA was sent"), "\(before.err)")
    }

    @Test func badInputIsAUsageErrorNamingTheProblem() async throws {
        let unknown = try await ctl(["calc", "ur.nope", "--from", "2024-03-01"])
        #expect(unknown.status == 64)
        #expect(unknown.err.contains("'ur.nope' is not a rule id"))
        let badDate = try await ctl(["calc", "wcab.appeal", "--from", "2024-02-30"])
        #expect(badDate.status == 64)
        #expect(badDate.err.contains("--from"))
        // Year 0000 is no longer counted (with a -07:52 offset): it is outside the supported range.
        let year0 = try await ctl(["calc", "ur.decision.prospective", "--from", "0000-01-03T10:00", "--via", "fax"])
        #expect(year0.status == 65, "a value imr cannot accept")
        #expect(year0.err.contains("outside the dates imr accepts: 1900-01-01 to 2199-12-31"))
        #expect(!year0.out.contains("-07:52"))
        // A recording command says so before it needs a daemon.
        let close = try await ctl([
            "case", "close", "C-1", "--on", "0000-01-01", "--reason", "x", "--socket", "/nonexistent/imr.sock",
        ])
        #expect(close.status == 65)
        #expect(close.err.contains("--on '0000-01-01' is outside the dates imr accepts"))
    }

    @Test func rulesListsEveryRuleWithCitationAndConfidence() async throws {
        let result = try await ctl(["rules", "--json"])
        #expect(result.status == 0)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [[String: String]])
        #expect(rows.count == 16)
        #expect(
            rows.allSatisfy {
                !($0["citation"] ?? "").isEmpty && ["H", "M", "L", "H/M"].contains($0["confidence"] ?? "")
            }
        )
        #expect(rows.contains { $0["rule"] == "imr.eligibility-response" })
    }
}

@Suite struct ImportDryRunTests {
    /// Every fixture letter through `imr-ctl import --dry-run --json`, compared with expected.json.
    @Test func allFixtureLettersMatchExpectedFacts() async throws {
        let letters = shared.appendingPathComponent("fixtures/letters")
        let expectedData = try Data(contentsOf: letters.appendingPathComponent("expected.json"))
        let expected = try #require(try JSONSerialization.jsonObject(with: expectedData) as? [String: [String: Any]])
        #expect(expected.count == 44)
        let files = expected.keys.sorted()
        let result = try await ctl(
            ["import", "--dry-run", "--json"] + files.map { letters.appendingPathComponent($0).path }
        )
        #expect(result.status == 0, "\(result.err)")
        let records = try #require(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [[String: Any]])
        #expect(records.count == 44)
        let keys: Set<String> = [
            "file", "case_number", "date_assigned", "date_of_injury", "decision_date", "ur_denial_date",
            "application_received", "priority", "reviewer_specialty", "items", "warnings", "ocr",
        ]
        func normal(_ value: Any?) -> String? {
            guard let s = value as? String else { return nil }
            return s.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        }
        var mismatches: [String] = []
        for (file, record) in zip(files, records) {
            #expect(Set(record.keys) == keys, "\(file)")
            let want = expected[file]!
            for field in [
                "case_number", "date_assigned", "date_of_injury", "decision_date", "ur_denial_date",
                "application_received", "priority", "reviewer_specialty",
            ] where normal(record[field]) != normal(want[field]) {
                mismatches.append("\(file) \(field): expected \(want[field] ?? "null"), got \(record[field] ?? "null")")
            }
            let gotItems = (record["items"] as? [[String: Any]]) ?? []
            let wantItems = (want["items"] as? [[String: Any]]) ?? []
            if gotItems.count != wantItems.count {
                mismatches.append("\(file) items: expected \(wantItems.count), got \(gotItems.count)")
            }
            for (got, wanted) in zip(gotItems, wantItems) {
                #expect(
                    Set(got.keys) == ["disputed", "decision", "original_request", "authorized_portion", "guideline"],
                    "\(file)"
                )
                if normal(got["disputed"]) != normal(wanted["disputed"])
                    || normal(got["decision"]) != normal(wanted["decision"])
                {
                    mismatches.append(
                        "\(file) item: expected \(wanted), got \(got["disputed"] ?? "") \(got["decision"] ?? "")"
                    )
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches:\n\(mismatches.joined(separator: "\n"))")
    }

    @Test func unreadableFilesGetAClearErrorAndExitNonZero() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-import-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let empty = dir.appendingPathComponent("empty.txt")
        try Data().write(to: empty)
        let unrelated = dir.appendingPathComponent("notes.txt")
        try "Minutes of the Tuesday meeting. Nothing about IMR here.".write(
            to: unrelated,
            atomically: true,
            encoding: .utf8
        )
        let fakePDF = dir.appendingPathComponent("broken.pdf")
        try Data("%PDF-1.4 not really".utf8).write(to: fakePDF)
        for file in [empty, unrelated, fakePDF] {
            let result = try await ctl(["import", "--dry-run", "--json", file.path])
            #expect(result.status == 65, "\(file.lastPathComponent)")
            #expect(result.err.contains(file.path), "\(result.err)")
            // Nothing was read from it: the JSON array is empty.
            #expect((try? JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [Any])?.isEmpty == true)
        }
        // Recording reads every file before it talks to a daemon: an unreadable one stops it all.
        let withoutDryRun = try await ctl([
            "import", "--socket", dir.appendingPathComponent("none.sock").path, unrelated.path,
        ])
        #expect(withoutDryRun.status == 65)
        #expect(withoutDryRun.err.contains(unrelated.path))
        #expect(withoutDryRun.err.contains("nothing was imported"))
        let forcedDryRun = try await ctl(["import", "--dry-run", "--force", unrelated.path])
        #expect(forcedDryRun.status == 64)
        #expect(forcedDryRun.err.contains("--dry-run records nothing"))
    }
}

@Suite struct ImportDirectoryTests {
    /// A directory stands for its .pdf and .txt files, in name order; other files are left out;
    /// a directory with none, and a path that does not exist, are named with the reason, and
    /// no Foundation error text reaches the user.
    @Test func aDirectoryImportsItsLetters_andAnEmptyOrMissingOneIsNamed() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "imr-import-dir-\(UUID().uuidString.prefix(8))"
        )
        let letters = dir.appendingPathComponent("letters")
        let empty = dir.appendingPathComponent("empty")
        for d in [letters, empty] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = shared.appendingPathComponent("fixtures/letters/pdf")
        for name in ["CM16-0229336.pdf", "CM16-0213037.pdf"] {
            try FileManager.default.copyItem(
                at: source.appendingPathComponent(name),
                to: letters.appendingPathComponent(name)
            )
        }
        try "not a letter".write(to: letters.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
        try "not a letter".write(to: empty.appendingPathComponent("notes.md"), atomically: true, encoding: .utf8)

        let result = try await ctl(["import", "--dry-run", "--json", letters.path + "/"])
        #expect(result.status == 0, "\(result.err)")
        let records = try #require(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [[String: Any]])
        #expect(records.compactMap { $0["case_number"] as? String } == ["CM16-0213037", "CM16-0229336"])

        for (path, reason) in [
            (empty.path, "no .pdf or .txt file"),
            (dir.appendingPathComponent("nope").path, "no such file or directory"),
        ] {
            let refused = try await ctl(["import", "--dry-run", path])
            #expect(refused.status == 65, "\(refused.err)")
            #expect(refused.err.contains(path) && refused.err.contains(reason), "\(refused.err)")
            #expect(
                !refused.err.contains("NSCocoaErrorDomain") && !refused.err.contains("Error Domain"),
                "\(refused.err)"
            )
        }
    }
}

@Suite struct ForgivingDateTests {
    /// Dates as a coordinator types them: one-digit months and days, the day words, and a US
    /// date refused with the ISO date it means and the subcommand's own usage.
    @Test func calcTakesShortDatesAndDayWords_andRefusesAUSDateWithASuggestion() async throws {
        let padded = try await ctl(["calc", "ur.decision.prospective", "--from", "2024-03-05T09:30", "--json"])
        #expect(padded.status == 0, "\(padded.err)")
        let short = try await ctl(["calc", "ur.decision.prospective", "--from", "2024-3-5T9:30", "--json"])
        #expect(short.status == 0 && short.out == padded.out, "\(short.err)")
        let spaced = try await ctl(["calc", "ur.decision.prospective", "--from", "2024-03-05 09:30", "--json"])
        #expect(spaced.out == padded.out, "\(spaced.err)")

        var pacific = Calendar(identifier: .gregorian)
        pacific.timeZone = TimeZone(identifier: "America/Los_Angeles")!
        let today = pacific.dateComponents([.year, .month, .day], from: Date())
        let iso = String(format: "%04d-%02d-%02d", today.year!, today.month!, today.day!)
        let byWord = try await ctl(["calc", "imr.application", "--from", "today", "--json"])
        let byDate = try await ctl(["calc", "imr.application", "--from", iso, "--json"])
        #expect(byWord.status == 0 && byWord.out == byDate.out, "\(byWord.err)")
        let tomorrow = try await ctl(["calc", "imr.application", "--from", "tomorrow", "--json"])
        #expect(tomorrow.status == 0 && tomorrow.out != byDate.out, "\(tomorrow.err)")

        let us = try await ctl(["calc", "ur.decision.prospective", "--from", "03/05/2024"])
        #expect(us.status == 64)
        #expect(us.err.contains("did you mean 2024-03-05?"), "\(us.err)")
        #expect(us.err.contains("Usage: imr-ctl calc") && !us.err.contains("<subcommand>"), "\(us.err)")
        #expect(us.err.contains("See 'imr-ctl calc --help'"), "\(us.err)")
        let recommended = try await ctl([
            "calc", "ur.decision.prospective", "--from", "2024-03-05", "--recommended", "2/20/2024",
        ])
        #expect(recommended.status == 64 && recommended.err.contains("did you mean 2024-02-20?"), "\(recommended.err)")
    }
}

@Suite struct ReadableOutputTests {
    /// The rules table has a header and a legend for its confidence column, and no line of
    /// imr-ctl's offline output ends in spaces.
    @Test func rulesExplainTheirConfidence_andNoLineEndsInSpaces() async throws {
        let rules = try await ctl(["rules"])
        #expect(rules.status == 0)
        #expect(
            rules.out.hasPrefix("RULE") && rules.out.contains("CONF") && rules.out.contains("WHO MUST ACT"),
            "\(rules.out)"
        )
        #expect(
            rules.out.contains("H the operative text was read; M consistent secondary sources; L inference"),
            "\(rules.out)"
        )
        let calc = try await ctl(["calc", "ur.decision.prospective", "--from", "2024-03-05T09:30", "--via", "fax"])
        let help = try await ctl(["help", "rfa", "receive"])
        for (name, text) in [("rules", rules.out), ("calc", calc.out), ("help", help.out)] {
            let trailing = text.split(separator: "\n").filter { $0.hasSuffix(" ") }
            #expect(trailing.isEmpty, "\(name): \(trailing)")
        }
        // Each default said once: ArgumentParser adds "(default: ...)" itself.
        // A table taller than the terminal goes through $PAGER; piped, never.
        let paged = try await runInTerminal("stty rows 5 cols 200; \(imrCtl) rules", pager: "sed s/^/PAGED:/")
        #expect(
            paged.contains("PAGED:\u{1B}[1mRULE") && paged.contains("PAGED:wcab.appeal"),
            "colours kept for less -R: \(paged)"
        )
        #expect(!rules.out.contains("PAGED:"))
        let short = try await runInTerminal("stty rows 50 cols 200; \(imrCtl) rules", pager: "sed s/^/PAGED:/")
        #expect(short.contains("wcab.appeal") && !short.contains("PAGED:"), "a table that fits is not paged: \(short)")
        let close = try await ctl(["help", "case", "close"])
        #expect(close.out.components(separatedBy: "default: today").count == 2, "\(close.out)")
    }
}

/// Runs a shell command line on a pseudo-terminal (util-linux `script`), with PAGER set.
private func runInTerminal(_ commandLine: String, pager: String) async throws -> String {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(
                with: Result {
                    let p = SpawnedProcess()
                    p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
                    p.arguments = ["-qec", commandLine, "/dev/null"]
                    var environment = ProcessInfo.processInfo.environment
                    environment["PAGER"] = pager
                    environment["NO_COLOR"] = ""  // swift test may set it; the pager keeps colours
                    p.environment = environment
                    let out = Pipe.forChild()
                    p.standardOutput = out
                    p.standardInput = FileHandle.nullDevice
                    try p.start()
                    let data = out.fileHandleForReading.readDataToEndOfFile()
                    p.waitForExit()
                    return String(decoding: data, as: UTF8.self)
                }
            )
        }
    }
}

@Suite struct CalcOptionNameTests {
    /// calc names how a trigger came --via, as the recording commands do, for an RFA and for a
    /// served document alike; --service stays as the older name; a value of neither is refused.
    @Test func viaNamesTheServiceAsTheRecordingCommandsDo() async throws {
        let via = try await ctl(["calc", "imr.application", "--from", "2024-03-08", "--via", "fax", "--json"])
        let service = try await ctl(["calc", "imr.application", "--from", "2024-03-08", "--service", "fax", "--json"])
        let mail = try await ctl(["calc", "imr.application", "--from", "2024-03-08", "--via", "mail", "--json"])
        #expect(via.status == 0 && via.out == service.out && via.out != mail.out, "\(via.err)")
        let personal = try await ctl(["calc", "wcab.appeal", "--from", "2024-03-08", "--via", "personal"])
        #expect(personal.status == 0, "\(personal.err)")
        let rfa = try await ctl(["calc", "ur.decision.prospective", "--from", "2015-04-17T18:18", "--via", "fax"])
        #expect(rfa.out.contains("due Monday 2015-04-27"), "\(rfa.out)")
        let both = try await ctl([
            "calc", "imr.application", "--from", "2024-03-08", "--via", "fax", "--service", "fax",
        ])
        #expect(both.status == 64)
        let pigeon = try await ctl(["calc", "imr.application", "--from", "2024-03-08", "--via", "pigeon"])
        #expect(pigeon.status == 64 && pigeon.err.contains("--via 'pigeon' is not one of"), "\(pigeon.err)")
        // A notice of assignment mailed and sent electronically at once: refused, not 12 days.
        for method in ["mail", "personal"] {
            let contradiction = try await ctl([
                "calc", "imr.records", "--from", "2024-06-03", "--via", method, "--electronic-notice",
            ])
            #expect(contradiction.status == 64 && contradiction.out.isEmpty, "\(contradiction.out)")
            #expect(
                contradiction.err.contains(
                    "--electronic-notice says the notice of assignment was sent electronically, --via \(method) that it was not: give one"
                ),
                "\(contradiction.err)"
            )
        }
        let electronic = try await ctl([
            "calc", "imr.records", "--from", "2024-06-03", "--via", "email", "--electronic-notice",
        ])
        #expect(electronic.status == 0 && electronic.out.contains("due Monday 2024-06-17"), "\(electronic.err)")
    }

    /// An option the rule does not read is refused, naming the rule and what it takes, with
    /// calc's own usage; the options it does read are still taken.
    @Test func optionsThatDoNotApplyToTheRuleAreRefused() async throws {
        let notice = try await ctl(["calc", "ur.notice.physician", "--from", "2024-03-05T10:00", "--via", "mail"])
        #expect(notice.status == 64, "\(notice.out)")
        #expect(
            notice.err.contains(
                "--via does not apply to ur.notice.physician: it would change nothing there. "
                    + "ur.notice.physician takes only --from. Drop it."
            ),
            "\(notice.err)"
        )
        #expect(notice.err.contains("Usage: imr-ctl calc"), "\(notice.err)")
        #expect(notice.out.isEmpty)
        let appeal = try await ctl([
            "calc", "wcab.appeal", "--from", "2024-03-05", "--via", "mail", "--electronic-notice", "--formulary",
        ])
        #expect(appeal.status == 64)
        #expect(
            appeal.err.contains(
                "--formulary and --electronic-notice do not apply to wcab.appeal: they would change nothing there."
            )
                && appeal.err.contains("wcab.appeal takes --from, --via, --outside-ca and --outside-us. Drop them."),
            "\(appeal.err)"
        )
        let determination = try await ctl(["calc", "imr.determination", "--from", "2024-03-05", "--service", "fax"])
        #expect(
            determination.status == 64 && determination.err.contains("--service does not apply to imr.determination"),
            "\(determination.err)"
        )
        let recommended = try await ctl([
            "calc", "imr.application", "--from", "2024-03-05", "--recommended", "2024-02-20",
        ])
        #expect(
            recommended.status == 64 && recommended.err.contains("--recommended does not apply to imr.application"),
            "\(recommended.err)"
        )
        // What a rule reads is taken: a fax notice of assignment, the after-hours fax of an RFA
        // under concurrent review, the 14-day cap, a mailing outside California.
        for arguments in [
            ["imr.records", "--via", "fax"], ["rfa.deemed-receipt", "--via", "fax", "--review", "concurrent"],
            ["ur.decision.prospective", "--via", "fax", "--recommended", "2024-02-20"],
            ["wcab.appeal", "--via", "mail", "--outside-us"], ["imr.determination", "--expedited"],
        ] {
            let taken = try await ctl(["calc"] + [arguments[0], "--from", "2024-03-05T18:00"] + arguments.dropFirst())
            #expect(taken.status == 0, "\(arguments): \(taken.err)")
        }
        let capped = try await ctl([
            "calc", "ur.decision.prospective", "--from", "2024-03-05", "--via", "fax", "--recommended", "2024-02-20",
            "--json",
        ])
        #expect(capped.out.contains("\"due_date\" : \"2024-03-05\""), "\(capped.out)")
    }
}

@Suite struct UnknownCommandTests {
    /// A mistyped command names the nearest ones, at the level it was typed at.
    @Test func aTypoSuggestsTheNearestCommand() async throws {
        let top = try await ctl(["dedlines"])
        #expect(
            top.status == 64 && top.err.contains("'dedlines' is not a command of imr-ctl; did you mean 'deadlines'?"),
            "\(top.err)"
        )
        let nested = try await ctl(["rfa", "recieve", "C-1"])
        #expect(nested.status == 64 && nested.err.contains("of imr-ctl rfa; did you mean 'receive'?"), "\(nested.err)")
        let far = try await ctl(["xyz"])
        #expect(
            far.status == 64 && !far.err.contains("did you mean") && far.err.contains("imr-ctl --help"),
            "\(far.err)"
        )
        // A group's default subcommand still takes its arguments.
        let appeal = try await ctl(["appeal", "--help"])
        #expect(appeal.status == 0)
        let defaulted = try await ctl([
            "appeal", "C-7", "--item", "1", "--filed", "2024-03-01", "--by", "employee", "--socket",
            "/nonexistent.sock",
        ])
        #expect(defaulted.status == 69, "parsed as 'appeal file', then no daemon: \(defaulted.err)")
    }
}
