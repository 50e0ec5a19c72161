import Foundation
import RenamerCore
import Synchronization

/// Memory storage whose `sync()` waits while the test holds it, and fails when the test says so.
public final class GatedJournal: JobStorage {
    public init() {}

    private struct State {
        var held = false
        var failing = false
        var waiting: [CheckedContinuation<Void, any Error>] = []
    }

    private let state = Mutex(State())
    private let inner = MemoryStorage()

    public func record(_ job: RenameJob, sequence: Int) -> Int { inner.record(job, sequence: sequence) }
    public func recordIdempotencyKey(client: String, key: String, jobID: String, body: JSONValue) {
        inner.recordIdempotencyKey(client: client, key: key, jobID: jobID, body: body)
    }
    public func recordNotification(key: String, expiresAt: Date) { inner.recordNotification(key: key, expiresAt: expiresAt) }
    public func removeJobs(_ ids: [String]) { inner.removeJobs(ids) }
    public var committedGeneration: Int { inner.committedGeneration }
    public func job(_ id: String) async throws(StorageError) -> RenameJob? { try await inner.job(id) }
    public func idempotencyKey(client: String, key: String) async throws(StorageError) -> (jobID: String, body: JSONValue)? {
        try await inner.idempotencyKey(client: client, key: key)
    }
    public func list(client: String, collection: String, status: JobStatus?, limit: Int, after: String?) async throws(StorageError) -> JobPage? {
        try await inner.list(client: client, collection: collection, status: status, limit: limit, after: after)
    }
    public func items(parent: String, limit: Int, after: String?) async throws(StorageError) -> JobPage? {
        try await inner.items(parent: parent, limit: limit, after: after)
    }
    public func itemCounts(parent: String) async throws(StorageError) -> [JobStatus: Int] { try await inner.itemCounts(parent: parent) }
    public func dueCallbacks(
        now: Date,
        perOrigin: Int,
        maxOrigins: Int,
        skipping: Set<String>,
        known: @escaping KnownJobs
    ) async throws(StorageError) -> [DueCallbacks] {
        try await inner.dueCallbacks(now: now, perOrigin: perOrigin, maxOrigins: maxOrigins, skipping: skipping, known: known)
    }
    public func nextCallbackDue(after now: Date) async throws(StorageError) -> Date? { try await inner.nextCallbackDue(after: now) }
    public func callbackBacklog(now: Date) async throws(StorageError) -> (due: Int, waiting: Int) { try await inner.callbackBacklog(now: now) }
    public func startupState(now: Date) async throws(StorageError) -> StartupState { try await inner.startupState(now: now) }
    public func purge(finishedBefore cutoff: Date, now: Date) async throws(StorageError) -> Int {
        try await inner.purge(finishedBefore: cutoff, now: now)
    }
    public func close() async throws {}

    public func sync() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let result = state.withLock { state -> Result<Void, any Error>? in
                if state.held {
                    state.waiting.append(continuation)
                    return nil
                }
                return state.failing ? .failure(CocoaError(.fileWriteOutOfSpace)) : .success(())
            }
            if let result { continuation.resume(with: result) }
        }
    }

    public func hold() { state.withLock { $0.held = true } }

    public var waiting: Int { state.withLock { $0.waiting.count } }

    /// Lets every waiting (and later) sync finish, failing them if `failing`.
    public func release(failing: Bool) {
        let waiting = state.withLock { state in
            state.held = false
            state.failing = failing
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting {
            if failing { continuation.resume(throwing: CocoaError(.fileWriteOutOfSpace)) } else { continuation.resume() }
        }
    }
}
