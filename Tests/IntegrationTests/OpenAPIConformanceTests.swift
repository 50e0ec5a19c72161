import CloudinaryEmulator
import Foundation
import NIOHTTP1
import RenamerCrypto
import RenamerServer
import RenamerTestSupport
import Testing

/// The live daemon's answers against `docs/openapi.yaml`: a scenario reaches every documented
/// operation and most of its documented statuses, then openapi-core (the reference Python
/// validator, `Tests/Interop/check_openapi.py`) checks each response and each callback.
@Suite("OpenAPI conformance")
struct OpenAPIConformanceTests {
    static let limitedToken = "limited-token"

    @Test func everyResponseAndCallbackMatchesTheDocument() async throws {
        let overrides = [
            "http.max_body_bytes": "2000",
            "clients.limited.token_sha256": Digest.sha256Hex(Array(Self.limitedToken.utf8)),
            "clients.limited.max_requests_per_second": "0.01",
        ]
        var emulator = EmulatorSettings()
        emulator.invalidationDelaySeconds = 0.2
        try await Harness.run(overrides, emulatorSettings: emulator) { harness in
            try await drive(harness)
            let documented = harness.exchanges
            try await checkUndocumentedMethodsAndPaths(harness)
            let statuses = Set(
                documented.map { "\($0.method) \($0.url.path.hasPrefix("/v1/renames/") ? "/v1/renames/{id}" : $0.url.path) \($0.reply.status)" }
            )
            // The scenario reached what it meant to reach, so the check below covers it.
            for expected in [
                "POST /v1/renames 202", "POST /v1/renames 400", "POST /v1/renames 401", "POST /v1/renames 403",
                "POST /v1/renames 413", "POST /v1/renames 415", "POST /v1/renames 422", "POST /v1/renames 429", "POST /v1/renames 503",
                "GET /v1/renames 200", "GET /v1/renames 400", "GET /v1/renames 401", "GET /v1/renames/{id} 200", "GET /v1/renames/{id} 404",
                "DELETE /v1/renames/{id} 200", "DELETE /v1/renames/{id} 409", "POST /v1/notifications/cloudinary 200",
                "POST /v1/notifications/cloudinary 400", "POST /v1/notifications/cloudinary 401", "POST /v1/notifications/cloudinary 413",
                "GET /healthz 200", "GET /readyz 200", "GET /readyz 503", "GET /metrics 200",
            ] {
                #expect(statuses.contains(expected), "the scenario never produced \(expected)")
            }
            let output = try await check(documented, callbacks: harness.receiver.deliveries)
            #expect(output.status == 0, "\(output.text)")
            #expect(output.text.contains("\(documented.count + harness.receiver.deliveries.count) of"), "\(output.text)")
        }
    }

