import Foundation
import Hummingbird
import NIOCore
import RenamerCrypto

/// `/_emulator/`: seed assets, script faults, pause and resume, read the request log.
struct ControlRoutes: Sendable {
    let state: EmulatorState

    struct SeedRequest: Decodable {
        var publicID: String
        var resourceType: String?
        var type: String?
        var format: String?
        /// With a count, seeds `public_id` + 0 … `public_id` + (count − 1) (benchmarks).
        var count: Int?

        enum CodingKeys: String, CodingKey {
            case publicID = "public_id"
            case resourceType = "resource_type"
            case type, format, count
        }
    }

    struct SettingsRequest: Decodable {
        var invalidationDelaySeconds: Double?
        var cacheTTLSeconds: Double?
        var notificationAlgorithm: String?
        var sendsNotifications: Bool?
        var faultSeed: UInt64?

        enum CodingKeys: String, CodingKey {
            case faultSeed = "fault_seed"
            case sendsNotifications = "sends_notifications"
            case invalidationDelaySeconds = "invalidation_delay_seconds"
            case cacheTTLSeconds = "cache_ttl_seconds"
            case notificationAlgorithm = "notification_algorithm"
        }
    }

    func register(on group: RouterGroup<EmulatorRequestContext>) {
        group.post("assets") { request, context in
            let seed = try await request.decode(as: SeedRequest.self, context: context)
            if let count = seed.count {
                guard (1...1_000_000).contains(count) else { throw HTTPError(.badRequest, message: "count: 1…1000000") }
                for index in 0..<count {
                    _ = state.seed(
                        publicID: seed.publicID + String(index),
                        resourceType: seed.resourceType ?? "image",
                        type: seed.type ?? "upload",
                        format: seed.format ?? "jpg"
                    )
                }
                return Response(status: .created)
            }
            let asset = state.seed(
                publicID: seed.publicID,
                resourceType: seed.resourceType ?? "image",
                type: seed.type ?? "upload",
                format: seed.format ?? "jpg"
            )
            return try Self.json(asset, status: .created)
        }
        group.get("assets") { _, _ in try Self.json(state.assets) }
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
            state.updateSettings { settings in
                if let delay = change.invalidationDelaySeconds { settings.invalidationDelaySeconds = delay }
                if let ttl = change.cacheTTLSeconds { settings.cacheTTLSeconds = ttl }
                if let algorithm { settings.notificationAlgorithm = algorithm }
                if let sends = change.sendsNotifications { settings.sendsNotifications = sends }
            }
            if let seed = change.faultSeed { state.seedFaults(seed) }
            return Response(status: .noContent)
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
