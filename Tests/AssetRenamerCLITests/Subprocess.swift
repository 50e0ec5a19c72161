import Foundation
import RenamerTestSupport
import Synchronization

/// The package's built executables, next to the test bundle in the products folder.
enum Products {
    static var directory: URL {
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if FileManager.default.fileExists(atPath: runner.appending(path: "asset-renamer").path) { return runner }
        // Fallback: the package's default debug folder.
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return packageRoot.appending(path: ".build/debug")
    }

    static func path(_ name: String) -> String { directory.appending(path: name).path }

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
}

/// A child process with its output collected as it arrives. Its exit and the end of its output
/// are events, observed on threads of their own, so nothing here blocks the cooperative pool or
/// polls for them.
final class Subprocess: Sendable {
    let process: ChildProcess
    private let stdout = OutputBuffer()
    private let stderr = OutputBuffer()

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], stdin: Data? = nil) throws {
        // A clean environment: no RENAMER_* or CLOUDINARY_URL from the developer's shell.
        var base = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("RENAMER_") && $0.key != "CLOUDINARY_URL" }
        base.merge(environment) { _, new in new }
        let input = try ChildProcess.pipe()
        let output = try ChildProcess.pipe()
        let errors = try ChildProcess.pipe()
        do {
            process = try ChildProcess(
                executable: Products.path(executable),
                arguments: arguments,
                environment: base,
                stdin: input.read,
                stdout: output.write,
                stderr: errors.write
            )
        } catch {
            for fd in [input.read, input.write, output.read, output.write, errors.read, errors.write] { close(fd) }
            throw error
        }
        // The child's ends are the child's now.
        close(input.read)
        close(output.write)
        close(errors.write)
        // A thread per pipe reads until the child's end closes.
        for (fd, buffer) in [(output.read, stdout), (errors.read, stderr)] {
            Thread {
                var chunk = [UInt8](repeating: 0, count: 1 << 16)
                while true {
                    let count = read(fd, &chunk, chunk.count)
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { break }
                    buffer.append(Data(chunk[..<count]))
                }
                close(fd)
                buffer.finish()
            }.start()
        }
        if let stdin {
            stdin.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = write(input.write, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else { break }
                    offset += written
                }
            }
        }
        close(input.write)
    }

    var standardOutput: String { stdout.text }
    var standardError: String { stderr.text }

    /// Waits for exit, at most `timeout` seconds, then for the end of its output; kills the process
    /// and returns nil on timeout.
    func waitForExit(timeout: Double = 30) async -> Int32? {
        guard let status = await process.waitForExit(timeout: .milliseconds(Int(timeout * 1000))) else {
            process.signal(SIGKILL)
            return nil
        }
        _ = await stdout.end.wait(timeout: .seconds(10))
        _ = await stderr.end.wait(timeout: .seconds(10))
        return status
    }

    func signal(_ signal: Int32) { process.signal(signal) }

    deinit {
        process.signal(SIGTERM)
    }

    /// Runs a command to completion.
    static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        stdin: Data? = nil
    )
        async throws -> (status: Int32?, stdout: String, stderr: String)
    {
        let child = try Subprocess(executable, arguments, environment: environment, stdin: stdin)
        let status = await child.waitForExit()
        return (status, child.standardOutput, child.standardError)
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` seconds pass.
func waitUntil(timeout: Double, _ condition: @Sendable () async -> Bool) async -> Bool {
    await waitFor(timeout: timeout) { await condition() ? true : nil } != nil
}

/// Polls `produce` every 20 ms until it returns a value or `timeout` seconds pass; returns that
/// value, or nil.
func waitFor<Value>(timeout: Double, _ produce: @Sendable () async -> Value?) async -> Value? {
    let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
    while ContinuousClock.now < deadline {
        if let value = await produce() { return value }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return await produce()
}

/// Bytes a pipe delivered so far, and whether it has ended.
final class OutputBuffer: Sendable {
    private let data = Mutex(Data())
    let end = OneShot<Void>()

    func append(_ chunk: Data) { data.withLock { $0.append(chunk) } }
    func finish() { end.fulfil(()) }

    var text: String { data.withLock { String(decoding: $0, as: UTF8.self) } }
}
