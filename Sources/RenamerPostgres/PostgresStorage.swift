import Foundation
import Logging
import PostgresNIO
import RenamerConfig
import RenamerCore

/// Jobs, keys, the notification replay window and the callback outbox in PostgreSQL, shared by
/// several replicas (SPEC §12; README "Running several replicas").
///
/// Writes are grouped like the SQLite journal's: ``record(_:sequence:)`` queues, one task commits
/// everything queued in one transaction, ``sync()`` waits for it. Every job write is fenced: the
/// upsert changes a row only if this replica's lease owns it and has not passed, and a batch in
/// which any row was refused is rolled back and retried (after a renewal, or never: a replica
/// whose lease was taken stops, see ``onLeaseLost``).
public final class PostgresStorage: JobStorage, ReplicaCoordinator {
    struct Pending: PendingWrites {
        /// Latest state per job, and the order jobs were first recorded in (acceptance order).
        var jobs: [String: (job: RenameJob, sequence: Int)] = [:]
        var order: [String] = []
        var keys: [(client: String, key: String, jobID: String, body: JSONValue)] = []
        var deletes: Set<String> = []
        var releases: Set<String> = []

        var isEmpty: Bool { jobs.isEmpty && keys.isEmpty && deletes.isEmpty && releases.isEmpty }

        mutating func restore(_ older: Pending) {
            for id in older.order where jobs[id] == nil && !deletes.contains(id) {
                if let entry = older.jobs[id] { jobs[id] = entry }
            }
            order = older.order.filter { jobs[$0] != nil } + order.filter { older.jobs[$0] == nil }
            keys = older.keys + keys
            deletes.formUnion(older.deletes)
            releases.formUnion(older.releases)
        }
    }

    struct State {
        var commit = GroupCommit<Pending>()
        /// Jobs dropped at commit because another replica had committed their key first.
        var lostAcceptances: Set<String> = []
        var lease: Int64 = 0
        /// Until when, by this process's clock, the lease is known to be held.
        var leaseHeldUntil: ContinuousClock.Instant = .now - .seconds(1)
        var reachable = false
        var lastFullSweep: ContinuousClock.Instant?
        /// After the database was away, no sweep before this: the other replicas, cut off by the
        /// same outage, renew their leases first instead of losing their jobs to this one.
        var sweepNotBefore: ContinuousClock.Instant = .now
        var closed = false

        mutating func markReachable() {
            if !reachable { sweepNotBefore = .now + PostgresStorage.sweepGraceAfterOutage }
            reachable = true
        }
    }

    let client: PostgresClient
    let logger: Logger
    let leaseSeconds: Double
    let replica: String
    /// Called once if this replica's lease was taken by another replica: its jobs run elsewhere
    /// now, and nothing it holds in memory may act any more. The daemon exits (SPEC §12).
    let onLeaseLost: @Sendable () -> Void
    private let state = Locked(State())
    private let tasks = Locked<[Task<Void, Never>]>([])

    /// Connects lazily: nothing is sent before ``startupState(now:)``.
    public init(
        url: PostgresURL,
        poolSize: Int,
        leaseSeconds: Double,
        replica: String,
        logger: Logger,
        onLeaseLost: @escaping @Sendable () -> Void
    ) {
        let tls: PostgresClient.Configuration.TLS =
            switch url.tls {
            case .disable: .disable
            case .prefer: .prefer(.makeClientConfiguration())
            case .require: .require(.makeClientConfiguration())
            }
        var configuration = PostgresClient.Configuration(
            host: url.host,
            port: url.port,
            username: url.user,
            password: url.password,
            database: url.database,
            tls: tls
        )
        configuration.options.maximumConnections = poolSize
        configuration.options.minimumConnections = 1
        configuration.options.connectTimeout = .seconds(3)
        // The pool logs every failed connection attempt at info: only its warnings reach the log.
        var poolLogger = logger
        poolLogger.logLevel = max(logger.logLevel, .warning)
        client = PostgresClient(configuration: configuration, backgroundLogger: poolLogger)
        self.logger = logger
        self.leaseSeconds = leaseSeconds
        self.replica = replica
        self.onLeaseLost = onLeaseLost
        let client = client
        tasks.withLock { $0.append(Task { await client.run() }) }
    }

    public var lease: Int64 { state.withLock { $0.lease } }

    // MARK: - Writes

