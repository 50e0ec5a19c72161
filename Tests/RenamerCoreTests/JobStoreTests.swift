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
        guard case .replay(let replayed) = store.reserve(client: "a", key: "k", body: body) else {
            Issue.record("expected a replay")
            return
        }
        #expect(replayed.id == "rn_1")
        #expect(store.reserve(client: "a", key: "k", body: .object([:])) == .mismatch)
        store.releaseReservation(client: "b", key: "k")
        #expect(store.reserve(client: "b", key: "k", body: .null) == .fresh)
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

    @Test func listingIsNewestFirstWithCursorAndFilter() {
        let store = JobStore()
        for index in 1...5 { #expect(store.insert(job("rn_\(index)"), idempotencyKey: nil, body: .null, capacity: 10)) }
        #expect(store.insert(job("rn_other", client: "b"), idempotencyKey: nil, body: .null, capacity: 10))
        store.update("rn_2", now: Date()) { $0.status = .cancelled }
        let first = store.list(client: "a", status: nil, limit: 2, before: nil)
        #expect(first.jobs.map(\.id) == ["rn_5", "rn_4"])
        let second = store.list(client: "a", status: nil, limit: 2, before: first.next)
        #expect(second.jobs.map(\.id) == ["rn_3", "rn_2"])
        let third = store.list(client: "a", status: nil, limit: 2, before: second.next)
        #expect(third.jobs.map(\.id) == ["rn_1"])
        #expect(third.next == nil)
        #expect(store.list(client: "a", status: .cancelled, limit: 10, before: nil).jobs.map(\.id) == ["rn_2"])
        #expect(store.list(client: "a", status: .queued, limit: 4, before: nil).next == nil)
        #expect(store.job("rn_other", client: "a") == nil)
    }
}
