import AsyncHTTPClient
import CloudinaryEmulator
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import RenamerCrypto
import RenamerServer
import Testing

/// The emulator's folder features (SPEC §11): folder modes, `asset_folder` and `display_name`, the
/// Admin API update, folder rename and subfolders, listing by prefix with cursors, the Admin API rate
/// limit, and bulk seeding; over real HTTP on a loopback port.
@Suite struct EmulatorFolderTests {
    // MARK: Listing

    @Test func listingPagesFollowTheCursorAndStopAtTheFolderBoundary() async throws {
        try await EmulatorServer.run { server in
            let inside = (0..<25).map { "shop/old/a" + ($0 < 10 ? "0\($0)" : "\($0)") } + ["shop/old/sub/b"]
            let outside = ["shop/old", "shop/oldish", "shop/older/x", "shop/ol", "shop/new/a00"]
            var seeds = (inside + outside).shuffled().map { #"{"public_id":"\#($0)"}"# }
            // The same IDs under another delivery type and resource type are not in this listing.
            seeds += [#"{"public_id":"shop/old/p","type":"private"}"#, #"{"public_id":"shop/old/v","resource_type":"video"}"#]
            let seeded = try await server.control(.POST, "assets", "[\(seeds.joined(separator: ","))]")
            #expect(seeded.status == 201)
            #expect(seeded.json["seeded"] as? Int == inside.count + outside.count + 2)

            let first = try await server.admin(.GET, "resources/image/upload?prefix=shop/old/&max_results=10")
            #expect(first.status == 200)
            #expect(first.ids == Array(inside[0..<10]))
            let firstCursor = try #require(first.json["next_cursor"] as? String)
            // An ID of the first page renamed away meanwhile does not shift the next page.
            #expect(try await server.rename(from: "shop/old/a03", to: "elsewhere/a03").status == 200)
            let second = try await server.admin(.GET, "resources/image/upload?prefix=shop/old/&max_results=10&next_cursor=\(firstCursor)")
            #expect(second.ids == Array(inside[10..<20]))
            let secondCursor = try #require(second.json["next_cursor"] as? String)
            let last = try await server.admin(.GET, "resources/image/upload?prefix=shop%2Fold%2F&max_results=10&next_cursor=\(secondCursor)")
            #expect(last.ids == Array(inside[20...]))
            #expect(last.json.keys.contains("next_cursor") == false)

            // Exactly a full last page: no cursor either.
            let exact = try await server.admin(.GET, "resources/image/upload?prefix=shop/old/sub/&max_results=1")
            #expect(exact.ids == ["shop/old/sub/b"])
            #expect(exact.json["next_cursor"] == nil)
            // Without the slash the prefix is a string prefix, not a folder.
            let loose = try await server.admin(.GET, "resources/image/upload?prefix=shop/old&max_results=500")
            #expect(loose.ids.count == inside.count - 1 + 3)
            #expect(loose.ids.prefix(1) == ["shop/old"])
            // Default page size 10; other buckets list their own assets.
            let all = try await server.admin(.GET, "resources/image/upload")
            #expect(all.ids.count == 10)
            #expect(all.json["next_cursor"] is String)
            #expect(try await server.admin(.GET, "resources/image/private").ids == ["shop/old/p"])
            #expect(try await server.admin(.GET, "resources/video/upload?prefix=shop/old/").ids == ["shop/old/v"])
            #expect(try await server.admin(.GET, "resources/raw/upload").ids == [])

            let resource = try #require((first.json["resources"] as? [[String: Any]])?.first)
            #expect(resource["asset_folder"] as? String == "")
            #expect(resource["display_name"] as? String == "a00")
            #expect(resource["public_id"] as? String == "shop/old/a00")

            for bad in ["max_results=0", "max_results=501", "max_results=ten", "next_cursor=!!!"] {
                let reply = try await server.admin(.GET, "resources/image/upload?\(bad)")
                #expect(reply.status == 400, "\(bad)")
                #expect(reply.errorMessage != nil, "\(bad)")
            }
            // The lookup of one asset is still its own route, next to the listing.
            let lookup = try await server.admin(.GET, "resources/image/upload/shop/old")
            #expect(lookup.status == 200)
            #expect(lookup.json["public_id"] as? String == "shop/old")
            #expect(try await server.admin(.GET, "resources/image/upload/shop/old/a03").status == 404)
            #expect(try await server.admin(.GET, "resources/image/upload", authorized: false).status == 401)

            let lists = server.emulator.state.requests.filter { $0.operation == "list" }
            #expect(lists.count == 14)
            #expect(lists.first?.fields?["prefix"] == "shop/old/")
            #expect(lists.first?.status == 200)
        }
    }

    @Test func faultsScriptedForListingAnswerInstead() async throws {
        try await EmulatorServer.run { server in
            server.emulator.state.seed(publicID: "shop/a")
            server.emulator.state.addFault(EmulatorFault(operation: "list", status: 503, times: 1))
            let faulted = try await server.admin(.GET, "resources/image/upload")
            #expect(faulted.status == 503)
            #expect(faulted.errorMessage == "Injected fault 503")
            #expect(try await server.admin(.GET, "resources/image/upload").ids == ["shop/a"])
        }
    }

    // MARK: Seeding

    @Test func bulkSeedingStoresTenThousandAssetsThatListInPages() async throws {
        try await EmulatorServer.run { server in
            let seeds = (0..<10_000).map { index in
                #"{"public_id":"bulk/\#(String(format: "%05d", index))","asset_folder":"/media/bulk/","display_name":"Item \#(index)"}"#
            }
            let reply = try await server.control(.POST, "assets", "[\(seeds.joined(separator: ","))]")
            #expect(reply.status == 201)
            #expect(reply.json["seeded"] as? Int == 10_000)
            let count = try await server.control(.POST, "assets", #"{"public_id":"counted/","count":3}"#)
            #expect(count.status == 201)

            var listed: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let query = "prefix=bulk/&max_results=500" + (cursor.map { "&next_cursor=\($0)" } ?? "")
                let page = try await server.admin(.GET, "resources/image/upload?\(query)")
                try #require(page.status == 200)
                listed += page.ids
                cursor = page.json["next_cursor"] as? String
                pages += 1
            } while cursor != nil && pages < 100
            #expect(pages == 20)
            #expect(listed == (0..<10_000).map { "bulk/" + String(format: "%05d", $0) })

            let assets = server.emulator.state.assets
            #expect(assets.count == 10_003)
            let sample = try #require(assets.first { $0.publicID == "bulk/00042" })
            #expect(sample.assetFolder == "media/bulk")
            #expect(sample.displayName == "Item 42")
            #expect(assets.filter { $0.publicID.hasPrefix("counted/") }.map(\.publicID).sorted() == ["counted/0", "counted/1", "counted/2"])
        }
    }

    @Test func seedDefaultsDependOnTheFolderMode() async throws {
        try await EmulatorServer.run { server in
            let nested = try await server.control(.POST, "assets", #"{"public_id":"a/b/c"}"#)
            #expect(nested.json["asset_folder"] as? String == "")
            #expect(nested.json["display_name"] as? String == "c")
            let given = try await server.control(.POST, "assets", #"{"public_id":"d","asset_folder":"x/y","display_name":"Dee"}"#)
            #expect(given.json["asset_folder"] as? String == "x/y")
            #expect(given.json["display_name"] as? String == "Dee")
            let listed = try await server.control(.GET, "assets")
            let rows = try #require(try JSONSerialization.jsonObject(with: listed.body) as? [[String: Any]])
            #expect(rows.map { $0["asset_folder"] as? String } == ["", "x/y"])

            #expect(try await server.control(.POST, "settings", #"{"folder_mode":"fixed"}"#).status == 204)
            #expect(try await server.control(.POST, "settings", #"{"folder_mode":"sideways"}"#).status == 400)
            let fixed = try await server.control(.POST, "assets", #"{"public_id":"e/f/g"}"#)
            #expect(fixed.json["asset_folder"] as? String == "e/f")
            #expect(fixed.json["display_name"] as? String == "g")
            let root = try await server.control(.POST, "assets", #"{"public_id":"h"}"#)
            #expect(root.json["asset_folder"] as? String == "")
            let lookup = try await server.admin(.GET, "resources/image/upload/e/f/g")
            #expect(lookup.json["asset_folder"] as? String == "e/f")
            #expect(lookup.json["folder"] as? String == "e/f")
        }
    }

    // MARK: Update

    @Test func updateSetsFolderAndDisplayNameInDynamicMode() async throws {
        try await EmulatorServer.run { server in
            server.emulator.state.seed(publicID: "products/a")
            let form = try await server.admin(
                .POST,
                "resources/image/upload/products/a",
                body: "asset_folder=shop%2Fnew&display_name=Hello+World&tags=ignored",
                contentType: "application/x-www-form-urlencoded"
            )
            #expect(form.status == 200)
            #expect(form.json["public_id"] as? String == "products/a")
            #expect(form.json["asset_folder"] as? String == "shop/new")
            #expect(form.json["display_name"] as? String == "Hello World")
            let json = try await server.admin(.POST, "resources/image/upload/products/a", body: #"{"display_name":"Only name"}"#)
            #expect(json.json["asset_folder"] as? String == "shop/new")
            #expect(json.json["display_name"] as? String == "Only name")
            let lookup = try await server.admin(.GET, "resources/image/upload/products/a")
            #expect(lookup.json["display_name"] as? String == "Only name")

            // A rename in dynamic mode leaves the folder and the display name alone.
            #expect(try await server.rename(from: "products/a", to: "products/b").status == 200)
            let moved = try #require(server.emulator.state.asset(publicID: "products/b", resourceType: "image", type: "upload"))
            #expect(moved.assetFolder == "shop/new")
            #expect(moved.displayName == "Only name")

            let unknown = try await server.admin(.POST, "resources/image/upload/products/a", body: #"{"display_name":"x"}"#)
            #expect(unknown.status == 404)
            #expect(unknown.errorMessage == "Resource not found - products/a")
            let nothing = try await server.admin(.POST, "resources/image/upload/products/b", body: "{}")
            #expect(nothing.status == 200)
            server.emulator.state.addFault(EmulatorFault(operation: "update", status: 500, times: 1))
            #expect(try await server.admin(.POST, "resources/image/upload/products/b", body: #"{"display_name":"y"}"#).status == 500)
            #expect(
                try await server.admin(.POST, "resources/image/upload/products/b", body: #"{"display_name":"y"}"#, authorized: false).status == 401
            )
            #expect(server.emulator.state.asset(publicID: "products/b", resourceType: "image", type: "upload")?.displayName == "Only name")

            let updates = try await server.control(.GET, "updates").jsonArray
            #expect(updates.count == 2)
            #expect(updates.first?["public_id"] as? String == "products/a")
            #expect(updates.first?["asset_folder"] as? String == "shop/new")
            #expect(updates.last?["display_name"] as? String == "Only name")
            #expect(updates.last?.keys.contains("asset_folder") == false)
            let logged = server.emulator.state.requests.filter { $0.operation == "update" }
            #expect(logged.map(\.status) == [200, 200, 404, 200, 500, 401])
            #expect(logged.map(\.applied) == [true, true, false, false, false, false])
            #expect(logged.first?.fields?["asset_folder"] == "shop/new")
        }
    }

    @Test func updateRefusesAssetFolderInFixedMode() async throws {
        var settings = EmulatorSettings()
        settings.folderMode = .fixed
        try await EmulatorServer.run(settings: settings) { server in
            server.emulator.state.seed(publicID: "shop/old/a")
            let refused = try await server.admin(.POST, "resources/image/upload/shop/old/a", body: #"{"asset_folder":"shop/new"}"#)
            #expect(refused.status == 400)
            #expect(refused.errorMessage?.contains("fixed folder mode") == true)
            #expect(server.emulator.state.asset(publicID: "shop/old/a", resourceType: "image", type: "upload")?.assetFolder == "shop/old")
            #expect(try await server.control(.GET, "updates").jsonArray.isEmpty)

            // In fixed mode a rename moves the asset to the new public ID's folder.
            #expect(try await server.rename(from: "shop/old/a", to: "shop/new/b").status == 200)
            let moved = try #require(server.emulator.state.asset(publicID: "shop/new/b", resourceType: "image", type: "upload"))
            #expect(moved.assetFolder == "shop/new")
            #expect(moved.displayName == "b")
        }
    }

    // MARK: Folders

    @Test func folderRenameMovesTheFolderAndItsSubfoldersInDynamicMode() async throws {
        try await EmulatorServer.run { server in
            let state = server.emulator.state
            state.seed(publicID: "p1", assetFolder: "shop/old")
            state.seed(publicID: "p2", resourceType: "video", assetFolder: "shop/old/sub")
            state.seed(publicID: "p3", assetFolder: "shop/oldish")
            state.seed(publicID: "p4", assetFolder: "shop")
            state.seed(publicID: "shop/old/p5")

            let shop = try await server.admin(.GET, "folders/shop")
            #expect(shop.status == 200)
            #expect(shop.folderPaths == ["shop/old", "shop/oldish"])
            #expect(shop.json["total_count"] as? Int == 2)
            #expect(shop.json["next_cursor"] is NSNull)
            #expect((shop.json["folders"] as? [[String: Any]])?.first?["name"] as? String == "old")
            #expect(try await server.admin(.GET, "folders").folderPaths == ["shop"])

            let renamed = try await server.admin(
                .PUT,
                "folders/shop/old",
                body: "to_folder=shop%2Fnew",
                contentType: "application/x-www-form-urlencoded"
            )
            #expect(renamed.status == 200)
            #expect(renamed.json["from"] as? [String: String] == ["name": "old", "path": "shop/old"])
            #expect(renamed.json["to"] as? [String: String] == ["name": "new", "path": "shop/new"])
            let folders = Dictionary(uniqueKeysWithValues: state.assets.map { ($0.publicID, $0.assetFolder) })
            #expect(folders == ["p1": "shop/new", "p2": "shop/new/sub", "p3": "shop/oldish", "p4": "shop", "shop/old/p5": ""])

            #expect(try await server.admin(.GET, "folders/shop/old").status == 404)
            #expect(try await server.admin(.GET, "folders/shop/new").folderPaths == ["shop/new/sub"])
            #expect(try await server.admin(.GET, "folders/shop/new/sub").folderPaths == [])
            #expect(try await server.admin(.GET, "folders/shop").folderPaths == ["shop/new", "shop/oldish"])

            let again = try await server.admin(.PUT, "folders/shop/old", body: #"{"to_folder":"shop/new"}"#)
            #expect(again.status == 404)
            #expect(try await server.admin(.PUT, "folders/shop/new", body: "{}").status == 400)
            let json = try await server.admin(.PUT, "folders/shop/new/sub", body: #"{"to_folder":"archive/sub"}"#)
            #expect(json.status == 200)
            #expect(state.asset(publicID: "p2", resourceType: "video", type: "upload")?.assetFolder == "archive/sub")

            // Applied, then the connection drops: the folder call's outcome is unknown to the caller.
            state.addFault(EmulatorFault(operation: "folder_rename", applyThenDrop: true, times: 1))
            await #expect(throws: (any Error).self) { _ = try await server.admin(.PUT, "folders/shop/oldish", body: #"{"to_folder":"shop/older"}"#) }
            #expect(try await server.admin(.GET, "folders/shop/older").status == 200)

            let records = try await server.control(.GET, "folder-renames").jsonArray
            #expect(records.map { $0["from_folder"] as? String } == ["shop/old", "shop/new/sub", "shop/oldish"])
            #expect(records.map { $0["to_folder"] as? String } == ["shop/new", "archive/sub", "shop/older"])
            #expect(records.map { $0["assets"] as? Int } == [2, 1, 1])
            let logged = state.requests.filter { $0.operation == "folder_rename" }
            #expect(logged.map(\.status) == [200, 404, 400, 200, 0])
            #expect(logged.first?.fields?["to_folder"] == "shop/new")
            #expect(state.requests.filter { $0.operation == "folders" }.count == 7)
        }
    }

    @Test func folderRenameIsRefusedInFixedMode() async throws {
        var settings = EmulatorSettings()
        settings.folderMode = .fixed
        try await EmulatorServer.run(settings: settings) { server in
            server.emulator.state.seed(publicID: "shop/old/a")
            #expect(try await server.admin(.GET, "folders/shop").folderPaths == ["shop/old"])
            let refused = try await server.admin(.PUT, "folders/shop/old", body: #"{"to_folder":"shop/new"}"#)
            #expect(refused.status == 400)
            #expect(refused.errorMessage?.contains("fixed folder mode") == true)
            #expect(server.emulator.state.assets.map(\.assetFolder) == ["shop/old"])
            #expect(try await server.control(.GET, "folder-renames").jsonArray.isEmpty)
        }
    }

    // MARK: Admin API rate limit

    @Test func everyAdminAnswerCarriesTheRateLimitHeaders() async throws {
        try await EmulatorServer.run { server in
            server.emulator.state.seed(publicID: "shop/a", assetFolder: "shop")
            let started = Date()
            let replies = [
                try await server.admin(.GET, "resources/image/upload/shop/a"),
                try await server.admin(.GET, "resources/image/upload"),
                try await server.admin(.POST, "resources/image/upload/shop/a", body: #"{"display_name":"A"}"#),
                try await server.admin(.GET, "folders/shop"),
                try await server.admin(.PUT, "folders/shop", body: #"{"to_folder":"store"}"#),
                try await server.admin(.GET, "resources/image/upload/missing"),
            ]
            #expect(replies.map(\.status) == [200, 200, 200, 200, 200, 404])
            #expect(replies.map { $0.header("X-FeatureRateLimit-Limit") } == Array(repeating: "500000", count: 6))
            #expect(replies.map { $0.header("X-FeatureRateLimit-Remaining") } == (1...6).map { String(500_000 - $0) })
            let reset = try #require(replies[0].rateLimitReset)
            #expect(reset > started.addingTimeInterval(3590) && reset <= Date().addingTimeInterval(3601))
            #expect(replies.allSatisfy { $0.header("X-FeatureRateLimit-Reset") == replies[0].header("X-FeatureRateLimit-Reset") })
            let usage = try await server.control(.GET, "admin-usage").json
            #expect(usage["calls"] as? Int == 6)
            #expect(usage["rejected"] as? Int == 0)
            #expect(usage["limit"] is NSNull)
            #expect(usage["max_in_window"] as? Int == 6)
        }
    }

    @Test func spentBudgetAnswers420UntilTheWindowResetsAndUploadsGoOn() async throws {
        try await EmulatorServer.run { server in
            let state = server.emulator.state
            state.seed(publicID: "shop/a")
            state.seed(publicID: "shop/b")
            #expect(try await server.control(.POST, "settings", #"{"admin_api_budget":-1}"#).status == 400)
            #expect(try await server.control(.POST, "settings", #"{"admin_api_window_seconds":0}"#).status == 400)
            // An hour's window while the spent budget is checked: nothing here may wait for it.
            #expect(try await server.control(.POST, "settings", #"{"admin_api_budget":3,"admin_api_window_seconds":3600}"#).status == 204)

            let admitted = [
                try await server.admin(.GET, "resources/image/upload/shop/a"),
                try await server.admin(.GET, "resources/image/upload?prefix=shop/"),
                try await server.admin(.GET, "folders"),
            ]
            #expect(admitted.map(\.status) == [200, 200, 200])
            #expect(admitted.map { $0.header("X-FeatureRateLimit-Limit") } == ["3", "3", "3"])
            #expect(admitted.map { $0.header("X-FeatureRateLimit-Remaining") } == ["2", "1", "0"])
            let reset = try #require(admitted[0].rateLimitReset)

            // Spent: 420, with the headers, and nothing changes.
            let refused = try await server.admin(.POST, "resources/image/upload/shop/a", body: #"{"display_name":"Changed"}"#)
            #expect(refused.status == 420)
            #expect(refused.errorMessage == "Rate Limit Exceeded")
            #expect(refused.header("X-FeatureRateLimit-Limit") == "3")
            #expect(refused.header("X-FeatureRateLimit-Remaining") == "0")
            #expect(refused.rateLimitReset == reset)
            #expect(state.asset(publicID: "shop/a", resourceType: "image", type: "upload")?.displayName == "a")
            #expect(try await server.admin(.PUT, "folders/x", body: #"{"to_folder":"y"}"#).status == 420)

            // The Upload API is not counted and never refused by this budget.
            let before = try await server.control(.GET, "admin-usage").json
            #expect(try await server.rename(from: "shop/b", to: "shop/c").status == 200)
            let after = try await server.control(.GET, "admin-usage").json
            #expect(after["calls"] as? Int == before["calls"] as? Int)
            #expect(after["rejected"] as? Int == 2)
            #expect(after["max_in_window"] as? Int == 3)

            // A short window: once spent, calls are refused until it ends, then admitted in a fresh
            // one. Watched as events (refused after admitted, then admitted again), so a slow
            // machine only takes longer.
            #expect(try await server.control(.POST, "settings", #"{"admin_api_budget":1,"admin_api_window_seconds":1}"#).status == 204)
            var answers: [Harness.Reply] = []
            var recovered: Harness.Reply?
            let deadline = ContinuousClock.now + .seconds(30)
            while recovered == nil && ContinuousClock.now < deadline {
                let reply = try await server.admin(.GET, "resources/image/upload/shop/c")
                if reply.status == 200, answers.contains(where: { $0.status == 420 }) { recovered = reply }
                answers.append(reply)
            }
            let fresh = try #require(recovered, "no refusal and recovery within 30 s: \(answers.map(\.status))")
            let firstRefusal = try #require(answers.firstIndex { $0.status == 420 })
            let spentAt = try #require(answers[..<firstRefusal].last)
            #expect(spentAt.header("X-FeatureRateLimit-Remaining") == "0")
            #expect(fresh.header("X-FeatureRateLimit-Remaining") == "0")
            #expect(try #require(fresh.rateLimitReset) > (try #require(spentAt.rateLimitReset)))

            let usage = try await server.control(.GET, "admin-usage").json
            let rejected = try #require(usage["rejected"] as? Int)
            #expect(rejected == 2 + answers.filter { $0.status == 420 }.count)
            #expect(usage["calls"] as? Int == 5 + answers.count)
            #expect(usage["limit"] as? Int == 1)
            #expect(usage["max_in_window"] as? Int == 3)
            let log = state.requests.filter { $0.operation != "rename" }
            #expect(log.filter { $0.status == 420 }.count == rejected)
            #expect(state.requests.filter { $0.operation == "rename" }.map(\.status) == [200])

            // Unlimited again: limit null, headers report 500000.
            #expect(try await server.control(.POST, "settings", #"{"admin_api_budget":null}"#).status == 204)
            let unlimited = try await server.admin(.GET, "resources/image/upload/shop/c")
            #expect(unlimited.header("X-FeatureRateLimit-Limit") == "500000")
            #expect(try await server.control(.GET, "admin-usage").json["limit"] is NSNull)
            #expect(try await server.control(.DELETE, "admin-usage").status == 204)
            #expect(try await server.control(.GET, "admin-usage").json["calls"] as? Int == 0)
        }
    }
}

/// An emulator alone on a loopback port (started the way ``Harness`` starts it), with helpers for its
/// Admin API, Upload API rename and `/_emulator/` control.
final class EmulatorServer: Sendable {
    let emulator: CloudinaryEmulator
    let background: BackgroundRun

    var url: String { "http://127.0.0.1:\(background.port)" }

    private init(emulator: CloudinaryEmulator, background: BackgroundRun) {
        self.emulator = emulator
        self.background = background
    }

    /// Starts an emulator, runs `body`, and stops it (also when `body` throws).
    static func run(settings: EmulatorSettings = EmulatorSettings(), _ body: (EmulatorServer) async throws -> Void) async throws {
        var settings = settings
        // A key of its own, so that a daemon of another test still retrying against a reused port is refused.
        settings.apiKey = String(UInt64.random(in: 100_000_000_000_000...999_999_999_999_999))
        let emulator = CloudinaryEmulator(settings: settings, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        let server = EmulatorServer(emulator: emulator, background: try await BackgroundRun.start { emulator.buildApplication(onListening: $0) })
        do {
            try await body(server)
        } catch {
            await server.background.stop()
            throw error
        }
        await server.background.stop()
    }

    /// An Admin API call: `path` is below `/v1_1/{cloud}/`; Basic auth unless `authorized` is false.
    func admin(
        _ method: HTTPMethod,
        _ path: String,
        body: String? = nil,
        contentType: String = "application/json",
        authorized: Bool = true
    ) async throws -> Harness.Reply {
        let settings = emulator.state.settings
        var headers: [(String, String)] = []
        if authorized {
            headers.append(("Authorization", "Basic " + Data("\(settings.apiKey):\(settings.apiSecret)".utf8).base64EncodedString()))
        }
        if body != nil { headers.append(("Content-Type", contentType)) }
        return try await send(method, url + "/v1_1/\(settings.cloudName)/" + path, body: body, headers: headers)
    }

    /// A `/_emulator/` control call with a JSON body.
    func control(_ method: HTTPMethod, _ path: String, _ body: String? = nil) async throws -> Harness.Reply {
        try await send(method, url + "/_emulator/" + path, body: body, headers: body == nil ? [] : [("Content-Type", "application/json")])
    }

    /// A signed Upload API rename of an image.
    func rename(from: String, to: String) async throws -> Harness.Reply {
        let settings = emulator.state.settings
        var fields = ["from_public_id": from, "to_public_id": to, "timestamp": String(Int(Date().timeIntervalSince1970))]
        fields["signature"] = CloudinaryRequestSigner(apiSecret: settings.apiSecret).signature(for: fields)
        fields["api_key"] = settings.apiKey
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = fields.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.value)" }.joined(separator: "&")
        return try await send(
            .POST,
            url + "/v1_1/\(settings.cloudName)/image/rename",
            body: body,
            headers: [("Content-Type", "application/x-www-form-urlencoded")]
        )
    }

    private func send(_ method: HTTPMethod, _ url: String, body: String?, headers: [(String, String)]) async throws -> Harness.Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let collected = try await response.body.collect(upTo: 64 << 20)
        return Harness.Reply(status: Int(response.status.code), headers: response.headers, body: Data(collected.readableBytesView))
    }
}

extension Harness.Reply {
    /// The public IDs of a listing, in order.
    fileprivate var ids: [String] { (json["resources"] as? [[String: Any]] ?? []).compactMap { $0["public_id"] as? String } }

    /// The paths of a subfolders answer, in order.
    fileprivate var folderPaths: [String] { (json["folders"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String } }

    /// `error.message` of a Cloudinary error body.
    fileprivate var errorMessage: String? { (json["error"] as? [String: Any])?["message"] as? String }

    fileprivate var jsonArray: [[String: Any]] { (try? JSONSerialization.jsonObject(with: body) as? [[String: Any]]) ?? [] }

    /// `X-FeatureRateLimit-Reset`, an HTTP-date.
    fileprivate var rateLimitReset: Date? {
        guard let text = header("X-FeatureRateLimit-Reset") else { return nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.date(from: text)
    }
}
