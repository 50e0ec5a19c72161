import Foundation

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
    public var result: RenameResult?
    public var invalidation: Invalidation
    public var error: JobError?
    public var callback: Callback
    /// When a verified `rename` notification for this job arrived (not part of the API's job JSON).
    public var notifiedAt: Date?
    /// The callback event, fixed when the job became final (not part of the API's job JSON).
    public var callbackEvent: CallbackEvent?

    /// A Standard Webhooks event: its id and body never change across delivery attempts.
    public struct CallbackEvent: Sendable, Equatable {
        public var id: String
        public var body: [UInt8]
        /// When the next delivery attempt is due; nil once delivery ended.
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

        public init(publicID: String, version: Int?, secureURL: String?) {
            self.publicID = publicID
            self.version = version
            self.secureURL = secureURL
        }

        enum CodingKeys: String, CodingKey {
            case publicID = "public_id"
            case version
            case secureURL = "secure_url"
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
        self.result = result
        self.invalidation = invalidation
        self.error = error
        self.callback = callback
    }

}

/// A public ID within one cloud and resource type: two jobs sharing one never run at once.
public struct AssetKey: Hashable, Sendable {
    public var cloud: String
    public var resourceType: ResourceType
    public var publicID: String
}
