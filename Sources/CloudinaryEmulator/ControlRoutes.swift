import Foundation
import Hummingbird
import NIOCore
import RenamerCrypto

/// `/_emulator/`: seed assets, script faults, pause and resume, change settings, read the request log
/// and what was applied (renames, updates, folder renames, Admin API usage).
struct ControlRoutes: Sendable {
    let state: EmulatorState

    struct SeedRequest: Decodable {
        var publicID: String
        var resourceType: String?
        var type: String?
        var format: String?
        var assetFolder: String?
        var displayName: String?
        /// With a count, seeds `public_id` + 0 … `public_id` + (count − 1) (benchmarks).
        var count: Int?

        enum CodingKeys: String, CodingKey {
            case publicID = "public_id"
            case resourceType = "resource_type"
            case type, format, count
            case assetFolder = "asset_folder"
            case displayName = "display_name"
        }

        /// The seeds this request stands for.
        func seeds() throws -> [EmulatorAssetSeed] {
            let one = EmulatorAssetSeed(
                publicID: publicID,
                resourceType: resourceType ?? "image",
                type: type ?? "upload",
                format: format ?? "jpg",
                assetFolder: assetFolder.map(FolderPath.normalized),
                displayName: displayName
            )
            guard let count else { return [one] }
            guard (1...1_000_000).contains(count) else { throw HTTPError(.badRequest, message: "count: 1…1000000") }
            return (0..<count).map { index in
                var seed = one
                seed.publicID = publicID + String(index)
                return seed
            }
        }
    }

    struct SettingsRequest: Decodable {
        var invalidationDelaySeconds: Double?
        var cacheTTLSeconds: Double?
        var notificationAlgorithm: String?
        var sendsNotifications: Bool?
        var faultSeed: UInt64?
        var folderMode: String?
        /// Outer nil: unchanged; inner nil (JSON `null`): unlimited.
        var adminAPIBudget: Int??
        var adminAPIWindowSeconds: Double?

        enum CodingKeys: String, CodingKey {
            case faultSeed = "fault_seed"
            case sendsNotifications = "sends_notifications"
            case invalidationDelaySeconds = "invalidation_delay_seconds"
            case cacheTTLSeconds = "cache_ttl_seconds"
            case notificationAlgorithm = "notification_algorithm"
            case folderMode = "folder_mode"
            case adminAPIBudget = "admin_api_budget"
            case adminAPIWindowSeconds = "admin_api_window_seconds"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            invalidationDelaySeconds = try container.decodeIfPresent(Double.self, forKey: .invalidationDelaySeconds)
            cacheTTLSeconds = try container.decodeIfPresent(Double.self, forKey: .cacheTTLSeconds)
            notificationAlgorithm = try container.decodeIfPresent(String.self, forKey: .notificationAlgorithm)
            sendsNotifications = try container.decodeIfPresent(Bool.self, forKey: .sendsNotifications)
            faultSeed = try container.decodeIfPresent(UInt64.self, forKey: .faultSeed)
            folderMode = try container.decodeIfPresent(String.self, forKey: .folderMode)
            if container.contains(.adminAPIBudget) {
                adminAPIBudget = .some(
                    try container.decodeNil(forKey: .adminAPIBudget) ? nil : try container.decode(Int.self, forKey: .adminAPIBudget)
                )
            }
            adminAPIWindowSeconds = try container.decodeIfPresent(Double.self, forKey: .adminAPIWindowSeconds)
        }
    }

