import AsyncHTTPClient
import Hummingbird
import Logging
import NIOCore
import RenamerCloudinary
import RenamerConfig
import RenamerCore

/// What the daemon is made of, shared by the HTTP routes and the background services.
public struct RenamerComponents: Sendable {
    public let configuration: RenamerConfiguration
    public let readiness: Readiness
    public let metrics: RenamerMetrics
    public let logger: Logger
    public let clock: any RenamerClock
    public let store: JobStore
    public let queue: JobQueue

    /// - Parameters:
    ///   - cloudinary: Cloudinary's API; the real client unless a test substitutes it.
    ///   - clock: Time for timestamps, retries and backoff.
    public init(
        configuration: RenamerConfiguration,
        logger: Logger,
        cloudinary: (any CloudinaryAPI)? = nil,
        clock: any RenamerClock = SystemClock(),
        retry: RetryPolicy? = nil,
        readiness: Readiness = Readiness(),
        metrics: RenamerMetrics = RenamerMetrics()
    ) {
        self.configuration = configuration
        self.readiness = readiness
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
        let store = JobStore()
        self.store = store
        queue = JobQueue(
            configuration: configuration,
            store: store,
            cloudinary: cloudinary ?? CloudinaryClient(logger: logger),
            clock: clock,
            retry: retry,
            logger: logger,
            metrics: metrics.factory
        )
    }
}

/// Builds the router every daemon serves; tests drive exactly this router.
public func buildRouter(_ components: RenamerComponents) -> Router<RenamerRequestContext> {
    let router = Router(context: RenamerRequestContext.self)
    OperationsRoutes(readiness: components.readiness, metrics: components.metrics).register(on: router)
    RenameRoutes(components).register(on: router)
    return router
}

/// Builds the Hummingbird application for `components` (Hummingbird's `buildApplication` pattern).
///
/// - Parameter onListening: Called with the bound port once the server listens (port 0 picks one).
public func buildApplication(
    _ components: RenamerComponents,
    onListening: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let http = components.configuration.http
    return Application(
        router: buildRouter(components),
        configuration: .init(address: .hostname(http.host, port: http.port), serverName: nil),
        onServerRunning: { channel in
            await onListening(channel.localAddress?.port ?? http.port)
        },
        logger: components.logger
    )
}
