import ArgumentParser
import AsyncHTTPClient
import CloudinaryEmulator
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import RenamerConfig
import RenamerCore
import RenamerCrypto
import RenamerServer

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the whole flow on embedded defaults: emulator, daemon and callback receiver on loopback ports.",
        discussion: """
            Seeds an asset in the Cloudinary emulator, renames it with invalidation through the daemon (in-memory \
            journal), and prints a timeline: accepted → renamed → notification verified → invalidation confirmed → \
            callback delivered and its signature verified. Then renames a folder of 60 assets (fixed folders): \
            listed → renamed → invalidated → one callback. Exits 0 on success.
            """
    )

    @Option(help: "Seconds the emulated CDN keeps serving the old URL after the rename.") var invalidationDelay = 1.5
    @Option(help: "Give up after this many seconds.") var timeout = 60.0

    func run() async throws {
        let timeline = Timeline()
        let quiet = Logger(label: "demo") { _ in SwiftLogNoOpLogHandler() }

        var settings = EmulatorSettings()
        settings.invalidationDelaySeconds = invalidationDelay
        settings.notificationRetrySeconds = [0.5, 1, 2]
        settings.folderMode = .fixed
        let emulator = CloudinaryEmulator(settings: settings, logger: quiet)
        let emulatorRun = try await BackgroundRun.start { emulator.buildApplication(onListening: $0) }

        let secret = WebhookSecret.generate()
        let receiver = CallbackReceiver(secrets: [secret])
        let receiverRun = try await BackgroundRun.start { receiver.buildApplication(onListening: $0) }

        let token = SecureRandom.hexToken(byteCount: 16)
        let emulatorURL = "http://127.0.0.1:\(emulatorRun.port)"
        let configuration = try await ConfigurationLoader.load(
            .init(overrides: [
                "http.host": "127.0.0.1", "http.port": "0", "storage.path": ":memory:", "log.level": "error",
                "clouds.demo.cloud_name": settings.cloudName, "clouds.demo.api_key": settings.apiKey,
                "clouds.demo.api_secret": settings.apiSecret, "clouds.demo.upload_prefix": emulatorURL,
                "clouds.demo.delivery_base_url": "\(emulatorURL)/\(settings.cloudName)", "clouds.demo.folder_mode": "fixed",
                "clients.demo.token_sha256": Digest.sha256Hex(Array(token.utf8)),
                "clients.demo.callback_url_prefixes": "http://127.0.0.1:\(receiverRun.port)/hooks/",
                "clients.demo.callback_secrets": secret.encoded,
            ])
        )
        let daemon = try Daemon(configuration: configuration, logger: quiet)
        let daemonRun = try await BackgroundRun.start { daemon.service(onListening: $0) }
        timeline.step(
            "started",
            "emulator :\(emulatorRun.port), daemon :\(daemonRun.port), callback receiver :\(receiverRun.port)"
        )

        var succeeded: Bool
        do {
            succeeded = try await walkThrough(
                emulator: emulator,
                receiver: receiver,
                daemonPort: daemonRun.port,
                receiverPort: receiverRun.port,
                token: token,
                timeline: timeline
            )
            if succeeded {
                succeeded = try await folderWalkThrough(
                    emulator: emulator,
                    receiver: receiver,
                    daemonPort: daemonRun.port,
                    receiverPort: receiverRun.port,
                    token: token,
                    timeline: timeline
                )
            }
        } catch {
            timeline.step("error", "\(error)")
            succeeded = false
        }
        await daemonRun.stop()
        await receiverRun.stop()
        await emulatorRun.stop()
        guard succeeded else { throw ExitCode(1) }
        print(String(format: "done in %.1f s", timeline.elapsed))
    }

    private func walkThrough(
        emulator: CloudinaryEmulator,
        receiver: CallbackReceiver,
        daemonPort: Int,
        receiverPort: Int,
        token: String,
        timeline: Timeline
    ) async throws -> Bool {
        let from = "products/123"
        let to = "products/sku-9"
        emulator.state.seed(publicID: from)
        timeline.step("seeded", "asset \(from) in the emulator; its URL answers 200 from the CDN")

        let base = "http://127.0.0.1:\(daemonPort)"
        let body: [String: Any] = [
            "from_public_id": from, "to_public_id": to, "invalidate": true, "callback_url": "http://127.0.0.1:\(receiverPort)/hooks/renames",
        ]
        guard
            let id = try await Self.submit(
                base,
                "/v1/renames",
                body,
                token: token,
                timeline: timeline,
                { "\($0): \(from) → \(to), invalidate: true" }
            )
        else { return false }

        var seen: Set<String> = []
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline {
            let (_, job) = try await Self.get(base + "/v1/renames/\(id)", token: token)
            let result = job["result"] as? [String: Any]
            let invalidation = job["invalidation"] as? [String: Any]
            let callback = job["callback"] as? [String: Any]
            if job["status"] as? String == "failed" {
                timeline.step("failed", "\((job["error"] as? [String: Any])?["message"] as? String ?? "unknown error")")
                return false
            }
            if result != nil, seen.insert("renamed").inserted {
                timeline.step(
                    "renamed",
                    "Cloudinary rename answered 200 after \(job["attempts"] as? Int ?? 0) attempt(s); now \(result?["public_id"] as? String ?? to)"
                )
            }
            if emulator.state.notifications.contains(where: { $0.attempts.contains(200) }), seen.insert("notified").inserted {
                timeline.step("notification", "Cloudinary's signed rename notification verified by the daemon (X-Cld-Signature)")
            }
            if invalidation?["status"] as? String == "confirmed", seen.insert("confirmed").inserted {
                timeline.step("invalidated", "old URL answers 404: invalidation confirmed by \(invalidation?["method"] as? String ?? "probe")")
            }
            if invalidation?["status"] as? String == "unconfirmed" {
                timeline.step("unconfirmed", "invalidation was not confirmed in time")
                return false
            }
            if callback?["status"] as? String == "delivered", let delivery = receiver.deliveries.last {
                let type = (try? JSONSerialization.jsonObject(with: Data(delivery.body)) as? [String: Any])?["type"] as? String ?? "?"
                guard delivery.verified else {
                    timeline.step("callback", "delivered but its signature did NOT verify")
                    return false
                }
                timeline.step("callback", "\(type) delivered (\(delivery.webhookID ?? "")); webhook-signature verified")
                return true
            }
            if let status = callback?["status"] as? String, status == "failed" || status == "gone" {
                timeline.step("callback", "delivery \(status)")
                return false
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        timeline.step("timeout", "gave up after \(Int(timeout)) s")
        return false
    }

    /// A folder of 60 assets (fixed folders: the folder is the public IDs' prefix): listed,
    /// renamed item by item, every old URL invalidated, then one callback for the folder.
    private func folderWalkThrough(
        emulator: CloudinaryEmulator,
        receiver: CallbackReceiver,
        daemonPort: Int,
        receiverPort: Int,
        token: String,
        timeline: Timeline
    ) async throws -> Bool {
        var seeds = (0..<50).map { EmulatorAssetSeed(publicID: "products/spring/look-\($0)") }
        seeds += (0..<10).map { EmulatorAssetSeed(publicID: "products/spring/clips/c\($0)", resourceType: "video") }
        emulator.state.seed(seeds)
        timeline.step("seeded", "folder products/spring: 50 images and 10 videos (fixed folders: the folder is the public IDs' prefix)")
        let callbacksBefore = receiver.deliveries.count
        let base = "http://127.0.0.1:\(daemonPort)"
        let body: [String: Any] = [
            "from_folder": "products/spring", "to_folder": "products/summer", "callback_url": "http://127.0.0.1:\(receiverPort)/hooks/folders",
        ]
        guard
            let id = try await Self.submit(
                base,
                "/v1/folder-renames",
                body,
                token: token,
                timeline: timeline,
                {
                    "\($0): folder products/spring → products/summer"
                }
            )
        else { return false }
        var seen: Set<String> = []
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline {
            let (_, job) = try await Self.get(base + "/v1/folder-renames/\(id)", token: token)
            let result = job["result"] as? [String: Any] ?? [:]
            let items = result["items"] as? Int ?? 0
            let renamed = result["renamed"] as? Int ?? 0
            let listCalls = emulator.state.requests.filter { $0.operation == "list" }.count
            if job["status"] as? String != "listing", items > 0, seen.insert("listed").inserted {
                timeline.step("listed", "\(items) assets under products/spring/ in \(listCalls) Admin API listing calls")
            }
            let applied = emulator.state.appliedRenames.keys.filter { $0.hasPrefix("products/spring/") }.count
            if applied == 60, seen.insert("renamed").inserted {
                timeline.step("renamed", "60 Upload API renames, each a child job with ordering and reconciliation")
            }
            if job["status"] as? String == "failed" {
                timeline.step("failed", "\((job["error"] as? [String: Any])?["message"] as? String ?? "unknown error")")
                return false
            }
            if job["status"] as? String == "completed" {
                timeline.step(
                    "invalidated",
                    "every old URL answers 404: \(renamed) of \(items) items completed, \(result["failed"] as? Int ?? 0) failed"
                )
                let callback = job["callback"] as? [String: Any]
                if callback?["status"] as? String == "delivered", receiver.deliveries.count > callbacksBefore,
                    let delivery = receiver.deliveries.last
                {
                    let type = (try? JSONSerialization.jsonObject(with: Data(delivery.body)) as? [String: Any])?["type"] as? String ?? "?"
                    guard delivery.verified, receiver.deliveries.count == callbacksBefore + 1 else {
                        timeline.step("callback", "expected one verified callback, got \(receiver.deliveries.count - callbacksBefore)")
                        return false
                    }
                    timeline.step("callback", "one \(type) for the folder; webhook-signature verified")
                    return true
                }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        timeline.step("timeout", "gave up after \(Int(timeout)) s")
        return false
    }

    /// POSTs `body` to `path`; on 202 notes "accepted" with `describe(id)` and returns the id, else
    /// notes "refused" and returns nil.
    static func submit(
        _ base: String,
        _ path: String,
        _ body: [String: Any],
        token: String,
        timeline: Timeline,
        _ describe: (String) -> String
    ) async throws -> String? {
        let (status, accepted) = try await post(base + path, body, token: token)
        guard status == 202, let id = accepted["id"] as? String else {
            timeline.step("refused", "POST \(path) answered \(status)")
            return nil
        }
        timeline.step("accepted", "202 " + describe(id))
        return id
    }

    static func post(_ url: String, _ body: [String: Any], token: String) async throws -> (Int, [String: Any]) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        return try await send(request)
    }

    static func get(_ url: String, token: String) async throws -> (Int, [String: Any]) {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        return try await send(request)
    }

    static func send(_ request: HTTPClientRequest) async throws -> (Int, [String: Any]) {
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]) ?? [:]
        return (Int(response.status.code), object)
    }
}

/// Prints each step with the time elapsed since the demo started.
final class Timeline: Sendable {
    let start = ContinuousClock.now

    var elapsed: Double {
        let duration = ContinuousClock.now - start
        return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    func step(_ label: String, _ text: String) {
        print(String(format: "%7.3f s  ", elapsed) + label.padding(toLength: 13, withPad: " ", startingAt: 0) + text)
    }
}
