import CloudinaryEmulator
import Foundation
import NIOHTTP1
import RenamerServer
import Testing

/// The rename path end to end: daemon → emulator over loopback HTTP (SPEC §3).
@Suite("Rename pipeline against the emulator")
struct RenamePipelineTests {
    @Test func renameMovesTheAssetAndCompletes() async throws {
        try await Harness.run { harness in
            harness.emulator.state.seed(publicID: "products/123")
            let reply = try await harness.submit(["from_public_id": "products/123", "to_public_id": "products/sku-9", "invalidate": false])
            #expect(reply.status == 202)
            let id = try #require(reply.json["id"] as? String)
            #expect(reply.header("Location") == "/v1/renames/\(id)")
            let job = try await harness.waitForJob(id, status: "completed")
            #expect(job["status"] as? String == "completed")
            #expect((job["result"] as? [String: Any])?["public_id"] as? String == "products/sku-9")
            #expect((job["invalidation"] as? [String: Any])?["status"] as? String == "not_requested")
            #expect(job["attempts"] as? Int == 1)
            #expect(harness.emulator.state.asset(publicID: "products/sku-9", resourceType: "image", type: "upload") != nil)
            #expect(harness.emulator.state.asset(publicID: "products/123", resourceType: "image", type: "upload") == nil)
            let fields = try #require(harness.renameRequests.first?.fields)
            #expect(fields["signature"]?.count == 64)
            #expect(fields["overwrite"] == "false")
            #expect(fields["invalidate"] == "false")
            #expect(fields["to_type"] == nil)
            #expect(fields["notification_url"] == "\(harness.daemonURL)/v1/notifications/cloudinary?cloud=main&job=\(id)")
        }
    }

    @Test func sha1CloudsSignWithSHA1() async throws {
        try await Harness.run(["clouds.main.signature_algorithm": "sha1"]) { harness in
            harness.emulator.state.seed(publicID: "products/1", resourceType: "video", type: "private")
            let reply = try await harness.submit([
                "from_public_id": "products/1", "to_public_id": "products/2", "invalidate": false, "resource_type": "video", "type": "private",
                "to_type": "upload", "overwrite": true,
            ])
            let id = try #require(reply.json["id"] as? String)
            #expect(try await harness.waitForJob(id, status: "completed")["status"] as? String == "completed")
            let fields = try #require(harness.renameRequests.first?.fields)
            #expect(fields["signature"]?.count == 40)
            #expect(fields["to_type"] == "upload")
            #expect(fields["overwrite"] == "true")
            #expect(harness.emulator.state.asset(publicID: "products/2", resourceType: "video", type: "upload") != nil)
        }
    }

    @Test(arguments: [400, 401, 403, 404, 409])
    func finalErrorsFailAtOnceWithCloudinarysMessage(_ status: Int) async throws {
        try await Harness.run(Harness.patientCloudinary) { harness in
            harness.emulator.state.seed(publicID: "products/a")
            harness.emulator.state.addFault(.init(operation: "rename", status: status, message: "scripted \(status)"))
            let id = try #require(try await harness.submit(["from_public_id": "products/a", "to_public_id": "products/b"]).json["id"] as? String)
            let job = try await harness.waitForJob(id, status: "failed")
            let error = try #require(job["error"] as? [String: Any])
            #expect(error["cloudinary_status"] as? Int == status)
            #expect(error["message"] as? String == "scripted \(status)")
            #expect(job["attempts"] as? Int == 1)
            #expect(harness.renameRequests.count == 1)
        }
    }

