/// A Varlink interface: its description text, served verbatim, and what the server needs
/// to know of it (its name, methods and errors).
package struct VarlinkInterface: Sendable, Hashable {
    package let name: String
    package let description: String
    package let methods: Set<String>
    package let errors: Set<String>

    /// Reads the `interface` line and the `method` and `error` names of an interface
    /// description. Throws when the text has no interface line.
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
