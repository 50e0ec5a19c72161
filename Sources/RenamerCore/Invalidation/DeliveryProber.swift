/// Asks the CDN whether it still serves a URL: the seam tests substitute (SPEC §5).
public protocol DeliveryProber: Sendable {
    /// One `HEAD` request, redirects not followed.
    func probe(url: String, timeout: Double) async -> ProbeOutcome
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
