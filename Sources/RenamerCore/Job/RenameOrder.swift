/// A rename as the caller asked for it (the `POST /v1/renames` body, SPEC §2), validated, with the
/// body's defaults; ``RenameJob/init(accepting:client:configuration:now:)`` makes the job of it.
public struct RenameOrder: Sendable, Equatable {
    public var fromPublicID: String
    public var toPublicID: String
    public var resourceType: ResourceType = .image
    public var type: DeliveryType = .upload
    public var toType: DeliveryType?
    public var overwrite = false
    public var invalidate = true
    /// nil: the configuration's `default_cloud`.
    public var cloud: String?
    /// nil: the client's `default_callback_url`, if any.
    public var callbackURL: String?
    public var clientReference: String?

    public init(fromPublicID: String, toPublicID: String) {
        self.fromPublicID = fromPublicID
        self.toPublicID = toPublicID
    }
}
