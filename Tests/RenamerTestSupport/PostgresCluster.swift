import Foundation
import Synchronization

/// A throwaway PostgreSQL cluster for the tests (SPEC §12), started by `Tests/postgres-cluster`
/// (initdb + pg_ctl on a temporary folder and a free port, as the `postgres` user when the tests
/// run as root). ``shared()`` is started once per test process and stopped when it exits; each
/// test takes a database of its own with ``freshDatabase()``. A test that stops the server starts
/// a cluster of its own (``start()``), so that it disturbs no other test.
public final class PostgresCluster: Sendable {
    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    public let directory: String
    public let port: Int

    init(directory: String, port: Int) {
        self.directory = directory
        self.port = port
    }

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appending(path: "postgres-cluster").path
    private static let sharedCluster = Mutex<Result<PostgresCluster, Unavailable>?>(nil)
    private static let sharedStarting = Mutex(false)

    /// The process's cluster, started at the first call.
    public static func shared() async throws -> PostgresCluster {
        try await sharedResult().get()
    }

    private static func sharedResult() async -> Result<PostgresCluster, Unavailable> {
        while true {
            if let result = sharedCluster.withLock({ $0 }) { return result }
            let first = sharedStarting.withLock { started in
                defer { started = true }
                return !started
            }
            if first { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        let result: Result<PostgresCluster, Unavailable>
        do {
            result = .success(try await start())
            atexit { PostgresCluster.stopSharedAtExit() }
        } catch {
            result = .failure(error)
        }
        sharedCluster.withLock { $0 = result }
        return result
    }

    /// A new, empty database in the shared cluster; returns its URL.
    public static func freshDatabase() async throws -> String {
        try await shared().freshDatabase()
    }

    /// Starts a cluster of its own; ``stop()`` it when done.
    public static func start() async throws(Unavailable) -> PostgresCluster {
        let directory = FileManager.default.temporaryDirectory.appending(path: "renamer-pg-\(UUID().uuidString)").path
        let (status, output) = try await run(["start", directory])
        let url = output.split(separator: "\n").last.map(String.init) ?? ""
        guard status == 0, let port = URLComponents(string: url)?.port else {
            throw Unavailable(description: output.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return PostgresCluster(directory: directory, port: port)
    }

    /// A new, empty database; returns its URL.
    public func freshDatabase() async throws -> String {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(20).lowercased()
        let (status, output) = try await Self.run(["createdb", directory, name])
        guard status == 0 else { throw Unavailable(description: "createdb failed: \(output)") }
        return "postgres://renamer@127.0.0.1:\(port)/\(name)?sslmode=disable"
    }

    /// Stops the server, waits `seconds`, and starts it again on the same port.
    public func restart(downFor seconds: Double = 0) async throws {
        try await stopServer()
        if seconds > 0 { try await Task.sleep(for: .seconds(seconds)) }
        let (status, output) = try await Self.run(["restart", directory])
        guard status == 0 else { throw Unavailable(description: "restart failed: \(output)") }
    }

    public func stopServer() async throws {
        _ = try await Self.run(["stop", directory])
    }

    /// Stops the server and deletes its folder.
    public func stop() async {
        _ = try? await Self.run(["stop", directory])
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func stopSharedAtExit() {
        guard case .success(let cluster)? = sharedCluster.withLock({ $0 }) else { return }
        if let child = try? ChildProcess(
            executable: script,
            arguments: ["stop", cluster.directory],
            environment: ProcessInfo.processInfo.environment
        ) {
            _ = child.waitForExitBlocking()
        }
        try? FileManager.default.removeItem(atPath: cluster.directory)
    }

    /// Runs the cluster script; its exit is an event (a termination handler), nothing blocks.
    static func run(_ arguments: [String]) async throws(Unavailable) -> (Int32, String) {
        // Output to a file, not a pipe: the server the script starts would inherit the pipe.
        let log = FileManager.default.temporaryDirectory.appending(path: "postgres-cluster-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        guard let handle = try? FileHandle(forWritingTo: log) else { throw Unavailable(description: "cannot write \(log.path)") }
        defer { try? handle.close() }
        let status: Int32
        do {
            let child = try ChildProcess(
                executable: script,
                arguments: arguments,
                environment: ProcessInfo.processInfo.environment,
                stdout: handle.fileDescriptor,
                stderr: handle.fileDescriptor
            )
            // initdb and pg_ctl take seconds; a bound only against a hang.
            guard let code = await child.waitForExit(timeout: .seconds(600)) else {
                child.signal(SIGKILL)
                throw Unavailable(description: "\(script) \(arguments.joined(separator: " ")) did not end in 600 s")
            }
            status = code
        } catch let error as Unavailable {
            throw error
        } catch {
            throw Unavailable(description: "cannot run \(script): \(error)")
        }
        let output = (try? Data(contentsOf: log)) ?? Data()
        return (status, String(decoding: output, as: UTF8.self))
    }
}
