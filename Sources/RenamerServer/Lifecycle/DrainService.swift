import Foundation
import Logging
import RenamerConfig
import RenamerCore
import ServiceLifecycle
import UnixSignals

/// The service that owns the daemon's graceful shutdown (SPEC §8).
///
/// It runs ahead of the HTTP server in the daemon's service group, so on SIGTERM it is told first:
/// it flips ``Readiness`` to draining while the listener stays open (reads work, new renames get 503),
/// lets in-flight Cloudinary calls finish for up to `shutdown.drain_seconds`, flushes the journal,
/// and returns; only then is the HTTP server shut down. A second SIGTERM or SIGINT exits at once:
/// everything accepted is already in the journal, and calls cut short are reconciled on restart.
struct DrainService: Service {
    let components: RenamerComponents
    /// A second SIGTERM/SIGINT exits at once (`serve`; not in tests or the demo).
    let exitOnSecondSignal: Bool

    func run() async throws {
        // Suspends until SIGTERM/SIGINT (or cancellation).
        try? await gracefulShutdown()
        let logger = components.logger
        // Listen for a second signal before anything can observe the draining state.
        let impatience: Task<Void, Never>? =
            if exitOnSecondSignal {
                Task { [signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)] in
                    for await signal in signals {
                        logger.notice("second signal: exiting now", metadata: ["signal": "\(signal)"])
                        exit(0)
                    }
                }
            } else {
                nil
            }
        components.readiness.beginDraining()
        logger.info("draining: readiness is now 503, new renames are refused")
        defer { impatience?.cancel() }
        let deadline = ContinuousClock.now + .milliseconds(Int(components.configuration.shutdown.drainSeconds * 1000))
        let unfinished = await components.queue.drain(until: deadline)
        if unfinished > 0 {
            logger.warning(
                "drain deadline passed; calls in flight will be reconciled after restart",
                metadata: ["calls": .stringConvertible(unfinished)]
            )
        }
        do {
            try await components.store.storage.sync()
            logger.info("journal flushed")
        } catch {
            logger.error("journal flush failed", metadata: ["error": "\(error)"])
        }
    }
}
