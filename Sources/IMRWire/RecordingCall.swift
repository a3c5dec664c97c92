import Foundation
import Varlink
import Workflow

/// The io.imr.Cases methods that record a lifecycle fact. A method's parameters are the
/// `Codable` type of its fact (the type `decide` takes), with `caseId` and `commandId` beside
/// it: the service decodes a call through that type and imr-ctl encodes its command through
/// it, so a field renamed in Swift changes both ends, and a test holds `io.imr.Cases.varlink`
/// to the same fields.
package enum RecordingCall {
    /// What every recording method carries besides its fact.
    package struct Envelope: Codable, Sendable, Equatable {
        package var caseId: String
        /// A UUID naming the command, so that sending it again records nothing new.
        package var commandId: String?

        package init(caseId: String, commandId: String?) {
            self.caseId = caseId
            self.commandId = commandId
        }
    }

    /// The envelope of `call`, read straight from its parameters when they hold it plainly (a
    /// string `caseId`; a string, null or nothing as `commandId`): through the decoder it was
    /// a tenth of the loop's work on a recorded command. Anything else goes through
    /// ``WireFormat/decode(_:from:)``, whose errors name the parameter.
    package static func envelope(of call: VarlinkCall) throws(VarlinkError) -> Envelope {
        if let parameters = call.parameters, case .string(let caseId)? = parameters["caseId"] {
            switch parameters["commandId"] {
            case nil, .null?: return Envelope(caseId: caseId, commandId: nil)
            case .string(let commandId)?: return Envelope(caseId: caseId, commandId: commandId)
            default: break
            }
        }
        return try WireFormat.decode(Envelope.self, from: call)
    }

    /// `Reassign`'s fact.
    package struct Reassign: Codable, Sendable {
        package var coordinator: String
        package init(coordinator: String) { self.coordinator = coordinator }
    }

    /// `AddNote`'s fact.
    package struct Note: Codable, Sendable {
        package var text: String
        package init(text: String) { self.text = text }
    }

    /// `Correct`'s fact: the event by its version (and, to be sure, its id), the field, the
    /// corrected value and why.
    package struct Correction: Codable, Sendable {
        package var version: Int
        package var eventId: String?
        package var field: CorrectableField
        package var value: CorrectionValue
        package var reason: String

        package init(version: Int, eventId: String?, field: CorrectableField, value: CorrectionValue, reason: String) {
            self.version = version
            self.eventId = eventId
            self.field = field
            self.value = value
            self.reason = reason
        }
    }

    /// Every recording method with the type of its fact, in the interface file's order.
    package static var methods: [(name: String, fact: any Codable.Type)] {
        [
            ("Open", CaseOpened.self), ("ReceiveRFA", RFAReceived.self),
            ("RequestInformation", MoreInformationRequested.self), ("ReceiveInformation", InformationReceived.self),
            ("DeferUR", URDeferred.self), ("DecideUR", URDecisionIssued.self),
            ("NotifyPhysician", PhysicianNotified.self),
            ("ServeWrittenDecision", WrittenURDecisionServed.self),
            ("ReceiveIMRApplication", IMRApplicationReceived.self),
            ("RequestEligibilityInformation", IMREligibilityInformationRequested.self),
            ("SendEligibilityInformation", IMREligibilityInformationSent.self),
            ("FindEligible", IMREligibilityFound.self),
            ("FindIneligible", IMRFoundIneligible.self), ("AssignIMR", IMRAssigned.self),
            ("ReceiveRecords", IMRRecordsReceived.self), ("RecordDetermination", IMRDeterminationIssued.self),
            ("RecordImplementation", DeterminationImplemented.self), ("FileAppeal", WCABAppealFiled.self),
            ("ResolveAppeal", WCABAppealResolved.self), ("Withdraw", CaseWithdrawn.self), ("Close", CaseClosed.self),
            ("Reassign", Reassign.self), ("AddNote", Note.self), ("Correct", Correction.self),
        ]
    }

    /// The method that records `command` and its fact; nil for a command no method records
    /// (items imported from a letter arrive through `ImportLetter`).
    package static func method(of command: CaseCommand) -> (name: String, fact: any Encodable)? {
        switch command {
        case .openCase(let e): ("Open", e)
        case .receiveRFA(let e): ("ReceiveRFA", e)
        case .requestMoreInformation(let e): ("RequestInformation", e)
        case .receiveInformation(let e): ("ReceiveInformation", e)
        case .deferUR(let e): ("DeferUR", e)
        case .issueURDecision(let e): ("DecideUR", e)
        case .notifyPhysician(let e): ("NotifyPhysician", e)
        case .serveWrittenDecision(let e): ("ServeWrittenDecision", e)
        case .importDisputedItems: nil
        case .receiveIMRApplication(let e): ("ReceiveIMRApplication", e)
        case .requestEligibilityInformation(let e): ("RequestEligibilityInformation", e)
        case .sendEligibilityInformation(let e): ("SendEligibilityInformation", e)
        case .findEligible(let e): ("FindEligible", e)
        case .findIneligible(let e): ("FindIneligible", e)
        case .assignIMR(let e): ("AssignIMR", e)
        case .receiveRecords(let e): ("ReceiveRecords", e)
        case .issueDetermination(let e): ("RecordDetermination", e)
        case .implementDetermination(let e): ("RecordImplementation", e)
        case .fileAppeal(let e): ("FileAppeal", e)
        case .resolveAppeal(let e): ("ResolveAppeal", e)
        case .withdraw(let e): ("Withdraw", e)
        case .close(let e): ("Close", e)
        case .reassignCoordinator(let to): ("Reassign", Reassign(coordinator: to))
        case .addNote(let text): ("AddNote", Note(text: text))
        case .correct(let c):
            (
                "Correct",
                Correction(
                    version: c.version,
                    eventId: c.eventId?.uuidString.lowercased(),
                    field: c.field,
                    value: c.value,
                    reason: c.reason
                )
            )
        }
    }

    /// The method and parameters that record `command` on case `caseId`.
    package static func call(
        _ command: CaseCommand,
        caseId: String,
        commandId: String?
    ) throws -> (method: String, parameters: [String: JSONValue]) {
        guard let (name, fact) = method(of: command) else {
            throw EncodingError.invalidValue(
                command,
                .init(codingPath: [], debugDescription: "no io.imr.Cases method records \(command)")
            )
        }
        var parameters = try WireFormat.object(fact)
        for (key, value) in try WireFormat.object(Envelope(caseId: caseId, commandId: commandId)) {
            parameters[key] = value
        }
        return ("io.imr.Cases.\(name)", parameters)
    }

    /// The lifecycle command a recording method's call asks for.
    package static func command(for call: VarlinkCall) throws(VarlinkError) -> CaseCommand {
        func d<T: Decodable>(_ t: T.Type) throws(VarlinkError) -> T { try WireFormat.decode(t, from: call) }
        switch call.member {
        case "Open": return .openCase(try d(CaseOpened.self))
        case "ReceiveRFA": return .receiveRFA(try d(RFAReceived.self))
        case "RequestInformation": return .requestMoreInformation(try d(MoreInformationRequested.self))
        case "ReceiveInformation": return .receiveInformation(try d(InformationReceived.self))
        case "DeferUR": return .deferUR(try d(URDeferred.self))
        case "DecideUR": return .issueURDecision(try d(URDecisionIssued.self))
        case "NotifyPhysician": return .notifyPhysician(try d(PhysicianNotified.self))
        case "ServeWrittenDecision": return .serveWrittenDecision(try d(WrittenURDecisionServed.self))
        case "ReceiveIMRApplication": return .receiveIMRApplication(try d(IMRApplicationReceived.self))
        case "RequestEligibilityInformation":
            return .requestEligibilityInformation(try d(IMREligibilityInformationRequested.self))
        case "SendEligibilityInformation": return .sendEligibilityInformation(try d(IMREligibilityInformationSent.self))
        case "FindEligible": return .findEligible(try d(IMREligibilityFound.self))
        case "FindIneligible": return .findIneligible(try d(IMRFoundIneligible.self))
        case "AssignIMR": return .assignIMR(try d(IMRAssigned.self))
        case "ReceiveRecords": return .receiveRecords(try d(IMRRecordsReceived.self))
        case "RecordDetermination": return .issueDetermination(try d(IMRDeterminationIssued.self))
        case "RecordImplementation": return .implementDetermination(try d(DeterminationImplemented.self))
        case "FileAppeal": return .fileAppeal(try d(WCABAppealFiled.self))
        case "ResolveAppeal": return .resolveAppeal(try d(WCABAppealResolved.self))
        case "Withdraw": return .withdraw(try d(CaseWithdrawn.self))
        case "Close": return .close(try d(CaseClosed.self))
        case "Reassign": return .reassignCoordinator(to: try d(Reassign.self).coordinator)
        case "AddNote": return .addNote(try d(Note.self).text)
        case "Correct":
            let c = try d(Correction.self)
            var eventId: UUID?
            if let text = c.eventId {
                guard let id = UUID(uuidString: text) else {
                    throw VarlinkError(
                        "io.imr.Cases.InvalidValue",
                        parameters: ["parameter": "eventId", "message": .string("'\(text)' is not a UUID")]
                    )
                }
                eventId = id
            }
            return .correct(
                CorrectEvent(version: c.version, eventId: eventId, field: c.field, value: c.value, reason: c.reason)
            )
        default:
            throw VarlinkError.methodNotImplemented(call.method)
        }
    }
}

