import DequeModule
import Dispatch
import Foundation
import Logging
import Metrics
import RenamerConfig

/// The in-memory rename queue, driven by one serial Dispatch queue (SPEC §3).
///
/// - Per cloud, at most `max_concurrent_requests` jobs talk to Cloudinary at once.
/// - Jobs that name the same public ID (source or target, same cloud and resource type) run one at a
///   time in acceptance order: a job holds its public IDs from acceptance until its rename phase ends
///   (renamed, failed or cancelled), including the waits between attempts.
/// - Transient errors retry with exponential backoff and full jitter, honouring `Retry-After`;
///   420/429 pause the whole cloud. Final errors fail at once.
/// - After an attempt whose outcome is unknown, the Admin API says whether the rename happened before
///   anything is retried, so a rename is never applied twice and a success is never reported failed.
///
/// All scheduling state below is confined to ``scheduler``; Cloudinary calls run as Swift tasks and
/// report back onto it.
///
/// `@unchecked Sendable`: the `let`s are Sendable; every `var` is `private` and touched only in
/// methods under "Scheduling (on `scheduler`)" or in blocks submitted to ``scheduler``.
public final class JobQueue: @unchecked Sendable {
    /// What happens next to a job that is about to run.
    enum Step: Sendable {
        case attempt
        case reconcile
    }

    /// How the last Cloudinary call of a run ended, for `renamer_cloudinary_requests_total{outcome}`.
    enum CallOutcome: String, Sendable {
        case success
        case transientError = "transient_error"
        case rateLimited = "rate_limited"
        case finalError = "final_error"
        case notSent = "not_sent"
        case outcomeUnknown = "outcome_unknown"
        case lookup
        /// Not run: another replica holds the claim (SPEC §12). Not a request; not counted.
        case deferred
    }

    /// What a run of a job produced.
    enum RunResult: Sendable {
        case renamed(RenameJob.RenameResult)
        case failed(RenameJob.JobError)
        /// Try again after `delay`; `pauseCloud` stops the whole cloud until then.
        case retry(delay: Double, pauseCloud: Bool, next: Step)
        /// Another replica holds what the job needs (SPEC §12): ask again after `delay`;
        /// `pauseCloud` holds back every job of the cloud meanwhile.
        case deferred(delay: Double, reason: String, pauseCloud: Bool)
    }

    struct Entry {
        var cloud: String
        var resourceType: ResourceType
        var from: String
        /// nil when the job renames a public ID to itself.
        var to: String?
        var next: Step = .attempt
        /// Lookups made since the last unknown outcome, bounded so a dead Admin API ends the job.
        var reconciliations = 0
        /// An attempt's outcome was unknown; a later final error must be double-checked.
        var hadUnknownOutcome = false
        /// In flight or waiting for its retry time: not to be put on the ready list again.
        var dispatched = false
        /// Acceptance order; an item of a folder rename takes its folder rename's.
        var order = 0
        /// The folder renames whose prefixes hold this job back (SPEC §11), usually none.
        var blockedBy: [String] = []

        init(_ job: RenameJob) {
            cloud = job.cloud
            resourceType = job.resourceType
            (from, to) = job.heldNames
        }

        /// The public IDs the job holds (made on use: the entry is stored per queued job).
        var keys: HeldKeys {
            HeldKeys(
                source: AssetKey(cloud: cloud, resourceType: resourceType, publicID: from),
                target: to.map { AssetKey(cloud: cloud, resourceType: resourceType, publicID: $0) }
            )
        }
    }

    /// A job's one or two public IDs, walked without an array per use (the queue walks them
    /// several times per job).
    struct HeldKeys: Sequence {
        var source: AssetKey
        var target: AssetKey?

        func makeIterator() -> Iterator { Iterator(first: source, second: target) }

        struct Iterator: IteratorProtocol {
            var first: AssetKey?
            var second: AssetKey?

            mutating func next() -> AssetKey? {
                defer { (first, second) = (second, nil) }
                return first
            }
        }
    }

    public let store: JobStore
    let configuration: RenamerConfiguration
    let cloudinary: any CloudinaryAPI
    let clock: any RenamerClock
    let retry: RetryPolicy
    let logger: Logger
    let scheduler = DispatchQueue(label: "asset-renamer.job-queue")
    /// Work for ``scheduler`` in submission order. One wake-up of the scheduler runs all that piled
    /// up meanwhile: under load, accepted jobs are queued in batches instead of one thread hand-off
    /// each. Bounded as the queue is (`queue.capacity` jobs, plus their calls' completions).
    private let inbox = Locked<(work: [@Sendable () -> Void], scheduled: Bool)>(([], false))
    /// The Cloudinary calls in flight; none outlives the daemon (``JobLifecycle/shutdown()``).
    public let tasks = TrackedTasks()
    let metrics: any MetricsFactory

