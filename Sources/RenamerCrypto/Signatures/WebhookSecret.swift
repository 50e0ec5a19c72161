import Foundation

/// A Standard Webhooks signing secret: `whsec_` followed by the base64 of the key bytes.
public struct WebhookSecret: Sendable, Equatable, CustomStringConvertible {
    public static let prefix = "whsec_"

    /// The HMAC key (the base64-decoded part).
    public let key: [UInt8]

    /// Parses `whsec_<base64>`; nil when the prefix is missing, the base64 is invalid or the key is empty.
    public init?(_ text: String) {
        guard text.hasPrefix(Self.prefix),
            let data = Data(base64Encoded: String(text.dropFirst(Self.prefix.count))),
            !data.isEmpty
        else { return nil }
        self.key = Array(data)
    }

    public init(key: [UInt8]) {
        self.key = key
    }

    /// A new random 32-byte secret.
    public static func generate() -> WebhookSecret {
        WebhookSecret(key: SecureRandom.bytes(count: 32))
    }

    /// The `whsec_…` form. Treat it as a secret.
    public var encoded: String { Self.prefix + Data(key).base64EncodedString() }

    public var description: String { "whsec_<redacted>" }
}
