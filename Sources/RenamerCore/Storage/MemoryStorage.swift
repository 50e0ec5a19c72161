import Foundation

/// `storage.path: ":memory:"`: storage in this process's memory, for tests and the demo. Nothing is
/// durable, so history grows memory here (until `retention_days` purges it); writes apply at once,
/// ``sync()`` returns at once.
public final class MemoryStorage: JobStorage {
    struct Key: Hashable {
        var client: String
        var key: String
    }

    /// A reference, so indexes hold 8 bytes per job.
    final class Slot {
        var job: RenameJob
        let sequence: Int

        init(_ job: RenameJob, sequence: Int) {
            self.job = job
            self.sequence = sequence
        }
    }

    struct State {
        var jobs = ShardedDictionary<String, Slot>()
        /// Per client: (sequence, id), ascending.
        var byClient: [String: [(sequence: Int, id: String)]] = [:]
        /// Per folder rename or batch: its items' ids, in acceptance order.
        var byParent: [String: [String]] = [:]
        var keys: [Key: (jobID: String, body: JSONValue)] = [:]
        var keyOf: [String: Key] = [:]
        /// Per origin: job id → when its callback is due.
        var outbox: [String: [String: Date]] = [:]
        var notifications: [String: Date] = [:]
        var generation = 0
    }

    private let state = Locked(State())

    public init() {}

    // MARK: Writes

    public func record(_ job: RenameJob, sequence: Int) -> Int {
        state.withLock { state in
            if let slot = state.jobs[job.id] {
                if let old = slot.job.pendingCallbackOrigin {
                    state.outbox[old]?[job.id] = nil
                    if state.outbox[old]?.isEmpty == true { state.outbox[old] = nil }
                }
                slot.job = job
            } else {
                state.jobs[job.id] = Slot(job, sequence: sequence)
                state.byClient[job.client, default: []].append((sequence, job.id))
                if let parent = job.parent { state.byParent[parent, default: []].append(job.id) }
            }
            if let origin = job.pendingCallbackOrigin, let due = job.callbackEvent?.nextAttemptAt {
                state.outbox[origin, default: [:]][job.id] = due
            }
            state.generation += 1
            return state.generation
        }
    }

    public func recordIdempotencyKey(client: String, key: String, jobID: String, body: JSONValue) {
        state.withLock { state in
            let slot = Key(client: client, key: key)
            state.keys[slot] = (jobID, body)
            state.keyOf[jobID] = slot
        }
    }

    public func recordNotification(key: String, expiresAt: Date) {
        state.withLock { $0.notifications[key] = expiresAt }
    }

    public func removeJobs(_ ids: [String]) {
        state.withLock { $0.remove(ids) }
    }

    public var committedGeneration: Int { state.withLock { $0.generation } }

    public func sync() async throws {}

    public func whenDurable(_ done: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        done(.success(()))
    }

    // MARK: Reads

    public func job(_ id: String) async throws(StorageError) -> RenameJob? {
        state.withLock { $0.jobs[id]?.job }
    }

    public func idempotencyKey(client: String, key: String) async throws(StorageError) -> (jobID: String, body: JSONValue)? {
        state.withLock { $0.keys[Key(client: client, key: key)] }
    }