    /// The daemon's public base URL, for `notification_url`; read per call because with `http.port: 0`
    /// it is known only once the server listens.
    private let publicBaseURL: @Sendable () -> String

    /// Called on the scheduler once a job's rename phase ends (renamed, failed or cancelled).
    private let onRenamePhaseEnded: @Sendable (RenameJob) -> Void

    // Confined to `scheduler`.
    // The tables with an element per queued job are sharded (``ShardedDictionary``): with hundreds
    // of thousands queued, plain dictionaries spent most of the queue's time rehashing strings as
    // they grew and comparing strings on every probe (issue 17).
    private var entries = ShardedDictionary<String, Entry>()
    /// Per public ID, the jobs holding or waiting for it, in acceptance order.
    private var lines = ShardedDictionary<AssetKey, CompactList<String>>()
    private var ready: [String: Deque<String>] = [:]
    /// The ids in `ready` that are still to be started. A job that ends while it waits there is
    /// removed from this set only; `pump` skips it. That keeps every operation O(1) however deep
    /// the queue (a scan of `ready` per finished job made draining 100,000 jobs quadratic).
    private var readyIDs = ShardedDictionary<String, Void>()
    private var inFlight: [String: Int] = [:]
    /// The cloud of each job in flight: its slot is given back even if the job left the queue
    /// meanwhile (cancelled while it waited for its claim, SPEC §12).
    private var inFlightClouds: [String: String] = [:]
    private var pausedUntil: [String: Date] = [:]
    private var wakeArmed: Set<String> = []
    private var draining = false
    /// Replicas sharing each cloud's limit (SPEC §12); 1 with single-process storage.
    private var replicaCount = 1
    /// Orders entries and holds by acceptance.
    private var nextOrder = 1
    /// Folder renames in fixed mode holding their two prefixes (SPEC §11), by job id.
    private var holds: [String: Hold] = [:]
    /// Per queued job, the holds waiting for its rename phase to end.
    private var holdsWaitingForJob: [String: [String]] = [:]

    /// A fixed-mode folder rename's claim on `from/` and `to/`: from the moment it starts (listing
    /// included) until its last item's call has returned, a job under either prefix accepted
    /// after it waits, and it waits for such jobs accepted before it.
    struct Hold {
        var cloud: String
        var prefixes: [String]
        var order: Int
        var granted = false
        /// Earlier jobs and holds it waits for.
        var waitingFor: Set<String> = []
        /// Jobs and holds waiting for it.
        var blocking: [String] = []

        func covers(_ name: String) -> Bool { prefixes.contains { name.hasPrefix($0) } }
        func overlaps(_ other: Hold) -> Bool {
            prefixes.contains { mine in other.prefixes.contains { $0.hasPrefix(mine) || mine.hasPrefix($0) } }
        }
    }

    /// Called on the scheduler when a hold is granted: the folder rename may list and rename.
    private var onHoldGranted: @Sendable (String) -> Void = { _ in }
    /// Jobs were enqueued: ``runInbox()`` updates the depth and pumps once when its batch is done.
    private var enqueuedSincePump = false
    private lazy var depthGauge = Gauge(label: "renamer_queue_depth", factory: metrics)
    private let requests: MetricHandles<CallOutcome, Counter>
    private let jobsFinished: MetricHandles<JobStatus, Counter>
    private let retries: Counter
    private let requestDuration: Timer

    public init(
        configuration: RenamerConfiguration,
        store: JobStore,
        cloudinary: any CloudinaryAPI,
        clock: any RenamerClock = SystemClock(),
        retry: RetryPolicy? = nil,
        logger: Logger,
        metrics: any MetricsFactory = NOOPMetricsHandler.instance,
        publicBaseURL: (@Sendable () -> String)? = nil,
        onRenamePhaseEnded: @escaping @Sendable (RenameJob) -> Void = { _ in }
    ) {
        self.metrics = metrics
        requests = MetricHandles { Counter(label: "renamer_cloudinary_requests_total", dimensions: [("outcome", $0.rawValue)], factory: metrics) }
        jobsFinished = .jobsFinished(metrics)
        retries = Counter(label: "renamer_retries_total", factory: metrics)
        requestDuration = Timer(label: "renamer_cloudinary_request_duration_seconds", factory: metrics)
        self.publicBaseURL = publicBaseURL ?? { [base = configuration.publicBaseURL] in base }
        self.configuration = configuration
        self.store = store
        self.cloudinary = cloudinary
        self.clock = clock
        self.retry = retry ?? RetryPolicy(configuration.queue)
        self.logger = logger
        self.onRenamePhaseEnded = onRenamePhaseEnded
    }

