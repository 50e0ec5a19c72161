import Foundation
import Hummingbird
import Logging
import Metrics
import RenamerConfig
import RenamerCore
import RenamerJournal
import RenamerOutbound
import RenamerPostgres
import ServiceLifecycle
import UnixSignals

/// The whole daemon, wired in one place for `serve`, `demo` and every test that starts one:
/// storage, recovery, the HTTP server and the background services (housekeeping, drain) under one
/// service group (SPEC §8).
public struct Daemon: Sendable {
    /// What tests put in place of the real thing; `serve` and `demo` use none.
    public struct Substitutes: Sendable {
        public var cloudinary: (any CloudinaryAPI)?
        public var prober: (any DeliveryProber)?
        public var callbackTransport: (any CallbackTransport)?
        public var clock: (any RenamerClock)?
        public var retry: RetryPolicy?
        /// Storage other than what `storage.path` names (a test's own journal).
        public var storage: (any JobStorage)?

        public init(
            cloudinary: (any CloudinaryAPI)? = nil,
            prober: (any DeliveryProber)? = nil,
            callbackTransport: (any CallbackTransport)? = nil,
            clock: (any RenamerClock)? = nil,
            retry: RetryPolicy? = nil,
            storage: (any JobStorage)? = nil
        ) {
            self.cloudinary = cloudinary
            self.prober = prober
            self.callbackTransport = callbackTransport
            self.clock = clock
            self.retry = retry
            self.storage = storage
        }
    }

    public let components: RenamerComponents
    let storage: any JobStorage

    /// Opens storage: the SQLite journal at `storage.path`, or memory for `:memory:`.
    ///
    /// - Throws: ``StartupError`` when the journal cannot be opened; the caller exits 2.
    public init(configuration: RenamerConfiguration, logger: Logger, substitutes: Substitutes = Substitutes()) throws(StartupError) {
        let metrics = RenamerMetrics()
        if let storage = substitutes.storage {
            self.storage = storage
        } else if configuration.storage.kind == .postgres {
            guard let url = configuration.storage.url.flatMap({ PostgresURL($0.value) }) else {
                throw StartupError(key: "storage.url", problem: "is required with storage.kind: postgres")
            }
            storage = PostgresStorage(
                url: url,
                poolSize: configuration.storage.poolSize,
                leaseSeconds: configuration.storage.leaseSeconds,
                replica: "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)",
                logger: logger,
                onLeaseLost: {
                    // Its jobs run on another replica now and nothing in this process may touch
                    // them: stop, and let the supervisor start a fresh replica (SPEC §12).
                    logger.critical("stopping: this replica's lease was taken over")
                    exit(75)
                }
            )
        } else if configuration.storage.path == ":memory:" {
            storage = MemoryStorage()
        } else {
            do {
                let writeLatency = metrics.timer("renamer_journal_commit_duration_seconds")
                let rowsWritten = metrics.counter("renamer_journal_job_writes_total")
                storage = try SQLiteJournal(path: configuration.storage.path, logger: logger) { seconds, writes in
                    writeLatency.recordNanoseconds(Int64(seconds * 1e9))
                    rowsWritten.increment(by: Int64(writes))
                }
            } catch {
                throw StartupError(key: "storage.path", problem: error.description)
            }
        }
        components = RenamerComponents(
            configuration: configuration,
            logger: logger,
            cloudinary: substitutes.cloudinary,
            prober: substitutes.prober ?? HTTPDeliveryProber(),
            callbackTransport: substitutes.callbackTransport,
            storage: storage,
            clock: substitutes.clock ?? SystemClock(),
            retry: substitutes.retry,
            metrics: metrics
        )
    }

    /// Runs until SIGTERM/SIGINT, drains and returns (`serve`).
    ///
    /// - Parameter onListening: Called with the bound port once the server listens.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service(exitOnSecondSignal: true, onListening: onListening))],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: components.logger
            )
        )
        try await group.run()
    }

    /// The daemon as one service: recovery, then the server and background services until a
    /// graceful shutdown, then the drain and closing storage. `serve` runs it under the signals;
    /// the demo and tests run it in the background and stop it as SIGTERM would.
    ///
    /// - Parameter exitOnSecondSignal: A second SIGTERM/SIGINT during the drain exits at once (serve).
    public func service(exitOnSecondSignal: Bool = false, onListening: @escaping @Sendable (Int) async -> Void) -> some Service {
        DaemonService(daemon: self, exitOnSecondSignal: exitOnSecondSignal, onListening: onListening)
    }
}

/// See ``Daemon/service(exitOnSecondSignal:onListening:)``.
struct DaemonService: Service {
    let daemon: Daemon
    let exitOnSecondSignal: Bool
    let onListening: @Sendable (Int) async -> Void

    func run() async throws {
        let components = daemon.components
        let logger = components.logger
        let started = ContinuousClock.now
        let recovered: (startup: StartupState, resumed: Int)
        do {
            recovered = try await components.recover()
        } catch {
            throw StartupError(key: "storage.path", problem: error.description)
        }
        let elapsed = ContinuousClock.now - started
        logger.info(
            "journal recovered",
            metadata: [
                "jobs": .stringConvertible(recovered.startup.totalJobs), "resumed": .stringConvertible(recovered.resumed),
                "seconds": .stringConvertible(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18),
            ]
        )
        let app = buildApplication(components) { port in
            components.readiness.markReady()
            logger.info("listening", metadata: ["port": .stringConvertible(port)])
            await onListening(port)
        }
        // Services shut down in reverse order: the drain service first, while the server still answers.
        // A service that returns ends the group, so the replica duties run only with shared storage.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: app),
            .init(service: HousekeepingService(components: components)),
        ]
        if components.store.replicas != nil {
            services.append(.init(service: ReplicaService(components: components)))
        }
        services.append(.init(service: DrainService(components: components, exitOnSecondSignal: exitOnSecondSignal)))
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        try await withGracefulShutdownHandler {
            try await group.run()
        } onGracefulShutdown: {
            Task { await group.triggerGracefulShutdown() }
        }
        await components.lifecycle.shutdown()
        try await daemon.storage.close()
    }
}

/// The daemon cannot start (an unusable journal): one line naming the key, exit 2.
public struct StartupError: Error, CustomStringConvertible {
    public let key: String
    public let problem: String

    public var description: String { "\(key): \(problem)" }
}
