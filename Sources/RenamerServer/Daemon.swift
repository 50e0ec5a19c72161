import Hummingbird
import Logging
import Metrics
import RenamerConfig
import RenamerCore
import RenamerJournal
import ServiceLifecycle
import UnixSignals

/// The whole daemon: journal recovery, HTTP server and background services under one service group
/// that handles SIGTERM and SIGINT (SPEC §8).
public struct Daemon: Sendable {
    public let components: RenamerComponents
    let journal: SQLiteJournal?

    /// Opens the journal (unless `storage.path` is `:memory:`).
    ///
    /// - Throws: ``StartupError`` when the journal cannot be opened; the caller exits 2.
    public init(configuration: RenamerConfiguration, logger: Logger) throws(StartupError) {
        let metrics = RenamerMetrics()
        if configuration.storage.path == ":memory:" {
            journal = nil
        } else {
            do {
                let writeLatency = metrics.timer("renamer_journal_commit_duration_seconds")
                let rowsWritten = metrics.counter("renamer_journal_job_writes_total")
                journal = try SQLiteJournal(path: configuration.storage.path, logger: logger) { seconds, writes in
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
            journal: journal ?? NoJournal(),
            metrics: metrics
        )
    }

    /// Recovers from the journal, then runs until SIGTERM/SIGINT, drains and returns.
    ///
    /// - Parameter onListening: Called with the bound port once the server listens.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let components = components
        let logger = components.logger
        if let journal {
            let started = ContinuousClock.now
            let snapshot: JournalSnapshot
            do {
                snapshot = try journal.load()
            } catch {
                throw StartupError(key: "storage.path", problem: error.description)
            }
            let resumed = components.recover(from: snapshot)
            logger.info(
                "journal recovered",
                metadata: [
                    "jobs": "\(snapshot.jobs.count)", "resumed": "\(resumed)",
                    "seconds":
                        "\(Double((ContinuousClock.now - started).components.attoseconds) / 1e18 + Double((ContinuousClock.now - started).components.seconds))",
                ]
            )
        }
        let app = buildApplication(components) { port in
            components.readiness.markReady()
            logger.info("listening", metadata: ["port": "\(port)"])
            await onListening(port)
        }
        let housekeeping = HousekeepingService(components: components) { [journal] now in journal?.purgeNotifications(now: now) }
        // Services shut down in reverse order: the drain service first, while the server still answers.
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: app),
                    .init(service: housekeeping),
                    .init(service: DrainService(components: components)),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
        try await journal?.close()
    }
}

/// The daemon cannot start (an unusable journal): one line naming the key, exit 2.
public struct StartupError: Error, CustomStringConvertible {
    public let key: String
    public let problem: String

    public var description: String { "\(key): \(problem)" }
}
