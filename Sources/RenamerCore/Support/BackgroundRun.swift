/// A server started in a background task, with the port it bound (tests, the demo).
public final class BackgroundRun: Sendable {
    public let port: Int
    private let task: Task<Void, any Error>

    init(port: Int, task: Task<Void, any Error>) {
        self.port = port
        self.task = task
    }

    /// Starts `run`, which must call its argument with the bound port once listening.
    ///
    /// - Throws: The server's error if it stops before listening.
    public static func start(
        _ run: @escaping @Sendable (_ onListening: @escaping @Sendable (Int) async -> Void) async throws -> Void
    ) async throws -> BackgroundRun {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let task = Task {
            defer { continuation.finish() }
            try await run { port in continuation.yield(port) }
        }
        for await port in ports {
            return BackgroundRun(port: port, task: task)
        }
        try await task.value
        throw CancellationError()
    }

    /// Cancels the server and waits for it to stop.
    public func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}
