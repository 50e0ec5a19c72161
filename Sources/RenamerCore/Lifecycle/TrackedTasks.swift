/// The tasks a service starts for its outbound calls (renames, probes, callbacks, outbox reads),
/// owned by the service so that none outlives it: ``cancelAll()`` cancels them and waits for each
/// at shutdown. Their number is bounded by the service's own slots.
public final class TrackedTasks: Sendable {
    private struct State {
        var next = 0
        var running: [Int: Task<Void, Never>] = [:]
        var closed = false
    }

    private let state = Locked(State())

    public init() {}

    /// Starts `work` unless the owner has shut down (then it is dropped: nothing may start after).
    public func spawn(_ work: @escaping @Sendable () async -> Void) {
        state.withLock { state in
            guard !state.closed else { return }
            let id = state.next
            state.next += 1
            // Created under the lock: the task's own removal waits for this insertion.
            state.running[id] = Task { [self] in
                await work()
                _ = self.state.withLock { $0.running.removeValue(forKey: id) }
            }
        }
    }

    /// Refuses new work, cancels what runs, and returns once every task has ended.
    public func cancelAll() async {
        let running = state.withLock { state in
            state.closed = true
            return Array(state.running.values)
        }
        for task in running { task.cancel() }
        for task in running { await task.value }
    }

    /// Tasks running now (tests).
    public var count: Int { state.withLock { $0.running.count } }

    /// Tasks started so far (tests).
    public var started: Int { state.withLock { $0.next } }
}
