import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import PropertyBased
import RenamerConfig
import RenamerCore
import RenamerCrypto
import Testing

@testable import RenamerServer

/// Untrusted input at both HTTP entry points, generated: random bodies, JSON with random field
/// values, random headers. Every answer is a documented status with a problem document; nothing
/// crashes, hangs or answers 5xx.
@Suite("API fuzzing")
struct APIFuzzTests {
    static let token = "fuzz-token"

    static func components() async throws -> RenamerComponents {
        let configuration = try await ConfigurationLoader.load(
            .init(overrides: [
                "http.host": "127.0.0.1", "http.port": "0", "storage.path": ":memory:", "http.max_body_bytes": "4096",
                "clouds.main.cloud_name": "demo", "clouds.main.api_key": "key", "clouds.main.api_secret": "secret",
                "clients.fuzz.token_sha256": Digest.sha256Hex(Array(token.utf8)),
                "clients.fuzz.callback_url_prefixes": "https://hooks.example/", "clients.fuzz.callback_secrets": WebhookSecret.generate().encoded,
            ])
        )
        let components = RenamerComponents(
            configuration: configuration,
            logger: Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() },
            cloudinary: NeverCalled()
        )
        components.readiness.markReady()
        return components
    }

    /// Characters that break parsers: JSON punctuation, escapes, controls, quotes, non-ASCII.
    static let character = Gen<Int>.value(in: 0...259).map { number -> Character in
        if number < 128 { return Character(UnicodeScalar(UInt8(number))) }
        let others = Array(#"{}[]:,"\/ 0123456789.eE-+truefalsnul?&#%<>é😀"#)
        return others[number % others.count]
    }
    static let text = character.string(of: 0...40)
    /// A JSON value of a random kind, as text.
    static let jsonValue = Gen<Int>.value(in: 0...7).map { kind -> String in
        switch kind {
        case 0: "null"
        case 1: "true"
        case 2: "12345678901234567890"
        case 3: "-1.5e400"
        case 4: "[]"
        case 5: #"{"a":1}"#
        case 6: #""products/a""#
        default: #""\ud800""#
        }
    }
    static let fields = [
        "from_public_id", "to_public_id", "resource_type", "type", "to_type", "overwrite", "invalidate", "cloud", "callback_url", "client_reference",
        "x",
    ]

    @Test func randomRenameBodiesGetDocumentedAnswers() async throws {
        let app = buildApplication(try await Self.components())
        try await app.test(.router) { client in
            await propertyCheck(count: 300, input: Self.text, Gen.element(of: Self.fields), Self.jsonValue, Self.text) { raw, field, value, key in
                // Half the time a well-formed object with one field replaced, else raw text.
                let body: String
                if raw.count % 2 == 0, let field {
                    body = #"{"from_public_id":"products/a","to_public_id":"products/b","\#(field)":\#(value)}"#
                } else {
                    body = raw
                }
                var headers: HTTPFields = [.authorization: "Bearer \(Self.token)", .contentType: "application/json"]
                if !key.isEmpty {
                    headers[.idempotencyKey] = String(key.unicodeScalars.filter { $0.isASCII && $0.value >= 0x20 }.map(Character.init))
                }
                try? await client.execute(uri: "/v1/renames", method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
                    #expect([202, 400, 403, 409, 413, 415, 422, 429].contains(response.status.code), "\(response.status) for \(body)")
                    if response.status.code != 202 { #expect(response.headers[.contentType] == "application/problem+json") }
                }
            }
        }
    }

    @Test func randomNotificationsGetDocumentedAnswers() async throws {
        let app = buildApplication(try await Self.components())
        let verifier = NotificationVerifier(apiSecret: "secret")
        try await app.test(.router) { client in
            await propertyCheck(count: 300, input: Self.text, Self.text, Gen.bool, Gen<Int>.value(in: -100_000...100_000)) {
                body,
                header,
                signed,
                skew in
                let timestamp = signed ? String(Int(Date().timeIntervalSince1970) + skew % 400) : header
                let signature = signed ? verifier.signature(body: Array(body.utf8), timestamp: timestamp, algorithm: .sha1) : header
                let headers: HTTPFields = [
                    .contentType: "application/json", HTTPField.Name("X-Cld-Timestamp")!: timestamp,
                    HTTPField.Name("X-Cld-Signature")!: signature,
                ]
                try? await client.execute(
                    uri: "/v1/notifications/cloudinary?cloud=main",
                    method: .post,
                    headers: headers,
                    body: ByteBuffer(string: body)
                ) {
                    response in
                    #expect([200, 400, 401, 413].contains(response.status.code), "\(response.status) for \(body)")
                }
            }
        }
    }
}

/// Cloudinary for tests that only exercise the HTTP surface: every rename fails at once, finally.
struct NeverCalled: CloudinaryAPI {
    func rename(_ call: RenameCall, cloud: RenamerConfiguration.Cloud) async -> RenameOutcome {
        .rejected(status: 400, message: "not in this test", retryAfter: nil)
    }

    func lookup(publicID: String, resourceType: ResourceType, type: DeliveryType, cloud: RenamerConfiguration.Cloud) async -> LookupOutcome {
        .notFound
    }
}
