import Foundation
import Logging
import RenamerConfig
import RenamerTestSupport
import Synchronization
import Testing

@testable import RenamerCore

/// Confirmation with a manual clock: probe schedules and deadlines run without waiting.
struct ConfirmerFixture {
    let store = JobStore()
    let clock = ManualClock()
    let prober: ScriptedProber
    let confirmer: InvalidationConfirmer
    let completed = CompletedJobs()

    init(method: String, prober: ScriptedProber = ScriptedProber(), extra: [String: String] = [:]) async throws {
        var values = [
            "clouds.main.cloud_name": "demo", "clouds.main.api_key": "k", "clouds.main.api_secret": "s",
            "clouds.main.delivery_base_url": "https://cdn.example/demo", "clouds.main.invalidation.method": method,
            "clouds.main.invalidation.max_wait_seconds": "100", "clouds.main.invalidation.settle_seconds": "5",
        ]
        values.merge(extra) { $1 }
        let configuration = try await ConfigurationLoader.load(.init(overrides: values))
        self.prober = prober
        let completed = self.completed
        confirmer = InvalidationConfirmer(
            configuration: configuration,
            store: store,
            prober: prober,
            clock: clock,
            logger: Logger(label: "test"),
            onCompleted: { job in completed.append(job) }
        )
    }

    /// A job that just renamed, `confirming_invalidation`.
    func renamedJob(method: RenameJob.Invalidation.Method, from: String = "products/a b", notified: Bool = false) -> RenameJob {
        let now = clock.now()
        var job = RenameJob.fixture(from: from, to: "products/new", invalidate: true, method: method, attempts: 1, now: now)
        job.notifiedAt = notified ? now : nil
        return store.insert(job, movingThrough: [.renaming, .confirmingInvalidation], now: now)!
    }

    var invalidation: RenameJob.Invalidation? {
        get async { try? await store.job("rn_1")?.invalidation }
    }
    var status: JobStatus? {
        get async { try? await store.job("rn_1")?.status }
    }
}

@Suite("Invalidation confirmation")
struct InvalidationConfirmerTests {
    @Test func probeUntil404WithDoublingBackoff() async throws {
        let fixture = try await ConfirmerFixture(method: "probe", prober: ScriptedProber([.status(200), .status(200), .status(200), .status(404)]))
        fixture.confirmer.begin(fixture.renamedJob(method: .probe))
        // The first probe goes out at once.
        #expect(await eventually { fixture.prober.urls.count == 1 })
        #expect(fixture.prober.urls[0] == "https://cdn.example/demo/image/upload/products/a%20b")
        for (index, delay) in [2.0, 4.0, 8.0].enumerated() {
            #expect(await eventually { fixture.clock.pendingDelays.contains(delay) })
            fixture.clock.advance(by: delay)
            #expect(await eventually { fixture.prober.urls.count == index + 2 })
        }
        #expect(await eventually { (await fixture.status) == .completed })
        #expect((await fixture.invalidation)?.status == .confirmed)
        #expect((await fixture.invalidation)?.confirmedAt == fixture.clock.now())
        #expect(await eventually { fixture.completed.count == 1 })
    }

    @Test func probeBackoffIsCappedAtThirtySeconds() async throws {
        let fixture = try await ConfirmerFixture(method: "probe", extra: ["clouds.main.invalidation.max_wait_seconds": "1000"])
        fixture.confirmer.begin(fixture.renamedJob(method: .probe))
        var delays: [Double] = []
        for _ in 0..<7 {
            #expect(await eventually { fixture.clock.pendingDelays.count == 2 })
            let delay = try #require(fixture.clock.pendingDelays.first)
            delays.append(delay)
            fixture.clock.advance(by: delay)
        }
        #expect(delays == [2, 4, 8, 16, 30, 30, 30])
    }

    @Test(arguments: [ProbeOutcome.status(410), .status(403), .status(404)])
    func anyClientErrorButTooManyRequestsConfirms(_ outcome: ProbeOutcome) async throws {
        let fixture = try await ConfirmerFixture(method: "probe", prober: ScriptedProber([outcome]))
        fixture.confirmer.begin(fixture.renamedJob(method: .probe))
        #expect(await eventually { (await fixture.status) == .completed })
        #expect((await fixture.invalidation)?.status == .confirmed)
    }

    @Test(arguments: [ProbeOutcome.status(429), .status(500), .status(301), .failed(reason: "reset")])
    func otherAnswersKeepProbing(_ outcome: ProbeOutcome) async throws {
        let fixture = try await ConfirmerFixture(method: "probe", prober: ScriptedProber([outcome, .status(404)]))
        fixture.confirmer.begin(fixture.renamedJob(method: .probe))
        #expect(await eventually { fixture.clock.pendingDelays.contains(2) })
        #expect((await fixture.status) == .confirmingInvalidation)
        fixture.clock.advance(by: 2)
        #expect(await eventually { (await fixture.status) == .completed })
    }

