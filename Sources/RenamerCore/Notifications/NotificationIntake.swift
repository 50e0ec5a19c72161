import Foundation
import Logging
import Metrics

/// Applies verified Cloudinary notifications to jobs (SPEC §4, §10).
///
/// A `rename` notification advances the job whose cloud, `from_public_id` and `to_public_id` match
/// (and `resource_type`/`type` when the body has them). The `job` query parameter is only a hint that
/// picks among matching jobs; it never selects a job the body does not match. Other notification
/// types, and renames no job matches, are ignored.
public struct NotificationIntake: Sendable {
    public enum Result: String, Sendable, CaseIterable {
        case accepted, duplicate, ignored
    }

    let store: JobStore
    let confirmer: InvalidationConfirmer
    let clock: any RenamerClock
    let logger: Logger

    public init(store: JobStore, confirmer: InvalidationConfirmer, clock: any RenamerClock, logger: Logger) {
        self.store = store
        self.confirmer = confirmer
        self.clock = clock
        self.logger = logger
    }

    /// What a `rename` notification names.
    struct Rename {
        var cloud: String
        var from: String
        var to: String
        var resourceType: String?
        var type: String?

        init?(cloud: String, body: [String: JSONValue]) {
            guard case .string("rename")? = body["notification_type"],
                case .string(let from)? = body["from_public_id"],
                case .string(let to)? = body["to_public_id"]
            else { return nil }
            (self.cloud, self.from, self.to) = (cloud, from, to)
            resourceType = NotificationIntake.string(body["resource_type"])
            type = NotificationIntake.string(body["type"])
        }

        func matches(_ job: RenameJob) -> Bool {
            job.cloud == cloud && job.fromPublicID == from && job.toPublicID == to
                && (resourceType == nil || resourceType == job.resourceType.rawValue)
                && (type == nil || type == job.type.rawValue || type == (job.toType ?? job.type).rawValue)
        }
    }

    /// Handles one verified notification body for `cloud`.
    ///
    /// Jobs waiting for a notification are in memory; a job that already finished is found among
    /// the last jobs that left memory, or read from storage by the `job` hint (the daemon's
    /// `notification_url` always carries it), and the notification is `accepted` without changing
    /// it. Without a hint, an older finished job is not looked for: `ignored`.
    public func handle(cloud: String, jobHint: String?, body: [String: JSONValue]) async -> Result {
        if let result = handleInMemory(cloud: cloud, jobHint: jobHint, body: body) { return result }
        // A job that left memory a while ago, or another replica's: `handleInMemory` returns nil
        // only for a rename with a job hint.
        guard let rename = Rename(cloud: cloud, body: body), let jobHint else { return .ignored }
        let finished = if let recent = store.recentlySettled(jobHint) { recent } else { try? await store.job(jobHint) }
        if let finished, rename.matches(finished) {
            // Another replica's job that waits for it (SPEC §12): its owner applies it.
            if !finished.status.isFinal, let replicas = store.replicas {
                try? await replicas.forward(ReplicaRequest(jobID: finished.id, kind: .notification, at: clock.now()))
            }
            return .accepted
        }
        logger.info("notification matches no job", metadata: ["cloud": "\(cloud)"])
        return .ignored
    }

    /// ``handle(cloud:jobHint:body:)`` when memory has the answer (a job waiting for the
    /// notification, or one that left memory lately): no suspension, so the event loop that read
    /// the notification can apply it. Nil when the answer needs a read from storage or a word
    /// with another replica.
    public func handleInMemory(cloud: String, jobHint: String?, body: [String: JSONValue]) -> Result? {
        guard let rename = Rename(cloud: cloud, body: body) else { return .ignored }
        // Filtered in place and searched without further arrays: each copy of a job is ~20
        // reference counts.
        var candidates = store.jobs(cloud: cloud, from: rename.from, to: rename.to)
        candidates.removeAll { !rename.matches($0) }
        func awaiting(_ job: RenameJob) -> Bool { job.status == .renaming || job.status == .confirmingInvalidation }
        guard
            let target = candidates.first(where: { $0.id == jobHint })
                ?? candidates.first(where: { awaiting($0) && $0.notifiedAt == nil }) ?? candidates.first(where: awaiting)
                ?? candidates.last
        else {
            if let jobHint {
                guard let recent = store.recentlySettled(jobHint) else { return nil }
                if rename.matches(recent) { return !recent.status.isFinal && store.replicas != nil ? nil : .accepted }
            } else if store.recentlySettled(where: rename.matches) {
                return .accepted
            }
            logger.info("notification matches no job", metadata: ["cloud": "\(cloud)"])
            return .ignored
        }
        let now = clock.now()
        // A job confirmed by probing (SPEC §5) only notes the time, which the API does not show
        // and which decides nothing: it is written with the job's next change (its probe's
        // outcome, ~1 ms later) instead of as a row of its own. What the answer acknowledges, the
        // notification's replay entry, is still durable before it.
        let decides = target.invalidation.method != .probe
        // The job may have settled and left memory since it was found: nothing is waiting for it then.
        if let job = try? store.transition(target.id, now: now, recording: decides, { $0.noteNotification(at: now) }) {
            logger.info("rename notification verified", metadata: ["job_id": "\(job.id)", "cloud": "\(cloud)"])
            confirmer.notificationArrived(job)
        }
        return .accepted
    }

    static func string(_ value: JSONValue?) -> String? {
        if case .string(let text)? = value { return text }
        return nil
    }
}