    // MARK: - Public operations

    /// Queues an accepted job (already in ``store``) behind any job touching the same public IDs.
    ///
    /// - Parameter recovered: The job was mid-rename when the process stopped: its last call's outcome
    ///   is unknown, so the Admin API decides before anything is retried.
    public func enqueue(_ job: RenameJob, recovered: Bool = false) {
        submit(batching: true) { [self] in
            var entry = Entry(job)
            if recovered {
                entry.next = .reconcile
                entry.hadUnknownOutcome = true
            }
            if let parent = job.parent, let hold = holds[parent] {
                // An item runs where its folder rename was accepted: ahead of jobs accepted later.
                entry.order = hold.order
            } else {
                entry.order = nextOrder
                nextOrder += 1
                for (id, hold) in holds where hold.cloud == job.cloud && entry.keys.contains(where: { hold.covers($0.publicID) }) {
                    entry.blockedBy.append(id)
                    holds[id]?.blocking.append(job.id)
                }
            }
            entries[job.id] = entry
            let order = entry.order
            var atHead = entry.blockedBy.isEmpty
            for key in entry.keys {
                let first = lines.insert(job.id, at: key) { [entries] other in (entries[other]?.order ?? 0) > order }
                atHead = atHead && first
            }
            if atHead { markReady(job.id, cloud: job.cloud) }
            enqueuedSincePump = true
        }
    }

    /// Sets what happens when a folder rename's hold is granted (once, before any hold).
    public func onHoldGranted(_ action: @escaping @Sendable (String) -> Void) {
        scheduler.sync { onHoldGranted = action }
    }

    /// A fixed-mode folder rename claims its prefixes (SPEC §11); `granted` when it held them
    /// before a restart. ``onHoldGranted(_:)``'s action runs once it holds them.
    public func hold(_ job: RenameJob, granted: Bool = false) {
        submit { [self] in
            var hold = Hold(cloud: job.cloud, prefixes: [job.fromPublicID + "/", job.toPublicID + "/"], order: nextOrder)
            nextOrder += 1
            if !granted {
                for (id, entry) in entries.elements where entry.cloud == job.cloud && entry.keys.contains(where: { hold.covers($0.publicID) }) {
                    hold.waitingFor.insert(id)
                    holdsWaitingForJob[id, default: []].append(job.id)
                }
                for (id, other) in holds where other.cloud == job.cloud && other.overlaps(hold) {
                    hold.waitingFor.insert(id)
                    holds[id]?.blocking.append(job.id)
                }
            }
            holds[job.id] = hold
            if hold.waitingFor.isEmpty { grant(job.id) }
        }
    }

    /// Ends a folder rename's hold: its last item's call returned, or it ended before listing.
    public func release(hold id: String) {
        submit { [self] in
            guard let hold = holds.removeValue(forKey: id) else { return }
            for waiting in hold.blocking {
                if holds[waiting] != nil {
                    holds[waiting]?.waitingFor.remove(id)
                    if holds[waiting]?.waitingFor.isEmpty == true, holds[waiting]?.granted == false { grant(waiting) }
                } else if var entry = entries[waiting] {
                    entry.blockedBy.removeAll { $0 == id }
                    entries[waiting] = entry
                    if !entry.dispatched && isAtHeadOfItsLines(waiting) { markReady(waiting, cloud: entry.cloud) }
                }
            }
            pump()
        }
    }

    private func grant(_ id: String) {
        guard holds[id]?.granted == false else { return }
        holds[id]?.granted = true
        onHoldGranted(id)
    }

    /// Cancels a job that has not called Cloudinary yet.
    ///
    /// - Returns: The job as it is now; its status says whether the cancel took effect.
    public func cancel(_ id: String, client: String) async throws(StorageError) -> RenameJob? {
        guard let current = try await store.job(id, client: client) else { return nil }
        let job: RenameJob
        do {
            job = try store.transition(id, now: clock.now()) { job throws(JobTransitionError) in try job.cancel(at: clock.now()) }
        } catch {
            // Dispatched (or finished) first: the caller gets the job as it is (409).
            return store.workingJob(id) ?? current
        }
        submit { [self] in
            finished(job)
            // The entry is gone already when `start` lost the race to this cancel; the rename
            // phase still ended here, and a folder rename or batch counts its item only then.
            endRenamePhase(id)
            onRenamePhaseEnded(job)
        }
        return job
    }

    /// Several replicas share each cloud's limit: this one starts at most its share at once.
    public func shareLimits(among replicas: Int) {
        submit { [self] in
            guard replicas != replicaCount else { return }
            replicaCount = max(1, replicas)
            pump()
        }
    }

