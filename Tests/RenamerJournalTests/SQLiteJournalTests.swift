import Foundation
import GRDB
import Logging
import RenamerTestSupport
import Synchronization
import Testing

@testable import RenamerCore
@testable import RenamerJournal

@Suite("SQLite journal")
struct SQLiteJournalTests {
    final class Directory: Sendable {
        let url = FileManager.default.temporaryDirectory.appending(path: "journal-\(UUID().uuidString)")
        init() throws { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(at: url) }
        var journalPath: String { url.appending(path: "renamer.sqlite").path }
    }

    /// Opens a journal this process has just closed. A process that another test spawns at that
    /// moment holds a copy of every descriptor between its fork and its exec, the lock's included, so
    /// the lock can outlive `close()` by that long: wait for it, bounded.
    static func reopen(_ path: String) async throws -> SQLiteJournal {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let opened = Result { () throws(JournalError) in try SQLiteJournal(path: path, logger: Logger(label: "t")) }
            if case .failure(let error) = opened, error.description.contains("locked by another process"), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
                continue
            }
            return try opened.get()
        }
    }

    static func job(_ id: String, status: JobStatus = .queued, client: String = "catalog") -> RenameJob {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        return RenameJob(
            id: id,
            client: client,
            status: status,
            cloud: "main",
            fromPublicID: "products/\(id)",
            toPublicID: "products/\(id)-new",
            resourceType: .video,
            type: .private,
            toType: .upload,
            overwrite: true,
            invalidate: true,
            clientReference: "ré f",
            attempts: 2,
            createdAt: now,
            updatedAt: now,
            completedAt: nil,
            result: .init(publicID: "x", version: 3, secureURL: "https://x"),
            invalidation: .init(status: .pending, method: .delay, confirmedAt: nil),
            error: .init(code: "c", message: "m", cloudinaryStatus: 500),
            callback: .init(url: "https://caller/hooks", status: .pending, attempts: 1, lastStatus: 503)
        )
    }

    static let body = JSONValue.object(["a": .array([.number(1), .bool(true), .null])])

    /// Lists per collection, items per parent, item counts, and items purged with their parent
    /// (SPEC §11), the same contract as memory and PostgreSQL storage.
    @Test func foldersAndBatchesKeepTheStorageContract() async throws {
        let directory = try Directory()
        let journal = try SQLiteJournal(path: directory.journalPath, logger: Logger(label: "t"))
        let problems = try await StorageContract.check(journal)
        #expect(problems.isEmpty, "\(problems)")
        try await journal.close()
    }

    /// `asset-renamer backup`: a copy taken while the journal is open and being written holds every
    /// committed job, and a journal restored from it opens and resumes them.
    @Test func aBackupOfALiveJournalRestores() async throws {
        let directory = try Directory()
        let journal = try SQLiteJournal(path: directory.journalPath, logger: Logger(label: "t"))
        for index in 1...50 { journal.record(Self.job("rn_\(index)", status: index % 2 == 0 ? .completed : .queued), sequence: index) }
        try await journal.sync()
        let before = try await journal.startupState(now: Date())
        let copy = directory.url.appending(path: "backup.sqlite").path
        try SQLiteJournal.backup(journalAt: directory.journalPath, to: copy)
        // Writes after the copy are not in it.
        journal.record(Self.job("rn_51"), sequence: 51)
        try await journal.sync()
        #expect(throws: JournalError.self) { try SQLiteJournal.backup(journalAt: directory.journalPath, to: copy) }
        try await journal.close()

        let restored = try SQLiteJournal(path: copy, logger: Logger(label: "t"))
        let state = try await restored.startupState(now: Date())
        #expect(state.totalJobs == 50)
        #expect(state.unfinished.map(\.job.id) == before.unfinished.map(\.job.id))
        #expect(state.unfinished.count >= 25)
        #expect(try await restored.job("rn_2")?.status == .completed)
        #expect(try await restored.job("rn_51") == nil)
        try await restored.close()
    }

    @Test func everythingRecordedSurvivesReopening() async throws {
        let directory = try Directory()
        do {
            let journal = try SQLiteJournal(path: directory.journalPath, logger: Logger(label: "t"))
            let store = JobStore(storage: journal)
            var job = Self.job("rn_1")
            job.notifiedAt = Date(timeIntervalSince1970: 1_800_000_100)
            #expect(store.insert(job, idempotencyKey: "key-1", body: Self.body, capacity: 10))
            #expect(store.insert(Self.job("rn_2"), idempotencyKey: nil, body: .null, capacity: 10))
            try store.transition("rn_2", now: Date()) { job throws(JobTransitionError) in try job.startRenaming() }
            journal.recordNotification(key: "1:abc", expiresAt: Date().addingTimeInterval(60))
            journal.recordNotification(key: "2:old", expiresAt: Date().addingTimeInterval(-60))
            try await journal.close()
        }
        let reopened = try await Self.reopen(directory.journalPath)
        let startup = try await reopened.startupState(now: Date())
        let jobs = Dictionary(uniqueKeysWithValues: startup.unfinished.map { ($0.job.id, $0) })
        var expected = Self.job("rn_1")
        expected.notifiedAt = Date(timeIntervalSince1970: 1_800_000_100)
        #expect(jobs["rn_1"]?.job == expected)
        #expect(jobs["rn_1"]?.sequence == 1)
        #expect(jobs["rn_2"]?.job.status == .renaming)
        #expect(jobs["rn_2"]?.sequence == 2)
        #expect(startup.nextSequence == 3)
        #expect(startup.notifications.map(\.key) == ["1:abc"])
        #expect(try await reopened.idempotencyKey(client: "catalog", key: "key-1")?.body == Self.body)

        // A restored store answers replays and continues the sequence.
        let store = JobStore(storage: reopened)
        store.restore(startup)
        guard case .replay(let replayed) = try await store.reserve(client: "catalog", key: "key-1", body: Self.body) else {
            Issue.record("expected a replay after restore")
            return
        }
        #expect(replayed.id == "rn_1")
        #expect(store.unfinishedRenameCount == 2)
        #expect(store.insert(Self.job("rn_3"), idempotencyKey: nil, body: .null, capacity: 10))
        try await reopened.sync()
        #expect(try await reopened.list(client: "catalog", status: nil, limit: 1, after: nil)?.jobs.map(\.id) == ["rn_3"])
    }

    /// History is read from the journal: a settled job leaves memory once its write is committed,
    /// and reads, lists, pages and status filters come from storage.
    @Test func settledJobsAreReadFromStorage() async throws {
        let directory = try Directory()
        let journal = try SQLiteJournal(path: directory.journalPath, logger: Logger(label: "t"))
        let store = JobStore(storage: journal)
        let now = Date()
        for index in 1...5 {
            var job = Self.job("rn_\(index)")
            job.callback = .init(url: nil, status: .none, attempts: 0, lastStatus: nil)
            job.invalidate = false
            #expect(store.insert(job, idempotencyKey: nil, body: .null, capacity: 10))
        }
        #expect(store.insert(Self.job("rn_x", client: "other"), idempotencyKey: nil, body: .null, capacity: 10))
        for index in [1, 2, 4] {
            try store.transition("rn_\(index)", now: now) { job throws(JobTransitionError) in try job.startRenaming() }
            try store.transition("rn_\(index)", now: now) { job throws(JobTransitionError) in
                try job.renamed(.init(publicID: "p", version: 1, secureURL: nil), at: now)
            }
        }
        try await journal.sync()
        store.evictSettled()
        #expect(store.workingJob("rn_1") == nil)
        #expect(store.workingSetCount == 3)
        #expect(try await store.job("rn_1", client: "catalog")?.status == .completed)
        #expect(try await store.job("rn_1", client: "other") == nil)
        let first = try #require(try await store.list(client: "catalog", status: nil, limit: 2, after: nil))
        #expect(first.jobs.map(\.id) == ["rn_5", "rn_4"])
        let second = try #require(try await store.list(client: "catalog", status: nil, limit: 2, after: first.next))
        #expect(second.jobs.map(\.id) == ["rn_3", "rn_2"])
        #expect(try await store.list(client: "catalog", status: .completed, limit: 10, after: nil)?.jobs.map(\.id) == ["rn_4", "rn_2", "rn_1"])
        #expect(try await store.list(client: "catalog", status: .completed, limit: 2, after: nil)?.next == "rn_2")
        // Unfinished statuses are listed through the index of unfinished rows.
        #expect(try await store.list(client: "catalog", status: .queued, limit: 10, after: nil)?.jobs.map(\.id) == ["rn_5", "rn_3"])
        #expect(try await store.list(client: "catalog", status: .queued, limit: 1, after: "rn_5")?.jobs.map(\.id) == ["rn_3"])
        #expect(try await store.list(client: "catalog", status: .renaming, limit: 10, after: nil)?.jobs.isEmpty == true)
        // Another client's job is not a cursor of this client's list.
        #expect(try await store.list(client: "catalog", status: nil, limit: 2, after: "rn_x") == nil)
        // A restart loads only the unfinished jobs.
        #expect(try await journal.startupState(now: now).unfinished.map(\.job.id) == ["rn_3", "rn_5", "rn_x"])
        // Purged after retention: with their keys.
        #expect(try await journal.purge(finishedBefore: now.addingTimeInterval(1), now: now) == 3)
        #expect(try await store.job("rn_1") == nil)
        #expect(try await journal.startupState(now: now).totalJobs == 3)
    }

    /// The callback outbox: due callbacks per origin, earliest first, so one origin's backlog never
    /// hides another's; the next due time; the backlog counts.
    @Test func dueCallbacksComePerOrigin() async throws {
        let directory = try Directory()
        let journal = try SQLiteJournal(path: directory.journalPath, logger: Logger(label: "t"))
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        func pending(_ id: String, _ url: String, due: Double) -> RenameJob {
            var job = Self.job(id)
            job.status = .completed
            job.callback = .init(url: url, status: .pending, attempts: 0, lastStatus: nil)
            job.callbackEvent = .init(id: "evt_\(id)", body: [1], nextAttemptAt: now.addingTimeInterval(due))
            return job
        }
        for index in 0..<20 { journal.record(pending("rn_a\(index)", "https://a.example/h", due: Double(index) - 30), sequence: index + 1) }
        journal.record(pending("rn_b", "https://b.example:8443/h", due: -1), sequence: 100)
        journal.record(pending("rn_c", "https://c.example/h", due: 60), sequence: 101)
        try await journal.sync()
        let due = try await journal.dueCallbacks(now: now, perOrigin: 3, maxOrigins: 10, skipping: [], known: { _, _ in nil })
        #expect(due.map(\.origin) == ["https://a.example:443", "https://b.example:8443"])
        #expect(due.first?.jobs.map(\.id) == ["rn_a0", "rn_a1", "rn_a2"])
        #expect(due.last?.jobs.map(\.id) == ["rn_b"])
        // Callbacks loaded already count toward an origin's limit, but are not read again.
        let skipped = try await journal.dueCallbacks(now: now, perOrigin: 3, maxOrigins: 10, skipping: ["rn_a0", "rn_a2", "rn_b"]) { _, _ in nil }
        #expect(skipped.map(\.origin) == ["https://a.example:443", "https://b.example:8443"])
        #expect(skipped.map(\.count) == [3, 1])
        #expect(skipped.first?.jobs.map(\.id) == ["rn_a1"])
        #expect(skipped.last?.jobs.isEmpty == true)
        // A job the caller holds is taken as it is when its callback is due at the row's time; at
        // another time (another state of the callback) the row is decoded.
        let marked = {
            var job = pending("rn_a1", "https://a.example/h", due: -29)
            job.clientReference = "from memory"
            return job
        }()
        for (offset, expected) in [(0.0, [false, true, false]), (1.0, [false, false, false])] {
            let heldDue = now.addingTimeInterval(-29).timeIntervalSince1970 + offset
            let read = try await journal.dueCallbacks(now: now, perOrigin: 3, maxOrigins: 10, skipping: []) { id, due in
                id == "rn_a1" && due == heldDue ? marked : nil
            }
            #expect(read.first?.jobs.map { $0 == marked } == expected)
            #expect(read.first?.jobs.map(\.id) == ["rn_a0", "rn_a1", "rn_a2"])
        }
        // Read back as recorded, event included (a job with every field: Self.job).
        #expect(try await journal.job("rn_b") == pending("rn_b", "https://b.example:8443/h", due: -1))
        #expect(try await journal.nextCallbackDue(after: now) == now.addingTimeInterval(60))
        let backlog = try await journal.callbackBacklog(now: now)
        #expect(backlog.due == 21 && backlog.waiting == 1)
        // Pending callbacks are not unfinished work: a restart leaves them in the outbox.
        #expect(try await journal.startupState(now: now).unfinished.isEmpty)
    }

    @Test func removedJobsAreDeletedWithTheirKeys() async throws {
        let directory = try Directory()
        let journal = try SQLiteJournal(path: directory.journalPath, logger: Logger(label: "t"))
        let store = JobStore(storage: journal)
        #expect(store.insert(Self.job("rn_1"), idempotencyKey: "k", body: .null, capacity: 10))
        #expect(store.insert(Self.job("rn_2"), idempotencyKey: nil, body: .null, capacity: 10))
        try await journal.sync()
        store.remove(["rn_1"])
        store.releaseReservation(client: "catalog", key: "k")
        try await journal.sync()
        #expect(try await journal.startupState(now: Date()).unfinished.map(\.job.id) == ["rn_2"])
        #expect(try await journal.idempotencyKey(client: "catalog", key: "k") == nil)
        #expect(try await store.reserve(client: "catalog", key: "k", body: .null) == .fresh)
    }

    @Test func concurrentWritesShareCommits() async throws {
        let directory = try Directory()
        let commits = Mutex<[Int]>([])
        let journal = try SQLiteJournal(path: directory.journalPath, logger: Logger(label: "t")) { _, writes in
            commits.withLock { $0.append(writes) }
        }
        let store = JobStore(storage: journal)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<500 {
                group.addTask {
                    #expect(store.insert(Self.job("rn_\(index)"), idempotencyKey: nil, body: .null, capacity: 1000))
                    try await journal.sync()
                }
            }
            try await group.waitForAll()
        }
        #expect(try await journal.startupState(now: Date()).totalJobs == 500)
        let batches = commits.withLock { $0 }
        #expect(batches.reduce(0, +) == 500)
        // Group commit: far fewer transactions than writes.
        #expect(batches.count < 500)
    }

    @Test func aFullDiskFailsSyncAndLosesNothingOnceSpaceReturns() async throws {
        let directory = try Directory()
        let journal = try SQLiteJournal(path: directory.journalPath, logger: Logger(label: "t"))
        let store = JobStore(storage: journal)
        #expect(store.insert(Self.job("rn_1"), idempotencyKey: nil, body: .null, capacity: 10))
        try await journal.sync()
        let pages = try await journal.database.read { db in try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 1 }
        try await journal.database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = \(pages)") }
        try store.transition("rn_1", now: Date()) { job throws(JobTransitionError) in try job.startRenaming() }
        let big = (0..<50).map { Self.job("rn_big_\($0)") }
        for job in big { #expect(store.insert(job, idempotencyKey: nil, body: .null, capacity: 100)) }
        await #expect(throws: JournalError.self) { try await journal.sync() }
        // A job whose insert failed changes before the retry: its newer state still inserts it.
        try store.transition("rn_big_7", now: Date()) { job throws(JobTransitionError) in try job.startRenaming() }
        try await journal.database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = 1073741823") }
        // The writer retries on its own; everything recorded arrives.
        let deadline = ContinuousClock.now + .seconds(10)
        var stored = 0
        while ContinuousClock.now < deadline {
            stored = (try? await journal.startupState(now: Date()).totalJobs) ?? 0
            if stored == 51 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(stored == 51)
        #expect(try await journal.job("rn_1")?.status == .renaming)
        #expect(try await journal.job("rn_big_7")?.status == .renaming)
        try await journal.close()
    }

    @Test func unusablePathsAreClearErrors() throws {
        let directory = try Directory()
        #expect(throws: JournalError.self) { try SQLiteJournal(path: "/nonexistent/dir/renamer.sqlite", logger: Logger(label: "t")) }
        let garbage = directory.url.appending(path: "garbage.sqlite")
        try Data(repeating: 0x41, count: 8192).write(to: garbage)
        let error = #expect(throws: JournalError.self) { try SQLiteJournal(path: garbage.path, logger: Logger(label: "t")) }
        #expect(error?.description.contains("garbage.sqlite") == true)
    }

    /// One writer per journal: a second open is refused while the first holds it, and allowed once
    /// it has closed.
    @Test func aJournalOpensOnceAtATime() async throws {
        let directory = try Directory()
        let first = try SQLiteJournal(path: directory.journalPath, logger: Logger(label: "t"))
        let error = #expect(throws: JournalError.self) { try SQLiteJournal(path: directory.journalPath, logger: Logger(label: "t")) }
        #expect(error?.description.contains("locked by another process (pid \(getpid()))") == true, "\(String(describing: error))")
        try await first.close()
        let second = try await Self.reopen(directory.journalPath)
        #expect(try await second.startupState(now: Date()).totalJobs == 0)
    }

    @Test func anOlderJournalIsMigratedForward() async throws {
        let directory = try Directory()
        // A journal as the first schema version left it.
        let old = try DatabaseQueue(path: directory.journalPath)
        var migrator = SQLiteJournal.migrator
        migrator.eraseDatabaseOnSchemaChange = false
        try migrator.migrate(old, upTo: "v1")
        try await old.write { db in
            try db.execute(
                sql: "INSERT INTO jobs (id, sequence, status, finished_at, body) VALUES (?, 7, 'queued', NULL, ?)",
                arguments: ["rn_old", Data(JSONWriter.encode(StoredJob(Self.job("rn_old"))))]
            )
            try db.execute(
                sql: "INSERT INTO jobs (id, sequence, status, finished_at, body) VALUES (?, 8, 'completed', 1.0, ?)",
                arguments: ["rn_done", Data(JSONWriter.encode(StoredJob(Self.job("rn_done", status: .completed))))]
            )
        }
        try old.close()
        let journal = try SQLiteJournal(path: directory.journalPath, logger: Logger(label: "t"))
        #expect(try await journal.startupState(now: Date()).unfinished.map(\.sequence) == [7])
        // v2 filled the owner column from the body: the old jobs are in their client's list, and
        // the final one in the list of its status (v4's index).
        #expect(try await journal.list(client: "catalog", status: nil, limit: 5, after: nil)?.jobs.map(\.id) == ["rn_done", "rn_old"])
        #expect(try await journal.list(client: "catalog", status: .completed, limit: 5, after: nil)?.jobs.map(\.id) == ["rn_done"])
        let applied = try await journal.database.read { db in try SQLiteJournal.migrator.appliedIdentifiers(db) }
        #expect(applied == ["v1", "v2", "v3", "v4", "v5"])
    }

    /// The connection that commits syncs every commit (`synchronous = FULL`, 2): the 202 promises a
    /// job that survives power loss. GRDB opens a pool's writer at NORMAL (1), which syncs only at
    /// checkpoints, after any `prepareDatabase` setting.
    @Test func everyCommitIsSynced() async throws {
        let directory = try Directory()
        let journal = try SQLiteJournal(path: directory.journalPath, logger: Logger(label: "t"))
        let level = try await journal.database.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(level == 2)
        try await journal.close()
    }

    /// A callback event's body lives in `callback_events` from finalization until delivery ends,
    /// not in the job's row: the row keeps its size, so rows share pages instead of one each
    /// (issue 17). A row of an older journal, with its body inline, is read as it is.
    @Test func callbackEventsAreKeptApartFromTheirRows() async throws {
        let directory = try Directory()
        let journal = try SQLiteJournal(path: directory.journalPath, logger: Logger(label: "t"))
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let event = Array(repeating: UInt8(ascii: "e"), count: 1_200)
        func pending(_ id: String) -> RenameJob {
            var job = Self.job(id)
            job.status = .completed
            job.callback = .init(url: "https://a.example/h", status: .pending, attempts: 0, lastStatus: nil)
            job.callbackEvent = .init(id: "evt_\(id)", body: event + Array(id.utf8), nextAttemptAt: now)
            return job
        }
        func delivered(_ id: String) -> RenameJob {
            var job = pending(id)
            job.callback.status = .delivered
            job.callbackEvent = nil
            return job
        }
        let count = 300
        for index in 0..<count { journal.recordNew(Self.job("rn_\(index)"), sequence: index + 1) }
        try await journal.sync()
        for index in 0..<count { journal.record(pending("rn_\(index)"), sequence: index + 1) }
        try await journal.sync()
        let rowHasBody = try await journal.database.read { db in
            try String.fetchOne(db, sql: "SELECT CAST(body AS TEXT) FROM jobs WHERE id = 'rn_7'")?.contains("eventBody")
        }
        #expect(rowHasBody == false)
        #expect(try await journal.job("rn_7") == pending("rn_7"))
        let due = try await journal.dueCallbacks(now: now, perOrigin: 2, maxOrigins: 1, skipping: []) { _, _ in nil }
        let read = due.first?.jobs ?? []
        #expect(read.count == 2 && read.allSatisfy { $0 == pending($0.id) })
        for index in 0..<count { journal.record(delivered("rn_\(index)"), sequence: index + 1) }
        try await journal.sync()
        #expect(try await journal.job("rn_7") == delivered("rn_7"))
        let (events, pages) = try await journal.database.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM callback_events") ?? -1,
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM dbstat WHERE name = 'jobs'") ?? -1
            )
        }
        #expect(events == 0)
        // ~820-byte rows, four to a 4 KiB page; with the body in the row, one row per page.
        #expect(pages < count / 2, "\(pages) pages for \(count) rows")
        // An older row with its event inline.
        let inline = Data(StoredJob.encode(pending("rn_old")))
        try await journal.database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO jobs (id, sequence, status, finished_at, body, client, callback_origin, callback_due_at)
                    VALUES (?, ?, 'completed', NULL, ?, 'catalog', ?, ?)
                    """,
                arguments: ["rn_old", 1_000, inline, "https://a.example:443", now.timeIntervalSince1970]
            )
        }
        #expect(try await journal.job("rn_old") == pending("rn_old"))
        try await journal.close()
    }

    /// Writing a job row builds no temporary B-tree (SQLite makes one for each use of an `IN` list
    /// in a partial index's condition: ~10 per job, ~11 % of the daemon's instructions).
    @Test func writingAJobRowBuildsNoTemporaryTable() async throws {
        let directory = try Directory()
        let journal = try SQLiteJournal(path: directory.journalPath, logger: Logger(label: "t"))
        let statements = [
            "UPDATE jobs SET status = ?, finished_at = ?, body = ?, callback_origin = ?, callback_due_at = ? WHERE id = ?",
            """
            INSERT INTO jobs (id, sequence, status, finished_at, body, client, callback_origin, callback_due_at, collection, parent)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET status = excluded.status
            """,
        ]
        for sql in statements {
            let unbound = StatementArguments(Array(repeating: String?.none, count: sql.filter { $0 == "?" }.count))
            let opcodes = try await journal.database.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN \(sql)", arguments: unbound).map { $0["opcode"] as String }
            }
            #expect(!opcodes.isEmpty)
            #expect(!opcodes.contains("OpenEphemeral"), "\(sql)")
        }
        try await journal.close()
    }
}
