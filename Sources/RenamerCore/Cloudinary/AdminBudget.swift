import DequeModule
import Foundation
import Synchronization

/// The Admin API budget of each cloud (SPEC §11): Cloudinary limits Admin API calls per account and
/// hour (500 or 2,000), and a spent budget answers `420` until the hour turns.
///
/// - At most `admin_api_max_requests_per_hour` calls in any trailing hour (a sliding window: so
///   also in any hour Cloudinary counts).
/// - `X-FeatureRateLimit-Remaining: 0` or a `420` stops Admin API calls until
///   `X-FeatureRateLimit-Reset` (or a minute, without the header).
///
/// Only Admin API calls spend it: resource lookups, asset updates, folder renames and listings.
/// Upload API renames go on while it is spent.
public final class AdminBudget: Sendable {
    struct CloudState {
        /// When each call of the trailing hour was made, oldest first (at most the budget).
        var calls: Deque<Date> = []
        /// Until when Cloudinary said no call may go (its budget is spent, or it answered 420).
        var blockedUntil: Date?
    }

    private let state = Locked([String: CloudState]())
    /// Replicas spending the same accounts' budgets (SPEC §12): each spends its share.
    private let replicas = Atomic<Int>(1)
    let window: TimeInterval

    public init(window: TimeInterval = 3600) {
        self.window = window
    }

    /// Several replicas share each budget: this one spends at most its share (at least 1 a hour).
    public func share(among count: Int) {
        replicas.store(max(1, count), ordering: .relaxed)
    }

    private func share(of limit: Int) -> Int {
        max(1, limit / replicas.load(ordering: .relaxed))
    }

    /// Seconds until a call on `cloud` is allowed, or nil when one is allowed now. Does not spend.
    public func wait(cloud: String, limit: Int, now: Date = Date()) -> Double? {
        let limit = share(of: limit)
        return state.withLock { state in Self.wait(&state[cloud, default: .init()], limit: limit, window: window, now: now) }
    }

    /// Spends one call if the budget allows it now; else returns the seconds to wait.
    public func spend(cloud: String, limit: Int, now: Date = Date()) -> Double? {
        let limit = share(of: limit)
        return state.withLock { state in
            if let wait = Self.wait(&state[cloud, default: .init()], limit: limit, window: window, now: now) { return wait }
            state[cloud, default: .init()].calls.append(now)
            return nil
        }
    }

    /// What Cloudinary's answer said about the account's budget: `remaining` calls until `reset`;
    /// `rateLimited` for a `420`.
    public func observe(cloud: String, remaining: Int?, reset: Date?, rateLimited: Bool, now: Date = Date()) {
        guard rateLimited || remaining == 0 else { return }
        let until = reset.map { max($0, now.addingTimeInterval(1)) } ?? now.addingTimeInterval(Self.defaultPauseSeconds)
        state.withLock { state in
            let current = state[cloud]?.blockedUntil ?? .distantPast
            if until > current { state[cloud, default: .init()].blockedUntil = until }
        }
    }

    /// How long Admin API work pauses after a `420` that says nothing of its reset time.
    static let defaultPauseSeconds: Double = 60

    private static func wait(_ cloud: inout CloudState, limit: Int, window: TimeInterval, now: Date) -> Double? {
        while let oldest = cloud.calls.first, now.timeIntervalSince(oldest) >= window { cloud.calls.removeFirst() }
        // A lower limit after a configuration change: forget the surplus, keep the newest calls.
        while cloud.calls.count > limit { cloud.calls.removeFirst() }
        var wait: Double = 0
        if let until = cloud.blockedUntil {
            if until > now { wait = until.timeIntervalSince(now) } else { cloud.blockedUntil = nil }
        }
        if cloud.calls.count >= limit, let oldest = cloud.calls.first {
            wait = max(wait, window - now.timeIntervalSince(oldest))
        }
        return wait > 0 ? wait : nil
    }
}
