import DequeModule
import Dispatch
import Foundation
import Logging
import Metrics
import RenamerConfig

/// Establishes that the CDN stopped serving a renamed asset's old URL (SPEC §5), per the job's method:
///
/// - `probe`: `HEAD {delivery_base_url}/{resource_type}/{type}/{from_public_id}` at once, then after
///   2 s doubling to 30 s, until a 404 (or another 4xx except 429). Probes share a bounded pool.
/// - `notification`: the verified `rename` notification for the job confirms it.
/// - `delay`: confirmed `settle_seconds` after that notification.
///
/// Whatever the method, `max_wait_seconds` after the rename the job completes as `unconfirmed`.
/// All state is confined to ``queue``; probes run as tasks and report back onto it.
///
/// `@unchecked Sendable`: the `let`s are Sendable; every `var` is `private` and touched only in
/// methods under "On `queue`" or in blocks submitted to ``queue``.
public final class InvalidationConfirmer: @unchecked Sendable {
    public static let firstProbeBackoff = 2.0
    public static let maxProbeBackoff = 30.0

    struct Tracking {
        var method: RenameJob.Invalidation.Method
        /// `max_wait_seconds` after ``begin(_:)``: then the job completes unconfirmed.
        var expiresAt: Date
        var started = ContinuousClock.now
        var nextProbeDelay = InvalidationConfirmer.firstProbeBackoff
        var settleArmed = false
    }

    let context: JobContext
    let prober: any DeliveryProber
    let maxConcurrentProbes: Int
    /// Serial; the daemon runs it on the same thread as callback delivery's (``JobLifecycle``).
    let queue: DispatchQueue
    /// The probes in flight; none outlives the daemon (``JobLifecycle/shutdown()``).
    public let tasks = TrackedTasks()
    /// Called once a job completed (confirmed or unconfirmed).
    private let onCompleted: @Sendable (RenameJob) -> Void

    // Confined to `queue`.
    private var tracked: [String: Tracking] = [:]
    private var waitingProbes: Deque<String> = []
    private var probesInFlight = 0
    /// When the one armed expiry sweep runs (nil: none armed). One timer for all jobs, not one per
    /// job: a 15-minute timer per job kept its closure (and the job it captured) alive long after
    /// the job completed, about 1.5 KB per job for `max_wait_seconds`, growing with the job rate.
    private var sweepAt: Date?
    private var stopped = false

    /// A confirmation's labels in `renamer_invalidations_total` and its duration's histogram.
    struct Outcome: Hashable {
        var method: RenameJob.Invalidation.Method
        var status: RenameJob.Invalidation.Status
    }
    /// `renamer_probes_total` by whether the probe showed the old URL gone.
    private let probes: MetricHandles<Bool, Counter>
    private let invalidations: MetricHandles<Outcome, Counter>
    private let confirmationTime: MetricHandles<Outcome, Timer>
    private let jobsFinished: MetricHandles<JobStatus, Counter>

    public init(
        configuration: RenamerConfiguration,
        store: JobStore,
        prober: any DeliveryProber,
        clock: any RenamerClock,
        logger: Logger,
        metrics: any MetricsFactory = NOOPMetricsHandler.instance,
        maxConcurrentProbes: Int = 16,
        target: DispatchQueue? = nil,
        onCompleted: @escaping @Sendable (RenameJob) -> Void
    ) {
        queue = DispatchQueue(label: "asset-renamer.invalidation", target: target)
        self.prober = prober
        context = JobContext(configuration: configuration, store: store, clock: clock, logger: logger, metrics: metrics)
        self.maxConcurrentProbes = maxConcurrentProbes
        self.onCompleted = onCompleted
        probes = MetricHandles { Counter(label: "renamer_probes_total", dimensions: [("result", $0 ? "gone" : "served")], factory: metrics) }
        invalidations = MetricHandles {
            Counter(
                label: "renamer_invalidations_total",
                dimensions: [("method", $0.method.rawValue), ("outcome", $0.status.rawValue)],
                factory: metrics
            )
        }
        confirmationTime = MetricHandles {
            Timer(
                label: "renamer_invalidation_confirmation_seconds",
                dimensions: [("method", $0.method.rawValue), ("outcome", $0.status.rawValue)],
                factory: metrics
            )
        }
        jobsFinished = .jobsFinished(metrics)
    }

    /// Starts confirming a job that is `confirming_invalidation`.
    public func begin(_ job: RenameJob) {
        guard job.status == .confirmingInvalidation, let cloud = context.configuration.clouds[job.cloud] else { return }
        let method = job.invalidation.method ?? .notification
        queue.async { [self] in
            guard tracked[job.id] == nil else { return }
            // The job as the store has it now, not the caller's copy: a notification that arrived
            // since that copy was read found the job untracked, so its `notifiedAt` counts here.
            let job = context.store.workingJob(job.id) ?? job
            let expiresAt = context.clock.now().addingTimeInterval(cloud.invalidation.maxWaitSeconds)
            tracked[job.id] = Tracking(method: method, expiresAt: expiresAt)
            armSweep(at: expiresAt)
            switch method {
            case .probe:
                enqueueProbe(job.id)
            case .notification:
                if job.notifiedAt != nil { finish(job.id, .confirmed) }
            case .delay:
                if let notifiedAt = job.notifiedAt { armSettle(job.id, notifiedAt: notifiedAt, settle: cloud.invalidation.settleSeconds) }
            }
        }
    }

