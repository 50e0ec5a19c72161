import Logging
import PostgresNIO

/// The schema, created and migrated at start-up under an advisory lock, so replicas that start
/// together migrate once (SPEC §12). Each version is applied in its own transaction.
enum PostgresSchema {
    /// `pg_advisory_lock` keys (arbitrary constants, one per purpose).
    static let migrationLock: Int64 = 0x7265_6E61_6D65_7201
    static let takeoverLock: Int64 = 0x7265_6E61_6D65_7202

    /// Times are seconds since 1970 (`double precision`) as the daemon's clock gives them, but for
    /// leases, which only the database's clock measures (`now()`), so that replicas' clocks never
    /// decide who owns a job.
    static let versions: [[String]] = [
        [
            """
            CREATE TABLE renamer_leases (
                token bigserial PRIMARY KEY,
                replica text NOT NULL,
                expires_at timestamptz NOT NULL
            )
            """,
            // owner_lease: the lease of the replica that runs the job; finished_at: set once nothing
            // more will happen to the job (final and callback over). from_key/to_key name the
            // public IDs a rename holds (cloud/resource type/public ID); to_key is NULL for a
            // rename to itself.
            """
            CREATE TABLE renamer_jobs (
                id text PRIMARY KEY,
                sequence bigserial NOT NULL,
                client text NOT NULL,
                status text NOT NULL,
                cloud text NOT NULL,
                from_key text NOT NULL,
                to_key text,
                owner_lease bigint NOT NULL,
                finished_at double precision,
                callback_origin text,
                callback_due_at double precision,
                body text NOT NULL
            )
            """,
            "CREATE INDEX renamer_jobs_owner ON renamer_jobs (owner_lease) WHERE finished_at IS NULL",
            "CREATE INDEX renamer_jobs_client ON renamer_jobs (client, sequence)",
            "CREATE INDEX renamer_jobs_client_status ON renamer_jobs (client, status, sequence)",
            "CREATE INDEX renamer_jobs_finished ON renamer_jobs (finished_at) WHERE finished_at IS NOT NULL",
            "CREATE INDEX renamer_jobs_from ON renamer_jobs (from_key, sequence) WHERE status IN ('queued', 'renaming')",
            "CREATE INDEX renamer_jobs_to ON renamer_jobs (to_key, sequence) WHERE status IN ('queued', 'renaming')",
            """
            CREATE INDEX renamer_jobs_callbacks ON renamer_jobs (owner_lease, callback_origin, callback_due_at)
                WHERE callback_due_at IS NOT NULL
            """,
            """
            CREATE TABLE renamer_idempotency_keys (
                client text NOT NULL,
                key text NOT NULL,
                job_id text NOT NULL,
                body text NOT NULL,
                PRIMARY KEY (client, key)
            )
            """,
            "CREATE INDEX renamer_idempotency_keys_job ON renamer_idempotency_keys (job_id)",
            "CREATE TABLE renamer_notifications (key text PRIMARY KEY, expires_at double precision NOT NULL)",
            "CREATE INDEX renamer_notifications_expiry ON renamer_notifications (expires_at)",
            // Requests for a job's owner made at another replica (notifications, cancels).
            """
            CREATE TABLE renamer_requests (
                id bigserial PRIMARY KEY,
                job_id text NOT NULL,
                kind text NOT NULL,
                at double precision NOT NULL,
                made_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX renamer_requests_job ON renamer_requests (job_id)",
            // Jobs whose rename phase holds public IDs across replicas; in_call: a call is in flight
            // (what the per-cloud limit counts). Rows of passed leases count for nothing.
            """
            CREATE TABLE renamer_calls (
                job_id text PRIMARY KEY,
                cloud text NOT NULL,
                from_key text NOT NULL,
                to_key text,
                lease bigint NOT NULL,
                in_call boolean NOT NULL
            )
            """,
            "CREATE INDEX renamer_calls_cloud ON renamer_calls (cloud) WHERE in_call",
            "CREATE INDEX renamer_calls_from ON renamer_calls (from_key)",
            "CREATE INDEX renamer_calls_to ON renamer_calls (to_key)",
            // One round trip per claim, atomic per cloud (the advisory lock serializes claims of one
            // cloud, so the count and the public-ID check cannot race).
            """
            CREATE FUNCTION renamer_claim_call(p_job text, p_lease bigint, p_limit int, p_margin double precision)
            RETURNS text LANGUAGE plpgsql AS $$
            DECLARE
                j renamer_jobs%ROWTYPE;
                busy int;
            BEGIN
                SELECT * INTO j FROM renamer_jobs WHERE id = p_job;
                IF NOT FOUND THEN RETURN 'wait:not yet stored'; END IF;
                IF j.owner_lease <> p_lease THEN RETURN 'lost'; END IF;
                IF NOT EXISTS (
                    SELECT 1 FROM renamer_leases
                    WHERE token = p_lease AND expires_at > now() + make_interval(secs => p_margin)
                ) THEN RETURN 'busy:lease'; END IF;
                IF EXISTS (
                    SELECT 1 FROM renamer_jobs o
                    WHERE o.status IN ('queued', 'renaming') AND o.sequence < j.sequence
                        AND (o.from_key IN (j.from_key, j.to_key) OR o.to_key IN (j.from_key, j.to_key))
                ) THEN RETURN 'wait:an earlier job holds its public ID'; END IF;
                PERFORM pg_advisory_xact_lock(hashtext('renamer_cloud:' || j.cloud));
                IF EXISTS (
                    SELECT 1 FROM renamer_calls c JOIN renamer_leases l ON l.token = c.lease AND l.expires_at > now()
                    WHERE c.job_id <> p_job
                        AND (c.from_key IN (j.from_key, j.to_key) OR c.to_key IN (j.from_key, j.to_key))
                ) THEN RETURN 'wait:another replica renames its public ID'; END IF;
                SELECT count(*) INTO busy FROM renamer_calls c JOIN renamer_leases l ON l.token = c.lease AND l.expires_at > now()
                    WHERE c.cloud = j.cloud AND c.in_call AND c.job_id <> p_job;
                IF busy >= p_limit THEN RETURN 'busy:cloud at its limit on all replicas'; END IF;
                INSERT INTO renamer_calls (job_id, cloud, from_key, to_key, lease, in_call)
                    VALUES (p_job, j.cloud, j.from_key, j.to_key, p_lease, true)
                    ON CONFLICT (job_id) DO UPDATE SET lease = p_lease, in_call = true;
                RETURN 'granted';
            END
            $$
            """,
        ],
        // Kinds of jobs (SPEC §11): lists read one collection, items are read by their parent,
        // and asset updates and folder listings hold their names like renames. order_seq: an item
        // of a folder rename is ordered where its folder rename was accepted (its parent's
        // sequence), ahead of jobs accepted after the folder rename; NULL for other jobs (their
        // own sequence).
        [
            "ALTER TABLE renamer_jobs ADD COLUMN collection text NOT NULL DEFAULT 'rename'",
            "ALTER TABLE renamer_jobs ADD COLUMN parent text",
            "ALTER TABLE renamer_jobs ADD COLUMN order_seq bigint",
            "DROP INDEX renamer_jobs_client",
            "DROP INDEX renamer_jobs_client_status",
            "CREATE INDEX renamer_jobs_client ON renamer_jobs (client, collection, sequence)",
            "CREATE INDEX renamer_jobs_client_status ON renamer_jobs (client, collection, status, sequence)",
            "CREATE INDEX renamer_jobs_parent ON renamer_jobs (parent, sequence) WHERE parent IS NOT NULL",
            "DROP INDEX renamer_jobs_from",
            "DROP INDEX renamer_jobs_to",
            "CREATE INDEX renamer_jobs_from ON renamer_jobs (from_key, sequence) WHERE status IN ('queued', 'renaming', 'updating', 'listing')",
            "CREATE INDEX renamer_jobs_to ON renamer_jobs (to_key, sequence) WHERE status IN ('queued', 'renaming', 'updating', 'listing')",
            """
            CREATE OR REPLACE FUNCTION renamer_claim_call(p_job text, p_lease bigint, p_limit int, p_margin double precision)
            RETURNS text LANGUAGE plpgsql AS $$
            DECLARE
                j renamer_jobs%ROWTYPE;
                busy int;
            BEGIN
                SELECT * INTO j FROM renamer_jobs WHERE id = p_job;
                IF NOT FOUND THEN RETURN 'wait:not yet stored'; END IF;
                IF j.owner_lease <> p_lease THEN RETURN 'lost'; END IF;
                IF NOT EXISTS (
                    SELECT 1 FROM renamer_leases
                    WHERE token = p_lease AND expires_at > now() + make_interval(secs => p_margin)
                ) THEN RETURN 'busy:lease'; END IF;
                IF EXISTS (
                    SELECT 1 FROM renamer_jobs o
                    WHERE o.status IN ('queued', 'renaming', 'updating', 'listing') AND (coalesce(o.order_seq, o.sequence), o.sequence) < (coalesce(j.order_seq, j.sequence), j.sequence)
                        AND (o.from_key IN (j.from_key, j.to_key) OR o.to_key IN (j.from_key, j.to_key))
                ) THEN RETURN 'wait:an earlier job holds its public ID'; END IF;
                PERFORM pg_advisory_xact_lock(hashtext('renamer_cloud:' || j.cloud));
                IF EXISTS (
                    SELECT 1 FROM renamer_calls c JOIN renamer_leases l ON l.token = c.lease AND l.expires_at > now()
                    WHERE c.job_id <> p_job
                        AND (c.from_key IN (j.from_key, j.to_key) OR c.to_key IN (j.from_key, j.to_key))
                ) THEN RETURN 'wait:another replica renames its public ID'; END IF;
                SELECT count(*) INTO busy FROM renamer_calls c JOIN renamer_leases l ON l.token = c.lease AND l.expires_at > now()
                    WHERE c.cloud = j.cloud AND c.in_call AND c.job_id <> p_job;
                IF busy >= p_limit THEN RETURN 'busy:cloud at its limit on all replicas'; END IF;
                INSERT INTO renamer_calls (job_id, cloud, from_key, to_key, lease, in_call)
                    VALUES (p_job, j.cloud, j.from_key, j.to_key, p_lease, true)
                    ON CONFLICT (job_id) DO UPDATE SET lease = p_lease, in_call = true;
                RETURN 'granted';
            END
            $$
            """,
        ],
    ]

    /// Brings the schema to the latest version; safe when several replicas call it at once.
    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(migrationLock))", logger: logger)
            do {
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS renamer_schema_version (version int NOT NULL)",
                    logger: logger
                )
                var current = 0
                for try await version in try await connection.query(
                    "SELECT coalesce(max(version), 0)::int8 FROM renamer_schema_version",
                    logger: logger
                ).decode(Int.self) {
                    current = version
                }
                for (index, statements) in versions.enumerated() where index + 1 > current {
                    let version = index + 1
                    try await connection.withTransaction(logger: logger) { connection in
                        for statement in statements {
                            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                        }
                        try await connection.query("INSERT INTO renamer_schema_version (version) VALUES (\(version))", logger: logger)
                    }
                    logger.notice("database schema migrated", metadata: ["version": .stringConvertible(version)])
                }
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(migrationLock))", logger: logger)
                throw error
            }
            try await connection.query("SELECT pg_advisory_unlock(\(migrationLock))", logger: logger)
        }
    }
}
