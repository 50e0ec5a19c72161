import Logging
import ServiceLifecycle

/// The service that owns the daemon's graceful shutdown (SPEC §8).
///
/// It runs ahead of the HTTP server in the daemon's service group, so on SIGTERM it is told first:
/// it flips ``Readiness`` to draining while the listener stays open, then returns, and only then is
/// the HTTP server shut down.
struct DrainService: Service {
    let readiness: Readiness
    let logger: Logger

    func run() async throws {
        // Suspends until SIGTERM/SIGINT (or cancellation).
        try? await gracefulShutdown()
        readiness.beginDraining()
        logger.info("draining: readiness is now 503, new renames are refused")
    }
}
