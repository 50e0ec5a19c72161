import Foundation
import Logging
import Metrics
import RenamerConfig
import RenamerCrypto

/// Runs the jobs that are made of items (SPEC §11): folder renames in `fixed` mode and batches.
///
/// An item is an ordinary rename job with a `parent`: it goes through ``JobQueue`` with every
/// guarantee of §3 and §5 (ordering, reconciliation, invalidation confirmation) and sends no
/// callback. The parent counts its items as they end and is called back once, when all are final.
///
/// ```
/// folder rename (fixed): queued ─hold granted─▶ listing ─last page─▶ renaming ─items final─▶ completed
///                                                  └─ items created page by page, queued as they come
/// batch:                 queued ─accepted─▶ renaming ─items final─▶ completed
/// dry run:               queued ─▶ listing ─▶ completed with the plan (nothing changed)
/// ```
///
/// A fixed-mode folder rename holds `from/` and `to/` in the queue (``JobQueue/hold(_:granted:)``)
/// from the moment it starts until its last item's call has returned. Listing pauses while
/// ``window`` of its items wait for their call, so memory holds at most that many per folder.
/// Listing progress (pair and cursor) is recorded after each page's items, and item ids are derived
/// from the parent and the public ID, so a restart re-lists at most one page and creates nothing
/// twice.
public final class GroupRunner: Sendable {
    /// What the runner knows of a parent in progress.
    struct Active {
        var listingDone: Bool
        /// Items created, items whose rename phase ended, items final.
        var created = 0
        var callsEnded = 0
        var final = 0
        var cancelRequested = false
        var failure: RenameJob.JobError?
        /// A fixed-mode folder rename holds its prefixes in the queue.
        var holdsPrefixes: Bool
        var holdReleased = false
    }

    let configuration: RenamerConfiguration
    let store: JobStore
    let queue: JobQueue
    let cloudinary: any CloudinaryAPI
    let clock: any RenamerClock
    let retry: RetryPolicy
    let logger: Logger
    let metrics: any MetricsFactory
    private let itemsFinished: MetricHandles<JobStatus, Counter>
    private let jobsFinished: MetricHandles<JobStatus, Counter>
    /// Where a parent goes once final (callback delivery).
    let onFinal: @Sendable (RenameJob) -> Void
    public let tasks = TrackedTasks()
    private let active = Locked([String: Active]())

    /// Items of one folder rename waiting for their call before listing pauses.
    static let window = 1000
    /// Items of one folder rename not final yet (most confirming their invalidation) before
    /// listing pauses: what bounds a large folder's memory while the CDN takes its time.
    static let unfinishedWindow = 10_000
    /// Public IDs under the target folder a dry run keeps to find collisions.
    static let maxDryRunTargets = 100_000
    /// Page size of the Admin API listing (Cloudinary's maximum).
    static let pageSize = 500

    init(
        configuration: RenamerConfiguration,
        store: JobStore,
        queue: JobQueue,
        cloudinary: any CloudinaryAPI,
        clock: any RenamerClock,
        retry: RetryPolicy,
        logger: Logger,
        metrics: any MetricsFactory,
        onFinal: @escaping @Sendable (RenameJob) -> Void
    ) {
        self.configuration = configuration
        self.store = store
        self.queue = queue
        self.cloudinary = cloudinary
        self.clock = clock
        self.retry = retry
        self.logger = logger
        self.metrics = metrics
        itemsFinished = MetricHandles { Counter(label: "renamer_items_finished_total", dimensions: [("status", $0.rawValue)], factory: metrics) }
        jobsFinished = .jobsFinished(metrics)
        self.onFinal = onFinal
        queue.onHoldGranted { [weak self] id in self?.holdGranted(id) }
    }

    /// Whether the runner (rather than the queue alone) runs `job`: fixed-mode folder renames,
    /// every dry run and every batch.
    public static func runs(_ job: RenameJob) -> Bool {
        job.kind == .batch || (job.kind == .folderRename && (job.group?.folderMode == .fixed || job.group?.dryRun == true))
    }

    // MARK: Starting

