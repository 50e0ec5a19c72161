import Metrics
import Prometheus
import RenamerCore

/// The daemon's metrics, recorded with swift-metrics into a Prometheus registry of its own.
///
/// Each daemon instance owns its registry (not the process-global `MetricsSystem`), so that tests
/// can run several daemons in one process and read each one's `/metrics`. Every family of
/// ``MetricFamily/all`` is registered at once, with its help text, buckets and a zero sample per
/// known label set.
public struct RenamerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let factory: CataloguedMetricsFactory

    public init() {
        registry = PrometheusCollectorRegistry()
        factory = CataloguedMetricsFactory(registry: registry, families: MetricFamily.all)
        for family in MetricFamily.all {
            for labels in family.labelSets {
                switch family.kind {
                case .counter: _ = factory.makeCounter(label: family.name, dimensions: labels)
                case .gauge: _ = factory.makeMeter(label: family.name, dimensions: labels)
                case .durationHistogram: _ = factory.makeTimer(label: family.name, dimensions: labels)
                }
            }
        }
    }

    /// A counter in this registry.
    public func counter(_ label: String, _ dimensions: [(String, String)] = []) -> Metrics.Counter {
        Metrics.Counter(label: label, dimensions: dimensions, factory: factory)
    }

    /// A gauge in this registry.
    public func gauge(_ label: String, _ dimensions: [(String, String)] = []) -> Metrics.Gauge {
        Metrics.Gauge(label: label, dimensions: dimensions, factory: factory)
    }

    /// A histogram of durations in this registry.
    public func timer(_ label: String, _ dimensions: [(String, String)] = []) -> Metrics.Timer {
        Metrics.Timer(label: label, dimensions: dimensions, factory: factory)
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }
}

/// A swift-metrics factory over a Prometheus registry that registers each family with the help
/// text and buckets of its ``MetricFamily`` (swift-prometheus's own factory registers every family
/// without help, and refuses a second registration whose help differs).
///
/// Handles are kept once made: the code makes a `Counter` or `Timer` where it counts (per job, per
/// call), and making one in the registry (its descriptor, label matching under the registry's
/// lock, a timer's buckets) cost ~1 µs each, ~7 per job end to end (issue 17).
public struct CataloguedMetricsFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry
    let families: [String: MetricFamily]
    private let handles = Handles()

    init(registry: PrometheusCollectorRegistry, families: [MetricFamily]) {
        self.registry = registry
        self.families = Dictionary(uniqueKeysWithValues: families.map { ($0.name, $0) })
    }

    /// Handles made so far, by kind, label and dimensions. Bounded by the catalogue: every family
    /// has a fixed set of label values.
    private final class Handles: Sendable {
        struct Key: Hashable {
            var label: String
            var dimensions: [String]

            init(_ label: String, _ dimensions: [(String, String)]) {
                self.label = label
                self.dimensions = dimensions.flatMap { [$0.0, $0.1] }
            }
        }

        let counters = Locked<[Key: Prometheus.Counter]>([:])
        let gauges = Locked<[Key: Prometheus.Gauge]>([:])
        let timers = Locked<[Key: DurationHistogram]>([:])
    }

    private static func cached<Handle: Sendable>(
        _ table: borrowing Locked<[Handles.Key: Handle]>,
        _ label: String,
        _ dimensions: [(String, String)],
        make: () -> Handle
    ) -> Handle {
        let key = Handles.Key(label, dimensions)
        if let handle = table.withLock({ $0[key] }) { return handle }
        let handle = make()
        table.withLock { $0[key] = handle }
        return handle
    }

    private func descriptor(_ name: String) -> MetricNameDescriptor {
        // The whole name is the metric name; an empty unit adds nothing to it.
        MetricNameDescriptor(metricName: name, unitName: "", helpText: families[name]?.help ?? "")
    }

    private func buckets(_ name: String) -> [Duration] {
        guard case .durationHistogram(let seconds)? = families[name]?.kind else { return MetricFamily.callBuckets.map { .seconds($0) } }
        return seconds.map { .seconds($0) }
    }

    private func counter(_ label: String, _ dimensions: [(String, String)]) -> Prometheus.Counter {
        Self.cached(handles.counters, label, dimensions) { registry.makeCounter(descriptor: descriptor(label), labels: dimensions) }
    }

    private func gauge(_ label: String, _ dimensions: [(String, String)]) -> Prometheus.Gauge {
        Self.cached(handles.gauges, label, dimensions) { registry.makeGauge(descriptor: descriptor(label), labels: dimensions) }
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        counter(label, dimensions)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        counter(label, dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        // No family records aggregated values; a recorder is a gauge here.
        gauge(label, dimensions)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        gauge(label, dimensions)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        Self.cached(handles.timers, label, dimensions) {
            registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions, buckets: buckets(label))
        }
    }

    public func destroyCounter(_ handler: any CounterHandler) { forgetCounter(handler) }

    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { forgetCounter(handler) }

    public func destroyRecorder(_ handler: any RecorderHandler) { forgetGauge(handler) }

    public func destroyMeter(_ handler: any MeterHandler) { forgetGauge(handler) }

    private func forgetCounter(_ handler: Any) {
        guard let counter = handler as? Prometheus.Counter else { return }
        handles.counters.withLock { $0 = $0.filter { $0.value !== counter } }
        registry.unregisterCounter(counter)
    }

    private func forgetGauge(_ handler: Any) {
        guard let gauge = handler as? Prometheus.Gauge else { return }
        handles.gauges.withLock { $0 = $0.filter { $0.value !== gauge } }
        registry.unregisterGauge(gauge)
    }

    public func destroyTimer(_ handler: any TimerHandler) {
        guard let histogram = handler as? DurationHistogram else { return }
        handles.timers.withLock { $0 = $0.filter { $0.value !== histogram } }
        registry.unregisterDurationHistogram(histogram)
    }
}
