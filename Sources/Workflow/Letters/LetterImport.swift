import Foundation

/// One way a letter and the recorded case disagree.
public struct LetterDifference: Codable, Sendable, Equatable, CustomStringConvertible {
    /// What differs: `dateOfInjury`, `urDenialDate`, `applicationReceived`, `dateAssigned`,
    /// `priority`, `decisionDate`, `reviewerSpecialty` or `decision`.
    public var field: String
    /// The item it concerns; nil for a fact of the case.
    public var itemId: ItemID?
    /// The value the case holds (as corrected), as text.
    public var recorded: String
    /// The value the letter states, as text.
    public var letter: String
    /// Whether `--force` can record a correction for it. A different decision for an item is
    /// not correctable: a changed outcome is a new determination, not a typo.
    public var correctable: Bool

    public init(field: String, itemId: ItemID?, recorded: String, letter: String, correctable: Bool) {
        self.field = field
        self.itemId = itemId
        self.recorded = recorded
        self.letter = letter
        self.correctable = correctable
    }

    public var description: String {
        "\(field)\(itemId.map { " of item \($0)" } ?? ""): recorded \(recorded), letter says \(letter)"
    }
}

/// Which case item a letter item was matched to, and how.
public struct LetterItemMatch: Codable, Sendable, Equatable {
    /// The item's position in the letter, from 0.
    public var letterIndex: Int
    public var itemId: ItemID
    /// `new` (an item the import creates), `text` (same normalised text) or `order` (the
    /// remaining items in the same order, when their counts agree).
    public var how: String
}

/// What importing one letter into one case does: the commands to run, or nothing when the
/// case already holds every fact of the letter.
public struct LetterImportPlan: Sendable, Equatable {
    public var caseId: CaseID
    /// True when the case does not exist yet and the import opens it.
    public var opensCase: Bool
    public var matches: [LetterItemMatch]
    /// The differences `--force` corrects (empty unless forced).
    public var corrected: [LetterDifference]
    /// In order; run them through ``LetterImport/events(for:state:now:eventId:)``.
    public var commands: [CaseCommand]
    /// The items whose determination this import records.
    public var determinedItems: [ItemID]

    /// Nothing to record: the case already holds what the letter says.
    public var isAlreadyRecorded: Bool { commands.isEmpty }
}

/// Why a letter cannot be imported into a case.
public struct LetterImportError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// The letter lacks a fact the import needs (a case number, a decision date...).
        case lacksFacts = "letter-lacks-facts"
        /// Letter items could not be matched to case items.
        case unmatchedItems = "letter-items-unmatched"
        /// The letter contradicts recorded facts (without `--force`, or uncorrectably).
        case contradicts = "letter-contradicts"
    }

    public let kind: Kind
    public let message: String
    /// For ``Kind/contradicts``: every difference.
    public let differences: [LetterDifference]

    public init(_ kind: Kind, _ message: String, differences: [LetterDifference] = []) {
        self.kind = kind
        self.message = message
        self.differences = differences
    }

    public var description: String { message }
}

/// The pure mapping from a Final Determination letter and a case's state to the commands
/// that record the letter.
///
/// - A new case (no state) is opened with the letter's date of injury. The facts a letter
///   lacks are never guessed: claim number, employer and claims administrator read
///   "unknown (imported from letter CM..)", the injured-worker reference "unknown", and no
///   RFA is invented: the items enter through ``DisputedItemsImported`` with the UR outcome
///   the letter proves (denied, or modified with the authorized portion of a partial
///   certification) and its UR denial date. Then the IMR application (when the header gives
///   its date), the assignment (case number, date, priority; how the notice went is unknown)
///   and the determination (decision date; the mailing date is unknown, reviewer specialty,
///   decisions and guidelines).
/// - An existing case: letter items are matched to case items (those assigned to the
///   letter's IMR case number, else those awaiting IMR) by normalised text (lower case,
///   letters and digits only, a leading "the request for" dropped) against the item's
///   description or disputed portion, or the letter's original request against the
///   description; the items left over are matched in order when their counts agree; else the
///   import is refused naming the unmatched items. Facts the case lacks are added (application,
///   assignment, determination); facts it holds are compared, and every difference is listed.
/// - Differences refuse the import unless `force`; then each becomes a correction of the
///   recorded event (``CorrectEvent``) with a reason naming the letter. A different decision
///   cannot be corrected and refuses the import even when forced.
public enum LetterImport {
    /// Facts every import needs, as sentences; empty when the letter can be imported. A letter
    /// without a header (case number, decision date) cannot be tied to an IMR review or start
    /// its clocks, so it is refused rather than recorded with guessed dates.
    public static func missingFacts(_ letter: LetterFacts) -> [String] {
        var missing: [String] = []
        if letter.caseNumber == nil { missing.append("no IMR case number") }
        if letter.decisionDate == nil { missing.append("no decision date") }
        if letter.items.isEmpty { missing.append("no decided item") }
        return missing
    }