    public func list(client: String, collection: String, status: JobStatus?, limit: Int, after: String?) async throws(StorageError) -> JobPage? {
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
            var next: String?
            while index >= 0 {
                if let job = state.jobs[entries[index].id]?.job, status == nil || job.status == status, job.collection == collection {
                    // One match past a full page: another page exists.
                    if page.count == limit {
                        next = page.last?.id
                        break
                    }
                    page.append(job)
                }
                index -= 1
            }
            return JobPage(jobs: page, next: next)
        }
    }

    /// Its jobs are in memory already: `known` is not needed.
    public func dueCallbacks(
        now: Date,
        perOrigin: Int,
        maxOrigins: Int,
        skipping: Set<String>,
        known: @escaping KnownJobs
    ) async throws(StorageError) -> [DueCallbacks] {
        state.withLock { state in
            state.outbox.keys.sorted().prefix(maxOrigins).compactMap { origin in
                let due = state.outbox[origin, default: [:]].filter { $0.value <= now }.sorted { ($0.value, $0.key) < ($1.value, $1.key) }
                    .prefix(perOrigin)
                let jobs = due.filter { !skipping.contains($0.key) }.compactMap { state.jobs[$0.key]?.job }
                return due.isEmpty ? nil : DueCallbacks(origin: origin, jobs: jobs, count: due.count)
            }
        }
    }

    public func nextCallbackDue(after now: Date) async throws(StorageError) -> Date? {
        state.withLock { state in state.outbox.values.lazy.flatMap(\.values).filter { $0 > now }.min() }
    }

    public func callbackBacklog(now: Date) async throws(StorageError) -> (due: Int, waiting: Int) {
        state.withLock { state in
            let times = state.outbox.values.lazy.flatMap(\.values)
            let due = times.filter { $0 <= now }.count
            return (due, times.count - due)
        }
    }

    // MARK: Start-up and housekeeping

    public func startupState(now: Date) async throws(StorageError) -> StartupState {
        state.withLock { state in
            let unfinished = state.jobs.values.filter { !$0.job.status.isFinal || (!$0.job.isSettled && $0.job.callbackEvent == nil) }
                .sorted { $0.sequence < $1.sequence }.map { ($0.job, $0.sequence) }
            return StartupState(
                unfinished: unfinished,
                nextSequence: (state.jobs.values.map(\.sequence).max() ?? 0) + 1,
                notifications: state.notifications.filter { $0.value > now }.map { ($0.key, $0.value) },
                totalJobs: state.jobs.count
            )
        }
    }

    public func items(parent: String, limit: Int, after: String?) async throws(StorageError) -> JobPage? {
        state.withLock { state in
            let ids = state.byParent[parent] ?? []
            var start = 0
            if let after {
                guard let index = ids.firstIndex(of: after) else { return nil }
                start = index + 1
            }
            let page = ids[start...].prefix(limit + 1).compactMap { state.jobs[$0]?.job }
            let jobs = Array(page.prefix(limit))
            return JobPage(jobs: jobs, next: page.count > limit ? jobs.last?.id : nil)
        }
    }

    public func itemCounts(parent: String) async throws(StorageError) -> [JobStatus: Int] {
        state.withLock { state in
            var counts: [JobStatus: Int] = [:]
            for id in state.byParent[parent] ?? [] {
                if let job = state.jobs[id]?.job { counts[job.status, default: 0] += 1 }
            }
            return counts
        }
    }

    public func purge(finishedBefore cutoff: Date, now: Date) async throws(StorageError) -> Int {
        state.withLock { state in
            var expired = state.jobs.values.filter { slot in
                slot.job.parent == nil && slot.job.isSettled && (slot.job.completedAt ?? slot.job.updatedAt) < cutoff
            }.map(\.job.id)
            for id in expired where JobKind(id: id).hasItems {
                expired += state.byParent.removeValue(forKey: id) ?? []
            }
            state.remove(expired)
            state.notifications = state.notifications.filter { $0.value > now }
            return expired.count
        }
    }

    public func close() async throws {}
}

extension MemoryStorage.State {
    /// Removes jobs with their indexes, keys and pending callbacks; one pass per client's list.
    mutating func remove(_ ids: [String]) {
        var removedSequences: [String: Set<Int>] = [:]
        for id in ids {
            guard let slot = jobs.removeValue(forKey: id) else { continue }
            removedSequences[slot.job.client, default: []].insert(slot.sequence)
            if let origin = slot.job.pendingCallbackOrigin {
                outbox[origin]?[id] = nil
                if outbox[origin]?.isEmpty == true { outbox[origin] = nil }
            }
            if let key = keyOf.removeValue(forKey: id) { keys[key] = nil }
        }
        for (client, sequences) in removedSequences {
            byClient[client]?.removeAll { sequences.contains($0.sequence) }
            if byClient[client]?.isEmpty == true { byClient[client] = nil }
        }
    }
}
