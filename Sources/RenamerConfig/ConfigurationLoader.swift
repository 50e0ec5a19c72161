import Configuration
import Foundation
import RenamerCrypto
import SystemPackage
import Yams

/// Loads and validates ``RenamerConfiguration`` from ``ConfigurationSources`` (SPEC §7).
///
/// Reads, lowest precedence first: built-in defaults, the file (`--config` or `RENAMER_CONFIG`),
/// `RENAMER_*` environment variables, then `--set` overrides. Cloud and client names come from the
/// file's `clouds` and `clients` maps and from overrides; with no cloud named anywhere, `CLOUDINARY_URL`
/// alone defines a cloud named `default`. Any problem is one ``ConfigurationError`` naming the key.
public enum ConfigurationLoader {
    public static func load(_ sources: ConfigurationSources) async throws(ConfigurationError) -> RenamerConfiguration {
        let file = try await readFile(sources.resolvedFilePath)
        for key in sources.overrides.keys {
            let path = key.split(separator: ".").map(String.init)
            guard ConfigurationKeys.isLeaf(path) else { throw ConfigurationError(key, "unknown configuration key") }
        }
        var providers: [any ConfigProvider] = [
            InMemoryProvider(
                name: "command line",
                values: Dictionary(
                    uniqueKeysWithValues: sources.overrides.map { key, value in
                        (AbsoluteConfigKey(key.split(separator: ".").map(String.init)), ConfigValue(.string(value), isSecret: true))
                    }
                )
            ),
            EnvironmentVariablesProvider(environmentVariables: sources.prefixedEnvironment, secretsSpecifier: .all),
        ]
        if let provider = file.provider { providers.append(provider) }
        let values = ConfigValues(reader: ConfigReader(providers: providers))

        let overrideNames = { (section: String) in
            Set(
                sources.overrides.keys.compactMap { key -> String? in
                    let parts = key.split(separator: ".")
                    return parts.count > 2 && parts[0] == Substring(section) ? String(parts[1]) : nil
                }
            )
        }
        let cloudNames = file.names(under: "clouds").union(overrideNames("clouds"))
        let clientNames = file.names(under: "clients").union(overrideNames("clients"))
        return try build(values, cloudNames: cloudNames, clientNames: clientNames, environment: sources.environment)
    }

    // MARK: - File

    struct ConfigFile {
        var provider: (any ConfigProvider)?
        var tree: Node?

        func names(under section: String) -> Set<String> {
            guard let mapping = tree?.mapping?[section]?.mapping else { return [] }
            return Set(mapping.keys.compactMap(\.string))
        }
    }

