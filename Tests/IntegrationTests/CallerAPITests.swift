import CloudinaryEmulator
import Foundation
import NIOHTTP1
import RenamerCore
import RenamerServer
import Testing

/// Every answer of the caller API (SPEC §2, §10), over HTTP against a live daemon.
@Suite("Caller API")
struct CallerAPITests {
    static var valid: [String: Any] { ["from_public_id": "products/a", "to_public_id": "products/b"] }

    @Test func missingOrWrongTokenIs401WithChallenge() async throws {
        try await Harness.run { harness in
            let body = try JSONSerialization.data(withJSONObject: Self.valid)
            for token in [nil, "wrong-token", ""] as [String?] {
                let reply = try await harness.request(.POST, harness.daemonURL + "/v1/renames", token: token, body: body)
                #expect(reply.status == 401)
                #expect(reply.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
                #expect(reply.header("Content-Type") == "application/problem+json")
                #expect(reply.json["status"] as? Int == 401)
            }
            #expect(try await harness.request(.GET, harness.daemonURL + "/v1/renames", token: nil).status == 401)
            #expect(try await harness.request(.GET, harness.daemonURL + "/v1/renames/rn_x", token: "nope").status == 401)
        }
    }

    @Test func contentTypeAndSizeAndSyntax() async throws {
        try await Harness.run(["http.max_body_bytes": "300"]) { harness in
            let url = harness.daemonURL + "/v1/renames"
            let body = try JSONSerialization.data(withJSONObject: Self.valid)
            #expect(try await harness.request(.POST, url, body: body, contentType: "text/plain").status == 415)
            #expect(try await harness.request(.POST, url, body: body, contentType: nil).status == 415)
            #expect(try await harness.request(.POST, url, body: body, contentType: "application/json; charset=utf-8").status == 202)
            let exactly = Data(#"{"from_public_id":"products/c","to_public_id":"products/d","client_reference":""#.utf8)
            let padded = exactly + Data(repeating: UInt8(ascii: "x"), count: 300 - exactly.count - 2) + Data(#""}"#.utf8)
            #expect(padded.count == 300)
            #expect(try await harness.request(.POST, url, body: padded).status != 413)
            let tooBig = try await harness.request(.POST, url, body: padded + Data(" ".utf8))
            #expect(tooBig.status == 413)
            #expect(tooBig.header("Content-Type") == "application/problem+json")
            // 413 comes before 400: an oversized body is not parsed.
            #expect(try await harness.request(.POST, url, body: Data(repeating: UInt8(ascii: "{"), count: 400)).status == 413)
            #expect(try await harness.request(.POST, url, body: Data("{not json".utf8)).status == 400)
            #expect(try await harness.request(.POST, url, body: Data("[1]".utf8)).status == 400)
            // 415 comes before 413.
            #expect(try await harness.request(.POST, url, body: Data(repeating: 0, count: 400), contentType: "text/plain").status == 415)
        }
    }

    @Test func invalidFieldsAreAllListed() async throws {
        try await Harness.run { harness in
            let reply = try await harness.submit([
                "from_public_id": "products/a?b", "to_public_id": 7, "resource_type": "gif", "type": "public", "overwrite": "yes",
                "invalidate": 1, "client_reference": String(repeating: "r", count: 257), "overwite": true, "callback_url": "ftp://x",
            ])
            #expect(reply.status == 422)
            #expect(reply.header("Content-Type") == "application/problem+json")
            #expect(
                Set(reply.fieldErrors) == [
                    "from_public_id", "to_public_id", "resource_type", "type", "overwrite", "invalidate", "client_reference", "overwite",
                    "callback_url",
                ]
            )
            let missing = try await harness.submit([:])
            #expect(Set(missing.fieldErrors) == ["from_public_id", "to_public_id"])
            let same = try await harness.submit(["from_public_id": "products/a", "to_public_id": "products/a"])
            #expect(same.fieldErrors == ["to_public_id"])
            let sameButRetyped = try await harness.submit(["from_public_id": "products/a", "to_public_id": "products/a", "to_type": "private"])
            #expect(sameButRetyped.status == 202)
            // A dot segment would aim the CDN probe and the Admin API lookup at another path (SPEC §10).
            let escaping = try await harness.submit(["from_public_id": "products/x/../../../hooks/escape1", "to_public_id": "products/./b"])
            #expect(escaping.status == 422)
            #expect(Set(escaping.fieldErrors) == ["from_public_id", "to_public_id"])
            #expect(try await harness.allJobs().allSatisfy { !$0.fromPublicID.contains("..") })
        }
    }

    @Test func scopeViolationsAre403() async throws {
        let overrides = ["clouds.eu.cloud_name": "eu", "clouds.eu.api_key": "k", "clouds.eu.api_secret": "s", "default_cloud": "main"]
        try await Harness.run(overrides) { harness in
            for cloud in ["eu", "nowhere"] {
                let reply = try await harness.submit(["from_public_id": "products/a", "to_public_id": "products/b", "cloud": cloud])
                #expect(reply.status == 403)
                #expect(reply.fieldErrors == ["cloud"])
            }
            let prefix = try await harness.submit(["from_public_id": "other/a", "to_public_id": "products/b"])
            #expect(prefix.status == 403)
            #expect(prefix.fieldErrors == ["from_public_id"])
            for url in ["http://127.0.0.1:2/hooks/x", "http://127.0.0.1:1/hooksevil", "http://127.0.0.1:1/other"] {
                let reply = try await harness.submit(["from_public_id": "products/a", "to_public_id": "products/b", "callback_url": url])
                #expect(reply.status == 403, "\(url)")
                #expect(reply.fieldErrors == ["callback_url"])
            }
            let allowed = try await harness.submit([
                "from_public_id": "products/a", "to_public_id": "products/b", "callback_url": "http://127.0.0.1:1/hooks/x",
            ])
            #expect(allowed.status == 202)
            #expect((allowed.json["callback"] as? [String: Any])?["url"] as? String == "http://127.0.0.1:1/hooks/x")
            #expect((allowed.json["callback"] as? [String: Any])?["status"] as? String == "pending")
            // 422 comes before 403.
            #expect(try await harness.submit(["from_public_id": "other/a?", "to_public_id": "products/b"]).status == 422)
        }
    }

    @Test func idempotencyKeys() async throws {
        try await Harness.run { harness in
            harness.emulator.state.setPaused(true)
            defer { harness.emulator.state.setPaused(false) }
            let first = try await harness.submit(Self.valid, headers: [("Idempotency-Key", "order-1")])
            #expect(first.status == 202)
            #expect(first.header("Idempotent-Replayed") == nil)
            let replay = try await harness.submit(
                ["to_public_id": "products/b", "from_public_id": "products/a"],
                headers: [("Idempotency-Key", #""order-1""#)]
            )
            #expect(replay.status == 202)
            #expect(replay.header("Idempotent-Replayed") == "true")
            #expect(replay.json["id"] as? String == first.json["id"] as? String)
            #expect(replay.header("Location") == first.header("Location"))
            let different = try await harness.submit(
                ["from_public_id": "products/a", "to_public_id": "products/c"],
                headers: [("Idempotency-Key", "order-1")]
            )
            #expect(different.status == 422)
            // Keys are per client.
            let otherClient = try await harness.submit(
                ["from_public_id": "x/a", "to_public_id": "x/c"],
                token: Harness.otherToken,
                headers: [("Idempotency-Key", "order-1")]
            )
            #expect(otherClient.status == 202)
            #expect(otherClient.header("Idempotent-Replayed") == nil)
            for malformed in ["", String(repeating: "k", count: 256), "tab\there", #""unterminated"#, "ü"] {
                #expect(try await harness.submit(Self.valid, headers: [("Idempotency-Key", malformed)]).status == 400, "\(malformed)")
            }
            // Two header lines are two keys, not one joined "k1, k77" (SPEC §10).
            let twice = try await harness.submit(Self.valid, headers: [("Idempotency-Key", "k1"), ("Idempotency-Key", "k77")])
            #expect(twice.status == 400)
            #expect(twice.fieldErrors == ["Idempotency-Key"])
        }
    }

    @Test func queueFullIs429WithRetryAfter() async throws {
        try await Harness.run(["queue.capacity": "2"]) { harness in
            harness.emulator.state.setPaused(true)
            defer { harness.emulator.state.setPaused(false) }
            #expect(try await harness.submit(["from_public_id": "products/1", "to_public_id": "products/2"]).status == 202)
            #expect(try await harness.submit(["from_public_id": "products/3", "to_public_id": "products/4"]).status == 202)
            let full = try await harness.submit(["from_public_id": "products/5", "to_public_id": "products/6"], headers: [("Idempotency-Key", "k")])
            #expect(full.status == 429)
            #expect(full.header("Retry-After") != nil)
            // The refused request did not keep its idempotency key.
            let again = try await harness.submit(["from_public_id": "products/5", "to_public_id": "products/6"], headers: [("Idempotency-Key", "k")])
            #expect(again.status == 429)
        }
    }

    @Test func clientRateLimitIs429() async throws {
        // One request per 100 s: a second one within the test is refused however slow the machine.
        try await Harness.run(["clients.catalog.max_requests_per_second": "0.01"]) { harness in
            harness.emulator.state.setPaused(true)
            defer { harness.emulator.state.setPaused(false) }
            #expect(try await harness.submit(Self.valid).status == 202)
            let limited = try await harness.submit(["from_public_id": "products/c", "to_public_id": "products/d"])
            #expect(limited.status == 429)
            #expect(Int(limited.header("Retry-After") ?? "") ?? 0 >= 1)
            // Another client is not affected.
            #expect(try await harness.submit(["from_public_id": "x/1", "to_public_id": "x/2"], token: Harness.otherToken).status == 202)
        }
    }

    @Test func clientsNeverSeeEachOthersJobs() async throws {
        try await Harness.run { harness in
            harness.emulator.state.setPaused(true)
            defer { harness.emulator.state.setPaused(false) }
            let id = try #require(try await harness.submit(Self.valid).json["id"] as? String)
            #expect(try await harness.job(id).status == 200)
            #expect(try await harness.job(id, token: Harness.otherToken).status == 404)
            #expect(try await harness.request(.DELETE, harness.daemonURL + "/v1/renames/\(id)", token: Harness.otherToken).status == 404)
            let list = try await harness.request(.GET, harness.daemonURL + "/v1/renames", token: Harness.otherToken)
            #expect((list.json["items"] as? [Any])?.isEmpty == true)
            #expect(try await harness.job("rn_unknown").status == 404)
        }
    }

    @Test func cancelBeforeAndAfterTheCall() async throws {
        try await Harness.run { harness in
            harness.emulator.state.seed(publicID: "products/a")
            harness.emulator.state.setPaused(true)
            let running = try #require(try await harness.submit(Self.valid).json["id"] as? String)
            #expect(try await harness.eventually { try await harness.job(running).json["status"] as? String == "renaming" })
            // Same asset: waits behind the running job, so it can still be cancelled.
            let waiting = try #require(
                try await harness.submit(["from_public_id": "products/b", "to_public_id": "products/c"]).json["id"] as? String
            )
            let cancelled = try await harness.request(.DELETE, harness.daemonURL + "/v1/renames/\(waiting)")
            #expect(cancelled.status == 200)
            #expect(cancelled.json["status"] as? String == "cancelled")
            let started = try await harness.request(.DELETE, harness.daemonURL + "/v1/renames/\(running)")
            #expect(started.status == 409)
            harness.emulator.state.setPaused(false)
            _ = try await harness.waitForJob(running, status: "confirming_invalidation")
            #expect(try await harness.job(waiting).json["status"] as? String == "cancelled")
            // The cancelled job never called Cloudinary. (The running one may have called twice: on a
            // loaded machine its call can outlast the 2 s timeout while Cloudinary is paused, and
            // is then reconciled and sent again.)
            #expect(!harness.renameRequests.isEmpty)
            #expect(harness.renameRequests.allSatisfy { $0.fields?["from_public_id"] == "products/a" }, "\(harness.renameRequests)")
        }
    }

    @Test func listingIsNewestFirstAndPaged() async throws {
        try await Harness.run { harness in
            harness.emulator.state.setPaused(true)
            defer { harness.emulator.state.setPaused(false) }
            var ids: [String] = []
            for index in 0..<5 {
                ids.append(
                    try #require(
                        try await harness.submit(["from_public_id": "products/\(index)", "to_public_id": "products/n\(index)"]).json["id"] as? String
                    )
                )
            }
            var seen: [String] = []
            var cursor: String?
            repeat {
                let query = "/v1/renames?limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try await harness.request(.GET, harness.daemonURL + query)
                #expect(page.status == 200)
                seen += (page.json["items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                cursor = page.json["next_cursor"] as? String
            } while cursor != nil && seen.count < 10
            #expect(seen == ids.reversed())
            let filtered = try await harness.request(.GET, harness.daemonURL + "/v1/renames?status=completed")
            #expect((filtered.json["items"] as? [Any])?.isEmpty == true)
            #expect(filtered.json.keys.contains("next_cursor"))
            for bad in ["?limit=0", "?limit=101", "?status=done", "?cursor=zzz"] {
                #expect(try await harness.request(.GET, harness.daemonURL + "/v1/renames" + bad).status == 400, "\(bad)")
            }
            // The cursor is opaque and bound to the client (SPEC §10): another client's cursor, a
            // tampered one, or one of the old form (base64 of "c4", a global sequence number that
            // told how many jobs every client had submitted) is refused.
            let first = try await harness.request(.GET, harness.daemonURL + "/v1/renames?limit=1")
            let ours = try #require(first.json["next_cursor"] as? String)
            let theirs = try await harness.request(.GET, harness.daemonURL + "/v1/renames?cursor=\(ours)", token: Harness.otherToken)
            #expect(theirs.status == 400)
            #expect(theirs.fieldErrors == ["cursor"])
            var tampered = Array(ours)
            tampered[tampered.count - 2] = tampered[tampered.count - 2] == "A" ? "B" : "A"
            #expect(try await harness.request(.GET, harness.daemonURL + "/v1/renames?cursor=\(String(tampered))").status == 400)
            #expect(try await harness.request(.GET, harness.daemonURL + "/v1/renames?cursor=YzQ=").status == 400)
        }
    }

    @Test func notReadyIs503() async throws {
        try await Harness.run { harness in
            harness.components.readiness.beginDraining()
            let reply = try await harness.submit(Self.valid)
            #expect(reply.status == 503)
            #expect(reply.header("Retry-After") != nil)
            // Reads still work while draining.
            #expect(try await harness.request(.GET, harness.daemonURL + "/v1/renames").status == 200)
        }
    }
}
