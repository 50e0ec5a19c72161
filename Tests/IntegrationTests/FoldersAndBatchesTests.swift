import CloudinaryEmulator
import Foundation
import NIOHTTP1
import RenamerCore
import RenamerServer
import Testing

/// SPEC §11 through the daemon's HTTP API and the emulator, in process: asset updates, folder
/// renames in both modes, dry runs, batches, prefix holds and the Admin API budget.
@Suite("Folders, moves and batches")
struct FoldersAndBatchesTests {
    static func settings(_ mode: EmulatorSettings.FolderMode = .dynamic) -> EmulatorSettings {
        var settings = EmulatorSettings()
        settings.invalidationDelaySeconds = 0
        settings.folderMode = mode
        return settings
    }

    static let fixed = ["clouds.main.folder_mode": "fixed"]

    func post(_ harness: Harness, _ path: String, _ fields: [String: Any], headers: [(String, String)] = []) async throws -> Harness.Reply {
        try await harness.request(.POST, harness.daemonURL + path, body: try JSONSerialization.data(withJSONObject: fields), headers: headers)
    }

    /// Polls `path` until its status is final (or `timeout` seconds pass); returns its last JSON.
    func waitFinal(_ harness: Harness, _ path: String, timeout: Double = 30) async throws -> [String: Any] {
        var last: [String: Any] = [:]
        _ = try await harness.eventually(timeout: timeout) {
            last = try await harness.request(.GET, harness.daemonURL + path).json
            return ["completed", "failed", "cancelled"].contains(last["status"] as? String ?? "")
        }
        return last
    }

    /// Every item of a folder rename or batch, following `next_cursor`.
    func items(_ harness: Harness, _ path: String, limit: Int = 100) async throws -> [[String: Any]] {
        var items: [[String: Any]] = []
        var cursor: String?
        repeat {
            let query = "?limit=\(limit)" + (cursor.map { "&cursor=\($0)" } ?? "")
            let page = try await harness.request(.GET, harness.daemonURL + path + "/items" + query).json
            items += page["items"] as? [[String: Any]] ?? []
            cursor = page["next_cursor"] as? String
        } while cursor != nil
        return items
    }

