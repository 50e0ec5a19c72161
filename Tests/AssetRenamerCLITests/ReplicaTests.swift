import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RenamerCrypto
import RenamerServer
import RenamerTestSupport
import Synchronization
import Testing

/// Several replicas on one PostgreSQL database, with the real binaries (SPEC §12): any replica
/// accepts, reads and cancels any job; a replica killed mid-call or mid-callback loses nothing; a
/// notification posted to a replica that does not own the job advances it; a database restart
/// loses nothing. The database is a throwaway cluster this test process starts.
@Suite("Several replicas on PostgreSQL", .serialized)
struct ReplicaTests {
    static let token = "replica-test-token"

    final class World: Sendable {
        let directory: URL
        let emulator: Subprocess
        let emulatorPort: Int
        let receiver: CallbackReceiver
        let receiverRun: BackgroundRun
        let secret: WebhookSecret
        let databaseURL: String
        let replicas = Mutex<[(process: Subprocess, port: Int)]>([])

        init(
            directory: URL,
            emulator: Subprocess,
            emulatorPort: Int,
            receiver: CallbackReceiver,
            receiverRun: BackgroundRun,
            secret: WebhookSecret,
            databaseURL: String
        ) {
            self.directory = directory
            self.emulator = emulator
            self.emulatorPort = emulatorPort
            self.receiver = receiver
            self.receiverRun = receiverRun
            self.secret = secret
            self.databaseURL = databaseURL
        }

        var emulatorURL: String { "http://127.0.0.1:\(emulatorPort)" }
        var configPath: String { directory.appending(path: "renamer.yaml").path }
        var callbackURL: String { "http://127.0.0.1:\(receiverRun.port)/hooks/r" }
        func base(_ index: Int) -> String { "http://127.0.0.1:\(replicas.withLock { $0[index].port })" }

        func writeConfig(invalidation: String = "probe", maxConcurrent: Int = 4, leaseSeconds: Int = 3) throws {
            let yaml = """
                http: {host: 127.0.0.1, port: 0}
                clouds:
                  main:
                    cloud_name: demo
                    api_key: "123456789012345"
                    api_secret: emulator-secret
                    upload_prefix: \(emulatorURL)
                    delivery_base_url: \(emulatorURL)/demo
                    timeout_seconds: 2
                    max_concurrent_requests: \(maxConcurrent)
                    invalidation: {method: \(invalidation), max_wait_seconds: 30}
                clients:
                  replicated:
                    token_sha256: \(Digest.sha256Hex(Array(ReplicaTests.token.utf8)))
                    callback_url_prefixes: ["http://127.0.0.1:\(receiverRun.port)/hooks/"]
                    callback_secrets: ["\(secret.encoded)"]
                queue: {backoff_base_seconds: 0.05, backoff_cap_seconds: 0.5, max_attempts: 10}
                callbacks: {timeout_seconds: 2, retry_schedule_seconds: [0.2, 0.5, 1, 1, 1, 1, 1, 1, 1, 1]}
                storage: {kind: postgres, url: "\(databaseURL)", lease_seconds: \(leaseSeconds), pool_size: 4}
                shutdown: {drain_seconds: 1}
                """
            try Data(yaml.utf8).write(to: URL(fileURLWithPath: configPath))
        }

        /// Starts `count` more replicas on the world's database.
        func startReplicas(_ count: Int) async throws {
            for _ in 0..<count {
                let started = try await KillRestartTests.startDaemon(configPath: configPath)
                replicas.withLock { $0.append(started) }
            }
        }

        func kill(_ index: Int) async {
            let process = replicas.withLock { $0[index].process }
            process.signal(SIGKILL)
            _ = await process.waitForExit(timeout: 10)
        }

        func log(_ index: Int) -> String { replicas.withLock { String($0[index].process.standardError.suffix(4000)) } }
        func fullLog(_ index: Int) -> String { replicas.withLock { $0[index].process.standardError } }