    private func drive(_ harness: Harness) async throws {
        let renames = harness.daemonURL + "/v1/renames"
        harness.emulator.state.seed(publicID: "products/a")
        let body: [String: Any] = ["from_public_id": "products/a", "to_public_id": "products/b", "callback_url": harness.callbackURL]
        let accepted = try await harness.submit(body, headers: [("Idempotency-Key", "k1")])
        #expect(accepted.status == 202)
        let id = try #require(accepted.json["id"] as? String)
        #expect(try await harness.submit(body, headers: [("Idempotency-Key", "k1")]).header("Idempotent-Replayed") == "true")
        _ = try await harness.submit(["from_public_id": "products/x", "to_public_id": "products/y"], headers: [("Idempotency-Key", "k1")])
        _ = try await harness.submit(body, headers: [("Idempotency-Key", "")])
        _ = try await harness.request(.POST, renames, token: nil, body: Data("{}".utf8))
        _ = try await harness.request(.POST, renames, body: Data("{}".utf8), contentType: "text/plain")
        _ = try await harness.request(.POST, renames, body: Data(repeating: 0x20, count: 4000))
        _ = try await harness.request(.POST, renames, body: Data("{".utf8))
        _ = try await harness.submit(["from_public_id": "", "to_public_id": "products/b", "resource_type": "pdf"])
        _ = try await harness.submit(["from_public_id": "elsewhere/a", "to_public_id": "products/b"])
        _ = try await harness.submit(["from_public_id": "other/a", "to_public_id": "other/b"], token: Self.limitedToken)
        _ = try await harness.submit(["from_public_id": "other/a", "to_public_id": "other/b"], token: Self.limitedToken)
        // A failing rename (no such source) yields a `rename.failed` callback.
        _ = try await harness.submit(["from_public_id": "products/missing", "to_public_id": "products/m", "callback_url": harness.callbackURL])

        _ = try await harness.waitForJob(id, status: "completed")
        #expect(await harness.eventually { harness.receiver.deliveries.count == 2 })
        _ = try await harness.request(.GET, renames + "/rn_000000000000000000000000")
        _ = try await harness.request(.GET, renames + "?limit=1")
        let page = try await harness.request(.GET, renames + "?limit=1&status=completed")
        if let cursor = page.json["next_cursor"] as? String { _ = try await harness.request(.GET, renames + "?limit=1&cursor=\(cursor)") }
        _ = try await harness.request(.GET, renames + "?limit=0&status=done&cursor=zz")
        _ = try await harness.request(.GET, renames, token: "wrong")

        harness.emulator.state.setPaused(true)
        harness.emulator.state.seed(publicID: "products/c")
        let running = try #require(try await harness.submit(["from_public_id": "products/c", "to_public_id": "products/d"]).json["id"] as? String)
        #expect(try await harness.eventually { try await harness.job(running).json["status"] as? String == "renaming" })
        let waiting = try #require(try await harness.submit(["from_public_id": "products/d", "to_public_id": "products/e"]).json["id"] as? String)
        #expect(try await harness.request(.DELETE, renames + "/\(waiting)").status == 200)
        #expect(try await harness.request(.DELETE, renames + "/\(running)").status == 409)
        harness.emulator.state.setPaused(false)

        let notification = Harness.renameNotification(from: "products/a", to: "products/b")
        _ = try await harness.notify(notification)
        _ = try await harness.notify(notification)
        _ = try await harness.notify(notification, signature: String(repeating: "0", count: 40))
        _ = try await harness.notify("[1]")
        _ = try await harness.notify(#"{"pad":"\#(String(repeating: "x", count: 1 << 20))"}"#)

        for path in ["/healthz", "/readyz", "/metrics"] { _ = try await harness.request(.GET, harness.daemonURL + path, token: nil) }
        harness.components.readiness.beginDraining()
        _ = try await harness.request(.GET, harness.daemonURL + "/readyz", token: nil)
        _ = try await harness.submit(body)
    }

    /// Methods and paths the document does not list get problem documents: 405 with `Allow`, 404.
    private func checkUndocumentedMethodsAndPaths(_ harness: Harness) async throws {
        let trace = try await harness.request(.TRACE, harness.daemonURL + "/healthz", token: nil)
        #expect(trace.status == 405)
        #expect(trace.header("Allow") == "GET")
        #expect(trace.header("Content-Type") == "application/problem+json")
        let put = try await harness.request(.PUT, harness.daemonURL + "/v1/renames/rn_000000000000000000000000", body: Data("{}".utf8))
        #expect(put.status == 405)
        #expect(Set(put.header("Allow")?.components(separatedBy: ", ") ?? []) == ["GET", "DELETE"])
        let missing = try await harness.request(.GET, harness.daemonURL + "/nope")
        #expect(missing.status == 404)
        #expect(missing.json["type"] as? String == "urn:asset-renamer:problem:not-found")
        #expect(try await harness.request(.POST, harness.daemonURL + "/v1/notifications/cloudinary/x", token: nil).status == 404)
    }

    /// Writes the exchanges and callbacks out and runs the validator on them.
    private func check(_ exchanges: [Harness.Exchange], callbacks: [CallbackReceiver.Delivery]) async throws -> (status: Int32, text: String) {
        func headers(_ reply: Harness.Reply) -> [String: String] {
            var result: [String: String] = [:]
            for header in reply.headers { result[header.name] = header.value }
            return result
        }
        let capture: [String: Any] = [
            "exchanges": exchanges.map { exchange -> [String: Any] in
                let items = URLComponents(url: exchange.url, resolvingAgainstBaseURL: false)?.queryItems ?? []
                return [
                    "method": exchange.method, "path": exchange.url.path,
                    "query": Dictionary(items.map { ($0.name, $0.value ?? "") }) { _, last in last },
                    "status": exchange.reply.status, "headers": headers(exchange.reply),
                    "body_base64": exchange.reply.body.base64EncodedString(),
                ]
            },
            "webhooks": callbacks.map { delivery -> [String: Any] in
                let event = (try? JSONSerialization.jsonObject(with: Data(delivery.body)) as? [String: Any]) ?? [:]
                return [
                    "name": event["type"] as? String ?? "unknown",
                    "headers": [
                        "webhook-id": delivery.webhookID ?? "", "webhook-timestamp": delivery.webhookTimestamp ?? "",
                        "webhook-signature": delivery.webhookSignature ?? "", "content-type": delivery.contentType ?? "",
                    ],
                    "body_base64": Data(delivery.body).base64EncodedString(),
                ]
            },
        ]
        let result = try await PythonOracle.check(
            "check_openapi.py",
            arguments: [PythonOracle.packageRoot.appending(path: "docs/openapi.yaml").path],
            capture: capture
        )
        return (result.status, result.output)
    }
}
