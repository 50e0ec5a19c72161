import DequeModule
import Foundation

/// The working set: jobs whose rename is not final, and jobs written since they settled until that
/// write is readable from storage; everything else is read from ``storage`` (SPEC §8: memory does
/// not grow with history or backlog). Idempotency keys being accepted live here until their job is
/// durable.
///
/// Every change goes through ``transition(_:now:_:)``, which records it in storage in change order.
/// Critical sections are short and never wait on storage, so they are safe from any thread.
public final class JobStore: Sendable {
    /// What `reserve` found for an `Idempotency-Key`.
    public enum Reservation: Sendable, Equatable {
        /// The key is new and now held for this request; call ``insert`` (then, once the job is
        /// durable, ``commitIdempotencyKey(client:key:)``) or ``releaseReservation``.
        case fresh
        /// The key names an existing, durably recorded job created by an equal body.
        case replay(RenameJob)
        /// The key names a job created by a different body.
        case mismatch
        /// The first request with this key is still being accepted: its job is not durable yet, so
        /// there is nothing to replay (SPEC §10: `409`).
        case inFlight
    }

    struct IdempotencyKey: Hashable {
        var client: String
        var key: String
    }

    /// What a `rename` notification names: cloud, source and target.
    struct RenameKey: Hashable {
        var cloud: String
        var from: String
        var to: String
    }

    /// A job in the working set and its acceptance order.
    final class Slot {
        var job: RenameJob
        let sequence: Int
        /// The generation of the write that settled the job; it leaves memory once that is readable.
        var settledGeneration: Int?

        init(_ job: RenameJob, sequence: Int) {
            self.job = job
            self.sequence = sequence
        }
    }

    struct State {
        var jobs = ShardedDictionary<String, Slot>()
        /// Nearly always one job per rename.
        var byRename = ShardedDictionary<RenameKey, CompactList<String>>()
        var accepting: Set<IdempotencyKey> = []
        /// Settled jobs still in memory, in the order of the writes that settled them.
        var settling: Deque<(generation: Int, id: String)> = []
        var nextSequence = 1
        /// Jobs whose rename is not final yet (queued or renaming): what `queue.capacity` bounds.
        var unfinishedRenames = 0
        /// Other replicas' unfinished renames, as last counted (SPEC §12: the capacity is global).
        var othersUnfinished = 0
        /// The last ``recentCapacity`` jobs that left memory, for notifications that arrive after
        /// their job finished (Cloudinary's usually do when confirmation is by probe): answering
        /// them needs no storage read.
        var recent: [String: RenameJob] = [:]
        var recentOrder: Deque<String> = []
    }

    /// How many jobs that left memory ``recentlySettled(_:)`` remembers (a fixed bound: ~2 KB each).
    static let recentCapacity = 2048

    private let state = Locked(State())
    /// Where every change is recorded and history is read from.
    public let storage: any JobStorage

    /// The storage as the coordinator of several replicas (SPEC §12), nil with single-process
    /// storage. Cast once here: a cast to a protocol existential looks its conformance up each time.
    public let replicas: (any ReplicaCoordinator)?

    public init(storage: any JobStorage = MemoryStorage()) {
        self.storage = storage
        replicas = storage as? any ReplicaCoordinator
    }

    // MARK: Idempotency

    /// Looks the key up in storage; if it names no job yet, holds it for this request unless
    /// another request holds it, and looks again. A key leaves ``State/accepting`` only once its
    /// job is durable (a request holds the key before it inserts the job), so a key found in
    /// storage and not held is durable, and the second look closes the race with a request that
    /// committed in between. Duplicates of a durable key never contend for the hold: each gets
    /// its replay.
    public func reserve(client: String, key: String, body: JSONValue) async throws(StorageError) -> Reservation {
        let slot = IdempotencyKey(client: client, key: key)
        if let existing = try await storage.idempotencyKey(client: client, key: key) {
            // Storage may show a key before its job is durable (memory storage records at once):
            // while its request still holds it, there is nothing to replay yet.
            if state.withLock({ $0.accepting.contains(slot) }) { return .inFlight }
            return try await replay(existing, body: body)
        }
        guard state.withLock({ $0.accepting.insert(slot).inserted }) else { return .inFlight }
        let existing: (jobID: String, body: JSONValue)?
        do {
            existing = try await storage.idempotencyKey(client: client, key: key)
        } catch {
            releaseReservation(client: client, key: key)
            throw error
        }
        guard let existing else { return .fresh }
        releaseReservation(client: client, key: key)
        return try await replay(existing, body: body)
    }

