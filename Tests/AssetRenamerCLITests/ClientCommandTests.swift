import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The client subcommands against real binaries: `get`, `list`, `cancel`, `--version`, and
/// `--wait` (progress, exit status, riding out a daemon restart).
@Suite("asset-renamer client commands")
struct ClientCommandTests {
    static let environment = ["RENAMER_TOKEN": "dev-token-change-me"]

    static func client(_ arguments: [String], _ port: Int) async throws -> (status: Int32?, stdout: String, stderr: String) {
        try await Subprocess.run("asset-renamer", arguments + ["--url", "http://127.0.0.1:\(port)"], environment: environment)
    }

    static func emulator(_ port: Int, _ path: String, _ body: String) async throws {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/_emulator/\(path)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        _ = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
    }

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
    }

    @Test func versionIsPrinted() async throws {
        let run = try await Subprocess.run("asset-renamer", ["--version"])
        #expect(run.status == 0)
        #expect(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3, "\(run.stdout)")
    }

    @Test func getListCancelAndWaitExitStatuses() async throws {
        let (emulator, emulatorPort) = try await RenameCommandTests.startEmulator()
        let (daemon, port) = try await ServeTests.startDaemon(["--set", "clouds.main.upload_prefix=http://127.0.0.1:\(emulatorPort)"])
        defer {
            daemon.signal(SIGTERM)
            emulator.signal(SIGTERM)
        }
        try await Self.emulator(emulatorPort, "assets", #"{"public_id":"products/w1"}"#)
        // Completed: exit 0, progress on standard error, the final job on standard output.
        let done = try await Self.client(["rename", "products/w1", "products/w2", "--no-invalidate", "--wait"], port)
        #expect(done.status == 0, "\(done)")
        #expect(done.stderr.contains("completed"), "\(done.stderr)")
        let id = try #require(Self.json(done.stdout)["id"] as? String)
        // Failed: exit 1.
        let failed = try await Self.client(["rename", "products/none", "products/x", "--no-invalidate", "--wait"], port)
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("failed") && failed.stderr.contains("cloudinary_not_found"), "\(failed.stderr)")

        let get = try await Self.client(["get", id], port)
        #expect(get.status == 0)
        #expect(Self.json(get.stdout)["status"] as? String == "completed")
        #expect(try await Self.client(["get", "rn_000000000000000000000000"], port).status == 1)
        let list = try await Self.client(["list", "--status", "completed"], port)
        #expect(list.status == 0)
        #expect((Self.json(list.stdout)["items"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [id])

        // A job that cannot go on (Cloudinary paused): --wait gives up with 3; cancel takes it.
        try await Self.emulator(emulatorPort, "pause", "{}")
        defer { Task { try? await Self.emulator(emulatorPort, "resume", "{}") } }
        try await Self.emulator(emulatorPort, "assets", #"{"public_id":"products/w3"}"#)
        let held = try await Self.client(["rename", "products/w3", "products/w4", "--no-invalidate"], port)
        let heldID = try #require(Self.json(held.stdout)["id"] as? String)
        let queued = try await Self.client(["rename", "products/w3", "products/w5", "--no-invalidate", "--wait", "--timeout", "1"], port)
        #expect(queued.status == 3, "\(queued)")
        let queuedID = try #require(Self.json(queued.stdout)["id"] as? String)
        let cancel = try await Self.client(["cancel", queuedID], port)
        #expect(cancel.status == 0, "\(cancel)")
        #expect(Self.json(cancel.stdout)["status"] as? String == "cancelled")
        // The first one already called Cloudinary: 409, exit 1.
        #expect(try await Self.client(["cancel", heldID], port).status == 1)
        let cancelled = try await Self.client(["get", queuedID, "--wait"], port)
        #expect(cancelled.status == 1)
    }

    /// `--wait` rides out a daemon restart: the job, in the journal, completes after it, and the
    /// client that waited for it exits 0.
    @Test func waitSurvivesADaemonRestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "client-restart-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let journal = "storage.path=\(directory.appending(path: "renamer.sqlite").path)"
        let (emulator, emulatorPort) = try await RenameCommandTests.startEmulator()
        defer { emulator.signal(SIGTERM) }
        let settings = ["--set", "clouds.main.upload_prefix=http://127.0.0.1:\(emulatorPort)", "--set", journal]
        let (daemon, port) = try await ServeTests.startDaemon(settings)
        try await Self.emulator(emulatorPort, "assets", #"{"public_id":"products/r1"}"#)
        try await Self.emulator(emulatorPort, "pause", "{}")
        let waiting = try Subprocess(
            "asset-renamer",
            ["rename", "products/r1", "products/r2", "--no-invalidate", "--wait", "--timeout", "120", "--url", "http://127.0.0.1:\(port)"],
            environment: Self.environment
        )
        #expect(await waitUntil(timeout: 30) { waiting.standardError.contains("renaming") }, "\(waiting.standardError)")
        daemon.signal(SIGKILL)
        _ = await daemon.waitForExit(timeout: 10)
        try await Self.emulator(emulatorPort, "resume", "{}")
        #expect(await waitUntil(timeout: 30) { waiting.standardError.contains("cannot reach the daemon") }, "\(waiting.standardError)")
        let (restarted, _) = try await ServeTests.startDaemon(settings + ["--set", "http.port=\(port)"])
        defer { restarted.signal(SIGTERM) }
        let status = await waiting.waitForExit(timeout: 90)
        #expect(status == 0, "\(waiting.standardError)\n\(waiting.standardOutput)")
        let job = Self.json(waiting.standardOutput)
        #expect(job["status"] as? String == "completed")

        // `backup` copies the live journal; a daemon started on the copy has the job.
        let copy = directory.appending(path: "backup.sqlite").path
        let backup = try await Subprocess.run(
            "asset-renamer",
            ["backup", "--config", CommandLineTests.example, "--set", journal, "--to", copy]
        )
        #expect(backup.status == 0, "\(backup)")
        let again = try await Subprocess.run("asset-renamer", ["backup", "--config", CommandLineTests.example, "--set", journal, "--to", copy])
        #expect(again.status == 1 && again.stderr.contains("exists already"), "\(again)")
        restarted.signal(SIGTERM)
        _ = await restarted.waitForExit(timeout: 30)
        let (fromCopy, copyPort) = try await ServeTests.startDaemon(settings + ["--set", "storage.path=\(copy)"])
        defer { fromCopy.signal(SIGTERM) }
        let id = try #require(job["id"] as? String)
        let read = try await Self.client(["get", id], copyPort)
        #expect(read.status == 0 && Self.json(read.stdout)["status"] as? String == "completed", "\(read)")
    }
}
