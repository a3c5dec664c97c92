import Foundation
import Workflow

/// io.imr.Deadlines.ForCase's reply: every deadline of one case (`Deadline` in the interface
/// file), as `CaseDeadline` encodes it.
package struct DeadlinesOfCase: Codable, Sendable, Equatable {
    package var deadlines: [CaseDeadline]
    package init(deadlines: [CaseDeadline]) { self.deadlines = deadlines }
}