    /// How long an accepted job may wait in the inbox for others to join it. Under load the
    /// scheduler then wakes once per few dozen jobs instead of once per job (each wake-up is a
    /// thread hand-off: issue 17's profile); a job starts at most this much later.
    static let batchingMicroseconds: UInt32 = 500

    /// Runs `work` on ``scheduler`` after everything submitted before it; `batching` work may wait
    /// ``batchingMicroseconds`` for more.
    private func submit(batching: Bool = false, _ work: @escaping @Sendable () -> Void) {
        let wake = inbox.withLock { inbox in
            inbox.work.append(work)
            defer { inbox.scheduled = true }
            return !inbox.scheduled
        }
        guard wake else { return }
        if batching {
            scheduler.gathering(forMicroseconds: Self.batchingMicroseconds) { [self] in runInbox() }
        } else {
            scheduler.async { [self] in runInbox() }
        }
    }

    /// On the scheduler: runs the inbox until it is empty, then brings the queue's depth and its
    /// slots up to date once for everything enqueued.
    private func runInbox() {
        var batch: [@Sendable () -> Void] = []
        while true {
            inbox.withLock { inbox in
                swap(&batch, &inbox.work)
                if batch.isEmpty { inbox.scheduled = false }
            }
            if batch.isEmpty { break }
            for work in batch { work() }
            batch.removeAll(keepingCapacity: true)
        }
        if enqueuedSincePump {
            enqueuedSincePump = false
            updateDepth()
            pump()
        }
    }

    /// Blocks until the scheduler has handled everything submitted so far (tests).
    public func sync() {
        scheduler.sync { runInbox() }
    }

