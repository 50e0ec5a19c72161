import Foundation
import NIOHTTP1
import RenamerServer
import RenamerTestSupport
import Synchronization
import Testing

/// Sustained mixed load against the real binary while the emulator fails 10 % of its calls and the
/// callback receiver a fifth of its deliveries (issue "measured and hardened"): nothing is lost,
/// nothing is renamed twice, every callback arrives, and the daemon's memory stays flat.
/// `RENAMER_LOAD_SECONDS` sets the length (default 20; the long run uses 180).
@Suite("Sustained load with faults", .serialized)
struct LoadTests {
    static var seconds: Double { Double(ProcessInfo.processInfo.environment["RENAMER_LOAD_SECONDS"] ?? "") ?? 20 }

    @Test func mixedLoadLosesNothingAndStaysFlat() async throws {
        let world = try await KillRestartTests.makeWorld()
        defer { Task { await world.stop() } }
        // Finished jobs are purged after 8.6 s, so memory reflects work in flight, not history.
        try world.writeConfig(retentionDays: 0.0001)
        let emulator = world.emulatorURL + "/_emulator"
        // Which calls and callbacks fail is drawn from the run's printed seed (RENAMER_TEST_SEED
        // repeats it), at the emulator and at the receiver.
        var random = TestRandom.generator()
        let settings = #"{"invalidation_delay_seconds":0.3,"fault_seed":\#(UInt64.random(in: 0 ... .max, using: &random))}"#
        _ = try await KillRestartTests.http(.POST, emulator + "/settings", body: settings)
        // 10 % of rename calls fail transiently (a 429 also pauses the cloud, so it is rarer).
        for (operation, status, probability) in [("rename", 500, 0.09), ("rename", 429, 0.01), ("lookup", 503, 0.1), ("delivery", 502, 0.1)] {
            let fault = #"{"operation":"\#(operation)","status":\#(status),"probability":\#(probability)}"#
            #expect(try await KillRestartTests.http(.POST, emulator + "/faults", body: fault).0 == 201)
        }
        var answers: [CallbackReceiver.Answer] = []
        for _ in 0..<100_000 { answers.append(.init(status: Double.random(in: 0..<1, using: &random) < 0.2 ? 503 : 200)) }
        world.receiver.script(contentsOf: answers)

        let (daemon, port) = try await KillRestartTests.startDaemon(world)
        defer { daemon.signal(SIGKILL) }
        let base = "http://127.0.0.1:\(port)"
        let pid = daemon.process.processIdentifier
        let accepted = AcceptedIDs()
        let samples = RSSSamples()
        let deadline = ContinuousClock.now + .milliseconds(Int(Self.seconds * 1000))
        let callback = "http://127.0.0.1:\(world.receiverRun.port)/hooks/load"

        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var index = 0
                    while ContinuousClock.now < deadline {
                        index += 1
                        let from = "load/w\(worker)-\(index)"
                        _ = try? await KillRestartTests.http(.POST, emulator + "/assets", body: #"{"public_id":"\#(from)"}"#)
                        let body = #"{"from_public_id":"\#(from)","to_public_id":"\#(from)-new","callback_url":"\#(callback)"}"#
                        if let (status, data) = try? await KillRestartTests.http(
                            .POST,
                            base + "/v1/renames",
                            body: body,
                            token: KillRestartTests.token
                        ),
                            status == 202, let job = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let id = job["id"] as? String
                        {
                            accepted.add(id)
                            // Mixed traffic: read the job back and page through the list now and then.
                            _ = try? await KillRestartTests.http(.GET, base + "/v1/renames/\(id)", token: KillRestartTests.token)
                            if index % 10 == 0 {
                                _ = try? await KillRestartTests.http(.GET, base + "/v1/renames?limit=50", token: KillRestartTests.token)
                            }
                        }
                    }
                }
            }
            group.addTask {
                while ContinuousClock.now < deadline {
                    if let rss = residentKiB(pid) { samples.add(rss) }
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
        }
        let ids = Set(accepted.ids)
        #expect(ids.count > 50, "too little load to judge: \(ids.count) jobs")

        // Every accepted job is called back exactly as completed, signed.
        @Sendable func calledBack() -> [String: String] {
            var events: [String: String] = [:]
            for delivery in world.receiver.deliveries where delivery.verified {
                if let event = try? JSONSerialization.jsonObject(with: Data(delivery.body)) as? [String: Any],
                    let id = (event["data"] as? [String: Any])?["id"] as? String
                {
                    events[id] = event["type"] as? String
                }
            }
            return events
        }
        _ = await waitUntil(timeout: 120) { ids.isSubset(of: Set(calledBack().keys)) }
        let events = calledBack()
        let missing = ids.subtracting(events.keys)
        #expect(missing.isEmpty, "\(missing.count) of \(ids.count) jobs never called back\n\(daemon.standardError.suffix(2000))")
        #expect(events.filter { ids.contains($0.key) }.values.allSatisfy { $0 == "rename.completed" })

        // Each asset was renamed exactly once at Cloudinary, retries or not.
        let (_, counts) = try await KillRestartTests.http(.GET, emulator + "/renames")
        let applied = try #require(try JSONSerialization.jsonObject(with: counts) as? [String: Int])
        #expect(applied.values.allSatisfy { $0 == 1 }, "renamed twice: \(applied.filter { $0.value != 1 })")
        #expect(applied.count >= ids.count)

        // Flat: the last third of the run peaks no higher than the middle third, with slack for
        // allocator noise.
        let rss = samples.values
        print(
            "load: \(ids.count) jobs in \(Self.seconds) s, \(applied.count) renames applied, daemon RSS KiB \(rss.first ?? 0) → \(rss.last ?? 0) (max \(rss.max() ?? 0))"
        )
        #expect(rss.count >= 6)
        if rss.count >= 6 {
            let third = rss.count / 3
            let middle = rss[third..<(2 * third)].max() ?? 0
            let last = rss[(2 * third)...].max() ?? 0
            #expect(Double(last) <= Double(middle) * 1.15 + 8192, "RSS KiB over the run: \(rss)")
        }
    }
}

final class RSSSamples: Sendable {
    private let list = Mutex<[Int]>([])

    func add(_ kib: Int) { list.withLock { $0.append(kib) } }
    var values: [Int] { list.withLock { $0 } }
}

/// Resident memory of a process in KiB (Linux `/proc`).
func residentKiB(_ pid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return nil }
    return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
}
