/// Where a rename job is in its lifecycle (SPEC §2). The legal transitions live here and only here.
///
/// ```
/// queued ──▶ renaming ──▶ confirming_invalidation ──▶ completed
///   │            ├──────────────────────────────────▶ completed   (invalidate: false)
///   │            └──▶ failed
///   └──▶ cancelled
/// ```
/// `renaming` covers every attempt and the waits between them: once Cloudinary was called the job
/// can no longer be cancelled.
///
/// Other kinds (SPEC §11) use the same table: an asset update goes `queued → updating →
/// completed | failed`; a folder rename in `fixed` mode goes `queued → listing → renaming →
/// completed | failed` (a dynamic one `queued → renaming → completed | failed`).
public enum JobStatus: String, Sendable, Codable, CaseIterable {
    case queued
    case renaming
    case updating
    case listing
    case confirmingInvalidation = "confirming_invalidation"
    case completed
    case failed
    case cancelled

    /// No further change will happen to the rename itself.
    public var isFinal: Bool {
        switch self {
        case .completed, .failed, .cancelled: true
        case .queued, .renaming, .updating, .listing, .confirmingInvalidation: false
        }
    }

    /// The job still holds its place in the queue (what `queue.capacity` bounds): it has not
    /// finished its calls to Cloudinary.
    public var isQueuedWork: Bool {
        switch self {
        case .queued, .renaming, .updating, .listing: true
        case .confirmingInvalidation, .completed, .failed, .cancelled: false
        }
    }

    /// Whether `self → next` is a legal transition.
    public func canMove(to next: JobStatus) -> Bool {
        switch (self, next) {
        case (.queued, .renaming), (.queued, .cancelled), (.queued, .failed),
            (.renaming, .confirmingInvalidation), (.renaming, .completed), (.renaming, .failed),
            (.queued, .updating), (.updating, .completed), (.updating, .failed),
            (.queued, .listing), (.listing, .renaming), (.listing, .completed), (.listing, .failed),
            (.confirmingInvalidation, .completed):
            true
        default:
            false
        }
    }
}
