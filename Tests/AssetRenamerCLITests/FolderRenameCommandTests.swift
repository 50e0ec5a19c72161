import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RenamerTestSupport
import Testing

/// SPEC §11 with the real binaries: `cloudinary-emulator`, `asset-renamer serve`, and the client
/// subcommands `folder-rename`, `batch` and `move`.
@Suite("Folder renames and batches, real binaries")
struct FolderRenameCommandTests {
    static let token = "dev-token-change-me"

    /// The emulator and a daemon pointed at it, stopped before returning (also when `body` throws).
    struct World {
        var emulator: Subprocess
        var emulatorPort: Int
        var daemon: Subprocess
        var daemonPort: Int

        var emulatorURL: String { "http://127.0.0.1:\(emulatorPort)" }
        var daemonURL: String { "http://127.0.0.1:\(daemonPort)" }

        func emulatorCall(_ method: HTTPMethod, _ path: String, _ body: Any? = nil) async throws -> (Int, Any?) {
            try await FolderRenameCommandTests.call(method, emulatorURL + path, body: body, token: nil)
        }

        func daemonCall(_ method: HTTPMethod, _ path: String, _ body: Any? = nil) async throws -> (Int, Any?) {
            try await FolderRenameCommandTests.call(method, daemonURL + path, body: body, token: FolderRenameCommandTests.token)
        }

        /// Runs an `asset-renamer` client subcommand against the daemon.
        func client(_ arguments: [String], stdin: Data? = nil) async throws -> (status: Int32?, stdout: String, stderr: String) {
            try await Subprocess.run(
                "asset-renamer",
                arguments + ["--url", daemonURL],
                environment: ["RENAMER_TOKEN": FolderRenameCommandTests.token],
                stdin: stdin
            )
        }

        /// What a test shows when it fails: the end of both logs.
        var logs: String {
            "daemon:\n" + daemon.standardError.split(separator: "\n").suffix(15).joined(separator: "\n") + "\nemulator:\n"
                + emulator.standardError.split(separator: "\n").suffix(5).joined(separator: "\n")
        }
    }

    /// `serve` flags for a daemon pointed at the emulator on `emulatorPort`.
    static func settings(_ emulatorPort: Int, folderMode: String, _ extra: [String]) -> [String] {
        [
            "clouds.main.upload_prefix=http://127.0.0.1:\(emulatorPort)",
            "clouds.main.delivery_base_url=http://127.0.0.1:\(emulatorPort)/demo",
            "clouds.main.folder_mode=\(folderMode)",
            "clients.catalog.callback_url_prefixes=http://127.0.0.1:\(emulatorPort)/_emulator/callbacks/",
            "clients.catalog.default_callback_url=http://127.0.0.1:\(emulatorPort)/_emulator/callbacks/renames",
            "queue.backoff_base_seconds=0.05", "queue.backoff_cap_seconds=0.2",
        ].flatMap { ["--set", $0] } + extra.flatMap { ["--set", $0] }
    }

    static func withWorld(folderMode: String, _ settings: [String] = [], _ body: (World) async throws -> Void) async throws {
        let (emulator, emulatorPort) = try await RenameCommandTests.startEmulator(["--folder-mode", folderMode])
        let daemon: Subprocess
        let daemonPort: Int
        do {
            (daemon, daemonPort) = try await ServeTests.startDaemon(Self.settings(emulatorPort, folderMode: folderMode, settings))
        } catch {
            emulator.signal(SIGTERM)
            _ = await emulator.waitForExit(timeout: 10)
            throw error
        }
        let world = World(emulator: emulator, emulatorPort: emulatorPort, daemon: daemon, daemonPort: daemonPort)
        func stop() async {
            daemon.signal(SIGTERM)
            emulator.signal(SIGTERM)
            _ = await daemon.waitForExit(timeout: 30)
            _ = await emulator.waitForExit(timeout: 10)
        }
        do {
            _ = try await world.emulatorCall(.POST, "/_emulator/settings", ["invalidation_delay_seconds": 0])
            try await body(world)
        } catch {
            await stop()
            throw error
        }
        await stop()
    }

