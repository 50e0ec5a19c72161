import Foundation
import Testing

@testable import RenamerCrypto

@Suite("Standard Webhooks")
struct StandardWebhooksTests {
    @Test(arguments: try SignatureVectors.load().standard_webhooks_signatures)
    func vector(_ vector: SignatureVectors.StandardWebhook) throws {
        let secrets = try vector.allSecrets.map { try #require(WebhookSecret($0)) }
        let webhooks = StandardWebhooks(secrets: secrets)
        let timestamp = try #require(Int64(vector.webhook_timestamp))
        let body = Array(vector.body.utf8)
        #expect(webhooks.signatureHeader(id: vector.webhook_id, timestamp: timestamp, body: body) == vector.webhook_signature)
        try webhooks.verify(
            id: vector.webhook_id,
            timestamp: vector.webhook_timestamp,
            signatureHeader: vector.webhook_signature,
            body: body,
            now: Double(timestamp)
        )
        // Every single secret verifies the rotated header on its own.
        for secret in secrets {
            try StandardWebhooks(secrets: [secret]).verify(
                id: vector.webhook_id,
                timestamp: vector.webhook_timestamp,
                signatureHeader: vector.webhook_signature,
                body: body,
                now: Double(timestamp)
            )
        }
    }

    @Test func secretParsing() throws {
        #expect(WebhookSecret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == nil)
        #expect(WebhookSecret("whsec_not*base64") == nil)
        #expect(WebhookSecret("whsec_") == nil)
        let generated = WebhookSecret.generate()
        #expect(WebhookSecret(generated.encoded) == generated)
        #expect(!"\(generated)".contains(generated.encoded))
    }

    static let secret = WebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")!
    static let body = Array(#"{"test": 2432232314}"#.utf8)
    static let now = 1_614_265_330.0

    func failure(
        secrets: [WebhookSecret] = [secret],
        id: String? = "msg_1",
        timestamp: String? = "1614265330",
        header: String? = nil,
        body: [UInt8] = body,
        now: Double = now
    ) -> WebhookVerificationError? {
        let signer = StandardWebhooks(secrets: [Self.secret])
        let header = header ?? signer.signatureHeader(id: "msg_1", timestamp: 1_614_265_330, body: Self.body)
        do {
            try StandardWebhooks(secrets: secrets).verify(id: id, timestamp: timestamp, signatureHeader: header, body: body, now: now)
            return nil
        } catch {
            return error
        }
    }

    @Test func goodMessageVerifies() {
        #expect(failure() == nil)
    }

    @Test func tamperedBodyOrIdFails() {
        #expect(failure(body: Array(#"{"test": 2432232315}"#.utf8)) == .noMatchingSignature)
        #expect(failure(id: "msg_2") == .noMatchingSignature)
    }

    @Test func wrongSecretFails() {
        #expect(failure(secrets: [.generate()]) == .noMatchingSignature)
    }

    @Test func toleranceIsThreeHundredSeconds() {
        #expect(failure(now: Self.now + 300) == nil)
        #expect(failure(now: Self.now + 301) == .timestampTooOld)
        #expect(failure(now: Self.now - 300) == nil)
        #expect(failure(now: Self.now - 301) == .timestampTooNew)
    }

    @Test(arguments: ["1614265330.0", "", "abc", "-5", "1.6e9"])
    func nonIntegerTimestampsAreRejected(_ timestamp: String) {
        #expect(failure(timestamp: timestamp) == .malformedTimestamp)
    }

    @Test(arguments: ["", "v1", "v1,", "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "v1,!!!notbase64", "garbage garbage"])
    func malformedSignatureHeadersFail(_ header: String) {
        #expect(failure(header: header) == .noMatchingSignature)
    }

    @Test func missingHeadersFail() {
        #expect(failure(id: nil) == .missingHeaders)
        #expect(failure(timestamp: nil) == .missingHeaders)
    }
}