    /// A verified `rename` notification for `job` arrived.
    public func notificationArrived(_ job: RenameJob) {
        guard let notifiedAt = job.notifiedAt, let cloud = context.configuration.clouds[job.cloud] else { return }
        queue.async { [self] in
            guard let tracking = tracked[job.id] else { return }
            switch tracking.method {
            case .notification: finish(job.id, .confirmed)
            case .delay: armSettle(job.id, notifiedAt: notifiedAt, settle: cloud.invalidation.settleSeconds)
            case .probe: break
            }
        }
    }

    /// Jobs still waiting for confirmation (tests, metrics).
    public var pendingCount: Int { queue.sync { tracked.count } }

    /// Stops confirming (shutdown): timers that fire later and probes that end later change
    /// nothing; the jobs are confirmed again after the next start (SPEC §8).
    public func stop() async {
        await withCheckedContinuation { continuation in
            queue.async { [self] in
                stopped = true
                continuation.resume()
            }
        }
    }

    // MARK: - On `queue`

    /// Makes sure a sweep runs no later than `due`.
    private func armSweep(at due: Date) {
        if let sweepAt, sweepAt <= due { return }
        sweepAt = due
        context.clock.schedule(after: due.timeIntervalSince(context.clock.now()), on: queue) { [self] in
            guard sweepAt == due else { return }  // an earlier sweep replaced this one
            sweepAt = nil
            sweep()
        }
    }

    /// Completes, unconfirmed, every job whose `max_wait_seconds` passed, and arms the next sweep
    /// for the earliest remaining deadline (at most one sweep a second, so jobs expiring one by one
    /// do not rescan the table for each).
    private func sweep() {
        let now = context.clock.now()
        var expired: [String] = []
        var next: Date?
        for (id, tracking) in tracked {
            if tracking.expiresAt <= now {
                expired.append(id)
            } else if next.map({ tracking.expiresAt < $0 }) ?? true {
                next = tracking.expiresAt
            }
        }
        for id in expired { finish(id, .unconfirmed) }
        if let next { armSweep(at: max(next, now.addingTimeInterval(1))) }
    }

    private func armSettle(_ id: String, notifiedAt: Date, settle: Double) {
        guard var tracking = tracked[id], !tracking.settleArmed else { return }
        tracking.settleArmed = true
        tracked[id] = tracking
        let remaining = notifiedAt.addingTimeInterval(settle).timeIntervalSince(context.clock.now())
        if remaining <= 0 {
            finish(id, .confirmed)
        } else {
            context.clock.schedule(after: remaining, on: queue) { [self] in finish(id, .confirmed) }
        }
    }

    private func enqueueProbe(_ id: String) {
        guard !stopped else { return }
        guard tracked[id] != nil else { return }
        if probesInFlight < maxConcurrentProbes {
            startProbe(id)
        } else {
            waitingProbes.append(id)
        }
    }

    private func startProbe(_ id: String) {
        guard let job = context.store.workingJob(id), let cloud = context.configuration.clouds[job.cloud] else {
            tracked[id] = nil
            return
        }
        probesInFlight += 1
        let url = Self.deliveryURL(job, base: cloud.deliveryBaseURL)
        let timeout = min(10, cloud.timeoutSeconds)
        prober.probe(url: url, timeout: timeout, tasks: tasks) { [self] outcome in
            queue.async { [self] in
                probesInFlight -= 1
                while probesInFlight < maxConcurrentProbes, let next = waitingProbes.popFirst() {
                    if tracked[next] != nil { startProbe(next) }
                }
                probed(id, outcome)
            }
        }
    }

    private func probed(_ id: String, _ outcome: ProbeOutcome) {
        guard var tracking = tracked[id] else { return }
        probes[outcome.showsGone].increment()
        if outcome.showsGone {
            finish(id, .confirmed)
            return
        }
        let delay = tracking.nextProbeDelay
        tracking.nextProbeDelay = min(Self.maxProbeBackoff, delay * 2)
        tracked[id] = tracking
        context.clock.schedule(after: delay, on: queue) { [self] in enqueueProbe(id) }
    }

    private func finish(_ id: String, _ status: RenameJob.Invalidation.Status) {
        guard !stopped else { return }
        guard let tracking = tracked.removeValue(forKey: id) else { return }
        let now = context.clock.now()
        let job: RenameJob
        do {
            job = try context.store.transition(id, now: now) { job throws(JobTransitionError) in try job.finishInvalidation(status, at: now) }
        } catch {
            // Only the confirmer moves a confirming job, and only once (``tracked`` holds it).
            error.report(logger: context.logger, metrics: context.metrics)
            return
        }
        let outcome = Outcome(method: tracking.method, status: status)
        invalidations[outcome].increment()
        jobsFinished[.completed].increment()
        confirmationTime[outcome].recordNanoseconds((ContinuousClock.now - tracking.started).nanoseconds)
        context.logger.info(
            "invalidation \(status.rawValue)",
            metadata: ["job_id": "\(id)", "cloud": "\(job.cloud)", "method": "\(tracking.method.rawValue)"]
        )
        onCompleted(job)
    }

    /// `{delivery_base_url}/{resource_type}/{type}/{from_public_id}`, each path segment escaped.
    static func deliveryURL(_ job: RenameJob, base: String) -> String {
        let path = PercentEncoding.pathSegments(job.fromPublicID)
        return "\(base)/\(job.resourceType.rawValue)/\(job.type.rawValue)/\(path)"
    }
}