    /// Stops starting Cloudinary calls and waits, at most until `deadline`, for the calls in flight.
    ///
    /// - Returns: The number of calls still in flight at the deadline (their outcome is reconciled
    ///   after a restart).
    public func drain(until deadline: ContinuousClock.Instant) async -> Int {
        scheduler.sync { draining = true }
        while true {
            let remaining = scheduler.sync { inFlight.values.reduce(0, +) }
            if remaining == 0 || ContinuousClock.now >= deadline { return remaining }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    // MARK: - Scheduling (on `scheduler`)

    private func markReady(_ id: String, cloud: String) {
        guard readyIDs.insert(id) else { return }
        ready[cloud, default: []].append(id)
    }

    private func isAtHeadOfItsLines(_ id: String) -> Bool {
        guard let entry = entries[id], entry.blockedBy.isEmpty else { return false }
        return entry.keys.allSatisfy { lines[$0]?.first == id }
    }

    /// Starts every ready job that a free slot and an unpaused cloud allow.
    private func pump() {
        guard !draining else { return }
        let now = clock.now()
        for cloud in ready.keys.sorted() {
            if let until = pausedUntil[cloud] {
                if until > now {
                    armWake(cloud, at: until)
                    continue
                }
                pausedUntil[cloud] = nil
            }
            let limit = localLimit(cloud)
            while inFlight[cloud, default: 0] < limit, let id = ready[cloud]?.popFirst() {
                guard readyIDs.remove(id) else { continue }
                start(id)
            }
            if ready[cloud]?.isEmpty == true { ready[cloud] = nil }
        }
    }

    /// This replica's share of the cloud's `max_concurrent_requests` (at least 1). The claims in
    /// shared storage keep the sum within the limit; the share keeps replicas from asking for
    /// slots the others hold.
    private func localLimit(_ cloud: String) -> Int {
        let limit = configuration.clouds[cloud]?.maxConcurrentRequests ?? 1
        return max(1, limit / replicaCount)
    }

    private func armWake(_ cloud: String, at date: Date) {
        guard !wakeArmed.contains(cloud) else { return }
        wakeArmed.insert(cloud)
        clock.schedule(after: date.timeIntervalSince(clock.now()), on: scheduler) { [self] in
            wakeArmed.remove(cloud)
            pump()
        }
    }

    private func start(_ id: String) {
        guard var entry = entries[id] else { return }
        guard let queued = store.workingJob(id), let cloud = configuration.clouds[queued.cloud] else {
            endRenamePhase(id, fromPump: true)
            return
        }
        // Admin API work waits while the cloud's budget is spent, and stays queued meanwhile.
        if queued.kind.usesAdminAPI, queued.status == .queued,
            let wait = cloudinary.adminBudget?.wait(cloud: cloud.name, limit: cloud.adminAPIMaxRequestsPerHour)
        {
            entry.dispatched = true
            entries[id] = entry
            logger.debug("Admin API budget spent; job waits", metadata: ["job_id": "\(id)", "seconds": .stringConvertible(wait)])
            Counter(label: "renamer_admin_api_budget_waits_total", factory: metrics).increment()
            requeue(id, cloud: entry.cloud, after: wait)
            return
        }
        let job: RenameJob
        if store.replicas != nil {
            // With several replicas the job stays queued (and may be cancelled) until its call is
            // claimed; `run` starts it then.
            guard queued.status == .queued || queued.isStarted else {
                endRenamePhase(id, fromPump: true)
                return
            }
            job = queued
        } else {
            do {
                // A retry, or a job recovered mid-rename, is renaming already (no change, no write).
                job = try store.transition(id, now: clock.now()) { job throws(JobTransitionError) in
                    if !job.isStarted { try job.startRenaming() }
                }
            } catch {
                // Cancelled while it waited (and maybe gone from memory already, its write
                // committed): the race cancel is allowed to win.
                switch error {
                case .illegal(_, .cancelled, _), .unknownJob: break
                default: error.report(logger: logger, metrics: metrics)
                }
                endRenamePhase(id, fromPump: true)
                return
            }
        }
        inFlight[entry.cloud, default: 0] += 1
        inFlightClouds[id] = entry.cloud
        entry.dispatched = true
        let step = entry.next
        if step == .reconcile { entry.reconciliations += 1 }
        entries[id] = entry
        let context = RunContext(
            job: job,
            cloud: cloud,
            step: step,
            hadUnknownOutcome: entry.hadUnknownOutcome,
            reconciliations: entry.reconciliations
        )
        tasks.spawn { [self] in
            let (result, outcome) = await run(context)
            submit { [self] in finish(id, result, outcome: outcome) }
        }
    }

    private func finish(_ id: String, _ result: RunResult, outcome: CallOutcome) {
        if let cloud = inFlightClouds.removeValue(forKey: id) { inFlight[cloud, default: 1] -= 1 }
        guard var entry = entries[id] else {
            pump()
            return
        }
        if outcome == .outcomeUnknown { entry.hadUnknownOutcome = true }
        defer {
            // Counted once the queue acted on it, so an observer of the metric sees the consequences.
            if outcome != .deferred {
                requests[outcome].increment()
            }
        }
        let now = clock.now()
        switch result {
        case .renamed(let renameResult):
            let job = settle(id) { job throws(JobTransitionError) in try job.renamed(renameResult, at: now) }
            finished(job)
            logger.info("renamed", metadata: ["job_id": "\(id)", "cloud": "\(entry.cloud)", "public_id": "\(renameResult.publicID)"])
            endRenamePhase(id)
            if let job { onRenamePhaseEnded(job) }
        case .failed(let error):
            let job = settle(id) { job throws(JobTransitionError) in try job.fail(error, at: now) }
            finished(job)
            logger.warning("rename failed", metadata: ["job_id": "\(id)", "cloud": "\(entry.cloud)", "code": "\(error.code)"])
            endRenamePhase(id)
            if let job { onRenamePhaseEnded(job) }
        case .deferred(let delay, let reason, let pauseCloud):
            entries[id] = entry
            logger.debug("call deferred", metadata: ["job_id": "\(id)", "reason": "\(reason)"])
            if pauseCloud {
                // Starting the cloud's other jobs would only be refused the same way.
                let until = now.addingTimeInterval(delay)
                if until > pausedUntil[entry.cloud] ?? .distantPast { pausedUntil[entry.cloud] = until }
            }
            requeue(id, cloud: entry.cloud, after: delay)
        case .retry(let delay, let pauseCloud, let next):
            entry.next = next
            if next == .attempt { entry.reconciliations = 0 }
            entries[id] = entry
            let cloud = entry.cloud
            if pauseCloud {
                let until = now.addingTimeInterval(delay)
                if until > pausedUntil[cloud] ?? .distantPast { pausedUntil[cloud] = until }
                logger.notice("cloud paused", metadata: ["cloud": "\(cloud)", "seconds": .stringConvertible(delay)])
            }
            retries.increment()
            logger.info("retry scheduled", metadata: ["job_id": "\(id)", "cloud": "\(cloud)", "seconds": .stringConvertible(delay)])
            requeue(id, cloud: cloud, after: delay)
        }
        pump()
    }

    /// Puts a job that ran back on the ready list after `delay`.
    private func requeue(_ id: String, cloud: String, after delay: Double) {
        let requeue: @Sendable () -> Void = { [self] in
            guard entries[id] != nil else { return }
            entries[id]?.dispatched = false
            markReady(id, cloud: cloud)
            pump()
        }
        if delay > 0 { clock.schedule(after: delay, on: scheduler, requeue) } else { submit(requeue) }
    }

    /// Ends the job's rename phase in the store; a refused move is a bug (nothing else moves a
    /// job that is renaming), logged and counted.
    private func settle(_ id: String, _ move: (inout RenameJob) throws(JobTransitionError) -> Void) -> RenameJob? {
        do {
            return try store.transition(id, now: clock.now(), move)
        } catch {
            error.report(logger: logger, metrics: metrics)
            return nil
        }
    }

    private func updateDepth() {
        depthGauge.record(store.unfinishedRenameCount)
    }

    private func finished(_ job: RenameJob?) {
        updateDepth()
        if let job, job.status.isFinal {
            jobsFinished[job.status].increment()
        }
    }

    /// Releases the job's public IDs and promotes the jobs that were waiting for them.
    ///
    /// - Parameter fromPump: Called from ``start(_:)`` inside ``pump()``: the next pump is queued
    ///   rather than called, or a run of jobs cancelled while they waited on the ready list would
    ///   recurse once per job (a folder rename's cancel once overflowed the stack with 1,000).
    private func endRenamePhase(_ id: String, fromPump: Bool = false) {
        guard let entry = entries.removeValue(forKey: id) else { return }
        readyIDs.remove(id)
        for holder in holdsWaitingForJob.removeValue(forKey: id) ?? [] {
            holds[holder]?.waitingFor.remove(id)
            if holds[holder]?.waitingFor.isEmpty == true { grant(holder) }
        }
        for holder in entry.blockedBy {
            holds[holder]?.blocking.removeAll { $0 == id }
        }
        for key in entry.keys {
            lines.remove(id, at: key)
        }
        for key in entry.keys {
            guard let head = lines[key]?.first, isAtHeadOfItsLines(head), let headEntry = entries[head], !headEntry.dispatched
            else { continue }
            markReady(head, cloud: headEntry.cloud)
        }
        if fromPump {
            submit { [self] in pump() }
        } else {
            pump()
        }
    }

    // MARK: - Running one job (off the scheduler)

    struct RunContext: Sendable {
        var job: RenameJob
        var cloud: RenamerConfiguration.Cloud
        var step: Step
        var hadUnknownOutcome: Bool
        var reconciliations: Int
    }

    /// Performs one step: a rename attempt, or a reconciliation followed by an attempt if needed.
    /// With several replicas (SPEC §12) the step runs only once its call is claimed.
    private func run(_ context: RunContext) async -> (RunResult, CallOutcome) {
        guard let replicas = store.replicas else { return await step(context) }
        let claim = await replicas.claimCall(context.job, limit: context.cloud.maxConcurrentRequests)
        Counter(label: "renamer_call_claims_total", dimensions: [("result", claim.label)], factory: metrics).increment()
        switch claim {
        case .granted:
            var context = context
            if context.job.status == .queued {
                do {
                    context.job = try store.transition(context.job.id, now: clock.now()) { job throws(JobTransitionError) in
                        try job.startRenaming()
                    }
                } catch {
                    // Cancelled while it waited for its claim: the race cancel is allowed to win.
                    if case .illegal(_, .cancelled, _) = error {} else { error.report(logger: logger, metrics: metrics) }
                    replicas.releaseCall(context.job.id)
                    try? await store.storage.sync()
                    return (.deferred(delay: 0, reason: "cancelled", pauseCloud: false), .deferred)
                }
            }
            let ran = await step(context)
            // The slot is free for every replica before this one starts its next job (else its own
            // claim could find the cloud still full and pause it).
            replicas.releaseCall(context.job.id)
            try? await store.storage.sync()
            return ran
        case .wait(let reason):
            return (.deferred(delay: Self.claimRetrySeconds, reason: reason, pauseCloud: false), .deferred)
        case .cloudBusy(let reason):
            return (.deferred(delay: Self.cloudBusyRetrySeconds, reason: reason, pauseCloud: true), .deferred)
        case .lost:
            // Another replica took the job over: this replica is about to stop (its lease is gone).
            logger.warning("job taken over by another replica", metadata: ["job_id": "\(context.job.id)"])
            return (.deferred(delay: 5, reason: "taken over", pauseCloud: true), .deferred)
        }
    }

    /// Lookups that find neither the source nor the target before a job is failed as not found.
    static let reconciliationsBeforeNotFound = 3

    /// How soon a job whose public ID another replica holds asks again.
    static let claimRetrySeconds = 0.2
    /// How long a cloud whose slots are all taken on the other replicas waits before asking again
    /// (short: a slot frees with every call that ends anywhere).
    static let cloudBusyRetrySeconds = 0.05

    private func step(_ context: RunContext) async -> (RunResult, CallOutcome) {
        var context = context
        if context.step == .reconcile {
            switch await reconcile(context) {
            case .some(let result): return (result, .lookup)
            case .none: context.step = .attempt
            }
        }
        return await attempt(context)
    }

    /// nil means "the rename did not happen: attempt it".
    private func reconcile(_ context: RunContext) async -> RunResult? {
        let job = context.job
        switch job.kind {
        case .rename: break
        // Setting the same `asset_folder`/`display_name` twice is harmless: attempt it again.
        case .assetUpdate: return nil
        case .folderRename: return await reconcileFolder(context)
        case .batch: return .failed(.init(code: "internal", message: "a batch makes no call of its own"))
        }
        let targetType = job.toType ?? job.type
        // The source first: a call still being applied at Cloudinary moves the asset between the
        // two lookups at worst from "source found" (not applied: attempt, whose 404 brings us
        // back here) to "target found". Target first, that move read as "neither exists" and
        // failed a rename that happened (seen once under load).
        let source = await cloudinary.lookup(publicID: job.fromPublicID, resourceType: job.resourceType, type: job.type, cloud: context.cloud)
        let target = await cloudinary.lookup(publicID: job.toPublicID, resourceType: job.resourceType, type: targetType, cloud: context.cloud)
        switch (source, target) {
        case (.notFound, .found(let result)):
            logger.info("reconciled: rename had been applied", metadata: ["job_id": "\(job.id)"])
            return .renamed(result)
        case (.found, _):
            logger.info("reconciled: rename not applied", metadata: ["job_id": "\(job.id)"])
            return nil
        case (.notFound, .notFound) where context.reconciliations < Self.reconciliationsBeforeNotFound:
            // Both gone may be a moment in the middle of an asset being moved: look again.
            logger.notice("reconciliation found neither asset; looking again", metadata: ["job_id": "\(job.id)"])
            return .retry(delay: retry.delay(afterAttempts: context.reconciliations, retryAfter: nil), pauseCloud: false, next: .reconcile)
        case (.notFound, .notFound):
            return .failed(
                .init(code: "cloudinary_not_found", message: "neither \(job.fromPublicID) nor \(job.toPublicID) exists", cloudinaryStatus: 404)
            )
        case (.unavailable(let reason), _), (_, .unavailable(let reason)):
            // Never give up here: failing the job could report a rename that happened as failed.
            // Lookups repeat with capped backoff until the Admin API answers.
            logger.notice("reconciliation lookup unavailable", metadata: ["job_id": "\(job.id)", "reason": "\(reason)"])
            return .retry(delay: retry.delay(afterAttempts: context.reconciliations, retryAfter: nil), pauseCloud: false, next: .reconcile)
        }
    }

    /// A dynamic-mode folder rename whose outcome is unknown: done if the target folder exists and
    /// the source does not.
    private func reconcileFolder(_ context: RunContext) async -> RunResult? {
        let job = context.job
        // The source first, for the reason `reconcile` gives.
        let source = await cloudinary.folderExists(job.fromPublicID, cloud: context.cloud)
        let target = await cloudinary.folderExists(job.toPublicID, cloud: context.cloud)
        switch (source, target) {
        case (.notFound, .found):
            logger.info("reconciled: folder rename had been applied", metadata: ["job_id": "\(job.id)"])
            return .renamed(.init(publicID: job.toPublicID, version: nil, secureURL: nil))
        case (.found, _):
            return nil
        case (.notFound, .notFound) where context.reconciliations < Self.reconciliationsBeforeNotFound:
            return .retry(delay: retry.delay(afterAttempts: context.reconciliations, retryAfter: nil), pauseCloud: false, next: .reconcile)
        case (.notFound, .notFound):
            return .failed(
                .init(code: "cloudinary_not_found", message: "neither folder \(job.fromPublicID) nor \(job.toPublicID) exists", cloudinaryStatus: 404)
            )
        case (.unavailable(let reason), _), (_, .unavailable(let reason)):
            logger.notice("reconciliation lookup unavailable", metadata: ["job_id": "\(job.id)", "reason": "\(reason)"])
            return .retry(delay: retry.delay(afterAttempts: context.reconciliations, retryAfter: nil), pauseCloud: false, next: .reconcile)
        }
    }

    /// The job's own call: the Upload API rename, or the Admin API update or folder rename.
    private func call(_ job: RenameJob, cloud: RenamerConfiguration.Cloud) async -> RenameOutcome {
        switch job.kind {
        case .rename:
            return await cloudinary.rename(RenameCall(job: job, notificationURL: notificationURL(for: job)), cloud: cloud)
        case .assetUpdate:
            let update = job.update ?? .init(assetFolder: nil, displayName: nil)
            return await cloudinary.updateAsset(
                publicID: job.fromPublicID,
                resourceType: job.resourceType,
                type: job.type,
                update: update,
                cloud: cloud
            )
        case .folderRename:
            return await cloudinary.renameFolder(from: job.fromPublicID, to: job.toPublicID, cloud: cloud)
        case .batch:
            return .rejected(status: 400, message: "a batch makes no call of its own", retryAfter: nil)
        }
    }

    private func attempt(_ context: RunContext) async -> (RunResult, CallOutcome) {
        let job = context.job
        guard job.attempts < retry.maxAttempts else {
            return (.failed(.init(code: "max_attempts_exceeded", message: "gave up after \(job.attempts) attempts")), .lookup)
        }
        let attempts: Int
        do {
            attempts = try store.transition(job.id, now: clock.now()) { job throws(JobTransitionError) in try job.countAttempt() }.attempts
        } catch {
            error.report(logger: logger, metrics: metrics)
            return (.failed(.init(code: "internal", message: "the job left the queue")), .notSent)
        }
        // The attempt must be durable before the call: after a crash it is reconciled, never repeated blind.
        do {
            try await store.storage.sync()
        } catch {
            _ = try? store.transition(job.id, now: clock.now()) { $0.withdrawAttempt() }
            logger.error("journal unavailable; rename postponed", metadata: ["job_id": "\(job.id)"])
            return (.retry(delay: retry.delay(afterAttempts: attempts, retryAfter: nil), pauseCloud: false, next: .attempt), .notSent)
        }
        let started = ContinuousClock.now
        let outcome = await call(job, cloud: context.cloud)
        requestDuration.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        let exhausted = attempts >= retry.maxAttempts
        switch outcome {
        case .renamed(let result):
            return (.renamed(result), .success)
        case .rejected(420, _, let retryAfter) where job.kind.usesAdminAPI:
            // The account's Admin API budget is spent (SPEC §11): Admin work waits for its reset
            // without using up the job's attempts; Upload API renames go on.
            _ = try? store.transition(job.id, now: clock.now()) { $0.withdrawAttempt() }
            let wait = cloudinary.adminBudget?.wait(cloud: context.cloud.name, limit: context.cloud.adminAPIMaxRequestsPerHour)
            return (.retry(delay: max(wait ?? retryAfter ?? AdminBudget.defaultPauseSeconds, 0.05), pauseCloud: false, next: .attempt), .rateLimited)
        case .rejected(let status, let message, let retryAfter) where RetryPolicy.isTransient(status: status):
            let kind: CallOutcome = RetryPolicy.pausesCloud(status: status) ? .rateLimited : .transientError
            if exhausted {
                return (.failed(.init(code: "cloudinary_unavailable", message: message, cloudinaryStatus: status)), kind)
            }
            let delay = retry.delay(afterAttempts: attempts, retryAfter: retryAfter)
            // A spent Admin API budget holds back Admin API work only (the budget itself gates
            // the cloud's other Admin calls); Upload API renames go on (SPEC §11).
            let pauses = RetryPolicy.pausesCloud(status: status) && !job.kind.usesAdminAPI
            return (.retry(delay: delay, pauseCloud: pauses, next: .attempt), kind)
        case .rejected(let status, let message, _):
            if context.hadUnknownOutcome && job.kind != .assetUpdate {
                // An earlier call may have renamed it after all (e.g. 404: the source is gone).
                return (.retry(delay: 0, pauseCloud: false, next: .reconcile), .finalError)
            }
            return (.failed(.init(code: Self.errorCode(status: status), message: message, cloudinaryStatus: status)), .finalError)
        case .notSent(let reason):
            if exhausted { return (.failed(.init(code: "cloudinary_unreachable", message: reason)), .notSent) }
            return (.retry(delay: retry.delay(afterAttempts: attempts, retryAfter: nil), pauseCloud: false, next: .attempt), .notSent)
        case .outcomeUnknown(let reason):
            logger.warning("rename outcome unknown", metadata: ["job_id": "\(job.id)", "reason": "\(reason)"])
            return (.retry(delay: retry.delay(afterAttempts: attempts, retryAfter: nil), pauseCloud: false, next: .reconcile), .outcomeUnknown)
        }
    }

    func notificationURL(for job: RenameJob) -> String {
        "\(publicBaseURL())/v1/notifications/cloudinary?cloud=\(PercentEncoding.escape(job.cloud))&job=\(PercentEncoding.escape(job.id))"
    }

    /// `error.code` for a final Cloudinary status.
    static func errorCode(status: Int) -> String {
        switch status {
        case 400: "cloudinary_bad_request"
        case 401: "cloudinary_unauthorized"
        case 403: "cloudinary_forbidden"
        case 404: "cloudinary_not_found"
        case 409: "cloudinary_conflict"
        default: "cloudinary_error"
        }
    }
}

extension Duration {
    /// Whole nanoseconds, for swift-metrics timers.
    public var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
