import Dispatch
import Foundation
import GRDB
import Logging
import RenamerCore
import Synchronization

/// The SQLite journal (GRDB, WAL): every accepted job and every change to it (``JobStorage``),
/// idempotency keys, notification replay entries and the callback outbox, so that a crash or
/// restart loses nothing (SPEC §1, §8). History is read back from here (indexed by client, status
/// and callback due time), so the daemon's memory holds only unfinished work.
///
/// Writes are recorded in memory and committed by one writer on a Dispatch queue, many per
/// transaction (group commit): while one transaction commits, the next batch gathers, so the cost of
/// an fsync is shared by everything that arrived meanwhile. Only the newest state of a job is
/// written. `synchronous = FULL`: a commit survives power loss, not only a crash.
/// One process at a time opens a journal: ``JournalLock`` refuses a second (SPEC §8). Reads run on
/// GRDB's reader queues (WAL: they never wait for the writer) and suspend the caller meanwhile.
///
/// `@unchecked Sendable`: the stored properties are `let`s of Sendable types, GRDB's `DatabasePool`
/// (internally synchronized, documented as usable from any thread) and the Dispatch queue that
/// confines ``flush()``; mutable state is behind the lock.
public final class SQLiteJournal: JobStorage, @unchecked Sendable {
    /// A job's newest state waiting for the next commit.
    struct PendingJob {
        var job: RenameJob
        var sequence: Int
        /// The job has no row yet: its insert is in this batch (an update then uses the upsert).
        var isNew: Bool
    }

    struct Pending: PendingWrites {
        var jobs: [String: PendingJob] = [:]
        var keys: [(client: String, key: String, jobID: String, body: JSONValue)] = []
        var notifications: [String: Date] = [:]
        var deletes: Set<String> = []

        var isEmpty: Bool { jobs.isEmpty && keys.isEmpty && notifications.isEmpty && deletes.isEmpty }

        init() {}

        init(sizedLike batch: Pending) {
            jobs.reserveCapacity(batch.jobs.count)
        }

        /// Puts back a batch that failed to commit, under anything recorded since.
        mutating func restore(_ failed: Pending) {
            for (id, entry) in failed.jobs where !deletes.contains(id) {
                // A newer state of a job whose insert failed still has to insert it.
                if jobs[id] == nil { jobs[id] = entry } else if entry.isNew { jobs[id]?.isNew = true }
            }
            keys = failed.keys + keys
            for (key, expiry) in failed.notifications where notifications[key] == nil { notifications[key] = expiry }
            deletes.formUnion(failed.deletes)
        }
    }

    let database: DatabasePool
    let lock: JournalLock
    let logger: Logger
    private let queue = DispatchQueue(label: "asset-renamer.journal")
    private let state = Locked(GroupCommit<Pending>())
    /// Observes commit latency (seconds) and batch size; set by the daemon for metrics.
    public let onCommit: @Sendable (_ seconds: Double, _ writes: Int) -> Void

    /// Opens (creating if needed) and migrates the journal at `path`.
    ///
    /// - Throws: ``JournalError`` when the file cannot be opened, is not a journal, is corrupt, or
    ///   another process has it open.
    public init(path: String, logger: Logger, onCommit: @escaping @Sendable (Double, Int) -> Void = { _, _ in }) throws(JournalError) {
        self.logger = logger
        self.onCommit = onCommit
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        do {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            if !FileManager.default.fileExists(atPath: directory) {
                throw JournalError("directory \(directory) does not exist")
            }
            lock = try JournalLock(journalPath: path)
            database = try DatabasePool(path: path, configuration: configuration)
            try database.writeWithoutTransaction { db in
                // Only the writer's connection commits. GRDB opens it in WAL mode with
                // `synchronous = NORMAL`, after `prepareDatabase` ran (so a pragma there is
                // overridden): NORMAL syncs the WAL only at checkpoints, and a commit answered 202
                // could be lost with the machine's power. FULL syncs every commit first.
                try db.execute(sql: "PRAGMA synchronous = FULL")
                let check = try String.fetchOne(db, sql: "PRAGMA quick_check") ?? "unknown"
                guard check == "ok" else { throw JournalError("\(path) is corrupt: \(check)") }
            }
            try Self.migrator.migrate(database)
        } catch let error as JournalError {
            throw error
        } catch let error as DatabaseError {
            throw JournalError("cannot open \(path): \(error.message ?? error.description)")
        } catch {
            throw JournalError("cannot open \(path): \(error)")
        }
    }

