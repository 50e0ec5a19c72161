import AsyncHTTPClient
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import RenamerConfig
import RenamerCore
import RenamerOutbound

/// What the daemon is made of, shared by the HTTP routes and the background services.
public struct RenamerComponents: Sendable {
    public let configuration: RenamerConfiguration
    public let readiness: Readiness
    public let metrics: RenamerMetrics
    public let logger: Logger
    public let clock: any RenamerClock
    /// The job's path from acceptance to its callback (RenamerCore).
    public let lifecycle: JobLifecycle
    public let replayCache: NotificationReplayCache
    /// `public_base_url`, completed with the bound port when it was derived from `http.port: 0`.
    public let publicBaseURL: PublicBaseURL

    public var store: JobStore { lifecycle.store }
    public var queue: JobQueue { lifecycle.queue }
    public var confirmer: InvalidationConfirmer { lifecycle.confirmer }
    public var callbacks: CallbackDelivery { lifecycle.callbacks }
    public var notifications: NotificationIntake { lifecycle.notifications }

    /// - Parameters:
    ///   - cloudinary: Cloudinary's API; the real client unless a test substitutes it.
    ///   - prober: CDN probes; real HTTP unless substituted.
    ///   - callbackTransport: Callback delivery; real HTTP (``HTTPCallbackTransport``, configured by
    ///     `callbacks`) unless substituted.
    ///   - storage: Where jobs live: ``MemoryStorage`` or the SQLite journal.
    ///   - clock: Time for timestamps, retries and backoff.
    public init(
        configuration: RenamerConfiguration,
        logger: Logger,
        cloudinary: (any CloudinaryAPI)? = nil,
        prober: any DeliveryProber = HTTPDeliveryProber(),
        callbackTransport: (any CallbackTransport)? = nil,
        storage: any JobStorage = MemoryStorage(),
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
        let publicBaseURL = PublicBaseURL(configuration.publicBaseURL)
        self.publicBaseURL = publicBaseURL
        lifecycle = JobLifecycle(
            configuration: configuration,
            store: JobStore(storage: storage),
            cloudinary: cloudinary ?? CloudinaryClient(logger: logger),
            prober: prober,
            callbackTransport: callbackTransport ?? HTTPCallbackTransport(configuration.callbacks),
            clock: clock,
            retry: retry,
            logger: logger,
            metrics: metrics.factory,
            publicBaseURL: { publicBaseURL.value }
        )
        replayCache = NotificationReplayCache(retentionSeconds: configuration.notifications.maxAgeSeconds, storage: storage)
    }
}

extension RenamerComponents: CustomStringConvertible {
    /// Short, and free of configuration values: service-lifecycle logs services by description.
    public var description: String { "RenamerComponents" }
}

extension RenamerComponents {
    /// Loads the working set from storage and resumes every unfinished job and undelivered
    /// callback (SPEC §8) before the daemon reports ready (``JobLifecycle/recover(replayCache:)``).
    @discardableResult
    public func recover() async throws(StorageError) -> (startup: StartupState, resumed: Int) {
        try await lifecycle.recover(replayCache: replayCache)
    }
}

/// Builds the router every daemon serves; tests drive exactly this router.
public func buildRouter(_ components: RenamerComponents) -> Router<RenamerRequestContext> {
    buildRouter(components, jobRoutes: JobKind.allCases.map { JobRoutes($0, components) }, notifications: NotificationRoutes(components))
}

func buildRouter(_ components: RenamerComponents, jobRoutes: [JobRoutes], notifications: NotificationRoutes) -> Router<RenamerRequestContext> {
    let router = Router(context: RenamerRequestContext.self)
    router.add(middleware: RequestLogMiddleware())
    router.add(middleware: TransferCodingMiddleware())
    OperationsRoutes(
        readiness: components.readiness,
        metrics: components.metrics,
        store: components.store,
        callbacks: components.callbacks,
        clock: components.clock
    )
    .register(on: router)
    for routes in jobRoutes { routes.register(on: router) }
    notifications.register(on: router)
    router.add(middleware: UnmatchedRouteMiddleware(routes: router.routes))
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
    let jobRoutes = JobKind.allCases.map { JobRoutes($0, components) }
    let renames = jobRoutes.first { $0.kind == .rename }!
    let notifications = NotificationRoutes(components)
    let logger = components.logger
    let mailboxes = EventLoopMailboxes()
    return Application(
        router: buildRouter(components, jobRoutes: jobRoutes, notifications: notifications),
        server: .http1(
            configuration: .init(
                // FastAcceptHandler shares the rename and notification routes' checks, rate limits
                // and counters.
                additionalChannelHandlers: [
                    RequestDeadlineHandler(), FastAcceptHandler(routes: renames, notifications: notifications, mailboxes: mailboxes, logger: logger),
                ],
                httpDecoderConfiguration: .init(
                    maxHeaderFieldSize: HTTPLimits.maxHeaderFieldBytes,
                    maxHeaderListSize: HTTPLimits.maxHeaderBytes,
                    maxHeaderFieldCount: HTTPLimits.maxHeaderCount
                )
            )
        ),
        configuration: .init(
            address: .hostname(http.host, port: http.port),
            serverName: nil,
            availableConnectionsDelegate: MaximumAvailableConnections(HTTPLimits.maxConnections)
        ),
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? http.port
            if http.port == 0 && !components.configuration.publicBaseURLIsExplicit {
                components.publicBaseURL.value = "http://\(http.host):\(port)"
            }
            await onListening(port)
        },
        logger: components.logger
    )
}

/// Fixed bounds on what one client can make the server hold (README "Limits").
enum HTTPLimits {
    /// Connections served at once; beyond it new connections wait in the listen backlog.
    static let maxConnections = 2048
    /// Request headers: all together, any one field, and how many.
    static let maxHeaderBytes = 32 * 1024
    static let maxHeaderFieldBytes = 16 * 1024
    static let maxHeaderCount = 100
}

/// The daemon's public base URL, settable once the bound port is known.
public final class PublicBaseURL: Sendable {
    private let storage: Locked<String>

    init(_ value: String) {
        storage = Locked(value)
    }

    public var value: String {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
}
