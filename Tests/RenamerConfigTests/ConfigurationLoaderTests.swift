import Foundation
import Testing

@testable import RenamerConfig
@testable import RenamerCrypto

/// A scratch directory with files for one test.
struct Scratch: ~Copyable {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appending(path: "renamer-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func write(_ name: String, _ contents: String) throws -> String {
        let url = directory.appending(path: name)
        try Data(contents.utf8).write(to: url)
        return url.path
    }
}

let tokenDigest = Digest.sha256Hex(Array("catalog-token".utf8))
let webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

/// A complete two-cloud configuration.
let fullYAML = """
    http: {host: 127.0.0.1, port: 9000, max_body_bytes: 4096}
    public_base_url: https://renamer.example.com
    default_cloud: main
    clouds:
      main:
        cloud_name: demo
        api_key: "1234"
        api_secret: main-secret
        signature_algorithm: sha1
        notification_signature: sha256
        max_concurrent_requests: 4
        timeout_seconds: 2.5
        invalidation: {method: delay, max_wait_seconds: 60, settle_seconds: 0.5}
      eu:
        url_env: EU_CLOUDINARY_URL
    clients:
      catalog:
        token_sha256: \(tokenDigest)
        clouds: [main, eu]
        public_id_prefixes: ["products/"]
        callback_url_prefixes: ["https://catalog.internal/hooks/"]
        default_callback_url: https://catalog.internal/hooks/renames
        callback_secrets: ["\(webhookSecret)"]
        max_requests_per_second: 50
    queue: {capacity: 10, max_attempts: 3, backoff_base_seconds: 0.5, backoff_cap_seconds: 10}
    callbacks: {timeout_seconds: 3, retry_schedule_seconds: [1, 2.5]}
    notifications: {max_age_seconds: 600}
    storage: {path: ":memory:", retention_days: 1}
    shutdown: {drain_seconds: 5}
    log: {level: debug, format: text}
    """

let euURL = "cloudinary://5678:eu-secret@eu-cloud?upload_prefix=http://127.0.0.1:9999&signature_algorithm=sha1"

@Suite("Configuration loading")
struct ConfigurationLoaderTests {
    func load(
        _ yaml: String?,
        environment: [String: String] = [:],
        overrides: [String: String] = [:]
    ) async throws
        -> RenamerConfiguration
    {
        let scratch = try Scratch()
        let path = try yaml.map { try scratch.write("config.yaml", $0) }
        return try await ConfigurationLoader.load(.init(filePath: path, environment: environment, overrides: overrides))
    }

    func error(
        _ yaml: String?,
        environment: [String: String] = [:],
        overrides: [String: String] = [:]
    ) async
        -> ConfigurationError?
    {
        do {
            _ = try await load(yaml, environment: environment, overrides: overrides)
            return nil
        } catch {
            return error as? ConfigurationError
        }
    }

