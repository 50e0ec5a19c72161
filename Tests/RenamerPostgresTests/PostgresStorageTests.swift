import Foundation
import Logging
import PostgresNIO
import RenamerConfig
import RenamerCore
import RenamerTestSupport
import Synchronization
import Testing

@testable import RenamerPostgres

/// The promises of SPEC §12 that rest on the database, against a real PostgreSQL (a throwaway
/// cluster this test process starts): fenced writes, takeover, one job per key, a shared replay
/// window, and call claims that keep per-asset order and the per-cloud limit across replicas.
@Suite("PostgreSQL storage")
struct PostgresStorageTests {
    /// A replica's storage on `url`. A long lease (renewed every 20 s) keeps renewals out of the
    /// tests' way: a lease passes only when a test makes it pass.
    static func replica(_ url: String, leaseSeconds: Double = 60) async throws -> PostgresStorage {
        let storage = PostgresStorage(
            url: try #require(PostgresURL(url)),
            poolSize: 4,
            leaseSeconds: leaseSeconds,
            replica: "test-\(UUID().uuidString.prefix(8))",
            logger: Logger(label: "postgres-test"),
            onLeaseLost: {}
        )
        _ = try await storage.startupState(now: Date())
        return storage
    }

    static func job(_ id: String, from: String? = nil, to: String? = nil, status: JobStatus = .queued) -> RenameJob {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        return RenameJob(
            id: id,
            client: "catalog",
            status: status,
            cloud: "main",
            fromPublicID: from ?? "products/\(id)",
            toPublicID: to ?? "products/\(id)-new",
            resourceType: .image,
            type: .upload,
            toType: nil,
            overwrite: false,
            invalidate: false,
            clientReference: nil,
            attempts: 0,
            createdAt: now,
            updatedAt: now,
            completedAt: nil,
            result: nil,
            invalidation: .init(status: .notRequested, method: nil, confirmedAt: nil),
            error: nil,
            callback: .init(url: nil, status: .none, attempts: 0, lastStatus: nil)
        )
    }

    /// Makes `storage`'s lease pass now, as if its replica had stopped renewing it.
    static func expireLease(of storage: PostgresStorage) async throws {
        try await storage.client.query(
            "UPDATE renamer_leases SET expires_at = now() - interval '1 second' WHERE token = \(storage.lease)"
        )
    }

    @Test func aReplicaWhoseLeasePassedCanChangeNothing() async throws {
        let url = try await PostgresCluster.freshDatabase()
        let stale = try await Self.replica(url)
        var job = Self.job("rn_fenced")
        stale.record(job, sequence: 1)
        try await stale.sync()

        try await Self.expireLease(of: stale)
        job.status = .renaming
        stale.record(job, sequence: 1)
        await #expect(throws: (any Error).self, "a write after the lease passed is refused") { try await stale.sync() }

        // Another replica takes the job over at its start and resumes it from what was committed.
        let owner = try await Self.replica(url)
        #expect(try await owner.job("rn_fenced")?.status == .queued)
        #expect(await stale.claimCall(job, limit: 8) == .lost)
        job.attempts = 1
        owner.record(job, sequence: 1)
        try await owner.sync()

        // The stale replica still cannot write (the job is the new owner's now), nor delete it.
        var late = job
        late.status = .failed
        stale.record(late, sequence: 1)
        await #expect(throws: (any Error).self) { try await stale.sync() }
        let stored = try #require(try await owner.job("rn_fenced"))
        #expect(stored.status == .renaming && stored.attempts == 1)
        try await stale.close()
        try await owner.close()
    }

    @Test func anIdempotencyKeyNamesOneJobAcrossReplicas() async throws {
        let url = try await PostgresCluster.freshDatabase()
        let first = try await Self.replica(url)
        let second = try await Self.replica(url)
        let body = JSONValue.object(["from_public_id": .string("a")])
        for (storage, id) in [(first, "rn_one"), (second, "rn_two")] {
            storage.record(Self.job(id), sequence: 1)
            storage.recordIdempotencyKey(client: "catalog", key: "k-1", jobID: id, body: body)
        }
        async let a: Void = first.sync()
        async let b: Void = second.sync()
        _ = try await (a, b)
        let lost = [first.acceptanceLost("rn_one"), second.acceptanceLost("rn_two")]
        #expect(lost.filter { $0 }.count == 1, "exactly one of the two acceptances is dropped: \(lost)")
        let winner = lost[0] ? "rn_two" : "rn_one"
        let loser = lost[0] ? "rn_one" : "rn_two"
        for storage in [first, second] {
            #expect(try await storage.idempotencyKey(client: "catalog", key: "k-1")?.jobID == winner)
            #expect(try await storage.job(loser) == nil)
        }
        try await first.close()
        try await second.close()
    }

    @Test func aNotificationPairIsADuplicateOnEveryReplica() async throws {
        let url = try await PostgresCluster.freshDatabase()
        let first = try await Self.replica(url)
        let second = try await Self.replica(url)
        let later = Date().addingTimeInterval(3600)
        #expect(try await first.claimNotification(key: "1700000000:abc", expiresAt: later))
        #expect(try await second.claimNotification(key: "1700000000:abc", expiresAt: later) == false)
        #expect(try await first.claimNotification(key: "1700000000:abc", expiresAt: later) == false)
        // An entry whose window passed counts no more.
        #expect(try await first.claimNotification(key: "1700000001:def", expiresAt: Date().addingTimeInterval(-1)))
        #expect(try await second.claimNotification(key: "1700000001:def", expiresAt: later))
        try await first.close()
        try await second.close()
    }

