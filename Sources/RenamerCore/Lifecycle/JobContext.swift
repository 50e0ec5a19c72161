import Foundation
import Logging
import Metrics
import RenamerConfig

/// What each step of a job's path works with: the configuration, the working set (and through it
/// storage), time, logs and metrics. One value, shared by the confirmer and callback delivery.
public struct JobContext: Sendable {
    public let configuration: RenamerConfiguration
    public let store: JobStore
    public let clock: any RenamerClock
    public let logger: Logger
    public let metrics: any MetricsFactory

    public init(configuration: RenamerConfiguration, store: JobStore, clock: any RenamerClock, logger: Logger, metrics: any MetricsFactory) {
        self.configuration = configuration
        self.store = store
        self.clock = clock
        self.logger = logger
        self.metrics = metrics
    }
}
