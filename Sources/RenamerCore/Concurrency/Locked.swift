#if canImport(Glibc)
import Glibc
#endif

/// A value behind a lock: `Synchronization.Mutex`'s shape (`withLock`, typed throws) over glibc's
/// adaptive mutex (`PTHREAD_MUTEX_ADAPTIVE_NP`: a short spin, then a plain futex wait).
///
/// Not `Mutex`: on Linux, Swift 6.3's `Mutex` spins for 1,000 `pause` instructions (tens of
/// microseconds on this machine's cores) before it sleeps in a priority-inheritance futex
/// (swiftlang/swift#88440; upstream replaced it with a short adaptive spin over a plain futex in
/// #88523, after 6.3.1). The daemon's locks are short but taken from the event loops, the
/// cooperative pool and the Dispatch queues at once, so they are contended: end to end, the spinning
/// was 4.3 % of the daemon's CPU (issue 17). Not SwiftNIO's `NIOLockedValueBox` either: its mutex
/// never spins, and a thread that sleeps for a lock held a few hundred nanoseconds cost the accept
/// benchmark ~3 % of its throughput.
///
/// `@unchecked Sendable` as `Mutex` is: the value is reached only inside ``withLock(_:)``, under
/// the lock, and it came in as `sending`.
public struct Locked<Value>: @unchecked Sendable {
    @usableFromInline let storage: LockedStorage<Value>

    public init(_ value: sending Value) {
        storage = LockedStorage.make(value)
    }

    /// Runs `body` with the value, under the lock.
    @inlinable
    public func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        try storage.withLock(body)
    }
}

/// The value and its `pthread_mutex_t` in one allocation (the mutex needs a stable address).
@usableFromInline
final class LockedStorage<Value>: ManagedBuffer<Value, pthread_mutex_t> {
    static func make(_ value: Value) -> LockedStorage<Value> {
        let buffer = create(minimumCapacity: 1) { _ in value }
        let storage = unsafeDowncast(buffer, to: LockedStorage<Value>.self)
        storage.withUnsafeMutablePointerToElements { mutex in
            var attributes = pthread_mutexattr_t()
            pthread_mutexattr_init(&attributes)
            pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
            let initialized = pthread_mutex_init(mutex, &attributes)
            precondition(initialized == 0, "pthread_mutex_init failed: \(initialized)")
            pthread_mutexattr_destroy(&attributes)
        }
        return storage
    }

    @inlinable
    func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        try withUnsafeMutablePointers { (value, mutex) throws(Failure) -> Result in
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            return try body(&value.pointee)
        }
    }

    deinit {
        _ = withUnsafeMutablePointerToElements { pthread_mutex_destroy($0) }
    }
}