        func stop() async {
            for (process, _) in replicas.withLock({ $0 }) { process.signal(SIGKILL) }
            emulator.signal(SIGKILL)
            await receiverRun.stop()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// Runs `body` in a new world and stops everything it started when `body` ends, thrown or not
    /// (awaited here: a `defer` that spawns a task may never run before the test process exits).
    static func withWorld(databaseURL: String? = nil, _ body: (World) async throws -> Void) async throws {
        let world = try await makeWorld(databaseURL: databaseURL)
        do {
            try await body(world)
        } catch {
            await world.stop()
            throw error
        }
        await world.stop()
    }

    static func makeWorld(databaseURL: String? = nil) async throws -> World {
        let databaseURL = if let databaseURL { databaseURL } else { try await PostgresCluster.freshDatabase() }
        let directory = FileManager.default.temporaryDirectory.appending(path: "replicas-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let (emulator, port) = try await RenameCommandTests.startEmulator()
        let secret = WebhookSecret.generate()
        let receiver = CallbackReceiver(secrets: [secret])
        let receiverRun = try await BackgroundRun.start { receiver.buildApplication(onListening: $0) }
        return World(
            directory: directory,
            emulator: emulator,
            emulatorPort: port,
            receiver: receiver,
            receiverRun: receiverRun,
            secret: secret,
            databaseURL: databaseURL
        )
    }

    static func http(
        _ method: HTTPMethod,
        _ url: String,
        body: String? = nil,
        headers: [(String, String)] = [],
        token: String? = ReplicaTests.token
    ) async throws -> (Int, Data, HTTPHeaders) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let collected = try await response.body.collect(upTo: 8 << 20)
        return (Int(response.status.code), Data(collected.readableBytesView), response.headers)
    }

    static func object(_ data: Data) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    /// Submits `from → to` at `base`, retrying while the answer is 503 (a database restart);
    /// returns the job id.
    static func submit(_ base: String, from: String, to: String, key: String? = nil, callbackURL: String) async throws -> String {
        let body = #"{"from_public_id":"\#(from)","to_public_id":"\#(to)","callback_url":"\#(callbackURL)"}"#
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let (status, data, _) = try await http(.POST, base + "/v1/renames", body: body, headers: key.map { [("Idempotency-Key", $0)] } ?? [])
            if status == 202, let id = object(data)["id"] as? String { return id }
            guard status == 503, ContinuousClock.now < deadline else {
                throw CocoaError(
                    .featureUnsupported,
                    userInfo: [NSLocalizedDescriptionKey: "submit: \(status) \(String(decoding: data, as: UTF8.self))"]
                )
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// What the test knows of unfinished jobs: each as read through `base`, and the lines of every
    /// replica's log that name it (request lines left out).
    static func explain(_ ids: Set<String>, _ world: World, via base: String) async -> String {
        var text = "test seed \(TestRandom.seed)\n"
        for id in ids.sorted() {
            let job = (try? await http(.GET, base + "/v1/renames/\(id)")).map { String(decoding: $0.1, as: UTF8.self) } ?? "?"
            text += "\(id): \(job)\n"
            for index in 0..<world.replicas.withLock({ $0.count }) {
                for line in world.fullLog(index).split(separator: "\n") where line.contains(id) && !line.contains(#""msg":"request""#) {
                    text += "  replica \(index): \(line)\n"
                }
            }
        }
        return text
    }

    /// Waits (bounded) until every job reads as completed with its callback delivered through
    /// `base`; returns those that did not.
    static func unfinished(_ ids: [String], via base: String, timeout: Double = 60) async -> Set<String> {
        var left = Set(ids)
        let deadline = ContinuousClock.now + .seconds(timeout)
        while !left.isEmpty && ContinuousClock.now < deadline {
            for id in left {
                guard let (status, data, _) = try? await http(.GET, base + "/v1/renames/\(id)"), status == 200 else { continue }
                let job = object(data)
                if job["status"] as? String == "completed", (job["callback"] as? [String: Any])?["status"] as? String == "delivered" {
                    left.remove(id)
                }
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return left
    }

    /// Renames the emulator applied, per source public ID.
    static func appliedRenames(_ world: World) async throws -> [String: Int] {
        let (_, log, _) = try await http(.GET, world.emulatorURL + "/_emulator/requests", token: nil)
        let requests = try #require(try JSONSerialization.jsonObject(with: log) as? [[String: Any]])
        var applied: [String: Int] = [:]
        for request in requests where request["operation"] as? String == "rename" && request["applied"] as? Bool == true {
            applied[(request["fields"] as? [String: String])?["from_public_id"] ?? "", default: 0] += 1
        }
        return applied
    }

    /// Job ids of the verified callbacks the receiver got.
    static func calledBack(_ world: World) -> Set<String> {
        var called: Set<String> = []
        for delivery in world.receiver.deliveries where delivery.verified {
            if let id = (object(Data(delivery.body))["data"] as? [String: Any])?["id"] as? String { called.insert(id) }
        }
        return called
    }

    static func emulator(_ world: World, _ path: String, _ body: String? = nil) async throws {
        _ = try await http(.POST, world.emulatorURL + "/_emulator/" + path, body: body, token: nil)
    }

    @Test func killingTwoOfThreeReplicasLosesNothing() async throws {
        var random = TestRandom.generator()
        let hangingFor = Duration.milliseconds(Int.random(in: 100...600, using: &random))
        let failedAttemptsBeforeKill = Int.random(in: 1...10, using: &random)
        try await Self.withWorld { world in
            try await Self.killTwoOfThree(world, hangingFor: hangingFor, failedAttemptsBeforeKill: failedAttemptsBeforeKill)
        }
    }

    static func killTwoOfThree(_ world: World, hangingFor: Duration, failedAttemptsBeforeKill: Int) async throws {
        try world.writeConfig()
        try await world.startReplicas(3)
        let count = 30
        try await Self.emulator(world, "assets", #"{"public_id":"products/k","count":\#(count)}"#)
        try await Self.emulator(world, "pause")

        // Accepted on all three; some with an Idempotency-Key.
        var ids: [String] = []
        for index in 0..<count {
            let id = try await Self.submit(
                world.base(index % 3),
                from: "products/k\(index)",
                to: "products/n\(index)",
                key: index % 4 == 0 ? "key-\(index)" : nil,
                callbackURL: world.callbackURL
            )
            ids.append(id)
        }
        // A key used on one replica replays on another, naming the same job.
        let replay = try await Self.http(
            .POST,
            world.base(1) + "/v1/renames",
            body: #"{"from_public_id":"products/k0","to_public_id":"products/n0","callback_url":"\#(world.callbackURL)"}"#,
            headers: [("Idempotency-Key", "key-0")]
        )
        #expect(replay.0 == 202 && replay.2.first(name: "Idempotent-Replayed") == "true")
        #expect(Self.object(replay.1)["id"] as? String == ids[0])

        // Replica 0 dies while its calls hang at Cloudinary.
        _ = await waitUntil(timeout: 20) {
            let (_, data, _) = (try? await Self.http(.GET, world.emulatorURL + "/_emulator/in-flight", token: nil)) ?? (0, Data(), [:])
            return (Self.object(data)["calls"] as? Int ?? 0) >= 3
        }
        try await Task.sleep(for: hangingFor)
        await world.kill(0)

        // Replica 1 dies while its callbacks are being retried.
        world.receiver.script(contentsOf: Array(repeating: .init(status: 503), count: 200))
        try await Self.emulator(world, "resume")
        _ = await waitUntil(timeout: 30) { world.receiver.deliveries.count >= failedAttemptsBeforeKill }
        await world.kill(1)
        world.receiver.clearScript()

        // The survivor finishes everything: read through it, every job completes and is called back.
        let left = await Self.unfinished(ids, via: world.base(2))
        let why = left.isEmpty ? "" : await Self.explain(left, world, via: world.base(2))
        #expect(left.isEmpty, "unfinished: \(why)")
        let applied = try await Self.appliedRenames(world)
        #expect(applied.values.allSatisfy { $0 == 1 }, "applied more than once (seed \(TestRandom.seed)): \(applied.filter { $0.value != 1 })")
        #expect(applied.count == count)
        #expect(Set(ids).isSubset(of: Self.calledBack(world)))

        // The dead replicas' jobs were taken over (replica 0's by either survivor of the moment),
        // and calls cut short by the kill were looked up before anything else.
        let logs = world.fullLog(1) + world.fullLog(2)
        #expect(logs.contains("jobs taken over") && logs.contains("reconciled"))

        // Lists through the survivor see every replica's jobs.
        let (_, page, _) = try await Self.http(.GET, world.base(2) + "/v1/renames?limit=100")
        let listed = Set(((Self.object(page)["items"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String })
        #expect(listed == Set(ids))
    }

    @Test func notificationsAndCancelsReachTheOwningReplica() async throws {
        try await Self.withWorld { world in try await Self.notificationsAndCancels(world) }
    }

    static func notificationsAndCancels(_ world: World) async throws {
        try world.writeConfig(invalidation: "notification", maxConcurrent: 1)
        try await world.startReplicas(2)
        try await Self.emulator(world, "assets", #"{"public_id":"shared/a","count":3}"#)
        try await Self.emulator(world, "settings", #"{"sends_notifications":false}"#)

        // Accepted at replica 0, waiting for its notification; read through replica 1.
        let waiting = try await Self.submit(world.base(0), from: "shared/a0", to: "shared/b0", callbackURL: world.callbackURL)
        let confirming = await waitUntil(timeout: 20) {
            let job = (try? await Self.http(.GET, world.base(1) + "/v1/renames/\(waiting)")).map { Self.object($0.1) } ?? [:]
            return job["status"] as? String == "confirming_invalidation"
        }
        #expect(confirming)

        // Cloudinary's notification reaches replica 1, which does not own the job.
        let body = #"{"notification_type":"rename","from_public_id":"shared/a0","to_public_id":"shared/b0","resource_type":"image","type":"upload"}"#
        let timestamp = String(Int(Date().timeIntervalSince1970))
        let signature = NotificationVerifier(apiSecret: "emulator-secret").signature(body: Array(body.utf8), timestamp: timestamp, algorithm: .sha1)
        let headers = [("X-Cld-Timestamp", timestamp), ("X-Cld-Signature", signature)]
        @Sendable func post(to replica: Int) async throws -> (Int, Data, HTTPHeaders) {
            try await Self.http(
                .POST,
                world.base(replica) + "/v1/notifications/cloudinary?cloud=main&job=\(waiting)",
                body: body,
                headers: headers,
                token: nil
            )
        }
        let notify = try await post(to: 1)
        #expect(notify.0 == 200 && Self.object(notify.1)["status"] as? String == "accepted")
        let left = await Self.unfinished([waiting], via: world.base(1), timeout: 10)
        #expect(left.isEmpty, "the owner did not apply the forwarded notification\n\(world.log(0))")
        // The same (timestamp, signature) pair is a duplicate at the other replica too.
        let again = try await post(to: 0)
        #expect(Self.object(again.1)["status"] as? String == "duplicate")

        // A queued job of replica 0 (behind a call that hangs; one call at a time) is cancelled
        // through replica 1.
        try await Self.emulator(world, "pause")
        let hanging = try await Self.submit(world.base(0), from: "shared/a1", to: "shared/b1", callbackURL: world.callbackURL)
        let queued = try await Self.submit(world.base(0), from: "shared/a2", to: "shared/b2", callbackURL: world.callbackURL)
        let cancel = try await Self.http(.DELETE, world.base(1) + "/v1/renames/\(queued)")
        #expect(cancel.0 == 200 && Self.object(cancel.1)["status"] as? String == "cancelled", "\(String(decoding: cancel.1, as: UTF8.self))")
        try await Self.emulator(world, "resume")
        _ = hanging

        // The owner counted what it applied for the other replica.
        let metrics = String(decoding: try await Self.http(.GET, world.base(0) + "/metrics", token: nil).1, as: UTF8.self)
        #expect(metrics.contains(#"renamer_forwarded_requests_total{kind="notification"} 1"#))
        #expect(metrics.contains(#"renamer_forwarded_requests_total{kind="cancel"} 1"#))
    }

    @Test func aDatabaseRestartMidRunLosesNothing() async throws {
        let cluster = try await PostgresCluster.start()
        do {
            try await Self.withWorld(databaseURL: try await cluster.freshDatabase()) { world in
                try await Self.restartTheDatabase(world, cluster)
            }
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    static func restartTheDatabase(_ world: World, _ cluster: PostgresCluster) async throws {
        // A lease longer than the outage (SPEC §12: an outage shorter than the lease loses nothing
        // and stops no replica; a longer one is covered by the sweep's grace after an outage).
        try world.writeConfig(leaseSeconds: 10)
        try await world.startReplicas(2)
        let count = 30
        try await Self.emulator(world, "assets", #"{"public_id":"db/k","count":\#(count)}"#)
        var ids: [String] = []
        try await Self.emulator(world, "pause")
        for index in 0..<count / 2 {
            ids.append(try await Self.submit(world.base(index % 2), from: "db/k\(index)", to: "db/n\(index)", callbackURL: world.callbackURL))
        }
        // Down (for less than the lease) while calls hang; they end while it is down.
        try await cluster.stopServer()
        try await Self.emulator(world, "resume")
        let unready = await waitUntil(timeout: 10) {
            (try? await Self.http(.GET, world.base(0) + "/readyz", token: nil))?.0 == 503
        }
        #expect(unready, "readyz answers 503 while the database is down")
        try await cluster.restart()
        for index in count / 2..<count {
            ids.append(try await Self.submit(world.base(index % 2), from: "db/k\(index)", to: "db/n\(index)", callbackURL: world.callbackURL))
        }
        let left = await Self.unfinished(ids, via: world.base(0))
        let why = left.isEmpty ? "" : await Self.explain(left, world, via: world.base(0))
        #expect(left.isEmpty, "unfinished: \(why)")
        let applied = try await Self.appliedRenames(world)
        #expect(applied.values.allSatisfy { $0 == 1 } && applied.count == count, "\(applied.filter { $0.value != 1 })")
        #expect(Set(ids).isSubset(of: Self.calledBack(world)))
        // Both replicas are ready again.
        for index in 0..<2 {
            let (status, _, _) = try await Self.http(.GET, world.base(index) + "/readyz", token: nil)
            #expect(status == 200)
        }
    }
}
