import Foundation
@testable import IMRWire
import Testing
import Varlink
@testable import Workflow

/// Issue 15: one typed wire contract. Every method of io.imr.Cases, io.imr.Deadlines and
/// io.imr.Alerts has its parameters and its reply as IMRWire types (the service decodes the
/// parameters and writes the replies, imr-ctl encodes the one and decodes the other), and the
/// interface files, the documentation clients read, name exactly the fields those types carry,
/// down through every type a reply nests. A field renamed on one side fails here.
@Suite struct WireContractTests {
    typealias Interface = RecordingCallTests.Interface

    /// A query method: its parameters and a reply, each a value of its wire type.
    struct Method: Sendable {
        let name: String
        let parameters: any WireCall
        let reply: any Sendable
        init<Call: WireCall>(_ parameters: Call, _ reply: Call.Reply) {
            name = String(Call.method.split(separator: ".").last ?? "")
            self.parameters = parameters
            self.reply = reply
        }
    }

    /// The names of a value's stored properties: the keys its synthesized Codable writes.
    static func fields(_ value: Any) -> Set<String> {
        Set(Mirror(reflecting: value).children.compactMap(\.label))
    }

    /// The value of a property of `value`; for an array its first element, for an optional
    /// what it wraps (nil when empty).
    static func member(_ label: String, of value: Any) -> Any? {
        guard let child = Mirror(reflecting: value).children.first(where: { $0.label == label })?.value else {
            return nil
        }
        return unwrap(child)
    }

