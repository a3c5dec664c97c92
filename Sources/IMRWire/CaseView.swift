import Foundation
import Varlink
import Workflow

/// One case as `io.imr.Cases.Get` gives it (`Case` in the interface file): its facts, RFAs,
/// items with their state, notes, corrections, the timeline and every deadline. Facts are nil
/// before the case is opened; values of the lifecycle's vocabularies (stage, status, outcomes)
/// are their names as text, so a client reads a case a newer daemon wrote.
package struct CaseView: Codable, Sendable, Equatable {
    package struct RFA: Codable, Sendable, Equatable {
        package var rfaId: String
        package var receivedAt: Date
        package var receivedTimeOfDayKnown: Bool
        package var transmission: String
        package var physician: String
        package var treatmentRecommendedOn: LocalDate?
        package var reviewType: String
        package var expedited: Bool
        package var formulary: Bool
        package var itemIds: [String]
        package var informationRequestedOn: LocalDate?
        package var informationReceivedOn: LocalDate?
        package var deferredOn: LocalDate?
    }

    package struct Item: Codable, Sendable, Equatable {
        package var itemId: String
        package var rfaId: String
        package var description: String
        package var status: String
        package var urOutcome: String?
        package var authorizedPortion: String?
        package var disputedPortion: String?
        /// The letter the item was first known from (an import that found no RFA for it).
        package var importedFrom: String?
        /// Nil when the decision's time of day is not known (``urDecidedOn`` is).
        package var urDecidedAt: Date?
        package var urDecidedOn: LocalDate?
        package var physicianNotifiedAt: Date?
        package var writtenDecisionServedOn: LocalDate?
        package var writtenDecisionServiceMethod: String?
        package var imrApplicationReceivedOn: LocalDate?
        package var eligibilityInformationRequestedOn: LocalDate?
        package var eligibilityInformationSentOn: LocalDate?
        package var imrEligibleOn: LocalDate?
        package var imrIneligibleOn: LocalDate?
        package var ineligibilityReason: String?
        package var imrCaseNumber: String?
        package var imrAssignedOn: LocalDate?
        package var imrPriority: String?
        package var recordsReceivedOn: LocalDate?
        package var determinationDecidedOn: LocalDate?
        package var determinationMailedOn: LocalDate?
        package var imrDecision: String?
        package var guideline: String?
        package var reviewerSpecialty: String?
        package var implementedOn: LocalDate?
        package var appealFiledOn: LocalDate?
        package var appealResolvedOn: LocalDate?
        package var appealOutcome: String?
        package var imrRound: Int
    }

    package struct Note: Codable, Sendable, Equatable {
        package var writtenAt: Date
        package var text: String
        package var version: Int

        package init(writtenAt: Date, text: String, version: Int) {
            self.writtenAt = writtenAt
            self.text = text
            self.version = version
        }
    }

    /// An `EventCorrected` of the case: the event it corrects and the field's new value.
    package struct Correction: Codable, Sendable, Equatable {
        /// The EventCorrected event's own version.
        package var version: Int
        package var field: String
        package var value: String
        package var reason: String
        package var correctedVersion: Int
        /// The corrected event's type.
        package var correctedType: String?
        /// The value it replaced, when the field is one the corrected event carries.
        package var previous: String?
    }

    /// One event of the timeline.
    package struct Event: Codable, Sendable, Equatable {
        package var version: Int64
        package var type: String
        package var recordedAt: Date
        package var actor: String?
        package var importedFrom: String?
        /// For an event recorded from a letter read through OCR: how it was read.
        package var importedFromOCR: ImportedFromOCR?

        package init(
            version: Int64,
            type: String,
            recordedAt: Date,
            actor: String?,
            importedFrom: String?,
            importedFromOCR: ImportedFromOCR? = nil
        ) {
            self.version = version
            self.type = type
            self.recordedAt = recordedAt
            self.actor = actor
            self.importedFrom = importedFrom
            self.importedFromOCR = importedFromOCR
        }
    }

    package var caseId: String?
    package var claimNumber: String?
    package var employer: String?
    package var claimsAdministrator: String?
    package var injuredWorkerReference: String?
    package var dateOfInjury: LocalDate?
    package var coordinator: String?
    package var stage: String
    package var isOpen: Bool
    package var version: Int64
    package var withdrawnOn: LocalDate?
    package var closedOn: LocalDate?
    package var rfas: [RFA]
    package var items: [Item]
    package var notes: [Note]
    package var corrections: [Correction]
    package var timeline: [Event]
    package var deadlines: [CaseDeadline]
}

/// `Cases.Get`'s reply.
package struct CaseReply: Codable, Sendable {
    package var `case`: CaseView
    package init(case: CaseView) { self.case = `case` }
}

