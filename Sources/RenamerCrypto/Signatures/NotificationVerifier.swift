/// Which notification signature algorithms a cloud accepts.
public enum NotificationSignaturePolicy: String, Sendable, CaseIterable {
    /// SHA-1 (40 hex) or SHA-256 (64 hex).
    case any
    /// SHA-256 only.
    case sha256
}

/// Why a Cloudinary notification was refused.
public enum NotificationVerificationError: Error, Sendable, Equatable, CustomStringConvertible {
    case missingSignature
    case missingTimestamp
    case malformedSignature
    case malformedTimestamp
    case algorithmNotAllowed
    case staleTimestamp
    case futureTimestamp
    case signatureMismatch

    public var description: String {
        switch self {
        case .missingSignature: "X-Cld-Signature header is missing"
        case .missingTimestamp: "X-Cld-Timestamp header is missing"
        case .malformedSignature: "X-Cld-Signature must be 40 or 64 lowercase hex characters"
        case .malformedTimestamp: "X-Cld-Timestamp must be an integer number of seconds"
        case .algorithmNotAllowed: "this cloud accepts SHA-256 notification signatures only"
        case .staleTimestamp: "X-Cld-Timestamp is too old"
        case .futureTimestamp: "X-Cld-Timestamp is too far in the future"
        case .signatureMismatch: "X-Cld-Signature does not match the body"
        }
    }
}

/// Signs and verifies Cloudinary notifications (SPEC §4): `X-Cld-Signature` is the lowercase hex
/// SHA-1 or SHA-256 of the raw body bytes, then `X-Cld-Timestamp`, then the API secret.
public struct NotificationVerifier: Sendable {
    /// How far ahead of our clock a timestamp may be.
    public static let allowedFutureSkewSeconds: Int64 = 300

    public let policy: NotificationSignaturePolicy
    public let maxAgeSeconds: Double
    private let apiSecret: String

    public init(apiSecret: String, policy: NotificationSignaturePolicy = .any, maxAgeSeconds: Double = 7200) {
        self.apiSecret = apiSecret
        self.policy = policy
        self.maxAgeSeconds = maxAgeSeconds
    }

    /// The signature Cloudinary would send for `body` at `timestamp`.
    public func signature(body: some Collection<UInt8>, timestamp: String, algorithm: DigestAlgorithm) -> String {
        Hex.encode(digest(body: body, timestamp: timestamp, algorithm: algorithm))
    }

    /// Checks headers and body; returns the timestamp in seconds when the notification is authentic and fresh.
    ///
    /// - Parameters:
    ///   - body: The raw body bytes exactly as received.
    ///   - timestamp: The `X-Cld-Timestamp` header.
    ///   - signature: The `X-Cld-Signature` header.
    ///   - now: Current time in seconds since 1970.
    @discardableResult
    public func verify(
        body: some Collection<UInt8>,
        timestamp: String?,
        signature: String?,
        now: Double
    ) throws(NotificationVerificationError) -> Int64 {
        guard let signature else { throw .missingSignature }
        guard let timestamp else { throw .missingTimestamp }
        guard let algorithm = DigestAlgorithm(hexCount: signature.utf8.count),
            let expected = Hex.decodeLowercase(signature)
        else { throw .malformedSignature }
        if policy == .sha256 && algorithm != .sha256 { throw .algorithmNotAllowed }
        guard let seconds = Self.parseSeconds(timestamp) else { throw .malformedTimestamp }
        // Authenticity first, so that a forger learns nothing from the age checks.
        guard ConstantTime.equals(digest(body: body, timestamp: timestamp, algorithm: algorithm), expected) else {
            throw .signatureMismatch
        }
        if Double(seconds) > now + Double(Self.allowedFutureSkewSeconds) { throw .futureTimestamp }
        if now - Double(seconds) > maxAgeSeconds { throw .staleTimestamp }
        return seconds
    }

    private func digest(body: some Collection<UInt8>, timestamp: String, algorithm: DigestAlgorithm) -> [UInt8] {
        var hasher = Digest.Hasher(algorithm)
        hasher.update(body)
        hasher.update(timestamp)
        hasher.update(apiSecret)
        return hasher.finalize()
    }

    /// Digits only, at most 12 of them (year 33658): no sign, no fraction, no whitespace.
    static func parseSeconds(_ text: String) -> Int64? {
        guard (1...12).contains(text.utf8.count),
            text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return Int64(text)
    }
}