    /// Starts a parent just accepted (a batch's items are in the store already, in list order).
    func start(_ parent: RenameJob, items: [RenameJob] = []) {
        if parent.group?.dryRun == true {
            // A dry run's items are recorded for the plan, and never run.
            let now = clock.now()
            for item in items { _ = try? store.transition(item.id, now: now) { job throws(JobTransitionError) in try job.cancel(at: now) } }
            // A dry run changes nothing, so it holds no prefix.
            active.withLock { $0[parent.id] = Active(listingDone: false, holdsPrefixes: false) }
            tasks.spawn { [self] in await dryRun(parent.id) }
            return
        }
        switch parent.kind {
        case .folderRename:
            active.withLock { $0[parent.id] = Active(listingDone: false, holdsPrefixes: true) }
            queue.hold(parent)
        case .batch:
            active.withLock { $0[parent.id] = Active(listingDone: true, created: items.count, holdsPrefixes: false) }
            _ = update(parent.id) { job throws(JobTransitionError) in try job.startItems() }
            for item in items { queue.enqueue(item) }
            finishIfDone(parent.id)
        default:
            break
        }
    }

    /// Resumes a parent read from storage (restart or takeover) before its items are resumed:
    /// `counts` are its items' statuses in storage.
    func resume(_ parent: RenameJob, counts: [JobStatus: Int]) {
        let total = counts.values.reduce(0, +)
        let waiting = (counts[.queued] ?? 0) + (counts[.renaming] ?? 0)
        let final = (counts[.completed] ?? 0) + (counts[.failed] ?? 0) + (counts[.cancelled] ?? 0)
        let dryRun = parent.group?.dryRun == true
        let holds = parent.kind == .folderRename && !dryRun
        // A cancel or a listing failure recorded before the restart stops the listing for good.
        let stopped = parent.group?.cancelRequested == true || parent.group?.failure != nil
        var state = Active(
            listingDone: parent.kind == .batch ? !dryRun : parent.status == .renaming || stopped,
            holdsPrefixes: holds
        )
        state.created = total
        state.callsEnded = total - waiting
        state.final = final
        state.cancelRequested = parent.group?.cancelRequested == true
        state.failure = parent.group?.failure
        active.withLock { $0[parent.id] = state }
        _ = update(parent.id) { job in
            job.group?.counts = .init(
                items: total,
                renamed: counts[.completed] ?? 0,
                failed: counts[.failed] ?? 0,
                skipped: counts[.cancelled] ?? 0
            )
        }
        if dryRun {
            tasks.spawn { [self] in await self.dryRun(parent.id) }
            return
        }
        switch parent.status {
        case .queued:
            if parent.kind == .folderRename {
                queue.hold(parent)
            } else {
                _ = update(parent.id) { job throws(JobTransitionError) in try job.startItems() }
                finishIfDone(parent.id)
            }
        case .listing where !stopped:
            queue.hold(parent, granted: true)
            tasks.spawn { [self] in await list(parent.id, resumed: true) }
        case .listing, .renaming:
            if holds { queue.hold(parent, granted: true) }
            releaseHoldIfCallsEnded(parent.id)
            finishIfDone(parent.id)
        default:
            break
        }
    }

    /// Whether the items of `parent` that have not started are not to run (its caller cancelled
    /// it, or its listing failed, before a restart): recovery cancels them.
    func isStopping(_ parent: String) -> Bool {
        active.withLock { state in state[parent].map { $0.cancelRequested || $0.failure != nil } ?? false }
    }

    /// A folder rename (not a dry run: those hold nothing) may list its folder.
    private func holdGranted(_ id: String) {
        guard store.workingJob(id)?.status == .queued else { return }
        tasks.spawn { [self] in await list(id, resumed: false) }
    }

    // MARK: Items

    /// An item's rename phase ended (its call returned, or it was cancelled).
    func itemCallEnded(_ item: RenameJob) {
        guard let parent = item.parent else { return }
        active.withLock { $0[parent]?.callsEnded += 1 }
        releaseHoldIfCallsEnded(parent)
    }

    /// An item is final: counted in its parent, which ends with its last item.
    func itemFinal(_ item: RenameJob) {
        guard let parent = item.parent else { return }
        itemsFinished[item.status].increment()
        guard active.withLock({ $0[parent] != nil }) else { return }
        _ = update(parent) { $0.count(item: item) }
        active.withLock { $0[parent]?.final += 1 }
        finishIfDone(parent)
    }

