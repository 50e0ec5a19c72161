import Foundation
import RenamerConfig

/// Cloudinary resource types a rename may name.
public enum ResourceType: String, Sendable, Codable, CaseIterable {
    case image, video, raw
}

/// Cloudinary delivery types.
public enum DeliveryType: String, Sendable, Codable, CaseIterable {
    case upload, `private`, authenticated
}

/// One rename, from acceptance to its callback: the `job` object of SPEC §2.
public struct RenameJob: Sendable, Equatable {
    public var id: String
    /// Owning client; never shown to callers.
    public var client: String
    public var status: JobStatus
    public var cloud: String
    public var fromPublicID: String
    public var toPublicID: String
    public var resourceType: ResourceType
    public var type: DeliveryType
    public var toType: DeliveryType?
    public var overwrite: Bool
    public var invalidate: Bool
    public var clientReference: String?
    /// Upload API rename calls made so far.
    public var attempts: Int
    public var createdAt: Date
    public var updatedAt: Date
    public var completedAt: Date?
    /// Cloudinary's answer once renamed (kept with the other rare fields, see ``rareBox``).
    public var result: RenameResult? {
        get { rareBox?.fields.result }
        set { rare.result = newValue }
    }
    public var invalidation: Invalidation
    public var error: JobError?
    public var callback: Callback
    /// When a verified `rename` notification for this job arrived (not part of the API's job JSON).
    public var notifiedAt: Date?
    /// The callback event, fixed when the job became final and dropped when delivery ended (not part
    /// of the API's job JSON).
    public var callbackEvent: CallbackEvent?
    /// The folder rename or batch an item belongs to (SPEC §11); items send no callback.
    public var parent: String?
    /// An asset update's new values (SPEC §11); nil for other kinds.
    public var update: AssetUpdate? {
        get { rareBox?.fields.update }
        set { rare.update = newValue }
    }
    /// A folder rename's or batch's settings and counts (SPEC §11); nil for other kinds.
    public var group: Group? {
        get { rareBox?.fields.group }
        set { rare.group = newValue }
    }

    /// The fields a queued rename lacks, behind one reference: a queued job is ~300 bytes smaller
    /// (609 → ~330 inline), and the working set and memory storage each keep one (issue 17: the
    /// 256 MiB at 100,000 queued jobs). Copy on write: a box is changed only while unshared.
    private var rareBox: RareBox?

    struct RareFields: Sendable, Equatable {
        var result: RenameResult?
        var update: AssetUpdate?
        var group: Group?
    }

    final class RareBox: @unchecked Sendable, Equatable {
        var fields: RareFields

        init(_ fields: RareFields) {
            self.fields = fields
        }

        static func == (lhs: RareBox, rhs: RareBox) -> Bool { lhs.fields == rhs.fields }
    }

    private var rare: RareFields {
        get { rareBox?.fields ?? RareFields() }
        set {
            if newValue.result == nil && newValue.update == nil && newValue.group == nil {
                rareBox = nil
            } else if isKnownUniquelyReferenced(&rareBox) {
                rareBox?.fields = newValue
            } else {
                rareBox = RareBox(newValue)
            }
        }
    }

    /// What the job does, from its id's prefix.
    public var kind: JobKind { JobKind(id: id) }

    /// `asset_folder` and `display_name` of an asset update; at least one is set.
    public struct AssetUpdate: Sendable, Equatable {
        public var assetFolder: String?
        public var displayName: String?

        public init(assetFolder: String?, displayName: String?) {
            self.assetFolder = assetFolder
            self.displayName = displayName
        }
    }

    /// A folder rename or batch: how it runs and how its items ended.
    public struct Group: Sendable, Equatable {
        /// The cloud's folder mode when the folder rename was accepted (nil for a batch).
        public var folderMode: RenamerConfiguration.FolderMode?
        /// The resource types a folder rename lists (fixed mode).
        public var resourceTypes: [ResourceType]
        public var dryRun: Bool
        public var counts: Counts
        /// Where a fixed-mode listing stands: it resumes there after a restart.
        public var listing: Listing?
        /// A dry run's result (set when it completes).
        public var plan: Plan?
        /// The caller cancelled it (`DELETE`): no more items start; it ends `cancelled`.
        public var cancelRequested = false
        /// Why its listing failed: no more items are listed; it ends `failed` with this error.
        public var failure: JobError?

        public init(folderMode: RenamerConfiguration.FolderMode?, resourceTypes: [ResourceType], dryRun: Bool, counts: Counts = .init()) {
            self.folderMode = folderMode
            self.resourceTypes = resourceTypes
            self.dryRun = dryRun
            self.counts = counts
        }

        /// The next page to list: which (resource type, delivery type) pair, and its cursor.
        public struct Listing: Sendable, Equatable {
            public var pair: Int
            public var cursor: String?

            public init(pair: Int = 0, cursor: String? = nil) {
                self.pair = pair
                self.cursor = cursor
            }
        }

        /// What a dry run found: how many items, which targets exist already (and would fail
        /// without `overwrite`), and the first items.
        public struct Plan: Sendable, Equatable {
            public var items: Int
            public var existingTargets: [String]
            public var sample: [Item]

