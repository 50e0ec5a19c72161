import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
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
                object["msg"] as? String == "listening", let port = object["port"] as? String
            else { continue }
            return Int(port)
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

    @Test func sigintAlsoStopsCleanly() async throws {
        let (daemon, port) = try await Self.startDaemon()
        _ = await waitUntil(timeout: 10) { (try? await Self.get(port, "/readyz").0) == 200 }
        daemon.signal(SIGINT)
        #expect(await daemon.waitForExit(timeout: 10) == 0)
    }
}
