import Configuration
import Foundation

/// Typed, strict reads over a swift-configuration `ConfigReader`.
///
/// `ConfigReader`'s non-throwing getters fall back to the default when a value does not convert
/// (`port: eighty` would silently become 8080). Every value is therefore read as a string or a
/// string list and converted here, so that a bad value is an error naming its key.
struct ConfigValues {
    let reader: ConfigReader

    /// The raw scalar at `key`; an error when the key holds a list.
    func string(_ key: String) throws(ConfigurationError) -> String? {
        let configKey = ConfigKey(key.split(separator: ".").map(String.init))
        if let value = reader.string(forKey: configKey, isSecret: true) {
            return value
        }
        if reader.stringArray(forKey: configKey, isSecret: true) != nil {
            throw ConfigurationError(key, "must be a single value, not a list")
        }
        return nil
    }

    /// A list: a YAML sequence, or a comma-separated string from the environment or a flag.
    func stringArray(_ key: String) throws(ConfigurationError) -> [String]? {
        let configKey = ConfigKey(key.split(separator: ".").map(String.init))
        if let values = reader.stringArray(forKey: configKey, isSecret: true) {
            return values.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        guard let text = reader.string(forKey: configKey, isSecret: true) else { return nil }
        return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let text = try string(key) else { return nil }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw ConfigurationError(key, "must be an integer (got \(Self.quoted(text)))")
        }
        guard range.contains(value) else {
            throw ConfigurationError(key, "must be \(range.lowerBound)…\(range.upperBound) (got \(value))")
        }
        return value
    }

    /// Seconds or another real number; `inclusiveMinimum` false means strictly greater.
    func double(
        _ key: String,
        minimum: Double,
        inclusiveMinimum: Bool = false,
        maximum: Double = 1e9
    )
        throws(ConfigurationError) -> Double?
    {
        guard let text = try string(key) else { return nil }
        return try Self.number(text, key: key, minimum: minimum, inclusiveMinimum: inclusiveMinimum, maximum: maximum)
    }

    func doubleArray(_ key: String, minimum: Double, maximum: Double = 1e9) throws(ConfigurationError) -> [Double]? {
        guard let items = try stringArray(key) else { return nil }
        var values: [Double] = []
        for item in items {
            values.append(try Self.number(item, key: key, minimum: minimum, inclusiveMinimum: true, maximum: maximum))
        }
        return values
    }

    func choice<Value: RawRepresentable & CaseIterable>(
        _ key: String,
        as type: Value.Type
    ) throws(ConfigurationError)
        -> Value? where Value.RawValue == String
    {
        guard let text = try string(key) else { return nil }
        guard let value = Value(rawValue: text.trimmingCharacters(in: .whitespaces)) else {
            let allowed = Value.allCases.map(\.rawValue).joined(separator: " | ")
            throw ConfigurationError(key, "must be one of \(allowed) (got \(Self.quoted(text)))")
        }
        return value
    }

    /// A secret given inline at `key` or read from the file named at `key_file` (trailing newline dropped).
    ///
    /// A non-empty inline value wins when both are set; an empty one counts as unset, so that an
    /// environment variable can clear a file's inline secret in favour of `_file`.
    func secret(_ key: String) throws(ConfigurationError) -> String? {
        if let value = try string(key), !value.isEmpty { return value }
        guard let path = try string(key + "_file") else { return nil }
        return try Self.readSecretFile(path, key: key + "_file")
    }

    /// A list secret: inline at `key`, or one entry per line of the file at `key_file`.
    func secretArray(_ key: String) throws(ConfigurationError) -> [String]? {
        if let values = try stringArray(key) { return values }
        guard let path = try string(key + "_file") else { return nil }
        return try Self.readSecretFile(path, key: key + "_file")
            .split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }

    static func readSecretFile(_ path: String, key: String) throws(ConfigurationError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(key, "cannot read file \(path)")
        }
        guard data.count <= 1 << 20 else { throw ConfigurationError(key, "file \(path) is larger than 1 MiB") }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(key, "file \(path) is not UTF-8 text")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw ConfigurationError(key, "file \(path) is empty") }
        return trimmed
    }

    private static func number(
        _ text: String,
        key: String,
        minimum: Double,
        inclusiveMinimum: Bool,
        maximum: Double
    )
        throws(ConfigurationError) -> Double
    {
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite else {
            throw ConfigurationError(key, "must be a number (got \(quoted(text)))")
        }
        let aboveMinimum = inclusiveMinimum ? value >= minimum : value > minimum
        guard aboveMinimum, value <= maximum else {
            let lower = inclusiveMinimum ? "at least \(format(minimum))" : "greater than \(format(minimum))"
            throw ConfigurationError(key, "must be \(lower) and at most \(format(maximum)) (got \(format(value)))")
        }
        return value
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// Short, single-line rendering of a bad value for an error message.
    static func quoted(_ text: String) -> String {
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        return "\"" + (line.count > 40 ? String(line.prefix(40)) + "…" : line) + "\""
    }
}
