import Foundation
import Workflow

// The query methods' parameters, each tied to its method's name and reply type: imr-ctl sends
// them, the service decodes them, and a test holds the interface files to their fields. (The
// recording methods have theirs in RecordingCall; io.imr.Admin's are in AdminWire.)

/// One Varlink method's parameters: what the client encodes and the service decodes, with the
/// method's full name and the type of its reply.
package protocol WireCall: Codable, Sendable {
    associatedtype Reply: Decodable & Sendable
    /// The method's full name ("io.imr.Cases.Get").
    static var method: String { get }
}

/// `io.imr.Cases.List`: filters for the case list (nil means any) and the page.
package struct CaseListFilter: WireCall, Equatable {
    package typealias Reply = CasePage
    package static let method = "io.imr.Cases.List"
    package var open: Bool?
    package var stage: String?
    package var coordinator: String?
    package var claimNumber: String?
    package var imrCaseNumber: String?
    /// Cases per page (100 when nil, at most 1000).
    package var limit: Int?
    /// The `next` of the previous page: this page starts after it.
    package var after: String?
    /// Each case also says how many of its misses are kept as history, and the latest's due.
    package var includeHistory: Bool?

    package init(
        open: Bool? = nil,
        stage: String? = nil,
        coordinator: String? = nil,
        claimNumber: String? = nil,
        imrCaseNumber: String? = nil,
        limit: Int? = nil,
        after: String? = nil,
        includeHistory: Bool? = nil
    ) {
        self.includeHistory = includeHistory
        self.open = open
        self.stage = stage
        self.coordinator = coordinator
        self.claimNumber = claimNumber
        self.imrCaseNumber = imrCaseNumber
        self.limit = limit
        self.after = after
    }
}

/// `io.imr.Cases.Search`: cases whose id, claim number, IMR case number, employer or claims
/// administrator starts with `text`.
package struct CaseSearchRequest: WireCall {
    package typealias Reply = CaseSearchReply
    package static let method = "io.imr.Cases.Search"
    package var text: String
    package var limit: Int?
    package init(text: String, limit: Int?) {
        self.text = text
        self.limit = limit
    }
}

/// `io.imr.Cases.Get`: one case.
package struct CaseGetRequest: WireCall {
    package typealias Reply = CaseReply
    package static let method = "io.imr.Cases.Get"
    package var caseId: String
    package init(caseId: String) { self.caseId = caseId }
}

/// `io.imr.Cases.History`: a page of a case's events.
package struct CaseHistoryRequest: WireCall {
    package typealias Reply = HistoryPage
    package static let method = "io.imr.Cases.History"
    package var caseId: String
    package var limit: Int?
    package var after: String?
    package init(caseId: String, limit: Int? = nil, after: String? = nil) {
        self.caseId = caseId
        self.limit = limit
        self.after = after
    }
}

/// `io.imr.Cases.Stats`: the caseload in figures (no parameters).
package struct CaseStatsRequest: WireCall {
    package typealias Reply = StatisticsReply
    package static let method = "io.imr.Cases.Stats"
    package init() {}
}

/// `io.imr.Cases.ImportDetermination`: one Final Determination letter to record.
package struct ImportDeterminationRequest: WireCall {
    package typealias Reply = ImportDeterminationReply
    package static let method = "io.imr.Cases.ImportDetermination"
    package var letter: LetterFacts
    package var caseId: String?
    package var force: Bool
    package var source: String
    package var commandId: String?
    package init(letter: LetterFacts, caseId: String?, force: Bool, source: String, commandId: String? = nil) {
        self.letter = letter
        self.caseId = caseId
        self.force = force
        self.source = source
        self.commandId = commandId
    }
}

