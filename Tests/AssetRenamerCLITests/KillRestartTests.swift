import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RenamerCrypto
import RenamerServer
import RenamerTestSupport
import Synchronization
import Testing

/// The durability promise with the real binary (SPEC §1, §8): SIGKILL the daemon at some moment,
/// restart it on the same journal, and every accepted job still completes, each rename applied
/// exactly once at the emulator, each callback delivered.
@Suite("Kill and restart", .serialized)
struct KillRestartTests {
    enum Moment: String, CaseIterable {
        case duringAcceptance, midCall, midCallback
    }

    static let token = "kill-test-token"

    final class World: Sendable {
        let directory: URL
        let emulator: Subprocess
        let emulatorPort: Int
        let receiver: CallbackReceiver
        let receiverRun: BackgroundRun
        /// The callback secret of the configured client, known to ``receiver``.
        let secret: WebhookSecret

        init(
            emulator: Subprocess,
            emulatorPort: Int,
            receiver: CallbackReceiver,
            receiverRun: BackgroundRun,
            directory: URL,
            secret: WebhookSecret
        ) {
            self.secret = secret
            self.emulator = emulator
            self.emulatorPort = emulatorPort
            self.receiver = receiver
            self.receiverRun = receiverRun
            self.directory = directory
        }

        var configPath: String { directory.appending(path: "renamer.yaml").path }
        var emulatorURL: String { "http://127.0.0.1:\(emulatorPort)" }

        func writeConfig(retentionDays: Double = 7, drainSeconds: Double = 2, cloudinaryTimeout: Double = 2) throws {
            let yaml = """
                http: {host: 127.0.0.1, port: 0}
                clouds:
                  main:
                    cloud_name: demo
                    api_key: "123456789012345"
                    api_secret: emulator-secret
                    upload_prefix: \(emulatorURL)
                    delivery_base_url: \(emulatorURL)/demo
                    timeout_seconds: \(cloudinaryTimeout)
                clients:
                  killer:
                    token_sha256: \(Digest.sha256Hex(Array(KillRestartTests.token.utf8)))
                    callback_url_prefixes: ["http://127.0.0.1:\(receiverRun.port)/hooks/"]
                    callback_secrets: ["\(secret.encoded)"]
                queue: {backoff_base_seconds: 0.05, backoff_cap_seconds: 0.5, max_attempts: 8}
                callbacks: {timeout_seconds: 2, retry_schedule_seconds: [0.2, 0.5, 1, 1, 1, 1, 1, 1]}
                storage: {path: \(directory.appending(path: "journal.sqlite").path), retention_days: \(retentionDays)}
                shutdown: {drain_seconds: \(drainSeconds)}
                """
            try Data(yaml.utf8).write(to: URL(fileURLWithPath: configPath))
        }

        func stop() async {
            emulator.signal(SIGKILL)
            await receiverRun.stop()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    static func makeWorld() async throws -> World {
        let directory = FileManager.default.temporaryDirectory.appending(path: "kill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let (emulator, port) = try await RenameCommandTests.startEmulator()
        let secret = WebhookSecret.generate()
        let receiver = CallbackReceiver(secrets: [secret])
        let receiverRun = try await BackgroundRun.start { receiver.buildApplication(onListening: $0) }
        let world = World(emulator: emulator, emulatorPort: port, receiver: receiver, receiverRun: receiverRun, directory: directory, secret: secret)
        try world.writeConfig()
        return world
    }

    static func startDaemon(_ world: World) async throws -> (Subprocess, Int) {
        try await startDaemon(configPath: world.configPath)
    }

    static func startDaemon(configPath: String) async throws -> (Subprocess, Int) {
        let child = try Subprocess("asset-renamer", ["serve", "--config", configPath])
        _ = await waitUntil(timeout: 60) { ServeTests.listeningPort(in: child.standardError) != nil || !child.process.isRunning }
        guard let port = ServeTests.listeningPort(in: child.standardError) else {
            throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "daemon did not start: \(child.standardError)"])
        }
        return (child, port)
    }

