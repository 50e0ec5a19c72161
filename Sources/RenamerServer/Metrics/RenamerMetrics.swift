import Metrics
import Prometheus

/// The daemon's metrics, recorded with swift-metrics into a Prometheus registry of its own.
///
/// Each daemon instance owns its registry (not the process-global `MetricsSystem`), so that tests
/// can run several daemons in one process and read each one's `/metrics`.
public struct RenamerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory

    public init() {
        registry = PrometheusCollectorRegistry()
        factory = PrometheusMetricsFactory(registry: registry)
        // Families that exist from the first scrape, before anything happened.
        _ = Metrics.Counter(label: "renamer_renames_accepted_total", factory: factory)
        _ = Metrics.Gauge(label: "renamer_queue_depth", factory: factory)
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