    public func record(_ job: RenameJob, sequence: Int) -> Int {
        enqueue { pending in
            if pending.jobs.updateValue((job, sequence), forKey: job.id) == nil { pending.order.append(job.id) }
        }
    }

    public func recordIdempotencyKey(client: String, key: String, jobID: String, body: JSONValue) {
        enqueue { $0.keys.append((client, key, jobID, body)) }
    }

    /// Recorded by ``claimNotification(key:expiresAt:)`` already.
    public func recordNotification(key: String, expiresAt: Date) {}

    public func removeJobs(_ ids: [String]) {
        enqueue { pending in
            for id in ids { pending.jobs[id] = nil }
            pending.order.removeAll { ids.contains($0) }
            pending.keys.removeAll { ids.contains($0.jobID) }
            pending.deletes.formUnion(ids)
        }
    }

    public func releaseCall(_ id: String) {
        enqueue { $0.releases.insert(id) }
    }

    @discardableResult
    private func enqueue(_ change: (inout Pending) -> Void) -> Int {
        let (generation, startFlush) = state.withLock { state in
            change(&state.commit.pending)
            return state.commit.countWrite()
        }
        if startFlush { spawnFlush(after: nil) }
        return generation
    }

    public var committedGeneration: Int { state.withLock { $0.commit.committed } }

