import Foundation
import Logging
import RenamerConfig
import RenamerCore
import ServiceLifecycle

/// Purges jobs that finished more than `storage.retention_days` ago (with their idempotency keys)
/// and expired notification entries from storage, at start and then every tenth of the retention
/// period (at most hourly, at least every second), so storage stays bounded under steady load.
struct HousekeepingService: Service {
    let components: RenamerComponents

    var interval: Duration {
        let seconds = min(3600, max(1, components.configuration.storage.retentionDays * 86400 / 10))
        return .milliseconds(Int(seconds * 1000))
    }

    func run() async throws {
        // Graceful shutdown cancels the sleep; that is a normal end, not a failure of the group.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await purge()
                try await Task.sleep(for: interval)
            }
        }
    }

    func purge() async {
        let now = components.clock.now()
        let cutoff = now.addingTimeInterval(-components.configuration.storage.retentionDays * 86400)
        components.store.evictSettled()
        do {
            let purged = try await components.store.storage.purge(finishedBefore: cutoff, now: now)
            if purged > 0 { components.logger.info("purged finished jobs", metadata: ["count": .stringConvertible(purged)]) }
        } catch {
            components.logger.warning("purge failed; retrying at the next round", metadata: ["error": "\(error)"])
        }
    }
}
