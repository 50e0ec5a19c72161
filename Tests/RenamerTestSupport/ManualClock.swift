import Dispatch
import Foundation
import RenamerCore
import Synchronization

/// A clock that only moves when told: ``advance(by:)`` runs every piece of work that falls due.
public final class ManualClock: RenamerClock {
    private struct Scheduled {
        var due: Date
        var sequence: Int
        var queue: DispatchQueue
        var work: @Sendable () -> Void
    }

    private struct State {
        var now: Date
        var scheduled: [Scheduled] = []
        var sequence = 0
    }

    private let state: Mutex<State>

    public init(start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        state = Mutex(State(now: start))
    }

    public func now() -> Date { state.withLock { $0.now } }

    public func schedule(after seconds: Double, on queue: DispatchQueue, _ work: @escaping @Sendable () -> Void) {
        state.withLock { state in
            state.sequence += 1
            state.scheduled.append(
                Scheduled(due: state.now.addingTimeInterval(max(0, seconds)), sequence: state.sequence, queue: queue, work: work)
            )
        }
    }

    /// Delays of everything scheduled and not yet run, from now, soonest first.
    public var pendingDelays: [Double] {
        state.withLock { state in state.scheduled.map { $0.due.timeIntervalSince(state.now) }.sorted() }
    }

    /// Moves time forward and dispatches the work that fell due, in due order.
    public func advance(by seconds: Double) {
        let due = state.withLock { state -> [Scheduled] in
            state.now = state.now.addingTimeInterval(seconds)
            let now = state.now
            let due = state.scheduled.filter { $0.due <= now }.sorted { ($0.due, $0.sequence) < ($1.due, $1.sequence) }
            state.scheduled.removeAll { $0.due <= now }
            return due
        }
        for item in due { item.queue.async(execute: item.work) }
    }
}
