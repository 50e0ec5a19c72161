import RenamerCrypto

extension RenamerConfiguration {
    /// A human-readable summary for `check-config` and the start-up log. It never contains a secret:
    /// API secrets and callback secrets are shown as counts or `<redacted>`, token digests by prefix.
    public var summary: String {
        var lines: [String] = []
        lines.append("http: \(http.host):\(http.port) (max body \(http.maxBodyBytes) bytes)")
        lines.append("public_base_url: \(publicBaseURL)")
        lines.append("default_cloud: \(defaultCloud)")
        for cloud in clouds.values.sorted(by: { $0.name < $1.name }) {
            lines.append(
                "cloud \(cloud.name): cloud_name=\(cloud.cloudName) api_key=\(cloud.apiKey) api_secret=\(cloud.apiSecret)"
                    + " upload_prefix=\(cloud.uploadPrefix) signature_algorithm=\(cloud.signatureAlgorithm.rawValue)"
                    + " notification_signature=\(cloud.notificationSignature.rawValue)"
                    + " delivery_base_url=\(cloud.deliveryBaseURL) max_concurrent_requests=\(cloud.maxConcurrentRequests)"
                    + " folder_mode=\(cloud.folderMode.rawValue) admin_api_max_requests_per_hour=\(cloud.adminAPIMaxRequestsPerHour)"
                    + " timeout=\(Self.seconds(cloud.timeoutSeconds)) invalidation=\(cloud.invalidation.method.rawValue)"
                    + " (max wait \(Self.seconds(cloud.invalidation.maxWaitSeconds)),"
                    + " settle \(Self.seconds(cloud.invalidation.settleSeconds)))"
            )
        }
        if clients.isEmpty { lines.append("clients: none (no caller can submit renames)") }
        for client in clients.values.sorted(by: { $0.name < $1.name }) {
            let rate = client.maxRequestsPerSecond.map { "\(Self.number($0))/s" } ?? "unlimited"
            lines.append(
                "client \(client.name): token_sha256=\(Hex.encode(client.tokenSHA256.prefix(4)))…"
                    + " clouds=[\(client.clouds.joined(separator: ", "))]"
                    + " public_id_prefixes=\(Self.list(client.publicIDPrefixes, empty: "any"))"
                    + " callback_url_prefixes=\(Self.list(client.callbackURLPrefixes, empty: "none"))"
                    + " default_callback_url=\(client.defaultCallbackURL ?? "none")"
                    + " callback_secrets=\(client.callbackSecrets.count) (redacted) rate=\(rate)"
            )
        }
        lines.append(
            "queue: capacity=\(queue.capacity) max_attempts=\(queue.maxAttempts)"
                + " backoff=\(Self.seconds(queue.backoffBaseSeconds))…\(Self.seconds(queue.backoffCapSeconds))"
        )
        lines.append(
            "callbacks: timeout=\(Self.seconds(callbacks.timeoutSeconds)) connect_timeout=\(Self.seconds(callbacks.connectTimeoutSeconds))"
                + " max_concurrent=\(callbacks.maxConcurrent) per_origin=\(callbacks.maxConcurrentPerOrigin)"
                + " retry_schedule=[\(callbacks.retryScheduleSeconds.map(Self.number).joined(separator: ", "))]"
        )
        lines.append("notifications: max_age=\(Self.seconds(notifications.maxAgeSeconds))")
        switch storage.kind {
        case .sqlite:
            lines.append("storage: sqlite path=\(storage.path) retention=\(Self.number(storage.retentionDays)) days")
        case .postgres:
            let target = storage.url.flatMap { PostgresURL($0.value) }.map { "\($0.host):\($0.port)/\($0.database)" } ?? "?"
            lines.append(
                "storage: postgres \(target) lease=\(Self.seconds(storage.leaseSeconds)) pool=\(storage.poolSize)"
                    + " retention=\(Self.number(storage.retentionDays)) days"
            )
        }
        lines.append("shutdown: drain=\(Self.seconds(shutdown.drainSeconds))")
        lines.append("log: level=\(log.level.rawValue) format=\(log.format.rawValue)")
        return lines.joined(separator: "\n")
    }

    private static func list(_ items: [String], empty: String) -> String {
        items.isEmpty ? empty : "[" + items.joined(separator: ", ") + "]"
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    private static func seconds(_ value: Double) -> String { number(value) + "s" }
}