/// What every recording method answers, under `recorded`.
package struct RecordedReply: Codable, Sendable, Equatable {
    package var caseId: String
    /// The case's stream version after the command.
    package var version: Int64
    /// The log positions of the events it recorded.
    package var positions: [Int64]
    /// Their types, e.g. `RFAReceived`.
    package var events: [String]
    /// True when the command id was recorded before: nothing new was written.
    package var alreadyRecorded: Bool

    package enum CodingKeys: String, CodingKey, CaseIterable {
        case caseId, version, positions, events, alreadyRecorded
    }

    package init(caseId: String, version: Int64, positions: [Int64], events: [String], alreadyRecorded: Bool) {
        self.caseId = caseId
        self.version = version
        self.positions = positions
        self.events = events
        self.alreadyRecorded = alreadyRecorded
    }

    /// The reply as the Codable encoder would write it, built directly (it is sent for every
    /// command; a test holds the two equal).
    package var json: JSONValue {
        .object([
            CodingKeys.caseId.stringValue: .string(caseId),
            CodingKeys.version.stringValue: .int(version),
            CodingKeys.positions.stringValue: .array(positions.map { .int($0) }),
            CodingKeys.events.stringValue: .array(events.map { .string($0) }),
            CodingKeys.alreadyRecorded.stringValue: .bool(alreadyRecorded),
        ])
    }
}
