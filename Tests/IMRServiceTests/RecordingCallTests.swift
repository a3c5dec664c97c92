import Foundation
import IMRWire
@testable import IMRService
import Testing
import Varlink
@testable import Workflow

/// Issue 15: one wire contract for the recording methods. imr-ctl encodes a command through
/// the Codable type the service decodes (`RecordingCall`), and `io.imr.Cases.varlink`, the
/// documentation clients read, names exactly the fields those types carry.
@Suite struct RecordingCallTests {
    /// `io.imr.Cases.varlink` as methods (name → input fields, reply fields) and types
    /// (name → fields), comments dropped.
    struct Interface {
        var methods: [String: (input: [String: String], output: [String: String])] = [:]
        var types: [String: [String: String]] = [:]

        init(_ text: String) {
            let code = text.split(separator: "\n").map {
                $0.split(separator: "#", maxSplits: 1).first.map(String.init) ?? ""
            }
            .joined(separator: " ")
            func fields(_ list: Substring) -> [String: String] {
                var out: [String: String] = [:]
                for field in list.split(separator: ",") {
                    let parts = field.split(separator: ":", maxSplits: 1).map {
                        $0.trimmingCharacters(in: .whitespaces)
                    }
                    if parts.count == 2 { out[parts[0]] = parts[1] }
                }
                return out
            }
            for match in code.matches(of: /method\s+(\w+)\s*\(([^)]*)\)\s*->\s*\(([^)]*)\)/) {
                methods[String(match.output.1)] = (fields(match.output.2), fields(match.output.3))
            }
            for match in code.matches(of: /type\s+(\w+)\s*\(([^)]*)\)/) {
                types[String(match.output.1)] = fields(match.output.2)
            }
        }
    }

    static func interface(_ name: String) -> Interface {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/IMRService/Interfaces/\(name).varlink")
        return Interface((try? String(contentsOf: path, encoding: .utf8)) ?? "")
    }

    static let interface = interface("io.imr.Cases")

    /// Every io.imr.Admin method takes and answers exactly the fields of its IMRWire types.
    @Test func everyAdminMethodIsItsWireTypes() throws {
        let admin = Self.interface("io.imr.Admin")
        let phases = RebuildPhases(start: 0.1, pass: 1.2, indexes: 0.1, catchUp: 0.1)
        let progress = RebuildProgress(events: 1, of: 2, step: "s", seconds: 1.5, eventsPerSecond: 1, phases: phases)
        let samples: [(method: String, input: [String: JSONValue], output: [String: JSONValue])] = [
            (
                "Verify", [:],
                try WireFormat.object(
                    VerifyReply(
                        eventsChecked: 1,
                        headPosition: 1,
                        intact: false,
                        firstBadPosition: 1,
                        problem: "p",
                        anchorPosition: 1,
                        missingFrom: 1
                    )
                )
            ),
            (
                "Backup", try WireFormat.object(BackupRequest(name: "n", force: true)),
                try WireFormat.object(BackupReply(path: "/p", events: 1, headPosition: 1))
            ),
            (
                "Rebuild", try WireFormat.object(RebuildRequest(projection: "deadlines")),
                try WireFormat.object(RebuildReply(rebuilt: ["deadlines"], progress: progress))
            ),
        ]
        #expect(Set(admin.methods.keys) == Set(samples.map(\.method) + ["Status"]))
        for (method, input, output) in samples {
            let declared = try #require(admin.methods[method])
            #expect(Set(input.keys) == Set(declared.input.keys), "\(method) parameters")
            #expect(Set(output.keys) == Set(declared.output.keys), "\(method) reply")
        }
        let declaredProgress = try #require(admin.types["RebuildProgress"])
        #expect(Set(try WireFormat.object(progress).keys) == Set(declaredProgress.keys))
        let declaredPhases = try #require(admin.types["RebuildPhases"])
        #expect(Set(try WireFormat.object(phases).keys) == Set(declaredPhases.keys))
    }

    /// io.imr.Deadlines' `Deadline` type names exactly what a deadline row carries: the case
    /// deadline as the encoder writes it (every optional field set), the coordinator of List
    /// and Digest rows, the alerts `withAlerts` adds and the claim number and stage of `withCase`.
    @Test func theDeadlineTypeIsWhatARowCarries() throws {
        let deadlines = Self.interface("io.imr.Deadlines")
        let declared = try #require(deadlines.types["Deadline"])
        let deadline = CaseDeadline(
            id: "C-1/ur.decision.prospective/R1",
            rule: .urDecisionProspective,
            caseId: "C-1",
            rfaId: "R1",
            itemIds: ["1"],
            round: 1,
            trigger: DeadlineTriggerFact(
                description: "RFA",
                date: Self.day("2024-03-05"),
                at: Self.at,
                eventVersion: 2
            ),
            clockStart: Self.at,
            due: Self.at,
            dueDate: Self.day("2024-03-12"),
            isExactInstant: false,
            status: .met,
            satisfiedBy: SatisfyingFact(
                eventType: "URDecisionIssued",
                eventVersion: 3,
                eventId: nil,
                at: Self.at,
                on: Self.day("2024-03-08")
            ),
            party: .claimsAdministrator,
            citation: "LC",
            confidence: .high,
            explanation: ["x"],
            assumptions: [],
            consequenceIfMissed: MissConsequence(.urInvalid, "void"),
            statusNote: "n",
            correctionNotes: [],
            supersededBy: "other",
            history: "h"
        )
        let row = try #require(deadline.wireJSON.objectValue)
        let boardRow = DeadlineRow(
            deadline: deadline,
            coordinator: "maria",
            alerts: [.init(level: "warning", at: Self.at)],
            claimNumber: "ADJ-1",
            stage: "opened"
        )
        let written = try WireFormat.object(boardRow)
        #expect(Set(written.keys) == Set(declared.keys), "Swift \(written.keys.sorted())")
        #expect(Set(row.keys).union(["coordinator", "alerts", "claimNumber", "stage"]) == Set(declared.keys))
        #expect(try WireFormat.valueDecoder.decode(DeadlineRow.self, from: .object(written)) == boardRow)
        for method in ["List", "ForCase"] {
            #expect(deadlines.methods[method]?.output["deadlines"] == "[]Deadline", "\(method)")
        }
    }

    /// io.imr.Admin.Status answers what `AdminInterface.Status` encodes, every field documented.
    @Test func theStatusReplyIsTheDocumentedOne() throws {
        let status = AdminInterface.Status(
            version: "1",
            startedAt: Self.at,
            uptimeSeconds: 1,
            databasePath: "/x",
            databaseBytes: 1,
            headPosition: 1,
            openCases: 1,
            projections: [.init(name: "deadlines", checkpoint: 1, rebuildingTo: 2)],
            figures: AdminInterface.Figures(
                service: OperatorFigures.shared.snapshot,
                server: nil,
                store: StoreFigures(commits: 1, pagesWritten: 4, groups: 1, writes: 1),
                residentBytes: 1,
                openDescriptors: 1
            ),
            caller: .init(user: "maria", role: "coordinator")
        )
        let object = try WireFormat.object(status)
        let declared = try #require(Self.interface("io.imr.Admin").methods["Status"]).output
        #expect(
            Set(object.keys) == Set(declared.keys),
            "Swift \(object.keys.sorted()), varlink \(declared.keys.sorted())"
        )
        let projection = try #require(Self.interface("io.imr.Admin").types["ProjectionStatus"])
        guard case .array(let rows)? = object["projections"], let row = rows.first?.objectValue else {
            Issue.record("no projection rows")
            return
        }
        #expect(Set(row.keys) == Set(projection.keys))
        let caller = try #require(Self.interface("io.imr.Admin").types["Caller"])
        #expect(Set(object["caller"]?.objectValue?.keys ?? [:].keys) == Set(caller.keys))
    }

    static func day(_ iso: String) -> LocalDate { LocalDate(iso: iso)! }
    static let at = Pacific.instant(day("2024-03-05"), hour: 16, minute: 10)
    static let number = IMRCaseNumber("CM24-0012345")!

    /// One command of every recording method, every optional field given.
    static let samples: [CaseCommand] = [
        .openCase(
            CaseOpened(
                caseId: "C-1",
                claimNumber: "ADJ1",
                employer: "Acme",
                claimsAdministrator: "TPA",
                injuredWorkerReference: "J.D.",
                dateOfInjury: day("2024-01-15"),
                coordinator: "maria"
            )
        ),
        .receiveRFA(
            RFAReceived(
                rfaId: "R1",
                receivedAt: at,
                receivedTimeOfDayKnown: true,
                transmission: .fax,
                physician: "Dr. B",
                treatmentRecommendedOn: day("2024-02-20"),
                reviewType: .concurrent,
                expedited: true,
                formulary: true,
                items: [RequestedItem(id: "1", description: "MRI")]
            )
        ),
        .requestMoreInformation(
            MoreInformationRequested(rfaId: "R1", requestedOn: day("2024-03-06"), whatIsNeeded: "x")
        ),
        .receiveInformation(InformationReceived(rfaId: "R1", receivedOn: day("2024-03-07"))),
        .deferUR(URDeferred(rfaId: "R1", deferredOn: day("2024-03-06"), liabilityDispute: "AOE/COE")),
        .issueURDecision(
            URDecisionIssued(
                rfaId: "R1",
                decidedAt: at,
                decisions: [URItemDecision(itemId: "1", outcome: .modified, authorizedPortion: "6 sessions")]
            )
        ),
        .notifyPhysician(PhysicianNotified(itemIds: ["1"], notifiedAt: at, method: .fax)),
        .serveWrittenDecision(
            WrittenURDecisionServed(
                itemIds: ["1"],
                servedOn: day("2024-03-08"),
                method: .mail,
                destination: .otherState
            )
        ),
        .receiveIMRApplication(IMRApplicationReceived(itemIds: ["1"], receivedOn: day("2024-03-20"))),
        .requestEligibilityInformation(
            IMREligibilityInformationRequested(
                itemIds: ["1"],
                requestedOn: day("2024-03-21"),
                whatIsRequested: "the UR file",
                requestedFrom: [.employee, .claimsAdministrator]
            )
        ),
        .sendEligibilityInformation(IMREligibilityInformationSent(itemIds: ["1"], sentOn: day("2024-03-22"))),
        .findEligible(IMREligibilityFound(itemIds: ["1"], foundOn: day("2024-03-25"))),
        .findIneligible(IMRFoundIneligible(itemIds: ["1"], foundOn: day("2024-03-25"), reason: .late, detail: "d")),
        .assignIMR(
            IMRAssigned(
                itemIds: ["1"],
                imrCaseNumber: number,
                assignedOn: day("2024-03-26"),
                priority: .expedited,
                noticeMethod: .electronic
            )
        ),
        .receiveRecords(IMRRecordsReceived(imrCaseNumber: number, receivedOn: day("2024-04-01"))),
        .issueDetermination(
            IMRDeterminationIssued(
                imrCaseNumber: number,
                decidedOn: day("2024-04-20"),
                mailedOn: day("2024-04-22"),
                reviewerSpecialty: "Orthopedics",
                items: [
                    IMRItemDetermination(itemId: "1", decision: .overturned, guideline: "MTUS", rationaleSummary: "r")
                ]
            )
        ),
        .implementDetermination(
            DeterminationImplemented(itemId: "1", implementedOn: day("2024-04-25"), kind: .reimbursed)
        ),
        .fileAppeal(WCABAppealFiled(itemIds: ["1"], filedOn: day("2024-05-01"), filedBy: .employee)),
        .resolveAppeal(WCABAppealResolved(itemIds: ["1"], resolvedOn: day("2024-06-01"), outcome: .remanded)),
        .withdraw(CaseWithdrawn(withdrawnOn: day("2024-06-02"), reason: "settled")),
        .close(CaseClosed(closedOn: day("2024-06-03"), reason: "done")),
        .reassignCoordinator(to: "li"),
        .addNote("called the TPA"),
        .correct(
            CorrectEvent(
                version: 2,
                eventId: UUID(uuidString: "0191e0b0-0000-7000-8000-000000000001"),
                field: .receivedAt,
                value: .instant(at),
                reason: "fax log"
            )
        ),
    ]

    @Test func everySampleGoesAndComesBackThroughTheSameTypes() throws {
        #expect(Self.samples.count == RecordingCall.methods.count)
        var names: Set<String> = []
        for command in Self.samples {
            let (method, parameters) = try RecordingCall.call(command, caseId: "C-1", commandId: "x")
            names.insert(String(method.dropFirst("io.imr.Cases.".count)))
            let back = try RecordingCall.command(for: VarlinkCall(method: method, parameters: parameters))
            #expect(back == command, "\(method)")
        }
        #expect(names == Set(RecordingCall.methods.map(\.name)))
    }

    @Test func theInterfaceFileNamesExactlyTheFieldsOfEachRecordingMethod() throws {
        let interface = Self.interface
        #expect(interface.methods.count >= RecordingCall.methods.count, "io.imr.Cases.varlink was not read")
        // Every method that answers `recorded` is a recording method, and the other way round.
        let recording = Set(interface.methods.filter { $0.value.output == ["recorded": "Recorded"] }.keys)
        #expect(recording == Set(RecordingCall.methods.map(\.name)))
        for command in Self.samples {
            let (method, parameters) = try RecordingCall.call(command, caseId: "C-1", commandId: "x")
            let name = String(method.dropFirst("io.imr.Cases.".count))
            let declared = try #require(interface.methods[name]).input
            #expect(
                Set(parameters.keys) == Set(declared.keys),
                "\(name): Swift \(parameters.keys.sorted()), varlink \(declared.keys.sorted())"
            )
            // Arrays of objects: the element type's fields, too.
            for (field, type) in declared where type.hasPrefix("[]") {
                let element = String(type.dropFirst(2))
                guard let fields = interface.types[element] else { continue }
                guard case .array(let values)? = parameters[field] else { continue }
                for value in values {
                    #expect(Set(value.objectValue?.keys ?? [:].keys) == Set(fields.keys), "\(name).\(field)")
                }
            }
        }
        let recorded = try #require(interface.types["Recorded"])
        #expect(Set(recorded.keys) == Set(RecordedReply.CodingKeys.allCases.map(\.stringValue)))
    }

    /// The envelope read straight from the parameters is what the decoder gives, and any shape
    /// it does not take fails with the decoder's error (the parameter named).
    @Test func theEnvelopeReadStraightIsWhatTheDecoderGives() throws {
        let shapes: [[String: JSONValue]?] = [
            ["caseId": "C-1"], ["caseId": "C-1", "commandId": .null],
            ["caseId": "C-1", "commandId": "0190d3a8-0000-7000-8000-000000000001"], ["caseId": "", "commandId": "x"],
            ["caseId": "C-1", "commandId": 7], ["caseId": "C-1", "commandId": ["a"]], ["caseId": .null],
            ["caseId": 12], ["commandId": "x"], [:], nil, ["caseId": "C-1", "commandId": .bool(true)],
            ["caseId": .object(["a": "b"]), "commandId": "x"],
        ]
        var failures = 0
        for parameters in shapes {
            let call = VarlinkCall(method: "io.imr.Cases.AddNote", parameters: parameters)
            let expected = Result { () throws(VarlinkError) in
                try WireFormat.decode(RecordingCall.Envelope.self, from: call)
            }
            let read = Result { () throws(VarlinkError) in try RecordingCall.envelope(of: call) }
            #expect(read == expected, "\(String(describing: parameters))")
            if case .failure = expected { failures += 1 }
        }
        #expect(failures == 9)
    }

    @Test func theRecordedReplyIsWhatTheEncoderWrites() throws {
        let reply = RecordedReply(
            caseId: "C-1",
            version: 4,
            positions: [9, 10],
            events: ["A", "B"],
            alreadyRecorded: false
        )
        #expect(reply.json == .object(try WireFormat.object(reply)))
        #expect(try WireFormat.valueDecoder.decode(RecordedReply.self, from: reply.json) == reply)
    }
}
