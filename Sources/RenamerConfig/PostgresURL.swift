import Foundation

/// A `postgres://user:password@host:port/database?sslmode=…` URL, taken apart (SPEC §12).
/// `postgresql://` is accepted too; the password may be percent-encoded.
public struct PostgresURL: Sendable, Equatable {
    public enum TLSMode: String, Sendable, CaseIterable {
        case disable, prefer, require
    }

    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    public var tls: TLSMode

    public init?(_ text: String) {
        guard let components = URLComponents(string: text), components.scheme == "postgres" || components.scheme == "postgresql",
            let host = components.host, !host.isEmpty, let user = components.user, !user.isEmpty
        else { return nil }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { return nil }
        var tls = TLSMode.prefer
        for item in components.queryItems ?? [] {
            guard item.name == "sslmode" else { return nil }
            switch item.value {
            case "disable", "allow": tls = .disable
            case "prefer": tls = .prefer
            case "require", "verify-ca", "verify-full": tls = .require
            default: return nil
            }
        }
        self.user = user
        password = components.password?.removingPercentEncoding ?? components.password
        self.host = host
        port = components.port ?? 5432
        self.database = database
        self.tls = tls
    }
}
