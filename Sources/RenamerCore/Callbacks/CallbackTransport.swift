/// Posts one callback: the seam tests substitute (SPEC §6).
public protocol CallbackTransport: Sendable {
    /// One `POST`, redirects not followed, bounded by `timeout` seconds.
    func post(url: String, headers: [(String, String)], body: [UInt8], timeout: Double) async -> CallbackResponse
}

/// What one delivery attempt got back.
public enum CallbackResponse: Sendable, Equatable {
    case status(Int, retryAfter: Double?)
    /// No HTTP answer (refused, reset, timed out).
    case failed(reason: String)
}
