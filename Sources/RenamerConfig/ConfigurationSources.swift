import Foundation

/// Where configuration comes from, lowest precedence first: built-in defaults, the file,
/// `RENAMER_*` environment variables, then command-line overrides.
public struct ConfigurationSources: Sendable {
    /// The config file (YAML or JSON); when nil, `RENAMER_CONFIG` from ``environment`` is used.
    public var filePath: String?
    /// The whole process environment: `RENAMER_*` variables override keys, and `url_env` /
    /// `CLOUDINARY_URL` are read from it.
    public var environment: [String: String]
    /// Command-line overrides as dotted key → value (`http.port` → `9090`); lists comma-separated.
    public var overrides: [String: String]

    public init(filePath: String? = nil, environment: [String: String] = [:], overrides: [String: String] = [:]) {
        self.filePath = filePath
        self.environment = environment
        self.overrides = overrides
    }

    /// Sources for this process: its environment plus the given file and overrides.
    public static func process(filePath: String?, overrides: [String: String] = [:]) -> ConfigurationSources {
        ConfigurationSources(filePath: filePath, environment: ProcessInfo.processInfo.environment, overrides: overrides)
    }

    /// Prefix of environment variables that set configuration keys.
    public static let environmentPrefix = "RENAMER_"

    /// The file to read: the explicit path, else `RENAMER_CONFIG`.
    var resolvedFilePath: String? {
        if let filePath, !filePath.isEmpty { return filePath }
        if let path = environment["RENAMER_CONFIG"], !path.isEmpty { return path }
        return nil
    }

    /// `RENAMER_HTTP_PORT=1` → `HTTP_PORT=1`, the form swift-configuration's environment provider reads.
    var prefixedEnvironment: [String: String] {
        var result: [String: String] = [:]
        for (name, value) in environment where name.hasPrefix(Self.environmentPrefix) && name != "RENAMER_CONFIG" {
            result[String(name.dropFirst(Self.environmentPrefix.count))] = value
        }
        return result
    }
}
