import Foundation
import RenamerConfig

/// Reads a stored job through ``JSONValue`` instead of `JSONDecoder`: a list page decodes 20–100
/// rows, and Foundation's generic decoding (metadata lookups, a date formatter per timestamp) cost
/// ~30 µs per job where this costs a few (`Benchmarks/run.sh history`).
extension StoredJob {
    public struct Corrupt: Error, CustomStringConvertible {
        public let description: String
    }

    /// - Parameter event: The callback event's body where it is kept apart from the row (the
    ///   SQLite journal's `callback_events`); a row that holds its own body (an older row, or
    ///   PostgreSQL's) uses that.
    public static func read(_ body: Data, event: Data? = nil) throws -> RenameJob {
        try read(Array(body), event: event.map(Array.init))
    }

    public static func read(_ body: [UInt8], event: [UInt8]? = nil) throws -> RenameJob {
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
        job.parent = fields["parent"]?.stringValue
        if case .array(let counts)? = fields["counts"], counts.count == 4 {
            let values = counts.map { $0.intValue ?? 0 }
            job.group?.counts = .init(items: values[0], renamed: values[1], failed: values[2], skipped: values[3])
        }
        if case .bool(true)? = fields["cancelRequested"] { job.group?.cancelRequested = true }
        if let code = fields["failureCode"]?.stringValue {
            job.group?.failure = .init(
                code: code,
                message: fields["failureMessage"]?.stringValue ?? "",
                cloudinaryStatus: fields["failureStatus"]?.intValue
            )
        }
        if let attempts = fields["attempts"]?.intValue { job.attempts = attempts }
        if let pair = fields["listingPair"]?.intValue {
            job.group?.listing = .init(pair: pair, cursor: fields["listingCursor"]?.stringValue)
        }
        if let id = fields["eventID"]?.stringValue,
            let body = fields["eventBody"]?.stringValue.flatMap({ Data(base64Encoded: $0) }).map(Array.init) ?? event
        {
            job.callbackEvent = .init(id: id, body: body, nextAttemptAt: fields["nextAttemptAt"].flatMap(Self.seconds))
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
        let kind = JobKind(id: try string("id"))
        let invalidation = api["invalidation"]
        let callback = api["callback"]
        let result: RenameResult? =
            if case .object(let fields)? = api["result"], let publicID = fields["public_id"]?.stringValue {
                RenameResult(
                    publicID: publicID,
                    version: fields["version"]?.intValue,
                    secureURL: fields["secure_url"]?.stringValue,
                    assetFolder: fields["asset_folder"]?.stringValue,
                    displayName: fields["display_name"]?.stringValue
                )
            } else {
                nil
            }
        let failure: JobError? =
            if case .object(let fields)? = api["error"], let code = fields["code"]?.stringValue {
                JobError(code: code, message: fields["message"]?.stringValue ?? "", cloudinaryStatus: fields["cloudinary_status"]?.intValue)
            } else {
                nil
            }
        let invalidationStatus: Invalidation.Status? =
            kind == .rename ? invalidation?["status"]?.stringValue.flatMap(Invalidation.Status.init(rawValue:)) : .notRequested
        guard let invalidationStatus,
            let callbackStatus = callback?["status"]?.stringValue.flatMap(Callback.Status.init(rawValue:)),
            let createdAt = date(try string("created_at")), let updatedAt = date(try string("updated_at"))
        else { throw StoredJob.Corrupt(description: "a stored job has a bad invalidation, callback or timestamp") }
        let (from, to): (String, String) =
            switch kind {
            case .rename: (try string("from_public_id"), try string("to_public_id"))
            case .assetUpdate: (try string("public_id"), try string("public_id"))
            case .folderRename: (try string("from_folder"), try string("to_folder"))
            case .batch: ("", "")
            }
        let hasAsset = kind == .rename || kind == .assetUpdate
        self.init(
            id: try string("id"),
            client: "",
            status: try value("status", JobStatus.self),
            cloud: try string("cloud"),
            fromPublicID: from,
            toPublicID: to,
            resourceType: hasAsset ? try value("resource_type", ResourceType.self) : .image,
            type: hasAsset ? try value("type", DeliveryType.self) : .upload,
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
        switch kind {
        case .rename: break
        case .assetUpdate:
            update = AssetUpdate(assetFolder: optionalString("asset_folder"), displayName: optionalString("display_name"))
        case .folderRename, .batch:
            var types: [ResourceType] = []
            if case .array(let values)? = api["resource_types"] {
                types = values.compactMap { $0.stringValue.flatMap(ResourceType.init(rawValue:)) }
            }
            group = Group(
                folderMode: optionalString("folder_mode").flatMap(RenamerConfiguration.FolderMode.init(rawValue:)),
                resourceTypes: types,
                dryRun: bool("dry_run")
            )
            if case .object(let plan)? = api["result"], case .array(let targets)? = plan["existing_targets"],
                case .array(let sample)? = plan["sample"]
            {
                group?.plan = Group.Plan(
                    items: plan["items"]?.intValue ?? 0,
                    existingTargets: targets.compactMap(\.stringValue),
                    sample: sample.compactMap { item in
                        guard let from = item["from_public_id"]?.stringValue, let to = item["to_public_id"]?.stringValue,
                            let resourceType = item["resource_type"]?.stringValue.flatMap(ResourceType.init(rawValue:)),
                            let type = item["type"]?.stringValue.flatMap(DeliveryType.init(rawValue:))
                        else { return nil }
                        return .init(from: from, to: to, resourceType: resourceType, type: type)
                    }
                )
            }
        }
    }
}