    /// The case id a letter opens when no case is named: its IMR case number.
    public static func defaultCaseId(_ letter: LetterFacts) -> CaseID? {
        letter.caseNumber.map(CaseID.init)
    }

    /// How events recorded from `file` name their source, e.g.
    /// "IMR Final Determination CM16-0213037 (CM16-0213037.pdf)".
    public static func sourceDescription(_ letter: LetterFacts, file: String) -> String {
        let name = letter.caseNumber.map { "IMR Final Determination \($0)" } ?? "IMR Final Determination"
        let trimmed = file.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? name : "\(name) (\(trimmed))"
    }

    /// The placeholder for a fact the letter does not carry.
    public static func unknownPlaceholder(_ number: IMRCaseNumber) -> String {
        "unknown (imported from letter \(number))"
    }

    /// Text as the matcher compares it.
    public static func normalized(_ text: String) -> String {
        let lowered = text.lowercased()
        var out = ""
        var space = false
        for scalar in lowered.unicodeScalars {
            if CharacterSet.alphanumerics.contains(scalar) {
                if space, !out.isEmpty { out.append(" ") }
                out.unicodeScalars.append(scalar)
                space = false
            } else {
                space = true
            }
        }
        for prefix in ["the request for ", "request for "] where out.hasPrefix(prefix) {
            out = String(out.dropFirst(prefix.count))
        }
        return out
    }

    /// The commands that record `letter` on the case `caseId` whose state is `state` (an
    /// empty state when the case does not exist).
    public static func plan(
        _ letter: LetterFacts,
        caseId: CaseID,
        state: CaseState,
        source: String,
        coordinator: String,
        force: Bool
    ) throws(LetterImportError) -> LetterImportPlan {
        let missing = missingFacts(letter)
        if !missing.isEmpty {
            throw LetterImportError(
                .lacksFacts,
                "The letter carries \(missing.joined(separator: ", ")) (it has no header block), so it cannot be tied to an IMR review; record the determination by hand, or import a copy with its header"
            )
        }
        guard let number = IMRCaseNumber(letter.caseNumber ?? "") else {
            throw LetterImportError(
                .lacksFacts,
                "The letter's case number '\(letter.caseNumber ?? "")' is not an IMR case number (CM, two digits, a hyphen, seven digits)"
            )
        }
        if state.facts == nil {
            return try planNewCase(letter, number: number, caseId: caseId, source: source, coordinator: coordinator)
        }
        return try planExistingCase(letter, number: number, caseId: caseId, state: state, source: source, force: force)
    }

    // MARK: - A new case

    private static func planNewCase(
        _ letter: LetterFacts,
        number: IMRCaseNumber,
        caseId: CaseID,
        source: String,
        coordinator: String
    ) throws(LetterImportError) -> LetterImportPlan {
        var missing: [String] = []
        if letter.dateOfInjury == nil { missing.append("no date of injury") }
        if letter.dateAssigned == nil { missing.append("no assignment date") }
        if letter.priority == nil { missing.append("no priority") }
        guard missing.isEmpty, let injured = letter.dateOfInjury, let assigned = letter.dateAssigned,
            let priority = letter.priority, let decided = letter.decisionDate
        else {
            throw LetterImportError(
                .lacksFacts,
                "No case carries \(number) and the letter has \(missing.joined(separator: ", ")), so no case can be opened from it; open the case by hand, then import the letter with --case"
            )
        }
        let unknown = unknownPlaceholder(number)
        let ids = letter.items.indices.map { ItemID(String($0 + 1)) }
        let imported = zip(ids, letter.items).map { id, item in
            let partial = item.authorizedPortion != nil
            return ImportedItem(
                id: id,
                description: partial ? (item.originalRequest ?? item.disputed) : item.disputed,
                urOutcome: partial ? .modified : .denied,
                authorizedPortion: item.authorizedPortion,
                disputedPortion: partial ? item.disputed : nil
            )
        }
        var commands: [CaseCommand] = [
            .openCase(
                CaseOpened(
                    caseId: caseId,
                    claimNumber: unknown,
                    employer: unknown,
                    claimsAdministrator: unknown,
                    injuredWorkerReference: "unknown",
                    dateOfInjury: injured,
                    coordinator: coordinator
                )
            ),
            .importDisputedItems(
                DisputedItemsImported(
                    rfaId: RFAID("letter-\(number.rawValue)"),
                    items: imported,
                    urDecidedOn: letter.urDenialDate,
                    source: source
                )
            ),
        ]
        if let applied = letter.applicationReceived {
            commands.append(.receiveIMRApplication(IMRApplicationReceived(itemIds: ids, receivedOn: applied)))
        }
        commands.append(
            .assignIMR(
                IMRAssigned(
                    itemIds: ids,
                    imrCaseNumber: number,
                    assignedOn: assigned,
                    priority: priority,
                    noticeMethod: nil
                )
            )
        )
        commands.append(.issueDetermination(determination(letter, number: number, decided: decided, ids: ids)))
        return LetterImportPlan(
            caseId: caseId,
            opensCase: true,
            matches: ids.enumerated().map { LetterItemMatch(letterIndex: $0.offset, itemId: $0.element, how: "new") },
            corrected: [],
            commands: commands,
            determinedItems: ids
        )
    }

