import Foundation
import Logging
import RenamerConfig
import RenamerCrypto
import RenamerTestSupport
import Testing

@testable import RenamerCore

struct CallbackFixture {
    static let secrets = ["whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "whsec_ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="]
    let store: JobStore
    let clock = ManualClock()
    let transport: ScriptedTransport
    let delivery: CallbackDelivery

    init(
        _ responses: [CallbackResponse] = [],
        schedule: String = "5,30,120",
        secrets: [String] = [secrets[0]],
        storage: any JobStorage = MemoryStorage()
    ) async throws {
        store = JobStore(storage: storage)
        transport = ScriptedTransport(responses)
        delivery = try await Self.delivery(
            store: store,
            transport: transport,
            clock: clock,
            prefixes: ["https://caller.example/hooks/"],
            settings: ["clients.c.callback_secrets": secrets.joined(separator: ","), "callbacks.retry_schedule_seconds": schedule]
        )
    }

    /// Delivery for client `c` with callback URL `prefixes`, configured by the loader with
    /// `settings` on top; the jitter factor is fixed at its upper bound (1.2) so delays are
    /// predictable.
    static func delivery(
        store: JobStore,
        transport: any CallbackTransport,
        clock: ManualClock,
        prefixes: [String],
        settings: [String: String]
    ) async throws -> CallbackDelivery {
        var overrides = [
            "clouds.main.cloud_name": "d", "clouds.main.api_key": "k", "clouds.main.api_secret": "s",
            "clients.c.token_sha256": String(repeating: "a", count: 64), "clients.c.callback_url_prefixes": prefixes.joined(separator: ","),
            "clients.c.callback_secrets": secrets[0],
        ]
        overrides.merge(settings) { $1 }
        return CallbackDelivery(
            configuration: try await ConfigurationLoader.load(.init(overrides: overrides)),
            store: store,
            transport: transport,
            clock: clock,
            logger: Logger(label: "t"),
            random: { $0.upperBound }
        )
    }

    func finalJob(url: String = "https://caller.example/hooks/renames", status: JobStatus = .completed) -> RenameJob {
        let job = RenameJob.fixture(callbackURL: url, clientReference: "ref-7", attempts: 1, now: clock.now())
        return store.insert(job, movingThrough: status == .renaming ? [.renaming] : [.renaming, status], now: clock.now())!
    }

    var callback: RenameJob.Callback? {
        get async { try? await store.job("rn_1")?.callback }
    }
}

@Suite("Callback delivery")
struct CallbackDeliveryTests {
    /// The first attempt waits for the write that made the job final (and fixed its event) to be
    /// durable: a crash before that would make a new event, under another `webhook-id`.
    @Test func theFirstAttemptWaitsUntilTheEventIsDurable() async throws {
        let journal = GatedJournal()
        let fixture = try await CallbackFixture(storage: journal)
        let job = fixture.finalJob()
        journal.hold()
        fixture.delivery.deliver(job)
        #expect(await eventually { journal.waiting == 1 })
        #expect(fixture.transport.requests.isEmpty)
        journal.release(failing: false)
        #expect(await eventually { fixture.transport.requests.count == 1 })
        #expect(fixture.transport.requests.first?.headers["webhook-id"] == job.callbackEvent?.id)
    }

    /// Memory's copy of a job stands in for its stored row while its callback is due at the row's
    /// time (the outbox read then decodes nothing), and not once delivery ended.
    @Test func memoryHoldsAPendingCallbackAtItsDueTime() async throws {
        let fixture = try await CallbackFixture()
        let job = fixture.finalJob()
        let due = try #require(job.callbackEvent?.nextAttemptAt).timeIntervalSince1970
        #expect(fixture.store.pendingCallback("rn_1", due: due)?.callbackEvent == job.callbackEvent)
        #expect(fixture.store.pendingCallback("rn_1", due: due + 1) == nil)
        #expect(fixture.store.pendingCallback("rn_2", due: due) == nil)
        fixture.delivery.deliver(job)
        #expect(await eventually { (await fixture.callback)?.status == .delivered })
        #expect(fixture.store.pendingCallback("rn_1", due: due) == nil)
    }

    /// Once delivery ends the job keeps no event: nothing sends it again, and its stored row,
    /// rewritten now and read by every list of history, no longer carries the body.
    @Test func theEventIsDroppedWhenDeliveryEnds() async throws {
        let fixture = try await CallbackFixture()
        let job = fixture.finalJob()
        #expect(String(decoding: StoredJob.encode(job), as: UTF8.self).contains("\"eventBody\""))
        fixture.delivery.deliver(job)
        #expect(await eventually { (await fixture.callback)?.status == .delivered })
        let delivered = try #require(try await fixture.store.job("rn_1"))
        #expect(delivered.callbackEvent == nil)
        #expect(delivered.isSettled)
        #expect(!String(decoding: StoredJob.encode(delivered), as: UTF8.self).contains("event"))
    }

