import RenamerConfig

/// What the daemon needs from Cloudinary: the seam tests substitute.
public protocol CloudinaryAPI: Sendable {
    /// One Upload API `rename` call, signed afresh.
    func rename(_ call: RenameCall, cloud: RenamerConfiguration.Cloud) async -> RenameOutcome

    /// Admin API resource lookup (`GET /v1_1/{cloud}/resources/{resource_type}/{type}/{public_id}`).
    func lookup(
        publicID: String,
        resourceType: ResourceType,
        type: DeliveryType,
        cloud: RenamerConfiguration.Cloud
    ) async
        -> LookupOutcome

    /// Admin API update of an asset's `asset_folder`/`display_name` (SPEC §11; dynamic folders).
    func updateAsset(
        publicID: String,
        resourceType: ResourceType,
        type: DeliveryType,
        update: RenameJob.AssetUpdate,
        cloud: RenamerConfiguration.Cloud
    ) async -> RenameOutcome

    /// Admin API folder rename, `PUT /v1_1/{cloud}/folders/{from}` (SPEC §11; dynamic folders).
    func renameFolder(from: String, to: String, cloud: RenamerConfiguration.Cloud) async -> RenameOutcome

    /// Whether a folder exists (`GET /v1_1/{cloud}/folders/{path}`): reconciles a folder rename whose
    /// outcome is unknown.
    func folderExists(_ path: String, cloud: RenamerConfiguration.Cloud) async -> LookupOutcome

    /// One page of the Admin API listing by prefix
    /// (`GET /v1_1/{cloud}/resources/{resource_type}/{type}?prefix=&max_results=&next_cursor=`).
    func listResources(
        prefix: String,
        resourceType: ResourceType,
        type: DeliveryType,
        cursor: String?,
        maxResults: Int,
        cloud: RenamerConfiguration.Cloud
    ) async -> ListOutcome

    /// The Admin API budget the calls above spend (SPEC §11); nil when calls are not budgeted.
    var adminBudget: AdminBudget? { get }
}

/// How one listing call ended.
public enum ListOutcome: Sendable, Equatable {
    /// The page's public IDs, and the cursor of the next page (nil on the last).
    case page(publicIDs: [String], next: String?)
    case rejected(status: Int, message: String, retryAfter: Double?)
    /// No answer; a listing changes nothing, so any of these may be retried.
    case failed(reason: String)
}

extension CloudinaryAPI {
    public func updateAsset(
        publicID: String,
        resourceType: ResourceType,
        type: DeliveryType,
        update: RenameJob.AssetUpdate,
        cloud: RenamerConfiguration.Cloud
    ) async -> RenameOutcome {
        .rejected(status: 400, message: "asset updates are not supported here", retryAfter: nil)
    }

    public func renameFolder(from: String, to: String, cloud: RenamerConfiguration.Cloud) async -> RenameOutcome {
        .rejected(status: 400, message: "folder renames are not supported here", retryAfter: nil)
    }

    public func folderExists(_ path: String, cloud: RenamerConfiguration.Cloud) async -> LookupOutcome {
        .unavailable(reason: "folder lookups are not supported here")
    }

    public func listResources(
        prefix: String,
        resourceType: ResourceType,
        type: DeliveryType,
        cursor: String?,
        maxResults: Int,
        cloud: RenamerConfiguration.Cloud
    ) async -> ListOutcome {
        .rejected(status: 400, message: "listings are not supported here", retryAfter: nil)
    }

    public var adminBudget: AdminBudget? { nil }
}

/// The fields of one rename call (SPEC §3).
public struct RenameCall: Sendable, Equatable {
    public var fromPublicID: String
    public var toPublicID: String
    public var resourceType: ResourceType
    public var type: DeliveryType
    public var toType: DeliveryType?
    public var overwrite: Bool
    public var invalidate: Bool
    public var notificationURL: String?

    public init(job: RenameJob, notificationURL: String?) {
        fromPublicID = job.fromPublicID
        toPublicID = job.toPublicID
        resourceType = job.resourceType
        type = job.type
        toType = job.toType
        overwrite = job.overwrite
        invalidate = job.invalidate
        self.notificationURL = notificationURL
    }

    /// The form fields to send and sign, without `api_key`, `timestamp` and `signature`.
    /// Booleans are `true`/`false`; absent optional fields are left out (SPEC §10).
    public var parameters: [String: String] {
        var parameters = [
            "from_public_id": fromPublicID,
            "to_public_id": toPublicID,
            "type": type.rawValue,
            "overwrite": overwrite ? "true" : "false",
            "invalidate": invalidate ? "true" : "false",
        ]
        if let toType { parameters["to_type"] = toType.rawValue }
        if let notificationURL { parameters["notification_url"] = notificationURL }
        return parameters
    }
}

/// How one rename call ended.
public enum RenameOutcome: Sendable, Equatable {
    /// Cloudinary renamed the asset.
    case renamed(RenameJob.RenameResult)
    /// Cloudinary answered with an error status.
    case rejected(status: Int, message: String, retryAfter: Double?)
    /// The request never reached Cloudinary (connection refused, DNS, connect timeout): safe to retry.
    case notSent(reason: String)
    /// Sent, but no answer (read timeout, connection lost): the rename may or may not have happened.
    case outcomeUnknown(reason: String)
}

/// How one resource lookup ended.
public enum LookupOutcome: Sendable, Equatable {
    case found(RenameJob.RenameResult)
    case notFound
    /// No reliable answer (error status other than 404, network failure).
    case unavailable(reason: String)
}
