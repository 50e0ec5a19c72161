import Foundation

/// Runs a Python checker from `Tests/Interop/` on a capture the test wrote as JSON.
enum Interop {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Writes `capture` to a temporary file, runs `python3 Tests/Interop/<script> <arguments…> <file>`,
    /// and returns its exit status and combined output.
    static func check(_ script: String, arguments: [String] = [], capture: Any) throws -> (status: Int32, output: String) {
        let file = FileManager.default.temporaryDirectory.appending(path: "capture-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try JSONSerialization.data(withJSONObject: capture).write(to: file)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repository.appending(path: "Tests/Interop/\(script)").path] + arguments + [file.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}
