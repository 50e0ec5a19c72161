import RenamerCore

/// One metric family the daemon exports: its name, what it measures, its kind and the label sets
/// known in advance.
///
/// Every family is registered when the daemon starts, with `# HELP` and a zero sample for each
/// known label set, so that an alert on a rate sees 0 rather than "no data" until the first event
/// (SPEC §10). The README's metrics table lists the same families (a test keeps them equal).
public struct MetricFamily: Sendable {
    public enum Kind: Sendable {
        case counter
        case gauge
        /// A histogram of durations, with the upper bounds of its buckets in seconds.
        case durationHistogram(buckets: [Double])
    }

    public let name: String
    public let help: String
    public let kind: Kind
    /// Label sets that exist from start-up; `[[]]` for a family without labels.
    public let labelSets: [[(String, String)]]

    init(_ name: String, _ kind: Kind, _ help: String, labels: [String: [String]] = [:]) {
        self.name = name
        self.kind = kind
        self.help = help
        // Every combination of the known values, names in a fixed order.
        var sets: [[(String, String)]] = [[]]
        for (label, values) in labels.sorted(by: { $0.key < $1.key }) {
            sets = sets.flatMap { set in values.map { set + [(label, $0)] } }
        }
        labelSets = sets
    }
}

extension MetricFamily {
    /// Latency of calls that a timeout bounds (Cloudinary: `timeout_seconds`, default 30;
    /// callbacks: 15): from 5 ms to a minute.
    static let callBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60]
    /// Invalidation takes "a few seconds to a few minutes", bounded by `max_wait_seconds` (900).
    static let confirmationBuckets: [Double] = [1, 2, 5, 10, 20, 30, 60, 120, 180, 300, 600, 900, 1800]
    /// A journal commit is one fsync: sub-millisecond to a slow disk's second.
    static let commitBuckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

    static let invalidationLabels = [
        "method": [RenameJob.Invalidation.Method.probe, .notification, .delay].map(\.rawValue),
        "outcome": [RenameJob.Invalidation.Status.confirmed, .unconfirmed].map(\.rawValue),
    ]

    /// Every family the daemon exports.
    public static let all: [MetricFamily] = [
        MetricFamily("renamer_renames_accepted_total", .counter, "Renames answered 202, not counting idempotent replays."),
        MetricFamily(
            "renamer_jobs_accepted_total",
            .counter,
            "Jobs answered 202 by kind (renames, asset updates, folder renames, batches), not counting idempotent replays.",
            labels: ["kind": JobKind.allCases.map(\.rawValue)]
        ),
        MetricFamily(
            "renamer_items_finished_total",
            .counter,
            "Items of folder renames and batches that reached a final status (cancelled: skipped).",
            labels: ["status": [JobStatus.completed, .failed, .cancelled].map(\.rawValue)]
        ),
        MetricFamily(
            "renamer_renames_rejected_total",
            .counter,
            "Renames refused, by reason.",
            labels: [
                "reason": [
                    "unauthorized", "unavailable", "unsupported_media_type", "too_large", "malformed", "invalid", "forbidden",
                    "idempotency_mismatch", "idempotency_in_flight", "rate_limited", "queue_full", "journal_unavailable",
                ]
            ]
        ),
        MetricFamily("renamer_queue_depth", .gauge, "Jobs whose rename is not final yet (queued or renaming)."),
        MetricFamily("renamer_queue_oldest_job_age_seconds", .gauge, "Age of the oldest job whose rename is not final, at scrape time."),
        MetricFamily(
            "renamer_cloudinary_requests_total",
            .counter,
            "Cloudinary rename calls and reconciliation lookups, by outcome.",
            labels: ["outcome": ["success", "transient_error", "rate_limited", "final_error", "not_sent", "outcome_unknown", "lookup"]]
        ),
        MetricFamily("renamer_cloudinary_request_duration_seconds", .durationHistogram(buckets: callBuckets), "Latency of Cloudinary rename calls."),
        MetricFamily("renamer_retries_total", .counter, "Retries scheduled after a transient error or an unknown outcome."),
        MetricFamily(
            "renamer_admin_api_budget_waits_total",
            .counter,
            "Times Admin API work (asset updates, folder renames, listings) waited because a cloud's Admin API budget was spent."
        ),
        MetricFamily(
            "renamer_notifications_total",
            .counter,
            "Cloudinary notifications, by result.",
            labels: ["result": NotificationIntake.Result.allCases.map(\.rawValue) + ["rejected", "invalid", "too_large"]]
        ),
        MetricFamily("renamer_probes_total", .counter, "CDN probes of old delivery URLs, by result.", labels: ["result": ["gone", "served"]]),
        MetricFamily(
            "renamer_invalidations_total",
            .counter,
            "Invalidation confirmations, by method and outcome.",
            labels: invalidationLabels
        ),
        MetricFamily(
            "renamer_invalidation_confirmation_seconds",
            .durationHistogram(buckets: confirmationBuckets),
            "Time from a successful rename to its invalidation's confirmation (or giving up), by method and outcome.",
            labels: invalidationLabels
        ),
        MetricFamily(
            "renamer_callbacks_total",
            .counter,
            "Callback attempts, by outcome.",
            labels: ["outcome": ["delivered", "retry", "failed", "gone"]]
        ),
        MetricFamily(
            "renamer_callbacks_backlog",
            .gauge,
            "Callbacks waiting for a delivery slot (due), being delivered (in_flight) or waiting for their retry time (retrying), at scrape time.",
            labels: ["state": ["due", "in_flight", "retrying"]]
        ),
        MetricFamily("renamer_callback_duration_seconds", .durationHistogram(buckets: callBuckets), "Latency of callback attempts."),
        MetricFamily(
            "renamer_jobs_finished_total",
            .counter,
            "Jobs that reached a final status.",
            labels: ["status": [JobStatus.completed, .failed, .cancelled].map(\.rawValue)]
        ),
        MetricFamily(
            "renamer_journal_commit_duration_seconds",
            .durationHistogram(buckets: commitBuckets),
            "Latency of journal transactions (group commits)."
        ),
        MetricFamily("renamer_journal_job_writes_total", .counter, "Job rows written to the journal; per commit: jobs per group commit."),
        MetricFamily(
            "renamer_call_claims_total",
            .counter,
            "Several replicas: Cloudinary calls asked for in the database before they were made, by answer.",
            labels: ["result": ["granted", "wait", "cloud_busy", "lost"]]
        ),
        MetricFamily(
            "renamer_taken_over_total",
            .counter,
            "Several replicas: unfinished jobs and pending callbacks taken over from replicas whose lease passed.",
            labels: ["kind": ["job", "callback"]]
        ),
        MetricFamily(
            "renamer_forwarded_requests_total",
            .counter,
            "Several replicas: requests that reached another replica, applied here as the job's owner.",
            labels: ["kind": ["notification", "cancel"]]
        ),
        MetricFamily(
            "renamer_illegal_transitions_total",
            .counter,
            "Job status changes refused that no expected race explains (each also logs an error).",
            labels: [
                "move": [
                    "start", "cancel", "count_attempt", "renamed", "fail", "finish_invalidation", "retry_callback", "end_callback", "unknown_job",
                ]
            ]
        ),
    ]
}
