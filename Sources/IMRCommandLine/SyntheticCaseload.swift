import Foundation
import Varlink
import Workflow

/// A realistic, invented caseload for the demo: cases at every stage, dated relative to
/// `now` so that their deadlines fall due in the coming days (and a few are already overdue).
///
/// Deterministic: the same seed, count and day give the same calls. Nothing here is a real
/// person: workers are initials drawn at random, employers and administrators invented.
public struct SyntheticCaseload {
    let now: Date
    let count: Int
    let coordinators: [String]
    var random: SplitMix64

    public init(now: Date, count: Int, seed: UInt64, coordinators: [String]) {
        self.now = now
        self.count = count
        self.coordinators = coordinators
        self.random = SplitMix64(seed: seed)
    }

    /// One io.imr.Cases call.
    public struct Call: Sendable {
        /// The io.imr.Cases method, e.g. "ReceiveRFA".
        public let method: String
        public let parameters: [String: JSONValue]
    }

    /// Where a synthetic case stops, with its weight in the caseload.
    enum Target: CaseIterable {
        case awaitingUR, informationRequested, expedited, urDenied, imrApplied, imrAssigned, recordsReceived,
             overturned, upheld, implemented, appealed, closed

        var weight: Int {
            switch self {
            case .awaitingUR: 16
            case .informationRequested: 5
            case .expedited: 3
            case .urDenied: 16
            case .imrApplied: 8
            case .imrAssigned: 10
            case .recordsReceived: 10
            case .overturned: 8
            case .upheld: 8
            case .implemented: 4
            case .appealed: 3
            case .closed: 5
            }
        }
    }

    static let employers = ["Harbor Freight Lines", "Valley Orchards", "Sierra Builders", "Coastline Hospital", "Golden State Foods",
                            "Bay Transit", "Mojave Solar", "Redwood Schools", "Central Valley Dairy", "Pacific Warehousing"]
    static let administrators = ["Golden TPA", "Pacific Claims Services", "Sequoia Risk", "Del Norte Adjusting"]
    static let physicians = ["Dr. Okafor", "Dr. Lindqvist", "Dr. Ramos", "Dr. Nakamura", "Dr. Haddad", "Dr. Whitfield"]
    static let treatments = ["Lumbar MRI without contrast", "Physical therapy 2x6 lumbar spine", "Acupuncture x8", "Tramadol ER 100 mg #30",
                             "Cervical epidural steroid injection C5-6", "Right knee arthroscopy", "TENS unit purchase",
                             "Functional restoration program 80 hours", "Gabapentin 300 mg #90", "EMG/NCV bilateral upper extremities",
                             "Chiropractic manipulation x6", "Shoulder MRI arthrogram", "Home health aide 4 hours/day x 4 weeks",
                             "Lidocaine 5% patch #30", "Lumbar fusion L4-5"]
    static let specialties = ["Orthopedic Surgery", "Physical Medicine & Rehabilitation", "Pain Medicine", "Neurology", "Internal Medicine"]
    static let guidelines = ["MTUS ACOEM Low Back Disorders", "MTUS Chronic Pain Medical Treatment Guidelines", "MTUS ACOEM Knee Disorders",
                             "ODG Pain Chapter", "MTUS Drug Formulary"]

