import Metrics
import Prometheus

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
public struct CataloguedMetricsFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry
    let families: [String: MetricFamily]

    init(registry: PrometheusCollectorRegistry, families: [MetricFamily]) {
        self.registry = registry
        self.families = Dictionary(uniqueKeysWithValues: families.map { ($0.name, $0) })
    }

    private func descriptor(_ name: String) -> MetricNameDescriptor {
        // The whole name is the metric name; an empty unit adds nothing to it.
        MetricNameDescriptor(metricName: name, unitName: "", helpText: families[name]?.help ?? "")
    }

    private func buckets(_ name: String) -> [Duration] {
        guard case .durationHistogram(let seconds)? = families[name]?.kind else { return MetricFamily.callBuckets.map { .seconds($0) } }
        return seconds.map { .seconds($0) }
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        // No family records aggregated values; a recorder is a gauge here.
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions, buckets: buckets(label))
    }

    public func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    public func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    public func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? DurationHistogram { registry.unregisterDurationHistogram(histogram) }
    }
}
