/// Asks the CDN whether it still serves a URL: the seam tests substitute (SPEC §5).
public protocol DeliveryProber: Sendable {
    /// One `HEAD` request, redirects not followed.
    func probe(url: String, timeout: Double) async -> ProbeOutcome

    /// The same probe, its outcome passed to `done` on whichever thread has it (no task to resume:
    /// the confirmer hands it to its own queue). The default runs ``probe(url:timeout:)`` in a task
    /// of `tasks`.
    func probe(url: String, timeout: Double, tasks: TrackedTasks, then done: @escaping @Sendable (ProbeOutcome) -> Void)
}

extension DeliveryProber {
    public func probe(url: String, timeout: Double, tasks: TrackedTasks, then done: @escaping @Sendable (ProbeOutcome) -> Void) {
        tasks.spawn { done(await probe(url: url, timeout: timeout)) }
    }
}

/// What one probe saw.
public enum ProbeOutcome: Sendable, Equatable {
    /// An HTTP status.
    case status(Int)
    /// No HTTP answer.
    case failed(reason: String)

    /// 404, or another 4xx except 429: the CDN no longer serves the old URL.
    public var showsGone: Bool {
        guard case .status(let status) = self else { return false }
        return (400...499).contains(status) && status != 429
    }
}