    public func sync() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            if !state.withLock({ $0.commit.wait { continuation.resume(with: $0) } }) { continuation.resume() }
        }
    }

    public func acceptanceLost(_ id: String) -> Bool {
        state.withLock { $0.lostAcceptances.remove(id) != nil }
    }

    private func spawnFlush(after delay: Duration?) {
        Task {
            if let delay { try? await Task.sleep(for: delay) }
            await flush()
        }
    }

    private func flush() async {
        let (batch, generation, lease) = state.withLock { state in
            let (batch, generation) = state.commit.takeBatch()
            return (batch, generation, state.lease)
        }
        var failure: (any Error)?
        var lost: Set<String> = []
        if !batch.isEmpty {
            do {
                lost = try await deadline(10) { try await self.write(batch, lease: lease) }
            } catch {
                failure = error
            }
        }
        let (resume, again) = state.withLock { state in
            if failure == nil {
                state.lostAcceptances.formUnion(lost)
                state.markReachable()
            }
            // After close, what could not be written stays unwritten (the lease is given back).
            return state.commit.finish(batch, generation: generation, failed: failure != nil, mayContinue: !state.closed)
        }
        if let failure {
            markUnreachableIfConnection(failure)
            let error = StorageError("cannot write to PostgreSQL: \(Self.describe(failure))")
            logger.error("database write failed; retrying", metadata: ["error": "\(error)"])
            for waiter in resume { waiter(.failure(error)) }
            if again { spawnFlush(after: .seconds(1)) }
            return
        }
        for waiter in resume { waiter(.success(())) }
        if again { spawnFlush(after: nil) }
    }

    /// A write refused by the fence: the lease passed, or the job is another replica's now.
    struct Fenced: Error, CustomStringConvertible {
        var description: String
    }

    /// One transaction: keys first (a key another replica committed first drops its job), then
    /// the fenced upsert of every job, then call releases and deletions. Returns the jobs dropped.
    private func write(_ batch: Pending, lease: Int64) async throws -> Set<String> {
        try await client.withTransaction(logger: logger) { connection in
            var lost: Set<String> = []
            if !batch.keys.isEmpty {
                var inserted: Set<String> = []
                let bodies = try batch.keys.map { String(decoding: try JSONEncoder().encode($0.body), as: UTF8.self) }
                let rows = try await connection.query(
                    """
                    INSERT INTO renamer_idempotency_keys (client, key, job_id, body)
                    SELECT * FROM unnest(\(batch.keys.map(\.client)), \(batch.keys.map(\.key)), \(batch.keys.map(\.jobID)), \(bodies))
                    ON CONFLICT DO NOTHING RETURNING job_id
                    """,
                    logger: logger
                )
                for try await id in rows.decode(String.self) { inserted.insert(id) }
                lost = Set(batch.keys.map(\.jobID)).subtracting(inserted)
            }
            let entries = batch.order.compactMap { batch.jobs[$0] }.filter { !lost.contains($0.job.id) }
            if !entries.isEmpty {
                let rows = JobRows(entries.map(\.job))
                let written = try await connection.query(
                    """
                    INSERT INTO renamer_jobs (id, client, status, cloud, from_key, to_key, owner_lease, finished_at,
                        callback_origin, callback_due_at, body, collection, parent, order_seq)
                    SELECT u.id, u.client, u.status, u.cloud, u.from_key, nullif(u.to_key, ''), \(lease), nullif(u.finished, -1),
                        nullif(u.origin, ''), nullif(u.due, -1), u.body, u.collection, nullif(u.parent, ''),
                        (SELECT p.sequence FROM renamer_jobs p WHERE p.id = nullif(u.parent, ''))
                    FROM unnest(\(rows.ids), \(rows.clients), \(rows.statuses), \(rows.clouds), \(rows.fromKeys), \(rows.toKeys),
                        \(rows.finished), \(rows.origins), \(rows.due), \(rows.bodies), \(rows.collections), \(rows.parents))
                        WITH ORDINALITY AS u(id, client, status, cloud, from_key, to_key, finished, origin, due, body, collection, parent, n)
                    WHERE EXISTS (SELECT 1 FROM renamer_leases WHERE token = \(lease) AND expires_at > now())
                    ORDER BY u.n
                    ON CONFLICT (id) DO UPDATE SET status = excluded.status, finished_at = excluded.finished_at,
                        callback_origin = excluded.callback_origin, callback_due_at = excluded.callback_due_at, body = excluded.body
                    WHERE renamer_jobs.owner_lease = excluded.owner_lease
                    RETURNING id
                    """,
                    logger: logger
                )
                var count = 0
                for try await _ in written.decode(String.self) { count += 1 }
                guard count == entries.count else {
                    throw Fenced(description: "\(entries.count - count) of \(entries.count) job writes refused: the lease passed or was taken")
                }
                // A rename phase that ended frees its public IDs for every replica.
                let ended = entries.filter { !$0.job.status.isQueuedWork }.map(\.job.id)
                if !ended.isEmpty {
                    try await connection.query("DELETE FROM renamer_calls WHERE job_id = ANY(\(ended))", logger: logger)
                }
            }
            if !batch.releases.isEmpty {
                try await connection.query(
                    "UPDATE renamer_calls SET in_call = false WHERE job_id = ANY(\(Array(batch.releases))) AND lease = \(lease)",
                    logger: logger
                )
            }
            if !batch.deletes.isEmpty {
                let ids = Array(batch.deletes)
                try await connection.query("DELETE FROM renamer_idempotency_keys WHERE job_id = ANY(\(ids))", logger: logger)
                try await connection.query("DELETE FROM renamer_jobs WHERE id = ANY(\(ids)) AND owner_lease = \(lease)", logger: logger)
            }
            return lost
        }
    }

    /// The columns of a batch of jobs, as arrays for `unnest` (NULLs as '' and -1).
    struct JobRows {
        var ids: [String] = []
        var clients: [String] = []
        var statuses: [String] = []
        var clouds: [String] = []
        var fromKeys: [String] = []
        var toKeys: [String] = []
        var finished: [Double] = []
        var origins: [String] = []
        var due: [Double] = []
        var bodies: [String] = []
        var collections: [String] = []
        var parents: [String] = []

        init(_ jobs: [RenameJob]) {
            for job in jobs {
                ids.append(job.id)
                clients.append(job.client)
                statuses.append(job.status.rawValue)
                clouds.append(job.cloud)
                let keys = PostgresStorage.assetKeys(job)
                fromKeys.append(keys.from)
                toKeys.append(keys.to ?? "")
                finished.append(job.isSettled ? (job.completedAt ?? job.updatedAt).timeIntervalSince1970 : -1)
                origins.append(job.pendingCallbackOrigin ?? "")
                due.append(job.callbackEvent?.nextAttemptAt?.timeIntervalSince1970 ?? -1)
                bodies.append(String(decoding: StoredJob.encode(job), as: UTF8.self))
                collections.append(job.collection)
                parents.append(job.parent ?? "")
            }
        }
    }

    /// The public IDs a rename holds, as the queue's ``AssetKey`` names them.
    static func assetKeys(_ job: RenameJob) -> (from: String, to: String?) {
        let prefix = "\(job.cloud)/\(job.resourceType.rawValue)/"
        let held = job.heldNames
        return (prefix + held.from, held.to.map { prefix + $0 })
    }

    // MARK: - Reads

    /// The database did not answer in time (it may be down: the pool waits for a connection).
    struct Timeout: Error, CustomStringConvertible {
        var description: String { "the database did not answer in time" }
    }

    /// Runs `body` and answers within `seconds`: a database that is away fails the operation
    /// instead of holding it (and the request that waits for it) until it is back. On timeout
    /// `body` is cancelled but not waited for (a task group would wait for it, and a connection
    /// stuck in a server restart may not end at once).
    func deadline<T: Sendable>(_ seconds: Double = 3, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let race = Race<T>()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            race.start(
                continuation,
                work: Task {
                    do {
                        race.answer(.success(try await body()))
                    } catch {
                        race.answer(.failure(error))
                    }
                },
                timer: Task {
                    guard (try? await Task.sleep(for: .seconds(seconds))) != nil else { return }
                    race.answer(.failure(Timeout()))
                }
            )
        }
    }

    /// The first of an operation and its timer answers; the other is cancelled.
    final class Race<T: Sendable>: Sendable {
        struct State {
            var continuation: CheckedContinuation<T, any Error>?
            var early: Result<T, any Error>?
            var tasks: [Task<Void, Never>] = []
            var done = false
        }

        private let state = Locked(State())

        func start(_ continuation: CheckedContinuation<T, any Error>, work: Task<Void, Never>, timer: Task<Void, Never>) {
            let early = state.withLock { state -> Result<T, any Error>? in
                state.tasks = [work, timer]
                guard let early = state.early else {
                    state.continuation = continuation
                    return nil
                }
                return early
            }
            if let early {
                continuation.resume(with: early)
                work.cancel()
                timer.cancel()
            }
        }

        func answer(_ result: Result<T, any Error>) {
            let (continuation, tasks) = state.withLock { state -> (CheckedContinuation<T, any Error>?, [Task<Void, Never>]) in
                guard !state.done else { return (nil, []) }
                state.done = true
                guard let continuation = state.continuation else {
                    state.early = result
                    return (nil, [])
                }
                state.continuation = nil
                return (continuation, state.tasks)
            }
            continuation?.resume(with: result)
            for task in tasks { task.cancel() }
        }
    }

    private func read<T: Sendable>(
        _ what: String,
        seconds: Double = 3,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws(StorageError) -> T {
        do {
            let value = try await deadline(seconds, body)
            state.withLock { $0.markReachable() }
            return value
        } catch {
            markUnreachableIfConnection(error)
            throw StorageError("cannot read \(what) from PostgreSQL: \(Self.describe(error))")
        }
    }

    private func jobs(_ rows: PostgresRowSequence) async throws -> [RenameJob] {
        var jobs: [RenameJob] = []
        for try await body in rows.decode(String.self) { jobs.append(try StoredJob.read(Array(body.utf8))) }
        return jobs
    }

    public func job(_ id: String) async throws(StorageError) -> RenameJob? {
        try await read("a job") { [self] in
            try await jobs(client.query("SELECT body FROM renamer_jobs WHERE id = \(id)", logger: logger)).first
        }
    }

    public func idempotencyKey(client clientName: String, key: String) async throws(StorageError) -> (jobID: String, body: JSONValue)? {
        try await read("an idempotency key") { [self] () async throws -> (jobID: String, body: JSONValue)? in
            let rows = try await client.query(
                "SELECT job_id, body FROM renamer_idempotency_keys WHERE client = \(clientName) AND key = \(key)",
                logger: logger
            )
            for try await (jobID, body) in rows.decode((String, String).self) {
                return (jobID, try JSONValue.parse(Array(body.utf8)))
            }
            return nil
        }
    }

    public func list(
        client clientName: String,
        collection: String,
        status: JobStatus?,
        limit: Int,
        after: String?
    ) async throws(StorageError) -> JobPage? {
        try await read("a list of jobs") { [self] () async throws -> JobPage? in
            var before = Int64.max
            if let after {
                var found: Int64?
                for try await sequence in try await client.query(
                    "SELECT sequence FROM renamer_jobs WHERE id = \(after) AND client = \(clientName)",
                    logger: logger
                ).decode(Int64.self) {
                    found = sequence
                }
                guard let found else { return nil }
                before = found
            }
            let rows =
                if let status {
                    try await client.query(
                        """
                        SELECT body FROM renamer_jobs
                        WHERE client = \(clientName) AND collection = \(collection) AND status = \(status.rawValue) AND sequence < \(before)
                        ORDER BY sequence DESC LIMIT \(limit + 1)
                        """,
                        logger: logger
                    )
                } else {
                    try await client.query(
                        """
                        SELECT body FROM renamer_jobs WHERE client = \(clientName) AND collection = \(collection) AND sequence < \(before)
                        ORDER BY sequence DESC LIMIT \(limit + 1)
                        """,
                        logger: logger
                    )
                }
            var page = try await jobs(rows)
            let more = page.count > limit
            if more { page.removeLast() }
            return JobPage(jobs: page, next: more ? page.last?.id : nil)
        }
    }

    public func items(parent: String, limit: Int, after: String?) async throws(StorageError) -> JobPage? {
        try await read("a page of items") { [self] () async throws -> JobPage? in
            var from: Int64 = 0
            if let after {
                var found: Int64?
                for try await sequence in try await client.query(
                    "SELECT sequence FROM renamer_jobs WHERE id = \(after) AND parent = \(parent)",
                    logger: logger
                ).decode(Int64.self) {
                    found = sequence
                }
                guard let found else { return nil }
                from = found
            }
            var page = try await jobs(
                try await client.query(
                    "SELECT body FROM renamer_jobs WHERE parent = \(parent) AND sequence > \(from) ORDER BY sequence LIMIT \(limit + 1)",
                    logger: logger
                )
            )
            let more = page.count > limit
            if more { page.removeLast() }
            return JobPage(jobs: page, next: more ? page.last?.id : nil)
        }
    }

    public func itemCounts(parent: String) async throws(StorageError) -> [JobStatus: Int] {
        try await read("item counts") { [self] () async throws -> [JobStatus: Int] in
            var counts: [JobStatus: Int] = [:]
            for try await (status, count) in try await client.query(
                "SELECT status, count(*) FROM renamer_jobs WHERE parent = \(parent) GROUP BY status",
                logger: logger
            ).decode((String, Int64).self) {
                if let status = JobStatus(rawValue: status) { counts[status] = Int(count) }
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
        let lease = lease
        return try await read("due callbacks") { [self] () async throws -> [DueCallbacks] in
            // The origins with a callback due, then per origin its earliest: a dead receiver's
            // backlog never hides another origin's callbacks.
            var origins: [String] = []
            for try await origin in try await client.query(
                """
                SELECT DISTINCT callback_origin FROM renamer_jobs
                WHERE owner_lease = \(lease) AND callback_due_at IS NOT NULL AND callback_due_at <= \(now.timeIntervalSince1970)
                ORDER BY callback_origin LIMIT \(maxOrigins)
                """,
                logger: logger
            ).decode(String.self) {
                origins.append(origin)
            }
            var result: [DueCallbacks] = []
            for origin in origins {
                var due = DueCallbacks(origin: origin, jobs: [], count: 0)
                let rows = try await client.query(
                    """
                    SELECT id, callback_due_at, body FROM renamer_jobs
                    WHERE owner_lease = \(lease) AND callback_origin = \(origin) AND callback_due_at IS NOT NULL
                        AND callback_due_at <= \(now.timeIntervalSince1970)
                    ORDER BY callback_due_at LIMIT \(perOrigin)
                    """,
                    logger: logger
                )
                for try await (id, dueAt, body) in rows.decode((String, Double, String).self) {
                    due.count += 1
                    guard !skipping.contains(id) else { continue }
                    due.jobs.append(try known(id, dueAt) ?? StoredJob.read(Array(body.utf8)))
                }
                if due.count > 0 { result.append(due) }
            }
            return result
        }
    }

    public func nextCallbackDue(after now: Date) async throws(StorageError) -> Date? {
        let lease = lease
        return try await read("the next callback") { [self] () async throws -> Date? in
            for try await due in try await client.query(
                """
                SELECT min(callback_due_at) FROM renamer_jobs
                WHERE owner_lease = \(lease) AND callback_due_at IS NOT NULL AND callback_due_at > \(now.timeIntervalSince1970)
                """,
                logger: logger
            ).decode(Double?.self) {
                return due.map(Date.init(timeIntervalSince1970:))
            }
            return nil
        }
    }

    public func callbackBacklog(now: Date) async throws(StorageError) -> (due: Int, waiting: Int) {
        let lease = lease
        return try await read("the callback backlog") { [self] () async throws -> (due: Int, waiting: Int) in
            for try await (due, all) in try await client.query(
                """
                SELECT count(*) FILTER (WHERE callback_due_at <= \(now.timeIntervalSince1970)), count(*) FROM renamer_jobs
                WHERE owner_lease = \(lease) AND callback_due_at IS NOT NULL
                """,
                logger: logger
            ).decode((Int, Int).self) {
                return (due, all - due)
            }
            return (0, 0)
        }
    }

    // MARK: - Start-up, leases, takeover

    /// Migrates the schema, takes a lease and takes over the jobs of replicas whose lease passed.
    /// Waits for the database while it cannot be reached (logged every few seconds).
    public func startupState(now: Date) async throws(StorageError) -> StartupState {
        var attempt = 0
        while true {
            do {
                try await deadline(30) { [self] in
                    try await PostgresSchema.migrate(client, logger: logger)
                    try await register()
                }
                break
            } catch {
                attempt += 1
                if Task.isCancelled { throw StorageError("stopped while waiting for PostgreSQL") }
                if attempt == 1 || attempt % 5 == 0 {
                    logger.error("PostgreSQL unreachable at start-up; retrying", metadata: ["error": "\(Self.describe(error))"])
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        startRenewing()
        var startup = StartupState()
        startup.unfinished = try await takeOver(full: true).unfinished
        return startup
    }

    private func register() async throws {
        let started = ContinuousClock.now
        var token: Int64?
        for try await value in try await client.query(
            """
            INSERT INTO renamer_leases (replica, expires_at) VALUES (\(replica), now() + make_interval(secs => \(leaseSeconds)))
            RETURNING token
            """,
            logger: logger
        ).decode(Int64.self) {
            token = value
        }
        guard let token else { throw StorageError("no lease token returned") }
        state.withLock { state in
            state.lease = token
            state.leaseHeldUntil = started + .seconds(leaseSeconds)
            state.reachable = true
        }
        logger.notice(
            "lease taken",
            metadata: ["lease": .stringConvertible(token), "replica": "\(replica)", "lease_seconds": .stringConvertible(leaseSeconds)]
        )
    }

    /// Renews the lease every third of its length; retries each second while the database is away.
    private func startRenewing() {
        let task = Task { [self] in
            while !Task.isCancelled {
                let lease = lease
                let started = ContinuousClock.now
                do {
                    let renewed = try await deadline { [self] in
                        var renewed = false
                        for try await _ in try await client.query(
                            """
                            UPDATE renamer_leases SET expires_at = now() + make_interval(secs => \(leaseSeconds))
                            WHERE token = \(lease) RETURNING token
                            """,
                            logger: logger
                        ).decode(Int64.self) {
                            renewed = true
                        }
                        return renewed
                    }
                    guard renewed else {
                        logger.critical("lease lost: another replica took over this replica's jobs", metadata: ["lease": .stringConvertible(lease)])
                        state.withLock { $0.leaseHeldUntil = .now - .seconds(1) }
                        onLeaseLost()
                        return
                    }
                    state.withLock { state in
                        state.leaseHeldUntil = started + .seconds(leaseSeconds)
                        state.markReachable()
                    }
                    try? await Task.sleep(for: .seconds(leaseSeconds / 3))
                } catch {
                    markUnreachableIfConnection(error)
                    logger.warning("lease renewal failed; retrying", metadata: ["error": "\(Self.describe(error))"])
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
        tasks.withLock { $0.append(task) }
    }

    public var holdsLease: Bool {
        state.withLock { ContinuousClock.now < $0.leaseHeldUntil - .seconds(leaseSeconds / 3) }
    }

    public var isReachable: Bool { state.withLock { $0.reachable } }

    /// How long sweeps wait after the database comes back: longer than a renewal retry (1 s) and
    /// its deadline, so every replica that survived the outage renews first.
    static let sweepGraceAfterOutage = Duration.seconds(5)

    /// Any failure but an error the server answered with means the database is away.
    private func markUnreachableIfConnection(_ error: any Error) {
        if let error = error as? PSQLError, error.code == .server { return }
        state.withLock { $0.reachable = false }
    }

    public func takeOver() async throws(StorageError) -> TakenOver {
        // Jobs of a lease that passed are found through the owner index each time; a full sweep for
        // owners with no lease row at all (a write that raced a takeover) runs every minute.
        let full = state.withLock { state in
            guard let last = state.lastFullSweep, ContinuousClock.now - last < .seconds(60) else {
                state.lastFullSweep = .now
                return true
            }
            return false
        }
        return try await takeOver(full: full)
    }

    private func takeOver(full: Bool) async throws(StorageError) -> TakenOver {
        guard state.withLock({ ContinuousClock.now >= $0.sweepNotBefore }) else { return TakenOver() }
        let lease = lease
        return try await read("jobs to take over") { [self] () async throws -> TakenOver in
            try await client.withTransaction(logger: logger) { connection in
                // One sweeper at a time: a sweep sees every lease registered before it.
                try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.takeoverLock))", logger: logger)
                var dead: [Int64] = []
                for try await token in try await connection.query(
                    "DELETE FROM renamer_leases WHERE expires_at < now() RETURNING token",
                    logger: logger
                ).decode(Int64.self) {
                    dead.append(token)
                }
                guard full || !dead.isEmpty else { return TakenOver() }
                if !dead.isEmpty {
                    logger.notice("taking over the jobs of passed leases", metadata: ["leases": .stringConvertible(dead)])
                    try await connection.query("DELETE FROM renamer_calls WHERE lease = ANY(\(dead))", logger: logger)
                }
                let rows =
                    if full {
                        try await connection.query(
                            """
                            UPDATE renamer_jobs j SET owner_lease = \(lease)
                            WHERE j.finished_at IS NULL AND j.owner_lease <> \(lease)
                                AND NOT EXISTS (SELECT 1 FROM renamer_leases l WHERE l.token = j.owner_lease)
                            RETURNING j.sequence, j.callback_due_at IS NOT NULL, j.body
                            """,
                            logger: logger
                        )
                    } else {
                        try await connection.query(
                            """
                            UPDATE renamer_jobs SET owner_lease = \(lease)
                            WHERE finished_at IS NULL AND owner_lease = ANY(\(dead))
                            RETURNING sequence, callback_due_at IS NOT NULL, body
                            """,
                            logger: logger
                        )
                    }
                var adopted: [(job: RenameJob, sequence: Int)] = []
                var callbacks = 0
                for try await (sequence, outbox, body) in rows.decode((Int, Bool, String).self) {
                    // Callbacks waiting for a retry stay in the outbox, now this replica's.
                    if outbox {
                        callbacks += 1
                        continue
                    }
                    adopted.append((try StoredJob.read(Array(body.utf8)), sequence))
                }
                if !adopted.isEmpty || callbacks > 0 {
                    logger.notice(
                        "jobs taken over",
                        metadata: ["jobs": .stringConvertible(adopted.count), "callbacks": .stringConvertible(callbacks)]
                    )
                }
                return TakenOver(unfinished: adopted.sorted { $0.sequence < $1.sequence }, callbacks: callbacks)
            }
        }
    }

    public func claimCall(_ job: RenameJob, limit: Int) async -> CallClaim {
        let lease = lease
        do {
            let answer = try await deadline { [self] in
                var answer = "wait:no answer"
                for try await text in try await client.query(
                    "SELECT renamer_claim_call(\(job.id), \(lease), \(limit)::int, \(leaseSeconds / 3))",
                    logger: logger
                ).decode(String.self) {
                    answer = text
                }
                return answer
            }
            switch answer {
            case "granted": return .granted
            case "lost": return .lost
            case _ where answer.hasPrefix("busy:"): return .cloudBusy(String(answer.dropFirst("busy:".count)))
            default: return .wait(String(answer.dropFirst("wait:".count)))
            }
        } catch {
            markUnreachableIfConnection(error)
            logger.warning("cannot claim a call; asking again", metadata: ["job_id": "\(job.id)", "error": "\(Self.describe(error))"])
            return .cloudBusy("database: \(Self.describe(error))")
        }
    }

    public func takeRequests() async throws(StorageError) -> [ReplicaRequest] {
        let lease = lease
        // A short deadline: this runs every 200 ms, and its failure is how readiness learns first
        // that the database is away.
        return try await read("requests", seconds: 1) { [self] () async throws -> [ReplicaRequest] in
            var requests: [(Int64, ReplicaRequest)] = []
            for try await (id, jobID, kind, at) in try await client.query(
                """
                DELETE FROM renamer_requests r USING renamer_jobs j
                WHERE r.job_id = j.id AND j.owner_lease = \(lease)
                RETURNING r.id, r.job_id, r.kind, r.at
                """,
                logger: logger
            ).decode((Int64, String, String, Double).self) {
                guard let kind = ReplicaRequest.Kind(rawValue: kind) else { continue }
                requests.append((id, ReplicaRequest(jobID: jobID, kind: kind, at: Date(timeIntervalSince1970: at))))
            }
            return requests.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    public func forward(_ request: ReplicaRequest) async throws(StorageError) {
        try await read("a forwarded request") { [self] in
            try await client.query(
                """
                INSERT INTO renamer_requests (job_id, kind, at)
                VALUES (\(request.jobID), \(request.kind.rawValue), \(request.at.timeIntervalSince1970))
                """,
                logger: logger
            )
        }
    }

    public func claimNotification(key: String, expiresAt: Date) async throws(StorageError) -> Bool {
        let now = Date().timeIntervalSince1970
        return try await read("the notification replay window") { [self] () async throws -> Bool in
            var fresh = false
            for try await _ in try await client.query(
                """
                INSERT INTO renamer_notifications (key, expires_at) VALUES (\(key), \(expiresAt.timeIntervalSince1970))
                ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE renamer_notifications.expires_at <= \(now)
                RETURNING 1
                """,
                logger: logger
            ).decode(Int.self) {
                fresh = true
            }
            return fresh
        }
    }

    public func census() async throws(StorageError) -> (unfinishedRenames: Int, replicas: Int) {
        try await read("the queue's depth") { [self] () async throws -> (unfinishedRenames: Int, replicas: Int) in
            for try await (unfinished, replicas) in try await client.query(
                """
                SELECT (SELECT count(*) FROM renamer_jobs WHERE finished_at IS NULL AND status IN ('queued', 'renaming')),
                    (SELECT count(*) FROM renamer_leases WHERE expires_at > now())
                """,
                logger: logger
            ).decode((Int, Int).self) {
                return (unfinished, replicas)
            }
            return (0, 1)
        }
    }

    // MARK: - Housekeeping

    public func purge(finishedBefore cutoff: Date, now: Date) async throws(StorageError) -> Int {
        let cutoff = cutoff.timeIntervalSince1970
        return try await read("a purge", seconds: 300) { [self] () async throws -> Int in
            var total = 0
            while true {
                let deleted = try await client.withTransaction(logger: logger) { connection in
                    // Items go with their folder rename or batch, never before it.
                    let batch = "SELECT id FROM renamer_jobs WHERE finished_at < $1 AND parent IS NULL LIMIT 5000"
                    var bindings = PostgresBindings()
                    bindings.append(cutoff)
                    try await connection.query(
                        PostgresQuery(unsafeSQL: "DELETE FROM renamer_idempotency_keys WHERE job_id IN (\(batch))", binds: bindings),
                        logger: logger
                    )
                    try await connection.query(
                        PostgresQuery(unsafeSQL: "DELETE FROM renamer_jobs WHERE parent IN (\(batch))", binds: bindings),
                        logger: logger
                    )
                    var deleted = 0
                    for try await _ in try await connection.query(
                        PostgresQuery(unsafeSQL: "DELETE FROM renamer_jobs WHERE id IN (\(batch)) RETURNING 1", binds: bindings),
                        logger: logger
                    ).decode(Int.self) {
                        deleted += 1
                    }
                    return deleted
                }
                total += deleted
                if deleted < 5000 { break }
            }
            try await client.query("DELETE FROM renamer_notifications WHERE expires_at <= \(now.timeIntervalSince1970)", logger: logger)
            // Requests for jobs that settled before their owner saw them.
            try await client.query("DELETE FROM renamer_requests WHERE made_at < now() - interval '1 hour'", logger: logger)
            return total
        }
    }

    /// Waits for every recorded write, gives the lease back (its unfinished jobs are taken over at
    /// once by the next sweep, not after the lease would have passed) and closes the pool.
    public func close() async throws {
        defer {
            for task in tasks.withLock({ $0 }) { task.cancel() }
        }
        try? await sync()
        state.withLock { $0.closed = true }
        let lease = lease
        if lease != 0 {
            _ = try? await client.query("UPDATE renamer_leases SET expires_at = now() - interval '1 second' WHERE token = \(lease)", logger: logger)
        }
    }

    /// A PostgreSQL error in one line, with the server's message when there is one.
    static func describe(_ error: any Error) -> String {
        if let error = error as? PostgresTransactionError {
            if let inner = error.closureError ?? error.commitError ?? error.beginError { return describe(inner) }
            if let inner = error.rollbackError { return describe(inner) }
        }
        guard let error = error as? PSQLError else { return "\(error)" }
        if let message = error.serverInfo?[.message] {
            return "\(message) (\(error.serverInfo?[.sqlState] ?? "?"))"
        }
        if let underlying = error.underlying { return "\(error.code): \(underlying)" }
        return "\(error.code)"
    }
}
