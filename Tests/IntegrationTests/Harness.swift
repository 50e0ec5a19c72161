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
import Synchronization

/// The emulator and a daemon, both on loopback ports in this process, driven over HTTP.
final class Harness: Sendable {
    static let catalogToken = "catalog-token"
    /// For tests that count Cloudinary calls exactly: the suite's 2 s timeout, hit when kill and
    /// replica tests starve the in-process emulator, makes the outcome unknown and the daemon
    /// rightly looks up or retries (one more call). Their emulator never hangs, so they can wait.
    static let patientCloudinary = ["clouds.main.timeout_seconds": "30"]
    static let otherToken = "other-token"
    static let webhookSecret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

    let emulator: CloudinaryEmulator
    let emulatorRun: BackgroundRun
    let components: RenamerComponents
    let daemonRun: BackgroundRun
    let receiver: CallbackReceiver
    let receiverRun: BackgroundRun
    private let recorded = Mutex<[Exchange]>([])

    var emulatorURL: String { "http://127.0.0.1:\(emulatorRun.port)" }
    var daemonURL: String { "http://127.0.0.1:\(daemonRun.port)" }
    /// A callback URL the catalog client may use, served by ``receiver``.
    var callbackURL: String { "http://127.0.0.1:\(receiverRun.port)/hooks/renames" }

    private init(
        emulator: CloudinaryEmulator,
        emulatorRun: BackgroundRun,
        components: RenamerComponents,
        daemonRun: BackgroundRun,
        receiver: CallbackReceiver,
        receiverRun: BackgroundRun
    ) {
        self.emulator = emulator
        self.emulatorRun = emulatorRun
        self.components = components
        self.daemonRun = daemonRun
        self.receiver = receiver
        self.receiverRun = receiverRun
    }

    static func start(
        _ overrides: [String: String] = [:],
        emulatorSettings: EmulatorSettings = EmulatorSettings(),
        storage: (any JobStorage)? = nil
    ) async throws -> Harness {
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        // A key of its own, so that a daemon of an earlier test still retrying against a reused port
        // is refused instead of renaming this test's assets.
        var emulatorSettings = emulatorSettings
        emulatorSettings.apiKey = String(UInt64.random(in: 100_000_000_000_000...999_999_999_999_999))
        let emulator = CloudinaryEmulator(settings: emulatorSettings, logger: logger)
        let emulatorRun = try await BackgroundRun.start { emulator.buildApplication(onListening: $0) }
        let receiver = CallbackReceiver(secrets: [WebhookSecret(webhookSecret)!])
        let receiverRun = try await BackgroundRun.start { receiver.buildApplication(onListening: $0) }
        let emulatorURL = "http://127.0.0.1:\(emulatorRun.port)"
        var values = [
            "http.host": "127.0.0.1", "http.port": "0", "storage.path": ":memory:",
            "clouds.main.cloud_name": emulatorSettings.cloudName, "clouds.main.api_key": emulatorSettings.apiKey,
            "clouds.main.api_secret": emulatorSettings.apiSecret, "clouds.main.upload_prefix": emulatorURL,
            "clouds.main.delivery_base_url": "\(emulatorURL)/\(emulatorSettings.cloudName)", "clouds.main.timeout_seconds": "2",
            "queue.backoff_base_seconds": "0.05", "queue.backoff_cap_seconds": "0.2", "queue.max_attempts": "4",
            "clients.catalog.token_sha256": Digest.sha256Hex(Array(catalogToken.utf8)),
            "clients.catalog.public_id_prefixes": "products/",
            "clients.catalog.callback_url_prefixes": "http://127.0.0.1:1/hooks/,http://127.0.0.1:\(receiverRun.port)/hooks/",
            "callbacks.retry_schedule_seconds": "0.1,0.1,0.1", "callbacks.timeout_seconds": "2",
            "clients.catalog.callback_secrets": webhookSecret,
            "clients.other.token_sha256": Digest.sha256Hex(Array(otherToken.utf8)),
        ]
        values.merge(overrides) { _, new in new }
        let configuration = try await ConfigurationLoader.load(.init(overrides: values))
        let daemon = try Daemon(configuration: configuration, logger: logger, substitutes: .init(storage: storage))
        let components = daemon.components
        let daemonRun = try await BackgroundRun.start { daemon.service(onListening: $0) }
        return Harness(
            emulator: emulator,
            emulatorRun: emulatorRun,
            components: components,
            daemonRun: daemonRun,
            receiver: receiver,
            receiverRun: receiverRun
        )
    }