    /// A fixed-mode folder of 2,500 assets across image, video and raw (several pages each), with
    /// one colliding target, 3 % of renames failing transiently and one rename whose outcome is
    /// unknown: every item ends renamed exactly once or failed with its reason, the counts and the
    /// URL map are right, one callback, and the Admin API budget is never exceeded.
    @Test func aFixedFolderOfTwoAndAHalfThousandAssets() async throws {
        let seed = TestRandom.seed % 1_000_000_007
        try await Self.withWorld(folderMode: "fixed", ["clouds.main.admin_api_max_requests_per_hour=60"]) { world in
            var seeds: [[String: Any]] = []
            for index in 0..<1_800 { seeds.append(["public_id": "products/big/img\(index)"]) }
            for index in 0..<500 { seeds.append(["public_id": "products/big/clips/v\(index)", "resource_type": "video"]) }
            for index in 0..<200 { seeds.append(["public_id": "products/big/docs/d\(index).pdf", "resource_type": "raw"]) }
            // Neighbours that are not in the folder, and a target that exists already.
            seeds += [["public_id": "products/big"], ["public_id": "products/bigger/x"], ["public_id": "products/moved/img17"]]
            #expect(try await world.emulatorCall(.POST, "/_emulator/assets", seeds).0 == 201)
            _ = try await world.emulatorCall(.POST, "/_emulator/settings", ["fault_seed": seed])
            // The first rename is applied but never answered; then 3 % answer 503.
            _ = try await world.emulatorCall(.POST, "/_emulator/faults", ["operation": "rename", "apply_then_drop": true, "times": 1])
            _ = try await world.emulatorCall(.POST, "/_emulator/faults", ["operation": "rename", "status": 503, "probability": 0.03])

            // A dry run first: it changes nothing and lists the colliding target.
            let dryRun = try await world.client(["folder-rename", "products/big", "products/moved", "--dry-run", "--wait"])
            #expect(dryRun.status == 0, "\(dryRun)")
            let plan = (try? JSONSerialization.jsonObject(with: Data(dryRun.stdout.utf8)) as? [String: Any])?["result"] as? [String: Any]
            #expect(plan?["items"] as? Int == 2_500)
            #expect(plan?["existing_targets"] as? [String] == ["products/moved/img17"])
            #expect((plan?["sample"] as? [Any])?.count == 100)
            #expect((try await world.emulatorCall(.GET, "/_emulator/renames").1 as? [String: Int])?.isEmpty == true)

            let run = try await world.client(["folder-rename", "products/big", "products/moved", "--wait", "--timeout", "240"])
            let job = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run)\n\(world.logs)")
            #expect(run.status == 0, "seed \(seed)\n\(run.stderr)\n\(world.logs)")
            #expect(job["status"] as? String == "completed")
            #expect(run.stderr.contains("items 2500/2500 done (renamed 2499, failed 1, skipped 0)"), "\(run.stderr)")
            let result = try #require(job["result"] as? [String: Any])
            #expect(result["items"] as? Int == 2_500)
            #expect(result["renamed"] as? Int == 2_499)
            #expect(result["failed"] as? Int == 1)
            let id = try #require(job["id"] as? String)

            // The URL map: every item, its old and new delivery URL, and the one failure's reason.
            var items: [[String: Any]] = []
            var cursor: String?
            repeat {
                let (status, page) = try await world.daemonCall(
                    .GET,
                    "/v1/folder-renames/\(id)/items?limit=1000" + (cursor.map { "&cursor=\($0)" } ?? "")
                )
                #expect(status == 200)
                let object = page as? [String: Any] ?? [:]
                items += object["items"] as? [[String: Any]] ?? []
                cursor = object["next_cursor"] as? String
            } while cursor != nil
            #expect(items.count == 2_500)
            #expect(Set(items.compactMap { $0["from_public_id"] as? String }).count == 2_500)
            let base = "\(world.emulatorURL)/demo/"
            for item in items {
                let from = item["from_public_id"] as? String ?? ""
                let to = item["to_public_id"] as? String ?? ""
                #expect(to == "products/moved/" + from.dropFirst("products/big/".count))
                let type = item["resource_type"] as? String ?? ""
                #expect(item["old_url"] as? String == base + "\(type)/upload/\(from)")
                #expect(item["new_url"] as? String == base + "\(type)/upload/\(to)")
            }
            let failed = items.filter { $0["status"] as? String == "failed" }
            #expect(failed.compactMap { $0["from_public_id"] as? String } == ["products/big/img17"])
            #expect((failed.first?["error"] as? [String: Any])?["cloudinary_status"] as? Int == 409)
            #expect(items.filter { $0["status"] as? String == "completed" }.count == 2_499)

            // Renamed exactly once each; the neighbours stayed.
            let applied = try #require(try await world.emulatorCall(.GET, "/_emulator/renames").1 as? [String: Int])
            #expect(applied.count == 2_499)
            #expect(applied.values.allSatisfy { $0 == 1 })
            let assets = try #require(try await world.emulatorCall(.GET, "/_emulator/assets").1 as? [[String: Any]])
            let ids = Set(assets.compactMap { $0["public_id"] as? String })
            #expect(ids.isSuperset(of: ["products/big", "products/bigger/x", "products/big/img17"]))
            #expect(ids.filter { $0.hasPrefix("products/big/") } == ["products/big/img17"])
            // The unknown outcome was reconciled through the Admin API, not renamed again.
            #expect(world.daemon.standardError.contains("reconciled: rename had been applied"), "\(world.logs)")

            // One callback for the dry run and one for the whole folder, and the budget held.
            #expect(
                await waitUntil(timeout: 10) { (try? await world.emulatorCall(.GET, "/_emulator/callbacks").1 as? [String: Int])?["received"] == 2 }
            )
            let usage = try #require(try await world.emulatorCall(.GET, "/_emulator/admin-usage").1 as? [String: Any])
            let calls = usage["calls"] as? Int ?? .max
            // Per listing, at least one call per (resource type, delivery type) pair and one per further
            // page: the dry run lists both folders (9 + 9 + 3), the run one (9 + 3).
            #expect(calls <= 60 && calls >= 33, "\(usage)")
            #expect(usage["rejected"] as? Int == 0)
        }
    }

    /// A journal in a temporary folder for `body` (its `storage.path` setting), removed after.
    static func withJournal(_ name: String, _ body: (String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body("storage.path=\(directory.appending(path: "renamer.sqlite").path)")
    }

    /// Starts a daemon again on `journal` and waits until folder rename `id` is final; returns its
    /// JSON, and stops the daemon.
    static func restartAndWaitFinal(_ world: World, journal: String, id: String, timeout: Double) async throws -> [String: Any] {
        let (restarted, port) = try await ServeTests.startDaemon(settings(world.emulatorPort, folderMode: "fixed", [journal]))
        let url = "http://127.0.0.1:\(port)/v1/folder-renames/\(id)"
        let final = await waitFor(timeout: timeout) { () -> [String: Any]? in
            guard let job = (try? await call(.GET, url, body: nil, token: token).1) as? [String: Any],
                ["completed", "failed", "cancelled"].contains(job["status"] as? String ?? "")
            else { return nil }
            return job
        }
        restarted.signal(SIGTERM)
        _ = await restarted.waitForExit(timeout: 30)
        return try #require(final, "\(restarted.standardError.suffix(3000))")
    }

    /// The number of distinct public IDs the emulator renamed so far.
    static func appliedCount(_ world: World) async -> Int {
        ((try? await world.emulatorCall(.GET, "/_emulator/renames").1) as? [String: Int])?.count ?? 0
    }

    /// `kill -9` in the middle of a fixed-mode folder rename: after a restart on the same journal it
    /// goes on where it stood (listing and items), every asset is renamed exactly once, the counts
    /// are right and there is one callback.
    @Test func aFolderRenameSurvivesKillDashNine() async throws {
        try await Self.withJournal("folder-kill") { journal in
            try await Self.withWorld(folderMode: "fixed", [journal, "clouds.main.max_concurrent_requests=4"]) { world in
                let seeds: [[String: Any]] = (0..<1_200).map { ["public_id": "products/big/a\($0)"] }
                #expect(try await world.emulatorCall(.POST, "/_emulator/assets", seeds).0 == 201)
                // Slow renames, so that the kill lands mid-folder with calls in flight.
                _ = try await world.emulatorCall(.POST, "/_emulator/faults", ["operation": "rename", "hang_seconds": 0.01])
                let (status, accepted) = try await world.daemonCall(
                    .POST,
                    "/v1/folder-renames",
                    ["from_folder": "products/big", "to_folder": "products/moved"]
                )
                #expect(status == 202)
                let id = try #require((accepted as? [String: Any])?["id"] as? String)
                #expect(await waitUntil(timeout: 60) { await Self.appliedCount(world) >= 300 }, "\(world.logs)")
                world.daemon.signal(SIGKILL)
                #expect(await Self.appliedCount(world) < 1_200, "the kill came after the last rename")
                _ = await world.daemon.waitForExit(timeout: 10)

                let job = try await Self.restartAndWaitFinal(world, journal: journal, id: id, timeout: 120)
                #expect(job["status"] as? String == "completed")
                let result = job["result"] as? [String: Any] ?? [:]
                #expect(result["items"] as? Int == 1_200 && result["renamed"] as? Int == 1_200, "\(result)")
                let renames = try #require(try await world.emulatorCall(.GET, "/_emulator/renames").1 as? [String: Int])
                #expect(renames.count == 1_200 && renames.values.allSatisfy { $0 == 1 }, "\(renames.filter { $0.value != 1 })")
                #expect(
                    await waitUntil(timeout: 10) {
                        (try? await world.emulatorCall(.GET, "/_emulator/callbacks").1 as? [String: Int])?["received"] == 1
                    }
                )
            }
        }
    }

    /// A folder rename cancelled mid-way, then `kill -9`: after the restart it lists nothing more,
    /// starts none of its remaining items, and ends `cancelled` with every item counted once.
    @Test func aCancelSurvivesKillDashNine() async throws {
        try await Self.withJournal("folder-cancel") { journal in
            try await Self.withWorld(folderMode: "fixed", [journal, "clouds.main.max_concurrent_requests=2"]) { world in
                let seeds: [[String: Any]] = (0..<1_500).map { ["public_id": "products/big/a\($0)"] }
                #expect(try await world.emulatorCall(.POST, "/_emulator/assets", seeds).0 == 201)
                _ = try await world.emulatorCall(.POST, "/_emulator/faults", ["operation": "rename", "hang_seconds": 0.01])
                let (_, accepted) = try await world.daemonCall(
                    .POST,
                    "/v1/folder-renames",
                    ["from_folder": "products/big", "to_folder": "products/moved"]
                )
                let id = try #require((accepted as? [String: Any])?["id"] as? String)
                #expect(await waitUntil(timeout: 60) { await Self.appliedCount(world) >= 50 }, "\(world.logs)")
                #expect(try await world.daemonCall(.DELETE, "/v1/folder-renames/\(id)").0 == 200, "\(world.logs)")
                world.daemon.signal(SIGKILL)
                _ = await world.daemon.waitForExit(timeout: 10)
                let atKill = await Self.appliedCount(world)

                let job = try await Self.restartAndWaitFinal(world, journal: journal, id: id, timeout: 60)
                #expect(job["status"] as? String == "cancelled")
                let result = job["result"] as? [String: Any] ?? [:]
                let renamed = result["renamed"] as? Int ?? -1
                let skipped = result["skipped"] as? Int ?? -1
                #expect(renamed + skipped == result["items"] as? Int ?? -2 && skipped > 0, "\(result)")
                let renames = try #require(try await world.emulatorCall(.GET, "/_emulator/renames").1 as? [String: Int])
                // Calls in flight at the kill may have been applied; nothing started after the restart.
                #expect(renames.count == renamed && renames.count <= atKill + 2, "\(renames.count) applied, \(atKill) at the kill, \(result)")
                #expect(renames.values.allSatisfy { $0 == 1 })
            }
        }
    }

    /// The same folder in dynamic mode is one Admin API call, with no listing and no rename; a dry
    /// run changes nothing; `move` changes an asset's folder.
    @Test func dynamicFoldersAreOneCallAndDryRunsChangeNothing() async throws {
        try await Self.withWorld(folderMode: "dynamic") { world in
            let seeds: [[String: Any]] = (0..<300).map { ["public_id": "products/d\($0)", "asset_folder": "products/big"] }
            #expect(try await world.emulatorCall(.POST, "/_emulator/assets", seeds).0 == 201)
            let dryRun = try await world.client(["folder-rename", "products/big", "products/moved", "--dry-run", "--wait"])
            #expect(dryRun.status == 0, "\(dryRun)")
            let run = try await world.client(["folder-rename", "products/big", "products/moved", "--wait"])
            #expect(run.status == 0, "\(run)\n\(world.logs)")
            let requests = try #require(try await world.emulatorCall(.GET, "/_emulator/requests").1 as? [[String: Any]])
            let operations = requests.compactMap { $0["operation"] as? String }.filter { $0 != "delivery" }
            #expect(operations == ["folder_rename"])
            let assets = try #require(try await world.emulatorCall(.GET, "/_emulator/assets").1 as? [[String: Any]])
            #expect(assets.allSatisfy { $0["asset_folder"] as? String == "products/moved" })

            let move = try await world.client(["move", "products/d7", "products/elsewhere", "--display-name", "Seven", "--wait"])
            #expect(move.status == 0, "\(move)")
            let moved = try #require(try JSONSerialization.jsonObject(with: Data(move.stdout.utf8)) as? [String: Any])
            #expect((moved["result"] as? [String: Any])?["asset_folder"] as? String == "products/elsewhere")
        }
    }

    /// A batch from a CSV file: the chain `A→B, B→C` runs in list order; a dry run lists the
    /// target that exists and changes nothing.
    @Test func aBatchFileRunsItsChainInOrder() async throws {
        try await Self.withWorld(folderMode: "fixed") { world in
            let seeds: [[String: Any]] = [["public_id": "products/a"], ["public_id": "products/x"], ["public_id": "products/taken"]]
            #expect(try await world.emulatorCall(.POST, "/_emulator/assets", seeds).0 == 201)
            let dryRun = try await world.client(
                ["batch", "-", "--dry-run", "--wait"],
                stdin: Data("from,to\nproducts/x,products/taken\n".utf8)
            )
            #expect(dryRun.status == 0, "\(dryRun)")
            let plan = try #require(try JSONSerialization.jsonObject(with: Data(dryRun.stdout.utf8)) as? [String: Any])
            #expect((plan["result"] as? [String: Any])?["existing_targets"] as? [String] == ["products/taken"])

            let file = FileManager.default.temporaryDirectory.appending(path: "batch-\(UUID().uuidString).csv")
            try Data("from,to\nproducts/a,products/b\nproducts/b,\"products/c\"\nproducts/x,products/y\n".utf8).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let run = try await world.client(["batch", file.path, "--wait", "--no-invalidate"])
            #expect(run.status == 0, "\(run)\n\(world.logs)")
            #expect(run.stderr.contains("items 3/3 done (renamed 3, failed 0, skipped 0)"), "\(run.stderr)")
            let assets = try #require(try await world.emulatorCall(.GET, "/_emulator/assets").1 as? [[String: Any]])
            #expect(Set(assets.compactMap { $0["public_id"] as? String }) == ["products/c", "products/y", "products/taken"])
        }
    }

    /// One request. Each call gets a connection of its own: a pooled one could lead to a daemon
    /// that an earlier test killed (`remoteConnectionClosed` on a reused port).
    static func call(_ method: HTTPMethod, _ url: String, body: Any?, token: String?) async throws -> (Int, Any?) {
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(connectionPool: .init(idleTimeout: .seconds(1), concurrentHTTP1ConnectionsPerHostSoftLimit: 1))
        )
        do {
            let answer = try await call(method, url, body: body, token: token, client: client)
            try await client.shutdown()
            return answer
        } catch {
            try? await client.shutdown()
            throw CallFailed(description: "\(method) \(url): \(error)")
        }
    }

    struct CallFailed: Error, CustomStringConvertible {
        var description: String
    }

    private static func call(_ method: HTTPMethod, _ url: String, body: Any?, token: String?, client: HTTPClient) async throws -> (Int, Any?) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        let data = try await response.body.collect(upTo: 64 << 20)
        return (Int(response.status.code), try? JSONSerialization.jsonObject(with: Data(data.readableBytesView)))
    }
}
