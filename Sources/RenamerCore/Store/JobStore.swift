import Foundation
import Synchronization

/// Every job the daemon knows, with per-client indexes and idempotency keys, behind one lock.
///
/// Reads and writes are short critical sections, safe from any thread including event loops.
public final class JobStore: Sendable {
    /// What `reserve` found for an `Idempotency-Key`.
    public enum Reservation: Sendable, Equatable {
        /// The key is new and now held for this request; call ``insert`` (then, once the job is
        /// durable, ``commitIdempotencyKey(client:key:jobID:)``) or ``releaseReservation``.
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

    enum IdempotencyEntry {
        case accepting(JSONValue)
        case job(id: String, body: JSONValue)
    }

    /// What a `rename` notification names: cloud, source and target.
    struct RenameKey: Hashable {
        var cloud: String
        var from: String
        var to: String
    }

    /// A stored job and its acceptance order. A reference, so the index holds 8 bytes per job and
    /// growing it under the lock moves pointers, not ~400-byte jobs.
    final class Slot {
        var job: RenameJob
        let sequence: Int

        init(_ job: RenameJob, sequence: Int) {
            self.job = job
            self.sequence = sequence
        }
    }

    struct State {
        var jobs: [String: Slot] = [:]
        /// Nearly always one job per rename.
        var byRename: [RenameKey: CompactList<String>] = [:]
        /// Per client: (sequence, id), ascending.
        var byClient: [String: [(sequence: Int, id: String)]] = [:]
        var idempotency: [IdempotencyKey: IdempotencyEntry] = [:]
        var keyOf: [String: IdempotencyKey] = [:]
        var nextSequence = 1
        /// Jobs whose rename is not final yet (queued or renaming): what `queue.capacity` bounds.
        var unfinishedRenames = 0
    }

    private let state = Mutex(State())
    /// Where every change is made durable.
    public let journal: any JobJournal

    public init(journal: any JobJournal = NoJournal()) {
        self.journal = journal
    }

    // MARK: Idempotency

    public func reserve(client: String, key: String, body: JSONValue) -> Reservation {
        state.withLock { state in
            let slot = IdempotencyKey(client: client, key: key)
            switch state.idempotency[slot] {
            case nil:
                state.idempotency[slot] = .accepting(body)
                return .fresh
            case .accepting:
                return .inFlight
            case .job(let id, let stored):
                guard stored == body, let slot = state.jobs[id] else { return .mismatch }
                return .replay(slot.job)
            }
        }
    }

    /// Gives up a ``Reservation/fresh`` key after the request was refused.
    public func releaseReservation(client: String, key: String) {
        state.withLock { state in
            let slot = IdempotencyKey(client: client, key: key)
            if case .accepting = state.idempotency[slot] { state.idempotency[slot] = nil }
        }
    }

    // MARK: Jobs

    /// Stores a new job unless `capacity` unfinished renames already exist.
    ///
    /// - Returns: false when the queue is full (the reservation, if any, is released).
    public func insert(_ job: RenameJob, idempotencyKey: String?, body: JSONValue, capacity: Int) -> Bool {
        state.withLock { state in
            guard state.unfinishedRenames < capacity else {
                if let key = idempotencyKey { state.idempotency[IdempotencyKey(client: job.client, key: key)] = nil }
                return false
            }
            state.unfinishedRenames += 1
            let sequence = state.nextSequence
            state.nextSequence += 1
            state.add(job, sequence: sequence)
            journal.record(job, sequence: sequence)
            if let key = idempotencyKey {
                // The key stays "being accepted" until the job is durable: see commitIdempotencyKey.
                let slot = IdempotencyKey(client: job.client, key: key)
                state.keyOf[job.id] = slot
                journal.recordIdempotencyKey(client: job.client, key: key, jobID: job.id, body: body)
            }
            return true
        }
    }

    /// Makes an inserted job's key answer replays, once the job is durable. Until then a request
    /// with the same key gets ``Reservation/inFlight``; if the job cannot be made durable,
    /// ``remove(_:)`` frees the key instead.
    public func commitIdempotencyKey(client: String, key: String, jobID: String) {
        state.withLock { state in
            let slot = IdempotencyKey(client: client, key: key)
            guard case .accepting(let body) = state.idempotency[slot], state.keyOf[jobID] == slot else { return }
            state.idempotency[slot] = .job(id: jobID, body: body)
        }
    }

    /// The job, if it exists and belongs to `client` (nil client: any owner).
    public func job(_ id: String, client: String? = nil) -> RenameJob? {
        state.withLock { state in
            guard let job = state.jobs[id]?.job, client == nil || job.client == client else { return nil }
            return job
        }
    }

    /// Applies `change` to the job atomically and returns the result.
    ///
    /// A status change must be legal (``JobStatus/canMove(to:)``); an illegal one is discarded and the
    /// stored job returned unchanged, so racing writers (cancel vs. dispatch) cannot both win.
    @discardableResult
    public func update(_ id: String, now: Date, _ change: (inout RenameJob) -> Void) -> RenameJob? {
        state.withLock { state in
            guard let slot = state.jobs[id] else { return nil }
            let old = slot.job
            var job = old
            change(&job)
            if job.status != old.status {
                guard old.status.canMove(to: job.status) else { return old }
                let wasUnfinished = old.status == .queued || old.status == .renaming
                let isUnfinished = job.status == .queued || job.status == .renaming
                if wasUnfinished && !isUnfinished { state.unfinishedRenames -= 1 }
                if job.status.isFinal && job.completedAt == nil { job.completedAt = now }
            }
            if job != old {
                job.updatedAt = now
                slot.job = job
                journal.record(job, sequence: slot.sequence)
            }
            return job
        }
    }

