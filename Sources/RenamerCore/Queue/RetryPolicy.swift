import RenamerConfig

/// When and whether to call Cloudinary again (SPEC §3).
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseSeconds: Double
    public var capSeconds: Double
    /// Uniform random number in the range; injectable for tests.
    public var random: @Sendable (ClosedRange<Double>) -> Double

    public init(
        _ queue: RenamerConfiguration.Queue,
        random: @escaping @Sendable (ClosedRange<Double>) -> Double = { Double.random(in: $0) }
    ) {
        maxAttempts = queue.maxAttempts
        baseSeconds = queue.backoffBaseSeconds
        capSeconds = queue.backoffCapSeconds
        self.random = random
    }

    /// Statuses after which the same call may succeed later.
    public static func isTransient(status: Int) -> Bool {
        status == 420 || status == 423 || status == 429 || (500...599).contains(status)
    }

    /// Statuses that pause the whole cloud until the retry time.
    public static func pausesCloud(status: Int) -> Bool {
        status == 420 || status == 429
    }

    /// Exponential backoff with full jitter after `attempts` calls, never sooner than `retryAfter`.
    public func delay(afterAttempts attempts: Int, retryAfter: Double?) -> Double {
        let exponent = Double(max(0, attempts - 1))
        let ceiling = min(capSeconds, baseSeconds * pow2(exponent))
        let jittered = random(0...ceiling)
        return max(jittered, retryAfter ?? 0)
    }

    private func pow2(_ exponent: Double) -> Double {
        exponent >= 62 ? .infinity : Double(UInt64(1) << UInt64(exponent))
    }
}