            public init(items: Int, existingTargets: [String], sample: [Item]) {
                self.items = items
                self.existingTargets = existingTargets
                self.sample = sample
            }

            public struct Item: Sendable, Equatable {
                public var from: String
                public var to: String
                public var resourceType: ResourceType
                public var type: DeliveryType

                public init(from: String, to: String, resourceType: ResourceType, type: DeliveryType) {
                    self.from = from
                    self.to = to
                    self.resourceType = resourceType
                    self.type = type
                }
            }

            /// At most this many items in `sample`, and targets in `existingTargets`.
            public static let sampleSize = 100
            public static let maxExistingTargets = 1000
        }

        /// `result` of a folder rename or batch: items found, and how they ended.
        public struct Counts: Sendable, Equatable {
            public var items = 0
            public var renamed = 0
            public var failed = 0
            /// Items cancelled before they called Cloudinary.
            public var skipped = 0

            public init(items: Int = 0, renamed: Int = 0, failed: Int = 0, skipped: Int = 0) {
                self.items = items
                self.renamed = renamed
                self.failed = failed
                self.skipped = skipped
            }
        }
    }

    /// A Standard Webhooks event: its id and body never change across delivery attempts.
    public struct CallbackEvent: Sendable, Equatable {
        public var id: String
        public var body: [UInt8]
        /// When the next delivery attempt is due (the job keeps no event once delivery ended).
        public var nextAttemptAt: Date?

        public init(id: String, body: [UInt8], nextAttemptAt: Date?) {
            self.id = id
            self.body = body
            self.nextAttemptAt = nextAttemptAt
        }
    }

    /// What Cloudinary answered to the successful rename.
    public struct RenameResult: Sendable, Equatable, Codable {
        public var publicID: String
        public var version: Int?
        public var secureURL: String?
        /// Where the Media Library shows the asset, and its name there (asset updates, SPEC §11).
        public var assetFolder: String?
        public var displayName: String?

        public init(publicID: String, version: Int?, secureURL: String?, assetFolder: String? = nil, displayName: String? = nil) {
            self.publicID = publicID
            self.version = version
            self.secureURL = secureURL
            self.assetFolder = assetFolder
            self.displayName = displayName
        }

        enum CodingKeys: String, CodingKey {
            case publicID = "public_id"
            case version
            case secureURL = "secure_url"
            case assetFolder = "asset_folder"
            case displayName = "display_name"
        }
    }

    public struct Invalidation: Sendable, Equatable {
        public enum Status: String, Sendable, Codable {
            case notRequested = "not_requested"
            case pending, confirmed, unconfirmed
        }
        public enum Method: String, Sendable, Codable {
            case probe, notification, delay
        }
        public var status: Status
        public var method: Method?
        public var confirmedAt: Date?

        public init(status: Status, method: Method?, confirmedAt: Date?) {
            self.status = status
            self.method = method
            self.confirmedAt = confirmedAt
        }
    }

    /// Why a job failed.
    public struct JobError: Sendable, Equatable, Codable {
        public var code: String
        public var message: String
        public var cloudinaryStatus: Int?

        public init(code: String, message: String, cloudinaryStatus: Int? = nil) {
            self.code = code
            self.message = message
            self.cloudinaryStatus = cloudinaryStatus
        }

        enum CodingKeys: String, CodingKey {
            case code, message
            case cloudinaryStatus = "cloudinary_status"
        }
    }

    public struct Callback: Sendable, Equatable {
        public enum Status: String, Sendable, Codable {
            case none, pending, delivered, failed, gone
        }
        public var url: String?
        public var status: Status
        public var attempts: Int
        public var lastStatus: Int?

        public init(url: String?, status: Status, attempts: Int, lastStatus: Int?) {
            self.url = url
            self.status = status
            self.attempts = attempts
            self.lastStatus = lastStatus
        }
    }

    public init(
        id: String,
        client: String,
        status: JobStatus,
        cloud: String,
        fromPublicID: String,
        toPublicID: String,
        resourceType: ResourceType,
        type: DeliveryType,
        toType: DeliveryType?,
        overwrite: Bool,
        invalidate: Bool,
        clientReference: String?,
        attempts: Int,
        createdAt: Date,
        updatedAt: Date,
        completedAt: Date?,
        result: RenameResult?,
        invalidation: Invalidation,
        error: JobError?,
        callback: Callback
    ) {
        self.id = id
        self.client = client
        self.status = status
        self.cloud = cloud
        self.fromPublicID = fromPublicID
        self.toPublicID = toPublicID
        self.resourceType = resourceType
        self.type = type
        self.toType = toType
        self.overwrite = overwrite
        self.invalidate = invalidate
        self.clientReference = clientReference
        self.attempts = attempts
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.completedAt = completedAt
        self.invalidation = invalidation
        self.error = error
        self.callback = callback
        self.result = result
    }

}

/// A public ID within one cloud and resource type: two jobs sharing one never run at once.
public struct AssetKey: Hashable, Sendable {
    public var cloud: String
    public var resourceType: ResourceType
    public var publicID: String
}
