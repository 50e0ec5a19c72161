import Dispatch
import Foundation

/// Time for the queue: wall-clock timestamps and delayed work. Injected so that retry and backoff
/// logic is tested without waiting.
public protocol RenamerClock: Sendable {
    /// The current time.
    func now() -> Date
    /// Runs `work` on `queue` after `seconds`.
    func schedule(after seconds: Double, on queue: DispatchQueue, _ work: @escaping @Sendable () -> Void)
}

/// The real clock: `Date()` and `DispatchQueue.asyncAfter`.
public struct SystemClock: RenamerClock {
    public init() {}

    public func now() -> Date { Date() }

    public func schedule(after seconds: Double, on queue: DispatchQueue, _ work: @escaping @Sendable () -> Void) {
        queue.asyncAfter(deadline: .now() + max(0, seconds), execute: work)
    }
}