    @Test func fullFileIsRead() async throws {
        let config = try await load(fullYAML, environment: ["EU_CLOUDINARY_URL": euURL])
        #expect(config.http == .init(host: "127.0.0.1", port: 9000, maxBodyBytes: 4096))
        #expect(config.publicBaseURL == "https://renamer.example.com")
        #expect(config.defaultCloud == "main")
        let main = try #require(config.clouds["main"])
        #expect(main.cloudName == "demo")
        #expect(main.apiKey == "1234")
        #expect(main.apiSecret.value == "main-secret")
        #expect(main.signatureAlgorithm == .sha1)
        #expect(main.notificationSignature == .sha256)
        #expect(main.deliveryBaseURL == "https://res.cloudinary.com/demo")
        #expect(main.uploadPrefix == "https://api.cloudinary.com")
        #expect(main.maxConcurrentRequests == 4)
        #expect(main.timeoutSeconds == 2.5)
        #expect(main.invalidation == .init(method: .delay, maxWaitSeconds: 60, settleSeconds: 0.5))
        let eu = try #require(config.clouds["eu"])
        #expect(eu.cloudName == "eu-cloud")
        #expect(eu.apiKey == "5678")
        #expect(eu.apiSecret.value == "eu-secret")
        #expect(eu.uploadPrefix == "http://127.0.0.1:9999")
        #expect(eu.signatureAlgorithm == .sha1)
        let client = try #require(config.clients["catalog"])
        #expect(Hex.encode(client.tokenSHA256) == tokenDigest)
        #expect(client.clouds == ["main", "eu"])
        #expect(client.publicIDPrefixes == ["products/"])
        #expect(client.callbackURLPrefixes == ["https://catalog.internal/hooks/"])
        #expect(client.defaultCallbackURL == "https://catalog.internal/hooks/renames")
        #expect(client.callbackSecrets == [WebhookSecret(webhookSecret)!])
        #expect(client.maxRequestsPerSecond == 50)
        #expect(config.queue == .init(capacity: 10, maxAttempts: 3, backoffBaseSeconds: 0.5, backoffCapSeconds: 10))
        #expect(config.callbacks == .init(timeoutSeconds: 3, retryScheduleSeconds: [1, 2.5]))
        #expect(config.notifications.maxAgeSeconds == 600)
        #expect(config.storage.path == ":memory:" && config.storage.retentionDays == 1 && config.storage.kind == .sqlite)
        #expect(config.shutdown.drainSeconds == 5)
        #expect(config.log == .init(level: .debug, format: .text))
    }

    @Test func cloudinaryURLAloneDefinesTheDefaultCloud() async throws {
        let config = try await load(nil, environment: ["CLOUDINARY_URL": "cloudinary://key:sec%2Fret@my-cloud"])
        #expect(config.defaultCloud == "default")
        let cloud = try #require(config.clouds["default"])
        #expect(cloud.cloudName == "my-cloud")
        #expect(cloud.apiSecret.value == "sec/ret")
        #expect(cloud.signatureAlgorithm == .sha256)
        #expect(config.http == .init())
        #expect(config.publicBaseURL == "http://0.0.0.0:8080")
        #expect(config.callbacks.retryScheduleSeconds == [5, 30, 120, 600, 1800, 3600, 10800, 21600, 43200])
        #expect(config.clients.isEmpty)
    }

    @Test func explicitKeyWinsOverURLOption() async throws {
        let yaml = "clouds: {main: {url_env: MY_URL, signature_algorithm: sha256, upload_prefix: 'http://localhost:1/'}}"
        let config = try await load(yaml, environment: ["MY_URL": euURL])
        let cloud = try #require(config.clouds["main"])
        #expect(cloud.signatureAlgorithm == .sha256)
        #expect(cloud.uploadPrefix == "http://localhost:1")
    }

    @Test func precedenceIsDefaultsFileEnvironmentFlags() async throws {
        let yaml = "http: {port: 9000, host: 127.0.0.1}\nclouds: {main: {cloud_name: c, api_key: k, api_secret: s}}"
        let fileOnly = try await load(yaml)
        #expect(fileOnly.http.port == 9000)
        #expect(fileOnly.http.maxBodyBytes == 65536)
        let environment = ["RENAMER_HTTP_PORT": "9100", "RENAMER_LOG_LEVEL": "warning", "HTTP_PORT": "1"]
        let withEnvironment = try await load(yaml, environment: environment)
        #expect(withEnvironment.http.port == 9100)
        #expect(withEnvironment.http.host == "127.0.0.1")
        #expect(withEnvironment.log.level == .warning)
        let withFlags = try await load(yaml, environment: environment, overrides: ["http.port": "9200"])
        #expect(withFlags.http.port == 9200)
        #expect(withFlags.publicBaseURL == "http://127.0.0.1:9200")
    }

