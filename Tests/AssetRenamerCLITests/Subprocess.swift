import Foundation
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

/// A child process with its output collected as it arrives.
final class Subprocess: Sendable {
    let process: Process
    private let stdout = OutputBuffer()
    private let stderr = OutputBuffer()

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], stdin: Data? = nil) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: Products.path(executable))
        process.arguments = arguments
        // A clean environment: no RENAMER_* or CLOUDINARY_URL from the developer's shell.
        var base = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("RENAMER_") && $0.key != "CLOUDINARY_URL" }
        base.merge(environment) { _, new in new }
        process.environment = base
        let outPipe = Pipe()
        let errPipe = Pipe()
        let inPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = inPipe
        outPipe.fileHandleForReading.readabilityHandler = { [stdout] handle in
            let data = handle.availableData
            stdout.append(data)
        }
        errPipe.fileHandleForReading.readabilityHandler = { [stderr] handle in
            let data = handle.availableData
            stderr.append(data)
        }
        try process.run()
        if let stdin { inPipe.fileHandleForWriting.write(stdin) }
        try inPipe.fileHandleForWriting.close()
    }

    var standardOutput: String { stdout.text }
    var standardError: String { stderr.text }

    /// Waits for exit, at most `timeout` seconds; kills the process and returns nil on timeout.
    func waitForExit(timeout: Double = 30) async -> Int32? {
        let found = await waitUntil(timeout: timeout) { !self.process.isRunning }
        if !found {
            process.terminate()
            return nil
        }
        // Let the readability handlers drain the pipes.
        _ = await waitUntil(timeout: 1) { false }
        return process.terminationStatus
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    deinit {
        if process.isRunning { process.terminate() }
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
    let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return await condition()
}

/// Bytes a pipe delivered so far.
final class OutputBuffer: Sendable {
    private let data = Mutex(Data())

    func append(_ chunk: Data) { data.withLock { $0.append(chunk) } }

    var text: String { data.withLock { String(decoding: $0, as: UTF8.self) } }
}
