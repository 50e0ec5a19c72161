import Foundation
import RenamerTestSupport
import Testing

@testable import RenamerCore

@Suite("Job store")
struct JobStoreTests {
    func job(_ id: String, client: String = "a") -> RenameJob {
        RenameJob.fixture(id: id, client: client, from: "x", to: "y")
    }

    @Test func idempotencyKeysAreScopedPerClient() async throws {
        let store = JobStore()
        let body = JSONValue.object(["from_public_id": .string("x")])
        #expect(try await store.reserve(client: "a", key: "k", body: body) == .fresh)
        #expect(try await store.reserve(client: "a", key: "k", body: body) == .inFlight)
        #expect(try await store.reserve(client: "b", key: "k", body: body) == .fresh)
        #expect(store.insert(job("rn_1"), idempotencyKey: "k", body: body, capacity: 10))
        // Inserted is not durable: no replay before the commit (SPEC §10).
        #expect(try await store.reserve(client: "a", key: "k", body: body) == .inFlight)
        store.commitIdempotencyKey(client: "a", key: "k")
        guard case .replay(let replayed) = try await store.reserve(client: "a", key: "k", body: body) else {
            Issue.record("expected a replay")
            return
        }
        #expect(replayed.id == "rn_1")
        #expect(try await store.reserve(client: "a", key: "k", body: .object([:])) == .mismatch)
        store.releaseReservation(client: "b", key: "k")
        #expect(try await store.reserve(client: "b", key: "k", body: .null) == .fresh)
    }

    /// A job whose acceptance could not be made durable is removed, and its key is free again.
    @Test func aKeyWhoseJobWasNeverDurableIsFreed() async throws {
        let store = JobStore()
        #expect(try await store.reserve(client: "a", key: "k", body: .null) == .fresh)
        #expect(store.insert(job("rn_1"), idempotencyKey: "k", body: .null, capacity: 10))
        store.remove(["rn_1"])
        store.releaseReservation(client: "a", key: "k")
        #expect(try await store.reserve(client: "a", key: "k", body: .null) == .fresh)
    }

    @Test func capacityCountsUnfinishedRenamesOnly() throws {
        let store = JobStore()
        #expect(store.insert(job("rn_1"), idempotencyKey: nil, body: .null, capacity: 2))
        #expect(store.insert(job("rn_2"), idempotencyKey: nil, body: .null, capacity: 2))
        #expect(!store.insert(job("rn_3"), idempotencyKey: nil, body: .null, capacity: 2))
        try store.transition("rn_1", now: Date()) { job throws(JobTransitionError) in try job.cancel(at: Date()) }
        #expect(store.unfinishedRenameCount == 1)
        #expect(store.insert(job("rn_3"), idempotencyKey: nil, body: .null, capacity: 2))
    }

    /// An illegal move comes back as a typed error and changes nothing; a settled job has left the
    /// working set once storage holds it.
    @Test func illegalTransitionsAreRefused() async throws {
        let store = JobStore()
        #expect(store.insert(job("rn_1"), idempotencyKey: nil, body: .null, capacity: 2))
        #expect(store.insert(job("rn_2"), idempotencyKey: nil, body: .null, capacity: 2))
        try store.transition("rn_2", now: Date()) { job throws(JobTransitionError) in try job.startRenaming() }
        #expect(throws: JobTransitionError.illegal(id: "rn_2", from: .renaming, move: "cancel")) {
            try store.transition("rn_2", now: Date()) { job throws(JobTransitionError) in try job.cancel(at: Date()) }
        }
        #expect(store.workingJob("rn_2")?.status == .renaming)
        try store.transition("rn_1", now: Date()) { job throws(JobTransitionError) in try job.cancel(at: Date()) }
        #expect(throws: JobTransitionError.unknownJob(id: "rn_1")) {
            try store.transition("rn_1", now: Date()) { job throws(JobTransitionError) in try job.startRenaming() }
        }
        #expect(try await store.job("rn_1")?.status == .cancelled)
    }

    /// Every status change is a method on the job; each refuses a move the table does not allow.
    @Test func transitionsFollowTheStatusTable() throws {
        let now = Date()
        // A rename's statuses; `updating` and `listing` belong to other kinds (JobModelTests).
        let statuses = JobStatus.allCases.filter { $0 != .updating && $0 != .listing }
        for from in statuses {
            for to in statuses where to != .queued {
                var job = RenameJob.fixture(invalidate: to == .confirmingInvalidation)
                job.status = from
                do {
                    try job.move(to: to, now: now)
                    #expect(from.canMove(to: to) || (from == .confirmingInvalidation && to == .completed), "\(from) → \(to)")
                    #expect(job.status == to)
                    #expect(job.status.isFinal == (job.completedAt != nil))
                } catch {
                    #expect(!from.canMove(to: to), "\(from) → \(to) refused: \(error)")
                    #expect(job.status == from)
                }
            }
        }
    }

    /// Lists per collection, items per parent, item counts, and items purged with their parent
    /// (SPEC §11), the same contract as SQLite and PostgreSQL storage.
    @Test func memoryStorageKeepsTheFoldersAndBatchesContract() async throws {
        let problems = try await StorageContract.check(MemoryStorage())
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test func listingIsNewestFirstWithCursorAndFilter() async throws {
        let store = JobStore()
        for index in 1...5 { #expect(store.insert(job("rn_\(index)"), idempotencyKey: nil, body: .null, capacity: 10)) }
        #expect(store.insert(job("rn_other", client: "b"), idempotencyKey: nil, body: .null, capacity: 10))
        try store.transition("rn_2", now: Date()) { job throws(JobTransitionError) in try job.cancel(at: Date()) }
        let first = try #require(try await store.list(client: "a", status: nil, limit: 2, after: nil))
        #expect(first.jobs.map(\.id) == ["rn_5", "rn_4"])
        #expect(first.next == "rn_4")
        let second = try #require(try await store.list(client: "a", status: nil, limit: 2, after: first.next))
        #expect(second.jobs.map(\.id) == ["rn_3", "rn_2"])
        let third = try #require(try await store.list(client: "a", status: nil, limit: 2, after: second.next))
        #expect(third.jobs.map(\.id) == ["rn_1"])
        #expect(third.next == nil)
        #expect(try await store.list(client: "a", status: .cancelled, limit: 10, after: nil)?.jobs.map(\.id) == ["rn_2"])
        #expect(try await store.list(client: "a", status: .queued, limit: 4, after: nil)?.next == nil)
        // A cursor is one of the client's own jobs: another client's, or an unknown id, is refused.
        #expect(try await store.list(client: "a", status: nil, limit: 2, after: "rn_other") == nil)
        #expect(try await store.list(client: "b", status: nil, limit: 2, after: "rn_4") == nil)
        #expect(try await store.list(client: "a", status: nil, limit: 2, after: "rn_nope") == nil)
        #expect(try await store.job("rn_other", client: "a") == nil)
    }
}