    /// A page of `client`'s jobs, newest first, optionally only those in `status`.
    ///
    /// - Parameters:
    ///   - after: The id of the last job of the previous page (its `next`): this page holds the jobs
    ///     accepted before it. The cursor is one of the client's own job ids, so it says nothing
    ///     about other clients' jobs.
    /// - Returns: The jobs and the id that continues after them when more match; nil when `after`
    ///   is not a job of `client` (another client's, made up, or purged since).
    public func list(client: String, status: JobStatus?, limit: Int, after: String?) -> (jobs: [RenameJob], next: String?)? {
        state.withLock { state in
            let entries = state.byClient[client] ?? []
            // First index with sequence >= the cursor's: everything left of it is older.
            var end = entries.count
            if let after {
                guard let cursor = state.jobs[after], cursor.job.client == client else { return nil }
                var low = 0
                var high = entries.count
                while low < high {
                    let mid = (low + high) / 2
                    if entries[mid].sequence < cursor.sequence { low = mid + 1 } else { high = mid }
                }
                end = low
            }
            var page: [RenameJob] = []
            var index = end - 1
            while index >= 0 && page.count < limit {
                if let job = state.jobs[entries[index].id]?.job, status == nil || job.status == status {
                    page.append(job)
                }
                index -= 1
            }
            // Another page exists if an older matching job remains.
            var next: String?
            if page.count == limit, let last = page.last {
                var probe = index
                while probe >= 0 {
                    if let job = state.jobs[entries[probe].id]?.job, status == nil || job.status == status {
                        next = last.id
                        break
                    }
                    probe -= 1
                }
            }
            return (page, next)
        }
    }

    /// Jobs of `cloud` that rename `from` to `to`, oldest first.
    public func jobs(cloud: String, from: String, to: String) -> [RenameJob] {
        state.withLock { state in
            (state.byRename[RenameKey(cloud: cloud, from: from, to: to)]?.elements ?? []).compactMap { state.jobs[$0]?.job }
        }
    }

    /// Forgets jobs (purge after retention, or a job whose acceptance could not be made durable),
    /// with their indexes and idempotency keys.
    public func remove(_ ids: [String]) {
        guard !ids.isEmpty else { return }
        state.withLock { state in
            // Per client, one pass over its list for the whole batch: removing entries one by one
            // made a purge of many jobs quadratic, with the store locked throughout.
            var removedSequences: [String: Set<Int>] = [:]
            for id in ids {
                guard let slot = state.jobs.removeValue(forKey: id) else { continue }
                let job = slot.job
                if job.status == .queued || job.status == .renaming { state.unfinishedRenames -= 1 }
                removedSequences[job.client, default: []].insert(slot.sequence)
                let renameKey = RenameKey(job)
                state.byRename.remove(id, at: renameKey)
                if let slot = state.keyOf.removeValue(forKey: id) { state.idempotency[slot] = nil }
            }
            for (client, sequences) in removedSequences {
                state.byClient[client]?.removeAll { sequences.contains($0.sequence) }
                if state.byClient[client]?.isEmpty == true { state.byClient[client] = nil }
            }
            journal.removeJobs(ids)
        }
    }

    /// Final jobs that finished before `date`, for purging.
    public func finishedJobs(before date: Date) -> [String] {
        state.withLock { state in
            state.jobs.values.lazy.map(\.job).filter { job in
                guard job.status.isFinal, let completed = job.completedAt, completed < date else { return false }
                // Keep a job while its callback is still being delivered.
                return job.callbackEvent?.nextAttemptAt == nil
            }.map(\.id)
        }
    }

    /// Loads a journal's contents at start-up, before anything else touches the store.
    public func restore(_ snapshot: JournalSnapshot) {
        state.withLock { state in
            for (job, sequence) in snapshot.jobs.sorted(by: { $0.sequence < $1.sequence }) {
                state.add(job, sequence: sequence)
                if job.status == .queued || job.status == .renaming { state.unfinishedRenames += 1 }
                state.nextSequence = max(state.nextSequence, sequence + 1)
            }
            for entry in snapshot.idempotencyKeys where state.jobs[entry.jobID] != nil {
                let slot = IdempotencyKey(client: entry.client, key: entry.key)
                state.idempotency[slot] = .job(id: entry.jobID, body: entry.body)
                state.keyOf[entry.jobID] = slot
            }
        }
    }

    /// Every job, oldest first (recovery).
    public var allJobs: [RenameJob] {
        state.withLock { state in
            state.jobs.values.sorted { $0.sequence < $1.sequence }.map(\.job)
        }
    }

    /// When the oldest job whose rename is not final yet was accepted (scanned: for metrics scrapes).
    public var oldestUnfinishedRenameCreatedAt: Date? {
        state.withLock { state in
            state.jobs.values.lazy.map(\.job).filter { $0.status == .queued || $0.status == .renaming }.map(\.createdAt).min()
        }
    }

    /// Jobs whose rename is not final yet.
    public var unfinishedRenameCount: Int { state.withLock { $0.unfinishedRenames } }
}

extension JobStore.RenameKey {
    init(_ job: RenameJob) {
        self.init(cloud: job.cloud, from: job.fromPublicID, to: job.toPublicID)
    }
}

extension JobStore.State {
    /// Stores a job and indexes it by client and by rename.
    mutating func add(_ job: RenameJob, sequence: Int) {
        jobs[job.id] = JobStore.Slot(job, sequence: sequence)
        byClient[job.client, default: []].append((sequence, job.id))
        byRename.append(job.id, at: JobStore.RenameKey(job))
    }
}
