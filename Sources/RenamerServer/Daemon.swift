import Hummingbird
import Logging
import RenamerConfig
import ServiceLifecycle
import UnixSignals

/// The whole daemon: HTTP server and background services under one service group that handles
/// SIGTERM and SIGINT (SPEC §8).
public struct Daemon: Sendable {
    public let components: RenamerComponents

    public init(configuration: RenamerConfiguration, logger: Logger) {
        components = RenamerComponents(configuration: configuration, logger: logger)
    }

    /// Runs until SIGTERM/SIGINT, then drains and returns.
    ///
    /// - Parameter onListening: Called with the bound port once the server listens.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let components = components
        let app = buildApplication(components) { port in
            components.readiness.markReady()
            components.logger.info("listening", metadata: ["port": "\(port)"])
            await onListening(port)
        }
        // Services shut down in reverse order: the drain service first, while the server still answers.
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: app),
                    .init(service: DrainService(readiness: components.readiness, logger: components.logger)),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: components.logger
            )
        )
        try await group.run()
    }
}
