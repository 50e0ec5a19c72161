import Foundation

/// Reads a stored job through ``JSONValue`` instead of `JSONDecoder`: a list page decodes 20–100
/// rows, and Foundation's generic decoding (metadata lookups, a date formatter per timestamp) cost
/// ~30 µs per job where this costs a few (`Benchmarks/run.sh history`).
extension StoredJob {
    public struct Corrupt: Error, CustomStringConvertible {
        public let description: String
    }

    public static func read(_ body: Data) throws -> RenameJob {
        try read(Array(body))
    }

    public static func read(_ body: [UInt8]) throws -> RenameJob {
        let stored: JSONValue
        do {
            stored = try JSONValue.parse(body)
        } catch {
            throw Corrupt(description: "a stored job is not JSON: \(error)")
        }
        guard case .object(let fields) = stored, case .object(let api)? = fields["job"] else {
            throw Corrupt(description: "a stored job has no job object")
        }
        var job = try RenameJob(api: api)
        job.client = fields["client"]?.stringValue ?? ""
        job.notifiedAt = fields["notifiedAt"].flatMap(Self.seconds)
        if let id = fields["eventID"]?.stringValue, let encoded = fields["eventBody"]?.stringValue, let body = Data(base64Encoded: encoded) {
            job.callbackEvent = .init(id: id, body: Array(body), nextAttemptAt: fields["nextAttemptAt"].flatMap(Self.seconds))
        }
        return job
    }

    static func seconds(_ value: JSONValue) -> Date? {
        guard case .number(let seconds) = value else { return nil }
        return Date(timeIntervalSince1970: seconds)
    }
}

extension RenameJob {
    /// The job from its API JSON object (SPEC §2), as ``RenameJob/write(to:)`` writes it.
    init(api: [String: JSONValue]) throws {
        func string(_ key: String) throws -> String {
            guard let value = api[key]?.stringValue else { throw StoredJob.Corrupt(description: "a stored job lacks \(key)") }
            return value
        }
        func optionalString(_ key: String) -> String? { api[key]?.stringValue }
        func value<T: RawRepresentable<String>>(_ key: String, _: T.Type) throws -> T {
            guard let value = T(rawValue: try string(key)) else { throw StoredJob.Corrupt(description: "a stored job has a bad \(key)") }
            return value
        }
        func date(_ text: String?) -> Date? { text.flatMap(RFC3339.date) }
        func bool(_ key: String) -> Bool {
            if case .bool(let value)? = api[key] { return value }
            return false
        }
        let invalidation = api["invalidation"]
        let callback = api["callback"]
        let result: RenameResult? =
            if case .object(let fields)? = api["result"], let publicID = fields["public_id"]?.stringValue {
                RenameResult(publicID: publicID, version: fields["version"]?.intValue, secureURL: fields["secure_url"]?.stringValue)
            } else {
                nil
            }
        let failure: JobError? =
            if case .object(let fields)? = api["error"], let code = fields["code"]?.stringValue {
                JobError(code: code, message: fields["message"]?.stringValue ?? "", cloudinaryStatus: fields["cloudinary_status"]?.intValue)
            } else {
                nil
            }
        guard let invalidationStatus = invalidation?["status"]?.stringValue.flatMap(Invalidation.Status.init(rawValue:)),
            let callbackStatus = callback?["status"]?.stringValue.flatMap(Callback.Status.init(rawValue:)),
            let createdAt = date(try string("created_at")), let updatedAt = date(try string("updated_at"))
        else { throw StoredJob.Corrupt(description: "a stored job has a bad invalidation, callback or timestamp") }
        self.init(
            id: try string("id"),
            client: "",
            status: try value("status", JobStatus.self),
            cloud: try string("cloud"),
            fromPublicID: try string("from_public_id"),
            toPublicID: try string("to_public_id"),
            resourceType: try value("resource_type", ResourceType.self),
            type: try value("type", DeliveryType.self),
            toType: optionalString("to_type").flatMap(DeliveryType.init(rawValue:)),
            overwrite: bool("overwrite"),
            invalidate: bool("invalidate"),
            clientReference: optionalString("client_reference"),
            attempts: api["attempts"]?.intValue ?? 0,
            createdAt: createdAt,
            updatedAt: updatedAt,
            completedAt: date(optionalString("completed_at")),
            result: result,
            invalidation: .init(
                status: invalidationStatus,
                method: invalidation?["method"]?.stringValue.flatMap(Invalidation.Method.init(rawValue:)),
                confirmedAt: date(invalidation?["confirmed_at"]?.stringValue)
            ),
            error: failure,
            callback: .init(
                url: callback?["url"]?.stringValue,
                status: callbackStatus,
                attempts: callback?["attempts"]?.intValue ?? 0,
                lastStatus: callback?["last_status"]?.intValue
            )
        )
    }
}
