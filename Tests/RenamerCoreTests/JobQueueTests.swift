import Foundation
import Logging
import RenamerConfig
import RenamerTestSupport
import Synchronization
import Testing

@testable import RenamerCore

/// A queue over a scripted Cloudinary and a manual clock: retries and backoff run without waiting.
struct QueueFixture {
    let queue: JobQueue
    let store: JobStore
    let cloudinary = ScriptedCloudinary()
    let clock = ManualClock()
    let configuration: RenamerConfiguration

    init(_ overrides: [String: String] = [:]) async throws {
        var values = [
            "clouds.main.cloud_name": "demo", "clouds.main.api_key": "k", "clouds.main.api_secret": "s",
            "clouds.main.max_concurrent_requests": "4", "queue.backoff_base_seconds": "1", "queue.backoff_cap_seconds": "60",
            "queue.max_attempts": "4", "storage.path": ":memory:",
        ]
        values.merge(overrides) { _, new in new }
        configuration = try await ConfigurationLoader.load(.init(overrides: values))
        store = JobStore()
        // Full jitter's upper bound, so delays are predictable.
        let retry = RetryPolicy(configuration.queue, random: { $0.upperBound })
        queue = JobQueue(
            configuration: configuration,
            store: store,
            cloudinary: cloudinary,
            clock: clock,
            retry: retry,
            logger: Logger(label: "test")
        )
    }

    @discardableResult
    func submit(_ from: String, _ to: String, invalidate: Bool = false, cloud: String = "main") -> String {
        let job = RenameJob.fixture(id: "rn_\(from)_\(to)", cloud: cloud, from: from, to: to, invalidate: invalidate, now: clock.now())
        #expect(store.insert(job, idempotencyKey: nil, body: .null, capacity: 100))
        queue.enqueue(job)
        return job.id
    }

    func status(_ id: String) async -> JobStatus? { (try? await store.job(id))?.status }

    func waitFor(_ id: String, _ status: JobStatus) async -> Bool {
        await eventually { await self.status(id) == status }
    }

    /// Waits until the queue has scheduled a retry (something is pending on the clock).
    func waitForRetry(count: Int = 1) async -> Bool {
        await eventually { clock.pendingDelays.count >= count }
    }
}

@Suite("Job queue")
struct JobQueueTests {
    @Test func successCompletesWithResult() async throws {
        let fixture = try await QueueFixture()
        let id = fixture.submit("a", "b")
        #expect(await fixture.waitFor(id, .completed))
        let job = try #require(try await fixture.store.job(id))
        #expect(job.attempts == 1)
        #expect(job.result?.publicID == "b")
        #expect(job.invalidation.status == .notRequested)
        #expect(job.completedAt != nil)
        let call = try #require(fixture.cloudinary.calls.first)
        #expect(call.notificationURL == "http://0.0.0.0:8080/v1/notifications/cloudinary?cloud=main&job=\(id)")
        #expect(call.parameters["overwrite"] == "false")
        #expect(call.parameters["to_type"] == nil)
    }

    @Test func invalidatingJobWaitsForConfirmation() async throws {
        let fixture = try await QueueFixture()
        let id = fixture.submit("a", "b", invalidate: true)
        #expect(await fixture.waitFor(id, .confirmingInvalidation))
        #expect((try await fixture.store.job(id))?.invalidation.status == .pending)
    }

    @Test func transientErrorRetriesWithExponentialBackoff() async throws {
        let fixture = try await QueueFixture()
        fixture.cloudinary.script(
            .rejected(status: 500, message: "boom", retryAfter: nil),
            .rejected(status: 502, message: "boom", retryAfter: nil)
        )
        let id = fixture.submit("a", "b")
        #expect(await fixture.waitForRetry())
        #expect(fixture.clock.pendingDelays == [1])  // base · 2⁰
        fixture.clock.advance(by: 1)
        #expect(await eventually { fixture.cloudinary.calls.count == 2 })
        #expect(await fixture.waitForRetry())
        #expect(fixture.clock.pendingDelays == [2])  // base · 2¹
        fixture.clock.advance(by: 2)
        #expect(await fixture.waitFor(id, .completed))
        #expect((try await fixture.store.job(id))?.attempts == 3)
    }

