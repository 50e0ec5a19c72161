import CloudinaryEmulator
import Foundation
import NIOHTTP1
import RenamerCrypto
import RenamerServer
import RenamerTestSupport
import Testing

/// Invalidation confirmation and callbacks end to end, against the emulator and a callback receiver.
@Suite("Confirmation and callbacks")
struct ConfirmationAndCallbackTests {
    static func emulator(invalidationDelay: Double) -> EmulatorSettings {
        var settings = EmulatorSettings()
        settings.invalidationDelaySeconds = invalidationDelay
        settings.notificationRetrySeconds = [0.2]
        return settings
    }

    func rename(_ harness: Harness, _ extra: [String: Any] = [:]) async throws -> String {
        harness.emulator.state.seed(publicID: "products/a", type: (extra["type"] as? String) ?? "upload")
        var body: [String: Any] = ["from_public_id": "products/a", "to_public_id": "products/b", "callback_url": harness.callbackURL]
        body.merge(extra) { $1 }
        let reply = try await harness.submit(body)
        return try #require(reply.json["id"] as? String, "\(reply.text)")
    }

    @Test func probeConfirmsOnceTheOldURLIsGoneThenTheCallbackIsDelivered() async throws {
        // The CDN keeps the old URL until the test has seen a probe find it served, then drops it:
        // a fixed delay (it was 2 s) raced the first probe on a loaded machine.
        try await Harness.run(Harness.patientCloudinary, emulatorSettings: Self.emulator(invalidationDelay: 3600)) { harness in
            let id = try await rename(harness)
            #expect(await harness.eventually { harness.emulator.state.requests.contains { $0.operation == "delivery" } })
            harness.emulator.state.dropCachedURLs()
            let job = try await harness.waitForJob(id, status: "completed")
            let invalidation = try #require(job["invalidation"] as? [String: Any])
            #expect(invalidation["status"] as? String == "confirmed")
            #expect(invalidation["method"] as? String == "probe")
            #expect(invalidation["confirmed_at"] as? String != nil)
            let deliveries = harness.emulator.state.requests.filter { $0.operation == "delivery" }
            #expect(deliveries.first?.status == 200)
            #expect(deliveries.last?.status == 404)
            #expect(deliveries.allSatisfy { $0.method == "HEAD" && $0.path == "/demo/image/upload/products/a" })
            #expect(
                try await harness.eventually {
                    try await harness.job(id).json["callback"].flatMap { ($0 as? [String: Any])?["status"] as? String } == "delivered"
                }
            )
            let delivery = try #require(harness.receiver.deliveries.first)
            #expect(delivery.verified)
            let event = try #require(try JSONSerialization.jsonObject(with: Data(delivery.body)) as? [String: Any])
            #expect(event["type"] as? String == "rename.completed")
            #expect((event["data"] as? [String: Any])?["id"] as? String == id)
            #expect(((event["data"] as? [String: Any])?["invalidation"] as? [String: Any])?["status"] as? String == "confirmed")
        }
    }

    @Test func notificationMethodConfirmsOnCloudinarysNotification() async throws {
        try await Harness.run(["clouds.main.invalidation.method": "notification"], emulatorSettings: Self.emulator(invalidationDelay: 60)) {
            harness in
            let id = try await rename(harness)
            let job = try await harness.waitForJob(id, status: "completed")
            #expect((job["invalidation"] as? [String: Any])?["status"] as? String == "confirmed")
            // The emulator records the status once our response reaches it, which can follow completion.
            #expect(await harness.eventually { harness.emulator.state.notifications.first?.attempts == [200] })
            #expect(!harness.emulator.state.requests.contains { $0.operation == "delivery" })
        }
    }

    @Test func delayMethodConfirmsAfterTheSettleTime() async throws {
        let overrides = ["clouds.main.invalidation.method": "delay", "clouds.main.invalidation.settle_seconds": "0.3"]
        try await Harness.run(overrides, emulatorSettings: Self.emulator(invalidationDelay: 60)) { harness in
            let id = try await rename(harness)
            let job = try await harness.waitForJob(id, status: "completed")
            let invalidation = try #require(job["invalidation"] as? [String: Any])
            #expect(invalidation["status"] as? String == "confirmed")
            #expect(invalidation["method"] as? String == "delay")
        }
    }

    @Test func nothingConfirmsInTimeIsUnconfirmed() async throws {
        try await Harness.run(["clouds.main.invalidation.max_wait_seconds": "0.5"], emulatorSettings: Self.emulator(invalidationDelay: 60)) {
            harness in
            let id = try await rename(harness)
            let job = try await harness.waitForJob(id, status: "completed")
            #expect((job["invalidation"] as? [String: Any])?["status"] as? String == "unconfirmed")
            #expect((job["invalidation"] as? [String: Any])?["confirmed_at"] is NSNull)
        }
    }

    @Test func nonUploadTypesUseTheNotificationOnProbeClouds() async throws {
        try await Harness.run(emulatorSettings: Self.emulator(invalidationDelay: 60)) { harness in
            let id = try await rename(harness, ["type": "private"])
            let job = try await harness.waitForJob(id, status: "completed")
            #expect((job["invalidation"] as? [String: Any])?["method"] as? String == "notification")
            #expect((job["invalidation"] as? [String: Any])?["status"] as? String == "confirmed")
        }
    }

    @Test func withoutInvalidateTheCallbackFollowsTheRename() async throws {
        try await Harness.run { harness in
            let id = try await rename(harness, ["invalidate": false])
            let block = try await callbackBlock(harness, id, until: "delivered")
            #expect(block["status"] as? String == "delivered")
            #expect(harness.receiver.deliveries.count == 1)
            let job = try await harness.job(id).json
            #expect((job["invalidation"] as? [String: Any])?["status"] as? String == "not_requested")
        }
    }

    @Test func failedRenamesAreCalledBackToo() async throws {
        try await Harness.run { harness in
            let reply = try await harness.submit([
                "from_public_id": "products/none", "to_public_id": "products/b", "callback_url": harness.callbackURL,
            ])
            let id = try #require(reply.json["id"] as? String)
            #expect(await harness.eventually { harness.receiver.deliveries.count == 1 })
            let event = try #require(try JSONSerialization.jsonObject(with: Data(harness.receiver.deliveries[0].body)) as? [String: Any])
            #expect(event["type"] as? String == "rename.failed")
            #expect((event["data"] as? [String: Any])?["id"] as? String == id)
        }
    }

    func callbackBlock(_ harness: Harness, _ id: String, until status: String) async throws -> [String: Any] {
        var block: [String: Any] = [:]
        _ = try await harness.eventually {
            block = try await harness.job(id).json["callback"] as? [String: Any] ?? [:]
            return block["status"] as? String == status
        }
        return block
    }

    @Test func retriedUntilDeliveredUnderOneWebhookID() async throws {
        try await Harness.run { harness in
            harness.receiver.script(.init(status: 500), .init(status: 500))
            let id = try await rename(harness, ["invalidate": false])
            let block = try await callbackBlock(harness, id, until: "delivered")
            #expect(block["status"] as? String == "delivered")
            #expect(block["attempts"] as? Int == 3)
            #expect(block["last_status"] as? Int == 200)
            let deliveries = harness.receiver.deliveries
            #expect(deliveries.count == 3)
            #expect(Set(deliveries.compactMap(\.webhookID)).count == 1)
            #expect(Set(deliveries.map(\.body)).count == 1)
            #expect(deliveries.allSatisfy { $0.verified })
        }
    }

    @Test func goneStopsAtOnce() async throws {
        try await Harness.run { harness in
            harness.receiver.script(.init(status: 410))
            let id = try await rename(harness, ["invalidate": false])
            let block = try await callbackBlock(harness, id, until: "gone")
            #expect(block["attempts"] as? Int == 1)
            #expect(block["last_status"] as? Int == 410)
            try await Task.sleep(for: .milliseconds(300))
            #expect(harness.receiver.deliveries.count == 1)
        }
    }

    @Test func redirectsAreNotFollowed() async throws {
        try await Harness.run(["callbacks.retry_schedule_seconds": "0.1"]) { harness in
            let elsewhere = "http://127.0.0.1:\(harness.receiverRun.port)/hooks/elsewhere"
            harness.receiver.script(.init(status: 302, headers: ["Location": elsewhere]), .init(status: 307, headers: ["Location": elsewhere]))
            let id = try await rename(harness, ["invalidate": false])
            let block = try await callbackBlock(harness, id, until: "failed")
            #expect(block["attempts"] as? Int == 2)
            #expect(block["last_status"] as? Int == 307)
            #expect(harness.receiver.deliveries.allSatisfy { $0.path == "/hooks/renames" })
        }
    }

    @Test func aSlowReceiverTimesOutAndIsRetried() async throws {
        try await Harness.run(["callbacks.timeout_seconds": "1"]) { harness in
            harness.receiver.script(.init(status: 200, delaySeconds: 4))
            let id = try await rename(harness, ["invalidate": false])
            let block = try await callbackBlock(harness, id, until: "delivered")
            // The slow first attempt timed out and a later one was delivered (on a starved machine a
            // second attempt may time out too, so at least two).
            let attempts = try #require(block["attempts"] as? Int)
            #expect(attempts >= 2)
            #expect(harness.receiver.deliveries.count == attempts)
        }
    }

    @Test func rotationSignsWithEverySecret() async throws {
        let newer = WebhookSecret.generate()
        try await Harness.run(["clients.catalog.callback_secrets": "\(newer.encoded),\(Harness.webhookSecret)"]) { harness in
            let id = try await rename(harness, ["invalidate": false])
            _ = try await callbackBlock(harness, id, until: "delivered")
            let delivery = try #require(harness.receiver.deliveries.first)
            // The receiver only knows the older secret and still verifies.
            #expect(delivery.verified)
            #expect(delivery.webhookSignature?.split(separator: " ").count == 2)
            let timestamp = try #require(delivery.webhookTimestamp)
            try StandardWebhooks(secrets: [newer]).verify(
                id: delivery.webhookID,
                timestamp: timestamp,
                signatureHeader: delivery.webhookSignature,
                body: delivery.body,
                now: Double(timestamp)!
            )
        }
    }

    @Test func theStandardWebhooksReferenceLibraryVerifiesOurCallbacks() async throws {
        try await Harness.run { harness in
            harness.receiver.script(.init(status: 500))
            let id = try await rename(harness, ["invalidate": false, "client_reference": "ünïcødé & \"quotes\" </>"])
            _ = try await callbackBlock(harness, id, until: "delivered")
            let deliveries = harness.receiver.deliveries
            #expect(deliveries.count == 2)
            let capture: [String: Any] = [
                "secret": Harness.webhookSecret,
                "deliveries": deliveries.map { delivery in
                    [
                        "headers": [
                            "webhook-id": delivery.webhookID ?? "", "webhook-timestamp": delivery.webhookTimestamp ?? "",
                            "webhook-signature": delivery.webhookSignature ?? "",
                        ],
                        "body_base64": Data(delivery.body).base64EncodedString(),
                    ]
                },
            ]
            let (status, text) = try await PythonOracle.check("verify_standard_webhooks.py", capture: capture)
            #expect(status == 0, "\(text)")
            #expect(text.contains("2 verified"), "\(text)")
        }
    }
}
