import Dispatch
import Metrics
import Testing

@testable import RenamerCore

@Suite("Metric handles")
struct MetricHandlesTests {
    /// Each label value's handle is made once, even when first used from many threads at once, and
    /// every use counts on it.
    @Test func eachValueIsMadeOnceAndCounts() {
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
        #expect(metrics.total("renamer_jobs_finished_total,status=failed") == 100)
    }
}

/// A metrics factory whose counters remember their totals.
final class TestMetrics: MetricsFactory {
    final class Count: CounterHandler, Sendable {
        let value = Locked(Int64(0))
        func increment(by amount: Int64) { value.withLock { $0 += amount } }
        func reset() { value.withLock { $0 = 0 } }
    }

    private let counts = Locked([String: Count]())

    func total(_ key: String) -> Int64? {
        counts.withLock { $0[key] }?.value.withLock { $0 }
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        counts.withLock { counts in
            let key = ([label] + dimensions.map { "\($0.0)=\($0.1)" }).joined(separator: ",")
            if let count = counts[key] { return count }
            let count = Count()
            counts[key] = count
            return count
        }
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        NOOPMetricsHandler.instance.makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        NOOPMetricsHandler.instance.makeTimer(label: label, dimensions: dimensions)
    }

    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}
