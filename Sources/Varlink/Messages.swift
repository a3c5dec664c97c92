import Foundation

/// A Varlink method call as sent by a client.
package struct VarlinkCall: Sendable, Hashable, Codable {
    /// Fully qualified: `interface.Method`, e.g. `io.imr.Cases.Open`.
    package var method: String
    package var parameters: [String: JSONValue]?
    /// The client wants no reply.
    package var oneway: Bool?
    /// The client accepts several replies (`continues: true` on all but the last).
    package var more: Bool?
    package var upgrade: Bool?

    package init(method: String, parameters: [String: JSONValue]? = nil, oneway: Bool? = nil, more: Bool? = nil) {
        self.method = method
        self.parameters = parameters
        self.oneway = oneway
        self.more = more
    }

    /// The interface part of the method name.
    package var interface: String {
        guard let dot = method.lastIndex(of: ".") else { return "" }
        return String(method[..<dot])
    }

    /// The member part of the method name.
    package var member: String {
        guard let dot = method.lastIndex(of: ".") else { return method }
        return String(method[method.index(after: dot)...])
    }

    /// Decodes the parameters as `T`; a failure names the offending parameter.
    package func decodeParameters<T: Decodable>(_ type: T.Type) throws(VarlinkError) -> T {
        do {
            return try JSONValue.object(parameters ?? [:]).decode(T.self)
        } catch let error as DecodingError {
            throw VarlinkError.invalidParameter(Self.parameterName(of: error))
        } catch {
            throw VarlinkError.invalidParameter("parameters")
        }
    }

    package static func parameterName(of error: DecodingError) -> String {
        func name(_ path: [CodingKey], _ key: CodingKey? = nil) -> String {
            let keys = path + (key.map { [$0] } ?? [])
            let parts = keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return parts.isEmpty ? "parameters" : parts.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context): return name(context.codingPath, key)
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return name(context.codingPath)
        @unknown default: return "parameters"
        }
    }
}

/// A reply: parameters, or an error with parameters.
package struct VarlinkReply: Sendable, Hashable, Codable {
    package var parameters: [String: JSONValue]?
    package var continues: Bool?
    package var error: String?

    package init(parameters: [String: JSONValue]? = nil, continues: Bool? = nil, error: String? = nil) {
        self.parameters = parameters
        self.continues = continues
        self.error = error
    }
}

/// A Varlink error reply, thrown by handlers and by the client.
package struct VarlinkError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Fully qualified error name, e.g. `io.imr.Cases.CaseNotFound`.
    package var name: String
    package var parameters: [String: JSONValue]

    package init(_ name: String, parameters: [String: JSONValue] = [:]) {
        self.name = name
        self.parameters = parameters
    }

    /// An error whose parameters are an `Encodable` value.
    package init<P: Encodable>(_ name: String, _ parameters: P) {
        self.name = name
        self.parameters = (try? JSONValue.from(parameters).objectValue) ?? [:]
    }

    package var description: String {
        if let message = parameters["message"]?.stringValue { return "\(name): \(message)" }
        let detail = parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.compactDescription)" }.joined(
            separator: ", "
        )
        return detail.isEmpty ? name : "\(name) (\(detail))"
    }

    package static func interfaceNotFound(_ interface: String) -> VarlinkError {
        VarlinkError("org.varlink.service.InterfaceNotFound", parameters: ["interface": .string(interface)])
    }
    package static func methodNotFound(_ method: String) -> VarlinkError {
        VarlinkError("org.varlink.service.MethodNotFound", parameters: ["method": .string(method)])
    }
    package static func methodNotImplemented(_ method: String) -> VarlinkError {
        VarlinkError("org.varlink.service.MethodNotImplemented", parameters: ["method": .string(method)])
    }
    package static func invalidParameter(_ parameter: String) -> VarlinkError {
        VarlinkError("org.varlink.service.InvalidParameter", parameters: ["parameter": .string(parameter)])
    }
    package static let permissionDenied = VarlinkError("org.varlink.service.PermissionDenied")
    package static let expectedMore = VarlinkError("org.varlink.service.ExpectedMore")
}

extension JSONValue {
    var compactDescription: String {
        switch self {
        case .string(let s): return s
        default:
            let data = (try? JSONCoding.encoder.encode(self)) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
    }
}
