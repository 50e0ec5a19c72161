import Logging
import ServiceLifecycle

/// A server running in a background task under its own service group (tests, the demo).
///
/// ``stop()`` shuts it down gracefully, as SIGTERM would: the listener closes first, then in-flight
/// requests finish. (Cancelling the task instead races new connections against the teardown.)
public final class BackgroundRun: Sendable {
    public let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    init(port: Int, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.group = group
        self.task = task
    }

    /// Starts the service `make` builds; it must call its argument with the bound port once listening.
    ///
    /// - Throws: The service's error if it stops before listening.
    public static func start(_ make: (_ onListening: @escaping @Sendable (Int) async -> Void) -> any Service) async throws -> BackgroundRun {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let service = make { port in continuation.yield(port) }
        let group = ServiceGroup(
            configuration: .init(services: [service], logger: Logger(label: "background") { _ in SwiftLogNoOpLogHandler() })
        )
        let task = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        for await port in ports {
            return BackgroundRun(port: port, group: group, task: task)
        }
        try await task.value
        throw CancellationError()
    }

    /// Shuts the server down gracefully and waits for it.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}
