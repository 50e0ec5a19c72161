import CloudinaryEmulator
import Foundation
import NIOHTTP1
import RenamerCrypto
import Testing

/// `POST /v1/notifications/cloudinary` against a live daemon (SPEC §4).
@Suite("Cloudinary notifications")
struct NotificationTests {
    static var quietEmulator: EmulatorSettings {
        var settings = EmulatorSettings()
        settings.sendsNotifications = false
        return settings
    }

    /// Submits a→b on a `notification` cloud and waits until it awaits confirmation.
    static func pendingJob(_ harness: Harness, from: String = "products/a", to: String = "products/b") async throws -> String {
        harness.emulator.state.seed(publicID: from)
        let id = try #require(try await harness.submit(["from_public_id": from, "to_public_id": to]).json["id"] as? String)
        _ = try await harness.waitForJob(id, status: "confirming_invalidation")
        return id
    }

    static let notificationCloud = ["clouds.main.invalidation.method": "notification"]

    @Test func verifiedNotificationConfirmsAndAReplayIsADuplicate() async throws {
        try await Harness.run(Self.notificationCloud, emulatorSettings: Self.quietEmulator) { harness in
            let id = try await Self.pendingJob(harness)
            let body = Harness.renameNotification(from: "products/a", to: "products/b")
            let first = try await harness.notify(body, job: id)
            #expect(first.status == 200)
            #expect(first.json["status"] as? String == "accepted")
            let job = try await harness.waitForJob(id, status: "completed")
            #expect((job["invalidation"] as? [String: Any])?["status"] as? String == "confirmed")
            #expect((job["invalidation"] as? [String: Any])?["method"] as? String == "notification")
            let timestamp = Int(Date().timeIntervalSince1970) - 5
            let signed = try await harness.notify(body, timestamp: timestamp, job: id)
            #expect(signed.json["status"] as? String == "accepted")
            let replay = try await harness.notify(body, timestamp: timestamp, job: id)
            #expect(replay.status == 200)
            #expect(replay.json["status"] as? String == "duplicate")
        }
    }

    @Test func forgedStaleFutureAndMalformedAre401() async throws {
        try await Harness.run(Self.notificationCloud, emulatorSettings: Self.quietEmulator) { harness in
            let id = try await Self.pendingJob(harness)
            let body = Harness.renameNotification(from: "products/a", to: "products/b")
            let now = Int(Date().timeIntervalSince1970)
            let valid = NotificationVerifier(apiSecret: harness.emulator.state.settings.apiSecret)
                .signature(body: Array(body.utf8), timestamp: String(now), algorithm: .sha1)
            let refused: [(String, Harness.Reply)] = [
                ("wrong secret", try await harness.notify(body, secret: "forged", job: id)),
                ("stale", try await harness.notify(body, timestamp: now - 7210, job: id)),
                ("future", try await harness.notify(body, timestamp: now + 310, job: id)),
                ("no headers", try await harness.notify(body, job: id, omitHeaders: true)),
                ("uppercase", try await harness.notify(body, timestamp: now, job: id, signature: valid.uppercased())),
                ("truncated", try await harness.notify(body, timestamp: now, job: id, signature: String(valid.dropLast()))),
                ("tampered", try await harness.notify(body + " ", timestamp: now, job: id, signature: valid)),
                ("unknown cloud", try await harness.notify(body, cloud: "elsewhere", job: id)),
            ]
            for (name, reply) in refused {
                #expect(reply.status == 401, "\(name)")
                #expect(reply.header("Content-Type") == "application/problem+json", "\(name)")
            }
            #expect(try await harness.job(id).json["status"] as? String == "confirming_invalidation")
        }
    }

    @Test func sha256OnlyCloudRefusesSHA1() async throws {
        var overrides = Self.notificationCloud
        overrides["clouds.main.notification_signature"] = "sha256"
        try await Harness.run(overrides, emulatorSettings: Self.quietEmulator) { harness in
            let id = try await Self.pendingJob(harness)
            let body = Harness.renameNotification(from: "products/a", to: "products/b")
            #expect(try await harness.notify(body, algorithm: .sha1, job: id).status == 401)
            #expect(try await harness.notify(body, algorithm: .sha256, job: id).json["status"] as? String == "accepted")
        }
    }

    @Test func theHintNeverAdvancesAJobTheBodyDoesNotMatch() async throws {
        try await Harness.run(Self.notificationCloud, emulatorSettings: Self.quietEmulator) { harness in
            let x = try await Self.pendingJob(harness, from: "products/x", to: "products/y")
            let y = try await Self.pendingJob(harness, from: "products/a", to: "products/b")
            let reply = try await harness.notify(Harness.renameNotification(from: "products/a", to: "products/b"), job: x)
            #expect(reply.json["status"] as? String == "accepted")
            _ = try await harness.waitForJob(y, status: "completed")
            #expect(try await harness.job(x).json["status"] as? String == "confirming_invalidation")
        }
    }

    @Test func unknownJobsAndTypesAreIgnored() async throws {
        try await Harness.run(Self.notificationCloud, emulatorSettings: Self.quietEmulator) { harness in
            let id = try await Self.pendingJob(harness)
            let nobody = try await harness.notify(Harness.renameNotification(from: "products/q", to: "products/r"))
            #expect(nobody.status == 200)
            #expect(nobody.json["status"] as? String == "ignored")
            let upload = try await harness.notify(#"{"notification_type":"upload","public_id":"products/a"}"#, job: id)
            #expect(upload.json["status"] as? String == "ignored")
            let wrongResource = try await harness.notify(
                #"{"notification_type":"rename","from_public_id":"products/a","to_public_id":"products/b","resource_type":"video"}"#,
                job: id
            )
            #expect(wrongResource.json["status"] as? String == "ignored")
            #expect(try await harness.job(id).json["status"] as? String == "confirming_invalidation")
        }
    }

    @Test func badBodiesNeverCrashTheHandler() async throws {
        try await Harness.run(Self.notificationCloud, emulatorSettings: Self.quietEmulator) { (harness: Harness) async throws in
            #expect(try await harness.notify("not json").status == 400)
            #expect(try await harness.notify("[1,2,3]").status == 400)
            #expect(try await harness.notify("").status == 400)
            let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
            #expect(try await harness.notify(deep).status == 400)
            let weird = #"{"notification_type":["rename"],"from_public_id":{"a":1},"to_public_id":1e300,"x":"\u0000"}"#
            #expect(try await harness.notify(weird).json["status"] as? String == "ignored")
            #expect(try await harness.notify(#"{"n":1e400}"#).status == 400)
            let large = #"{"pad":""# + String(repeating: "x", count: 1 << 20) + #""}"#
            #expect(try await harness.notify(large).status == 413)
            #expect(try await harness.request(.GET, harness.daemonURL + "/healthz", token: nil).status == 200)
        }
    }
}
