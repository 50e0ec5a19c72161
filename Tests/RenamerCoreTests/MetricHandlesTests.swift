import Dispatch
import Metrics
import MetricsTestKit
import Testing

@testable import RenamerCore

@Suite("Metric handles")
struct MetricHandlesTests {
    /// Each label value's handle is made once, even when first used from many threads at once, and
    /// every use counts on it.
    @Test func eachValueIsMadeOnceAndCounts() throws {
        let metrics = TestMetrics()
        let made = Locked([JobStatus: Int]())
        let handles = MetricHandles<JobStatus, Counter> { status in
            made.withLock { $0[status, default: 0] += 1 }
            return Counter(label: "renamer_jobs_finished_total", dimensions: [("status", status.rawValue)], factory: metrics)
        }
        let statuses: [JobStatus] = [.completed, .failed, .cancelled]
        DispatchQueue.concurrentPerform(iterations: 300) { index in
            handles[statuses[index % 3]].increment()
        }
        #expect(made.withLock { $0 } == [.completed: 1, .failed: 1, .cancelled: 1])
        #expect(handles[.completed] === handles[.completed])
        #expect(try metrics.expectCounter("renamer_jobs_finished_total", [("status", "failed")]).totalValue == 100)
    }
}
