/// A Varlink interface: its description text, served verbatim, and what the server needs
/// to know of it (its name, methods and errors).
package struct VarlinkInterface: Sendable, Hashable {
    package let name: String
    package let description: String
    package let methods: Set<String>
    package let errors: Set<String>
    /// Each method's input parameter names, as declared: a call naming any other is refused
    /// (`org.varlink.service.InvalidParameter`), so a misspelt or misplaced filter never passes
    /// unnoticed as no filter at all.
    package let parameters: [String: Set<String>]

    /// Reads the `interface` line, the `method` and `error` names and each method's input
    /// parameter names of an interface description. Throws when the text has no interface line.
    package init(description: String) throws(VarlinkError) {
        var name: String?
        var methods: Set<String> = []
        var errors: Set<String> = []
        for raw in description.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") { continue }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "(" })
            guard words.count >= 2 else { continue }
            switch words[0] {
            case "interface": name = String(words[1])
            case "method": methods.insert(String(words[1]))
            case "error": errors.insert(String(words[1]))
            default: continue
            }
        }
        guard let name else {
            throw VarlinkError(
                "org.varlink.service.InvalidParameter",
                parameters: ["parameter": .string("description")]
            )
        }
        self.name = name
        self.description = description
        self.methods = methods
        self.errors = errors
        self.parameters = Self.inputParameters(of: description)
    }

    /// The top-level field names of each method's input struct: `method Name(a: int,
    /// b: ?(c: string)) -> (...)` gives `Name: [a, b]`. Comments (`#` to the end of a line) are
    /// dropped; a declaration may span lines.
    static func inputParameters(of description: String) -> [String: Set<String>] {
        let code = Array(
            description.split(separator: "\n", omittingEmptySubsequences: false)
                .map { $0.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "" }
                .joined(separator: " ")
        )
        var result: [String: Set<String>] = [:]
        var i = 0
        func isWordCharacter(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" }
        while i < code.count {
            // "method" as a whole word, then the name, then "(".
            guard code[i] == "m", i + 6 <= code.count, String(code[i..<i + 6]) == "method",
                i == 0 || !isWordCharacter(code[i - 1]), i + 6 < code.count, code[i + 6] == " " || code[i + 6] == "\t"
            else {
                i += 1
                continue
            }
            var j = i + 6
            while j < code.count, code[j] == " " || code[j] == "\t" { j += 1 }
            let nameStart = j
            while j < code.count, isWordCharacter(code[j]) { j += 1 }
            let name = String(code[nameStart..<j])
            while j < code.count, code[j] == " " || code[j] == "\t" { j += 1 }
            guard !name.isEmpty, j < code.count, code[j] == "(" else {
                i = j
                continue
            }
            // The names before a colon at depth 1 of the parentheses.
            var depth = 0
            var fields: Set<String> = []
            var field = ""
            var atName = true
            while j < code.count {
                let c = code[j]
                j += 1
                if c == "(" {
                    depth += 1
                    if depth == 1 { (field, atName) = ("", true) }
                } else if c == ")" {
                    depth -= 1
                    if depth == 0 { break }
                } else if depth == 1 {
                    if c == "," {
                        (field, atName) = ("", true)
                    } else if c == ":", atName {
                        let trimmed = Substring(field).trimmingCharacters(in: .whitespaces)
                        if !trimmed.isEmpty { fields.insert(trimmed) }
                        atName = false
                    } else if atName {
                        field.append(c)
                    }
                }
            }
            result[name] = fields
            i = j
        }
        return result
    }
}

extension VarlinkInterface {
    /// `org.varlink.service`, as the Varlink specification defines it.
    package static let service = try! VarlinkInterface(
        description: """
            # The Varlink Service Interface is provided by every varlink service. It
            # describes the service and the interfaces it implements.
            interface org.varlink.service

            # Get a list of all the interfaces a service provides and information
            # about the implementation.
            method GetInfo() -> (
              vendor: string,
              product: string,
              version: string,
              url: string,
              interfaces: []string
            )

            # Get the description of an interface that is implemented by this service.
            method GetInterfaceDescription(interface: string) -> (description: string)

            # The requested interface was not found.
            error InterfaceNotFound (interface: string)

            # The requested method was not found
            error MethodNotFound (method: string)

            # The interface defines the requested method, but the service does not
            # implement it.
            error MethodNotImplemented (method: string)

            # One of the passed parameters is invalid.
            error InvalidParameter (parameter: string)

            # Client is denied access
            error PermissionDenied ()

            # Method is expected to be called with 'more' set to true, but wasn't
            error ExpectedMore ()

            """
    )
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        var s = self
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}

extension Set where Element == Character {
    fileprivate static let whitespaces: Set<Character> = [" ", "\t", "\r"]
}