extension CaseView {
    /// The case as `Get` answers it: its state, with the timeline and deadlines the service read.
    package init(_ s: CaseState, timeline: [Event], deadlines: [CaseDeadline]) {
        let facts = s.facts
        caseId = facts?.caseId.rawValue
        claimNumber = facts?.claimNumber
        employer = facts?.employer
        claimsAdministrator = facts?.claimsAdministrator
        injuredWorkerReference = facts?.injuredWorkerReference
        dateOfInjury = facts?.dateOfInjury
        coordinator = s.coordinator
        stage = s.stage.rawValue
        isOpen = s.isOpen
        version = Int64(s.version)
        withdrawnOn = s.withdrawnOn
        closedOn = s.closedOn
        rfas = s.rfas.map { r in
            RFA(
                rfaId: r.id.rawValue,
                receivedAt: r.receivedAt,
                receivedTimeOfDayKnown: r.receivedTimeOfDayKnown,
                transmission: r.transmission.rawValue,
                physician: r.physician,
                treatmentRecommendedOn: r.treatmentRecommendedOn,
                reviewType: r.reviewType.rawValue,
                expedited: r.expedited,
                formulary: r.formulary,
                itemIds: r.itemIds.map(\.rawValue),
                informationRequestedOn: r.informationRequestedOn,
                informationReceivedOn: r.informationReceivedOn,
                deferredOn: r.deferredOn
            )
        }
        items = s.items.map { i in
            Item(
                itemId: i.id.rawValue,
                rfaId: i.rfaId.rawValue,
                description: i.description,
                status: i.status.rawValue,
                urOutcome: i.urOutcome?.rawValue,
                authorizedPortion: i.authorizedPortion,
                disputedPortion: i.disputedPortion,
                importedFrom: i.importedFrom,
                urDecidedAt: i.urDecisionTimeKnown ? i.urDecidedAt : nil,
                urDecidedOn: i.urDecidedOn,
                physicianNotifiedAt: i.physicianNotifiedAt,
                writtenDecisionServedOn: i.writtenDecisionServedOn,
                writtenDecisionServiceMethod: i.writtenDecisionServiceMethod?.rawValue,
                imrApplicationReceivedOn: i.imrApplicationReceivedOn,
                eligibilityInformationRequestedOn: i.eligibilityInformationRequestedOn,
                eligibilityInformationSentOn: i.eligibilityInformationSentOn,
                imrEligibleOn: i.imrEligibleOn,
                imrIneligibleOn: i.imrIneligibleOn,
                ineligibilityReason: i.ineligibilityReason?.rawValue,
                imrCaseNumber: i.imrCaseNumber?.rawValue,
                imrAssignedOn: i.imrAssignedOn,
                imrPriority: i.imrPriority?.rawValue,
                recordsReceivedOn: i.recordsReceivedOn,
                determinationDecidedOn: i.determinationDecidedOn,
                determinationMailedOn: i.determinationMailedOn,
                imrDecision: i.imrDecision?.rawValue,
                guideline: i.guideline,
                reviewerSpecialty: i.reviewerSpecialty,
                implementedOn: i.implementedOn,
                appealFiledOn: i.appealFiledOn,
                appealResolvedOn: i.appealResolvedOn,
                appealOutcome: i.appealOutcome?.rawValue,
                imrRound: i.imrRound
            )
        }
        notes = s.notes.map { Note(writtenAt: $0.writtenAt, text: $0.text, version: $0.version) }
        corrections = s.corrections.enumerated().map { index, applied in
            let c = applied.correction
            return Correction(
                version: applied.version,
                field: c.field.rawValue,
                value: c.value.description,
                reason: c.reason,
                correctedVersion: c.correctedVersion,
                correctedType: s.recorded.first { $0.version == c.correctedVersion }.map {
                    type(of: $0.event.payload).typeName
                },
                previous: Self.previousValue(of: c, before: index, in: s)
            )
        }
        self.timeline = timeline
        self.deadlines = deadlines
    }

    /// The value a correction replaced: an earlier correction of the same field of the same
    /// event, else the field as the event recorded it (instants in RFC 3339); nil when the
    /// field is not one of the payload's own (then the readback shows the new value only).
    static func previousValue(of correction: EventCorrected, before index: Int, in state: CaseState) -> String? {
        if let earlier = state.corrections.prefix(index).last(where: {
            $0.correction.correctedVersion == correction.correctedVersion && $0.correction.field == correction.field
        }) {
            return earlier.correction.value.description
        }
        guard let recorded = state.recorded.first(where: { $0.version == correction.correctedVersion }),
            let encoded = try? CaseEventCodec.encode(recorded.event),
            let payload = try? JSONDecoder().decode(JSONValue.self, from: encoded.payload)
        else { return nil }
        switch payload.objectValue?[correction.field.rawValue] {
        case .string(let text)?: return text
        case .int(let seconds)? where correction.field.rawValue.hasSuffix("At"):
            return Pacific.rfc3339(Date(timeIntervalSince1970: TimeInterval(seconds)))
        case .bool(let flag)?: return flag ? "yes" : "no"
        case .int(let n)?: return String(n)
        default: return nil
        }
    }
}
