import Foundation

/// Why a Standard Webhooks message was refused.
public enum WebhookVerificationError: Error, Sendable, Equatable, CustomStringConvertible {
    case missingHeaders
    case malformedTimestamp
    case timestampTooOld
    case timestampTooNew
    case noMatchingSignature

    public var description: String {
        switch self {
        case .missingHeaders: "webhook-id, webhook-timestamp or webhook-signature is missing"
        case .malformedTimestamp: "webhook-timestamp must be integer seconds"
        case .timestampTooOld: "webhook-timestamp is too old"
        case .timestampTooNew: "webhook-timestamp is too far in the future"
        case .noMatchingSignature: "no webhook-signature entry matches"
        }
    }
}

/// Standard Webhooks signing and verification (SPEC §6).
///
/// The signed content is `{webhook-id}.{webhook-timestamp}.{body}`; each signature is `v1,` plus the
/// base64 HMAC-SHA256 of it under one secret's key. Several secrets sign at once during rotation,
/// their entries separated by spaces, the first secret's first.
public struct StandardWebhooks: Sendable {
    /// How far a timestamp may be from our clock, either way, when verifying.
    public static let toleranceSeconds: Int64 = 300

    public let secrets: [WebhookSecret]

    /// - Parameter secrets: Active secrets; at least one.
    public init(secrets: [WebhookSecret]) {
        precondition(!secrets.isEmpty, "Standard Webhooks needs at least one secret")
        self.secrets = secrets
    }

    /// The `webhook-signature` header value: one `v1,<base64>` entry per secret.
    public func signatureHeader(id: String, timestamp: Int64, body: some Collection<UInt8>) -> String {
        let content = Self.signedContent(id: id, timestamp: String(timestamp), body: body)
        return secrets.map { "v1," + Data(HMAC.authenticate(.sha256, key: $0.key, data: content)).base64EncodedString() }
            .joined(separator: " ")
    }

    /// Checks a received message; succeeds when any `v1` entry matches any secret and the timestamp is
    /// within ``toleranceSeconds`` of `now`.
    public func verify(
        id: String?,
        timestamp: String?,
        signatureHeader: String?,
        body: some Collection<UInt8>,
        now: Double
    ) throws(WebhookVerificationError) {
        guard let id, let timestamp, let signatureHeader else { throw .missingHeaders }
        guard (1...12).contains(timestamp.utf8.count),
            timestamp.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let seconds = Int64(timestamp)
        else { throw .malformedTimestamp }
        if Double(seconds) < now - Double(Self.toleranceSeconds) { throw .timestampTooOld }
        if Double(seconds) > now + Double(Self.toleranceSeconds) { throw .timestampTooNew }

        let content = Self.signedContent(id: id, timestamp: timestamp, body: body)
        let expected = secrets.map { HMAC.authenticate(.sha256, key: $0.key, data: content) }
        for entry in signatureHeader.split(separator: " ") {
            guard entry.hasPrefix("v1,"), let received = Data(base64Encoded: String(entry.dropFirst(3))) else {
                continue
            }
            // Every expected MAC is compared, so the time taken does not reveal which secret matched.
            var matched = false
            for mac in expected where ConstantTime.equals(mac, received) { matched = true }
            if matched { return }
        }
        throw .noMatchingSignature
    }

    static func signedContent(id: String, timestamp: String, body: some Collection<UInt8>) -> [UInt8] {
        var content = [UInt8]()
        content.reserveCapacity(id.utf8.count + timestamp.utf8.count + body.count + 2)
        content.append(contentsOf: id.utf8)
        content.append(UInt8(ascii: "."))
        content.append(contentsOf: timestamp.utf8)
        content.append(UInt8(ascii: "."))
        content.append(contentsOf: body)
        return content
    }
}