    @Test func retryAfterIsHonoured() async throws {
        let fixture = try await QueueFixture()
        fixture.cloudinary.script(.rejected(status: 503, message: "busy", retryAfter: 7))
        let id = fixture.submit("a", "b")
        #expect(await fixture.waitForRetry())
        #expect(fixture.clock.pendingDelays == [7])
        fixture.clock.advance(by: 6.9)
        try await Task.sleep(for: .milliseconds(50))
        #expect(fixture.cloudinary.calls.count == 1)
        fixture.clock.advance(by: 0.1)
        #expect(await fixture.waitFor(id, .completed))
    }

    @Test(arguments: [420, 429])
    func rateLimitPausesTheWholeCloud(_ status: Int) async throws {
        let fixture = try await QueueFixture()
        fixture.cloudinary.script(.rejected(status: status, message: "slow down", retryAfter: 10))
        let first = fixture.submit("a", "b")
        #expect(await fixture.waitForRetry())
        let second = fixture.submit("c", "d")
        try await Task.sleep(for: .milliseconds(50))
        #expect(await fixture.status(second) == .queued)
        #expect(fixture.cloudinary.calls.count == 1)
        fixture.clock.advance(by: 10)
        #expect(await fixture.waitFor(first, .completed))
        #expect(await fixture.waitFor(second, .completed))
    }

    @Test(arguments: [
        (400, "cloudinary_bad_request"), (401, "cloudinary_unauthorized"), (403, "cloudinary_forbidden"), (404, "cloudinary_not_found"),
        (409, "cloudinary_conflict"),
    ])
    func finalErrorsFailAtOnce(_ status: Int, _ code: String) async throws {
        let fixture = try await QueueFixture()
        fixture.cloudinary.script(.rejected(status: status, message: "Resource not found - a", retryAfter: nil))
        let id = fixture.submit("a", "b")
        #expect(await fixture.waitFor(id, .failed))
        let job = try #require(try await fixture.store.job(id))
        #expect(job.error == .init(code: code, message: "Resource not found - a", cloudinaryStatus: status))
        #expect(job.attempts == 1)
        #expect(fixture.clock.pendingDelays.isEmpty)
    }

    @Test func attemptsAreBoundedByMaxAttempts() async throws {
        let fixture = try await QueueFixture()
        for _ in 0..<4 { fixture.cloudinary.script(.rejected(status: 500, message: "down", retryAfter: nil)) }
        let id = fixture.submit("a", "b")
        for attempt in 1...3 {
            #expect(await fixture.waitForRetry())
            fixture.clock.advance(by: 60)
            #expect(await eventually { fixture.cloudinary.calls.count == attempt + 1 })
        }
        #expect(await fixture.waitFor(id, .failed))
        let job = try #require(try await fixture.store.job(id))
        #expect(job.attempts == 4)
        #expect(job.error?.code == "cloudinary_unavailable")
        #expect(job.error?.cloudinaryStatus == 500)
    }

    @Test func connectionFailureBeforeSendingRetries() async throws {
        let fixture = try await QueueFixture()
        fixture.cloudinary.script(.notSent(reason: "connection refused"))
        let id = fixture.submit("a", "b")
        #expect(await fixture.waitForRetry())
        fixture.clock.advance(by: 1)
        #expect(await fixture.waitFor(id, .completed))
        #expect(fixture.cloudinary.state.withLock { $0.lookups.isEmpty })
    }

