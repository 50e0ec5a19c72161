import Hummingbird
import HummingbirdTesting
import Logging
import Metrics
import RenamerConfig
import RenamerCrypto
import Testing

@testable import RenamerServer

/// A configuration built by the same loader `serve` uses.
func testConfiguration() async throws -> RenamerConfiguration {
    try await ConfigurationLoader.load(
        .init(overrides: [
            "http.host": "127.0.0.1", "http.port": "0", "storage.path": ":memory:",
            "clouds.main.cloud_name": "demo", "clouds.main.api_key": "key", "clouds.main.api_secret": "secret",
        ])
    )
}

@Suite("Operations endpoints")
struct OperationsRoutesTests {
    let components: RenamerComponents

    init() async throws {
        components = RenamerComponents(configuration: try await testConfiguration(), logger: Logger(label: "test"))
    }

    @Test func healthzIsAlwaysOK() async throws {
        let app = buildApplication(components)
        try await app.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func readyzFollowsReadiness() async throws {
        let app = buildApplication(components)
        try await app.test(.router) { client in
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] != nil)
            }
            components.readiness.markReady()
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
            }
            components.readiness.beginDraining()
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(String(buffer: response.body) == "draining\n")
            }
            // Draining is final.
            components.readiness.markReady()
            #expect(components.readiness.current == .draining)
        }
    }

    @Test func metricsArePrometheusText() async throws {
        let app = buildApplication(components)
        components.metrics.counter("renamer_test_events_total", [("kind", "a")]).increment(by: 3)
        try await app.test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                let text = String(buffer: response.body)
                #expect(text.contains("# TYPE renamer_renames_accepted_total counter"))
                #expect(text.contains("renamer_renames_accepted_total 0"))
                #expect(text.contains(#"renamer_test_events_total{kind="a"} 3"#))
                #expect(text.contains("# TYPE renamer_queue_depth gauge"))
            }
        }
    }

    @Test func liveServerAnswersOnItsBoundPort() async throws {
        let app = buildApplication(components)
        try await app.test(.live) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }
}