    @Test func retriesUntilDeliveredWithOneStableEvent() async throws {
        let fixture = try await CallbackFixture([.status(500, retryAfter: nil), .status(500, retryAfter: nil)])
        fixture.delivery.deliver(fixture.finalJob())
        #expect(await eventually { fixture.transport.requests.count == 1 })
        #expect(await eventually { fixture.clock.pendingDelays == [6] })  // 5 s · 1.2
        #expect((await fixture.callback)?.status == .pending)
        #expect((await fixture.callback)?.attempts == 1)
        #expect((await fixture.callback)?.lastStatus == 500)
        fixture.clock.advance(by: 6)
        #expect(await eventually { fixture.clock.pendingDelays == [36] })  // 30 s · 1.2
        fixture.clock.advance(by: 36)
        #expect(await eventually { (await fixture.callback)?.status == .delivered })
        #expect((await fixture.callback)?.attempts == 3)
        #expect((await fixture.callback)?.lastStatus == 200)
        let requests = fixture.transport.requests
        #expect(requests.count == 3)
        #expect(Set(requests.map { $0.headers["webhook-id"] ?? "" }).count == 1)
        #expect(Set(requests.map(\.body)).count == 1)
        // Every attempt is signed for its own timestamp and verifies.
        let webhooks = StandardWebhooks(secrets: [WebhookSecret(CallbackFixture.secrets[0])!])
        for request in requests {
            let timestamp = try #require(request.headers["webhook-timestamp"])
            try webhooks.verify(
                id: request.headers["webhook-id"],
                timestamp: timestamp,
                signatureHeader: request.headers["webhook-signature"],
                body: request.body,
                now: Double(timestamp)!
            )
        }
        let event = try #require(try JSONSerialization.jsonObject(with: Data(requests[0].body)) as? [String: Any])
        #expect(event["type"] as? String == "rename.completed")
        #expect((event["data"] as? [String: Any])?["client_reference"] as? String == "ref-7")
        #expect(requests[0].headers["Content-Type"] == "application/json")
    }

    @Test func failedJobsSendRenameFailed() async throws {
        let fixture = try await CallbackFixture()
        fixture.delivery.deliver(fixture.finalJob(status: .failed))
        #expect(await eventually { (await fixture.callback)?.status == .delivered })
        let event = try #require(try JSONSerialization.jsonObject(with: Data(fixture.transport.requests[0].body)) as? [String: Any])
        #expect(event["type"] as? String == "rename.failed")
    }

    @Test func goneStopsDelivery() async throws {
        let fixture = try await CallbackFixture([.status(410, retryAfter: nil)])
        fixture.delivery.deliver(fixture.finalJob())
        #expect(await eventually { (await fixture.callback)?.status == .gone })
        #expect((await fixture.callback)?.attempts == 1)
        #expect((await fixture.callback)?.lastStatus == 410)
        #expect(fixture.clock.pendingDelays.isEmpty)
    }

    @Test func redirectsAreFailuresAndRetryAfterIsHonoured() async throws {
        let fixture = try await CallbackFixture([.status(302, retryAfter: nil), .status(503, retryAfter: 100)])
        fixture.delivery.deliver(fixture.finalJob())
        #expect(await eventually { fixture.clock.pendingDelays == [6] })
        #expect((await fixture.callback)?.lastStatus == 302)
        fixture.clock.advance(by: 6)
        #expect(await eventually { fixture.clock.pendingDelays == [100] })
        fixture.clock.advance(by: 100)
        #expect(await eventually { (await fixture.callback)?.status == .delivered })
    }

    @Test func scheduleExhaustedFails() async throws {
        let fixture = try await CallbackFixture(
            [.failed(reason: "timeout"), .status(500, retryAfter: nil), .failed(reason: "refused")],
            schedule: "1,2"
        )
        fixture.delivery.deliver(fixture.finalJob())
        for delay in [1.2, 2.4] {
            #expect(await eventually { fixture.clock.pendingDelays.count == 1 && abs(fixture.clock.pendingDelays[0] - delay) < 1e-6 })
            fixture.clock.advance(by: delay)
        }
        #expect(await eventually { (await fixture.callback)?.status == .failed })
        #expect((await fixture.callback)?.attempts == 3)
        #expect((await fixture.callback)?.lastStatus == nil)
        #expect(try await fixture.store.job("rn_1")?.callbackEvent?.nextAttemptAt == nil)
    }

    @Test func urlOutsideThePrefixesIsNeverContacted() async throws {
        let fixture = try await CallbackFixture()
        fixture.delivery.deliver(fixture.finalJob(url: "https://caller.example/hooksevil"))
        #expect(await eventually { (await fixture.callback)?.status == .failed })
        #expect(fixture.transport.requests.isEmpty)
        #expect((await fixture.callback)?.attempts == 0)
    }

    @Test func rotationSendsOneSignaturePerSecret() async throws {
        let fixture = try await CallbackFixture(secrets: CallbackFixture.secrets)
        fixture.delivery.deliver(fixture.finalJob())
        #expect(await eventually { (await fixture.callback)?.status == .delivered })
        let request = try #require(fixture.transport.requests.first)
        let header = try #require(request.headers["webhook-signature"])
        #expect(header.split(separator: " ").count == 2)
        for secret in CallbackFixture.secrets {
            let timestamp = try #require(request.headers["webhook-timestamp"])
            try StandardWebhooks(secrets: [WebhookSecret(secret)!]).verify(
                id: request.headers["webhook-id"],
                timestamp: timestamp,
                signatureHeader: header,
                body: request.body,
                now: Double(timestamp)!
            )
        }
    }

    @Test func cancelledJobsSendNothing() async throws {
        let fixture = try await CallbackFixture()
        let cancelled = try #require(
            fixture.store.insert(RenameJob.fixture(callbackURL: "https://caller.example/hooks/renames"), movingThrough: [.cancelled])
        )
        #expect(cancelled.callbackEvent == nil)
        #expect(cancelled.callback.status == RenameJob.Callback.Status.none)
        fixture.delivery.deliver(cancelled)
        fixture.delivery.start()
        try await Task.sleep(for: .milliseconds(20))
        #expect(fixture.transport.requests.isEmpty)
    }
}