    private func releaseHoldIfCallsEnded(_ parent: String) {
        let release = active.withLock { active -> Bool in
            guard let state = active[parent], state.holdsPrefixes, !state.holdReleased, state.listingDone,
                state.callsEnded >= state.created
            else { return false }
            active[parent]?.holdReleased = true
            return true
        }
        if release { queue.release(hold: parent) }
    }

    private func finishIfDone(_ parent: String) {
        let done = active.withLock { active -> Active? in
            guard let state = active[parent], state.listingDone, state.final >= state.created else { return nil }
            active[parent] = nil
            return state
        }
        guard let done else { return }
        if done.holdsPrefixes && !done.holdReleased { queue.release(hold: parent) }
        let now = clock.now()
        guard
            let job = update(
                parent,
                { job throws(JobTransitionError) in
                    try job.finishItems(failure: done.failure, cancelled: done.cancelRequested, at: now)
                }
            )
        else { return }
        jobsFinished[job.status].increment()
        logger.info(
            "\(job.kind.noun) finished",
            metadata: [
                "job_id": "\(job.id)", "status": "\(job.status.rawValue)", "items": .stringConvertible(job.group?.counts.items ?? 0),
                "renamed": .stringConvertible(job.group?.counts.renamed ?? 0), "failed": .stringConvertible(job.group?.counts.failed ?? 0),
                "skipped": .stringConvertible(job.group?.counts.skipped ?? 0),
            ]
        )
        onFinal(job)
    }

    // MARK: Cancel

    /// `DELETE` of a folder rename or batch (SPEC §11): a queued one is cancelled at once; a
    /// running one stops listing, its items that have not called Cloudinary are cancelled, and it
    /// ends (`cancelled`) once its started items have.
    func cancel(_ id: String, client: String) async throws(StorageError) -> RenameJob? {
        guard let current = try await store.job(id, client: client) else { return nil }
        guard !current.status.isFinal else { return current }
        if current.status == .queued {
            let now = clock.now()
            if let job = try? store.transition(id, now: now, { job throws(JobTransitionError) in try job.cancel(at: now) }) {
                active.withLock { $0[id] = nil }
                queue.release(hold: id)
                jobsFinished[.cancelled].increment()
                return job
            }
        }
        active.withLock { $0[id]?.cancelRequested = true }
        _ = update(id) { $0.group?.cancelRequested = true }
        for item in store.workingJobs where item.parent == id && item.status == .queued {
            _ = try await queue.cancel(item.id, client: item.client)
        }
        finishIfDone(id)
        // The answer promises the cancel: it survives a restart.
        try? await store.storage.sync()
        if let job = store.workingJob(id) { return job }
        return try await store.job(id, client: client)
    }

    // MARK: Listing (fixed mode)

    /// The (resource type, delivery type) pairs a folder rename lists, in order.
    static func pairs(_ job: RenameJob) -> [(ResourceType, DeliveryType)] {
        (job.group?.resourceTypes ?? ResourceType.allCases).flatMap { type in DeliveryType.allCases.map { (type, $0) } }
    }

