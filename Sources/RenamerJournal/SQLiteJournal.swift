import Dispatch
import Foundation
import GRDB
import Logging
import RenamerCore
import Synchronization

/// The SQLite journal (GRDB, WAL): every accepted job and every change to it, idempotency keys and
/// notification replay entries, so that a crash or restart loses nothing (SPEC §1, §8).
///
/// Writes are recorded in memory and committed by one writer on a Dispatch queue, many per
/// transaction (group commit): while one transaction commits, the next batch gathers, so the cost of
/// an fsync is shared by everything that arrived meanwhile. Only the newest state of a job is
/// written. `synchronous = FULL`: a commit survives power loss, not only a crash.
/// One process at a time opens a journal: ``JournalLock`` refuses a second (SPEC §8).
public final class SQLiteJournal: JobJournal, @unchecked Sendable {
    struct Pending {
        var jobs: [String: (job: RenameJob, sequence: Int)] = [:]
        var keys: [(client: String, key: String, jobID: String, body: JSONValue)] = []
        var notifications: [String: Date] = [:]
        var deletes: Set<String> = []

        var isEmpty: Bool { jobs.isEmpty && keys.isEmpty && notifications.isEmpty && deletes.isEmpty }

        /// Puts back a batch that failed to commit, under anything recorded since.
        mutating func restore(_ failed: Pending) {
            for (id, entry) in failed.jobs where jobs[id] == nil && !deletes.contains(id) { jobs[id] = entry }
            keys = failed.keys + keys
            for (key, expiry) in failed.notifications where notifications[key] == nil { notifications[key] = expiry }
            deletes.formUnion(failed.deletes)
        }
    }

    struct State {
        var pending = Pending()
        /// Increases with every recorded write.
        var recorded = 0
        /// Every write up to this number is durable.
        var committed = 0
        var flushing = false
        var waiters: [(target: Int, continuation: CheckedContinuation<Void, any Error>)] = []
    }

    let database: DatabaseQueue
    let lock: JournalLock
    let logger: Logger
    private let queue = DispatchQueue(label: "asset-renamer.journal")
    private let state = Mutex(State())
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
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            if !FileManager.default.fileExists(atPath: directory) {
                throw JournalError("directory \(directory) does not exist")
            }
            lock = try JournalLock(journalPath: path)
            database = try DatabaseQueue(path: path, configuration: configuration)
            try database.writeWithoutTransaction { db in
                guard try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")?.lowercased() == "wal" else {
                    throw JournalError("cannot switch \(path) to WAL mode")
                }
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
        return migrator
    }

    // MARK: - Recording (called under the store's lock: queue and return)

    public func record(_ job: RenameJob, sequence: Int) {
        enqueue { $0.jobs[job.id] = (job, sequence) }
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

    private func enqueue(_ change: (inout Pending) -> Void) {
        let startFlush = state.withLock { state in
            change(&state.pending)
            state.recorded += 1
            guard !state.flushing else { return false }
            state.flushing = true
            return true
        }
        if startFlush { queue.async { self.flush() } }
    }

    public func sync() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let ready = state.withLock { state -> Bool in
                guard state.committed < state.recorded else { return true }
                state.waiters.append((state.recorded, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
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
        let (batch, generation) = state.withLock { state in
            defer { state.pending = Pending() }
            return (state.pending, state.recorded)
        }
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
        let (resume, again) = state.withLock { state -> ([CheckedContinuation<Void, any Error>], Bool) in
            if failure != nil {
                state.pending.restore(batch)
            } else {
                state.committed = max(state.committed, generation)
            }
            var resume: [CheckedContinuation<Void, any Error>] = []
            state.waiters.removeAll { waiter in
                guard failure != nil || waiter.target <= state.committed else { return false }
                resume.append(waiter.continuation)
                return true
            }
            let again = !state.pending.isEmpty || !state.waiters.isEmpty
            state.flushing = again
            return (resume, again)
        }
        if let failure {
            logger.error("journal write failed; retrying", metadata: ["error": "\(failure)"])
            for continuation in resume { continuation.resume(throwing: JournalError("journal write failed: \(failure)")) }
            if again { queue.asyncAfter(deadline: .now() + 1) { self.flush() } }
            return
        }
        onCommit(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, batch.jobs.count)
        for continuation in resume { continuation.resume() }
        if again { queue.async { self.flush() } }
    }

    private func write(_ batch: Pending) throws {
        try database.write { db in
            let upsert = try db.cachedStatement(
                sql: """
                    INSERT INTO jobs (id, sequence, status, finished_at, body) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET status = excluded.status, finished_at = excluded.finished_at, body = excluded.body
                    """
            )
            for (id, entry) in batch.jobs {
                let body = Data(JSONWriter.encode(StoredJob(entry.job)))
                let finished = entry.job.status.isFinal && entry.job.callbackEvent?.nextAttemptAt == nil
                try upsert.execute(arguments: [
                    id, entry.sequence, entry.job.status.rawValue, finished ? entry.job.completedAt?.timeIntervalSince1970 : nil, body,
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
                    try deleteJob.execute(arguments: [id])
                }
            }
        }
    }

    // MARK: - Start-up and housekeeping

    /// Everything the journal holds; expired notification entries are left out.
    public func load(now: Date = Date()) throws(JournalError) -> JournalSnapshot {
        do {
            return try database.read { db in
                var snapshot = JournalSnapshot()
                let rows = try Row.fetchCursor(db, sql: "SELECT sequence, body FROM jobs")
                while let row = try rows.next() {
                    let body: Data = row[1]
                    let stored = try StoredJob.decoder.decode(StoredJob.self, from: body)
                    snapshot.jobs.append((stored.restored, row[0]))
                }
                let keys = try Row.fetchCursor(db, sql: "SELECT client, key, job_id, body FROM idempotency_keys")
                while let row = try keys.next() {
                    let body: Data = row[3]
                    snapshot.idempotencyKeys.append((row[0], row[1], row[2], try JSONDecoder().decode(JSONValue.self, from: body)))
                }
                let notifications = try Row.fetchCursor(
                    db,
                    sql: "SELECT key, expires_at FROM notifications WHERE expires_at > ?",
                    arguments: [now.timeIntervalSince1970]
                )
                while let row = try notifications.next() {
                    snapshot.notifications.append((row[0], Date(timeIntervalSince1970: row[1])))
                }
                return snapshot
            }
        } catch {
            throw JournalError("cannot read the journal: \(error)")
        }
    }

    /// Deletes notification entries that expired before `now`.
    public func purgeNotifications(now: Date) {
        queue.async { [database, logger] in
            do {
                try database.write { db in
                    try db.execute(sql: "DELETE FROM notifications WHERE expires_at <= ?", arguments: [now.timeIntervalSince1970])
                }
            } catch {
                logger.warning("journal purge failed", metadata: ["error": "\(error)"])
            }
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
