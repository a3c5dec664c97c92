import Foundation
import Varlink
import Workflow

// io.imr.Cases' read replies (List, Search, Get, History, Stats), for both ends: the service
// encodes them (or writes the same keys by hand where a page holds a thousand, a test holding
// the two equal), imr-ctl decodes them, and a test holds io.imr.Cases.varlink to their fields.

/// A paged list's reply (`Cases.List`, `Deadlines.List`, `Alerts.List`): one page of rows, where
/// the next page starts (nil on the last) and how many follow.
package protocol PagedReply: Decodable, Sendable {
    associatedtype Row: Decodable & Sendable
    /// The key of the rows in the reply ("cases").
    static var rowsKey: String { get }
    var rows: [Row] { get }
    var next: String? { get }
    /// Rows after this page, counted up to the list's bound.
    var remaining: Int64 { get }
    /// The count stopped at the bound: at least `remaining` follow.
    var remainingAtLeast: Bool { get }
}

/// Where a paged list's next page starts and how many rows follow, read without the rows.
package struct PageInfo: Decodable, Sendable {
    package var next: String?
    package var remaining: Int64
    package var remainingAtLeast: Bool?
}

/// A row of the case list (`CaseSummary` in the interface file).
package struct CaseSummary: Sendable, Equatable, Codable {
    package var caseId: String
    package var claimNumber: String
    package var employer: String
    package var claimsAdministrator: String
    package var coordinator: String
    package var dateOfInjury: String
    package var stage: String
    package var isOpen: Bool
    package var imrCaseNumbers: [String]
    package var items: Int
    package var version: Int64
    /// The case's earliest running deadline (RFC 3339, Pacific) and its rule; nil when none runs.
    package var nextDue: String?
    package var nextRule: String?
    /// Asked for with `includeHistory`: how many of the case's misses are kept as history
    /// (``Workflow/CaseDeadline/history``), and the latest one's due instant (RFC 3339, Pacific).
    package var missedInHistory: Int?
    package var lastMissedDue: String?

    package init(
        caseId: String,
        claimNumber: String,
        employer: String,
        claimsAdministrator: String,
        coordinator: String,
        dateOfInjury: String,
        stage: String,
        isOpen: Bool,
        imrCaseNumbers: [String],
        items: Int,
        version: Int64,
        nextDue: String? = nil,
        nextRule: String? = nil,
        missedInHistory: Int? = nil,
        lastMissedDue: String? = nil
    ) {
        self.caseId = caseId
        self.claimNumber = claimNumber
        self.employer = employer
        self.claimsAdministrator = claimsAdministrator
        self.coordinator = coordinator
        self.dateOfInjury = dateOfInjury
        self.stage = stage
        self.isOpen = isOpen
        self.imrCaseNumbers = imrCaseNumbers
        self.items = items
        self.version = version
        self.nextDue = nextDue
        self.nextRule = nextRule
        self.missedInHistory = missedInHistory
        self.lastMissedDue = lastMissedDue
    }
}

/// `Cases.List`'s reply.
package struct CasePage: PagedReply, Encodable {
    package static let rowsKey = "cases"
    package var cases: [CaseSummary]
    package var next: String?
    package var remaining: Int64
    package var remainingAtLeast: Bool
    package var rows: [CaseSummary] { cases }

    package init(cases: [CaseSummary], next: String?, remaining: Int64, remainingAtLeast: Bool) {
        self.cases = cases
        self.next = next
        self.remaining = remaining
        self.remainingAtLeast = remainingAtLeast
    }
}

/// `Cases.Search`'s reply: the cases found, and whether others match too.
package struct CaseSearchReply: Codable, Sendable {
    package var cases: [CaseSummary]
    package var more: Bool
    package init(cases: [CaseSummary], more: Bool) {
        self.cases = cases
        self.more = more
    }
}

/// One event of a case as stored (`HistoryEntry`), with its metadata and its payload as stored
/// (instants in seconds since 1970).
package struct HistoryEntry: Codable, Sendable, Equatable {
    package var position: Int64
    package var version: Int64
    package var eventId: String
    package var type: String
    package var schemaVersion: Int64
    package var recordedAt: Date
    package var actor: String?
    package var commandId: String?
    package var correlationId: String?
    package var importedFrom: String?
    /// For an event recorded from a letter read through OCR: how it was read.
    package var importedFromOCR: ImportedFromOCR?
    package var payload: JSONValue

    package init(
        position: Int64,
        version: Int64,
        eventId: String,
        type: String,
        schemaVersion: Int64,
        recordedAt: Date,
        actor: String?,
        commandId: String?,
        correlationId: String?,
        importedFrom: String?,
        importedFromOCR: ImportedFromOCR? = nil,
        payload: JSONValue
    ) {
        self.position = position
        self.version = version
        self.eventId = eventId
        self.type = type
        self.schemaVersion = schemaVersion
        self.recordedAt = recordedAt
        self.actor = actor
        self.commandId = commandId
        self.correlationId = correlationId
        self.importedFrom = importedFrom
        self.importedFromOCR = importedFromOCR
        self.payload = payload
    }
}

