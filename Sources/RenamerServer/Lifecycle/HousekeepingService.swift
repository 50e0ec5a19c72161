import Foundation
import Logging
import RenamerConfig
import RenamerCore
import ServiceLifecycle

/// Purges finished jobs after `storage.retention_days` (and expired notification entries), at
/// start and then every tenth of the retention period (at most hourly, at least every second), so
/// the store and the journal stay bounded under steady load.
struct HousekeepingService: Service {
    let components: RenamerComponents
    let purgeNotifications: @Sendable (Date) -> Void

    var interval: Duration {
        let seconds = min(3600, max(1, components.configuration.storage.retentionDays * 86400 / 10))
        return .milliseconds(Int(seconds * 1000))
    }

    func run() async throws {
        // Graceful shutdown cancels the sleep; that is a normal end, not a failure of the group.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                purge()
                try await Task.sleep(for: interval)
            }
        }
    }

    func purge() {
        let now = components.clock.now()
        let cutoff = now.addingTimeInterval(-components.configuration.storage.retentionDays * 86400)
        let expired = components.store.finishedJobs(before: cutoff)
        components.store.remove(expired)
        purgeNotifications(now)
        if !expired.isEmpty {
            components.logger.info("purged finished jobs", metadata: ["count": "\(expired.count)"])
        }
    }
}
