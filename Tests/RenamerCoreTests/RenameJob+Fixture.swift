import Foundation

@testable import RenamerCore

extension RenameJob {
    /// A job with test defaults; override what a test is about.
    static func fixture(
        id: String = "rn_1",
        client: String = "c",
        cloud: String = "main",
        from: String = "a",
        to: String = "b",
        resourceType: ResourceType = .image,
        type: DeliveryType = .upload,
        invalidate: Bool = false,
        method: Invalidation.Method? = nil,
        callbackURL: String? = nil,
        clientReference: String? = nil,
        attempts: Int = 0,
        now: Date = Date()
    ) -> RenameJob {
        RenameJob(
            id: id,
            client: client,
            status: .queued,
            cloud: cloud,
            fromPublicID: from,
            toPublicID: to,
            resourceType: resourceType,
            type: type,
            toType: nil,
            overwrite: false,
            invalidate: invalidate,
            clientReference: clientReference,
            attempts: attempts,
            createdAt: now,
            updatedAt: now,
            completedAt: nil,
            result: nil,
            invalidation: .init(status: invalidate ? .pending : .notRequested, method: method, confirmedAt: nil),
            error: nil,
            callback: .init(url: callbackURL, status: callbackURL == nil ? .none : .pending, attempts: 0, lastStatus: nil)
        )
    }
}

extension JobStore {
    /// Inserts `job` and moves it through `statuses` in order, as the queue would.
    @discardableResult
    func insert(_ job: RenameJob, movingThrough statuses: [JobStatus], now: Date = Date()) -> RenameJob? {
        guard insert(job, idempotencyKey: nil, body: .null, capacity: 1000) else { return nil }
        var current = job
        for status in statuses {
            current = (try? transition(job.id, now: now) { job throws(JobTransitionError) in try job.move(to: status, now: now) }) ?? current
        }
        return current
    }
}

extension RenameJob {
    /// The transition that leads to `status` from where the job is.
    mutating func move(to status: JobStatus, now: Date) throws(JobTransitionError) {
        switch status {
        case .queued: break
        case .renaming, .updating: try startRenaming()
        case .listing: throw .illegal(id: id, from: self.status, move: "list (folder renames only)")
        case .confirmingInvalidation: try renamed(.init(publicID: toPublicID, version: 1, secureURL: nil), at: now)
        case .completed where self.status == .renaming: try renamed(.init(publicID: toPublicID, version: 1, secureURL: nil), at: now)
        case .completed: try finishInvalidation(.confirmed, at: now)
        case .failed: try fail(.init(code: "cloudinary_error", message: "failed"), at: now)
        case .cancelled: try cancel(at: now)
        }
    }
}
