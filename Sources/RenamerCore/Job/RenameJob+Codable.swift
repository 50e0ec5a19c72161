import Foundation

/// The job's JSON form (SPEC §2): snake_case keys, RFC 3339 UTC timestamps, explicit `null`s.
extension RenameJob: Codable {
    enum CodingKeys: String, CodingKey {
        case id, status, cloud
        case fromPublicID = "from_public_id"
        case toPublicID = "to_public_id"
        case resourceType = "resource_type"
        case type
        case toType = "to_type"
        case overwrite, invalidate
        case clientReference = "client_reference"
        case attempts
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case completedAt = "completed_at"
        case result, invalidation, error, callback
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(status, forKey: .status)
        try container.encode(cloud, forKey: .cloud)
        try container.encode(fromPublicID, forKey: .fromPublicID)
        try container.encode(toPublicID, forKey: .toPublicID)
        try container.encode(resourceType, forKey: .resourceType)
        try container.encode(type, forKey: .type)
        try container.encode(toType, forKey: .toType)
        try container.encode(overwrite, forKey: .overwrite)
        try container.encode(invalidate, forKey: .invalidate)
        try container.encode(clientReference, forKey: .clientReference)
        try container.encode(attempts, forKey: .attempts)
        try container.encode(RFC3339.string(createdAt), forKey: .createdAt)
        try container.encode(RFC3339.string(updatedAt), forKey: .updatedAt)
        try container.encode(completedAt.map(RFC3339.string), forKey: .completedAt)
        try container.encode(result, forKey: .result)
        try container.encode(invalidation, forKey: .invalidation)
        try container.encode(error, forKey: .error)
        try container.encode(callback, forKey: .callback)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        client = ""
        status = try container.decode(JobStatus.self, forKey: .status)
        cloud = try container.decode(String.self, forKey: .cloud)
        fromPublicID = try container.decode(String.self, forKey: .fromPublicID)
        toPublicID = try container.decode(String.self, forKey: .toPublicID)
        resourceType = try container.decode(ResourceType.self, forKey: .resourceType)
        type = try container.decode(DeliveryType.self, forKey: .type)
        toType = try container.decodeIfPresent(DeliveryType.self, forKey: .toType)
        overwrite = try container.decode(Bool.self, forKey: .overwrite)
        invalidate = try container.decode(Bool.self, forKey: .invalidate)
        clientReference = try container.decodeIfPresent(String.self, forKey: .clientReference)
        attempts = try container.decode(Int.self, forKey: .attempts)
        createdAt = try RFC3339.decode(container, .createdAt)
        updatedAt = try RFC3339.decode(container, .updatedAt)
        completedAt = try container.decodeIfPresent(String.self, forKey: .completedAt).flatMap(RFC3339.date)
        result = try container.decodeIfPresent(RenameResult.self, forKey: .result)
        invalidation = try container.decode(Invalidation.self, forKey: .invalidation)
        error = try container.decodeIfPresent(JobError.self, forKey: .error)
        callback = try container.decode(Callback.self, forKey: .callback)
        notifiedAt = nil
        callbackEvent = nil
    }
}

extension RenameJob.Invalidation: Codable {
    enum CodingKeys: String, CodingKey {
        case status, method
        case confirmedAt = "confirmed_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(status, forKey: .status)
        try container.encode(method, forKey: .method)
        try container.encode(confirmedAt.map(RFC3339.string), forKey: .confirmedAt)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        status = try container.decode(Status.self, forKey: .status)
        method = try container.decodeIfPresent(Method.self, forKey: .method)
        confirmedAt = try container.decodeIfPresent(String.self, forKey: .confirmedAt).flatMap(RFC3339.date)
    }
}

extension RenameJob.Callback: Codable {
    enum CodingKeys: String, CodingKey {
        case url, status, attempts
        case lastStatus = "last_status"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(url, forKey: .url)
        try container.encode(status, forKey: .status)
        try container.encode(attempts, forKey: .attempts)
        try container.encode(lastStatus, forKey: .lastStatus)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        url = try container.decodeIfPresent(String.self, forKey: .url)
        status = try container.decode(Status.self, forKey: .status)
        attempts = try container.decode(Int.self, forKey: .attempts)
        lastStatus = try container.decodeIfPresent(Int.self, forKey: .lastStatus)
    }
}

/// RFC 3339 timestamps in UTC with whole seconds: `2026-11-27T10:00:00Z`.
public enum RFC3339 {
    public static func string(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle())
    }

    public static func date(_ string: String) -> Date? {
        (try? Date.ISO8601FormatStyle().parse(string))
            ?? (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(string))
    }

    static func decode<Key: CodingKey>(_ container: KeyedDecodingContainer<Key>, _ key: Key) throws -> Date {
        let text = try container.decode(String.self, forKey: key)
        guard let date = date(text) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "not an RFC 3339 date")
        }
        return date
    }
}
