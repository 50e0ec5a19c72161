import RenamerCrypto

/// How the emulator behaves: its one account and the timings of its simulated CDN and notifications.
public struct EmulatorSettings: Sendable {
    /// Whether an asset's folder is its own attribute or its public ID's prefix (SPEC §11).
    public enum FolderMode: String, Sendable, Codable, CaseIterable {
        /// `asset_folder` and `display_name` are independent of the public ID; folders can be renamed.
        case dynamic
        /// The folder is the public ID's prefix; the Admin API refuses `asset_folder` and folder renames.
        case fixed
    }

    public var cloudName = "demo"
    public var apiKey = "123456789012345"
    public var apiSecret = "emulator-secret"
    /// After a rename with `invalidate`, the old delivery URL keeps answering 200 this long.
    public var invalidationDelaySeconds: Double = 3
    /// After a rename without `invalidate`, the CDN keeps serving the old URL this long.
    public var cacheTTLSeconds: Double = 3600
    /// Algorithm of `X-Cld-Signature` on notifications (Cloudinary's default is SHA-1).
    public var notificationAlgorithm: DigestAlgorithm = .sha1
    /// Whether renames with a `notification_url` send a notification.
    public var sendsNotifications = true
    /// Delays between redeliveries of a notification that was not answered 200.
    public var notificationRetrySeconds: [Double] = [1, 2, 4]
    /// Signed requests older than this are refused as stale.
    public var maxRequestAgeSeconds: Double = 3600
    public var folderMode: FolderMode = .dynamic
    /// Admin API calls answered per window before the rest answer `420` (nil: unlimited, reported as
    /// a limit of ``unlimitedAdminAPIBudget``). Upload API calls never count.
    public var adminAPIBudget: Int?
    /// Length of the Admin API rate-limit window; it starts with the first call after the last one ended.
    public var adminAPIWindowSeconds: Double = 3600

    /// The `X-FeatureRateLimit-Limit` reported when no budget is set.
    public static let unlimitedAdminAPIBudget = 500_000

    public init() {}
}