    mutating func pick<T>(_ values: [T]) -> T { values[Int(random.next() % UInt64(values.count))] }
    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(random.next() % UInt64(range.count)) }

    /// Every call, in order.
    public mutating func calls() -> [Call] {
        let weights = Target.allCases.flatMap { Array(repeating: $0, count: $0.weight) }
        var calls: [Call] = []
        for n in 0..<count {
            calls += caseCalls(number: n, target: pick(weights))
        }
        return calls
    }

    /// A Pacific instant `days` days before today at `hour`, never after now.
    func instant(daysAgo days: Int, hour: Int) -> Date {
        let today = Pacific.date(of: now)
        return min(Pacific.instant(today.adding(days: -days), hour: hour), now.addingTimeInterval(-60))
    }

    func day(_ instant: Date) -> String { Pacific.date(of: instant).iso }

    /// The steps of a case in order; a case stops after the step its target names.
    enum Step: Int, Comparable {
        case receipt, urDecision, service, application, assignment, records, determination, after
        static func < (a: Step, b: Step) -> Bool { a.rawValue < b.rawValue }
    }

    mutating func caseCalls(number: Int, target: Target) -> [Call] {
        let caseId = String(format: "DEMO-%04d", number + 1)
        var calls: [Call] = []
        func call(_ method: String, _ parameters: [String: JSONValue]) {
            var p = parameters
            p["caseId"] = .string(caseId)
            calls.append(Call(method: method, parameters: p))
        }
        // The last step and how many days ago it happened: chosen so that the clock it starts
        // falls due in the coming days (or has just passed).
        let (last, lastAgo): (Step, Int) = switch target {
        case .awaitingUR: (.receipt, int(0...7))
        case .informationRequested: (.receipt, int(3...9))
        case .expedited: (.receipt, int(0...3))
        case .urDenied: (.service, int(3...40))
        case .imrApplied: (.application, int(0...10))
        case .imrAssigned: (.assignment, int(0...18))
        case .recordsReceived: (.records, int(8...34))
        case .overturned: (.determination, int(0...6))
        case .upheld: (.determination, int(3...33))
        case .implemented, .appealed, .closed: (.after, int(0...30))
        }
        // Days between each step and the one before it.
        let gaps: [Step: Int] = [.urDecision: int(1...4), .service: 1, .application: int(8...25), .assignment: int(3...10),
                                 .records: int(5...12), .determination: int(8...25), .after: int(2...15)]
        var ago: [Step: Int] = [last: lastAgo]
        var step = last
        while step != .receipt {
            let previous = Step(rawValue: step.rawValue - 1)!
            ago[previous] = ago[step]! + gaps[step]!
            step = previous
        }
        func on(_ step: Step, hour: Int = 12) -> String { day(instant(daysAgo: ago[step]!, hour: hour)) }

        let letters = Array("ABCDEFGHJKLMNPRSTVW")
        let worker = "\(pick(letters)).\(pick(letters))."
        let injury = Pacific.date(of: now).adding(days: -(ago[.receipt]! + int(30...900)))
        call("Open", [
            "claimNumber": .string(String(format: "ADJ%07d", Int(random.next() % 10_000_000))), "employer": .string(pick(Self.employers)),
            "claimsAdministrator": .string(pick(Self.administrators)), "injuredWorkerReference": .string(worker),
            "dateOfInjury": .string(injury.iso), "coordinator": .string(pick(coordinators)),
        ])
        let itemCount = int(1...3)
        var treatments: [String] = []
        while treatments.count < itemCount {
            let t = pick(Self.treatments)
            if !treatments.contains(t) { treatments.append(t) }
        }
        let itemIds = (1...itemCount).map { String($0) }
        let items = JSONValue.array(itemIds.map { .string($0) })
        let receivedAt = instant(daysAgo: ago[.receipt]!, hour: int(7...18))
        call("ReceiveRFA", [
            "rfaId": "R1", "receivedAt": .string(Pacific.rfc3339(receivedAt)), "receivedTimeOfDayKnown": true,
            "transmission": .string(pick(["fax", "fax", "email", "mail"])), "physician": .string(pick(Self.physicians)),
            "reviewType": "prospective", "expedited": .bool(target == .expedited), "formulary": false,
            "items": .array(zip(itemIds, treatments).map { .object(["id": .string($0), "description": .string($1)]) }),
        ])
        if target == .informationRequested {
            call("RequestInformation", ["rfaId": "R1", "requestedOn": .string(day(instant(daysAgo: max(0, ago[.receipt]! - int(1...3)), hour: 10))),
                                        "whatIsNeeded": "Progress notes and prior imaging reports"])
        }
        guard last >= .urDecision else { return calls }
        // UR denies most items and modifies some; every denial or modification goes on to IMR.
        let decidedAt = instant(daysAgo: ago[.urDecision]!, hour: int(9...16))
        let outcomes: [JSONValue] = itemIds.enumerated().map { index, id in
            index == 1 && itemCount > 2
                ? .object(["itemId": .string(id), "outcome": "modified", "authorizedPortion": "half the requested sessions"])
                : .object(["itemId": .string(id), "outcome": "denied"])
        }
        call("DecideUR", ["rfaId": "R1", "decidedAt": .string(Pacific.rfc3339(decidedAt)), "decisions": .array(outcomes)])
        call("NotifyPhysician", ["itemIds": items, "notifiedAt": .string(Pacific.rfc3339(decidedAt.addingTimeInterval(3600))), "method": "fax"])
        guard last >= .service else { return calls }
        call("ServeWrittenDecision", ["itemIds": items, "servedOn": .string(on(.service)), "method": "mail", "destination": "california"])
        guard last >= .application else { return calls }
        call("ReceiveIMRApplication", ["itemIds": items, "receivedOn": .string(on(.application))])
        guard last >= .assignment else { return calls }
        let imrNumber = String(format: "CM%02d-%07d", (Pacific.date(of: now).year - 1) % 100, 10_000 + number * 37 % 9_000_000)
        call("FindEligible", ["itemIds": items, "foundOn": .string(on(.assignment, hour: 9))])
        call("AssignIMR", ["itemIds": items, "imrCaseNumber": .string(imrNumber), "assignedOn": .string(on(.assignment)),
                           "priority": "standard", "noticeMethod": .string(pick(["mail", "electronic"]))])
        guard last >= .records else { return calls }
        call("ReceiveRecords", ["imrCaseNumber": .string(imrNumber), "receivedOn": .string(on(.records))])
        guard last >= .determination else { return calls }
        // The first item is overturned in overturned and implemented cases (and in half the appealed ones).
        let overturn = target == .overturned || target == .implemented || (target == .appealed && random.next() % 2 == 0)
        call("RecordDetermination", [
            "imrCaseNumber": .string(imrNumber), "decidedOn": .string(on(.determination)), "mailedOn": .string(on(.determination)),
            "reviewerSpecialty": .string(pick(Self.specialties)),
            "items": .array(itemIds.enumerated().map { index, id in
                .object(["itemId": .string(id), "decision": .string(overturn && index == 0 ? "overturned" : "upheld"),
                         "guideline": .string(pick(Self.guidelines)), "rationaleSummary": "Synthetic demo rationale."])
            }),
        ])
        switch target {
        case .implemented:
            call("RecordImplementation", ["itemId": "1", "implementedOn": .string(on(.after)), "kind": "authorized"])
        case .appealed:
            call("FileAppeal", ["itemIds": ["1"], "filedOn": .string(on(.after)), "filedBy": .string(overturn ? "claims-administrator" : "employee")])
        case .closed:
            call("Close", ["closedOn": .string(on(.after)), "reason": "Dispute resolved"])
        default:
            break
        }
        return calls
    }
}

