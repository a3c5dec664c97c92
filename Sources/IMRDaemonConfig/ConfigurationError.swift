/// Why a configuration file cannot be used: the file, and for each problem the key and the
/// reason, as sentences an operator can act on. The daemon refuses to start (or, on SIGHUP,
/// keeps its old settings) and logs ``description``.
package struct ConfigurationError: Error, CustomStringConvertible, Sendable, Hashable {
    /// One thing wrong with the file.
    package struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// The dotted key (`access.readers`), or `nil` for the file as a whole.
        package let key: String?
        /// What is wrong and what to do: "key 'x' is unknown (known keys: ...)".
        package let message: String

        package init(key: String?, message: String) {
            self.key = key
            self.message = message
        }

        package var description: String { message }
    }

    /// The configuration file's path.
    package let path: String
    /// Every problem found, in key order; never empty.
    package let problems: [Problem]

    package init(path: String, problems: [Problem]) {
        precondition(!problems.isEmpty, "a ConfigurationError needs at least one problem")
        self.path = path
        self.problems = problems
    }

    /// One line per problem: `<path>: <message>`.
    package var description: String {
        problems.map { "\(path): \($0.message)" }.joined(separator: "\n")
    }
}
