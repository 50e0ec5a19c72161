import Foundation

/// Where the job store makes its changes durable (SPEC §1, §8): the seam between the in-memory
/// store and the SQLite journal.
///
/// The store calls the `record…` methods under its own lock, in the order changes happen, so they
/// must only queue the write and return. ``sync()`` waits until everything recorded so far is
/// durable; the daemon calls it before answering `202` and before each Cloudinary call.
public protocol JobJournal: Sendable {
    func record(_ job: RenameJob, sequence: Int)
    func recordIdempotencyKey(client: String, key: String, jobID: String, body: JSONValue)
    func recordNotification(key: String, expiresAt: Date)
    func removeJobs(_ ids: [String])
    /// Returns once every write recorded before the call is durable; throws if it cannot be made so.
    func sync() async throws
}

/// `storage.path: ":memory:"`: nothing is written; ``sync()`` returns at once.
public struct NoJournal: JobJournal {
    public init() {}
    public func record(_ job: RenameJob, sequence: Int) {}
    public func recordIdempotencyKey(client: String, key: String, jobID: String, body: JSONValue) {}
    public func recordNotification(key: String, expiresAt: Date) {}
    public func removeJobs(_ ids: [String]) {}
    public func sync() async throws {}
}

/// What a journal held at start-up.
public struct JournalSnapshot: Sendable {
    public var jobs: [(job: RenameJob, sequence: Int)]
    public var idempotencyKeys: [(client: String, key: String, jobID: String, body: JSONValue)]
    public var notifications: [(key: String, expiresAt: Date)]

    public init(
        jobs: [(job: RenameJob, sequence: Int)] = [],
        idempotencyKeys: [(client: String, key: String, jobID: String, body: JSONValue)] = [],
        notifications: [(key: String, expiresAt: Date)] = []
    ) {
        self.jobs = jobs
        self.idempotencyKeys = idempotencyKeys
        self.notifications = notifications
    }
}
