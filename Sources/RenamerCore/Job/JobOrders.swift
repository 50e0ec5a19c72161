import Foundation
import RenamerConfig
import RenamerCrypto

/// A validated `POST /v1/asset-updates` body (SPEC §11).
public struct AssetUpdateOrder: Sendable, Equatable {
    public var publicID: String
    public var resourceType: ResourceType = .image
    public var type: DeliveryType = .upload
    public var update: RenameJob.AssetUpdate
    public var cloud: String?
    public var callbackURL: String?
    public var clientReference: String?

    public init(publicID: String, update: RenameJob.AssetUpdate) {
        self.publicID = publicID
        self.update = update
    }
}

/// A validated `POST /v1/folder-renames` body (SPEC §11).
public struct FolderRenameOrder: Sendable, Equatable {
    public var fromFolder: String
    public var toFolder: String
    public var resourceTypes: [ResourceType] = ResourceType.allCases
    public var invalidate = true
    public var overwrite = false
    public var dryRun = false
    public var cloud: String?
    public var callbackURL: String?
    public var clientReference: String?

    public init(fromFolder: String, toFolder: String) {
        self.fromFolder = fromFolder
        self.toFolder = toFolder
    }
}

extension RenameJob {
    /// A new `queued` asset update (`au_…`): it changes no URL, so nothing is invalidated.
    public init(accepting order: AssetUpdateOrder, client: String, configuration: RenamerConfiguration, now: Date) {
        self.init(
            kind: .assetUpdate,
            client: client,
            cloud: order.cloud ?? configuration.defaultCloud,
            from: order.publicID,
            to: order.publicID,
            callbackURL: order.callbackURL ?? configuration.clients[client]?.defaultCallbackURL,
            clientReference: order.clientReference,
            now: now
        )
        resourceType = order.resourceType
        type = order.type
        update = order.update
    }

    /// A new `queued` folder rename (`fr_…`), in the folder mode its cloud has now.
    public init(accepting order: FolderRenameOrder, client: String, configuration: RenamerConfiguration, now: Date) {
        let cloud = order.cloud ?? configuration.defaultCloud
        self.init(
            kind: .folderRename,
            client: client,
            cloud: cloud,
            from: order.fromFolder,
            to: order.toFolder,
            callbackURL: order.callbackURL ?? configuration.clients[client]?.defaultCallbackURL,
            clientReference: order.clientReference,
            now: now
        )
        overwrite = order.overwrite
        invalidate = order.invalidate
        group = Group(
            folderMode: configuration.clouds[cloud]?.folderMode ?? .dynamic,
            resourceTypes: order.resourceTypes,
            dryRun: order.dryRun
        )
    }

    /// A new `queued` job of `kind` with no Cloudinary fields beyond its source and target.
    public init(
        kind: JobKind,
        client: String,
        cloud: String,
        from: String,
        to: String,
        callbackURL: String?,
        clientReference: String?,
        now: Date
    ) {
        self.init(
            id: kind.newID(at: now),
            client: client,
            status: .queued,
            cloud: cloud,
            fromPublicID: from,
            toPublicID: to,
            resourceType: .image,
            type: .upload,
            toType: nil,
            overwrite: false,
            invalidate: false,
            clientReference: clientReference,
            attempts: 0,
            createdAt: now,
            updatedAt: now,
            completedAt: nil,
            result: nil,
            invalidation: .init(status: .notRequested, method: nil, confirmedAt: nil),
            error: nil,
            callback: .init(url: callbackURL, status: callbackURL == nil ? .none : .pending, attempts: 0, lastStatus: nil)
        )
    }
}
