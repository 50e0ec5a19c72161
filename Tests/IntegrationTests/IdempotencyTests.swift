import AsyncHTTPClient
import CloudinaryEmulator
import Foundation
import NIOCore
import NIOHTTP1
import RenamerCore
import RenamerServer
import RenamerTestSupport
import Synchronization
import Testing

/// Exact idempotency under concurrent duplicates (SPEC §10): while the first request with a key is
/// unanswered, the others get `409`; a replay answers only a durably recorded job; a job that could
/// not be recorded promised nothing and frees its key.
@Suite("Idempotency under concurrency")
struct IdempotencyTests {
    static var body: [String: Any] { ["from_public_id": "products/a", "to_public_id": "products/b", "invalidate": false] }

    /// `count` identical submissions with `key` at once, each on its own connection.
    static func duplicates(_ harness: Harness, key: String, count: Int, client: HTTPClient) async throws -> [Harness.Reply] {
        let body = try JSONSerialization.data(withJSONObject: Self.body)
        let url = harness.daemonURL + "/v1/renames"
        return try await withThrowingTaskGroup(of: Harness.Reply.self) { group in
            for _ in 0..<count {
                group.addTask {
                    var request = HTTPClientRequest(url: url)
                    request.method = .POST
                    request.headers.add(name: "Authorization", value: "Bearer \(Harness.catalogToken)")
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.headers.add(name: "Idempotency-Key", value: key)
                    request.body = .bytes(ByteBuffer(bytes: body))
                    let response = try await client.execute(request, timeout: .seconds(30))
                    let collected = try await response.body.collect(upTo: 1 << 20)
                    return Harness.Reply(status: Int(response.status.code), headers: response.headers, body: Data(collected.readableBytesView))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    /// A client with a connection per request, so that the duplicates really are concurrent.
    static func withClient(_ body: (HTTPClient) async throws -> Void) async throws {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(5), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        do {
            try await body(client)
        } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    /// With the journal held, submits one request with `key` and, while its job cannot be made
    /// durable, `duplicates` more: every one of them must be a 409. Then the hold ends, the commit
    /// failing if `commitFails`, and `after` gets the first request's answer.
    static func heldFirst(
        key: String,
        duplicates: Int,
        commitFails: Bool,
        after: @escaping (Harness, HTTPClient, Harness.Reply) async throws -> Void
    ) async throws {
        let journal = GatedJournal()
        try await Harness.run(storage: journal) { harness in
            harness.emulator.state.setPaused(true)
            defer { harness.emulator.state.setPaused(false) }
            try await Self.withClient { client in
                journal.hold()
                let first = Task { try await harness.submit(Self.body, headers: [("Idempotency-Key", key)]) }
                #expect(await harness.eventually { journal.waiting == 1 })
                // The first is not durable, so not answered: nothing to replay yet.
                let early = try await Self.duplicates(harness, key: key, count: duplicates, client: client)
                #expect(early.allSatisfy { $0.status == 409 }, "\(early.map(\.status))")
                journal.release(failing: commitFails)
                try await after(harness, client, try await first.value)
            }
        }
    }

    @Test func duplicatesGet409UntilTheFirstIsDurableThenReplays() async throws {
        try await Self.heldFirst(key: "order-7", duplicates: 63, commitFails: false) { harness, client, original in
            #expect(original.status == 202)
            #expect(original.header("Idempotent-Replayed") == nil)
            let late = try await Self.duplicates(harness, key: "order-7", count: 8, client: client)
            #expect(late.allSatisfy { $0.status == 202 && $0.header("Idempotent-Replayed") == "true" })
            #expect(Set(late.compactMap { $0.json["id"] as? String }) == [original.json["id"] as? String])
        }
    }

    @Test func aJobTheJournalRefusedPromisedNothingAndFreesItsKey() async throws {
        try await Self.heldFirst(key: "order-8", duplicates: 16, commitFails: true) { harness, _, refused in
            #expect(refused.status == 503)
            #expect(refused.json["id"] == nil)
            // Nothing was promised under this key: once the journal works again, the next request is
            // a fresh acceptance.
            let journal = try #require(harness.components.store.storage as? GatedJournal)
            journal.release(failing: false)
            let again = try await harness.submit(Self.body, headers: [("Idempotency-Key", "order-8")])
            #expect(again.status == 202)
            #expect(again.header("Idempotent-Replayed") == nil)
            #expect(try await harness.allJobs().count == 1)
        }
    }

    /// 100 rounds of 64 concurrent duplicates: exactly one acceptance per key, every other answer
    /// a 409 or a replay of that same job, never a 5xx.
    @Test func sixtyFourConcurrentDuplicatesAHundredTimes() async throws {
        try await Harness.run(["queue.capacity": "1000"]) { harness in
            harness.emulator.state.setPaused(true)
            defer { harness.emulator.state.setPaused(false) }
            try await Self.withClient { client in
                for round in 0..<100 {
                    let replies = try await Self.duplicates(harness, key: "round-\(round)", count: 64, client: client)
                    let fresh = replies.filter { $0.status == 202 && $0.header("Idempotent-Replayed") == nil }
                    #expect(fresh.count == 1, "round \(round): \(replies.map(\.status))")
                    let id = fresh.first?.json["id"] as? String
                    for reply in replies where reply.status == 202 {
                        #expect(reply.json["id"] as? String == id, "round \(round)")
                    }
                    #expect(replies.allSatisfy { $0.status == 202 || $0.status == 409 }, "round \(round): \(replies.map(\.status))")
                }
            }
        }
    }
}
