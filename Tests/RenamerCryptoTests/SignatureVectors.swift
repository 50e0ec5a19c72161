import Foundation

/// `Fixtures/signatures.json`: vectors computed with Cloudinary's Python SDK and the
/// `standardwebhooks` library (copied from `shared/vectors/signatures.json`).
struct SignatureVectors: Decodable {
    struct CloudinaryRequest: Decodable, Sendable, CustomStringConvertible {
        let name: String
        let params: [String: String]
        let api_secret: String
        let algorithm: String
        let signature_version: Int
        let string_to_sign: String
        let signature: String
        var description: String { name }
    }

    struct CloudinaryNotification: Decodable, Sendable, CustomStringConvertible {
        let name: String
        let body: String
        let x_cld_timestamp: String
        let api_secret: String
        let algorithm: String
        let x_cld_signature: String
        var description: String { name }
    }

    struct StandardWebhook: Decodable, Sendable, CustomStringConvertible {
        let name: String
        let secret: String?
        let secrets: [String]?
        let webhook_id: String
        let webhook_timestamp: String
        let body: String
        let webhook_signature: String
        var description: String { name }
        var allSecrets: [String] { secrets ?? [secret].compactMap { $0 } }
    }

    struct KeyedVector: Decodable, Sendable {
        let key: String
        let data: String
        let hex: String
    }

    struct Primitives: Decodable, Sendable {
        let hmac_sha256_rfc4231_case2: KeyedVector
        let hmac_sha1_rfc2202_case2: KeyedVector
        let sha1_abc: String
        let sha256_abc: String
    }

    let cloudinary_request_signatures: [CloudinaryRequest]
    let cloudinary_notification_signatures: [CloudinaryNotification]
    let standard_webhooks_signatures: [StandardWebhook]
    let primitives: Primitives

    static func load() throws -> SignatureVectors {
        guard let url = Bundle.module.url(forResource: "signatures", withExtension: "json", subdirectory: "Fixtures") else {
            throw CocoaError(.fileNoSuchFile)
        }
        return try JSONDecoder().decode(SignatureVectors.self, from: Data(contentsOf: url))
    }
}
