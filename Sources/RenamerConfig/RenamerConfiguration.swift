import RenamerCrypto

/// The daemon's validated configuration (SPEC §7, §10). Built by ``ConfigurationLoader``.
///
/// Every duration is in seconds and may be fractional. Secrets are ``Secret`` values so that
/// printing the configuration never prints them.
public struct RenamerConfiguration: Sendable {
    public var http: HTTP
    /// Base URL Cloudinary uses to reach `/v1/notifications/cloudinary`.
    public var publicBaseURL: String
    /// False when `publicBaseURL` was derived from `http.host`/`http.port`; with port 0 the daemon then
    /// substitutes the port it bound.
    public var publicBaseURLIsExplicit = true
    /// Cloud used when a rename names none.
    public var defaultCloud: String
    public var clouds: [String: Cloud]
    public var clients: [String: Client]
    public var queue: Queue
    public var callbacks: Callbacks
    public var notifications: Notifications
    public var storage: Storage
    public var shutdown: Shutdown
    public var log: Log

    public struct HTTP: Sendable, Equatable {
        public var host: String = "0.0.0.0"
        /// 0 picks a free port (tests and the demo).
        public var port: Int = 8080
        public var maxBodyBytes: Int = 65536
    }

    /// One Cloudinary product environment.
    public struct Cloud: Sendable, Equatable {
        /// The name callers and the config use (`main`), not Cloudinary's cloud name.
        public var name: String
        public var cloudName: String
        public var apiKey: String
        public var apiSecret: Secret
        /// Base of the Upload and Admin API, `https://api.cloudinary.com` unless set.
        public var uploadPrefix: String = "https://api.cloudinary.com"
        /// Algorithm for the requests we sign.
        public var signatureAlgorithm: DigestAlgorithm = .sha256
        /// Algorithms accepted on incoming notifications.
        public var notificationSignature: NotificationSignaturePolicy = .any
        /// Base of delivery URLs, `https://res.cloudinary.com/{cloud_name}` unless set.
        public var deliveryBaseURL: String
        public var maxConcurrentRequests: Int = 8
        /// Bound on each Cloudinary call.
        public var timeoutSeconds: Double = 30
        public var invalidation: Invalidation = .init()
        /// Whether the folder is the public ID's prefix (`fixed`) or independent of it (SPEC §11).
        public var folderMode: FolderMode = .dynamic
        /// Admin API calls the daemon may make per hour on this cloud's account (SPEC §11).
        public var adminAPIMaxRequestsPerHour: Int = 500
    }

    /// A cloud's folder mode (SPEC §11): `dynamic` (accounts made since June 2024: moving an asset or
    /// renaming a folder changes no URL) or `fixed` (the folder is the public ID's prefix).
    public enum FolderMode: String, Sendable, CaseIterable {
        case dynamic, fixed
    }

    /// How a cloud establishes that the CDN stopped serving the old URL (SPEC §5).
    public struct Invalidation: Sendable, Equatable {
        public enum Method: String, Sendable, CaseIterable {
            case probe, notification, delay
        }
        public var method: Method = .probe
        public var maxWaitSeconds: Double = 900
        public var settleSeconds: Double = 120
    }

    /// A caller with a bearer token and the scopes it may use.
    public struct Client: Sendable, Equatable, CustomStringConvertible {
        public var name: String
        /// SHA-256 of the bearer token (32 bytes).
        public var tokenSHA256: [UInt8]
        /// Cloud names this client may use.
        public var clouds: [String]
        /// Allowed public-ID prefixes; empty allows any.
        public var publicIDPrefixes: [String] = []
        /// Callback URLs must start with one of these; empty allows no callbacks.
        public var callbackURLPrefixes: [String] = []
        public var defaultCallbackURL: String?
        /// The first signs; all are sent during rotation.
        public var callbackSecrets: [WebhookSecret] = []
        /// Request rate limit; nil means unlimited.
        public var maxRequestsPerSecond: Double?

        public var description: String { "Client(\(name), clouds: \(clouds))" }
    }

    public struct Queue: Sendable, Equatable {
        public var capacity: Int = 10000
        public var maxAttempts: Int = 8
        public var backoffBaseSeconds: Double = 1
        public var backoffCapSeconds: Double = 300
    }

    public struct Callbacks: Sendable, Equatable {
        public var timeoutSeconds: Double = 15
        public var retryScheduleSeconds: [Double] = [5, 30, 120, 600, 1800, 3600, 10800, 21600, 43200]
        /// Connecting to a receiver gives up after this long (a refused port fails at once).
        public var connectTimeoutSeconds: Double = 5
        /// Deliveries in flight at once, in all.
        public var maxConcurrent: Int = 32
        /// Deliveries in flight at once to one origin (scheme, host, port).
        public var maxConcurrentPerOrigin: Int = 4
    }

    public struct Notifications: Sendable, Equatable {
        public var maxAgeSeconds: Double = 7200
    }

    public struct Storage: Sendable, Equatable {
        public enum Kind: String, Sendable, CaseIterable {
            case sqlite, postgres
        }
        public var kind: Kind = .sqlite
        /// SQLite journal path; `:memory:` keeps everything in memory (`kind: sqlite`).
        public var path: String = "/var/lib/asset-renamer/renamer.sqlite"
        /// `postgres://user:pass@host:port/db?sslmode=…` (`kind: postgres`, SPEC §12).
        public var url: Secret?
        /// How long a replica's claim on its jobs lasts without renewal (`kind: postgres`).
        public var leaseSeconds: Double = 30
        /// Connections to PostgreSQL per replica.
        public var poolSize: Int = 10
        public var retentionDays: Double = 7
    }

    public struct Shutdown: Sendable, Equatable {
        public var drainSeconds: Double = 25
    }

    public struct Log: Sendable, Equatable {
        public enum Level: String, Sendable, CaseIterable {
            case trace, debug, info, notice, warning, error, critical
        }
        public enum Format: String, Sendable, CaseIterable {
            case json, text
        }
        public var level: Level = .info
        public var format: Format = .json
    }
}