    func callbackTypes(_ harness: Harness) -> [String] {
        harness.receiver.deliveries.filter(\.verified).compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: Any])?["type"] as? String
        }
    }

    // MARK: Asset updates

    @Test func anAssetUpdateMovesTheAssetAndCallsBackOnce() async throws {
        try await Harness.run(Harness.patientCloudinary, emulatorSettings: Self.settings()) { harness in
            harness.emulator.state.seed(publicID: "products/a")
            let reply = try await post(
                harness,
                "/v1/asset-updates",
                ["public_id": "products/a", "asset_folder": "shop/new", "display_name": "A", "callback_url": harness.callbackURL]
            )
            #expect(reply.status == 202)
            let id = try #require(reply.json["id"] as? String)
            #expect(id.hasPrefix("au_"))
            #expect(reply.header("Location") == "/v1/asset-updates/\(id)")
            let job = try await waitFinal(harness, "/v1/asset-updates/\(id)")
            #expect(job["status"] as? String == "completed")
            #expect((job["result"] as? [String: Any])?["asset_folder"] as? String == "shop/new")
            let asset = try #require(harness.emulator.state.asset(publicID: "products/a", resourceType: "image", type: "upload"))
            #expect(asset.assetFolder == "shop/new" && asset.displayName == "A")
            #expect(harness.emulator.state.appliedUpdates.count == 1)
            #expect(harness.renameRequests.isEmpty)
            #expect(await harness.eventually { callbackTypes(harness) == ["asset_update.completed"] })
            // Read under its own path only.
            #expect(try await harness.request(.GET, harness.daemonURL + "/v1/renames/\(id)").status == 404)
            let list = try await harness.request(.GET, harness.daemonURL + "/v1/asset-updates").json
            #expect((list["items"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [id])
            #expect(((try await harness.request(.GET, harness.daemonURL + "/v1/renames").json)["items"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func assetUpdatesAreRefusedOnFixedCloudsAndWithoutFields() async throws {
        try await Harness.run(Self.fixed, emulatorSettings: Self.settings(.fixed)) { harness in
            let fixed = try await post(harness, "/v1/asset-updates", ["public_id": "products/a", "asset_folder": "x"])
            #expect(fixed.status == 422)
            #expect(fixed.fieldErrors == ["asset_folder"])
        }
        try await Harness.run(emulatorSettings: Self.settings()) { harness in
            let empty = try await post(harness, "/v1/asset-updates", ["public_id": "products/a"])
            #expect(empty.status == 422)
            #expect(empty.fieldErrors == ["asset_folder"])
            let nulls = try await post(harness, "/v1/asset-updates", ["public_id": "products/a", "asset_folder": NSNull(), "display_name": NSNull()])
            #expect(nulls.status == 422)
            #expect(nulls.fieldErrors == ["asset_folder"])
            let outside = try await post(harness, "/v1/asset-updates", ["public_id": "other/a", "display_name": "x"])
            #expect(outside.status == 403)
        }
    }

    // MARK: Folder renames

    @Test func aDynamicFolderRenameIsOneAdminCall() async throws {
        try await Harness.run(Harness.patientCloudinary, emulatorSettings: Self.settings()) { harness in
            for name in ["a", "b", "c/d"] { harness.emulator.state.seed(publicID: "products/\(name)", assetFolder: "products/old") }
            harness.emulator.state.clearRequests()
            let reply = try await post(
                harness,
                "/v1/folder-renames",
                ["from_folder": "products/old", "to_folder": "products/new", "callback_url": harness.callbackURL]
            )
            #expect(reply.status == 202)
            let id = try #require(reply.json["id"] as? String)
            #expect(id.hasPrefix("fr_"))
            let job = try await waitFinal(harness, "/v1/folder-renames/\(id)")
            #expect(job["status"] as? String == "completed")
            #expect(job["folder_mode"] as? String == "dynamic")
            let calls = harness.emulator.state.requests.map(\.operation)
            #expect(calls == ["folder_rename"])
            #expect(harness.emulator.state.assets.allSatisfy { $0.assetFolder == "products/new" })
            #expect(try await items(harness, "/v1/folder-renames/\(id)").isEmpty)
            #expect(await harness.eventually { callbackTypes(harness) == ["folder_rename.completed"] })
        }
    }

    /// Fixed mode: every asset under the prefix in every listed type, across pages, renamed once;
    /// a colliding target fails with 409; neighbours of the folder are untouched; one callback.
    @Test func aFixedFolderRenameRenamesEveryItemOnce() async throws {
        try await Harness.run(Self.fixed, emulatorSettings: Self.settings(.fixed)) { harness in
            var seeds: [EmulatorAssetSeed] = []
            for index in 0..<30 { seeds.append(.init(publicID: "products/old/img\(index)")) }
            for index in 0..<4 { seeds.append(.init(publicID: "products/old/sub/vid\(index)", resourceType: "video")) }
            seeds.append(.init(publicID: "products/old/doc.pdf", resourceType: "raw"))
            seeds.append(.init(publicID: "products/old/secret", type: "private"))
            // Outside the folder, and a target that exists already.
            seeds += [.init(publicID: "products/old"), .init(publicID: "products/oldish/x"), .init(publicID: "products/new/img7")]
            harness.emulator.state.seed(seeds)
            let reply = try await post(
                harness,
                "/v1/folder-renames",
                ["from_folder": "products/old", "to_folder": "products/new", "callback_url": harness.callbackURL]
            )
            #expect(reply.status == 202)
            let id = try #require(reply.json["id"] as? String)
            let job = try await waitFinal(harness, "/v1/folder-renames/\(id)")
            #expect(job["status"] as? String == "completed")
            let result = try #require(job["result"] as? [String: Any])
            #expect(result["items"] as? Int == 36)
            #expect(result["renamed"] as? Int == 35)
            #expect(result["failed"] as? Int == 1)
            #expect(result["skipped"] as? Int == 0)
            let listed = try await items(harness, "/v1/folder-renames/\(id)", limit: 7)
            #expect(listed.count == 36)
            let failed = listed.filter { $0["status"] as? String == "failed" }
            #expect(failed.compactMap { $0["from_public_id"] as? String } == ["products/old/img7"])
            #expect((failed.first?["error"] as? [String: Any])?["cloudinary_status"] as? Int == 409)
            let video = try #require(listed.first { $0["from_public_id"] as? String == "products/old/sub/vid2" })
            #expect(video["to_public_id"] as? String == "products/new/sub/vid2")
            #expect((video["old_url"] as? String)?.hasSuffix("/video/upload/products/old/sub/vid2") == true)
            #expect((video["new_url"] as? String)?.hasSuffix("/video/upload/products/new/sub/vid2") == true)
            // Each asset renamed exactly once; the neighbours are where they were.
            let applied = harness.emulator.state.appliedRenames
            #expect(applied.count == 35 && applied.values.allSatisfy { $0 == 1 })
            let state = harness.emulator.state
            #expect(state.asset(publicID: "products/old", resourceType: "image", type: "upload") != nil)
            #expect(state.asset(publicID: "products/oldish/x", resourceType: "image", type: "upload") != nil)
            #expect(state.asset(publicID: "products/new/secret", resourceType: "image", type: "private") != nil)
            #expect(await harness.eventually { callbackTypes(harness) == ["folder_rename.completed"] })
            // Items are listed through their folder rename only.
            #expect(((try await harness.request(.GET, harness.daemonURL + "/v1/renames").json)["items"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func aDryRunChangesNothingAndListsTheCollision() async throws {
        try await Harness.run(Self.fixed, emulatorSettings: Self.settings(.fixed)) { harness in
            harness.emulator.state.seed((0..<12).map { .init(publicID: "products/old/a\($0)") } + [.init(publicID: "products/new/a3")])
            let reply = try await post(
                harness,
                "/v1/folder-renames",
                ["from_folder": "products/old", "to_folder": "products/new", "dry_run": true, "callback_url": harness.callbackURL]
            )
            let id = try #require(reply.json["id"] as? String)
            let job = try await waitFinal(harness, "/v1/folder-renames/\(id)")
            #expect(job["status"] as? String == "completed")
            let plan = try #require(job["result"] as? [String: Any])
            #expect(plan["items"] as? Int == 12)
            #expect(plan["existing_targets"] as? [String] == ["products/new/a3"])
            #expect((plan["sample"] as? [Any])?.count == 12)
            #expect(harness.renameRequests.isEmpty)
            #expect(await harness.eventually { callbackTypes(harness) == ["folder_rename.completed"] })
        }
    }

    /// A rename under a prefix that a folder rename holds, accepted after it, calls Cloudinary only
    /// once every item's call has returned: it finds its source moved (404).
    @Test func aRenameUnderAHeldPrefixWaitsForTheFolder() async throws {
        try await Harness.run(Self.fixed, emulatorSettings: Self.settings(.fixed)) { harness in
            harness.emulator.state.seed((0..<20).map { .init(publicID: "products/old/a\($0)") })
            // Every item's call takes a while, so the single rename arrives mid-folder.
            harness.emulator.state.addFault(EmulatorFault(operation: "rename", hangSeconds: 0.1, times: 20))
            let folder = try await post(harness, "/v1/folder-renames", ["from_folder": "products/old", "to_folder": "products/new"])
            let folderID = try #require(folder.json["id"] as? String)
            #expect(await harness.eventually { harness.renameRequests.count >= 1 })
            let single = try await harness.submit(["from_public_id": "products/old/a19", "to_public_id": "products/other/z"])
            let singleID = try #require(single.json["id"] as? String)
            let folderJob = try await waitFinal(harness, "/v1/folder-renames/\(folderID)")
            #expect((folderJob["result"] as? [String: Any])?["renamed"] as? Int == 20)
            let singleJob = try await harness.waitForJob(singleID, status: "failed")
            #expect((singleJob["error"] as? [String: Any])?["cloudinary_status"] as? Int == 404)
            let calls = harness.renameRequests.map { $0.fields?["from_public_id"] ?? "" }
            #expect(calls.count == 21)
            #expect(calls.last == "products/old/a19")
        }
    }

    @Test func cancellingAFolderRenameSkipsItemsThatHaveNotStarted() async throws {
        try await Harness.run(Self.fixed.merging(["clouds.main.max_concurrent_requests": "1"]) { $1 }, emulatorSettings: Self.settings(.fixed)) {
            harness in
            harness.emulator.state.seed((0..<30).map { .init(publicID: "products/old/a\($0)") })
            harness.emulator.state.addFault(EmulatorFault(operation: "rename", hangSeconds: 0.2, times: 30))
            let folder = try await post(harness, "/v1/folder-renames", ["from_folder": "products/old", "to_folder": "products/new"])
            let id = try #require(folder.json["id"] as? String)
            #expect(await harness.eventually { harness.renameRequests.count >= 2 })
            let cancel = try await harness.request(.DELETE, harness.daemonURL + "/v1/folder-renames/\(id)")
            #expect(cancel.status == 200)
            let job = try await waitFinal(harness, "/v1/folder-renames/\(id)")
            #expect(job["status"] as? String == "cancelled")
            let result = try #require(job["result"] as? [String: Any])
            let renamed = result["renamed"] as? Int ?? -1
            let skipped = result["skipped"] as? Int ?? -1
            #expect(renamed >= 2 && skipped > 0 && renamed + skipped == 30)
            #expect(harness.emulator.state.appliedRenames.count == renamed)
        }
    }

    // MARK: Batches

    @Test func aBatchRunsAChainInListOrder() async throws {
        try await Harness.run(emulatorSettings: Self.settings()) { harness in
            harness.emulator.state.seed(publicID: "products/a")
            harness.emulator.state.seed(publicID: "products/x")
            let reply = try await post(
                harness,
                "/v1/batches",
                [
                    "items": [
                        ["from_public_id": "products/a", "to_public_id": "products/b"],
                        ["from_public_id": "products/b", "to_public_id": "products/c"],
                        ["from_public_id": "products/x", "to_public_id": "products/y"],
                    ],
                    "callback_url": harness.callbackURL,
                ]
            )
            #expect(reply.status == 202)
            let id = try #require(reply.json["id"] as? String)
            #expect(id.hasPrefix("bt_"))
            let job = try await waitFinal(harness, "/v1/batches/\(id)")
            #expect(job["status"] as? String == "completed")
            #expect((job["result"] as? [String: Any])?["renamed"] as? Int == 3)
            let state = harness.emulator.state
            #expect(state.asset(publicID: "products/c", resourceType: "image", type: "upload") != nil)
            #expect(state.asset(publicID: "products/a", resourceType: "image", type: "upload") == nil)
            #expect(state.asset(publicID: "products/b", resourceType: "image", type: "upload") == nil)
            let listed = try await items(harness, "/v1/batches/\(id)")
            #expect(listed.compactMap { $0["to_public_id"] as? String } == ["products/b", "products/c", "products/y"])
            #expect(await harness.eventually { callbackTypes(harness) == ["batch.completed"] })
        }
    }

    @Test func aBatchIsValidatedAllOrNothing() async throws {
        try await Harness.run(emulatorSettings: Self.settings()) { harness in
            let bad = try await post(
                harness,
                "/v1/batches",
                [
                    "items": [
                        ["from_public_id": "products/a", "to_public_id": "products/b"],
                        ["from_public_id": "products/c", "to_public_id": "bad?id"],
                        ["from_public_id": "products/d", "to_public_id": "products/e", "callback_url": "http://x/"],
                    ]
                ]
            )
            #expect(bad.status == 422)
            #expect(bad.fieldErrors == ["items[1].to_public_id", "items[2].callback_url"])
            #expect(try await post(harness, "/v1/batches", ["items": []]).status == 422)
            let forbidden = try await post(harness, "/v1/batches", ["items": [["from_public_id": "products/a", "to_public_id": "other/b"]]])
            #expect(forbidden.status == 403)
            #expect(forbidden.fieldErrors == ["items[0].to_public_id"])
            #expect(((try await harness.request(.GET, harness.daemonURL + "/v1/batches").json)["items"] as? [Any])?.isEmpty == true)
            #expect(
                try await post(
                    harness,
                    "/v1/batches",
                    ["items": Array(repeating: ["from_public_id": "products/a", "to_public_id": "products/b"], count: 1001)]
                ).status == 422
            )
        }
    }

    /// A full batch of 1,000 renames is larger than one rename's body limit, and accepted.
    @Test func aThousandItemBatchIsAccepted() async throws {
        try await Harness.run(emulatorSettings: Self.settings()) { harness in
            let items = (0..<1000).map {
                ["from_public_id": "products/catalogue-2026/spring/item-\($0)", "to_public_id": "products/catalogue-2026/summer/item-\($0)"]
            }
            let body = try JSONSerialization.data(withJSONObject: ["items": items, "invalidate": false])
            #expect(body.count > 65536)
            let reply = try await harness.request(.POST, harness.daemonURL + "/v1/batches", body: body)
            #expect(reply.status == 202)
            let id = try #require(reply.json["id"] as? String)
            // A bound against a hang: 1,000 renames took more than 30 s with busy loops on both cores.
            let job = try await waitFinal(harness, "/v1/batches/\(id)", timeout: 180)
            // None of the sources exists: every item fails with 404, and the batch completes.
            #expect(job["status"] as? String == "completed")
            #expect((job["result"] as? [String: Any])?["failed"] as? Int == 1000)
        }
    }

    // MARK: Admin API budget

    /// With its budget spent, Admin API work stays queued while Upload API renames go on.
    @Test func aSpentBudgetHoldsAdminWorkOnly() async throws {
        try await Harness.run(
            Harness.patientCloudinary.merging(["clouds.main.admin_api_max_requests_per_hour": "3"]) { $1 },
            emulatorSettings: Self.settings()
        ) { harness in
            for index in 0..<5 { harness.emulator.state.seed(publicID: "products/u\(index)") }
            harness.emulator.state.seed(publicID: "products/r")
            var ids: [String] = []
            for index in 0..<5 {
                let reply = try await post(harness, "/v1/asset-updates", ["public_id": "products/u\(index)", "display_name": "u\(index)"])
                ids.append(try #require(reply.json["id"] as? String))
            }
            let rename = try await harness.submit(["from_public_id": "products/r", "to_public_id": "products/r2", "invalidate": false])
            let renameID = try #require(rename.json["id"] as? String)
            #expect(try await harness.waitForJob(renameID, status: "completed")["status"] as? String == "completed")
            var statuses: [String] = []
            #expect(
                try await harness.eventually {
                    statuses = []
                    for id in ids {
                        statuses.append(
                            try await harness.request(.GET, harness.daemonURL + "/v1/asset-updates/\(id)").json["status"] as? String ?? ""
                        )
                    }
                    return statuses.filter { $0 == "completed" }.count == 3
                }
            )
            #expect(statuses.filter { $0 == "queued" }.count == 2)
            #expect(harness.emulator.state.adminUsage.calls == 3)
        }
    }

    /// Cloudinary's own budget: the daemon reads `X-FeatureRateLimit-Remaining: 0` and waits for
    /// the reset instead of running into `420`s.
    @Test func theAccountsRateLimitHeadersPauseAdminWork() async throws {
        var settings = Self.settings()
        settings.adminAPIBudget = 2
        settings.adminAPIWindowSeconds = 1.5
        try await Harness.run(Harness.patientCloudinary, emulatorSettings: settings) { harness in
            for index in 0..<5 { harness.emulator.state.seed(publicID: "products/u\(index)") }
            var ids: [String] = []
            for index in 0..<5 {
                let reply = try await post(harness, "/v1/asset-updates", ["public_id": "products/u\(index)", "display_name": "u\(index)"])
                ids.append(try #require(reply.json["id"] as? String))
            }
            for id in ids {
                #expect(try await waitFinal(harness, "/v1/asset-updates/\(id)")["status"] as? String == "completed")
            }
            let usage = harness.emulator.state.adminUsage
            #expect(usage.maxInWindow <= 2)
            #expect(usage.calls - usage.rejected == 5)
        }
    }
}
