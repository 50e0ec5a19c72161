import RenamerCrypto

/// How the emulator behaves: its one account and the timings of its simulated CDN and notifications.
public struct EmulatorSettings: Sendable {
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

    public init() {}
}
