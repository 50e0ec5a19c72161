import Foundation
import Logging
import Metrics
import RenamerConfig
import RenamerCrypto

/// A job's whole path, in one place (README "Architecture"):
///
/// ```
/// accept ─▶ JobQueue (rename, retries, reconciliation)
///             ├─ renamed, invalidate ─▶ InvalidationConfirmer ─▶ completed ─┐
///             ├─ renamed, no invalidation ─▶ completed ─────────────────────┤
///             ├─ failed ────────────────────────────────────────────────────┤
///             └─ cancelled (DELETE before dispatch): no callback            ▼
///                                                     CallbackDelivery (outbox in storage)
/// ```
/// Status changes are the methods of `RenameJob+Transitions.swift`, applied through
/// ``JobStore/transition(_:now:_:)``; this type decides what runs after each step. Recovery after
/// a restart goes through the same entry points as normal operation (``recover()``).
public final class JobLifecycle: Sendable {
    /// What ``accept(_:client:idempotencyKey:body:admit:)`` did.
    public enum Acceptance: Sendable {
        case accepted(RenameJob)
        /// The `Idempotency-Key` names a job made by an equal body.
        case replayed(RenameJob)
        case idempotencyMismatch
        case idempotencyInFlight
        /// The client is over its request rate: retry after this many seconds.
        case rateLimited(retryAfter: Double)
        case queueFull
        /// The job could not be made durable (SPEC §8: nothing is promised that storage did not keep).
        case storageUnavailable(String)
    }

    public let configuration: RenamerConfiguration
    public let store: JobStore
    public let queue: JobQueue
    public let confirmer: InvalidationConfirmer
    public let callbacks: CallbackDelivery
    public let notifications: NotificationIntake
    /// Folder renames in fixed mode, batches and dry runs (SPEC §11).
    public let groups: GroupRunner
    let clock: any RenamerClock
    let logger: Logger
    let metrics: any MetricsFactory

    /// - Parameter publicBaseURL: The daemon's base URL for `notification_url`, read per call (with
    ///   `http.port: 0` it is known only once the server listens).
    public init(
        configuration: RenamerConfiguration,
        store: JobStore,
        cloudinary: any CloudinaryAPI,
        prober: any DeliveryProber,
        callbackTransport: any CallbackTransport,
        clock: any RenamerClock,
        retry: RetryPolicy? = nil,
        logger: Logger,
        metrics: any MetricsFactory,
        publicBaseURL: @escaping @Sendable () -> String
    ) {
        self.configuration = configuration
        self.store = store
        self.clock = clock
        self.logger = logger
        self.metrics = metrics
        // The confirmer hands each job it completes to callback delivery: with one thread under
        // both serial queues that hand-off wakes no other thread (issue 17).
        let afterRename = DispatchQueue(label: "asset-renamer.after-rename")
        let callbacks = CallbackDelivery(
            configuration: configuration,
            store: store,
            transport: callbackTransport,
            clock: clock,
            logger: logger,
            metrics: metrics,
            target: afterRename
        )
        // The runner needs the queue, and the queue's and confirmer's hooks need the runner.
        let runner = Later<GroupRunner>()
        let finalized: @Sendable (RenameJob) -> Void = { job in Self.finalized(job, groups: runner.value, callbacks: callbacks) }
        let confirmer = InvalidationConfirmer(
            configuration: configuration,
            store: store,
            prober: prober,
            clock: clock,
            logger: logger,
            metrics: metrics,
            target: afterRename,
            onCompleted: finalized
        )
        self.callbacks = callbacks
        self.confirmer = confirmer
        queue = JobQueue(
            configuration: configuration,
            store: store,
            cloudinary: cloudinary,
            clock: clock,
            retry: retry,
            logger: logger,
            metrics: metrics,
            publicBaseURL: publicBaseURL,
            onRenamePhaseEnded: { job in
                if job.parent != nil { runner.value?.itemCallEnded(job) }
                if job.status == .confirmingInvalidation { confirmer.begin(job) } else { finalized(job) }
            }
        )
        groups = GroupRunner(
            configuration: configuration,
            store: store,
            queue: queue,
            cloudinary: cloudinary,
            clock: clock,
            retry: retry ?? RetryPolicy(configuration.queue),
            logger: logger,
            metrics: metrics,
            onFinal: { callbacks.deliver($0) }
        )
        runner.value = groups
        notifications = NotificationIntake(store: store, confirmer: confirmer, clock: clock, logger: logger)
    }

    /// A job is final: an item counts in its folder rename or batch (items send no callback);
    /// any other job is called back.
    static func finalized(_ job: RenameJob, groups: GroupRunner?, callbacks: CallbackDelivery) {
        if job.parent != nil {
            groups?.itemFinal(job)
        } else {
            callbacks.deliver(job)
        }
    }

