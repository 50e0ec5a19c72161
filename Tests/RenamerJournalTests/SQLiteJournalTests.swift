import Foundation
import GRDB
import Logging
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

    @Test func everythingRecordedSurvivesReopening() async throws {
        let directory = try Directory()
        do {
            let journal = try SQLiteJournal(path: directory.journalPath, logger: Logger(label: "t"))
            let store = JobStore(journal: journal)
            var job = Self.job("rn_1")
            job.notifiedAt = Date(timeIntervalSince1970: 1_800_000_100)
            job.callbackEvent = .init(
                id: "evt_1",
                body: Array(#"{"type":"rename.completed"}"#.utf8),
                nextAttemptAt: Date(timeIntervalSince1970: 1_800_000_200)
            )
            #expect(store.insert(job, idempotencyKey: "key-1", body: .object(["a": .array([.number(1), .bool(true), .null])]), capacity: 10))
            #expect(store.insert(Self.job("rn_2"), idempotencyKey: nil, body: .null, capacity: 10))
            store.update("rn_2", now: Date()) { $0.status = .renaming }
            journal.recordNotification(key: "1:abc", expiresAt: Date().addingTimeInterval(60))
            journal.recordNotification(key: "2:old", expiresAt: Date().addingTimeInterval(-60))
            try await journal.close()
        }
        let reopened = try await Self.reopen(directory.journalPath)
        let snapshot = try reopened.load()
        let jobs = Dictionary(uniqueKeysWithValues: snapshot.jobs.map { ($0.job.id, $0) })
        var expected = Self.job("rn_1")
        expected.notifiedAt = Date(timeIntervalSince1970: 1_800_000_100)
        expected.callbackEvent = .init(
            id: "evt_1",
            body: Array(#"{"type":"rename.completed"}"#.utf8),
            nextAttemptAt: Date(timeIntervalSince1970: 1_800_000_200)
        )
        #expect(jobs["rn_1"]?.job == expected)
        #expect(jobs["rn_1"]?.sequence == 1)
        #expect(jobs["rn_2"]?.job.status == .renaming)
        #expect(jobs["rn_2"]?.sequence == 2)
        #expect(snapshot.idempotencyKeys.count == 1)
        #expect(snapshot.idempotencyKeys.first?.body == .object(["a": .array([.number(1), .bool(true), .null])]))
        #expect(snapshot.notifications.map(\.key) == ["1:abc"])

        // A restored store answers replays and continues the sequence.
        let store = JobStore(journal: reopened)
        store.restore(snapshot)
        guard
            case .replay(let replayed) = store.reserve(
                client: "catalog",
                key: "key-1",
                body: .object(["a": .array([.number(1), .bool(true), .null])])
            )
        else {
            Issue.record("expected a replay after restore")
            return
        }
        #expect(replayed.id == "rn_1")
        #expect(store.unfinishedRenameCount == 2)
        #expect(store.insert(Self.job("rn_3"), idempotencyKey: nil, body: .null, capacity: 10))
        try await reopened.sync()
        #expect(try reopened.load().jobs.first { $0.job.id == "rn_3" }?.sequence == 3)
    }

    @Test func removedJobsAreDeletedWithTheirKeys() async throws {
        let directory = try Directory()
        let journal = try SQLiteJournal(path: directory.journalPath, logger: Logger(label: "t"))
        let store = JobStore(journal: journal)
        #expect(store.insert(Self.job("rn_1"), idempotencyKey: "k", body: .null, capacity: 10))
        #expect(store.insert(Self.job("rn_2"), idempotencyKey: nil, body: .null, capacity: 10))
        try await journal.sync()
        store.remove(["rn_1"])
        try await journal.sync()
        let snapshot = try journal.load()
        #expect(snapshot.jobs.map(\.job.id) == ["rn_2"])
        #expect(snapshot.idempotencyKeys.isEmpty)
        #expect(store.reserve(client: "catalog", key: "k", body: .null) == .fresh)
    }

    @Test func concurrentWritesShareCommits() async throws {
        let directory = try Directory()
        let commits = Mutex<[Int]>([])
        let journal = try SQLiteJournal(path: directory.journalPath, logger: Logger(label: "t")) { _, writes in
            commits.withLock { $0.append(writes) }
        }
        let store = JobStore(journal: journal)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<500 {
                group.addTask {
                    #expect(store.insert(Self.job("rn_\(index)"), idempotencyKey: nil, body: .null, capacity: 1000))
                    try await journal.sync()
                }
            }
            try await group.waitForAll()
        }
        #expect(try journal.load().jobs.count == 500)
        let batches = commits.withLock { $0 }
        #expect(batches.reduce(0, +) == 500)
        // Group commit: far fewer transactions than writes.
        #expect(batches.count < 500)
    }

    @Test func aFullDiskFailsSyncAndLosesNothingOnceSpaceReturns() async throws {
        let directory = try Directory()
        let journal = try SQLiteJournal(path: directory.journalPath, logger: Logger(label: "t"))
        let store = JobStore(journal: journal)
        #expect(store.insert(Self.job("rn_1"), idempotencyKey: nil, body: .null, capacity: 10))
        try await journal.sync()
        let pages = try await journal.database.read { db in try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 1 }
        try await journal.database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = \(pages)") }
        store.update("rn_1", now: Date()) { $0.status = .renaming }
        let big = (0..<50).map { Self.job("rn_big_\($0)") }
        for job in big { #expect(store.insert(job, idempotencyKey: nil, body: .null, capacity: 100)) }
        await #expect(throws: JournalError.self) { try await journal.sync() }
        try await journal.database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = 1073741823") }
        // The writer retries on its own; everything recorded arrives.
        let deadline = ContinuousClock.now + .seconds(10)
        var stored = 0
        while ContinuousClock.now < deadline {
            stored = (try? journal.load().jobs.count) ?? 0
            if stored == 51 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(stored == 51)
        #expect(try journal.load().jobs.first { $0.job.id == "rn_1" }?.job.status == .renaming)
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
        #expect(try second.load().jobs.isEmpty)
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
        }
        try old.close()
        let journal = try SQLiteJournal(path: directory.journalPath, logger: Logger(label: "t"))
        #expect(try journal.load().jobs.map(\.sequence) == [7])
        let applied = try await journal.database.read { db in try SQLiteJournal.migrator.appliedIdentifiers(db) }
        #expect(applied.contains("v1"))
    }
}
