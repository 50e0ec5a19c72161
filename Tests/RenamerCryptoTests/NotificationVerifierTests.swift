import Testing

@testable import RenamerCrypto

@Suite("Cloudinary notification verification")
struct NotificationVerifierTests {
    @Test(arguments: try SignatureVectors.load().cloudinary_notification_signatures)
    func vector(_ vector: SignatureVectors.CloudinaryNotification) throws {
        let verifier = NotificationVerifier(apiSecret: vector.api_secret)
        let body = Array(vector.body.utf8)
        let algorithm = try #require(DigestAlgorithm(rawValue: vector.algorithm))
        #expect(verifier.signature(body: body, timestamp: vector.x_cld_timestamp, algorithm: algorithm) == vector.x_cld_signature)
        let now = try #require(Double(vector.x_cld_timestamp)) + 10
        let seconds = try verifier.verify(body: body, timestamp: vector.x_cld_timestamp, signature: vector.x_cld_signature, now: now)
        #expect(String(seconds) == vector.x_cld_timestamp)
    }

    static let secret = "TEST_SECRET_not_real_123"
    static let body = Array(#"{"notification_type":"rename","from_public_id":"a","to_public_id":"b"}"#.utf8)
    static let timestamp = "1735689600"
    static let now = 1_735_689_600.0

    func signed(_ algorithm: DigestAlgorithm = .sha256) -> String {
        NotificationVerifier(apiSecret: Self.secret).signature(body: Self.body, timestamp: Self.timestamp, algorithm: algorithm)
    }

    func failure(
        verifier: NotificationVerifier = NotificationVerifier(apiSecret: secret),
        body: [UInt8] = body,
        timestamp: String? = timestamp,
        signature: String?,
        now: Double = now
    ) -> NotificationVerificationError? {
        do {
            try verifier.verify(body: body, timestamp: timestamp, signature: signature, now: now)
            return nil
        } catch {
            return error
        }
    }

    @Test func acceptsBothAlgorithmsUnderPolicyAny() {
        #expect(failure(signature: signed(.sha1)) == nil)
        #expect(failure(signature: signed(.sha256)) == nil)
    }

    @Test func sha256PolicyRejectsSHA1() {
        let strict = NotificationVerifier(apiSecret: Self.secret, policy: .sha256)
        #expect(failure(verifier: strict, signature: signed(.sha1)) == .algorithmNotAllowed)
        #expect(failure(verifier: strict, signature: signed(.sha256)) == nil)
    }

    @Test func tamperedBodyIsRejected() {
        var tampered = Self.body
        tampered[tampered.count - 3] = UInt8(ascii: "c")
        #expect(failure(body: tampered, signature: signed()) == .signatureMismatch)
        #expect(failure(body: Self.body + [UInt8(ascii: "\n")], signature: signed()) == .signatureMismatch)
    }

    @Test func wrongSecretIsRejected() {
        #expect(failure(verifier: NotificationVerifier(apiSecret: "another"), signature: signed()) == .signatureMismatch)
    }

    @Test func timestampIsPartOfTheSignature() {
        #expect(failure(timestamp: "1735689601", signature: signed(), now: Self.now) == .signatureMismatch)
    }

    @Test func uppercaseHexIsMalformed() {
        #expect(failure(signature: signed().uppercased()) == .malformedSignature)
    }

    @Test(arguments: ["", "abc", String(repeating: "a", count: 41), String(repeating: "g", count: 40), "sha256=" + String(repeating: "a", count: 64)])
    func malformedSignatures(_ signature: String) {
        #expect(failure(signature: signature) == .malformedSignature)
    }

    @Test(arguments: ["", "-1", "1735689600.5", " 1735689600", "1e9", "17356896000000"])
    func malformedTimestamps(_ timestamp: String) {
        #expect(failure(timestamp: timestamp, signature: signed()) == .malformedTimestamp)
    }

    @Test func missingHeaders() {
        #expect(failure(signature: nil) == .missingSignature)
        #expect(failure(timestamp: nil, signature: signed()) == .missingTimestamp)
    }

    @Test func staleTimestampIsRejected() {
        #expect(failure(signature: signed(), now: Self.now + 7200) == nil)
        #expect(failure(signature: signed(), now: Self.now + 7201) == .staleTimestamp)
        let short = NotificationVerifier(apiSecret: Self.secret, maxAgeSeconds: 60)
        #expect(failure(verifier: short, signature: signed(), now: Self.now + 61) == .staleTimestamp)
    }

    @Test func futureTimestampIsRejected() {
        #expect(failure(signature: signed(), now: Self.now - 300) == nil)
        #expect(failure(signature: signed(), now: Self.now - 301) == .futureTimestamp)
    }
}