    private func replay(_ existing: (jobID: String, body: JSONValue), body: JSONValue) async throws(StorageError) -> Reservation {
        guard existing.body == body, let job = try await job(existing.jobID) else { return .mismatch }
        return .replay(job)
    }

    /// Gives up a ``Reservation/fresh`` key after the request was refused.
    public func releaseReservation(client: String, key: String) {
        _ = state.withLock { $0.accepting.remove(IdempotencyKey(client: client, key: key)) }
    }

    /// Lets an inserted job's key answer replays, once the job is durable (until then a request
    /// with the same key gets ``Reservation/inFlight``). If the job cannot be made durable,
    /// ``remove(_:)`` and ``releaseReservation(client:key:)`` free the key instead.
    public func commitIdempotencyKey(client: String, key: String) {
        releaseReservation(client: client, key: key)
    }

    // MARK: Jobs

    /// Stores a new job unless `capacity` unfinished renames already exist.
    ///
    /// - Returns: false when the queue is full (the reservation, if any, is released).
    public func insert(_ job: RenameJob, idempotencyKey: String?, body: JSONValue, capacity: Int) -> Bool {
        insert([job], idempotencyKey: idempotencyKey, body: body, capacity: capacity)
    }

    /// Stores new jobs together (a batch and its items, in list order), unless they do not all fit
    /// in `capacity`; the key names the first.
    ///
    /// - Returns: false when the queue is full (the reservation, if any, is released).
    public func insert(_ jobs: [RenameJob], idempotencyKey: String?, body: JSONValue, capacity: Int) -> Bool {
        guard let first = jobs.first else { return false }
        return state.withLock { state in
            guard state.unfinishedRenames + state.othersUnfinished + jobs.count <= capacity else {
                if let key = idempotencyKey { state.accepting.remove(IdempotencyKey(client: first.client, key: key)) }
                return false
            }
            for job in jobs {
                state.unfinishedRenames += 1
                let sequence = state.nextSequence
                state.nextSequence += 1
                state.add(job, sequence: sequence)
                storage.recordNew(job, sequence: sequence)
            }
            if let key = idempotencyKey {
                storage.recordIdempotencyKey(client: first.client, key: key, jobID: first.id, body: body)
            }
            return true
        }
    }

    /// The job if it is in the working set (no storage read): jobs being renamed or confirmed.
    public func workingJob(_ id: String) -> RenameJob? {
        state.withLock { $0.jobs[id]?.job }
    }

    /// The job, from memory or storage, if it exists and belongs to `client` (nil client: any owner).
    public func job(_ id: String, client: String? = nil) async throws(StorageError) -> RenameJob? {
        var found = workingJob(id)
        if found == nil { found = try await storage.job(id) }
        guard let job = found, client == nil || job.client == client else { return nil }
        return job
    }

    /// Applies `change` to a job of the working set atomically, records it, and returns the result.
    ///
    /// With `recording: false` the change stays in memory and is written with the job's next
    /// recorded change: only for a change the API does not show (`updated_at` stays) and that
    /// decides nothing after a restart (a crash before that write loses it).
    ///
    /// - Throws: What `change` threw (the job is left as it was), or
    ///   ``JobTransitionError/unknownJob(id:)``.
    @discardableResult
    public func transition(
        _ id: String,
        now: Date,
        recording: Bool = true,
        _ change: (inout RenameJob) throws(JobTransitionError) -> Void
    ) throws(JobTransitionError) -> RenameJob {
        try apply(id, orElse: nil, now: now, recording: recording, change)
    }