    // MARK: Accept

    /// Accepts a rename for `client` (SPEC §2, §10): the idempotency key, the rate limit (`admit`
    /// returns the wait when the client is over it), the queue's capacity, then durability before
    /// the job is queued. The answer `202` may be given only for ``Acceptance/accepted(_:)``.
    public func accept(
        _ order: RenameOrder,
        client: String,
        idempotencyKey: String?,
        body: JSONValue,
        admit: () -> Double?
    ) async -> Acceptance {
        await accept(client: client, idempotencyKey: idempotencyKey, body: body, admit: admit) { [configuration] now in
            [RenameJob(accepting: order, client: client, configuration: configuration, now: now)]
        }
    }

    /// Accepts the job `make` builds for `client` (any kind, SPEC §2 and §11; a batch's items
    /// follow it, in list order): the idempotency key, the rate limit (`admit` returns the wait
    /// when the client is over it), the queue's capacity, then durability before the job is queued.
    public func accept(
        client: String,
        idempotencyKey: String?,
        body: JSONValue,
        admit: () -> Double?,
        make: (Date) -> [RenameJob]
    ) async -> Acceptance {
        if let replicas, !replicas.isReachable {
            return .storageUnavailable("the database cannot be reached")
        }
        if let key = idempotencyKey {
            do {
                switch try await store.reserve(client: client, key: key, body: body) {
                case .fresh: break
                case .replay(let job): return .replayed(job)
                case .mismatch: return .idempotencyMismatch
                case .inFlight: return .idempotencyInFlight
                }
            } catch {
                return .storageUnavailable(error.description)
            }
        }
        if let wait = admit() {
            if let key = idempotencyKey { store.releaseReservation(client: client, key: key) }
            return .rateLimited(retryAfter: wait)
        }
        let jobs = make(clock.now())
        guard let job = jobs.first, store.insert(jobs, idempotencyKey: idempotencyKey, body: body, capacity: configuration.queue.capacity)
        else {
            return .queueFull
        }
        // 202 is a promise: the job is durable before it is answered, and only then may a request
        // with the same key be answered with it (until now it got 409).
        do {
            try await store.storage.sync()
        } catch {
            store.remove(jobs.map(\.id))
            if let key = idempotencyKey { store.releaseReservation(client: client, key: key) }
            return .storageUnavailable("\(error)")
        }
        if let key = idempotencyKey {
            if let replicas, replicas.acceptanceLost(job.id) {
                // Another replica committed the same key first: answer with its job (SPEC §12).
                store.remove(jobs.map(\.id))
                store.releaseReservation(client: client, key: key)
                return await accept(client: client, idempotencyKey: key, body: body, admit: { nil }, make: make)
            }
            store.commitIdempotencyKey(client: client, key: key)
        }
        return .accepted(started(jobs))
    }

    /// Accepts without waiting, for a caller that is not a task (``JobLifecycle/accept(client:idempotencyKey:body:admit:make:)``
    /// split at its wait): the jobs `make` builds are stored, not yet durable. Only for a request
    /// without `Idempotency-Key` on single-process storage; nil when the request is refused or needs
    /// the full path (the caller then takes it, and it gives every refusal its answer).
    ///
    /// Then, once ``JobStorage/whenDurable(_:)`` reports the jobs durable, ``started(_:)`` queues
    /// them; if it reports a failure, ``abandon(_:)`` forgets them.
    /// `refund` gives back what `admit` took when the jobs do not fit after all.
    public func storeWithoutWaiting(
        client: String,
        admit: () -> Double?,
        refund: () -> Void,
        make: (Date) -> [RenameJob]
    ) -> [RenameJob]? {
        guard replicas == nil, admit() == nil else { return nil }
        let jobs = make(clock.now())
        guard !jobs.isEmpty, store.insert(jobs, idempotencyKey: nil, body: .null, capacity: configuration.queue.capacity) else {
            refund()
            return nil
        }
        return jobs
    }

    /// Queues jobs just made durable (the first, then a batch's items after it); returns the first.
    public func started(_ jobs: [RenameJob]) -> RenameJob {
        let job = jobs[0]
        if GroupRunner.runs(job) {
            groups.start(job, items: Array(jobs.dropFirst()))
        } else {
            queue.enqueue(job)
        }
        return store.workingJob(job.id) ?? job
    }

    /// Forgets stored jobs that could not be made durable.
    public func abandon(_ jobs: [RenameJob]) {
        store.remove(jobs.map(\.id))
    }