    static let notStated = "not stated in the letter"

    private static func determination(
        _ letter: LetterFacts,
        number: IMRCaseNumber,
        decided: LocalDate,
        ids: [ItemID],
        only: Set<ItemID>? = nil
    ) -> IMRDeterminationIssued {
        let items = zip(ids, letter.items).filter { only?.contains($0.0) ?? true }.map { id, item in
            IMRItemDetermination(
                itemId: id,
                decision: item.decision,
                guideline: item.guideline ?? notStated,
                rationaleSummary: item.rationale ?? notStated
            )
        }
        return IMRDeterminationIssued(
            imrCaseNumber: number,
            decidedOn: decided,
            mailedOn: nil,
            reviewerSpecialty: letter.reviewerSpecialty ?? notStated,
            items: items
        )
    }

    // MARK: - An existing case

    private static func planExistingCase(
        _ letter: LetterFacts,
        number: IMRCaseNumber,
        caseId: CaseID,
        state: CaseState,
        source: String,
        force: Bool
    ) throws(LetterImportError) -> LetterImportPlan {
        let matches = try match(letter, number: number, state: state, caseId: caseId)
        let ids = matches.sorted { $0.letterIndex < $1.letterIndex }.map(\.itemId)
        let items = ids.compactMap(state.item)
        let reason = "imported from \(source)"
        var differences: [LetterDifference] = []
        var corrections: [(rank: Int, later: Bool, command: CorrectEvent)] = []
        var correctedKeys = Set<String>()

        func differ(
            _ field: String,
            _ item: ItemID?,
            _ recorded: String,
            _ stated: String,
            correction: (rank: Int, later: Bool, version: Int?, field: CorrectableField, value: CorrectionValue)?
        ) {
            differences.append(
                LetterDifference(
                    field: field,
                    itemId: item,
                    recorded: recorded,
                    letter: stated,
                    correctable: correction?.version != nil
                )
            )
            guard let c = correction, let version = c.version else { return }
            // One correction per event and field, even when several items share the event.
            guard correctedKeys.insert("\(version)/\(c.field.rawValue)").inserted else { return }
            corrections.append(
                (c.rank, c.later, CorrectEvent(version: version, field: c.field, value: c.value, reason: reason))
            )
        }

        // The case.
        if let facts = state.facts, let stated = letter.dateOfInjury, stated != facts.dateOfInjury {
            let opened = state.recorded.first { if case .caseOpened = $0.event { true } else { false } }?.version
            differ(
                "dateOfInjury",
                nil,
                facts.dateOfInjury.iso,
                stated.iso,
                correction: (0, stated > facts.dateOfInjury, opened, .dateOfInjury, .date(stated))
            )
        }

        var toApply: [ItemID] = []
        var toAssign: [ItemID] = []
        var toDetermine: [ItemID] = []
        for (index, item) in zip(ids.indices, items) {
            let letterItem = letter.items[matches.first { $0.itemId == item.id }?.letterIndex ?? index]
            if let stated = letter.urDenialDate, let recorded = item.urDecidedOn, stated != recorded {
                if let milestone = item.history.last(where: { $0.event == URDecisionIssued.typeName }),
                    let at = item.urDecidedAt
                {
                    let seconds = Pacific.secondsSinceMidnight(of: at)
                    let moved = Pacific.instant(
                        stated,
                        hour: seconds / 3600,
                        minute: (seconds % 3600) / 60,
                        second: seconds % 60
                    )
                    differ(
                        "urDenialDate",
                        item.id,
                        recorded.iso,
                        stated.iso,
                        correction: (1, stated > recorded, milestone.version, .decidedAt, .instant(moved))
                    )
                } else {
                    let milestone = item.history.last { $0.event == DisputedItemsImported.typeName }
                    differ(
                        "urDenialDate",
                        item.id,
                        recorded.iso,
                        stated.iso,
                        correction: (1, stated > recorded, milestone?.version, .decidedOn, .date(stated))
                    )
                }
            }
            if let recorded = item.imrApplicationReceivedOn {
                if let stated = letter.applicationReceived, stated != recorded {
                    let milestone = item.history.last { $0.event == IMRApplicationReceived.typeName }
                    differ(
                        "applicationReceived",
                        item.id,
                        recorded.iso,
                        stated.iso,
                        correction: (2, stated > recorded, milestone?.version, .receivedOn, .date(stated))
                    )
                }
            } else if letter.applicationReceived != nil, item.imrCaseNumber == nil {
                toApply.append(item.id)
            }
            if let recordedOn = item.imrAssignedOn {
                let milestone = item.history.first { $0.event == IMRAssigned.typeName }
                if let stated = letter.dateAssigned, stated != recordedOn {
                    differ(
                        "dateAssigned",
                        item.id,
                        recordedOn.iso,
                        stated.iso,
                        correction: (3, stated > recordedOn, milestone?.version, .assignedOn, .date(stated))
                    )
                }
                if let stated = letter.priority, let recorded = item.imrPriority, stated != recorded {
                    differ(
                        "priority",
                        item.id,
                        recorded.rawValue,
                        stated.rawValue,
                        correction: (5, false, milestone?.version, .priority, .text(stated.rawValue))
                    )
                }
            } else {
                toAssign.append(item.id)
            }
            if let recorded = item.imrDecision {
                let milestone = item.history.last { $0.event == IMRDeterminationIssued.typeName }
                if recorded != letterItem.decision {
                    differ("decision", item.id, recorded.rawValue, letterItem.decision.rawValue, correction: nil)
                }
                if let stated = letter.decisionDate, let recordedOn = item.determinationDecidedOn, stated != recordedOn
                {
                    differ(
                        "decisionDate",
                        item.id,
                        recordedOn.iso,
                        stated.iso,
                        correction: (4, stated > recordedOn, milestone?.version, .decidedOn, .date(stated))
                    )
                }
                if let stated = letter.reviewerSpecialty, let recorded = item.reviewerSpecialty,
                    normalized(stated) != normalized(recorded), recorded != notStated
                {
                    differ(
                        "reviewerSpecialty",
                        item.id,
                        recorded,
                        stated,
                        correction: (5, false, milestone?.version, .reviewerSpecialty, .text(stated))
                    )
                }
            } else {
                toDetermine.append(item.id)
            }
        }

        if !differences.isEmpty {
            let listed = differences.map(\.description).joined(separator: "; ")
            if !force {
                throw LetterImportError(
                    .contradicts,
                    "The letter contradicts case \(caseId): \(listed). Nothing was recorded; check the letter, or import it with --force to record corrections",
                    differences: differences
                )
            }
            let fixed = differences.filter { !$0.correctable }
            if !fixed.isEmpty {
                throw LetterImportError(
                    .contradicts,
                    "The letter contradicts case \(caseId) in a way a correction cannot fix: \(fixed.map(\.description).joined(separator: "; ")). A different decision is a new determination, not a typo; nothing was recorded",
                    differences: differences
                )
            }
        }

        // Dates moving earlier are corrected from the first step on, dates moving later from
        // the last step back, so each correction keeps the stream in order.
        let earlier = corrections.filter { !$0.later }.sorted { $0.rank < $1.rank }
        let later = corrections.filter { $0.later }.sorted { $0.rank > $1.rank }
        var commands: [CaseCommand] = (later + earlier).map { .correct($0.command) }

        if !toApply.isEmpty, let applied = letter.applicationReceived {
            commands.append(.receiveIMRApplication(IMRApplicationReceived(itemIds: toApply, receivedOn: applied)))
        }
        if !toAssign.isEmpty {
            guard let assigned = letter.dateAssigned, let priority = letter.priority else {
                throw LetterImportError(
                    .lacksFacts,
                    "Items \(toAssign.map(\.rawValue).joined(separator: ", ")) of case \(caseId) are not assigned to IMR and the letter gives no assignment date or priority to record it; record the assignment by hand first"
                )
            }
            commands.append(
                .assignIMR(
                    IMRAssigned(
                        itemIds: toAssign,
                        imrCaseNumber: number,
                        assignedOn: assigned,
                        priority: priority,
                        noticeMethod: nil
                    )
                )
            )
        }
        if !toDetermine.isEmpty, let decided = letter.decisionDate {
            commands.append(
                .issueDetermination(
                    determination(
                        letter,
                        number: number,
                        decided: decided,
                        ids: matchedInLetterOrder(matches, count: letter.items.count),
                        only: Set(toDetermine)
                    )
                )
            )
        }
        return LetterImportPlan(
            caseId: caseId,
            opensCase: false,
            matches: matches.sorted { $0.letterIndex < $1.letterIndex },
            corrected: force ? differences : [],
            commands: commands,
            determinedItems: toDetermine
        )
    }