    @Test func callClaimsKeepAssetOrderAndTheCloudLimitAcrossReplicas() async throws {
        let url = try await PostgresCluster.freshDatabase()
        let first = try await Self.replica(url)
        let second = try await Self.replica(url)
        // Same public ID: the earlier job (first replica) goes first, the later one waits for it.
        var earlier = Self.job("rn_earlier", from: "shared/a", to: "shared/b")
        first.record(earlier, sequence: 1)
        try await first.sync()
        let later = Self.job("rn_later", from: "shared/b", to: "shared/c")
        second.record(later, sequence: 1)
        try await second.sync()
        guard case .wait = await second.claimCall(later, limit: 8) else {
            Issue.record("a later job on the same public ID was granted while the earlier one waits")
            return
        }
        #expect(await first.claimCall(earlier, limit: 8) == .granted)
        earlier.status = .renaming
        first.record(earlier, sequence: 1)
        try await first.sync()
        guard case .wait = await second.claimCall(later, limit: 8) else {
            Issue.record("granted while the earlier job renames")
            return
        }
        earlier.status = .failed
        first.record(earlier, sequence: 1)
        try await first.sync()
        #expect(await second.claimCall(later, limit: 8) == .granted)

        // Limit 1 per cloud: while one call is in flight on one replica, the other waits.
        let one = Self.job("rn_limit1")
        let two = Self.job("rn_limit2")
        first.record(one, sequence: 2)
        second.record(two, sequence: 2)
        try await first.sync()
        try await second.sync()
        second.releaseCall(later.id)
        try await second.sync()
        #expect(await first.claimCall(one, limit: 1) == .granted)
        guard case .cloudBusy = await second.claimCall(two, limit: 1) else {
            Issue.record("a second call was granted over the cloud's limit of 1")
            return
        }
        first.releaseCall(one.id)
        try await first.sync()
        #expect(await second.claimCall(two, limit: 1) == .granted)
        try await first.close()
        try await second.close()
    }

    /// Lists per collection, items per parent, item counts, and items purged with their parent
    /// (SPEC §11), the same contract as memory and SQLite storage.
    @Test func foldersAndBatchesKeepTheStorageContract() async throws {
        let url = try await PostgresCluster.freshDatabase()
        let storage = try await Self.replica(url)
        let problems = try await StorageContract.check(storage)
        #expect(problems.isEmpty, "\(problems)")
        try await storage.close()
    }

    @Test func replicasStartingTogetherMigrateOnce() async throws {
        let url = try await PostgresCluster.freshDatabase()
        let leases = try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    let storage = try await Self.replica(url)
                    let lease = storage.lease
                    try await storage.close()
                    return lease
                }
            }
            return try await group.reduce(into: Set<Int64>()) { $0.insert($1) }
        }
        #expect(leases.count == 3 && !leases.contains(0))
    }

    /// No copy held in memory: every due job is read from its row.
    static let noneHeld: KnownJobs = { _, _ in nil }

    @Test func takeoverResumesUnfinishedJobsAndMovesTheOutbox() async throws {
        let url = try await PostgresCluster.freshDatabase()
        let dead = try await Self.replica(url)
        let queued = Self.job("rn_queued")
        var renaming = Self.job("rn_renaming")
        renaming.status = .renaming
        renaming.attempts = 1
        var calling = Self.job("rn_callback", status: .failed)
        calling.callback = .init(url: "https://caller.example/hooks", status: .pending, attempts: 0, lastStatus: nil)
        calling.callbackEvent = .init(id: "evt_1", body: Array("{}".utf8), nextAttemptAt: Date(timeIntervalSince1970: 1_800_000_000))
        for (index, job) in [queued, renaming, calling].enumerated() { dead.record(job, sequence: index + 1) }
        try await dead.sync()

        // A running replica's sweep (the heir's start-up sweep comes first, so it starts empty).
        let heir = try await Self.replica(url)
        try await Self.expireLease(of: dead)
        let taken = try await heir.takeOver()
        #expect(taken.unfinished.map(\.job.id) == ["rn_queued", "rn_renaming"], "unfinished jobs, oldest first")
        #expect(taken.callbacks == 1)
        let due = try await heir.dueCallbacks(
            now: Date(timeIntervalSince1970: 1_900_000_000),
            perOrigin: 10,
            maxOrigins: 10,
            skipping: [],
            known: Self.noneHeld
        )
        #expect(due.flatMap(\.jobs).map(\.id) == ["rn_callback"])
        let skipped = try await heir.dueCallbacks(
            now: Date(timeIntervalSince1970: 1_900_000_000),
            perOrigin: 10,
            maxOrigins: 10,
            skipping: ["rn_callback"],
            known: Self.noneHeld
        )
        #expect(skipped.map(\.count) == [1] && skipped.flatMap(\.jobs).isEmpty, "counted, not read")
        // A copy the caller holds is taken when its callback is due at the row's time, else the row.
        let held = {
            var job = calling
            job.clientReference = "from memory"
            return job
        }()
        for (offset, fromMemory) in [(0.0, true), (1.0, false)] {
            let read = try await heir.dueCallbacks(now: Date(timeIntervalSince1970: 1_900_000_000), perOrigin: 10, maxOrigins: 10, skipping: []) {
                $0 == "rn_callback" && $1 == 1_800_000_000 + offset ? held : nil
            }
            #expect(read.flatMap(\.jobs).map { $0.clientReference == "from memory" } == [fromMemory])
        }
        #expect(
            try await dead.dueCallbacks(
                now: Date(timeIntervalSince1970: 1_900_000_000),
                perOrigin: 10,
                maxOrigins: 10,
                skipping: [],
                known: Self.noneHeld
            ).isEmpty
        )
        try await heir.close()
    }
}
