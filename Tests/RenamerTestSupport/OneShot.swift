import Synchronization

/// A value that arrives once (a process's exit status, the end of a pipe), awaited with a bound:
/// waiters wake when it arrives, not on a polling tick.
public final class OneShot<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiters: [Int: CheckedContinuation<Value?, Never>] = [:]
        /// Waiters cancelled before they registered.
        var cancelled: Set<Int> = []
        var lastID = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// The value, if it has arrived.
    public var value: Value? { state.withLock { $0.value } }

    /// Delivers the value to every waiter; later calls are ignored.
    public func fulfil(_ value: Value) {
        let waiters = state.withLock { state -> [CheckedContinuation<Value?, Never>] in
            guard state.value == nil else { return [] }
            state.value = value
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }

    /// The value, or nil if it has not arrived within `timeout`.
    public func wait(timeout: Duration) async -> Value? {
        let first = await withTaskGroup(of: Value?.self) { group in
            group.addTask { await self.arrival() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            return await group.next() ?? nil
        }
        return first ?? value
    }

    private func arrival() async -> Value? {
        let id = state.withLock { state in
            state.lastID += 1
            return state.lastID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Value?? in
                    if let value = state.value { return .some(value) }
                    if state.cancelled.remove(id) != nil { return .some(nil) }
                    state.waiters[id] = continuation
                    return .none
                }
                if case .some(let result) = now { continuation.resume(returning: result) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Value?, Never>? in
                if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
                state.cancelled.insert(id)
                return nil
            }
            waiter?.resume(returning: nil)
        }
    }
}