    @Test func nothingConfirmsWithinMaxWaitIsUnconfirmed() async throws {
        let fixture = try await ConfirmerFixture(method: "probe", prober: ScriptedProber(fallback: .status(200)))
        fixture.confirmer.begin(fixture.renamedJob(method: .probe))
        #expect(await eventually { fixture.prober.urls.count == 1 })
        for _ in 0..<10 where (await fixture.status) == .confirmingInvalidation {
            fixture.clock.advance(by: 30)
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(await eventually { (await fixture.status) == .completed })
        #expect((await fixture.invalidation)?.status == .unconfirmed)
        #expect((await fixture.invalidation)?.confirmedAt == nil)
        #expect(await eventually { fixture.completed.count == 1 })
    }

    /// One timer for every job's deadline: confirmed jobs leave nothing scheduled behind, and jobs
    /// that began at different times each end unconfirmed at their own deadline.
    @Test func maxWaitIsOneTimerForAllJobs() async throws {
        let fixture = try await ConfirmerFixture(method: "notification")
        func begin(_ id: String) {
            let now = fixture.clock.now()
            var job = RenameJob.fixture(id: id, from: "p/\(id)", to: "p/\(id)-new", invalidate: true, method: .notification, attempts: 1, now: now)
            job.notifiedAt = nil
            fixture.confirmer.begin(fixture.store.insert(job, movingThrough: [.renaming, .confirmingInvalidation], now: now)!)
        }
        func status(_ id: String) async -> RenameJob.Invalidation.Status? { (try? await fixture.store.job(id))?.invalidation.status }
        for index in 0..<50 { begin("rn_c\(index)") }
        #expect(await eventually { fixture.confirmer.pendingCount == 50 })
        #expect(fixture.clock.pendingDelays == [100])
        for index in 0..<50 {
            let notified = try fixture.store.transition("rn_c\(index)", now: fixture.clock.now()) { $0.noteNotification(at: fixture.clock.now()) }
            fixture.confirmer.notificationArrived(notified)
        }
        #expect(await eventually { fixture.completed.count == 50 })
        #expect(fixture.clock.pendingDelays == [100])  // still the one sweep; nothing per job

        begin("rn_early")
        #expect(await eventually { fixture.confirmer.pendingCount == 1 })  // its deadline is taken from the clock
        fixture.clock.advance(by: 40)
        begin("rn_late")
        #expect(await eventually { fixture.confirmer.pendingCount == 2 })
        fixture.clock.advance(by: 60)  // t = 100: the first job's deadline
        #expect(await eventually { (await status("rn_early")) == .unconfirmed })
        #expect((await status("rn_late")) == .pending)
        #expect(await eventually { fixture.clock.pendingDelays == [40] })  // re-armed for the second
        fixture.clock.advance(by: 40)
        #expect(await eventually { (await status("rn_late")) == .unconfirmed })
        #expect(await eventually { fixture.confirmer.pendingCount == 0 })
    }

    @Test func notificationMethodConfirmsOnTheNotification() async throws {
        let fixture = try await ConfirmerFixture(method: "notification")
        fixture.confirmer.begin(fixture.renamedJob(method: .notification))
        try await Task.sleep(for: .milliseconds(20))
        #expect((await fixture.status) == .confirmingInvalidation)
        let notified = try fixture.store.transition("rn_1", now: fixture.clock.now()) { $0.noteNotification(at: fixture.clock.now()) }
        fixture.confirmer.notificationArrived(notified)
        #expect(await eventually { (await fixture.status) == .completed })
        #expect((await fixture.invalidation)?.status == .confirmed)
        #expect(fixture.prober.urls.isEmpty)
    }

    @Test func notificationBeforeTheRenameReturnedStillConfirms() async throws {
        let fixture = try await ConfirmerFixture(method: "notification")
        fixture.confirmer.begin(fixture.renamedJob(method: .notification, notified: true))
        #expect(await eventually { (await fixture.status) == .completed })
        #expect((await fixture.invalidation)?.status == .confirmed)
    }

    /// The notification lands between the caller reading the renamed job and ``begin(_:)``: the
    /// confirmer is not tracking the job yet and the caller's copy has no `notifiedAt`. It must still
    /// confirm (seen once in ten loaded runs of the whole suite as a job left `pending`).
    @Test(arguments: [RenameJob.Invalidation.Method.notification, .delay])
    func notificationBetweenTheRenameAndBeginStillCounts(_ method: RenameJob.Invalidation.Method) async throws {
        let fixture = try await ConfirmerFixture(method: method.rawValue)
        let renamed = fixture.renamedJob(method: method)
        let notified = try fixture.store.transition("rn_1", now: fixture.clock.now()) { $0.noteNotification(at: fixture.clock.now()) }
        fixture.confirmer.notificationArrived(notified)
        fixture.confirmer.begin(renamed)
        if method == .delay {
            #expect(await eventually { fixture.clock.pendingDelays.contains(5) })
            fixture.clock.advance(by: 5)
        }
        #expect(await eventually { (await fixture.status) == .completed })
        #expect((await fixture.invalidation)?.status == .confirmed)
    }

    @Test func delayMethodSettlesAfterTheNotification() async throws {
        let fixture = try await ConfirmerFixture(method: "delay")
        fixture.confirmer.begin(fixture.renamedJob(method: .delay))
        fixture.clock.advance(by: 10)
        let notified = try fixture.store.transition("rn_1", now: fixture.clock.now()) { $0.noteNotification(at: fixture.clock.now()) }
        fixture.confirmer.notificationArrived(notified)
        #expect(await eventually { fixture.clock.pendingDelays.contains(5) })
        fixture.clock.advance(by: 4.9)
        try await Task.sleep(for: .milliseconds(20))
        #expect((await fixture.status) == .confirmingInvalidation)
        fixture.clock.advance(by: 0.1)
        #expect(await eventually { (await fixture.status) == .completed })
        #expect((await fixture.invalidation)?.status == .confirmed)
    }

    @Test func delayMethodWithoutNotificationEndsUnconfirmed() async throws {
        let fixture = try await ConfirmerFixture(method: "delay")
        fixture.confirmer.begin(fixture.renamedJob(method: .delay))
        #expect(await eventually { fixture.clock.pendingDelays == [100] })
        fixture.clock.advance(by: 100)
        #expect(await eventually { (await fixture.status) == .completed })
        #expect((await fixture.invalidation)?.status == .unconfirmed)
    }

    @Test func probesShareABoundedPool() async throws {
        let store = JobStore()
        let gate = GatedProber()
        let configuration = try await ConfigurationLoader.load(
            .init(overrides: ["clouds.main.cloud_name": "d", "clouds.main.api_key": "k", "clouds.main.api_secret": "s"])
        )
        let confirmer = InvalidationConfirmer(
            configuration: configuration,
            store: store,
            prober: gate,
            clock: ManualClock(),
            logger: Logger(label: "t"),
            maxConcurrentProbes: 3,
            onCompleted: { _ in }
        )
        for index in 0..<10 {
            let job = RenameJob.fixture(id: "rn_\(index)", from: "a\(index)", to: "b\(index)", invalidate: true, method: .probe, attempts: 1)
            confirmer.begin(store.insert(job, movingThrough: [.renaming, .confirmingInvalidation])!)
        }
        #expect(await eventually { gate.waiting == 3 })
        try await Task.sleep(for: .milliseconds(30))
        #expect(gate.waiting == 3)
        gate.open()
        #expect(
            await eventually {
                for index in 0..<10 where (try? await store.job("rn_\(index)"))?.status != .completed { return false }
                return true
            }
        )
        #expect(gate.maxConcurrent == 3)
    }
}

/// Holds probes until opened, counting how many run at once.
final class GatedProber: DeliveryProber {
    private let state = Mutex<(open: Bool, waiting: Int, running: Int, max: Int, held: [CheckedContinuation<Void, Never>])>((false, 0, 0, 0, []))

    var waiting: Int { state.withLock { $0.waiting } }
    var maxConcurrent: Int { state.withLock { $0.max } }

    func open() {
        let held = state.withLock { state in
            state.open = true
            defer { state.held = [] }
            return state.held
        }
        for continuation in held { continuation.resume() }
    }

    func probe(url: String, timeout: Double) async -> ProbeOutcome {
        await withCheckedContinuation { continuation in
            let resume = state.withLock { state in
                state.running += 1
                state.max = max(state.max, state.running)
                guard !state.open else { return true }
                state.waiting += 1
                state.held.append(continuation)
                return false
            }
            if resume { continuation.resume() }
        }
        state.withLock { $0.running -= 1 }
        return .status(404)
    }
}

/// Jobs the confirmer reported completed.
final class CompletedJobs: Sendable {
    private let jobs = Mutex<[RenameJob]>([])

    func append(_ job: RenameJob) { jobs.withLock { $0.append(job) } }

    var count: Int { jobs.withLock { $0.count } }
}