    func register(on group: RouterGroup<EmulatorRequestContext>) {
        // One seed object (with `count`: that many IDs; answers 201 without a body), or an array of
        // them (answers 201 `{"seeded": n}`), stored under one lock.
        group.post("assets") { request, _ in
            let body = try await request.body.collect(upTo: 256 << 20)
            let decoder = JSONDecoder()
            if body.readableBytesView.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) == UInt8(ascii: "[") {
                let requests = try Self.decode([SeedRequest].self, body, decoder)
                let seeds = try requests.flatMap { try $0.seeds() }
                state.seed(seeds)
                return try Self.json(["seeded": seeds.count], status: .created)
            }
            let seed = try Self.decode(SeedRequest.self, body, decoder)
            if seed.count != nil {
                state.seed(try seed.seeds())
                return Response(status: .created)
            }
            let one = try seed.seeds()[0]
            let asset = state.seed(
                publicID: one.publicID,
                resourceType: one.resourceType,
                type: one.type,
                format: one.format,
                assetFolder: one.assetFolder,
                displayName: one.displayName
            )
            return try Self.json(asset, status: .created)
        }
        group.get("assets") { _, _ in try Self.json(state.assets) }
        group.get("updates") { _, _ in try Self.json(state.appliedUpdates) }
        group.get("folder-renames") { _, _ in try Self.json(state.appliedFolderRenames) }
        group.get("admin-usage") { _, _ in try Self.json(state.adminUsage) }
        group.delete("admin-usage") { _, _ in
            state.restartAdminWindow(resettingCounters: true)
            return Response(status: .noContent)
        }
        // A callback receiver that accepts everything and counts (signatures are not checked here;
        // the demo's receiver and the tests check them).
        group.post("callbacks/**") { _, _ in
            state.recordCallback()
            return Response(status: .noContent)
        }
        group.get("callbacks") { _, _ in try Self.json(["received": state.callbacksReceived]) }
        group.post("faults") { request, context in
            let fault = try await request.decode(as: EmulatorFault.self, context: context)
            state.addFault(fault)
            return try Self.json(fault, status: .created)
        }
        group.delete("faults") { _, _ in
            state.clearFaults()
            return Response(status: .noContent)
        }
        group.post("pause") { _, _ in
            state.setPaused(true)
            return Response(status: .noContent)
        }
        group.post("resume") { _, _ in
            state.setPaused(false)
            return Response(status: .noContent)
        }
        group.get("requests") { _, _ in try Self.json(state.requests) }
        group.get("renames") { _, _ in try Self.json(state.appliedRenames) }
        group.get("in-flight") { _, _ in try Self.json(["calls": state.callsInFlight]) }
        group.delete("requests") { _, _ in
            state.clearRequests()
            return Response(status: .noContent)
        }
        group.get("notifications") { _, _ in try Self.json(state.notifications) }
        group.post("settings") { request, context in
            let change = try await request.decode(as: SettingsRequest.self, context: context)
            var algorithm: DigestAlgorithm?
            if let name = change.notificationAlgorithm {
                guard let parsed = DigestAlgorithm(rawValue: name) else {
                    throw HTTPError(.badRequest, message: "notification_algorithm: sha1 | sha256")
                }
                algorithm = parsed
            }
            var folderMode: EmulatorSettings.FolderMode?
            if let name = change.folderMode {
                guard let parsed = EmulatorSettings.FolderMode(rawValue: name) else {
                    throw HTTPError(.badRequest, message: "folder_mode: dynamic | fixed")
                }
                folderMode = parsed
            }
            if case .some(.some(let budget)) = change.adminAPIBudget, budget < 0 {
                throw HTTPError(.badRequest, message: "admin_api_budget: a count ≥ 0, or null for unlimited")
            }
            if let window = change.adminAPIWindowSeconds, !(window > 0) {
                throw HTTPError(.badRequest, message: "admin_api_window_seconds: > 0")
            }
            state.updateSettings { settings in
                if let delay = change.invalidationDelaySeconds { settings.invalidationDelaySeconds = delay }
                if let ttl = change.cacheTTLSeconds { settings.cacheTTLSeconds = ttl }
                if let algorithm { settings.notificationAlgorithm = algorithm }
                if let sends = change.sendsNotifications { settings.sendsNotifications = sends }
                if let folderMode { settings.folderMode = folderMode }
                if let budget = change.adminAPIBudget { settings.adminAPIBudget = budget }
                if let window = change.adminAPIWindowSeconds { settings.adminAPIWindowSeconds = window }
            }
            // A new budget or window length starts a fresh window.
            if change.adminAPIBudget != nil || change.adminAPIWindowSeconds != nil { state.restartAdminWindow() }
            if let seed = change.faultSeed { state.seedFaults(seed) }
            return Response(status: .noContent)
        }
    }

    /// Decodes a JSON body; a body that does not decode is `400`, as `request.decode` answers.
    static func decode<Value: Decodable>(_ type: Value.Type, _ body: ByteBuffer, _ decoder: JSONDecoder) throws -> Value {
        do {
            return try decoder.decode(type, from: Data(body.readableBytesView))
        } catch {
            throw HTTPError(.badRequest, message: "Invalid JSON: \(error)")
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value)))
        )
    }
}
