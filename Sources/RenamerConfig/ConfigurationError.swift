/// A configuration problem, reported as one line that names the key: `http.port: must be 0…65535 (got 70000)`.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The dotted key path, e.g. `clients.catalog.token_sha256`.
    public let key: String
    /// What is wrong with it.
    public let problem: String

    public init(_ key: String, _ problem: String) {
        self.key = key
        self.problem = problem
    }

    public var description: String { "\(key): \(problem)" }
}