    /// Lists `from/` page by page and queues an item per asset; then waits for the items.
    private func list(_ id: String, resumed: Bool) async {
        guard var parent = store.workingJob(id), let cloud = configuration.clouds[parent.cloud] else { return }
        if parent.status == .queued {
            guard let started = update(id, { job throws(JobTransitionError) in try job.startListing() }) else { return }
            parent = started
            logger.info("folder listing started", metadata: ["job_id": "\(id)", "prefix": "\(parent.fromPublicID)/"])
        }
        let pairs = Self.pairs(parent)
        var progress = parent.group?.listing ?? .init()
        var checkExisting = resumed
        while progress.pair < pairs.count, !Task.isCancelled {
            if active.withLock({ $0[id]?.cancelRequested ?? true }) { break }
            await waitForWindow(id)
            let (resourceType, type) = pairs[progress.pair]
            let page: [String]
            let next: String?
            switch await listPage(parent.fromPublicID + "/", resourceType, type, cursor: progress.cursor, cloud: cloud, job: id) {
            case .success(let result): (page, next) = result
            case .failure(let failed):
                logger.error("folder listing failed", metadata: ["job_id": "\(id)", "code": "\(failed.error.code)"])
                active.withLock { $0[id]?.failure = failed.error }
                _ = update(id) { $0.group?.failure = failed.error }
                await cancelQueuedItems(of: id)
                progress.pair = pairs.count
                continue
            }
            var created = 0
            for publicID in page where publicID.hasPrefix(parent.fromPublicID + "/") {
                let item = makeItem(parent, publicID: publicID, resourceType: resourceType, type: type)
                if store.workingJob(item.id) != nil { continue }
                if checkExisting {
                    // The first page after a restart may have been listed before: its items exist.
                    guard let exists = await exists(item.id) else { return }
                    if exists { continue }
                }
                // Items take no room in `queue.capacity`: the windows bound them per folder, and a
                // full queue of jobs waiting for this folder's hold must not stop its listing.
                guard store.insert(item, idempotencyKey: nil, body: .null, capacity: .max) else { continue }
                active.withLock { $0[id]?.created += 1 }
                queue.enqueue(item)
                created += 1
            }
            checkExisting = false
            progress = next.map { .init(pair: progress.pair, cursor: $0) } ?? .init(pair: progress.pair + 1, cursor: nil)
            let recorded = progress
            _ = update(id) { job in
                job.group?.listing = recorded
                job.group?.counts.items += created
            }
            logger.debug(
                "folder page listed",
                metadata: ["job_id": "\(id)", "items": .stringConvertible(created), "type": "\(resourceType)/\(type)"]
            )
        }
        guard !Task.isCancelled else { return }
        // Items of the page being listed when a cancel came were queued after its sweep.
        if active.withLock({ $0[id]?.cancelRequested == true }) { await cancelQueuedItems(of: id) }
        let items = store.workingJob(id)?.group?.counts.items ?? 0
        logger.info("folder listed", metadata: ["job_id": "\(id)", "items": .stringConvertible(items)])
        _ = update(id) { job throws(JobTransitionError) in
            if job.status == .listing { try job.startItems() }
        }
        active.withLock { $0[id]?.listingDone = true }
        releaseHoldIfCallsEnded(id)
        finishIfDone(id)
    }

