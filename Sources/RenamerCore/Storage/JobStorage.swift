import Foundation

/// Where jobs live (SPEC §1, §8): every accepted job and every change to it (one the API does not
/// show and that decides nothing, a probed job's notification time, rides with the next:
/// ``JobStore/transition(_:now:recording:_:)``), idempotency keys, notification replay entries and
/// the callback outbox. The daemon's memory holds only the working set (``JobStore``); history,
/// keys and callbacks waiting for their retry time are read from here when needed.
///
/// Two backends: ``MemoryStorage`` (`storage.path: ":memory:"`, nothing durable) and the SQLite
/// journal. PostgreSQL (SPEC §12) fits the same seam: its writes carry the replica's lease token
/// and are refused once the lease passed (see README "Architecture").
///
/// Writes are recorded in change order under the job store's lock, so they only queue the write and
/// return its generation; ``sync()`` waits until everything recorded so far is durable and readable.
/// Reads see every write up to ``committedGeneration``.
public protocol JobStorage: Sendable {
    // MARK: Writes (called under the job store's lock: queue and return)

    /// Records the job's current state; returns the write's generation.
    @discardableResult
    func record(_ job: RenameJob, sequence: Int) -> Int
    /// Records a new job's first state (``record(_:sequence:)`` for a job storage has never seen:
    /// the SQLite journal then knows which rows exist and updates the others in place).
    @discardableResult
    func recordNew(_ job: RenameJob, sequence: Int) -> Int
    func recordIdempotencyKey(client: String, key: String, jobID: String, body: JSONValue)
    func recordNotification(key: String, expiresAt: Date)
    /// Forgets jobs whose acceptance could not be made durable.
    func removeJobs(_ ids: [String])
    /// Every write with a generation up to this one is durable and readable.
    var committedGeneration: Int { get }
    /// Returns once every write recorded before the call is durable; throws if it cannot be made so.
    func sync() async throws
    /// ``sync()`` for a caller that is not a task (a channel handler): `done` is called once every
    /// write recorded before the call is durable, on whatever thread made it so.
    func whenDurable(_ done: @escaping @Sendable (Result<Void, any Error>) -> Void)

    // MARK: Reads

    /// The job with `id`, any owner.
    func job(_ id: String) async throws(StorageError) -> RenameJob?
    /// The job an `Idempotency-Key` of `client` names, and the body it was accepted with.
    func idempotencyKey(client: String, key: String) async throws(StorageError) -> (jobID: String, body: JSONValue)?
    /// A page of `client`'s jobs in `collection` (``RenameJob/collection``), newest first; nil when
    /// `after` is not one of the client's jobs.
    func list(client: String, collection: String, status: JobStatus?, limit: Int, after: String?) async throws(StorageError) -> JobPage?
    /// A page of the items of the folder rename or batch `parent`, in acceptance order (a batch's
    /// list order), after the item `after`; nil when `after` is not one of its items.
    func items(parent: String, limit: Int, after: String?) async throws(StorageError) -> JobPage?
    /// How many items of `parent` are in each status (a folder rename or batch resumed after a
    /// restart counts its items again).
    func itemCounts(parent: String) async throws(StorageError) -> [JobStatus: Int]
    /// Callbacks due at `now` that wait for delivery: per origin (up to `maxOrigins` of them) the
    /// `perOrigin` earliest, earliest first; the jobs in `skipping` (loaded already) count but are
    /// not read, and a job `known` returns is taken as it is instead of decoded.
    func dueCallbacks(
        now: Date,
        perOrigin: Int,
        maxOrigins: Int,
        skipping: Set<String>,
        known: @escaping KnownJobs
    ) async throws(StorageError) -> [DueCallbacks]
    /// When the earliest callback due after `now` is due.
    func nextCallbackDue(after now: Date) async throws(StorageError) -> Date?
    /// Pending callbacks: due at `now`, and waiting for a later retry time (metrics).
    func callbackBacklog(now: Date) async throws(StorageError) -> (due: Int, waiting: Int)

