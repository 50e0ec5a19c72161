import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The Python reference implementations the interop tests check against (`Tests/Interop/`): the
/// Standard Webhooks library and openapi-core, pinned in `Tests/Interop/requirements.txt`.
///
/// The interpreter is `RENAMER_TEST_PYTHON` when set (one that already has those requirements),
/// else a virtual environment at `.build/interop-venv`, made on first use from the `python3` on the
/// PATH. It is made under a file lock, so two test processes that start at once make it once, and
/// made again when the requirements file changes. When it cannot be made, every oracle check fails
/// with one line that says what to install; none is skipped.
public enum PythonOracle {
    /// Why the oracles cannot run, in one actionable line.
    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Writes `capture` as JSON to a temporary file, runs `Tests/Interop/<script> <arguments…> <file>`
    /// and returns its exit status and combined output.
    public static func check(_ script: String, arguments: [String] = [], capture: Any) async throws -> (status: Int32, output: String) {
        let python = try await interpreter.value
        let file = FileManager.default.temporaryDirectory.appending(path: "capture-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try JSONSerialization.data(withJSONObject: capture).write(to: file)
        let command = [python, packageRoot.appending(path: "Tests/Interop/\(script)").path] + arguments + [file.path]
        return try await offload { try run(command) }
    }

    /// The interpreter, provisioned once per test process.
    static let interpreter = Task { try await offload { try provision() } }

    static func provision() throws -> String {
        if let given = ProcessInfo.processInfo.environment["RENAMER_TEST_PYTHON"], !given.isEmpty { return given }
        let build = packageRoot.appending(path: ".build")
        let venv = build.appending(path: "interop-venv")
        let requirementsFile = packageRoot.appending(path: "Tests/Interop/requirements.txt")
        let python = venv.appending(path: "bin/python3").path
        let stamp = venv.appending(path: "requirements.installed")
        let help =
            "install python3 with venv (Debian: apt-get install python3-venv) and reach PyPI, "
            + "or set RENAMER_TEST_PYTHON to a python3 that has Tests/Interop/requirements.txt installed"

        try FileManager.default.createDirectory(at: build, withIntermediateDirectories: true)
        let lock = open(build.appending(path: "interop-venv.lock").path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard lock >= 0 else { throw Unavailable(description: "cannot open .build/interop-venv.lock (errno \(errno)); \(help)") }
        defer { close(lock) }
        // Another test process may be making the environment: wait for it, bounded.
        let deadline = ContinuousClock.now + .seconds(600)
        while flock(lock, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK, ContinuousClock.now < deadline else {
                throw Unavailable(description: "cannot lock .build/interop-venv.lock (errno \(errno)); \(help)")
            }
            usleep(100_000)
        }
        defer { flock(lock, LOCK_UN) }

        let requirements = try Data(contentsOf: requirementsFile)
        if FileManager.default.isExecutableFile(atPath: python), (try? Data(contentsOf: stamp)) == requirements { return python }
        try? FileManager.default.removeItem(at: venv)
        let steps: [(command: [String], what: String)] = [
            (["/usr/bin/env", "python3", "-m", "venv", venv.path], "`python3 -m venv .build/interop-venv` failed"),
            (
                [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", requirementsFile.path],
                "pip could not install Tests/Interop/requirements.txt into .build/interop-venv"
            ),
        ]
        for step in steps {
            let (status, output) = try run(step.command)
            guard status == 0 else {
                try? FileManager.default.removeItem(at: venv)
                let last = output.split(whereSeparator: \.isNewline).last.map(String.init) ?? "exit \(status)"
                throw Unavailable(description: "interop oracles unavailable: \(step.what) (\(last)); \(help)")
            }
        }
        try requirements.write(to: stamp)
        return python
    }

    /// Runs a command to completion on the calling (Dispatch) thread; returns status and output.
    static func run(_ command: [String]) throws -> (Int32, String) {
        let output: String
        let status: Int32
        do {
            let pipe = try ChildProcess.pipe()
            defer { close(pipe.read) }
            let child: ChildProcess
            do {
                child = try ChildProcess(
                    executable: command[0],
                    arguments: Array(command.dropFirst()),
                    environment: ProcessInfo.processInfo.environment,
                    stdout: pipe.write,
                    stderr: pipe.write
                )
            } catch {
                close(pipe.write)
                throw error
            }
            close(pipe.write)
            output = String(decoding: FileHandle(fileDescriptor: pipe.read, closeOnDealloc: false).readDataToEndOfFile(), as: UTF8.self)
            status = child.waitForExitBlocking()
        } catch {
            throw Unavailable(description: "interop oracles unavailable: cannot run \(command[0]): \(error)")
        }
        return (status, output)
    }
}