    @Test func unknownOutcomeThatWasAppliedIsNotRetried() async throws {
        let fixture = try await QueueFixture()
        fixture.cloudinary.script(.outcomeUnknown(reason: "read timeout"))
        fixture.cloudinary.scriptLookup("b", .found(.init(publicID: "b", version: 9, secureURL: nil)))
        fixture.cloudinary.scriptLookup("a", .notFound)
        let id = fixture.submit("a", "b")
        #expect(await fixture.waitForRetry())
        fixture.clock.advance(by: 1)
        #expect(await fixture.waitFor(id, .completed))
        #expect(fixture.cloudinary.calls.count == 1)
        #expect((try await fixture.store.job(id))?.result?.version == 9)
        #expect((try await fixture.store.job(id))?.attempts == 1)
    }

    /// The call that timed out is still being applied while the lookups run: the source is gone
    /// and the target not there yet. That is looked at again, never failed at once.
    @Test func neitherAssetFoundDuringAMoveIsLookedAtAgain() async throws {
        let fixture = try await QueueFixture()
        fixture.cloudinary.script(.outcomeUnknown(reason: "read timeout"))
        fixture.cloudinary.scriptLookup("a", .notFound, .notFound)
        fixture.cloudinary.scriptLookup("b", .notFound, .found(.init(publicID: "b", version: 3, secureURL: nil)))
        let id = fixture.submit("a", "b")
        for _ in 0..<2 {
            #expect(await fixture.waitForRetry())
            fixture.clock.advance(by: 60)
        }
        #expect(await fixture.waitFor(id, .completed))
        #expect(fixture.cloudinary.calls.count == 1)
        // Source first, then target, each time.
        #expect(fixture.cloudinary.state.withLock { $0.lookups } == ["a", "b", "a", "b"])
    }

    @Test func unknownOutcomeThatWasNotAppliedIsRetried() async throws {
        let fixture = try await QueueFixture()
        fixture.cloudinary.script(.outcomeUnknown(reason: "connection reset"))
        fixture.cloudinary.scriptLookup("a", .found(.init(publicID: "a", version: 1, secureURL: nil)))
        let id = fixture.submit("a", "b")
        #expect(await fixture.waitForRetry())
        fixture.clock.advance(by: 1)
        #expect(await fixture.waitFor(id, .completed))
        #expect(fixture.cloudinary.calls.count == 2)
    }

    @Test func finalErrorAfterUnknownOutcomeIsDoubleChecked() async throws {
        let fixture = try await QueueFixture()
        // The first call timed out but was applied late; the retry finds the source gone (404).
        fixture.cloudinary.script(.outcomeUnknown(reason: "timeout"), .rejected(status: 404, message: "Resource not found - a", retryAfter: nil))
        fixture.cloudinary.scriptLookup("a", .found(.init(publicID: "a", version: 1, secureURL: nil)), .notFound)
        fixture.cloudinary.scriptLookup("b", .notFound, .found(.init(publicID: "b", version: 5, secureURL: nil)))
        let id = fixture.submit("a", "b")
        #expect(await fixture.waitForRetry())
        fixture.clock.advance(by: 1)
        #expect(await fixture.waitFor(id, .completed))
        #expect((try await fixture.store.job(id))?.result?.version == 5)
        #expect(fixture.cloudinary.calls.count == 2)
    }

    @Test func unavailableLookupRetriesTheLookupNotTheRename() async throws {
        let fixture = try await QueueFixture()
        fixture.cloudinary.script(.outcomeUnknown(reason: "timeout"))
        fixture.cloudinary.scriptLookup("b", .unavailable(reason: "500"), .found(.init(publicID: "b", version: 3, secureURL: nil)))
        fixture.cloudinary.scriptLookup("a", .unavailable(reason: "500"), .notFound)
        let id = fixture.submit("a", "b")
        #expect(await fixture.waitForRetry())
        fixture.clock.advance(by: 1)
        #expect(await fixture.waitForRetry())
        fixture.clock.advance(by: 60)
        #expect(await fixture.waitFor(id, .completed))
        #expect(fixture.cloudinary.calls.count == 1)
    }

