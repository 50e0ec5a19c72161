import Foundation

/// Storage that several replicas share (SPEC §12, PostgreSQL): each replica holds a lease, owns
/// the jobs it accepted or took over, and may change only those while its lease lasts. The single
/// process storages (SQLite, memory) do not conform; the lifecycle asks for it with `as?`.
///
/// What runs where:
/// - A job is owned by the replica that accepted it, for its whole life (rename, confirmation,
///   callback). Every write of a job is fenced: refused unless the writer owns the job and its
///   lease has not passed.
/// - A replica whose lease passed loses its jobs to the first live replica that sweeps
///   (``takeOver()``); that replica resumes them as a restart would, so a rename whose outcome
///   became unknown is reconciled before anything is retried.
/// - Cloudinary calls are claimed (``claimCall(_:limit:)``) so that per-asset order and the
///   per-cloud concurrency limit hold across replicas.
/// - Notifications and cancels that arrive at another replica are forwarded to the owner
///   (``forward(_:)``, ``takeRequests()``).
public protocol ReplicaCoordinator: Sendable {
    /// Whether this replica may act on its jobs now: its lease is held with a third of it to spare.
    var holdsLease: Bool { get }
    /// Whether the database answered the last time it was asked (`/readyz`).
    var isReachable: Bool { get }
    /// Whether job `id`'s acceptance was dropped because its `Idempotency-Key` was committed by
    /// another replica first (asked after ``JobStorage/sync()``).
    func acceptanceLost(_ id: String) -> Bool
    /// Records a verified notification's (timestamp, signature) pair for every replica; false when
    /// some replica recorded it already (a duplicate).
    func claimNotification(key: String, expiresAt: Date) async throws(StorageError) -> Bool
    /// Asks to make `job`'s Cloudinary calls now: granted only while this replica owns the job and
    /// holds its lease, no earlier job on the same public IDs is unfinished on any replica, and
    /// fewer than `limit` calls to its cloud are in flight on all replicas. A granted job keeps
    /// its public IDs until its rename phase ends.
    func claimCall(_ job: RenameJob, limit: Int) async -> CallClaim
    /// The job's call ended: its slot of the cloud's limit is free again.
    func releaseCall(_ id: String)
    /// Takes over the jobs of replicas whose lease passed: those that need running again (not
    /// final, or final without their callback event), oldest first, and how many callbacks
    /// waiting in their outbox are now this replica's.
    func takeOver() async throws(StorageError) -> TakenOver
    /// Requests for this replica's jobs that arrived at other replicas, oldest first; each is
    /// handed out once.
    func takeRequests() async throws(StorageError) -> [ReplicaRequest]
    /// Leaves a request for the replica that owns the job.
    func forward(_ request: ReplicaRequest) async throws(StorageError)
    /// Jobs whose rename is not final yet, on every replica (`queue.capacity` is global), and
    /// how many replicas hold a live lease.
    func census() async throws(StorageError) -> (unfinishedRenames: Int, replicas: Int)
}

/// What ``ReplicaCoordinator/takeOver()`` moved to this replica.
public struct TakenOver: Sendable {
    public var unfinished: [(job: RenameJob, sequence: Int)]
    public var callbacks: Int

    public init(unfinished: [(job: RenameJob, sequence: Int)] = [], callbacks: Int = 0) {
        self.unfinished = unfinished
        self.callbacks = callbacks
    }
}

/// What ``ReplicaCoordinator/claimCall(_:limit:)`` answered.
public enum CallClaim: Sendable, Equatable {
    case granted
    /// Not this job now: an earlier job holds one of its public IDs. Ask again shortly.
    case wait(String)
    /// No job of this cloud now: the cloud is at its limit on all replicas, the lease is too
    /// close to passing, or the database did not answer. Start none of its jobs for a moment.
    case cloudBusy(String)
    /// The job is no longer this replica's (another replica took it over).
    case lost

    /// The `result` label of `renamer_call_claims_total`.
    public var label: String {
        switch self {
        case .granted: "granted"
        case .wait: "wait"
        case .cloudBusy: "cloud_busy"
        case .lost: "lost"
        }
    }
}

/// A request made at one replica for a job another replica owns.
public struct ReplicaRequest: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// A verified `rename` notification arrived for the job.
        case notification
        /// `DELETE /v1/renames/{id}` by the job's client.
        case cancel
    }

    public var jobID: String
    public var kind: Kind
    public var at: Date

    public init(jobID: String, kind: Kind, at: Date) {
        self.jobID = jobID
        self.kind = kind
        self.at = at
    }
}