    /// Cancels a job of `client` that has not called Cloudinary yet; nil when there is no such job.
    public func cancel(_ id: String, client: String) async throws(StorageError) -> RenameJob? {
        let local = store.workingJob(id)
        guard let replicas, local == nil else {
            if JobKind(id: id).hasItems, local.map(GroupRunner.runs) ?? true { return try await groups.cancel(id, client: client) }
            return try await queue.cancel(id, client: client)
        }
        // Another replica's job (SPEC §12): its owner cancels it, if it has not started it yet.
        guard let job = try await store.job(id, client: client) else { return nil }
        if GroupRunner.runs(job) {
            // A running folder rename or batch stops at its owner; the answer is the job as it is.
            if !job.status.isFinal { try await replicas.forward(ReplicaRequest(jobID: id, kind: .cancel, at: clock.now())) }
            return job
        }
        guard job.status == .queued else { return job }
        try await replicas.forward(ReplicaRequest(jobID: id, kind: .cancel, at: clock.now()))
        let deadline = ContinuousClock.now + .seconds(Self.forwardedCancelWaitSeconds)
        while ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
            if let now = try await store.job(id, client: client), now.status != .queued { return now }
        }
        return try await store.job(id, client: client)
    }

    /// How long a cancel forwarded to another replica waits for its answer (it is answered 409 with
    /// the job still queued after that; the owner may still cancel it later).
    static let forwardedCancelWaitSeconds = 3

    /// Ends every task the lifecycle started (Cloudinary calls, probes, callbacks), after the drain:
    /// calls cut short are reconciled after the next start, callbacks delivered again (SPEC §8).
    /// Nothing started by the daemon outlives it.
    public func shutdown() async {
        callbacks.stop()
        await confirmer.stop()
        _ = await queue.drain(until: .now)
        await queue.tasks.cancelAll()
        await groups.tasks.cancelAll()
        await confirmer.tasks.cancelAll()
        await callbacks.tasks.cancelAll()
    }

    // MARK: Recovery

    /// Loads the working set from storage and resumes every unfinished job and undelivered
    /// callback (SPEC §8), before the daemon reports ready, through the same entry points as
    /// normal operation. Jobs resume in acceptance order, which restores per-asset ordering; a job
    /// that was mid-rename is reconciled through the Admin API before anything is retried.
    ///
    /// - Returns: The start-up state read, and how many jobs were resumed.
    @discardableResult
    public func recover(replayCache: NotificationReplayCache) async throws(StorageError) -> (startup: StartupState, resumed: Int) {
        let startup = try await store.storage.startupState(now: clock.now())
        replayCache.restore(startup.notifications)
        let resumed = await resume(startup)
        callbacks.start()
        return (startup, resumed)
    }

    /// Puts jobs read from storage (at start-up, or taken over from a replica whose lease passed)
    /// in the working set and runs each from where it stands. Returns how many were resumed.
    @discardableResult
    func resume(_ startup: StartupState) async -> Int {
        // Folder renames and batches count their items again from storage, before anything runs.
        var itemCounts: [String: [JobStatus: Int]] = [:]
        for (job, _) in startup.unfinished where GroupRunner.runs(job) && !job.status.isFinal {
            itemCounts[job.id] = await countItems(of: job.id)
        }
        store.restore(startup)
        let dryRuns = Set(startup.unfinished.lazy.filter { $0.job.group?.dryRun == true }.map(\.job.id))
        var resumed = 0
        for (job, _) in startup.unfinished {
            if let counts = itemCounts[job.id] {
                groups.resume(job, counts: counts)
                resumed += 1
                continue
            }
            if let parent = job.parent, dryRuns.contains(parent), job.status == .queued {
                // A dry run's item is never run (the process stopped before it was recorded so).
                let now = clock.now()
                _ = try? store.transition(job.id, now: now) { job throws(JobTransitionError) in try job.cancel(at: now) }
                continue
            }
            if let parent = job.parent, job.status == .queued, groups.isStopping(parent) {
                // Its folder rename was cancelled (or its listing failed) before the restart.
                let now = clock.now()
                if let cancelled = try? store.transition(job.id, now: now, { job throws(JobTransitionError) in try job.cancel(at: now) }) {
                    groups.itemCallEnded(cancelled)
                    groups.itemFinal(cancelled)
                }
                resumed += 1
                continue
            }
            switch job.status {
            case .queued:
                queue.enqueue(job)
            case .renaming, .updating, .listing:
                queue.enqueue(job, recovered: true)
            case .confirmingInvalidation:
                confirmer.begin(job)
            case .completed, .failed, .cancelled:
                // Final in an older journal, without its callback event: make it now.
                guard let prepared = try? store.transition(job.id, now: clock.now(), { $0.prepareCallbackIfMissing(at: clock.now()) })
                else { continue }
                callbacks.deliver(prepared)
            }
            resumed += 1
        }
        return resumed
    }

    /// How many items of `parent` are in each status, asking storage again while it cannot answer
    /// (a takeover right after a database outage): counting them as none would end the parent
    /// early. After a minute it gives up with what it has and says so.
    private func countItems(of parent: String) async -> [JobStatus: Int] {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                return try await store.storage.itemCounts(parent: parent)
            } catch {
                guard ContinuousClock.now < deadline, !Task.isCancelled else {
                    logger.critical("cannot count the items of a folder rename or batch", metadata: ["job_id": "\(parent)", "error": "\(error)"])
                    return [:]
                }
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    // MARK: Several replicas (SPEC §12)

    /// The shared storage, when several replicas run.
    var replicas: (any ReplicaCoordinator)? { store.replicas }

    /// What a replica does besides its own jobs, until cancelled: every 200 ms it takes the
    /// requests other replicas left for its jobs; every second it takes over the jobs of replicas
    /// whose lease passed, counts the unfinished renames of all replicas, and reads the outbox again
    /// if it took over callbacks. Does nothing with single-process storage.
    public func runReplicaDuties() async {
        guard let replicas else { return }
        var tick = 0
        while !Task.isCancelled {
            if let requests = try? await replicas.takeRequests() {
                for request in requests { await handle(request) }
            }
            if tick % 5 == 0 {
                if let taken = try? await replicas.takeOver(), !taken.unfinished.isEmpty || taken.callbacks > 0 {
                    Counter(label: "renamer_taken_over_total", dimensions: [("kind", "job")], factory: metrics)
                        .increment(by: taken.unfinished.count)
                    Counter(label: "renamer_taken_over_total", dimensions: [("kind", "callback")], factory: metrics)
                        .increment(by: taken.callbacks)
                    await resume(StartupState(unfinished: taken.unfinished))
                    // The outbox has callbacks that no wake-up of this replica's covers yet.
                    callbacks.start()
                }
                if let census = try? await replicas.census() {
                    store.noteUnfinishedEverywhere(census.unfinishedRenames)
                    queue.shareLimits(among: census.replicas)
                    queue.cloudinary.adminBudget?.share(among: census.replicas)
                }
            }
            tick += 1
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    /// A request another replica left for one of this replica's jobs.
    func handle(_ request: ReplicaRequest) async {
        Counter(label: "renamer_forwarded_requests_total", dimensions: [("kind", request.kind.rawValue)], factory: metrics).increment()
        switch request.kind {
        case .notification:
            let now = clock.now()
            if let job = try? store.transition(request.jobID, now: now, { $0.noteNotification(at: request.at) }) {
                logger.info("rename notification forwarded by another replica", metadata: ["job_id": "\(job.id)"])
                confirmer.notificationArrived(job)
            }
        case .cancel:
            guard let job = store.workingJob(request.jobID) else { return }
            if GroupRunner.runs(job) {
                _ = try? await groups.cancel(job.id, client: job.client)
            } else {
                _ = try? await queue.cancel(job.id, client: job.client)
            }
            try? await store.storage.sync()
        }
    }
}

extension RenameJob {
    /// A new `queued` job for `order`: its cloud (or `default_cloud`), its callback URL (or the
    /// client's `default_callback_url`), and the invalidation method the cloud's setting picks
    /// (`probe` applies to `upload` assets only; others are confirmed by notification).
    public init(accepting order: RenameOrder, client: String, configuration: RenamerConfiguration, now: Date) {
        let cloudName = order.cloud ?? configuration.defaultCloud
        let callbackURL = order.callbackURL ?? configuration.clients[client]?.defaultCallbackURL
        var method: Invalidation.Method?
        if order.invalidate, let cloud = configuration.clouds[cloudName] {
            switch cloud.invalidation.method {
            case .probe: method = order.type == .upload ? .probe : .notification
            case .notification: method = .notification
            case .delay: method = .delay
            }
        }
        self.init(
            id: JobKind.rename.newID(at: now),
            client: client,
            status: .queued,
            cloud: cloudName,
            fromPublicID: order.fromPublicID,
            toPublicID: order.toPublicID,
            resourceType: order.resourceType,
            type: order.type,
            toType: order.toType,
            overwrite: order.overwrite,
            invalidate: order.invalidate,
            clientReference: order.clientReference,
            attempts: 0,
            createdAt: now,
            updatedAt: now,
            completedAt: nil,
            result: nil,
            invalidation: .init(status: order.invalidate ? .pending : .notRequested, method: method, confirmedAt: nil),
            error: nil,
            callback: .init(url: callbackURL, status: callbackURL == nil ? .none : .pending, attempts: 0, lastStatus: nil)
        )
    }
}
