/// Every key the configuration understands, as dotted paths with `*` standing for a cloud or client
/// name. The loader rejects any other key in the file or in `--set`, so a typo never passes silently.
enum ConfigurationKeys {
    /// Keys whose value may instead be read from a file named by `<key>_file`.
    static let secretKeys: Set<String> = [
        "clouds.*.url", "clouds.*.api_secret", "clients.*.token_sha256", "clients.*.callback_secrets",
        "storage.url",
    ]

    static let leafKeys: Set<String> = {
        let plain: Set<String> = [
            "http.host", "http.port", "http.max_body_bytes",
            "public_base_url", "default_cloud",
            "clouds.*.url_env", "clouds.*.url", "clouds.*.cloud_name", "clouds.*.api_key", "clouds.*.api_secret",
            "clouds.*.upload_prefix", "clouds.*.signature_algorithm", "clouds.*.notification_signature",
            "clouds.*.delivery_base_url", "clouds.*.max_concurrent_requests", "clouds.*.folder_mode", "clouds.*.admin_api_max_requests_per_hour",
            "clouds.*.timeout_seconds",
            "clouds.*.invalidation.method", "clouds.*.invalidation.max_wait_seconds",
            "clouds.*.invalidation.settle_seconds",
            "clients.*.token_sha256", "clients.*.clouds", "clients.*.public_id_prefixes",
            "clients.*.callback_url_prefixes", "clients.*.default_callback_url", "clients.*.callback_secrets",
            "clients.*.max_requests_per_second",
            "queue.capacity", "queue.max_attempts", "queue.backoff_base_seconds", "queue.backoff_cap_seconds",
            "callbacks.timeout_seconds", "callbacks.retry_schedule_seconds", "callbacks.connect_timeout_seconds",
            "callbacks.max_concurrent", "callbacks.max_concurrent_per_origin",
            "notifications.max_age_seconds",
            "storage.kind", "storage.path", "storage.url", "storage.lease_seconds", "storage.pool_size",
            "storage.retention_days",
            "shutdown.drain_seconds",
            "log.level", "log.format",
        ]
        return plain.union(secretKeys.map { $0 + "_file" })
    }()

    /// Whether `path` (concrete names) is a known leaf key.
    static func isLeaf(_ path: [String]) -> Bool {
        leafKeys.contains(pattern(path))
    }

    /// Whether some known key lies below `path`.
    static func isSection(_ path: [String]) -> Bool {
        let prefix = pattern(path) + "."
        return leafKeys.contains { $0.hasPrefix(prefix) } || path == ["clouds"] || path == ["clients"]
    }

    /// `clouds.main.api_key` → `clouds.*.api_key`.
    static func pattern(_ path: [String]) -> String {
        var components = path
        if components.count >= 2, components[0] == "clouds" || components[0] == "clients" {
            components[1] = "*"
        }
        return components.joined(separator: ".")
    }
}
