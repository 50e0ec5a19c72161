import Dispatch

#if canImport(Glibc)
import Glibc
#endif

extension DispatchQueue {
    /// Runs `work` on this serial queue after a short pause, slept on the queue itself, so that more
    /// work can gather for it (the queue's batch of accepted jobs, the journal's next commit).
    ///
    /// Not `asyncAfter`: on Linux every Dispatch timer goes through libdispatch's manager thread
    /// (an `eventfd` write, `timerfd_settime`, two more thread wake-ups), and at a timer per 0.5 ms
    /// that cost about 4 % of the daemon's CPU in the accept benchmark (issue 17). Sleeping is
    /// blocking, so it belongs only on a queue of the caller's own whose work may wait as long.
    public func gathering(forMicroseconds microseconds: UInt32, _ work: @escaping @Sendable () -> Void) {
        async {
            usleep(microseconds)
            work()
        }
    }
}