    /// The case item of each letter item, in letter order.
    private static func matchedInLetterOrder(_ matches: [LetterItemMatch], count: Int) -> [ItemID] {
        (0..<count).compactMap { index in matches.first { $0.letterIndex == index }?.itemId }
    }

    /// Matches every letter item to a case item, or explains which could not be matched.
    static func match(
        _ letter: LetterFacts,
        number: IMRCaseNumber,
        state: CaseState,
        caseId: CaseID
    ) throws(LetterImportError) -> [LetterItemMatch] {
        let assigned = state.items(assignedTo: number)
        let candidates =
            assigned.isEmpty
            ? state.items.filter { [.denied, .modified, .imrApplied, .imrEligible].contains($0.status) }
            : assigned
        guard !candidates.isEmpty else {
            let numbers = Set(state.items.compactMap(\.imrCaseNumber)).sorted().map(\.rawValue)
            throw LetterImportError(
                .unmatchedItems,
                "No item of case \(caseId) is assigned to \(number) or awaits IMR"
                    + (numbers.isEmpty ? "" : " (its IMR case numbers are \(numbers.joined(separator: ", ")))")
                    + "; check that the letter belongs to this case"
            )
        }
        var matches: [LetterItemMatch] = []
        var free = candidates
        var unmatched: [Int] = []
        for (index, item) in letter.items.enumerated() {
            let texts = Set([item.disputed, item.originalRequest].compactMap { $0 }.map(normalized))
            if let found = free.firstIndex(where: { candidate in
                !texts.isDisjoint(
                    with: [candidate.description, candidate.disputedPortion].compactMap { $0 }.map(normalized)
                )
            }) {
                matches.append(LetterItemMatch(letterIndex: index, itemId: free[found].id, how: "text"))
                free.remove(at: found)
            } else {
                unmatched.append(index)
            }
        }
        if unmatched.isEmpty { return matches }
        if unmatched.count == free.count {
            for (index, candidate) in zip(unmatched, free) {
                matches.append(LetterItemMatch(letterIndex: index, itemId: candidate.id, how: "order"))
            }
            return matches
        }
        let letterNames = unmatched.map { "\"\(letter.items[$0].disputed)\"" }.joined(separator: ", ")
        let caseNames = free.map { "\($0.id) \"\($0.description)\"" }.joined(separator: ", ")
        throw LetterImportError(
            .unmatchedItems,
            "Letter items \(letterNames) match no item of case \(caseId)"
                + (free.isEmpty ? " (every candidate item is already matched)" : "; unmatched case items: \(caseNames)")
                + ", and the counts differ, so they cannot be paired in order; record the determination by hand"
        )
    }

    // MARK: - Running a plan

    /// The events `commands` record on `state`, each decided against the state the previous
    /// ones leave; throws the first refusal, so a plan is recorded whole or not at all.
    public static func events(
        for commands: [CaseCommand],
        state: CaseState,
        now: Date,
        eventId: (Int) -> UUID
    ) throws(CaseRuleViolation) -> [CaseEvent] {
        var current = state
        var out: [CaseEvent] = []
        for command in commands {
            for event in try decide(command, state: current, now: now) {
                current = evolve(
                    current,
                    RecordedCaseEvent(
                        event: event,
                        version: current.version + 1,
                        eventId: eventId(out.count),
                        recordedAt: now
                    )
                )
                out.append(event)
            }
        }
        return out
    }
}