    /// Waits while ``window`` items of `id` wait for their call, or ``unfinishedWindow`` are not
    /// final.
    private func waitForWindow(_ id: String) async {
        while !Task.isCancelled {
            let (waiting, unfinished) = active.withLock { state in state[id].map { ($0.created - $0.callsEnded, $0.created - $0.final) } ?? (0, 0) }
            if waiting < Self.window && unfinished < Self.unfinishedWindow { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Whether job `id` is in storage, asking again while storage cannot answer; nil once the
    /// runner is stopping.
    private func exists(_ id: String) async -> Bool? {
        while !Task.isCancelled {
            do {
                return try await store.job(id) != nil
            } catch {
                logger.warning("storage unavailable; listing waits", metadata: ["job_id": "\(id)", "error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
        return nil
    }

    private func cancelQueuedItems(of id: String) async {
        for item in store.workingJobs where item.parent == id && item.status == .queued {
            _ = try? await queue.cancel(item.id, client: item.client)
        }
    }

    /// One page, retried like a rename call (SPEC §3): transient errors with backoff, a spent
    /// Admin API budget until it allows a call (not counted as an attempt), final errors at once.
    private func listPage(
        _ prefix: String,
        _ resourceType: ResourceType,
        _ type: DeliveryType,
        cursor: String?,
        cloud: RenamerConfiguration.Cloud,
        job: String
    ) async -> Result<([String], String?), ListingFailed> {
        var attempts = 0
        while !Task.isCancelled {
            if let wait = cloudinary.adminBudget?.wait(cloud: cloud.name, limit: cloud.adminAPIMaxRequestsPerHour) {
                logger.debug("Admin API budget spent; listing waits", metadata: ["job_id": "\(job)", "seconds": .stringConvertible(wait)])
                Counter(label: "renamer_admin_api_budget_waits_total", factory: metrics).increment()
                try? await Task.sleep(for: .seconds(min(wait, 60)))
                continue
            }
            attempts += 1
            let outcome = await cloudinary.listResources(
                prefix: prefix,
                resourceType: resourceType,
                type: type,
                cursor: cursor,
                maxResults: Self.pageSize,
                cloud: cloud
            )
            let delay: Double
            switch outcome {
            case .page(let ids, let next):
                Counter(label: "renamer_cloudinary_requests_total", dimensions: [("outcome", "lookup")], factory: metrics).increment()
                return .success((ids, next))
            case .rejected(420, _, let retryAfter):
                // The budget, not this listing, is the problem: wait for it without counting.
                attempts -= 1
                delay = retryAfter ?? AdminBudget.defaultPauseSeconds
            case .rejected(let status, let message, let retryAfter) where RetryPolicy.isTransient(status: status):
                guard attempts < retry.maxAttempts else {
                    return .failure(.init(error: .init(code: "cloudinary_unavailable", message: message, cloudinaryStatus: status)))
                }
                delay = retry.delay(afterAttempts: attempts, retryAfter: retryAfter)
            case .rejected(let status, let message, _):
                return .failure(.init(error: .init(code: JobQueue.errorCode(status: status), message: message, cloudinaryStatus: status)))
            case .failed(let reason):
                guard attempts < retry.maxAttempts else { return .failure(.init(error: .init(code: "cloudinary_unreachable", message: reason))) }
                delay = retry.delay(afterAttempts: attempts, retryAfter: nil)
            }
            logger.info("listing retry scheduled", metadata: ["job_id": "\(job)", "seconds": .stringConvertible(delay)])
            try? await Task.sleep(for: .seconds(delay))
        }
        return .failure(.init(error: .init(code: "internal", message: "stopped")))
    }

    /// Why a listing gave up.
    struct ListingFailed: Error {
        var error: RenameJob.JobError
    }

    /// The item renaming `publicID` (under `from/`) to the same path under `to/`. Its id is derived
    /// from the parent and the asset, so listing a page again never creates it twice.
    func makeItem(_ parent: RenameJob, publicID: String, resourceType: ResourceType, type: DeliveryType) -> RenameJob {
        let rest = publicID.dropFirst(parent.fromPublicID.count + 1)
        var order = RenameOrder(fromPublicID: publicID, toPublicID: parent.toPublicID + "/" + rest)
        order.resourceType = resourceType
        order.type = type
        order.overwrite = parent.overwrite
        order.invalidate = parent.invalidate
        order.cloud = parent.cloud
        var item = RenameJob(accepting: order, client: parent.client, configuration: configuration, now: clock.now())
        let seed = "\(parent.id)\n\(resourceType.rawValue)\n\(type.rawValue)\n\(publicID)"
        item.id = "rn_" + Digest.sha256Hex(Array(seed.utf8)).prefix(24)
        item.parent = parent.id
        item.clientReference = nil
        item.callback = .init(url: nil, status: .none, attempts: 0, lastStatus: nil)
        return item
    }

    // MARK: Dry runs

    /// Lists (or looks up) without changing anything and completes with the plan: how many items,
    /// which targets exist already, the first ``RenameJob/Group/Plan/sampleSize`` items.
    private func dryRun(_ id: String) async {
        guard let parent = store.workingJob(id), let cloud = configuration.clouds[parent.cloud] else { return }
        let now = clock.now()
        if parent.kind == .folderRename && parent.group?.folderMode != .fixed {
            // Dynamic mode: one folder call would be made; no asset is renamed.
            finishDryRun(id, .init(items: 0, existingTargets: [], sample: []), at: now)
            return
        }
        if parent.status == .queued {
            guard update(id, { job throws(JobTransitionError) in try job.startListing() }) != nil else { return }
        }
        var plan = RenameJob.Group.Plan(items: 0, existingTargets: [], sample: [])
        if parent.kind == .folderRename {
            for (resourceType, type) in Self.pairs(parent) {
                // The targets that exist (bounded), then the sources page by page against them.
                var existing: Set<String> = []
                guard
                    await listPages(
                        parent.toPublicID + "/",
                        resourceType,
                        type,
                        cloud: cloud,
                        job: id,
                        { page in
                            for target in page where existing.count < Self.maxDryRunTargets { existing.insert(target) }
                        }
                    )
                else { return }
                guard
                    await listPages(
                        parent.fromPublicID + "/",
                        resourceType,
                        type,
                        cloud: cloud,
                        job: id,
                        { page in
                            for source in page where source.hasPrefix(parent.fromPublicID + "/") {
                                let target = parent.toPublicID + "/" + source.dropFirst(parent.fromPublicID.count + 1)
                                plan.add(.init(from: source, to: target, resourceType: resourceType, type: type), exists: existing.contains(target))
                            }
                        }
                    )
                else { return }
            }
        } else {
            // A batch: each item's target, as it will be when the item runs (an earlier item of
            // the batch may move it away or create it).
            let items = (try? await store.storage.items(parent: id, limit: 1000, after: nil))?.jobs ?? []
            var moved: Set<String> = []
            var created: Set<String> = []
            for item in items {
                guard let itemCloud = configuration.clouds[item.cloud] else { continue }
                let key = "\(item.cloud)/\(item.resourceType.rawValue)/\(item.toType ?? item.type)/\(item.toPublicID)"
                var exists = created.contains(key)
                if !exists && !moved.contains(key) {
                    exists = await lookupTarget(item, cloud: itemCloud, job: id)
                }
                plan.add(.init(from: item.fromPublicID, to: item.toPublicID, resourceType: item.resourceType, type: item.type), exists: exists)
                moved.insert("\(item.cloud)/\(item.resourceType.rawValue)/\(item.type)/\(item.fromPublicID)")
                created.insert(key)
            }
            _ = cloud
        }
        finishDryRun(id, plan, at: clock.now())
    }

    private func finishDryRun(_ id: String, _ plan: RenameJob.Group.Plan, at now: Date) {
        active.withLock { $0[id] = nil }
        guard let job = update(id, { job throws(JobTransitionError) in try job.completeDryRun(plan, at: now) }) else { return }
        jobsFinished[job.status].increment()
        logger.info(
            "dry run finished",
            metadata: [
                "job_id": "\(id)", "items": .stringConvertible(plan.items), "existing_targets": .stringConvertible(plan.existingTargets.count),
            ]
        )
        onFinal(job)
    }

    /// Lists every page under `prefix`, handing each to `take`; false when the listing failed (the
    /// job failed then).
    private func listPages(
        _ prefix: String,
        _ resourceType: ResourceType,
        _ type: DeliveryType,
        cloud: RenamerConfiguration.Cloud,
        job: String,
        _ take: ([String]) -> Void
    ) async -> Bool {
        var cursor: String?
        repeat {
            switch await listPage(prefix, resourceType, type, cursor: cursor, cloud: cloud, job: job) {
            case .success(let (page, next)):
                take(page)
                cursor = next
            case .failure(let failed):
                active.withLock { $0[job] = nil }
                let now = clock.now()
                if let job = update(job, { job throws(JobTransitionError) in try job.fail(failed.error, at: now) }) { onFinal(job) }
                return false
            }
        } while cursor != nil && !Task.isCancelled
        return !Task.isCancelled
    }

    /// Whether a batch item's target exists now (Admin API lookup; unavailable counts as unknown:
    /// not listed).
    private func lookupTarget(_ item: RenameJob, cloud: RenamerConfiguration.Cloud, job: String) async -> Bool {
        while !Task.isCancelled {
            if let wait = cloudinary.adminBudget?.wait(cloud: cloud.name, limit: cloud.adminAPIMaxRequestsPerHour) {
                try? await Task.sleep(for: .seconds(min(wait, 60)))
                continue
            }
            switch await cloudinary.lookup(publicID: item.toPublicID, resourceType: item.resourceType, type: item.toType ?? item.type, cloud: cloud) {
            case .found: return true
            case .notFound: return false
            case .unavailable(let reason):
                logger.notice("dry-run lookup unavailable", metadata: ["job_id": "\(job)", "reason": "\(reason)"])
                return false
            }
        }
        return false
    }

    // MARK: Helpers

    /// Applies `change` to the parent in the working set; a refused move is reported and nil.
    @discardableResult
    private func update(_ id: String, _ change: (inout RenameJob) throws(JobTransitionError) -> Void) -> RenameJob? {
        do {
            return try store.transition(id, now: clock.now(), change)
        } catch {
            if case .illegal(_, .cancelled, _) = error { return nil }
            error.report(logger: logger, metrics: metrics)
            return nil
        }
    }
}

extension RenameJob.Group.Plan {
    /// Counts an item; keeps it in the sample while there is room, and its target if it exists.
    mutating func add(_ item: Item, exists: Bool) {
        items += 1
        if sample.count < Self.sampleSize { sample.append(item) }
        if exists && existingTargets.count < Self.maxExistingTargets { existingTargets.append(item.to) }
    }
}