    /// Applies `change` to a settled job (callback delivery): the working set's copy if the job is
    /// still there, else `current`, the state the caller read. Callback delivery is the only writer
    /// of settled jobs, one attempt at a time, so what it read is what storage holds.
    @discardableResult
    public func transitionSettled(
        _ current: RenameJob,
        now: Date,
        _ change: (inout RenameJob) throws(JobTransitionError) -> Void
    ) throws(JobTransitionError) -> RenameJob {
        try apply(current.id, orElse: current, now: now, change)
    }

    /// The working set's job `id`, or `absent` brought back into memory until its write is
    /// readable from storage, changed and recorded.
    private func apply(
        _ id: String,
        orElse absent: RenameJob?,
        now: Date,
        recording: Bool = true,
        _ change: (inout RenameJob) throws(JobTransitionError) -> Void
    ) throws(JobTransitionError) -> RenameJob {
        try state.withLock { (state) throws(JobTransitionError) -> RenameJob in
            guard let slot = state.jobs[id] ?? absent.map({ Slot($0, sequence: 0) }) else { throw .unknownJob(id: id) }
            var job = slot.job
            try change(&job)
            if state.jobs[id] == nil { state.jobs[id] = slot }
            state.store(job, in: slot, now: now, storage: storage, recording: recording)
            return job
        }
    }

    /// A page of `client`'s jobs, newest first, optionally only those in `status`.
    ///
    /// - Parameters:
    ///   - after: The id of the last job of the previous page (its `next`): this page holds the jobs
    ///     accepted before it. The cursor is one of the client's own job ids, so it says nothing
    ///     about other clients' jobs.
    /// - Returns: nil when `after` is not a job of `client` (another client's, made up, or purged).
    public func list(
        client: String,
        kind: JobKind = .rename,
        status: JobStatus?,
        limit: Int,
        after: String?
    ) async throws(StorageError) -> JobPage? {
        // Everything recorded before the request is readable once sync returns (a failing journal
        // still lets reads through: they show the last committed state).
        try? await storage.sync()
        return try await storage.list(client: client, collection: kind.rawValue, status: status, limit: limit, after: after)
    }

    /// A final job whose callback is due at `due` (seconds since 1970) as memory holds it: the
    /// working copy, else the copy kept among recent jobs; nil when memory has neither or holds
    /// another state of the callback (an attempt ended or was rescheduled since).
    public func pendingCallback(_ id: String, due: Double) -> RenameJob? {
        state.withLock { state in
            guard let job = state.jobs[id]?.job ?? state.recent[id], job.callbackEvent?.nextAttemptAt?.timeIntervalSince1970 == due
            else { return nil }
            return job
        }
    }

    /// A job that left memory lately (see ``State/recent``), as it was when it left.
    public func recentlySettled(_ id: String) -> RenameJob? {
        state.withLock { $0.recent[id] }
    }

    /// Whether a job that left memory lately satisfies `matches` (a scan of at most
    /// ``recentCapacity`` jobs: for notifications without a `job` hint).
    public func recentlySettled(where matches: (RenameJob) -> Bool) -> Bool {
        state.withLock { $0.recent.values.contains(where: matches) }
    }

    /// Jobs of the working set for `cloud` that rename `from` to `to`, oldest first.
    public func jobs(cloud: String, from: String, to: String) -> [RenameJob] {
        state.withLock { state in
            (state.byRename[RenameKey(cloud: cloud, from: from, to: to)]?.elements ?? []).compactMap { state.jobs[$0]?.job }
        }
    }

    /// Forgets jobs whose acceptance could not be made durable.
    public func remove(_ ids: [String]) {
        guard !ids.isEmpty else { return }
        state.withLock { state in
            for id in ids {
                guard let slot = state.jobs[id] else { continue }
                if slot.job.status.isQueuedWork { state.unfinishedRenames -= 1 }
                state.drop(id)
            }
            storage.removeJobs(ids)
        }
    }

