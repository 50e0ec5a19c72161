import RenamerCore

/// Whether the daemon takes work: `/readyz` and new renames read it (SPEC §2, §8).
///
/// `starting → ready → draining`, never back. Draining is final for this process.
public final class Readiness: Sendable {
    public enum State: Sendable, Equatable {
        /// The listener or the journal is not open yet.
        case starting
        /// Accepting work.
        case ready
        /// SIGTERM received: reads still work, new work is refused.
        case draining
    }

    private let state = Locked(State.starting)

    public init() {}

    public var current: State { state.withLock { $0 } }

    public var isReady: Bool { current == .ready }

    /// `starting → ready`; has no effect once draining.
    public func markReady() {
        state.withLock { if $0 == .starting { $0 = .ready } }
    }

    public func beginDraining() {
        state.withLock { $0 = .draining }
    }
}
