import Dispatch
import Testing

@testable import RenamerCore

@Suite("Locked")
struct LockedTests {
    struct Refused: Error, Equatable {
        var value: Int
    }

    /// The body's typed error reaches the caller as that type, and what the body changed before
    /// throwing stays changed (as with `Mutex`).
    @Test func typedErrorsPassThrough() {
        let locked = Locked(1)
        #expect(throws: Refused(value: 2)) {
            try locked.withLock { (value: inout Int) throws(Refused) in
                value += 1
                throw Refused(value: value)
            }
        }
        let doubled = locked.withLock { value -> Int in
            value *= 2
            return value
        }
        #expect(doubled == 4)
    }

    /// Increments from many threads at once are never lost.
    @Test func excludesConcurrentWriters() {
        let locked = Locked([Int: Int]())
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for step in 0..<10_000 {
                locked.withLock { counts in
                    counts[step % 16, default: 0] += 1
                    counts[-1, default: 0] += thread
                }
            }
        }
        let counts = locked.withLock { $0 }
        #expect(counts.filter { $0.key >= 0 }.values.reduce(0, +) == 80_000)
        #expect(counts[0] == 5_000)
        #expect(counts[-1] == 10_000 * (0..<8).reduce(0, +))
    }
}
