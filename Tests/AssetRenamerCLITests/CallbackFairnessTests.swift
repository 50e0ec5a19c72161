import Foundation
import NIOHTTP1
import RenamerCrypto
import RenamerServer
import RenamerTestSupport
import Synchronization
import Testing

/// One caller's dead or slow receivers delay only their own callbacks (SPEC §6), with the real
/// binaries: 2,000 jobs call back a refused port and 2,000 a receiver that answers after 14 s;
/// another client's job is then called back as soon as it completes.
@Suite("Callback fairness", .serialized)
struct CallbackFairnessTests {
    static let floodToken = "flood-token"
    static let healthyToken = "healthy-token"

    /// Submits `count` renames of seeded assets `prefix0…` for `token`, calling back `callbackURL`.
    static func submit(_ base: String, emulator: String, prefix: String, count: Int, token: String, callbackURL: String) async throws -> [String] {
        _ = try await KillRestartTests.http(.POST, emulator + "/_emulator/assets", body: #"{"public_id":"\#(prefix)","count":\#(count)}"#)
        return try await withThrowingTaskGroup(of: [String].self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var ids: [String] = []
                    for index in stride(from: worker, to: count, by: 8) {
                        let body =
                            #"{"from_public_id":"\#(prefix)\#(index)","to_public_id":"\#(prefix)\#(index)-new","invalidate":false,"#
                            + #""callback_url":"\#(callbackURL)"}"#
                        let (status, data) = try await KillRestartTests.http(.POST, base + "/v1/renames", body: body, token: token)
                        guard status == 202, let id = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["id"] as? String else {
                            throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "submit answered \(status)"])
                        }
                        ids.append(id)
                    }
                    return ids
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
    }

    @Test func aDeadAndASlowReceiverDelayOnlyTheirOwnCallbacks() async throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "fairness-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (emulator, emulatorPort) = try await RenameCommandTests.startEmulator()
        defer { emulator.signal(SIGKILL) }
        let secret = WebhookSecret.generate()
        let slow = CallbackReceiver(secrets: [secret])
        slow.script(contentsOf: Array(repeating: .init(status: 200, delaySeconds: 14), count: 2_000))
        let slowRun = try await BackgroundRun.start { slow.buildApplication(onListening: $0) }
        let healthy = CallbackReceiver(secrets: [secret])
        let healthyRun = try await BackgroundRun.start { healthy.buildApplication(onListening: $0) }
        defer {
            Task {
                await slowRun.stop()
                await healthyRun.stop()
            }
        }
        let emulatorURL = "http://127.0.0.1:\(emulatorPort)"
        // Port 1 on loopback refuses connections at once.
        let refused = "http://127.0.0.1:1/hooks/"
        let config = directory.appending(path: "renamer.yaml").path
        try Data(
            """
            http: {host: 127.0.0.1, port: 0}
            clouds:
              main: {cloud_name: demo, api_key: "123456789012345", api_secret: emulator-secret, upload_prefix: \(emulatorURL), delivery_base_url: \(emulatorURL)/demo}
            clients:
              flood:
                token_sha256: \(Digest.sha256Hex(Array(Self.floodToken.utf8)))
                callback_url_prefixes: ["\(refused)", "http://127.0.0.1:\(slowRun.port)/hooks/"]
                callback_secrets: ["\(secret.encoded)"]
              healthy:
                token_sha256: \(Digest.sha256Hex(Array(Self.healthyToken.utf8)))
                callback_url_prefixes: ["http://127.0.0.1:\(healthyRun.port)/hooks/"]
                callback_secrets: ["\(secret.encoded)"]
            queue: {capacity: 10000}
            storage: {path: ":memory:"}
            """.utf8
        ).write(to: URL(fileURLWithPath: config))
        let daemon = try Subprocess("asset-renamer", ["serve", "--config", config])
        defer { daemon.signal(SIGKILL) }
        _ = await waitUntil(timeout: 60) { ServeTests.listeningPort(in: daemon.standardError) != nil || !daemon.process.isRunning }
        let port = try #require(ServeTests.listeningPort(in: daemon.standardError), "\(daemon.standardError)")
        let base = "http://127.0.0.1:\(port)"

        _ = try await Self.submit(base, emulator: emulatorURL, prefix: "dead/a", count: 2_000, token: Self.floodToken, callbackURL: refused + "r")
        _ = try await Self.submit(
            base,
            emulator: emulatorURL,
            prefix: "slow/a",
            count: 2_000,
            token: Self.floodToken,
            callbackURL: "http://127.0.0.1:\(slowRun.port)/hooks/r"
        )
        let healthyID = try #require(
            try await Self.submit(
                base,
                emulator: emulatorURL,
                prefix: "ok/a",
                count: 1,
                token: Self.healthyToken,
                callbackURL: "http://127.0.0.1:\(healthyRun.port)/hooks/r"
            ).first
        )

        // Its callback arrives, while the slow receiver is still working through its backlog.
        #expect(await waitUntil(timeout: 120) { !healthy.deliveries.isEmpty }, "\(daemon.standardError.suffix(2000))")
        let slowSoFar = slow.deliveries.count
        let delivered = try #require(healthy.deliveries.first)
        #expect(delivered.verified)
        let (_, jobData) = try await KillRestartTests.http(.GET, base + "/v1/renames/\(healthyID)", token: Self.healthyToken)
        let job = try #require(try JSONSerialization.jsonObject(with: jobData) as? [String: Any])
        let completedAt = try #require((job["completed_at"] as? String).flatMap { try? Date($0, strategy: .iso8601) })
        let delay = delivered.receivedAt.timeIntervalSince(completedAt)
        print("fairness: healthy callback \(String(format: "%.3f", delay)) s after its job completed; slow receiver had \(slowSoFar) of 2,000")
        #expect(delay < 5, "delivered \(delay) s after its job completed")
        #expect(slowSoFar < 2_000)

        // The backlog, per state and outcome, once the daemon has counted the healthy delivery (the
        // receiver sees the request before the daemon has read the answer).
        @Sendable func value(_ series: String, in text: String) -> Double {
            text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? -1
        }
        let deliveredSeries = #"renamer_callbacks_total{outcome="delivered"}"#
        let text =
            await waitFor(timeout: 30) { () async -> String? in
                guard let (_, data) = try? await KillRestartTests.http(.GET, base + "/metrics") else { return nil }
                let text = String(decoding: data, as: UTF8.self)
                return value(deliveredSeries, in: text) >= 1 ? text : nil
            } ?? ""
        func value(_ series: String) -> Double { value(series, in: text) }
        #expect(value(#"renamer_callbacks_backlog{state="in_flight"}"#) >= 4)
        #expect(value(#"renamer_callbacks_backlog{state="due"}"#) + value(#"renamer_callbacks_backlog{state="retrying"}"#) > 1_000)
        #expect(value(#"renamer_callbacks_total{outcome="retry"}"#) > 0)
        #expect(value(#"renamer_callbacks_total{outcome="delivered"}"#) >= 1)
    }
}