    static func http(_ method: HTTPMethod, _ url: String, body: String? = nil, token: String? = nil) async throws -> (Int, Data) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let collected = try await response.body.collect(upTo: 8 << 20)
        return (Int(response.status.code), Data(collected.readableBytesView))
    }

    @Test(arguments: Moment.allCases)
    func everyAcceptedJobCompletesExactlyOnce(_ moment: Moment) async throws {
        // The moment of the kill is drawn from the run's printed seed (RENAMER_TEST_SEED repeats it).
        var random = TestRandom.generator("everyAcceptedJobCompletesExactlyOnce(\(moment))")
        let acceptedBeforeKill = Int.random(in: 3...20, using: &random)
        let hangingFor = Duration.milliseconds(Int.random(in: 100...600, using: &random))
        let deliveredBeforeKill = Int.random(in: 1...30, using: &random)
        let world = try await Self.makeWorld()
        defer { Task { await world.stop() } }
        let count = 30
        for index in 0..<count {
            _ = try await Self.http(.POST, world.emulatorURL + "/_emulator/assets", body: #"{"public_id":"products/k\#(index)"}"#)
        }
        if moment != .midCallback {
            _ = try await Self.http(.POST, world.emulatorURL + "/_emulator/pause")
        } else {
            // Every callback fails for now, so delivery is in progress when the daemon dies.
            world.receiver.script(contentsOf: Array(repeating: .init(status: 503), count: 40))
        }

        let (daemon, port) = try await Self.startDaemon(world)
        let accepted = AcceptedIDs()
        let submitter = Task {
            for index in 0..<count {
                let body =
                    #"{"from_public_id":"products/k\#(index)","to_public_id":"products/n\#(index)","invalidate":false,"#
                    + #""callback_url":"http://127.0.0.1:\#(world.receiverRun.port)/hooks/r"}"#
                guard let (status, data) = try? await Self.http(.POST, "http://127.0.0.1:\(port)/v1/renames", body: body, token: Self.token),
                    status == 202, let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let id = object["id"] as? String
                else { return }
                accepted.add(id)
            }
        }
        switch moment {
        case .duringAcceptance:
            _ = await waitUntil(timeout: 30) { accepted.count >= acceptedBeforeKill }
        case .midCall:
            _ = await submitter.value
            // Calls are now hanging at the paused emulator.
            try await Task.sleep(for: hangingFor)
        case .midCallback:
            _ = await submitter.value
            _ = await waitUntil(timeout: 30) { world.receiver.deliveries.count >= deliveredBeforeKill }
        }
        daemon.signal(SIGKILL)
        _ = await daemon.waitForExit(timeout: 10)
        submitter.cancel()
        _ = await submitter.value
        let ids = accepted.ids
        #expect(!ids.isEmpty)

        _ = try await Self.http(.POST, world.emulatorURL + "/_emulator/resume")
        world.receiver.clearScript()
        let (restarted, restartedPort) = try await Self.startDaemon(world)
        defer { restarted.signal(SIGKILL) }

        // Every accepted job completes and is called back.
        var unfinished = Set(ids)
        let deadline = ContinuousClock.now + .seconds(60)
        while !unfinished.isEmpty && ContinuousClock.now < deadline {
            for id in unfinished {
                guard
                    let (status, data) = try? await Self.http(
                        .GET,
                        "http://127.0.0.1:\(restartedPort)/v1/renames/\(id)",
                        token: Self.token
                    ),
                    status == 200, let job = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
                else { continue }
                if job["status"] as? String == "completed", (job["callback"] as? [String: Any])?["status"] as? String == "delivered" {
                    unfinished.remove(id)
                }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(
            unfinished.isEmpty,
            "unfinished after restart (test seed \(TestRandom.seed)): \(unfinished.sorted())\n\(restarted.standardError.suffix(3000))"
        )

        // Each rename happened exactly once at Cloudinary.
        let (_, log) = try await Self.http(.GET, world.emulatorURL + "/_emulator/requests")
        let requests = try #require(try JSONSerialization.jsonObject(with: log) as? [[String: Any]])
        var applied: [String: Int] = [:]
        for request in requests where request["operation"] as? String == "rename" && request["applied"] as? Bool == true {
            let from = (request["fields"] as? [String: String])?["from_public_id"] ?? ""
            applied[from, default: 0] += 1
        }
        #expect(applied.values.allSatisfy { $0 == 1 }, "test seed \(TestRandom.seed): \(applied.filter { $0.value != 1 })")
        #expect(applied.count >= ids.count)

        // Each callback arrived, signed.
        var called: Set<String> = []
        for delivery in world.receiver.deliveries where delivery.verified {
            if let event = try? JSONSerialization.jsonObject(with: Data(delivery.body)) as? [String: Any],
                let id = (event["data"] as? [String: Any])?["id"] as? String
            {
                called.insert(id)
            }
        }
        #expect(Set(ids).isSubset(of: called))
    }

    /// Starts a daemon and submits `from → to` while the emulator hangs renames for `hang` seconds;
    /// returns once the job's first attempt is durable and in flight.
    static func renameHangingAtCloudinary(
        _ world: World,
        from: String,
        to: String,
        hang: Double
    ) async throws
        -> (daemon: Subprocess, base: String, id: String)
    {
        _ = try await http(.POST, world.emulatorURL + "/_emulator/assets", body: #"{"public_id":"\#(from)"}"#)
        _ = try await http(.POST, world.emulatorURL + "/_emulator/faults", body: #"{"operation":"rename","hang_seconds":\#(hang)}"#)
        let (daemon, port) = try await startDaemon(world)
        let base = "http://127.0.0.1:\(port)"
        let (status, data) = try await http(
            .POST,
            base + "/v1/renames",
            body: #"{"from_public_id":"\#(from)","to_public_id":"\#(to)","invalidate":false}"#,
            token: token
        )
        #expect(status == 202)
        let id = try #require((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["id"] as? String)
        #expect(
            await waitUntil(timeout: 30) {
                (try? await http(.GET, base + "/v1/renames/\(id)", token: token).1).map {
                    String(decoding: $0, as: UTF8.self).contains(#""attempts":1"#)
                } ?? false
            }
        )
        return (daemon, base, id)
    }

    /// SIGTERM with a call in flight: readiness and new renames answer 503 while reads work, the call
    /// finishes and is journalled, exit 0; a restart does not call Cloudinary again.
    @Test func drainLetsInFlightCallsFinish() async throws {
        let world = try await Self.makeWorld()
        defer { Task { await world.stop() } }
        // A drain deadline far beyond the wait below: the daemon exits because the call finished.
        try world.writeConfig(drainSeconds: 300)
        let (daemon, base, id) = try await Self.renameHangingAtCloudinary(world, from: "products/d1", to: "products/d2", hang: 1.0)
        daemon.signal(SIGTERM)
        #expect(await waitUntil(timeout: 30) { (try? await Self.http(.GET, base + "/readyz").0) == 503 })
        let refused = try await Self.http(
            .POST,
            base + "/v1/renames",
            body: #"{"from_public_id":"products/x","to_public_id":"products/y"}"#,
            token: Self.token
        )
        #expect(refused.0 == 503)
        #expect(try await Self.http(.GET, base + "/v1/renames/\(id)", token: Self.token).0 == 200)
        #expect(await daemon.waitForExit(timeout: 60) == 0)

        let (restarted, restartedPort) = try await Self.startDaemon(world)
        defer { restarted.signal(SIGKILL) }
        let (_, jobData) = try await Self.http(.GET, "http://127.0.0.1:\(restartedPort)/v1/renames/\(id)", token: Self.token)
        let job = try #require(try JSONSerialization.jsonObject(with: jobData) as? [String: Any])
        #expect(job["status"] as? String == "completed")
        #expect(job["attempts"] as? Int == 1)
        let (_, log) = try await Self.http(.GET, world.emulatorURL + "/_emulator/requests")
        let renames = try #require(try JSONSerialization.jsonObject(with: log) as? [[String: Any]]).filter { $0["operation"] as? String == "rename" }
        #expect(renames.count == 1)
    }

    /// A second SIGTERM does not wait for the drain; nothing is lost and the rename happens once.
    @Test func secondSignalExitsAtOnceAndLosesNothing() async throws {
        let world = try await Self.makeWorld()
        defer { Task { await world.stop() } }
        // The call hangs for 12 s (within the Cloudinary timeout) and the drain would wait 300 s:
        // exiting within the 8 s bound below means the second signal cut the drain short.
        try world.writeConfig(drainSeconds: 300, cloudinaryTimeout: 60)
        let (daemon, base, id) = try await Self.renameHangingAtCloudinary(world, from: "products/s1", to: "products/s2", hang: 12)
        // The call has reached the emulator (the daemon could otherwise die while still sending it).
        #expect(await waitUntil(timeout: 30) { await Self.callsInFlight(world) == 1 })
        daemon.signal(SIGTERM)
        #expect(await waitUntil(timeout: 30) { (try? await Self.http(.GET, base + "/readyz").0) == 503 })
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit(timeout: 8) == 0)

        let (restarted, restartedPort) = try await Self.startDaemon(world)
        defer { restarted.signal(SIGKILL) }
        let completed = await waitFor(timeout: 60) { () -> [String: Any]? in
            guard let (_, data) = try? await Self.http(.GET, "http://127.0.0.1:\(restartedPort)/v1/renames/\(id)", token: Self.token),
                let job = try? JSONSerialization.jsonObject(with: data) as? [String: Any], job["status"] as? String == "completed"
            else { return nil }
            return job
        }
        let job = try #require(completed, "the job did not complete after the restart")
        // Every call the job made (the hung first one included) has ended at the emulator: then
        // count what was applied.
        let attempts = try #require(job["attempts"] as? Int)
        #expect(await waitUntil(timeout: 60) { await Self.callsInFlight(world) == 0 })
        let (_, log) = try await Self.http(.GET, world.emulatorURL + "/_emulator/requests")
        let renames = try #require(try JSONSerialization.jsonObject(with: log) as? [[String: Any]]).filter { $0["operation"] as? String == "rename" }
        #expect(renames.count == attempts)
        #expect(renames.filter { $0["applied"] as? Bool == true }.count == 1)
    }

    /// Upload and Admin API calls the emulator is handling now (-1 if it does not answer).
    static func callsInFlight(_ world: World) async -> Int {
        guard let (_, data) = try? await http(.GET, world.emulatorURL + "/_emulator/in-flight"),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Int]
        else { return -1 }
        return object["calls"] ?? -1
    }

    @Test func corruptOrUnwritableJournalIsAStartupError() async throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "journal-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let garbage = directory.appending(path: "garbage.sqlite")
        try Data(repeating: 0x42, count: 16384).write(to: garbage)
        for path in [garbage.path, "/nonexistent/dir/journal.sqlite"] {
            let result = try await Subprocess.run(
                "asset-renamer",
                ["serve", "--config", CommandLineTests.example, "--set", "storage.path=\(path)", "--set", "http.port=0"]
            )
            #expect(result.status == 2, "\(result.stderr)")
            let lines = result.stderr.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("{") }
            #expect(lines.count == 1, "\(result.stderr)")
            #expect(lines.first?.contains("storage.path") == true)
        }
    }
}

/// Job ids answered 202, collected from a task.
final class AcceptedIDs: Sendable {
    private let list = Mutex<[String]>([])

    func add(_ id: String) { list.withLock { $0.append(id) } }
    var ids: [String] { list.withLock { $0 } }
    var count: Int { list.withLock { $0.count } }
}