    @Test func sameAssetJobsRunInAcceptanceOrder() async throws {
        let fixture = try await QueueFixture()
        fixture.cloudinary.hold()
        let first = fixture.submit("a", "b")
        let second = fixture.submit("b", "c")
        let unrelated = fixture.submit("x", "y")
        #expect(await eventually { fixture.cloudinary.heldCount == 2 })
        // a→b and x→y are in flight; b→c waits for a→b.
        #expect(await fixture.status(second) == .queued)
        #expect(Set(fixture.cloudinary.calls.map(\.fromPublicID)) == ["a", "x"])
        fixture.cloudinary.release()
        #expect(await fixture.waitFor(first, .completed))
        #expect(await fixture.waitFor(second, .completed))
        #expect(await fixture.waitFor(unrelated, .completed))
        #expect(fixture.cloudinary.calls.map(\.fromPublicID).last == "b")
    }

    @Test func sameAssetOrderHoldsAcrossRetryWaits() async throws {
        let fixture = try await QueueFixture()
        fixture.cloudinary.script(.rejected(status: 500, message: "boom", retryAfter: nil))
        let first = fixture.submit("a", "b")
        let second = fixture.submit("b", "c")
        #expect(await fixture.waitForRetry())
        try await Task.sleep(for: .milliseconds(50))
        #expect(await fixture.status(second) == .queued)
        fixture.clock.advance(by: 1)
        #expect(await fixture.waitFor(first, .completed))
        #expect(await fixture.waitFor(second, .completed))
        #expect(fixture.cloudinary.calls.map(\.fromPublicID) == ["a", "a", "b"])
    }

    @Test func concurrencyIsBoundedPerCloud() async throws {
        let fixture = try await QueueFixture(["clouds.main.max_concurrent_requests": "2"])
        fixture.cloudinary.hold()
        let ids = (0..<5).map { fixture.submit("s\($0)", "t\($0)") }
        #expect(await eventually { fixture.cloudinary.heldCount == 2 })
        try await Task.sleep(for: .milliseconds(50))
        #expect(fixture.cloudinary.calls.count == 2)
        fixture.cloudinary.release()
        for id in ids { #expect(await fixture.waitFor(id, .completed)) }
    }

    @Test func cancelledJobNeverCallsCloudinary() async throws {
        let fixture = try await QueueFixture()
        fixture.cloudinary.hold()
        let first = fixture.submit("a", "b")
        let second = fixture.submit("b", "c")
        let third = fixture.submit("c", "d")
        #expect(await eventually { fixture.cloudinary.heldCount == 1 })
        #expect(try await fixture.queue.cancel(second, client: "c")?.status == .cancelled)
        #expect(try await fixture.queue.cancel(first, client: "c")?.status == .renaming)
        #expect(try await fixture.queue.cancel(second, client: "other") == nil)
        fixture.cloudinary.release()
        #expect(await fixture.waitFor(first, .completed))
        #expect(await fixture.waitFor(third, .completed))
        #expect(!fixture.cloudinary.calls.contains { $0.fromPublicID == "b" })
        // Releasing the cancelled job's public IDs must not start the running job a second time.
        #expect(fixture.cloudinary.calls.map(\.fromPublicID) == ["a", "c"])
        #expect((try await fixture.store.job(second))?.status == .cancelled)
        #expect((try await fixture.store.job(second))?.attempts == 0)
    }

    @Test func backoffHasFullJitterUnderTheCap() async throws {
        let configuration = try await QueueFixture().configuration
        let policy = RetryPolicy(configuration.queue)
        for attempts in 1...10 {
            let delay = policy.delay(afterAttempts: attempts, retryAfter: nil)
            #expect(delay >= 0 && delay <= min(60, pow(2, Double(attempts - 1))))
        }
        #expect(policy.delay(afterAttempts: 1, retryAfter: 30) >= 30)
        let upper = RetryPolicy(configuration.queue, random: { $0.upperBound })
        #expect(upper.delay(afterAttempts: 20, retryAfter: nil) == 60)
    }
}
