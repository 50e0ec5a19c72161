import CloudinaryEmulator
import Foundation
import NIOHTTP1
import RenamerCrypto
import RenamerServer
import RenamerTestSupport
import Testing

/// The live daemon's answers against `docs/openapi.yaml`: a scenario reaches every documented
/// operation and most of its documented statuses, then openapi-core (the reference Python
/// validator, `Tests/Interop/check_openapi.py`) checks each response (headers such as
/// `X-Request-Id` included), each `405`/`404` for what the document does not list (against its
/// `MethodNotAllowed` and `UnknownPath` responses), each callback, and every example of the document.
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
        var documented: [Harness.Exchange] = []
        var callbacks: [CallbackReceiver.Delivery] = []
        try await Harness.run(overrides, emulatorSettings: emulator) { harness in
            try await drive(harness)
            try await checkUndocumentedMethodsAndPaths(harness)
            try await checkRequestIDs(harness)
            documented += harness.exchanges
            callbacks += harness.receiver.deliveries
        }
        // Fixed folders (SPEC §11): folder renames with items, and a dry run's plan.
        emulator.folderMode = .fixed
        // One call at a time, so that a folder rename can be stopped while its items run.
        let fixed = ["clouds.main.folder_mode": "fixed", "clouds.main.max_concurrent_requests": "1"]
        try await Harness.run(fixed, emulatorSettings: emulator) { harness in
            try await driveFixedFolders(harness)
            documented += harness.exchanges
            callbacks += harness.receiver.deliveries
        }
        let statuses = Set(documented.map { "\($0.method) \(Self.template($0.url.path)) \($0.reply.status)" })
        // The scenario reached what it meant to reach, so the check below covers it.
        var expected = [
            "POST /v1/renames 202", "POST /v1/renames 400", "POST /v1/renames 401", "POST /v1/renames 403",
            "POST /v1/renames 413", "POST /v1/renames 415", "POST /v1/renames 422", "POST /v1/renames 429", "POST /v1/renames 503",
            "GET /v1/renames 200", "GET /v1/renames 400", "GET /v1/renames 401", "GET /v1/renames/{id} 200", "GET /v1/renames/{id} 404",
            "DELETE /v1/renames/{id} 200", "DELETE /v1/renames/{id} 409", "POST /v1/notifications/cloudinary 200",
            "POST /v1/notifications/cloudinary 400", "POST /v1/notifications/cloudinary 401", "POST /v1/notifications/cloudinary 413",
            "GET /healthz 200", "GET /readyz 200", "GET /readyz 503", "GET /metrics 200",
            // What the document does not list: checked against `MethodNotAllowed` and `UnknownPath`.
            "TRACE /healthz 405", "PUT /v1/renames/{id} 405", "DELETE /v1/renames 405", "GET /v1/notifications/cloudinary 405",
            "PATCH /v1/folder-renames/{id} 405", "POST /v1/batches/{id}/items 405", "GET /nope 404",
        ]
        for path in ["/v1/asset-updates", "/v1/folder-renames", "/v1/batches"] {
            expected += ["202", "400", "401", "403", "415", "422"].map { "POST \(path) \($0)" }
            expected += ["GET \(path) 200", "GET \(path) 400", "GET \(path)/{id} 200", "GET \(path)/{id} 404"]
            expected += ["DELETE \(path)/{id} 200", "DELETE \(path)/{id} 409"]
        }
        for path in ["/v1/folder-renames", "/v1/batches"] {
            expected += ["200", "400", "404"].map { "GET \(path)/{id}/items \($0)" }
        }
        for status in expected {
            #expect(statuses.contains(status), "the scenario never produced \(status)")
        }
        let types = Set(callbacks.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: Any])?["type"] as? String })
        for type in [
            "rename.completed", "rename.failed", "asset_update.completed", "asset_update.failed", "folder_rename.completed",
            "folder_rename.failed", "batch.completed",
        ] {
            #expect(types.contains(type), "no \(type) callback")
        }
        let output = try await check(documented, callbacks: callbacks)
        #expect(output.status == 0, "\(output.text)")
        #expect(output.text.contains("\(documented.count + callbacks.count) of"), "\(output.text)")
    }

    /// The path with its job id replaced by `{id}`: `/v1/batches/bt_…/items` → `/v1/batches/{id}/items`.
    static func template(_ path: String) -> String {
        var segments = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let collections: Set = ["renames", "asset-updates", "folder-renames", "batches"]
        if segments.count >= 4, segments[1] == "v1", collections.contains(segments[2]) { segments[3] = "{id}" }
        return segments.joined(separator: "/")
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

        try await driveKinds(harness)

        for path in ["/healthz", "/readyz", "/metrics"] { _ = try await harness.request(.GET, harness.daemonURL + path, token: nil) }
        harness.components.readiness.beginDraining()
        _ = try await harness.request(.GET, harness.daemonURL + "/readyz", token: nil)
        _ = try await harness.submit(body)
    }

    /// Asset updates, folder renames (dynamic folders) and batches (SPEC §11): each operation and its
    /// main statuses, and every kind of callback but `batch.failed` (a batch whose items fail still
    /// completes; the scenario makes none that fails as a whole).
    private func driveKinds(_ harness: Harness) async throws {
        let base = harness.daemonURL
        let kinds = [("/v1/asset-updates", "au_"), ("/v1/folder-renames", "fr_"), ("/v1/batches", "bt_")]
        let outside: [String: [String: Any]] = [
            "/v1/asset-updates": ["public_id": "other/a", "display_name": "x"],
            "/v1/folder-renames": ["from_folder": "other/a", "to_folder": "other/b"],
            "/v1/batches": ["items": [["from_public_id": "other/a", "to_public_id": "other/b"]]],
        ]
        for (path, prefix) in kinds {
            _ = try await harness.request(.POST, base + path, token: nil, body: Data("{}".utf8))
            _ = try await harness.request(.POST, base + path, body: Data("{}".utf8), contentType: "text/plain")
            _ = try await harness.request(.POST, base + path, body: Data("{".utf8))
            #expect(try await post(harness, path, outside[path] ?? [:]).status == 403)
            #expect(try await harness.request(.GET, base + path + "?limit=0&cursor=zz").status == 400)
            #expect(try await harness.request(.GET, base + path + "/\(prefix)000000000000000000000000").status == 404)
        }

        // Asset updates: one that completes (replayed once), one whose asset does not exist.
        harness.emulator.state.seed(publicID: "products/u")
        let update: [String: Any] = ["public_id": "products/u", "asset_folder": "shop/new", "display_name": "U", "callback_url": harness.callbackURL]
        let updated = try await post(harness, "/v1/asset-updates", update, headers: [("Idempotency-Key", "au1")])
        #expect(updated.status == 202)
        let updateID = try #require(updated.json["id"] as? String)
        #expect(try await post(harness, "/v1/asset-updates", update, headers: [("Idempotency-Key", "au1")]).header("Idempotent-Replayed") == "true")
        #expect(try await post(harness, "/v1/asset-updates", ["public_id": "products/u"]).status == 422)
        _ = try await post(harness, "/v1/asset-updates", ["public_id": "products/gone", "display_name": "G", "callback_url": harness.callbackURL])

        // A folder rename (one Admin API call), one of a folder that does not exist, one that nests.
        for name in ["a", "b"] { harness.emulator.state.seed(publicID: "products/f\(name)", assetFolder: "products/old") }
        let folderFields: [String: Any] = ["from_folder": "products/old", "to_folder": "products/new", "callback_url": harness.callbackURL]
        let folder = try await post(harness, "/v1/folder-renames", folderFields)
        #expect(folder.status == 202)
        let folderID = try #require(folder.json["id"] as? String)
        #expect(try await post(harness, "/v1/folder-renames", ["from_folder": "products/old", "to_folder": "products/old/sub"]).status == 422)
        _ = try await post(
            harness,
            "/v1/folder-renames",
            ["from_folder": "products/none", "to_folder": "products/n2", "callback_url": harness.callbackURL]
        )

        // A batch with a chain and an item that fails, an invalid one, and a dry run.
        harness.emulator.state.seed(publicID: "products/ba")
        let batch = try await post(
            harness,
            "/v1/batches",
            [
                "items": [
                    ["from_public_id": "products/ba", "to_public_id": "products/bb"],
                    ["from_public_id": "products/bb", "to_public_id": "products/bc"],
                    ["from_public_id": "products/nope", "to_public_id": "products/np"],
                ],
                "callback_url": harness.callbackURL,
            ]
        )
        #expect(batch.status == 202)
        let batchID = try #require(batch.json["id"] as? String)
        let invalid = try await post(harness, "/v1/batches", ["items": [["from_public_id": "products/a", "to_public_id": "bad?id"]]])
        #expect(invalid.status == 422)
        let dryRun = try await post(
            harness,
            "/v1/batches",
            ["items": [["from_public_id": "products/fa", "to_public_id": "products/u"]], "dry_run": true, "callback_url": harness.callbackURL]
        )
        let dryRunID = try #require(dryRun.json["id"] as? String)

        for (path, id) in [("/v1/asset-updates", updateID), ("/v1/folder-renames", folderID), ("/v1/batches", batchID)] {
            #expect(try await waitFinal(harness, "\(path)/\(id)")["status"] as? String == "completed")
            #expect(try await harness.request(.DELETE, base + "\(path)/\(id)").status == 409)
            #expect(try await harness.request(.GET, base + path + "?limit=1").status == 200)
        }
        let plan = try await waitFinal(harness, "/v1/batches/\(dryRunID)")["result"] as? [String: Any]
        #expect(plan?["existing_targets"] as? [String] == ["products/u"])
        for (path, id) in [("/v1/folder-renames", folderID), ("/v1/batches", batchID)] {
            let page = try await harness.request(.GET, base + "\(path)/\(id)/items?limit=2")
            #expect(page.status == 200)
            if let cursor = page.json["next_cursor"] as? String { _ = try await harness.request(.GET, base + "\(path)/\(id)/items?cursor=\(cursor)") }
            #expect(try await harness.request(.GET, base + "\(path)/\(id)/items?cursor=zz").status == 400)
            #expect(
                try await harness.request(.GET, base + "\(path)/\(path == "/v1/batches" ? "bt_" : "fr_")000000000000000000000000/items").status == 404
            )
        }

        // Cancelling: an asset update queued behind another for the same asset, a folder rename
        // queued behind another of the same folder, a batch whose item waits for that asset.
        harness.emulator.state.setPaused(true)
        harness.emulator.state.seed(publicID: "products/p")
        harness.emulator.state.seed(publicID: "products/g", assetFolder: "products/held")
        let first = try #require(
            try await post(harness, "/v1/asset-updates", ["public_id": "products/p", "display_name": "P1"]).json["id"] as? String
        )
        #expect(
            try await harness.eventually {
                try await harness.request(.GET, base + "/v1/asset-updates/\(first)").json["status"] as? String == "updating"
            }
        )
        #expect(try await harness.request(.DELETE, base + "/v1/asset-updates/\(first)").status == 409)
        let second = try #require(
            try await post(harness, "/v1/asset-updates", ["public_id": "products/p", "display_name": "P2"]).json["id"] as? String
        )
        #expect(try await harness.request(.DELETE, base + "/v1/asset-updates/\(second)").status == 200)
        let heldFolder = ["from_folder": "products/held", "to_folder": "products/moved"]
        _ = try await post(harness, "/v1/folder-renames", heldFolder)
        let queuedFolder = try #require(try await post(harness, "/v1/folder-renames", heldFolder).json["id"] as? String)
        #expect(try await harness.request(.DELETE, base + "/v1/folder-renames/\(queuedFolder)").status == 200)
        let waitingBatch = try #require(
            try await post(harness, "/v1/batches", ["items": [["from_public_id": "products/p", "to_public_id": "products/q"]]]).json["id"] as? String
        )
        #expect(try await harness.request(.DELETE, base + "/v1/batches/\(waitingBatch)").status == 200)
        harness.emulator.state.setPaused(false)
        #expect(try await waitFinal(harness, "/v1/batches/\(waitingBatch)")["status"] as? String == "cancelled")
        #expect(try await waitFinal(harness, "/v1/asset-updates/\(first)")["status"] as? String == "completed")

        let kindsCalledBack = ["asset_update.completed", "asset_update.failed", "folder_rename.completed", "folder_rename.failed", "batch.completed"]
        #expect(await harness.eventually { Set(kindsCalledBack).isSubset(of: callbackTypes(harness)) })
    }

    /// Fixed folders: a folder rename with items (one target exists already), its pages, a dry run
    /// with its plan, a running one stopped by DELETE, and an asset update refused (422).
    private func driveFixedFolders(_ harness: Harness) async throws {
        let base = harness.daemonURL
        let state = harness.emulator.state
        state.seed((0..<5).map { EmulatorAssetSeed(publicID: "products/old/a\($0)") })
        state.seed([EmulatorAssetSeed(publicID: "products/new/a3"), EmulatorAssetSeed(publicID: "products/other/a1")])
        let folder = try await post(
            harness,
            "/v1/folder-renames",
            ["from_folder": "products/old", "to_folder": "products/new", "callback_url": harness.callbackURL]
        )
        #expect(folder.status == 202)
        let id = try #require(folder.json["id"] as? String)
        let fixed = try await post(harness, "/v1/asset-updates", ["public_id": "products/old/a0", "asset_folder": "products/x"])
        #expect(fixed.status == 422)
        #expect(fixed.fieldErrors == ["asset_folder"])
        let counts = try await waitFinal(harness, "/v1/folder-renames/\(id)")["result"] as? [String: Any]
        #expect(counts?["failed"] as? Int == 1)
        let page = try await harness.request(.GET, base + "/v1/folder-renames/\(id)/items?limit=2")
        #expect(page.status == 200)
        let cursor = try #require(page.json["next_cursor"] as? String)
        #expect(try await harness.request(.GET, base + "/v1/folder-renames/\(id)/items?limit=1000&cursor=\(cursor)").status == 200)
        #expect(try await harness.request(.GET, base + "/v1/folder-renames/\(id)/items?limit=1001").status == 400)

        let dryRun = try await post(
            harness,
            "/v1/folder-renames",
            ["from_folder": "products/new", "to_folder": "products/other", "dry_run": true, "callback_url": harness.callbackURL]
        )
        let dryRunID = try #require(dryRun.json["id"] as? String)
        let plan = try await waitFinal(harness, "/v1/folder-renames/\(dryRunID)")["result"] as? [String: Any]
        #expect(plan?["existing_targets"] as? [String] == ["products/other/a1"])

        state.seed((0..<4).map { EmulatorAssetSeed(publicID: "products/slow/s\($0)") })
        state.addFault(EmulatorFault(operation: "rename", hangSeconds: 0.5, times: 4))
        let slow = try #require(
            try await post(harness, "/v1/folder-renames", ["from_folder": "products/slow", "to_folder": "products/fast"]).json["id"] as? String
        )
        #expect(
            try await harness.eventually {
                try await harness.request(.GET, base + "/v1/folder-renames/\(slow)").json["status"] as? String == "renaming"
            }
        )
        #expect(try await harness.request(.DELETE, base + "/v1/folder-renames/\(slow)").status == 200)
        _ = try await waitFinal(harness, "/v1/folder-renames/\(slow)")
        _ = try await harness.request(.GET, base + "/v1/folder-renames/\(slow)/items")
        #expect(await harness.eventually { callbackTypes(harness) == ["folder_rename.completed", "folder_rename.completed"] })
    }

    private func post(_ harness: Harness, _ path: String, _ fields: [String: Any], headers: [(String, String)] = []) async throws -> Harness.Reply {
        try await harness.request(.POST, harness.daemonURL + path, body: try JSONSerialization.data(withJSONObject: fields), headers: headers)
    }

    /// Polls `path` until its job is final (or 20 s pass); returns its last JSON.
    private func waitFinal(_ harness: Harness, _ path: String) async throws -> [String: Any] {
        var last: [String: Any] = [:]
        _ = try await harness.eventually {
            last = try await harness.request(.GET, harness.daemonURL + path).json
            return ["completed", "failed", "cancelled"].contains(last["status"] as? String ?? "")
        }
        return last
    }

    private func callbackTypes(_ harness: Harness) -> [String] {
        harness.receiver.deliveries.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: Any])?["type"] as? String }
    }

    /// Methods and paths the document does not list get problem documents: 405 with `Allow` (the
    /// document's `MethodNotAllowed` response), 404 (its `UnknownPath`); the validator checks them too.
    private func checkUndocumentedMethodsAndPaths(_ harness: Harness) async throws {
        let base = harness.daemonURL
        let trace = try await harness.request(.TRACE, base + "/healthz", token: nil)
        #expect(trace.status == 405)
        #expect(trace.header("Allow") == "GET")
        #expect(trace.header("Content-Type") == "application/problem+json")
        let put = try await harness.request(.PUT, base + "/v1/renames/rn_000000000000000000000000", body: Data("{}".utf8))
        #expect(put.status == 405)
        #expect(Set(put.header("Allow")?.components(separatedBy: ", ") ?? []) == ["GET", "DELETE"])
        let allowed: [(HTTPMethod, String, Set<String>)] = [
            (.DELETE, "/v1/renames", ["GET", "POST"]),
            (.GET, "/v1/notifications/cloudinary", ["POST"]),
            (.PATCH, "/v1/folder-renames/fr_000000000000000000000000", ["GET", "DELETE"]),
            (.POST, "/v1/batches/bt_000000000000000000000000/items", ["GET"]),
        ]
        for (method, path, methods) in allowed {
            let reply = try await harness.request(method, base + path, body: method == .GET ? nil : Data("{}".utf8))
            #expect(reply.status == 405, "\(method) \(path)")
            #expect(Set(reply.header("Allow")?.components(separatedBy: ", ") ?? []) == methods, "\(method) \(path)")
        }
        let missing = try await harness.request(.GET, base + "/nope")
        #expect(missing.status == 404)
        #expect(missing.json["type"] as? String == "urn:asset-renamer:problem:not-found")
        #expect(try await harness.request(.POST, base + "/v1/notifications/cloudinary/x", token: nil).status == 404)
    }

    /// `X-Request-Id`: a caller's acceptable id (1–128 visible ASCII characters) comes back as sent;
    /// any other is replaced by a new one, never refused. The document's header pattern is checked
    /// on every answer by the validator.
    private func checkRequestIDs(_ harness: Harness) async throws {
        let base = harness.daemonURL
        let sent = "conformance-7f3a:" + String(repeating: "~", count: 111)
        #expect(try await harness.request(.GET, base + "/healthz", token: nil, headers: [("X-Request-Id", sent)]).header("X-Request-Id") == sent)
        let echoed = try await harness.request(.GET, base + "/v1/renames/rn_000000000000000000000000", headers: [("X-Request-Id", "r-1")])
        #expect(echoed.status == 404)
        #expect(echoed.header("X-Request-Id") == "r-1")
        for unacceptable in [String(repeating: "x", count: 129), "has space"] {
            let reply = try await harness.request(.GET, base + "/v1/renames?limit=1", headers: [("X-Request-Id", unacceptable)])
            #expect(reply.status == 200)
            let replaced = try #require(reply.header("X-Request-Id"))
            #expect(replaced != unacceptable && !replaced.isEmpty)
        }
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