    /// Loads the working set at start-up, before anything else touches the store.
    public func restore(_ startup: StartupState) {
        state.withLock { state in
            for (job, sequence) in startup.unfinished {
                state.add(job, sequence: sequence)
                if job.status.isQueuedWork { state.unfinishedRenames += 1 }
            }
            state.nextSequence = max(state.nextSequence, startup.nextSequence)
        }
    }

    /// The working set, oldest first (recovery).
    public var workingJobs: [RenameJob] {
        state.withLock { state in
            state.jobs.values.sorted { $0.sequence < $1.sequence }.map(\.job)
        }
    }

    /// Drops settled jobs whose last write is readable from storage (also done on every change).
    public func evictSettled() {
        state.withLock { $0.evictSettled(committed: storage.committedGeneration) }
    }

    /// When the oldest job whose rename is not final yet was accepted (scanned: for metrics scrapes).
    public var oldestUnfinishedRenameCreatedAt: Date? {
        state.withLock { state in
            state.jobs.values.lazy.map(\.job).filter { $0.status.isQueuedWork }.map(\.createdAt).min()
        }
    }

    /// Notes how many renames are unfinished on every replica (counted in shared storage), so
    /// that `queue.capacity` bounds them all.
    public func noteUnfinishedEverywhere(_ total: Int) {
        state.withLock { $0.othersUnfinished = max(0, total - $0.unfinishedRenames) }
    }

    /// Jobs whose rename is not final yet.
    public var unfinishedRenameCount: Int { state.withLock { $0.unfinishedRenames } }

    /// Jobs held in memory (metrics, the memory benchmark).
    public var workingSetCount: Int { state.withLock { $0.jobs.count } }
}

extension JobStore.RenameKey {
    init(_ job: RenameJob) {
        self.init(cloud: job.cloud, from: job.fromPublicID, to: job.toPublicID)
    }
}

extension JobStore.State {
    /// Puts a job in the working set and indexes it by rename.
    mutating func add(_ job: RenameJob, sequence: Int) {
        jobs[job.id] = JobStore.Slot(job, sequence: sequence)
        byRename.append(job.id, at: JobStore.RenameKey(job))
    }

    mutating func remember(_ job: RenameJob) {
        if recent.updateValue(job, forKey: job.id) == nil { recentOrder.append(job.id) }
        while recentOrder.count > JobStore.recentCapacity, let oldest = recentOrder.popFirst() { recent[oldest] = nil }
    }

    mutating func drop(_ id: String) {
        guard let slot = jobs.removeValue(forKey: id) else { return }
        byRename.remove(id, at: JobStore.RenameKey(slot.job))
    }

    /// Stores `job` as the slot's new state and records it (unless `recording` is false and the
    /// job has a sequence); a job that settled is queued for eviction.
    mutating func store(_ job: RenameJob, in slot: JobStore.Slot, now: Date, storage: any JobStorage, recording: Bool = true) {
        var job = job
        let old = slot.job
        if job.status != old.status {
            let wasUnfinished = old.status.isQueuedWork
            let isUnfinished = job.status.isQueuedWork
            if wasUnfinished && !isUnfinished { unfinishedRenames -= 1 }
        }
        if job != old || slot.sequence == 0 {
            // An unrecorded change is one the API does not show: `updated_at` stays as stored.
            if recording { job.updatedAt = now }
            slot.job = job
            if recording || slot.sequence == 0 {
                let generation = storage.record(job, sequence: slot.sequence)
                if job.status.isFinal {
                    slot.settledGeneration = generation
                    settling.append((generation, job.id))
                }
            }
        }
        evictSettled(committed: storage.committedGeneration)
    }

    mutating func evictSettled(committed: Int) {
        while let (generation, id) = settling.first, generation <= committed {
            settling.removeFirst()
            if let slot = jobs[id], slot.settledGeneration == generation {
                drop(id)
                remember(slot.job)
            }
        }
    }
}