    @Test func missingSourceAndExistingTargetAreRealCloudinaryErrors() async throws {
        try await Harness.run { harness in
            let missing = try #require(
                try await harness.submit(["from_public_id": "products/none", "to_public_id": "products/x"]).json["id"] as? String
            )
            let missingJob = try await harness.waitForJob(missing, status: "failed")
            #expect((missingJob["error"] as? [String: Any])?["code"] as? String == "cloudinary_not_found")
            harness.emulator.state.seed(publicID: "products/p")
            harness.emulator.state.seed(publicID: "products/q")
            let conflict = try #require(
                try await harness.submit(["from_public_id": "products/p", "to_public_id": "products/q"]).json["id"] as? String
            )
            let conflictJob = try await harness.waitForJob(conflict, status: "failed")
            #expect((conflictJob["error"] as? [String: Any])?["cloudinary_status"] as? Int == 409)
            #expect((conflictJob["error"] as? [String: Any])?["message"] as? String == "to_public_id (products/q) already exists")
        }
    }

    @Test(arguments: [423, 429, 500, 502, 503, 420])
    func transientErrorsAreRetried(_ status: Int) async throws {
        try await Harness.run { harness in
            harness.emulator.state.seed(publicID: "products/a")
            harness.emulator.state.addFault(.init(operation: "rename", status: status, retryAfter: "0"))
            let id = try #require(
                try await harness.submit(["from_public_id": "products/a", "to_public_id": "products/b", "invalidate": false]).json["id"] as? String
            )
            let job = try await harness.waitForJob(id, status: "completed")
            #expect(job["attempts"] as? Int == 2)
            #expect(harness.appliedRenames.count == 1)
        }
    }

    @Test func unreachableCloudinaryIsRetriedThenFails() async throws {
        try await Harness.run(["clouds.main.upload_prefix": "http://127.0.0.1:1"]) { harness in
            let id = try #require(try await harness.submit(["from_public_id": "products/a", "to_public_id": "products/b"]).json["id"] as? String)
            let job = try await harness.waitForJob(id, status: "failed")
            #expect(job["attempts"] as? Int == 4)
            #expect((job["error"] as? [String: Any])?["code"] as? String == "cloudinary_unreachable")
        }
    }

    @Test func retryAfterIsHonoured() async throws {
        try await Harness.run { harness in
            harness.emulator.state.seed(publicID: "products/a")
            harness.emulator.state.addFault(.init(operation: "rename", status: 503, retryAfter: "1"))
            let id = try #require(
                try await harness.submit(["from_public_id": "products/a", "to_public_id": "products/b", "invalidate": false]).json["id"] as? String
            )
            _ = try await harness.waitForJob(id, status: "completed")
            let times = harness.renameRequests.map(\.time)
            #expect(times.count == 2)
            // Backoff alone is at most 0.2 s here; the gap comes from Retry-After: 1.
            #expect(times[1] - times[0] >= 0.95)
        }
    }

    @Test func a420PausesTheWholeCloud() async throws {
        try await Harness.run { harness in
            harness.emulator.state.seed(publicID: "products/a")
            harness.emulator.state.seed(publicID: "products/x")
            harness.emulator.state.addFault(.init(operation: "rename", status: 420, retryAfter: "1"))
            let first = try #require(
                try await harness.submit(["from_public_id": "products/a", "to_public_id": "products/b", "invalidate": false]).json["id"] as? String
            )
            // Once the daemon has counted the 420, the cloud is paused.
            #expect(
                try await harness.eventually {
                    try await harness.request(.GET, harness.daemonURL + "/metrics").text.contains(
                        #"renamer_cloudinary_requests_total{outcome="rate_limited"} 1"#
                    )
                }
            )
            let second = try #require(
                try await harness.submit(["from_public_id": "products/x", "to_public_id": "products/y", "invalidate": false]).json["id"] as? String
            )
            _ = try await harness.waitForJob(first, status: "completed")
            _ = try await harness.waitForJob(second, status: "completed")
            let requests = harness.renameRequests
            #expect(requests.count == 3)
            let unrelated = try #require(requests.first { $0.fields?["from_public_id"] == "products/x" })
            #expect(unrelated.time - requests[0].time >= 0.95)
        }
    }

    /// The first call hangs past the client's timeout: its outcome is unknown, the lookup decides,
    /// and the rename is applied once. The hang is twice the timeout, and the timeout leaves the
    /// other calls room on a loaded machine (stress run: with 0.5 s every call could time out).
    @Test func hangPastTheTimeoutIsReconciledAndAppliedOnce() async throws {
        try await Harness.run(["clouds.main.timeout_seconds": "2"]) { harness in
            harness.emulator.state.seed(publicID: "products/a")
            harness.emulator.state.addFault(.init(operation: "rename", hangSeconds: 4))
            let id = try #require(
                try await harness.submit(["from_public_id": "products/a", "to_public_id": "products/b", "invalidate": false]).json["id"] as? String
            )
            let job = try await harness.waitForJob(id, status: "completed")
            #expect(job["status"] as? String == "completed")
            // Every call the job made, the hung first one included, has ended at the emulator.
            let attempts = try #require(job["attempts"] as? Int)
            #expect(await harness.eventually(timeout: 30) { harness.renameRequests.count >= attempts })
            #expect(harness.renameRequests.count == attempts)
            #expect(harness.appliedRenames.count == 1)
            #expect(harness.emulator.state.requests.contains { $0.operation == "lookup" })
            #expect(harness.emulator.state.asset(publicID: "products/b", resourceType: "image", type: "upload") != nil)
        }
    }

    @Test func appliedThenDroppedIsReconciledWithoutASecondRename() async throws {
        try await Harness.run { harness in
            harness.emulator.state.seed(publicID: "products/a")
            harness.emulator.state.addFault(.init(operation: "rename", applyThenDrop: true))
            let id = try #require(
                try await harness.submit(["from_public_id": "products/a", "to_public_id": "products/b", "invalidate": false]).json["id"] as? String
            )
            let job = try await harness.waitForJob(id, status: "completed")
            #expect(job["attempts"] as? Int == 1)
            #expect(harness.renameRequests.count == 1)
            #expect(harness.appliedRenames.count == 1)
            #expect((job["result"] as? [String: Any])?["public_id"] as? String == "products/b")
        }
    }

    /// A 2xx without the documented JSON (a proxy's page, an error body) proves nothing: the outcome
    /// is unknown, the lookup decides, and the rename is applied exactly once (SPEC §10). Here the
    /// 200 came without renaming, so the job must not complete before a second call renames it.
    @Test func aTwoHundredWithoutTheDocumentedJSONIsReconciled() async throws {
        try await Harness.run { harness in
            harness.emulator.state.seed(publicID: "products/a")
            harness.emulator.state.addFault(.init(operation: "rename", status: 200, message: "not a resource", times: 1))
            let id = try #require(
                try await harness.submit(["from_public_id": "products/a", "to_public_id": "products/b", "invalidate": false]).json["id"] as? String
            )
            let job = try await harness.waitForJob(id, status: "completed")
            #expect(job["status"] as? String == "completed")
            #expect(job["attempts"] as? Int == 2)
            #expect(harness.emulator.state.requests.contains { $0.operation == "lookup" })
            #expect(harness.appliedRenames.count == 1)
            #expect(harness.emulator.state.asset(publicID: "products/b", resourceType: "image", type: "upload") != nil)
        }
    }

    @Test func sameAssetJobsRunInOrder() async throws {
        try await Harness.run { harness in
            harness.emulator.state.seed(publicID: "products/a")
            let first = try #require(
                try await harness.submit(["from_public_id": "products/a", "to_public_id": "products/b", "invalidate": false]).json["id"] as? String
            )
            let second = try #require(
                try await harness.submit(["from_public_id": "products/b", "to_public_id": "products/c", "invalidate": false]).json["id"] as? String
            )
            #expect(try await harness.waitForJob(first, status: "completed")["status"] as? String == "completed")
            #expect(try await harness.waitForJob(second, status: "completed")["status"] as? String == "completed")
            #expect(harness.appliedRenames.map { $0.fields?["from_public_id"] ?? "" } == ["products/a", "products/b"])
            #expect(harness.emulator.state.asset(publicID: "products/c", resourceType: "image", type: "upload") != nil)
        }
    }
}
