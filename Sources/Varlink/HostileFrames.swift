/// Malformed and hostile Varlink messages, for tests and for `imr-bench torture`: each kind is
/// something a server must answer with an error or by closing the connection, and survive.
package enum HostileFrames {
    package enum Kind: String, CaseIterable, Sendable {
        /// Random bytes, NUL-terminated (may hold further NULs: several bad messages).
        case randomBytes
        /// Text that is not JSON.
        case invalidJSON
        /// JSON that is not a call (an array, a number, an object without a method).
        case notACall
        /// Invalid UTF-8 inside a string.
        case invalidUTF8
        /// More than the message size limit with no NUL at all.
        case oversizeUnterminated
        /// Arrays nested `nestingDepth` deep in a parameter.
        case deepNesting
        /// A string parameter nearly as large as the message limit allows.
        case hugeString
        /// A method the interface does not have.
        case unknownMethod
        /// An interface the server does not serve.
        case unknownInterface
        /// The target method with each parameter replaced by a value of another type.
        case wrongParameterTypes
        /// The target method with no parameters.
        case missingParameters
        /// The target method with its parameters and many unknown ones.
        case extraParameters

        /// Whether the server must close the connection after its error (the message is not a call).
        package var closesConnection: Bool {
            switch self {
            case .randomBytes, .invalidJSON, .notACall, .invalidUTF8, .oversizeUnterminated, .deepNesting: true
            case .hugeString, .unknownMethod, .unknownInterface, .wrongParameterTypes, .missingParameters,
                .extraParameters:
                false
            }
        }
    }

    /// A well-formed call the hostile ones are variations of.
    package struct Target: Sendable {
        package var method: String
        package var parameters: [String: JSONValue]

        package init(method: String, parameters: [String: JSONValue]) {
            self.method = method
            self.parameters = parameters
        }
    }

    /// The bytes of one message of `kind`, its NUL included (except `oversizeUnterminated`).
    /// - Parameters:
    ///   - maximumMessageSize: the server's limit (`oversizeUnterminated` exceeds it,
    ///     `hugeString` stays just under it).
    ///   - nestingDepth: how deep `deepNesting` nests (100,000 for the nightly run).
    package static func message<R: RandomNumberGenerator>(
        _ kind: Kind,
        target: Target,
        maximumMessageSize: Int,
        nestingDepth: Int = 100_000,
        using random: inout R
    ) -> [UInt8] {
        func json(_ value: JSONValue) -> [UInt8] {
            Array(((try? JSONCoding.encoder.encode(value)).map { [UInt8]($0) }) ?? Array("{}".utf8))
        }
        func call(_ method: String, _ parameters: [String: JSONValue]) -> [UInt8] {
            json(.object(["method": .string(method), "parameters": .object(parameters)])) + [0]
        }
        let interface = target.method.split(separator: ".").dropLast().joined(separator: ".")
        switch kind {
        case .randomBytes:
            let count = Int.random(in: 1...512, using: &random)
            return (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) } + [0]
        case .invalidJSON:
            let samples = [
                "{not json", "{\"method\":", "{\"method\":\"a.b\",}", "[1,2", "\"unterminated", "{\"a\" 1}", "nul",
                "{'method':'x'}", "]",
            ]
            return Array(samples[Int.random(in: 0..<samples.count, using: &random)].utf8) + [0]
        case .notACall:
            let samples = [
                "[]", "42", "null", "{}", "{\"method\":7}", "{\"method\":\"a.b\",\"parameters\":[]}",
                "{\"method\":\"a.b\",\"more\":\"yes\"}",
            ]
            return Array(samples[Int.random(in: 0..<samples.count, using: &random)].utf8) + [0]
        case .invalidUTF8:
            return Array("{\"method\":\"\(target.method)\",\"parameters\":{\"x\":\"".utf8) + [0xC3, 0x28, 0xFF]
                + Array("\"}}".utf8) + [0]
        case .oversizeUnterminated:
            return [UInt8](repeating: UInt8(ascii: "a"), count: maximumMessageSize + 1024)
        case .deepNesting:
            let prefix = Array("{\"method\":\"\(target.method)\",\"parameters\":{\"x\":".utf8)
            return prefix + [UInt8](repeating: UInt8(ascii: "["), count: nestingDepth)
                + [UInt8](repeating: UInt8(ascii: "]"), count: nestingDepth) + Array("}}".utf8) + [0]
        case .hugeString:
            var parameters = target.parameters
            let key = parameters.keys.sorted().first ?? "x"
            parameters[key] = .string(String(repeating: "x", count: max(maximumMessageSize - 512, 1)))
            return call(target.method, parameters)
        case .unknownMethod:
            return call("\(interface).NoSuchMethod\(UInt16.random(in: 0...999, using: &random))", target.parameters)
        case .unknownInterface:
            return call("org.nowhere.i\(UInt16.random(in: 0...999, using: &random)).Method", target.parameters)
        case .wrongParameterTypes:
            var parameters: [String: JSONValue] = [:]
            for (key, value) in target.parameters {
                switch value {
                case .string:
                    parameters[key] =
                        [.int(1), .bool(true), .array([]), .object([:])][Int.random(in: 0..<4, using: &random)]
                case .int, .double: parameters[key] = .string("seven")
                case .bool: parameters[key] = .int(2)
                case .array: parameters[key] = .object(["a": 1])
                case .object, .raw: parameters[key] = .array([1, 2])
                case .null: parameters[key] = .object([:])
                }
            }
            if parameters.isEmpty { parameters["unexpected"] = .array([.null]) }
            return call(target.method, parameters)
        case .missingParameters:
            return call(target.method, [:])
        case .extraParameters:
            var parameters = target.parameters
            for i in 0..<Int.random(in: 1...200, using: &random) {
                parameters["extra\(i)"] = .array([.int(Int64(i)), .string("x")])
            }
            return call(target.method, parameters)
        }
    }
}

/// A small, fast, seedable generator (Steele, Lea and Flood's SplitMix64): the same seed gives
/// the same hostile messages (and synthetic caseloads), so a failing run can be repeated.
package struct SplitMix64: RandomNumberGenerator, Sendable {
    package var state: UInt64
    package init(seed: UInt64) { state = seed }
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
