import Foundation
import RenamerCore

/// Per-client token buckets for `max_requests_per_second` (SPEC §2): the bucket holds up to one
/// second's worth of requests (at least one) and refills continuously.
final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    private let rates: [String: Double]
    private let buckets = Locked<[String: Bucket]>([:])
    private let now: @Sendable () -> Double

    init(rates: [String: Double], now: @escaping @Sendable () -> Double = { ProcessInfo.processInfo.systemUptime }) {
        self.rates = rates
        self.now = now
    }

    /// nil when the request may proceed, else the seconds until it would.
    func admit(_ client: String) -> Double? {
        guard let rate = rates[client], rate > 0 else { return nil }
        let capacity = max(1, rate)
        let time = now()
        return buckets.withLock { buckets in
            var bucket = buckets[client] ?? Bucket(tokens: capacity, updated: time)
            bucket.tokens = min(capacity, bucket.tokens + (time - bucket.updated) * rate)
            bucket.updated = time
            defer { buckets[client] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return (1 - bucket.tokens) / rate
        }
    }

    /// Gives back the token an admitted request did not use (it was not accepted after all, and the
    /// route admits it again).
    func refund(_ client: String) {
        guard let rate = rates[client], rate > 0 else { return }
        buckets.withLock { buckets in
            if let bucket = buckets[client] { buckets[client]?.tokens = min(max(1, rate), bucket.tokens + 1) }
        }
    }
}