/// `io.imr.Deadlines.List`: filters for the deadline board and the page.
package struct DeadlineBoardFilter: WireCall, Equatable {
    package typealias Reply = DeadlinePage
    package static let method = "io.imr.Deadlines.List"
    package var coordinator: String?
    package var rule: String?
    package var party: String?
    package var caseId: String?
    /// Only deadlines due within this many days from now (overdue ones included).
    package var withinDays: Int?
    /// true: only deadlines already past due; false: only those not yet due.
    package var overdue: Bool?
    /// Each row also carries when the daemon's alert policy alerts on it.
    package var withAlerts: Bool?
    /// Each row also carries its case's claim number and stage (the deadline CSV's columns).
    package var withCase: Bool?
    /// Deadlines per page (100 when nil, at most 1000).
    package var limit: Int?
    /// The `next` of the previous page: this page starts after it.
    package var after: String?
    /// Also the misses kept as history (``CaseDeadline/history``), in due order with the rest.
    package var includeHistory: Bool?

    package init(
        coordinator: String? = nil,
        rule: String? = nil,
        party: String? = nil,
        caseId: String? = nil,
        withinDays: Int? = nil,
        overdue: Bool? = nil,
        withAlerts: Bool? = nil,
        withCase: Bool? = nil,
        limit: Int? = nil,
        after: String? = nil,
        includeHistory: Bool? = nil
    ) {
        self.includeHistory = includeHistory
        self.coordinator = coordinator
        self.rule = rule
        self.party = party
        self.caseId = caseId
        self.withinDays = withinDays
        self.overdue = overdue
        self.withAlerts = withAlerts
        self.withCase = withCase
        self.limit = limit
        self.after = after
    }
}

/// `io.imr.Deadlines.Digest`: one coordinator's morning digest.
package struct DigestRequest: WireCall {
    package typealias Reply = DigestReply
    package static let method = "io.imr.Deadlines.Digest"
    package var coordinator: String
    package init(coordinator: String) { self.coordinator = coordinator }
}

/// `io.imr.Deadlines.ForCase`: every deadline of one case.
package struct DeadlinesForCaseRequest: WireCall {
    package typealias Reply = DeadlinesOfCase
    package static let method = "io.imr.Deadlines.ForCase"
    package var caseId: String
    package init(caseId: String) { self.caseId = caseId }
}

/// `io.imr.Alerts.List`: open alerts, mine or one coordinator's (everyone's when neither),
/// narrowed by case, level, rule or the start of the id, in raising or due order, a page.
package struct AlertListRequest: WireCall {
    package typealias Reply = AlertListPage
    package static let method = "io.imr.Alerts.List"
    package var mine: Bool?
    package var coordinator: String?
    package var limit: Int?
    package var after: String?
    package var caseId: String?
    /// "notice", "reminder", "due-today" or "overdue".
    package var level: String?
    package var rule: String?
    /// The start of the alert id: at least 4 hex digits.
    package var alertIdPrefix: String?
    /// "raised" (when nil) or "due".
    package var order: String?

    package init(
        mine: Bool? = nil,
        coordinator: String? = nil,
        caseId: String? = nil,
        level: String? = nil,
        rule: String? = nil,
        alertIdPrefix: String? = nil,
        order: String? = nil,
        limit: Int? = nil,
        after: String? = nil
    ) {
        self.mine = mine
        self.coordinator = coordinator
        self.caseId = caseId
        self.level = level
        self.rule = rule
        self.alertIdPrefix = alertIdPrefix
        self.order = order
        self.limit = limit
        self.after = after
    }
}

/// `io.imr.Alerts.Follow`: the open alerts, then each change as it happens.
package struct AlertFollowRequest: WireCall {
    package typealias Reply = AlertFollowReply
    package static let method = "io.imr.Alerts.Follow"
    package var mine: Bool?
    package var coordinator: String?
    package init(mine: Bool? = nil, coordinator: String? = nil) {
        self.mine = mine
        self.coordinator = coordinator
    }
}

/// `io.imr.Alerts.Acknowledge`.
package struct AcknowledgeAlertRequest: WireCall {
    package typealias Reply = AlertReply
    package static let method = "io.imr.Alerts.Acknowledge"
    package var alertId: String
    package init(alertId: String) { self.alertId = alertId }
}

/// `io.imr.Alerts.Snooze`: hide an open alert until an instant.
package struct SnoozeAlertRequest: WireCall {
    package typealias Reply = AlertReply
    package static let method = "io.imr.Alerts.Snooze"
    package var alertId: String
    package var until: String
    package init(alertId: String, until: String) {
        self.alertId = alertId
        self.until = until
    }
}

/// `io.imr.Alerts.Reassign`: give an open alert to another coordinator.
package struct ReassignAlertRequest: WireCall {
    package typealias Reply = AlertReply
    package static let method = "io.imr.Alerts.Reassign"
    package var alertId: String
    package var coordinator: String
    package init(alertId: String, coordinator: String) {
        self.alertId = alertId
        self.coordinator = coordinator
    }
}
