import Foundation

/// Cloudinary's per-account Admin API budget: a fixed window that starts with the first call, and
/// `420` for every call past the budget until the window ends.
struct AdminAPIRateLimit {
    /// What one Admin API call was told: whether it may proceed, and its `X-FeatureRateLimit-*` values.
    struct Admission {
        var admitted: Bool
        var limit: Int
        var remaining: Int
        var reset: Date
    }

    private var windowStart: Date?
    private(set) var inWindow = 0
    /// Admin API calls answered, `420`s included.
    private(set) var calls = 0
    private(set) var rejected = 0
    /// The most calls admitted within one window.
    private(set) var maxInWindow = 0

    /// Counts a call at `now`, restarting the window if it has ended.
    mutating func admit(now: Date, budget: Int?, windowSeconds: Double) -> Admission {
        if windowStart.map({ now >= $0.addingTimeInterval(windowSeconds) }) ?? true {
            windowStart = now
            inWindow = 0
        }
        let reset = (windowStart ?? now).addingTimeInterval(windowSeconds)
        let limit = budget ?? EmulatorSettings.unlimitedAdminAPIBudget
        calls += 1
        if let budget, inWindow >= budget {
            rejected += 1
            return Admission(admitted: false, limit: limit, remaining: 0, reset: reset)
        }
        inWindow += 1
        maxInWindow = max(maxInWindow, inWindow)
        return Admission(admitted: true, limit: limit, remaining: max(0, limit - inWindow), reset: reset)
    }

    /// Starts a fresh window with the next call (after the budget or the window length changed).
    mutating func restartWindow() {
        windowStart = nil
        inWindow = 0
    }
}

/// `GET /_emulator/admin-usage`: how the Admin API budget was spent.
public struct EmulatorAdminUsage: Sendable, Equatable, Encodable {
    /// Admin API calls answered, `420`s included.
    public var calls: Int
    /// Calls answered `420`.
    public var rejected: Int
    /// The budget per window; nil when unlimited.
    public var limit: Int?
    /// The most calls admitted (not `420`) within one window: never above `limit`.
    public var maxInWindow: Int
    /// Calls admitted in the current window.
    public var inWindow: Int
    public var windowSeconds: Double

    enum CodingKeys: String, CodingKey {
        case calls, rejected, limit
        case maxInWindow = "max_in_window"
        case inWindow = "in_window"
        case windowSeconds = "window_seconds"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(calls, forKey: .calls)
        try container.encode(rejected, forKey: .rejected)
        // `null` when unlimited, rather than omitted.
        try container.encode(limit, forKey: .limit)
        try container.encode(maxInWindow, forKey: .maxInWindow)
        try container.encode(inWindow, forKey: .inWindow)
        try container.encode(windowSeconds, forKey: .windowSeconds)
    }
}
