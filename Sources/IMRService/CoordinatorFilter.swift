import Varlink
import Workflow

/// A coordinator given to a list, a digest or a feed: checked as a recorded one is
/// (``CommandValues/coordinator(_:field:)``: 1 to 64 ASCII letters, digits and `. _ - @`), so a
/// name no case can have is an `InvalidValue` saying what a name is, not an empty answer, and
/// no unbounded text reaches a query.
package enum CoordinatorFilter {
    /// `text` when it is a coordinator's name (nil stays nil); else `errorName` (the interface's
    /// `InvalidValue`) naming the parameter.
    package static func checked(_ text: String?, errorName: String) throws -> String? {
        guard let text else { return nil }
        do {
            try CommandValues.coordinator(text)
        } catch {
            throw VarlinkError(
                errorName,
                parameters: ["parameter": .string(error.field), "message": .string(error.message)]
            )
        }
        return text
    }
}
