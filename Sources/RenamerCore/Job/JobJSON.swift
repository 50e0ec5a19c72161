import Foundation

/// The JSON encoder for everything the daemon sends: API bodies and callback events.
/// Keys are sorted so bodies are stable byte for byte; slashes are not escaped.
public enum JobJSON {
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        Array(try encoder.encode(value))
    }
}
