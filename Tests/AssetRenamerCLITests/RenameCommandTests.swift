import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RenamerTestSupport
import Testing

@Suite("asset-renamer rename")
struct RenameCommandTests {
    /// Starts `cloudinary-emulator` on a free port; returns it and the port from its "listening" line.
    static func startEmulator(_ extra: [String] = []) async throws -> (Subprocess, Int) {
        let child = try Subprocess("cloudinary-emulator", ["--port", "0"] + extra)
        _ = await waitUntil(timeout: 30) { Self.port(in: child.standardError) != nil || !child.process.isRunning }
        guard let port = Self.port(in: child.standardError) else {
            throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "emulator did not start: \(child.standardError)"])
        }
        return (child, port)
    }

    static func port(in log: String) -> Int? {
        guard let range = log.range(of: #"port=(\d+)"#, options: .regularExpression) else { return nil }
        return Int(log[range].dropFirst(5))
    }

    @Test func waitExitsZeroOnlyWhenCompleted() async throws {
        let (emulator, emulatorPort) = try await Self.startEmulator()
        let (daemon, daemonPort) = try await ServeTests.startDaemon([
            "--set", "clouds.main.upload_prefix=http://127.0.0.1:\(emulatorPort)",
        ])
        defer {
            daemon.signal(SIGTERM)
            emulator.signal(SIGTERM)
        }
        var seed = HTTPClientRequest(url: "http://127.0.0.1:\(emulatorPort)/_emulator/assets")
        seed.method = .POST
        seed.headers.add(name: "Content-Type", value: "application/json")
        seed.body = .bytes(ByteBuffer(string: #"{"public_id":"products/cli-1"}"#))
        #expect(try await HTTPClient.shared.execute(seed, timeout: .seconds(5)).status == .created)

        let environment = ["RENAMER_TOKEN": "dev-token-change-me"]
        let url = "http://127.0.0.1:\(daemonPort)"
        let ok = try await Subprocess.run(
            "asset-renamer",
            ["rename", "products/cli-1", "products/cli-2", "--url", url, "--no-invalidate", "--wait"],
            environment: environment
        )
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        let job = try #require(try JSONSerialization.jsonObject(with: Data(ok.stdout.utf8)) as? [String: Any])
        #expect(job["status"] as? String == "completed")
        #expect((job["result"] as? [String: Any])?["public_id"] as? String == "products/cli-2")

        let missing = try await Subprocess.run(
            "asset-renamer",
            ["rename", "products/none", "products/x", "--url", url, "--no-invalidate", "--wait"],
            environment: environment
        )
        #expect(missing.status == 1)
        #expect(missing.stdout.contains("cloudinary_not_found"))

        let unauthorized = try await Subprocess.run(
            "asset-renamer",
            ["rename", "products/a", "products/b", "--url", url],
            environment: ["RENAMER_TOKEN": "wrong"]
        )
        #expect(unauthorized.status == 1)
        #expect(unauthorized.stdout.contains("401"))
    }
}