    // MARK: Start-up and housekeeping

    /// What a restart resumes: every job whose rename is not final, in acceptance order, the next
    /// sequence number, and the notification entries that have not expired.
    func startupState(now: Date) async throws(StorageError) -> StartupState
    /// Deletes jobs that finished (callback delivery over) before `cutoff`, with their keys and
    /// items (an item goes with its folder rename or batch, never before it), and
    /// notification entries that expired before `now`. Returns how many jobs went.
    func purge(finishedBefore cutoff: Date, now: Date) async throws(StorageError) -> Int
    /// Waits for every recorded write and releases the storage.
    func close() async throws
}

/// A page of a client's jobs and the id that continues after it.
public struct JobPage: Sendable {
    public var jobs: [RenameJob]
    public var next: String?

    public init(jobs: [RenameJob], next: String?) {
        self.jobs = jobs
        self.next = next
    }
}

/// What storage hands the daemon at start-up.
public struct StartupState: Sendable {
    /// Jobs whose rename is not final yet, with their acceptance order, oldest first.
    public var unfinished: [(job: RenameJob, sequence: Int)]
    public var nextSequence: Int
    public var notifications: [(key: String, expiresAt: Date)]
    /// Jobs in storage, all states (for the recovery log line).
    public var totalJobs: Int

    public init(
        unfinished: [(job: RenameJob, sequence: Int)] = [],
        nextSequence: Int = 1,
        notifications: [(key: String, expiresAt: Date)] = [],
        totalJobs: Int = 0
    ) {
        self.unfinished = unfinished
        self.nextSequence = nextSequence
        self.notifications = notifications
        self.totalJobs = totalJobs
    }
}

/// Storage cannot be opened, read or written.
public struct StorageError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// The caller's copy of a job with a pending callback, by id and by the callback's due time in
/// seconds since 1970 (the row's `callback_due_at`), or nil: ``JobStorage/dueCallbacks(now:perOrigin:maxOrigins:skipping:known:)``
/// then decodes the stored job.
public typealias KnownJobs = @Sendable (_ id: String, _ due: Double) -> RenameJob?

extension JobStorage {
    /// A page of `client`'s renames (items of folder renames and batches excluded).
    public func list(client: String, status: JobStatus?, limit: Int, after: String?) async throws(StorageError) -> JobPage? {
        try await list(client: client, collection: JobKind.rename.rawValue, status: status, limit: limit, after: after)
    }
}

extension RenameJob {
    /// Which list the job appears in: its kind (`rename`, `asset_update`, …), or `item` for the
    /// renames of a folder rename or batch, which are listed through their parent only.
    public var collection: String { parent == nil ? kind.rawValue : "item" }

    /// The origin the job's pending callback goes to, when an attempt is pending (the outbox key).
    public var pendingCallbackOrigin: String? {
        guard callbackEvent?.nextAttemptAt != nil, let url = callback.url else { return nil }
        return CallbackOrigin.key(url) ?? url
    }

    /// Whether nothing more will happen to the job: final, and no callback to make or retry.
    public var isSettled: Bool {
        status.isFinal && callbackEvent?.nextAttemptAt == nil && !(callback.status == .pending && callbackEvent == nil)
    }
}

extension JobStorage {
    @discardableResult
    public func recordNew(_ job: RenameJob, sequence: Int) -> Int {
        record(job, sequence: sequence)
    }

    public func whenDurable(_ done: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        Task {
            do {
                try await sync()
                done(.success(()))
            } catch {
                done(.failure(error))
            }
        }
    }
}

/// One origin's callbacks due, earliest first (``JobStorage/dueCallbacks(now:perOrigin:maxOrigins:skipping:)``).
public struct DueCallbacks: Sendable {
    public var origin: String
    /// The jobs read: the due ones not skipped.
    public var jobs: [RenameJob]
    /// How many were due, up to the limit, the skipped ones included.
    public var count: Int

    public init(origin: String, jobs: [RenameJob], count: Int) {
        self.origin = origin
        self.jobs = jobs
        self.count = count
    }
}