    /// Starts a harness, runs `body`, and stops it (also when `body` throws).
    static func run(
        _ overrides: [String: String] = [:],
        emulatorSettings: EmulatorSettings = EmulatorSettings(),
        storage: (any JobStorage)? = nil,
        _ body: (Harness) async throws -> Void
    ) async throws {
        let harness = try await start(overrides, emulatorSettings: emulatorSettings, storage: storage)
        do {
            try await body(harness)
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    /// Every job of the test clients, from storage (history is not kept in memory).
    func allJobs() async throws -> [RenameJob] {
        var jobs: [RenameJob] = []
        for client in ["catalog", "other"] {
            jobs += try await components.store.list(client: client, status: nil, limit: 100_000, after: nil)?.jobs ?? []
        }
        return jobs
    }

    func stop() async {
        // Stop starting Cloudinary calls, so nothing of this test outlives it.
        _ = await components.queue.drain(until: .now)
        await daemonRun.stop()
        await emulatorRun.stop()
        await receiverRun.stop()
    }

    /// Posts a notification signed as Cloudinary would (or with the given signature).
    func notify(
        _ body: String,
        timestamp: Int? = nil,
        secret: String? = nil,
        algorithm: DigestAlgorithm = .sha1,
        cloud: String? = "main",
        job: String? = nil,
        signature: String? = nil,
        omitHeaders: Bool = false,
        headers extra: [(String, String)] = []
    ) async throws -> Reply {
        let timestamp = String(timestamp ?? Int(Date().timeIntervalSince1970))
        let verifier = NotificationVerifier(apiSecret: secret ?? emulator.state.settings.apiSecret)
        let signature = signature ?? verifier.signature(body: Array(body.utf8), timestamp: timestamp, algorithm: algorithm)
        var query: [String] = []
        if let cloud { query.append("cloud=\(cloud)") }
        if let job { query.append("job=\(job)") }
        let url = daemonURL + "/v1/notifications/cloudinary" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        let headers = (omitHeaders ? [] : [("X-Cld-Timestamp", timestamp), ("X-Cld-Signature", signature)]) + extra
        return try await request(.POST, url, token: nil, body: Data(body.utf8), headers: headers)
    }

    /// A `rename` notification body.
    static func renameNotification(from: String, to: String, extra: String = "") -> String {
        #"{"notification_type":"rename","from_public_id":"\#(from)","to_public_id":"\#(to)","resource_type":"image","type":"upload"\#(extra)}"#
    }

    // MARK: HTTP

    /// One request made through ``request(_:_:token:body:contentType:headers:)`` and its answer.
    struct Exchange: Sendable {
        var method: String
        var url: URL
        var reply: Reply
    }

    /// Every exchange so far, in order.
    var exchanges: [Exchange] { recorded.withLock { $0 } }

    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: Data

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:] }
        var text: String { String(decoding: body, as: UTF8.self) }
        func header(_ name: String) -> String? { headers.first(name: name) }
        var fieldErrors: [String] { (json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String } }
    }

    func request(
        _ method: HTTPMethod,
        _ url: String,
        token: String? = catalogToken,
        body: Data? = nil,
        contentType: String? = "application/json",
        headers: [(String, String)] = []
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let contentType, body != nil { request.headers.add(name: "Content-Type", value: contentType) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let collected = try await response.body.collect(upTo: 4 << 20)
        let reply = Reply(status: Int(response.status.code), headers: response.headers, body: Data(collected.readableBytesView))
        if let parsed = URL(string: url) { recorded.withLock { $0.append(Exchange(method: method.rawValue, url: parsed, reply: reply)) } }
        return reply
    }

    func submit(_ fields: [String: Any], token: String = catalogToken, headers: [(String, String)] = []) async throws -> Reply {
        try await request(.POST, daemonURL + "/v1/renames", token: token, body: try JSONSerialization.data(withJSONObject: fields), headers: headers)
    }

    func job(_ id: String, token: String = catalogToken) async throws -> Reply {
        try await request(.GET, daemonURL + "/v1/renames/\(id)", token: token)
    }

    /// Polls the job until `status` or 20 s pass; returns its last JSON.
    func waitForJob(_ id: String, status: String, token: String = catalogToken) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + .seconds(20)
        var last: [String: Any] = [:]
        while ContinuousClock.now < deadline {
            last = try await job(id, token: token).json
            if last["status"] as? String == status { return last }
            try await Task.sleep(for: .milliseconds(20))
        }
        return last
    }

    /// Waits for a condition on this harness, bounded.
    func eventually(timeout: Double = 20, _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return try await condition()
    }

    /// Applied Upload API renames the emulator performed.
    var appliedRenames: [EmulatorRequestRecord] { emulator.state.requests.filter { $0.operation == "rename" && $0.applied } }
    var renameRequests: [EmulatorRequestRecord] { emulator.state.requests.filter { $0.operation == "rename" } }
}
