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
public enum JobStatus: String, Sendable, Codable, CaseIterable {
    case queued
    case renaming
    case confirmingInvalidation = "confirming_invalidation"
    case completed
    case failed
    case cancelled

    /// No further change will happen to the rename itself.
    public var isFinal: Bool {
        switch self {
        case .completed, .failed, .cancelled: true
        case .queued, .renaming, .confirmingInvalidation: false
        }
    }

    /// Whether `self → next` is a legal transition.
    public func canMove(to next: JobStatus) -> Bool {
        switch (self, next) {
        case (.queued, .renaming), (.queued, .cancelled), (.queued, .failed),
            (.renaming, .confirmingInvalidation), (.renaming, .completed), (.renaming, .failed),
            (.confirmingInvalidation, .completed):
            true
        default:
            false
        }
    }
}