    static func unwrap(_ value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .optional, .collection: return mirror.children.first.map { unwrap($0.value) } ?? nil
        default: return value
        }
    }

    /// Checks that `value` has exactly the fields `declared` names and, for each field whose
    /// declared type is one of the interface's types, that its value has that type's fields.
    static func check(
        _ value: Any,
        against declared: [String: String],
        in interface: Interface,
        path: String,
        skipping: Set<String>
    ) {
        #expect(
            fields(value) == Set(declared.keys),
            "\(path): Swift \(fields(value).sorted()), varlink \(declared.keys.sorted())"
        )
        for (field, type) in declared {
            let name = type.replacingOccurrences(of: "?", with: "").replacingOccurrences(of: "[]", with: "")
            guard !skipping.contains(name), let nested = interface.types[name] else { continue }
            guard let element = member(field, of: value) else {
                Issue.record("\(path).\(field): the sample has no \(name) to check; give it one")
                continue
            }
            check(element, against: nested, in: interface, path: "\(path).\(field)", skipping: skipping)
        }
    }

    static let at = Pacific.instant(LocalDate(iso: "2024-03-05")!, hour: 16, minute: 10)
    static let day = LocalDate(iso: "2024-03-05")!

    static let summary = CaseSummary(
        caseId: "C-1",
        claimNumber: "A",
        employer: "E",
        claimsAdministrator: "T",
        coordinator: "maria",
        dateOfInjury: "2024-01-02",
        stage: "opened",
        isOpen: true,
        imrCaseNumbers: [],
        items: 0,
        version: 1
    )

    static let ocr = ImportedFromOCR(
        engine: "tesseract 5.3.0",
        confidence: 91,
        pages: [1],
        facts: [.init(fact: "decision", itemId: "1", confidence: 62)]
    )

    static let caseView = CaseView(
        stage: "opened",
        isOpen: true,
        version: 1,
        rfas: [
            CaseView.RFA(
                rfaId: "R1",
                receivedAt: at,
                receivedTimeOfDayKnown: true,
                transmission: "fax",
                physician: "Dr. B",
                reviewType: "prospective",
                expedited: false,
                formulary: false,
                itemIds: ["1"]
            )
        ],
        items: [CaseView.Item(itemId: "1", rfaId: "R1", description: "MRI", status: "requested", imrRound: 1)],
        notes: [CaseView.Note(writtenAt: at, text: "n", version: 3)],
        corrections: [
            CaseView.Correction(version: 4, field: "receivedAt", value: "v", reason: "r", correctedVersion: 2)
        ],
        timeline: [
            CaseView.Event(
                version: 1,
                type: "CaseOpened",
                recordedAt: at,
                actor: nil,
                importedFrom: nil,
                importedFromOCR: ocr
            )
        ],
        deadlines: []
    )

    static let alert = AlertView(
        alertId: "a",
        deadlineId: "d",
        caseId: "C-1",
        rule: "imr.application",
        level: "overdue",
        due: at,
        scheduledAt: at,
        raisedAt: at,
        late: false,
        coordinator: "maria",
        position: 1
    )

    static let queries: [String: [Method]] = [
        "io.imr.Cases": [
            Method(CaseListFilter(), CasePage(cases: [summary], next: nil, remaining: 0, remainingAtLeast: false)),
            Method(CaseSearchRequest(text: "A", limit: nil), CaseSearchReply(cases: [summary], more: false)),
            Method(CaseGetRequest(caseId: "C-1"), CaseReply(case: caseView)),
            Method(
                CaseHistoryRequest(caseId: "C-1"),
                HistoryPage(
                    events: [
                        HistoryEntry(
                            position: 1,
                            version: 1,
                            eventId: "e",
                            type: "CaseOpened",
                            schemaVersion: 1,
                            recordedAt: at,
                            actor: nil,
                            commandId: nil,
                            correlationId: nil,
                            importedFrom: nil,
                            importedFromOCR: ocr,
                            payload: .object([:])
                        )
                    ],
                    next: nil,
                    remaining: 0
                )
            ),
            Method(
                CaseStatsRequest(),
                StatisticsReply(
                    stats: CaseStatistics(
                        openCases: 1,
                        openByStage: [.init(stage: "opened", cases: 1)],
                        dueWithin7Days: 0,
                        overdue: 0,
                        timelinessByRule: [
                            .init(rule: "imr.application", met: 1, metLate: 0, missed: 0, onTimeShare: 1)
                        ],
                        upheld: 0,
                        overturned: 0,
                        overturnRate: nil,
                        medianDaysApplicationToAssignment: nil,
                        medianDaysAssignmentToDetermination: nil
                    )
                )
            ),
            Method(
                ImportDeterminationRequest(letter: LetterFacts(), caseId: nil, force: false, source: "s"),
                ImportDeterminationReply(
                    imported: LetterImported(
                        caseId: "C-1",
                        openedCase: true,
                        alreadyRecorded: false,
                        version: 4,
                        positions: [1],
                        events: ["CaseOpened"],
                        items: [LetterItemMatch(letterIndex: 0, itemId: "1", how: "new")],
                        determinedItems: ["1"],
                        corrected: [
                            LetterDifference(
                                field: "priority",
                                itemId: nil,
                                recorded: "a",
                                letter: "b",
                                correctable: true
                            )
                        ]
                    )
                )
            ),
        ],
        "io.imr.Deadlines": [
            Method(
                DeadlineBoardFilter(),
                DeadlinePage(deadlines: [], next: nil, remaining: 0, remainingAtLeast: false)
            ),
            Method(
                DigestRequest(coordinator: "maria"),
                DigestReply(
                    coordinator: "maria",
                    day: day,
                    overdue: .init(deadlines: [], count: 0, countIsAtLeast: false),
                    dueToday: .init(deadlines: [], count: 0, countIsAtLeast: false),
                    thisWeek: .init(deadlines: [], count: 0, countIsAtLeast: false)
                )
            ),
            Method(DeadlinesForCaseRequest(caseId: "C-1"), DeadlinesOfCase(deadlines: [])),
        ],
        "io.imr.Alerts": [
            Method(
                AlertListRequest(),
                AlertListPage(alerts: [alert], next: nil, remaining: 0, remainingAtLeast: false)
            ),
            Method(AlertFollowRequest(), AlertFollowReply(alert: alert, replayed: false)),
            Method(AcknowledgeAlertRequest(alertId: "a"), AlertReply(alert: alert)),
            Method(SnoozeAlertRequest(alertId: "a", until: "2024-03-06"), AlertReply(alert: alert)),
            Method(ReassignAlertRequest(alertId: "a", coordinator: "li"), AlertReply(alert: alert)),
        ],
    ]

    /// Every method of the three interfaces is a recording method or one of `queries`, and each
    /// query's parameters and reply are exactly what the interface file declares.
    @Test(arguments: ["io.imr.Cases", "io.imr.Deadlines", "io.imr.Alerts"])
    func everyMethodIsItsWireTypes(_ name: String) throws {
        let interface = RecordingCallTests.interface(name)
        let methods = try #require(Self.queries[name])
        let recording = name == "io.imr.Cases" ? Set(RecordingCall.methods.map(\.name)) : []
        #expect(Set(interface.methods.keys) == Set(methods.map(\.name)).union(recording), "\(name)")
        for method in methods {
            let declared = try #require(interface.methods[method.name], "\(name).\(method.name)")
            // A Deadline is CaseDeadline's keys and the row's beside them (RecordingCallTests holds it).
            Self.check(
                method.parameters,
                against: declared.input,
                in: interface,
                path: "\(method.name) parameters",
                skipping: ["Deadline"]
            )
            Self.check(
                method.reply,
                against: declared.output,
                in: interface,
                path: "\(method.name) reply",
                skipping: ["Deadline"]
            )
            // What the encoder writes is among those fields: no CodingKeys renames one.
            let encoded = Set(try WireFormat.object(method.parameters).keys)
            #expect(encoded.isSubset(of: Set(declared.input.keys)), "\(method.name): \(encoded.sorted())")
            if let reply = method.reply as? any Encodable {
                let written = Set(try WireFormat.object(reply).keys)
                #expect(written.isSubset(of: Set(declared.output.keys)), "\(method.name) reply: \(written.sorted())")
            }
        }
    }

    /// The check fails on a renamed or missing field: it is not a test that cannot fail.
    @Test func theCheckCatchesAFieldTheInterfaceDoesNotName() {
        let interface = RecordingCallTests.interface("io.imr.Alerts")
        var declared = interface.types["Alert"] ?? [:]
        declared["renamed"] = declared.removeValue(forKey: "coordinator")
        withKnownIssue {
            Self.check(Self.alert, against: declared, in: interface, path: "Alert", skipping: [])
        }
    }
}
