import NIOConcurrencyHelpers

/// A value behind a lock: `Synchronization.Mutex`'s shape (`withLock`, typed throws) over a plain
/// futex lock (SwiftNIO's `NIOLockedValueBox`, a `pthread_mutex_t`).
///
/// Not `Mutex`: on Linux, Swift 6.3's `Mutex` spins for 1,000 `pause` instructions (tens of
/// microseconds on this machine's cores) before it sleeps in a priority-inheritance futex
/// (swiftlang/swift#88440; fixed upstream by #88523, after 6.3.1). The daemon's locks are short but
/// taken from the event loops, the cooperative pool and the Dispatch queues at once, so they are
/// contended: end to end, the spinning was 4.3 % of the daemon's CPU (issue 17).
///
/// `@unchecked Sendable` as `Mutex` is: the value is reached only inside ``withLock(_:)``, under
/// the lock, and it came in as `sending`.
public struct Locked<Value>: @unchecked Sendable {
    @usableFromInline let box: NIOLockedValueBox<Value>

    public init(_ value: sending Value) {
        box = NIOLockedValueBox(value)
    }

    /// Runs `body` with the value, under the lock.
    @inlinable
    public func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        let lock = box.unsafe
        lock.lock()
        defer { lock.unlock() }
        var outcome: Swift.Result<Result, Failure>?
        lock.withValueAssumingLockIsAcquired { value in
            outcome = Swift.Result { () throws(Failure) -> Result in try body(&value) }
        }
        return try outcome!.get()
    }
}