    static func readFile(_ path: String?) async throws(ConfigurationError) -> ConfigFile {
        guard let path else { return ConfigFile() }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("config", "cannot read file \(path)")
        }
        guard data.count <= 4 << 20 else { throw ConfigurationError("config", "file \(path) is larger than 4 MiB") }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError("config", "file \(path) is not UTF-8 text")
        }
        let tree: Node?
        do {
            tree = try Yams.compose(yaml: text)
        } catch {
            let reason = "\(error)".split(whereSeparator: \.isNewline).first.map(String.init) ?? "syntax error"
            throw ConfigurationError("config", "\(path) is not valid YAML or JSON: \(reason)")
        }
        guard let tree, tree != Node("") else { return ConfigFile() }
        guard tree.mapping != nil else { throw ConfigurationError("config", "\(path) must hold a mapping of keys") }
        try checkKeys(tree, path: [])
        do {
            let provider = try await FileProvider<YAMLSnapshot>(
                parsingOptions: YAMLSnapshot.ParsingOptions(secretsSpecifier: .all),
                filePath: FilePath(path)
            )
            return ConfigFile(provider: provider, tree: tree)
        } catch {
            let reason = "\(error)".split(whereSeparator: \.isNewline).first.map(String.init) ?? "unreadable"
            throw ConfigurationError("config", "\(path): \(reason)")
        }
    }

    /// Rejects unknown keys and misplaced sections in the file.
    static func checkKeys(_ node: Node, path: [String]) throws(ConfigurationError) {
        let dotted = path.joined(separator: ".")
        if let mapping = node.mapping {
            if !path.isEmpty && ConfigurationKeys.isLeaf(path) {
                throw ConfigurationError(dotted, "must be a value, not a mapping")
            }
            for (key, child) in mapping {
                guard let name = key.string, !name.isEmpty else {
                    throw ConfigurationError(dotted.isEmpty ? "config" : dotted, "keys must be strings")
                }
                let childPath = path + [name]
                if path.count == 1, path[0] == "clouds" || path[0] == "clients" {
                    try checkName(name, key: childPath.joined(separator: "."))
                }
                guard ConfigurationKeys.isLeaf(childPath) || ConfigurationKeys.isSection(childPath) else {
                    throw ConfigurationError(childPath.joined(separator: "."), "unknown configuration key")
                }
                try checkKeys(child, path: childPath)
            }
        } else if node.null != nil {
            return
        } else if !ConfigurationKeys.isLeaf(path) {
            throw ConfigurationError(dotted, "must be a mapping of keys")
        }
    }

    static func checkName(_ name: String, key: String) throws(ConfigurationError) {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39)
                || byte == UInt8(ascii: "-")
        }
        guard allowed, (1...64).contains(name.utf8.count) else {
            throw ConfigurationError(key, "names may use only letters, digits and '-' (at most 64)")
        }
    }

    // MARK: - Building

    static func build(
        _ values: ConfigValues,
        cloudNames: Set<String>,
        clientNames: Set<String>,
        environment: [String: String]
    ) throws(ConfigurationError) -> RenamerConfiguration {
        var http = RenamerConfiguration.HTTP()
        http.host = try values.string("http.host") ?? http.host
        http.port = try values.int("http.port", in: 0...65535) ?? http.port
        http.maxBodyBytes = try values.int("http.max_body_bytes", in: 256...(16 << 20)) ?? http.maxBodyBytes

        let explicitBaseURL = try values.string("public_base_url").map { url throws(ConfigurationError) in
            try httpURL(url, key: "public_base_url")
        }

        var clouds: [String: RenamerConfiguration.Cloud] = [:]
        if cloudNames.isEmpty {
            guard environment["CLOUDINARY_URL"] != nil else {
                throw ConfigurationError("clouds", "no cloud configured: set CLOUDINARY_URL or add a clouds map")
            }
            clouds["default"] = try cloud(named: "default", values, environment: environment, defaultURLEnv: "CLOUDINARY_URL")
        } else {
            for name in cloudNames.sorted() {
                clouds[name] = try cloud(named: name, values, environment: environment, defaultURLEnv: nil)
            }
        }

        let defaultCloud: String
        if let name = try values.string("default_cloud") {
            guard clouds[name] != nil else {
                throw ConfigurationError("default_cloud", "names no configured cloud (\(clouds.keys.sorted().joined(separator: ", ")))")
            }
            defaultCloud = name
        } else if clouds.count == 1, let only = clouds.keys.first {
            defaultCloud = only
        } else {
            throw ConfigurationError("default_cloud", "is required when more than one cloud is configured")
        }

        var clients: [String: RenamerConfiguration.Client] = [:]
        var tokens: [[UInt8]: String] = [:]
        for name in clientNames.sorted() {
            let client = try client(named: name, values, clouds: clouds, defaultCloud: defaultCloud)
            if let other = tokens[client.tokenSHA256] {
                throw ConfigurationError("clients.\(name).token_sha256", "is the same as clients.\(other)'s")
            }
            tokens[client.tokenSHA256] = name
            clients[name] = client
        }

        var queue = RenamerConfiguration.Queue()
        queue.capacity = try values.int("queue.capacity", in: 1...10_000_000) ?? queue.capacity
        queue.maxAttempts = try values.int("queue.max_attempts", in: 1...100) ?? queue.maxAttempts
        queue.backoffBaseSeconds = try values.double("queue.backoff_base_seconds", minimum: 0, maximum: 86400) ?? queue.backoffBaseSeconds
        queue.backoffCapSeconds = try values.double("queue.backoff_cap_seconds", minimum: 0, maximum: 86400) ?? queue.backoffCapSeconds
        guard queue.backoffCapSeconds >= queue.backoffBaseSeconds else {
            throw ConfigurationError("queue.backoff_cap_seconds", "must not be less than queue.backoff_base_seconds")
        }

        var callbacks = RenamerConfiguration.Callbacks()
        callbacks.timeoutSeconds = try values.double("callbacks.timeout_seconds", minimum: 0, maximum: 3600) ?? callbacks.timeoutSeconds
        callbacks.retryScheduleSeconds =
            try values.doubleArray("callbacks.retry_schedule_seconds", minimum: 0, maximum: 7 * 86400)
            ?? callbacks.retryScheduleSeconds
        guard callbacks.retryScheduleSeconds.count <= 50 else {
            throw ConfigurationError("callbacks.retry_schedule_seconds", "may hold at most 50 delays")
        }
        callbacks.connectTimeoutSeconds =
            try values.double("callbacks.connect_timeout_seconds", minimum: 0.001, maximum: 600) ?? callbacks.connectTimeoutSeconds
        callbacks.maxConcurrent = try values.int("callbacks.max_concurrent", in: 1...1024) ?? callbacks.maxConcurrent
        callbacks.maxConcurrentPerOrigin =
            try values.int("callbacks.max_concurrent_per_origin", in: 1...1024) ?? callbacks.maxConcurrentPerOrigin
        guard callbacks.maxConcurrentPerOrigin <= callbacks.maxConcurrent else {
            throw ConfigurationError("callbacks.max_concurrent_per_origin", "must not exceed callbacks.max_concurrent")
        }

        var notifications = RenamerConfiguration.Notifications()
        notifications.maxAgeSeconds =
            try values.double("notifications.max_age_seconds", minimum: 0, maximum: 30 * 86400)
            ?? notifications.maxAgeSeconds

        var storage = RenamerConfiguration.Storage()
        storage.path = try values.string("storage.path") ?? storage.path
        guard !storage.path.isEmpty else { throw ConfigurationError("storage.path", "must not be empty") }
        storage.retentionDays = try values.double("storage.retention_days", minimum: 0, maximum: 3650) ?? storage.retentionDays
        storage.kind = try values.choice("storage.kind", as: RenamerConfiguration.Storage.Kind.self) ?? storage.kind
        storage.leaseSeconds = try values.double("storage.lease_seconds", minimum: 3, inclusiveMinimum: true, maximum: 3600) ?? storage.leaseSeconds
        storage.poolSize = try values.int("storage.pool_size", in: 2...200) ?? storage.poolSize
        if let url = try values.secret("storage.url") {
            guard PostgresURL(url) != nil else {
                throw ConfigurationError("storage.url", "must be postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]")
            }
            storage.url = Secret(url)
        }
        if storage.kind == .postgres && storage.url == nil {
            throw ConfigurationError("storage.url", "is required with storage.kind: postgres (or storage.url_file, or RENAMER_STORAGE_URL)")
        }

        var shutdown = RenamerConfiguration.Shutdown()
        shutdown.drainSeconds =
            try values.double("shutdown.drain_seconds", minimum: 0, inclusiveMinimum: true, maximum: 3600)
            ?? shutdown.drainSeconds

        var log = RenamerConfiguration.Log()
        log.level = try values.choice("log.level", as: RenamerConfiguration.Log.Level.self) ?? log.level
        log.format = try values.choice("log.format", as: RenamerConfiguration.Log.Format.self) ?? log.format

        return RenamerConfiguration(
            http: http,
            publicBaseURL: explicitBaseURL ?? "http://\(http.host):\(http.port)",
            publicBaseURLIsExplicit: explicitBaseURL != nil,
            defaultCloud: defaultCloud,
            clouds: clouds,
            clients: clients,
            queue: queue,
            callbacks: callbacks,
            notifications: notifications,
            storage: storage,
            shutdown: shutdown,
            log: log
        )
    }

    static func cloud(
        named name: String,
        _ values: ConfigValues,
        environment: [String: String],
        defaultURLEnv: String?
    ) throws(ConfigurationError) -> RenamerConfiguration.Cloud {
        let prefix = "clouds.\(name)."
        // Account settings from a cloudinary:// URL, if any; explicit keys win over it (SPEC §10).
        var url: CloudinaryURL?
        if let text = try values.secret(prefix + "url") {
            url = try CloudinaryURL(parsing: text, key: prefix + "url")
        } else if let variable = try values.string(prefix + "url_env") ?? defaultURLEnv {
            guard let text = environment[variable] else {
                throw ConfigurationError(prefix + "url_env", "environment variable \(variable) is not set")
            }
            url = try CloudinaryURL(parsing: text, key: variable)
        }
        guard let cloudName = try values.string(prefix + "cloud_name") ?? url?.cloudName, !cloudName.isEmpty else {
            throw ConfigurationError(prefix + "cloud_name", "is required (or give url / url_env)")
        }
        guard let apiKey = try values.string(prefix + "api_key") ?? url?.apiKey, !apiKey.isEmpty else {
            throw ConfigurationError(prefix + "api_key", "is required (or give url / url_env)")
        }
        guard let apiSecret = try values.secret(prefix + "api_secret").map(Secret.init) ?? url?.apiSecret,
            !apiSecret.value.isEmpty
        else {
            throw ConfigurationError(prefix + "api_secret", "is required (or api_secret_file, url, url_env)")
        }
        var cloud = RenamerConfiguration.Cloud(
            name: name,
            cloudName: cloudName,
            apiKey: apiKey,
            apiSecret: apiSecret,
            deliveryBaseURL: "https://res.cloudinary.com/\(cloudName)"
        )
        if let prefixURL = try values.string(prefix + "upload_prefix") ?? url?.uploadPrefix {
            cloud.uploadPrefix = try httpURL(prefixURL, key: prefix + "upload_prefix")
        }
        cloud.signatureAlgorithm =
            try values.choice(prefix + "signature_algorithm", as: DigestAlgorithm.self)
            ?? url?.signatureAlgorithm ?? cloud.signatureAlgorithm
        cloud.notificationSignature =
            try values.choice(prefix + "notification_signature", as: NotificationSignaturePolicy.self)
            ?? cloud.notificationSignature
        if let delivery = try values.string(prefix + "delivery_base_url") {
            cloud.deliveryBaseURL = try httpURL(delivery, key: prefix + "delivery_base_url")
        }
        cloud.maxConcurrentRequests = try values.int(prefix + "max_concurrent_requests", in: 1...1024) ?? cloud.maxConcurrentRequests
        cloud.folderMode = try values.choice(prefix + "folder_mode", as: RenamerConfiguration.FolderMode.self) ?? cloud.folderMode
        cloud.adminAPIMaxRequestsPerHour =
            try values.int(prefix + "admin_api_max_requests_per_hour", in: 1...1_000_000) ?? cloud.adminAPIMaxRequestsPerHour
        cloud.timeoutSeconds = try values.double(prefix + "timeout_seconds", minimum: 0, maximum: 3600) ?? cloud.timeoutSeconds
        cloud.invalidation.method =
            try values.choice(prefix + "invalidation.method", as: RenamerConfiguration.Invalidation.Method.self)
            ?? cloud.invalidation.method
        cloud.invalidation.maxWaitSeconds =
            try values.double(prefix + "invalidation.max_wait_seconds", minimum: 0, maximum: 7 * 86400)
            ?? cloud.invalidation.maxWaitSeconds
        cloud.invalidation.settleSeconds =
            try values.double(
                prefix + "invalidation.settle_seconds",
                minimum: 0,
                inclusiveMinimum: true,
                maximum: 86400
            )
            ?? cloud.invalidation.settleSeconds
        return cloud
    }

    static func client(
        named name: String,
        _ values: ConfigValues,
        clouds: [String: RenamerConfiguration.Cloud],
        defaultCloud: String
    ) throws(ConfigurationError) -> RenamerConfiguration.Client {
        let prefix = "clients.\(name)."
        guard let tokenHex = try values.secret(prefix + "token_sha256") else {
            throw ConfigurationError(prefix + "token_sha256", "is required (the SHA-256 hex of the bearer token; see `asset-renamer hash-token`)")
        }
        guard tokenHex.utf8.count == 64, let token = Hex.decodeLowercase(tokenHex.lowercased()) else {
            throw ConfigurationError(prefix + "token_sha256", "must be 64 hex characters (the SHA-256 of the token)")
        }
        let allowedClouds = try values.stringArray(prefix + "clouds") ?? [defaultCloud]
        for cloud in allowedClouds where clouds[cloud] == nil {
            throw ConfigurationError(prefix + "clouds", "names unknown cloud \(cloud)")
        }
        var client = RenamerConfiguration.Client(name: name, tokenSHA256: token, clouds: allowedClouds)
        client.publicIDPrefixes = try values.stringArray(prefix + "public_id_prefixes") ?? []
        client.callbackURLPrefixes = try (values.stringArray(prefix + "callback_url_prefixes") ?? []).map {
            prefixURL throws(ConfigurationError) in try httpURL(prefixURL, key: prefix + "callback_url_prefixes")
        }
        if let url = try values.string(prefix + "default_callback_url") {
            let url = try httpURL(url, key: prefix + "default_callback_url")
            guard client.callbackURLPrefixes.contains(where: { url.hasPrefix($0) }) else {
                throw ConfigurationError(prefix + "default_callback_url", "must start with one of callback_url_prefixes")
            }
            client.defaultCallbackURL = url
        }
        let secrets = try values.secretArray(prefix + "callback_secrets") ?? []
        client.callbackSecrets = try secrets.enumerated().map { index, text throws(ConfigurationError) in
            guard let secret = WebhookSecret(text) else {
                throw ConfigurationError(prefix + "callback_secrets", "entry \(index + 1) must be whsec_ followed by base64")
            }
            return secret
        }
        if !client.callbackURLPrefixes.isEmpty && client.callbackSecrets.isEmpty {
            throw ConfigurationError(prefix + "callback_secrets", "is required when callback_url_prefixes is set")
        }
        client.maxRequestsPerSecond = try values.double(prefix + "max_requests_per_second", minimum: 0, maximum: 1e6)
        return client
    }

    /// An absolute http(s) URL without a trailing slash.
    static func httpURL(_ text: String, key: String) throws(ConfigurationError) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let components = URLComponents(string: trimmed), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else {
            throw ConfigurationError(key, "must be an absolute http:// or https:// URL (got \(ConfigValues.quoted(text)))")
        }
        return trimmed.hasSuffix("/") && components.path.count <= 1 ? String(trimmed.dropLast()) : trimmed
    }
}