    @Test func environmentOverridesNestedAndListKeys() async throws {
        let environment = [
            "EU_CLOUDINARY_URL": euURL,
            "RENAMER_CLOUDS_MAIN_API_SECRET": "from-env",
            "RENAMER_CLOUDS_MAIN_INVALIDATION_METHOD": "probe",
            "RENAMER_CALLBACKS_RETRY_SCHEDULE_SECONDS": "7, 8,9",
            "RENAMER_CLIENTS_CATALOG_PUBLIC_ID_PREFIXES": "a/,b/",
        ]
        let config = try await load(fullYAML, environment: environment)
        #expect(config.clouds["main"]?.apiSecret.value == "from-env")
        #expect(config.clouds["main"]?.invalidation.method == .probe)
        #expect(config.callbacks.retryScheduleSeconds == [7, 8, 9])
        #expect(config.clients["catalog"]?.publicIDPrefixes == ["a/", "b/"])
    }

    @Test func configPathFromEnvironment() async throws {
        let scratch = try Scratch()
        let path = try scratch.write("c.json", #"{"clouds": {"main": {"cloud_name": "c", "api_key": "k", "api_secret": "s"}}, "http": {"port": 7}}"#)
        let config = try await ConfigurationLoader.load(.init(environment: ["RENAMER_CONFIG": path]))
        #expect(config.http.port == 7)
        #expect(config.defaultCloud == "main")
    }

    @Test func secretsFromFiles() async throws {
        let scratch = try Scratch()
        let secretPath = try scratch.write("api_secret", "file-secret\n")
        let tokenPath = try scratch.write("token", tokenDigest + "\n")
        let hooksPath = try scratch.write("hooks", "\(webhookSecret)\nwhsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n")
        let urlPath = try scratch.write("url", euURL)
        let yaml = """
            clouds:
              main: {cloud_name: c, api_key: k, api_secret_file: \(secretPath)}
              eu: {url_file: \(urlPath)}
            default_cloud: main
            clients:
              a:
                token_sha256_file: \(tokenPath)
                callback_url_prefixes: ["https://a.example/"]
                callback_secrets_file: \(hooksPath)
            """
        let config = try await load(yaml)
        #expect(config.clouds["main"]?.apiSecret.value == "file-secret")
        #expect(config.clouds["eu"]?.apiSecret.value == "eu-secret")
        #expect(config.clients["a"]?.callbackSecrets.count == 2)
        #expect(config.clients["a"].map { Hex.encode($0.tokenSHA256) } == tokenDigest)
    }

    @Test func summaryHasNoSecret() async throws {
        let config = try await load(fullYAML, environment: ["EU_CLOUDINARY_URL": euURL])
        let summary = config.summary
        for secret in ["main-secret", "eu-secret", webhookSecret, String(webhookSecret.dropFirst(6)), tokenDigest] {
            #expect(!summary.contains(secret))
        }
        #expect(summary.contains("cloud main: cloud_name=demo"))
        #expect(summary.contains("api_secret=<redacted>"))
        #expect(!"\(config)".contains("main-secret"))
    }

    // MARK: - Errors name the key

    static let minimalCloud = "clouds: {main: {cloud_name: c, api_key: k, api_secret: s}}\n"

    @Test(
        arguments: [
            ("http: {port: 70000}", "http.port"),
            ("http: {port: eighty}", "http.port"),
            ("http: {port: [1, 2]}", "http.port"),
            ("http: {prot: 1}", "http.prot"),
            ("htp: {port: 1}", "htp"),
            ("http: 5", "http"),
            ("clouds: {main: {cloud_name: c, api_key: k, api_secret: s, signature_algorithm: md5}}", "clouds.main.signature_algorithm"),
            ("clouds: {main: {cloud_name: c, api_key: k, api_secret: s, notification_signature: sha1}}", "clouds.main.notification_signature"),
            ("clouds: {main: {cloud_name: c, api_key: k, api_secret: s, invalidation: {method: guess}}}", "clouds.main.invalidation.method"),
            ("clouds: {main: {cloud_name: c, api_key: k, api_secret: s, delivery_base_url: ftp://x}}", "clouds.main.delivery_base_url"),
            ("clouds: {main: {cloud_name: c, api_key: k, api_secret: s, timeout_seconds: -1}}", "clouds.main.timeout_seconds"),
            ("clients: {a: {clouds: [main]}}", "clients.a.token_sha256"),
            ("clients: {a: {token_sha256: abc}}", "clients.a.token_sha256"),
            ("clients: {a: {token_sha256: \(tokenDigest), clouds: [nowhere]}}", "clients.a.clouds"),
            ("clients: {a: {token_sha256: \(tokenDigest), callback_url_prefixes: ['https://x/']}}", "clients.a.callback_secrets"),
            (
                "clients: {a: {token_sha256: \(tokenDigest), callback_url_prefixes: ['https://x/'], callback_secrets: [nope]}}",
                "clients.a.callback_secrets"
            ),
            (
                "clients: {a: {token_sha256: \(tokenDigest), callback_url_prefixes: ['https://x/'], callback_secrets: ['\(webhookSecret)'], default_callback_url: 'https://y/'}}",
                "clients.a.default_callback_url"
            ),
            ("clients: {a: {token_sha256: \(tokenDigest)}, b: {token_sha256: \(tokenDigest)}}", "clients.b.token_sha256"),
            ("clients: {'a.b': {token_sha256: \(tokenDigest)}}", "clients.a.b"),
            ("queue: {capacity: 0}", "queue.capacity"),
            ("queue: {backoff_base_seconds: 10, backoff_cap_seconds: 1}", "queue.backoff_cap_seconds"),
            ("callbacks: {retry_schedule_seconds: [1, soon]}", "callbacks.retry_schedule_seconds"),
            ("log: {level: loud}", "log.level"),
            ("default_cloud: other", "default_cloud"),
            ("public_base_url: renamer.local", "public_base_url"),
        ] as [(String, String)]
    )
    func badValueNamesItsKey(_ yaml: String, _ key: String) async {
        let error = await error(yaml.hasPrefix("clouds:") ? yaml : Self.minimalCloud + yaml)
        #expect(error?.key == key, "\(error.map(String.init(describing:)) ?? "no error")")
    }

    @Test func unreadableSecretFileNamesTheFileKey() async {
        let yaml = "clouds: {main: {cloud_name: c, api_key: k, api_secret_file: /nonexistent/secret}}"
        let error = await error(yaml)
        #expect(error?.key == "clouds.main.api_secret_file")
        #expect(error?.description.contains("/nonexistent/secret") == true)
    }

    @Test func missingCloudinaryURLAndNoClouds() async {
        #expect(await error(nil)?.key == "clouds")
        #expect(await error("clouds: {main: {url_env: NOPE}}")?.key == "clouds.main.url_env")
        #expect(await error(nil, environment: ["CLOUDINARY_URL": "https://x"])?.key == "CLOUDINARY_URL")
        #expect(await error(nil, environment: ["CLOUDINARY_URL": "cloudinary://k:s@c?signature_algorithm=md5"])?.key == "CLOUDINARY_URL")
    }

    @Test func badCloudinaryURLIsNotEchoed() async throws {
        let error = try #require(await error(nil, environment: ["CLOUDINARY_URL": "cloudinary://key-only-secret@"]))
        #expect(!error.description.contains("key-only-secret"))
    }

    @Test func environmentAndFlagValuesAreChecked() async {
        #expect(await error(Self.minimalCloud, environment: ["RENAMER_HTTP_PORT": "99999"])?.key == "http.port")
        #expect(await error(Self.minimalCloud, overrides: ["http.port": "-1"])?.key == "http.port")
        #expect(await error(Self.minimalCloud, overrides: ["http.nope": "1"])?.key == "http.nope")
    }

    @Test func badFilesAreOneLineErrors() async {
        #expect(await error("http: [unclosed")?.key == "config")
        #expect(await error("- a\n- b")?.key == "config")
        do {
            _ = try await ConfigurationLoader.load(.init(filePath: "/nonexistent/config.yaml"))
            Issue.record("a missing file must be an error")
        } catch {
            #expect(error.key == "config")
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func twoCloudsNeedADefault() async {
        let yaml = "clouds: {a: {cloud_name: c, api_key: k, api_secret: s}, b: {cloud_name: d, api_key: k, api_secret: s}}"
        #expect(await error(yaml)?.key == "default_cloud")
    }
}