/// `Cases.History`'s reply: a page of events (all of them counted: the count never stops at a bound).
package struct HistoryPage: PagedReply, Encodable {
    package static let rowsKey = "events"
    package var rows: [HistoryEntry] { events }
    package var remainingAtLeast: Bool { false }
    package var events: [HistoryEntry]
    package var next: String?
    package var remaining: Int64

    package init(events: [HistoryEntry], next: String?, remaining: Int64) {
        self.events = events
        self.next = next
        self.remaining = remaining
    }
}

/// The figures of `io.imr.Cases.Stats` (`Statistics`).
package struct CaseStatistics: Sendable, Equatable, Codable {
    package struct StageCount: Sendable, Equatable, Codable {
        package var stage: String
        package var cases: Int
        package init(stage: String, cases: Int) {
            self.stage = stage
            self.cases = cases
        }
    }
    package struct RuleTimeliness: Sendable, Equatable, Codable {
        package var rule: String
        package var met: Int
        package var metLate: Int
        package var missed: Int
        /// met / (met + metLate + missed); nil when none has come due.
        package var onTimeShare: Double?
        package init(rule: String, met: Int, metLate: Int, missed: Int, onTimeShare: Double?) {
            self.rule = rule
            self.met = met
            self.metLate = metLate
            self.missed = missed
            self.onTimeShare = onTimeShare
        }
    }

    package var openCases: Int
    package var openByStage: [StageCount]
    /// Running deadlines due in the next 7 days (not yet past due).
    package var dueWithin7Days: Int
    package var overdue: Int
    package var timelinessByRule: [RuleTimeliness]
    package var upheld: Int
    package var overturned: Int
    /// overturned / (upheld + overturned); nil before any determination.
    package var overturnRate: Double?
    /// Median calendar days per item from the IMR application to the assignment, and from the
    /// assignment to the determination; nil without data.
    package var medianDaysApplicationToAssignment: Double?
    package var medianDaysAssignmentToDetermination: Double?

    package init(
        openCases: Int,
        openByStage: [StageCount],
        dueWithin7Days: Int,
        overdue: Int,
        timelinessByRule: [RuleTimeliness],
        upheld: Int,
        overturned: Int,
        overturnRate: Double?,
        medianDaysApplicationToAssignment: Double?,
        medianDaysAssignmentToDetermination: Double?
    ) {
        self.openCases = openCases
        self.openByStage = openByStage
        self.dueWithin7Days = dueWithin7Days
        self.overdue = overdue
        self.timelinessByRule = timelinessByRule
        self.upheld = upheld
        self.overturned = overturned
        self.overturnRate = overturnRate
        self.medianDaysApplicationToAssignment = medianDaysApplicationToAssignment
        self.medianDaysAssignmentToDetermination = medianDaysAssignmentToDetermination
    }
}

/// `Cases.Stats`' reply.
package struct StatisticsReply: Codable, Sendable {
    package var stats: CaseStatistics
    package init(stats: CaseStatistics) { self.stats = stats }
}

/// What `Cases.ImportDetermination` did with one letter (`LetterImported`).
package struct LetterImported: Codable, Sendable, Equatable {
    package var caseId: String
    package var openedCase: Bool
    /// The case already held every fact of the letter: nothing was written.
    package var alreadyRecorded: Bool
    package var version: Int64
    package var positions: [Int64]
    package var events: [String]
    /// Letter items and the case items they were matched to.
    package var items: [LetterItemMatch]
    package var determinedItems: [String]
    /// The differences `force` corrected.
    package var corrected: [LetterDifference]

    package init(
        caseId: String,
        openedCase: Bool,
        alreadyRecorded: Bool,
        version: Int64,
        positions: [Int64],
        events: [String],
        items: [LetterItemMatch],
        determinedItems: [String],
        corrected: [LetterDifference]
    ) {
        self.caseId = caseId
        self.openedCase = openedCase
        self.alreadyRecorded = alreadyRecorded
        self.version = version
        self.positions = positions
        self.events = events
        self.items = items
        self.determinedItems = determinedItems
        self.corrected = corrected
    }
}

/// `Cases.ImportDetermination`'s reply.
package struct ImportDeterminationReply: Codable, Sendable {
    package var imported: LetterImported
    package init(imported: LetterImported) { self.imported = imported }
}

/// How a letter imported through OCR was read (`ImportedFromOCR`), as each of its events
/// carries it: the engine, its mean word confidence over the pages read through OCR, and every
/// fact taken from the OCR text with the lowest confidence of its words.
package struct ImportedFromOCR: Codable, Sendable, Equatable {
    /// A fact read through OCR (`OCRFact`): caseNumber, dateAssigned, ..., or for an item
    /// (the case item the letter item was matched to) disputed or decision.
    package struct Fact: Codable, Sendable, Equatable {
        package var fact: String
        package var itemId: String?
        /// 0 to 100.
        package var confidence: Double
        package init(fact: String, itemId: String?, confidence: Double) {
            self.fact = fact
            self.itemId = itemId
            self.confidence = confidence
        }
    }

    /// Always true.
    package var ocr: Bool
    package var engine: String
    package var confidence: Double?
    /// The pages read through OCR, from 1.
    package var pages: [Int]
    package var facts: [Fact]

    package init(engine: String, confidence: Double?, pages: [Int], facts: [Fact]) {
        ocr = true
        self.engine = engine
        self.confidence = confidence
        self.pages = pages
        self.facts = facts
    }
}
