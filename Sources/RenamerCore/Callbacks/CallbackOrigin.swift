import Foundation

/// Where a callback goes, as delivery is scheduled (SPEC §6): scheme, host and port, so that
/// `https://a.example/x` and `https://A.example:443/y` share one origin and its slots.
public struct CallbackOrigin: Hashable, Sendable, CustomStringConvertible {
    public let scheme: String
    public let host: String
    public let port: Int

    /// The origin of `url`, nil when it has no scheme or host.
    public init?(_ url: String) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            let host = components.host?.lowercased(), !host.isEmpty
        else { return nil }
        self.scheme = scheme
        self.host = host
        port = components.port ?? (scheme == "https" ? 443 : 80)
    }

    public var description: String { "\(scheme)://\(host):\(port)" }
}

extension CallbackOrigin {
    /// `CallbackOrigin(url)?.description`, remembered for the last 1,024 URLs: the outbox key is
    /// taken each time a job with a pending callback is written or scheduled (~3 times per job),
    /// and `URLComponents` costs ~10,000 instructions per parse. Callers use a handful of URLs.
    public static func key(_ url: String) -> String? {
        keys.value(url) { CallbackOrigin($0)?.description }
    }

    private static let keys = StringMemo<String?>(capacity: 1024)
}
