/// Small value types shared by the case model, the deadline rules and the letter parser.
/// Raw values are the product's wire and command-line spellings: do not rename them.

/// How an RFA reached the claims administrator.
public enum Transmission: String, Codable, Sendable, CaseIterable {
    case fax, email, mail
}

/// How a document (a written UR decision, a determination, a notice) was served or sent.
public enum ServiceMethod: String, Codable, Sendable, CaseIterable {
    case mail, fax, email, electronic, personal
}

/// Where the recipient of a mailed document is, for the CCP 1013(a) extension.
public enum ServiceDestination: String, Codable, Sendable, CaseIterable {
    /// Both addresses in California: +5 calendar days by mail.
    case california
    /// Elsewhere in the United States: +10.
    case otherState = "other-state"
    /// Outside the United States: +20.
    case outsideUnitedStates = "outside-us"
}

/// The kind of utilization review an RFA asks for.
public enum ReviewType: String, Codable, Sendable, CaseIterable {
    case prospective, concurrent, retrospective
}

/// IMR priority as the IMRO's letter states it.
public enum IMRPriority: String, Codable, Sendable, CaseIterable {
    case standard, expedited
}

/// A utilization review outcome for one item.
public enum URItemOutcome: String, Codable, Sendable, CaseIterable {
    case approved, modified, denied
}

/// An IMR outcome for one item.
public enum IMRItemDecision: String, Codable, Sendable, CaseIterable {
    /// The UR denial stands.
    case upheld
    /// The treatment is medically necessary.
    case overturned
}
