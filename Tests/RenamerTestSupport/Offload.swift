import Foundation

/// Runs blocking work (a process wait, a socket call, a file lock) on a thread of its own and waits
/// for it without occupying a thread of the cooperative pool, which other tests need (the pool has
/// as many threads as cores: two on the CI machine). Not on Dispatch's global queues either: their
/// pool grows only slowly past the core count, so blocked workers there stall Foundation's own
/// Dispatch work (a process's termination handler) for seconds.
public func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
