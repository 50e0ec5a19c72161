import Synchronization
import Testing

@testable import RenamerCore

@Suite("Tracked tasks")
struct TrackedTasksTests {
    /// Shutdown cancels what runs and waits for it; nothing starts afterwards.
    @Test func cancelAllEndsEveryTaskAndRefusesNewOnes() async throws {
        let tasks = TrackedTasks()
        let ended = Atomic<Int>(0)
        for _ in 0..<8 {
            tasks.spawn {
                // Sleeps until cancelled (bounded: a test that hangs fails by its own timeout).
                try? await Task.sleep(for: .seconds(60))
                ended.add(1, ordering: .relaxed)
            }
        }
        tasks.spawn { ended.add(100, ordering: .relaxed) }  // a quick one removes itself
        #expect(await eventually { tasks.count == 8 && ended.load(ordering: .relaxed) == 100 })
        await tasks.cancelAll()
        #expect(ended.load(ordering: .relaxed) == 108)
        #expect(tasks.count == 0)
        tasks.spawn { ended.add(1000, ordering: .relaxed) }
        #expect(tasks.count == 0)
        #expect(ended.load(ordering: .relaxed) == 108)
    }
}
