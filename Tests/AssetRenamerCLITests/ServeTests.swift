import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RenamerTestSupport
import Testing

@Suite("asset-renamer serve")
struct ServeTests {
    /// Starts `serve` on a free port and returns the child and its port, read from the "listening" log line.
    static func startDaemon(_ extra: [String] = []) async throws -> (Subprocess, Int) {
        let child = try Subprocess(
            "asset-renamer",
            [
                "serve", "--config", CommandLineTests.example, "--set", "http.port=0", "--set", "http.host=127.0.0.1",
                "--set", "storage.path=:memory:",
            ] + extra
        )
        _ = await waitUntil(timeout: 30) {
            Self.listeningPort(in: child.standardError) != nil || !child.process.isRunning
        }
        guard let port = Self.listeningPort(in: child.standardError) else {
            throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "daemon did not start: \(child.standardError)"])
        }
        return (child, port)
    }

    static func listeningPort(in log: String) -> Int? {
        for line in log.split(whereSeparator: \.isNewline) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                object["msg"] as? String == "listening", let port = object["port"] as? Int
            else { continue }
            return port
        }
        return nil
    }

    static func get(_ port: Int, _ path: String) async throws -> (Int, String, String?) {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"), timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), String(buffer: body), response.headers.first(name: "content-type"))
    }

    @Test func answersOperationsEndpointsAndExitsZeroOnSIGTERM() async throws {
        let (daemon, port) = try await Self.startDaemon()
        let health = try await Self.get(port, "/healthz")
        #expect(health.0 == 200)
        let ready = await waitUntil(timeout: 10) { (try? await Self.get(port, "/readyz").0) == 200 }
        #expect(ready)
        let metrics = try await Self.get(port, "/metrics")
        #expect(metrics.0 == 200)
        #expect(metrics.2?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(metrics.1.contains("# TYPE renamer_renames_accepted_total counter"))

        daemon.signal(SIGTERM)
        let status = await daemon.waitForExit(timeout: 10)
        #expect(status == 0, "\(daemon.standardError.split(separator: "\n").suffix(6).joined(separator: "\n"))")
        #expect(daemon.standardError.contains("draining"))
        #expect(!daemon.standardError.contains("emulator-secret"))
    }

    /// SQLite mode has one writer (SPEC §8): a second daemon on the same journal exits 2 with one
    /// line, and starts once the first is gone, even after kill -9.
    @Test func aSecondDaemonOnTheSameJournalRefusesToStart() async throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "locked-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let journal = ["--set", "storage.path=\(directory.appending(path: "renamer.sqlite").path)"]
        let (first, _) = try await Self.startDaemon(journal)
        let second = try await Subprocess.run(
            "asset-renamer",
            ["serve", "--config", CommandLineTests.example, "--set", "http.port=0", "--set", "http.host=127.0.0.1"] + journal
        )
        #expect(second.status == 2, "\(second.stderr)")
        let lines = second.stderr.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("{") }
        #expect(lines.count == 1, "\(second.stderr)")
        #expect(lines.first?.contains("cannot start: storage.path: ") == true, "\(second.stderr)")
        #expect(lines.first?.contains("is locked by another process (pid \(first.process.processIdentifier))") == true, "\(second.stderr)")

        first.signal(SIGKILL)
        _ = await first.waitForExit()
        let (third, _) = try await Self.startDaemon(journal)
        third.signal(SIGTERM)
        #expect(await third.waitForExit() == 0)
    }

    @Test func sigintAlsoStopsCleanly() async throws {
        let (daemon, port) = try await Self.startDaemon()
        _ = await waitUntil(timeout: 10) { (try? await Self.get(port, "/readyz").0) == 200 }
        daemon.signal(SIGINT)
        #expect(await daemon.waitForExit(timeout: 10) == 0)
    }
}
