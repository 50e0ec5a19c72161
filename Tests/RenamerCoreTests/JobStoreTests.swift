import Foundation
import Testing

@testable import RenamerCore

@Suite("Job store")
struct JobStoreTests {
    func job(_ id: String, client: String = "a") -> RenameJob {
        RenameJob.fixture(id: id, client: client, from: "x", to: "y")
    }

    @Test func idempotencyKeysAreScopedPerClient() {
        let store = JobStore()
        let body = JSONValue.object(["from_public_id": .string("x")])
        #expect(store.reserve(client: "a", key: "k", body: body) == .fresh)
        #expect(store.reserve(client: "a", key: "k", body: body) == .inFlight)
        #expect(store.reserve(client: "b", key: "k", body: body) == .fresh)
        #expect(store.insert(job("rn_1"), idempotencyKey: "k", body: body, capacity: 10))
        // Inserted is not durable: no replay before the commit (SPEC §10).
        #expect(store.reserve(client: "a", key: "k", body: body) == .inFlight)
        store.commitIdempotencyKey(client: "a", key: "k", jobID: "rn_1")
        guard case .replay(let replayed) = store.reserve(client: "a", key: "k", body: body) else {
            Issue.record("expected a replay")
            return
        }
        #expect(replayed.id == "rn_1")
        #expect(store.reserve(client: "a", key: "k", body: .object([:])) == .mismatch)
        store.releaseReservation(client: "b", key: "k")
        #expect(store.reserve(client: "b", key: "k", body: .null) == .fresh)
    }

    /// A job whose acceptance could not be made durable is removed, and its key is free again.
    @Test func aKeyWhoseJobWasNeverDurableIsFreed() {
        let store = JobStore()
        #expect(store.reserve(client: "a", key: "k", body: .null) == .fresh)
        #expect(store.insert(job("rn_1"), idempotencyKey: "k", body: .null, capacity: 10))
        store.remove(["rn_1"])
        store.commitIdempotencyKey(client: "a", key: "k", jobID: "rn_1")
        #expect(store.reserve(client: "a", key: "k", body: .null) == .fresh)
    }

    @Test func capacityCountsUnfinishedRenamesOnly() {
        let store = JobStore()
        #expect(store.insert(job("rn_1"), idempotencyKey: nil, body: .null, capacity: 2))
        #expect(store.insert(job("rn_2"), idempotencyKey: nil, body: .null, capacity: 2))
        #expect(!store.insert(job("rn_3"), idempotencyKey: nil, body: .null, capacity: 2))
        store.update("rn_1", now: Date()) { $0.status = .cancelled }
        #expect(store.unfinishedRenameCount == 1)
        #expect(store.insert(job("rn_3"), idempotencyKey: nil, body: .null, capacity: 2))
    }

    @Test func illegalTransitionsAreDiscarded() {
        let store = JobStore()
        #expect(store.insert(job("rn_1"), idempotencyKey: nil, body: .null, capacity: 2))
        store.update("rn_1", now: Date()) { $0.status = .cancelled }
        let after = store.update("rn_1", now: Date()) { $0.status = .renaming }
        #expect(after?.status == .cancelled)
    }

    @Test func listingIsNewestFirstWithCursorAndFilter() throws {
        let store = JobStore()
        for index in 1...5 { #expect(store.insert(job("rn_\(index)"), idempotencyKey: nil, body: .null, capacity: 10)) }
        #expect(store.insert(job("rn_other", client: "b"), idempotencyKey: nil, body: .null, capacity: 10))
        store.update("rn_2", now: Date()) { $0.status = .cancelled }
        let first = try #require(store.list(client: "a", status: nil, limit: 2, after: nil))
        #expect(first.jobs.map(\.id) == ["rn_5", "rn_4"])
        #expect(first.next == "rn_4")
        let second = try #require(store.list(client: "a", status: nil, limit: 2, after: first.next))
        #expect(second.jobs.map(\.id) == ["rn_3", "rn_2"])
        let third = try #require(store.list(client: "a", status: nil, limit: 2, after: second.next))
        #expect(third.jobs.map(\.id) == ["rn_1"])
        #expect(third.next == nil)
        #expect(store.list(client: "a", status: .cancelled, limit: 10, after: nil)?.jobs.map(\.id) == ["rn_2"])
        #expect(store.list(client: "a", status: .queued, limit: 4, after: nil)?.next == nil)
        // A cursor is one of the client's own jobs: another client's, or an unknown id, is refused.
        #expect(store.list(client: "a", status: nil, limit: 2, after: "rn_other") == nil)
        #expect(store.list(client: "b", status: nil, limit: 2, after: "rn_4") == nil)
        #expect(store.list(client: "a", status: nil, limit: 2, after: "rn_nope") == nil)
        #expect(store.job("rn_other", client: "a") == nil)
    }
}