    /// The condition of `jobs_client_final`, repeated in the queries that use it (SQLite uses a
    /// partial index only where the query's condition contains the index's).
    static let isFinal = "(status = 'completed' OR status = 'failed' OR status = 'cancelled')"

    /// Versioned schema: a newer daemon opens an older journal and migrates it forward.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE jobs (
                        id TEXT PRIMARY KEY NOT NULL,
                        sequence INTEGER NOT NULL,
                        status TEXT NOT NULL,
                        finished_at REAL,
                        body BLOB NOT NULL
                    );
                    CREATE INDEX jobs_unfinished ON jobs(status) WHERE finished_at IS NULL;
                    CREATE TABLE idempotency_keys (
                        client TEXT NOT NULL,
                        key TEXT NOT NULL,
                        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                        body BLOB NOT NULL,
                        PRIMARY KEY (client, key)
                    );
                    CREATE INDEX idempotency_keys_job ON idempotency_keys(job_id);
                    CREATE TABLE notifications (
                        key TEXT PRIMARY KEY NOT NULL,
                        expires_at REAL NOT NULL
                    );
                    """
            )
        }
        // History read from storage (SPEC §8): the owner, the callback outbox, and indexes for
        // reads by client and status, due callbacks and purges (reads by id use the primary key).
        // The status index covers final statuses only, so an unfinished job's moves do not touch
        // it; lists of unfinished statuses use jobs_unfinished, which holds only unfinished rows.
        migrator.registerMigration("v2") { db in
            try db.execute(
                sql: """
                    ALTER TABLE jobs ADD COLUMN client TEXT NOT NULL DEFAULT '';
                    ALTER TABLE jobs ADD COLUMN callback_origin TEXT;
                    ALTER TABLE jobs ADD COLUMN callback_due_at REAL;
                    """
            )
            let rows = try Row.fetchAll(db, sql: "SELECT id, body FROM jobs")
            let update = try db.makeStatement(sql: "UPDATE jobs SET client = ?, callback_origin = ?, callback_due_at = ? WHERE id = ?")
            for row in rows {
                let body: Data = row[1]
                let job = try StoredJob.read(body)
                let id: String = row[0]
                try update.execute(arguments: [job.client, job.pendingCallbackOrigin, job.callbackEvent?.nextAttemptAt?.timeIntervalSince1970, id])
            }
            try db.execute(
                sql: """
                    CREATE INDEX jobs_client ON jobs(client, sequence);
                    CREATE INDEX jobs_client_final ON jobs(client, status, sequence) WHERE status IN ('completed', 'failed', 'cancelled');
                    CREATE INDEX jobs_finished ON jobs(finished_at) WHERE finished_at IS NOT NULL;
                    CREATE INDEX jobs_callback_origin ON jobs(callback_origin, callback_due_at) WHERE callback_due_at IS NOT NULL;
                    CREATE INDEX jobs_callback_due ON jobs(callback_due_at) WHERE callback_due_at IS NOT NULL;
                    CREATE INDEX notifications_expiry ON notifications(expires_at);
                    """
            )
        }
        // Kinds of jobs (SPEC §11): lists read one collection (`rename`, `asset_update`, …; the
        // items of folder renames and batches are `item`), and items are read by their parent.
        migrator.registerMigration("v3") { db in
            try db.execute(
                sql: """
                    ALTER TABLE jobs ADD COLUMN collection TEXT NOT NULL DEFAULT 'rename';
                    ALTER TABLE jobs ADD COLUMN parent TEXT;
                    DROP INDEX jobs_client;
                    DROP INDEX jobs_client_final;
                    CREATE INDEX jobs_client ON jobs(client, collection, sequence);
                    CREATE INDEX jobs_client_final ON jobs(client, collection, status, sequence)
                        WHERE status IN ('completed', 'failed', 'cancelled');
                    CREATE INDEX jobs_parent ON jobs(parent, sequence) WHERE parent IS NOT NULL;
                    """
            )
        }
        // The final-status index's condition as comparisons: SQLite evaluates an `IN` list in an
        // index's condition through a temporary B-tree built for each use, twice per update of a
        // job row (old and new values) and three times per upsert: ~10 per job, each a fresh
        // zeroed page: ~11 % of the daemon's instructions end to end.
        migrator.registerMigration("v4") { db in
            try db.execute(
                sql: """
                    DROP INDEX jobs_client_final;
                    CREATE INDEX jobs_client_final ON jobs(client, collection, status, sequence) WHERE \(Self.isFinal);
                    """
            )
        }
        // A callback event's body (~1 KB) in a table of its own, from finalization until delivery
        // ends. In the job's row it made the row grow ~2.7× at completion and shrink again once the
        // callback ended: every such row split its page, and the table ended at one row per 4 KiB
        // page (3.2 KiB of it empty), so each row written dirtied a page of its own (issue 17).
        // The row keeps the event's id and due time; rows written before this keep their body
        // inline and are read as they are.
        migrator.registerMigration("v5") { db in
            try db.execute(sql: "CREATE TABLE callback_events (job_id TEXT PRIMARY KEY NOT NULL, body BLOB NOT NULL)")
        }
        return migrator
    }

    // MARK: - Recording (called under the store's lock: queue and return)

    public func record(_ job: RenameJob, sequence: Int) -> Int {
        enqueue { pending in
            // Replaced in place: a job already in the batch keeps its sequence and, if its insert
            // is in the batch, its `isNew` (and the job is copied once, not three times).
            if let index = pending.jobs.index(forKey: job.id) {
                pending.jobs.values[index].job = job
            } else {
                pending.jobs[job.id] = PendingJob(job: job, sequence: sequence, isNew: false)
            }
        }
    }

    public func recordNew(_ job: RenameJob, sequence: Int) -> Int {
        enqueue { $0.jobs[job.id] = PendingJob(job: job, sequence: sequence, isNew: true) }
    }

    public func recordIdempotencyKey(client: String, key: String, jobID: String, body: JSONValue) {
        enqueue { $0.keys.append((client, key, jobID, body)) }
    }

    public func recordNotification(key: String, expiresAt: Date) {
        enqueue { $0.notifications[key] = expiresAt }
    }

    public func removeJobs(_ ids: [String]) {
        enqueue { pending in
            for id in ids { pending.jobs[id] = nil }
            pending.deletes.formUnion(ids)
        }
    }

    @discardableResult
    private func enqueue(_ change: (inout Pending) -> Void) -> Int {
        let (generation, startFlush) = state.withLock { state in
            change(&state.pending)
            return state.countWrite()
        }
        // A write that finds the journal idle waits a moment for others to share its commit: each
        // commit is a transaction, its WAL frames and an fsync, and at moderate load (end to end,
        // ~1,500 jobs/s) nearly every write paid for its own. Writes made during a commit are
        // batched into the next one anyway.
        if startFlush { queue.gathering(forMicroseconds: Self.commitDelayMicroseconds) { self.flush() } }
        return generation
    }

    /// How long a write arriving at an idle journal waits for company before its commit starts.
    static let commitDelayMicroseconds: UInt32 = 500

    public var committedGeneration: Int { state.withLock { $0.committed } }

    public func sync() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            whenDurable { continuation.resume(with: $0) }
        }
    }

    public func whenDurable(_ done: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        if !state.withLock({ $0.wait(done) }) { done(.success(())) }
    }

    /// Waits for every recorded write, closes the database and releases the lock, so that the file
    /// may be opened again (by another process, or by a new journal in this one).
    public func close() async throws {
        try await sync()
        try database.close()
        lock.release()
    }

    // MARK: - Writing (on `queue`)

    private func flush() {
        let (batch, generation) = state.withLock { $0.takeBatch() }
        let started = ContinuousClock.now
        var failure: (any Error)?
        if !batch.isEmpty {
            do {
                try write(batch)
            } catch {
                failure = error
            }
        }
        let elapsed = ContinuousClock.now - started
        let (resume, again) = state.withLock { $0.finish(batch, generation: generation, failed: failure != nil) }
        if let failure {
            logger.error("journal write failed; retrying", metadata: ["error": "\(failure)"])
            for waiter in resume { waiter(.failure(JournalError("journal write failed: \(failure)"))) }
            if again { queue.asyncAfter(deadline: .now() + 1) { self.flush() } }
            return
        }
        onCommit(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, batch.jobs.count)
        for waiter in resume { waiter(.success(())) }
        if again { queue.async { self.flush() } }
    }

    private func write(_ batch: Pending) throws {
        try database.write { db in
            let upsert = try db.cachedStatement(
                sql: """
                    INSERT INTO jobs (id, sequence, status, finished_at, body, client, callback_origin, callback_due_at, collection, parent)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET status = excluded.status, finished_at = excluded.finished_at, body = excluded.body,
                        callback_origin = excluded.callback_origin, callback_due_at = excluded.callback_due_at
                    """
            )
            // A job with a row gets a plain update: the upsert's insert would fail on the key
            // first. Should the row be missing after all, the upsert writes it.
            let update = try db.cachedStatement(
                sql: "UPDATE jobs SET status = ?, finished_at = ?, body = ?, callback_origin = ?, callback_due_at = ? WHERE id = ?"
            )
            // An event's body never changes while it lives (it is made once, at finalization),
            // so a later write of the job only finds it there.
            let insertEvent = try db.cachedStatement(sql: "INSERT OR IGNORE INTO callback_events (job_id, body) VALUES (?, ?)")
            let deleteEvent = try db.cachedStatement(sql: "DELETE FROM callback_events WHERE job_id = ?")
            for (id, entry) in batch.jobs {
                let job = entry.job
                if let event = job.callbackEvent {
                    try insertEvent.execute(arguments: [id, Data(event.body)])
                } else if job.status.isFinal {
                    try deleteEvent.execute(arguments: [id])
                }
                let body = Data(JSONWriter.encode(StoredJob(job, eventBody: false)))
                let finished = job.isSettled ? (job.completedAt ?? job.updatedAt).timeIntervalSince1970 : nil
                let origin = job.pendingCallbackOrigin
                let due = job.callbackEvent?.nextAttemptAt?.timeIntervalSince1970
                if !entry.isNew {
                    try update.execute(arguments: [job.status.rawValue, finished, body, origin, due, id])
                    if db.changesCount == 1 { continue }
                }
                try upsert.execute(arguments: [
                    id, entry.sequence, job.status.rawValue, finished, body, job.client, origin, due, job.collection, job.parent,
                ])
            }
            let key = try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO idempotency_keys (client, key, job_id, body) VALUES (?, ?, ?, ?)"
            )
            for entry in batch.keys {
                try key.execute(arguments: [entry.client, entry.key, entry.jobID, try JSONEncoder().encode(entry.body)])
            }
            let notification = try db.cachedStatement(sql: "INSERT OR REPLACE INTO notifications (key, expires_at) VALUES (?, ?)")
            for (key, expiry) in batch.notifications {
                try notification.execute(arguments: [key, expiry.timeIntervalSince1970])
            }
            if !batch.deletes.isEmpty {
                let deleteKeys = try db.cachedStatement(sql: "DELETE FROM idempotency_keys WHERE job_id = ?")
                let deleteJob = try db.cachedStatement(sql: "DELETE FROM jobs WHERE id = ?")
                for id in batch.deletes {
                    try deleteKeys.execute(arguments: [id])
                    try deleteEvent.execute(arguments: [id])
                    try deleteJob.execute(arguments: [id])
                }
            }
        }
    }

    // MARK: - Reads (GRDB's reader queues; the caller suspends)

    private func read<T: Sendable>(_ what: String, _ body: @escaping @Sendable (Database) throws -> T) async throws(StorageError) -> T {
        do {
            return try await database.read(body)
        } catch {
            throw StorageError("cannot read \(what) from the journal: \(error)")
        }
    }

    static func decode(_ body: Data) throws -> RenameJob {
        try StoredJob.read(body)
    }

    /// The job of `body`, with its callback event's body from `callback_events` if it has one.
    static func decode(_ body: Data, id: String, in db: Database) throws -> RenameJob {
        let event = try Data.fetchOne(db.cachedStatement(sql: "SELECT body FROM callback_events WHERE job_id = ?"), arguments: [id])
        return try StoredJob.read(body, event: event)
    }

    public func job(_ id: String) async throws(StorageError) -> RenameJob? {
        try await read("a job") { db in
            try Data.fetchOne(db, sql: "SELECT body FROM jobs WHERE id = ?", arguments: [id]).map { try Self.decode($0, id: id, in: db) }
        }
    }

    public func idempotencyKey(client: String, key: String) async throws(StorageError) -> (jobID: String, body: JSONValue)? {
        let row = try await read("an idempotency key") { db in
            try Row.fetchOne(db, sql: "SELECT job_id, body FROM idempotency_keys WHERE client = ? AND key = ?", arguments: [client, key])
                .map { row -> KeyRow in KeyRow(jobID: row[0], body: row[1]) }
        }
        guard let row else { return nil }
        do {
            return (row.jobID, try JSONDecoder().decode(JSONValue.self, from: row.body))
        } catch {
            throw StorageError("an idempotency key's body in the journal is corrupt: \(error)")
        }
    }

    struct KeyRow: Sendable {
        var jobID: String
        var body: Data
    }

    public func list(client: String, collection: String, status: JobStatus?, limit: Int, after: String?) async throws(StorageError) -> JobPage? {
        try await read("a list") { db -> JobPage? in
            var before = Int.max
            if let after {
                guard
                    let sequence = try Int.fetchOne(db, sql: "SELECT sequence FROM jobs WHERE id = ? AND client = ?", arguments: [after, client])
                else { return nil }
                before = sequence
            }
            let bodies: [Data]
            if let status, status.isFinal {
                bodies = try Data.fetchAll(
                    db,
                    sql: """
                        SELECT body FROM jobs INDEXED BY jobs_client_final
                        WHERE client = ? AND collection = ? AND status = ? AND \(Self.isFinal) AND sequence < ?
                        ORDER BY sequence DESC LIMIT ?
                        """,
                    arguments: [client, collection, status.rawValue, before, limit + 1]
                )
            } else if let status {
                bodies = try Data.fetchAll(
                    db,
                    sql: """
                        SELECT body FROM jobs INDEXED BY jobs_unfinished
                        WHERE status = ? AND finished_at IS NULL AND client = ? AND collection = ? AND sequence < ?
                        ORDER BY sequence DESC LIMIT ?
                        """,
                    arguments: [status.rawValue, client, collection, before, limit + 1]
                )
            } else {
                bodies = try Data.fetchAll(
                    db,
                    sql: "SELECT body FROM jobs WHERE client = ? AND collection = ? AND sequence < ? ORDER BY sequence DESC LIMIT ?",
                    arguments: [client, collection, before, limit + 1]
                )
            }
            let jobs = try bodies.prefix(limit).map(Self.decode)
            return JobPage(jobs: jobs, next: bodies.count > limit ? jobs.last?.id : nil)
        }
    }

    public func items(parent: String, limit: Int, after: String?) async throws(StorageError) -> JobPage? {
        try await read("a page of items") { db -> JobPage? in
            var from = 0
            if let after {
                guard let sequence = try Int.fetchOne(db, sql: "SELECT sequence FROM jobs WHERE id = ? AND parent = ?", arguments: [after, parent])
                else { return nil }
                from = sequence
            }
            let bodies = try Data.fetchAll(
                db,
                sql: "SELECT body FROM jobs WHERE parent = ? AND sequence > ? ORDER BY sequence LIMIT ?",
                arguments: [parent, from, limit + 1]
            )
            let jobs = try bodies.prefix(limit).map(Self.decode)
            return JobPage(jobs: jobs, next: bodies.count > limit ? jobs.last?.id : nil)
        }
    }

    public func itemCounts(parent: String) async throws(StorageError) -> [JobStatus: Int] {
        try await read("item counts") { db -> [JobStatus: Int] in
            var counts: [JobStatus: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, count(*) FROM jobs WHERE parent = ? GROUP BY status", arguments: [parent]) {
                let status: String = row[0]
                if let status = JobStatus(rawValue: status) { counts[status] = row[1] }
            }
            return counts
        }
    }

    public func dueCallbacks(
        now: Date,
        perOrigin: Int,
        maxOrigins: Int,
        skipping: Set<String>,
        known: @escaping KnownJobs
    ) async throws(StorageError) -> [DueCallbacks] {
        try await read("due callbacks") { db in
            // Walks the distinct origins with a pending callback through the index, one seek each,
            // so a dead receiver's backlog never hides another origin's callbacks.
            var result: [DueCallbacks] = []
            var origin = ""
            var visited = 0
            while visited < maxOrigins,
                let next = try String.fetchOne(
                    db,
                    sql: """
                        SELECT callback_origin FROM jobs WHERE callback_due_at IS NOT NULL AND callback_origin > ?
                        ORDER BY callback_origin LIMIT 1
                        """,
                    arguments: [origin]
                )
            {
                origin = next
                visited += 1
                var due = DueCallbacks(origin: origin, jobs: [], count: 0)
                let rows = try Row.fetchCursor(
                    db,
                    sql: """
                        SELECT id, callback_due_at, body FROM jobs
                        WHERE callback_due_at IS NOT NULL AND callback_origin = ? AND callback_due_at <= ?
                        ORDER BY callback_due_at LIMIT ?
                        """,
                    arguments: [origin, now.timeIntervalSince1970, perOrigin]
                )
                while let row = try rows.next() {
                    due.count += 1
                    let id: String = row[0]
                    guard !skipping.contains(id) else { continue }
                    due.jobs.append(try known(id, row[1]) ?? Self.decode(row[2], id: id, in: db))
                }
                if due.count > 0 { result.append(due) }
            }
            return result
        }
    }

    public func nextCallbackDue(after now: Date) async throws(StorageError) -> Date? {
        try await read("the next callback") { db in
            try Double.fetchOne(
                db,
                sql: "SELECT MIN(callback_due_at) FROM jobs WHERE callback_due_at IS NOT NULL AND callback_due_at > ?",
                arguments: [now.timeIntervalSince1970]
            ).map(Date.init(timeIntervalSince1970:))
        }
    }

    public func callbackBacklog(now: Date) async throws(StorageError) -> (due: Int, waiting: Int) {
        let counts = try await read("the callback backlog") { db in
            let due = try Int.fetchOne(
                db,
                sql: "SELECT COUNT(*) FROM jobs WHERE callback_due_at IS NOT NULL AND callback_due_at <= ?",
                arguments: [now.timeIntervalSince1970]
            )
            let all = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs WHERE callback_due_at IS NOT NULL")
            return [due ?? 0, all ?? 0]
        }
        return (counts[0], counts[1] - counts[0])
    }

    // MARK: - Start-up and housekeeping

    public func startupState(now: Date) async throws(StorageError) -> StartupState {
        try await read("the unfinished jobs") { db in
            var state = StartupState()
            // Unfinished renames, and final jobs of an older journal whose callback event was never made.
            let rows = try Row.fetchCursor(
                db,
                sql: "SELECT sequence, body FROM jobs WHERE finished_at IS NULL AND callback_due_at IS NULL ORDER BY sequence"
            )
            while let row = try rows.next() {
                state.unfinished.append((try Self.decode(row[1]), row[0]))
            }
            state.nextSequence = (try Int.fetchOne(db, sql: "SELECT MAX(sequence) FROM jobs") ?? 0) + 1
            state.totalJobs = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs") ?? 0
            let notifications = try Row.fetchCursor(
                db,
                sql: "SELECT key, expires_at FROM notifications WHERE expires_at > ?",
                arguments: [now.timeIntervalSince1970]
            )
            while let row = try notifications.next() {
                state.notifications.append((row[0], Date(timeIntervalSince1970: row[1])))
            }
            return state
        }
    }

    /// Deletes in batches of 5,000 jobs, each its own transaction on the writer queue, so that
    /// commits of live work interleave with a large purge.
    public func purge(finishedBefore cutoff: Date, now: Date) async throws(StorageError) -> Int {
        let cutoff = cutoff.timeIntervalSince1970
        let now = now.timeIntervalSince1970
        var total = 0
        do {
            while true {
                let deleted = try await onWriter { database in
                    try database.write { db -> Int in
                        // Items go with their folder rename or batch, never before it.
                        let batch = "SELECT id FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ? AND parent IS NULL LIMIT 5000"
                        try db.execute(sql: "DELETE FROM idempotency_keys WHERE job_id IN (\(batch))", arguments: [cutoff])
                        try db.execute(sql: "DELETE FROM jobs WHERE parent IN (\(batch))", arguments: [cutoff])
                        try db.execute(sql: "DELETE FROM jobs WHERE id IN (\(batch))", arguments: [cutoff])
                        return db.changesCount
                    }
                }
                total += deleted
                if deleted < 5000 { break }
            }
            try await onWriter { database in
                try database.write { db in
                    try db.execute(sql: "DELETE FROM notifications WHERE expires_at <= ?", arguments: [now])
                }
            }
        } catch {
            throw StorageError("cannot purge the journal: \(error)")
        }
        return total
    }

    /// Runs blocking database work on the writer's Dispatch queue, off the cooperative pool.
    private func onWriter<T: Sendable>(_ work: @escaping @Sendable (DatabasePool) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [database] in continuation.resume(with: Result { try work(database) }) }
        }
    }
}

/// The journal cannot be opened, read or written.
public struct JournalError: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
