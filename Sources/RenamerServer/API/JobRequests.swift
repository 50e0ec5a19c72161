import Foundation
import RenamerConfig
import RenamerCore

/// Reads the `POST` body of each kind of job (SPEC §2, §11) into an ``Order``, or every field's
/// problem (422).
enum JobRequests {
    /// A valid body: what the scope checks (403) look at, and how to make the job.
    struct Order: Sendable {
        /// nil: the configuration's `default_cloud`.
        var cloud: String?
        /// A batch's items' clouds, by field (`items[3].cloud`): each must be one the client may use.
        var itemClouds: [(field: String, cloud: String)] = []
        /// (field, value) pairs the client's `public_id_prefixes` must allow: public IDs, and
        /// folders as `folder/` (a folder is everything under it).
        var scoped: [(field: String, value: String)]
        var callbackURL: String?
        /// The job (a batch: followed by its items), for a client at a time.
        var make: @Sendable (_ client: String, _ now: Date) -> [RenameJob]
    }

    enum Parsed {
        case valid(Order)
        case invalid([Problem.FieldError])
    }

    static func parse(_ kind: JobKind, _ object: [String: JSONValue], configuration: RenamerConfiguration) -> Parsed {
        switch kind {
        case .rename:
            switch RenameRequest.parse(object) {
            case .invalid(let errors): return .invalid(errors)
            case .valid(let order):
                return .valid(
                    Order(
                        cloud: order.cloud,
                        scoped: [("from_public_id", order.fromPublicID), ("to_public_id", order.toPublicID)],
                        callbackURL: order.callbackURL,
                        make: { [configuration, order] client, now in
                            [RenameJob(accepting: order, client: client, configuration: configuration, now: now)]
                        }
                    )
                )
            }
        case .assetUpdate: return assetUpdate(object, configuration: configuration)
        case .folderRename: return folderRename(object, configuration: configuration)
        case .batch: return batch(object, configuration: configuration)
        }
    }

    static let assetUpdateFields: Set<String> = [
        "public_id", "resource_type", "type", "asset_folder", "display_name", "cloud", "callback_url", "client_reference",
    ]

    /// `POST /v1/asset-updates`: at least one of `asset_folder` and `display_name`, on a cloud with
    /// dynamic folders (on a fixed one the folder is the public ID: `422` naming `asset_folder`).
    static func assetUpdate(_ object: [String: JSONValue], configuration: RenamerConfiguration) -> Parsed {
        var reader = FieldReader(object, allowed: assetUpdateFields)
        let publicID = reader.publicID("public_id")
        let resourceType = reader.choice("resource_type", ResourceType.self)
        let type = reader.choice("type", DeliveryType.self)
        let folder = reader.string("asset_folder")
        // "" is the root folder; anything else follows the public-ID path rules.
        if let folder, !folder.isEmpty, let problem = PublicID.problem(folder) { reader.fail("asset_folder", problem) }
        let name = reader.string("display_name")
        if let name {
            if name.isEmpty || name.count > 255 { reader.fail("display_name", "must be 1-255 characters") }
            if name.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) {
                reader.fail("display_name", "must not contain control characters")
            }
        }
        // `null` counts as absent, as everywhere.
        if folder == nil && name == nil && !reader.errors.contains(where: { $0.field == "asset_folder" || $0.field == "display_name" }) {
            reader.fail("asset_folder", "at least one of asset_folder and display_name is required")
        }
        let (cloud, callbackURL, clientReference) = reader.common()
        let cloudName = cloud ?? configuration.defaultCloud
        if let settings = configuration.clouds[cloudName], settings.folderMode == .fixed {
            reader.fail("asset_folder", "cloud \(cloudName) uses fixed folders: the folder is the public ID's prefix (rename the asset instead)")
        }
        guard reader.errors.isEmpty, let publicID else { return .invalid(reader.errors) }
        var order = AssetUpdateOrder(publicID: publicID, update: .init(assetFolder: folder, displayName: name))
        order.resourceType = resourceType ?? .image
        order.type = type ?? .upload
        order.cloud = cloud
        order.callbackURL = callbackURL
        order.clientReference = clientReference
        return .valid(
            Order(
                cloud: cloud,
                scoped: [("public_id", publicID)],
                callbackURL: callbackURL,
                make: { [configuration, order] client, now in [RenameJob(accepting: order, client: client, configuration: configuration, now: now)] }
            )
        )
    }

    static let folderRenameFields: Set<String> = [
        "from_folder", "to_folder", "cloud", "resource_types", "invalidate", "overwrite", "dry_run", "callback_url", "client_reference",
    ]

    /// `POST /v1/folder-renames`.
    static func folderRename(_ object: [String: JSONValue], configuration: RenamerConfiguration) -> Parsed {
        var reader = FieldReader(object, allowed: folderRenameFields)
        let from = reader.publicID("from_folder")
        let to = reader.publicID("to_folder")
        if let from, let to, from == to || (to + "/").hasPrefix(from + "/") || (from + "/").hasPrefix(to + "/") {
            reader.fail("to_folder", "must differ from from_folder and neither may contain the other")
        }
        var resourceTypes = ResourceType.allCases
        switch object["resource_types"] {
        case nil, .null: break
        case .array(let values):
            let types = values.compactMap { $0.stringValue.flatMap(ResourceType.init(rawValue:)) }
            if values.isEmpty || types.count != values.count || Set(types).count != types.count {
                reader.fail("resource_types", "must be a non-empty list of distinct values from image, video, raw")
            } else {
                resourceTypes = types
            }
        case .some(let other):
            reader.fail("resource_types", "must be an array, not \(other.typeName)")
        }
        let invalidate = reader.bool("invalidate")
        let overwrite = reader.bool("overwrite")
        let dryRun = reader.bool("dry_run")
        let (cloud, callbackURL, clientReference) = reader.common()
        guard reader.errors.isEmpty, let from, let to else { return .invalid(reader.errors) }
        var order = FolderRenameOrder(fromFolder: from, toFolder: to)
        order.resourceTypes = resourceTypes
        order.invalidate = invalidate ?? true
        order.overwrite = overwrite ?? false
        order.dryRun = dryRun ?? false
        order.cloud = cloud
        order.callbackURL = callbackURL
        order.clientReference = clientReference
        return .valid(
            Order(
                cloud: cloud,
                scoped: [("from_folder", from + "/"), ("to_folder", to + "/")],
                callbackURL: callbackURL,
                make: { [configuration, order] client, now in [RenameJob(accepting: order, client: client, configuration: configuration, now: now)] }
            )
        )
    }

    static let batchFields: Set<String> = ["items", "invalidate", "dry_run", "callback_url", "client_reference"]
    /// An item is a rename without its own callback (the batch is called back once) or
    /// `invalidate` (the batch's applies to every item).
    static let itemFields = RenameRequest.fields.subtracting(["callback_url", "invalidate"])
    static let maxItems = 1000

    /// `POST /v1/batches`: 1–1000 renames, validated all or nothing (fields named
    /// `items[3].to_public_id`); items run in list order where they share a public ID.
    static func batch(_ object: [String: JSONValue], configuration: RenamerConfiguration) -> Parsed {
        var reader = FieldReader(object, allowed: batchFields)
        var orders: [RenameOrder] = []
        switch object["items"] {
        case .array(let items) where (1...maxItems).contains(items.count):
            for (index, item) in items.enumerated() {
                let prefix = "items[\(index)]."
                guard case .object(let fields) = item else {
                    reader.errors.append(.init(field: "items[\(index)]", message: "must be an object"))
                    continue
                }
                var itemReader = FieldReader(fields.filter { $0.key != "invalidate" }, prefix: prefix, allowed: itemFields)
                if let invalidate = fields["invalidate"], invalidate != .null {
                    itemReader.fail("invalidate", "set invalidate on the batch: it applies to every item")
                }
                if let order = RenameRequest.read(&itemReader) { orders.append(order) }
                reader.errors += itemReader.errors
            }
        case .array:
            reader.fail("items", "must hold 1 to \(maxItems) renames")
        case nil, .null:
            reader.fail("items", "is required")
        case .some(let other):
            reader.fail("items", "must be an array, not \(other.typeName)")
        }
        let invalidate = reader.bool("invalidate") ?? true
        let dryRun = reader.bool("dry_run") ?? false
        let callbackURL = reader.string("callback_url")
        if let callbackURL, let problem = CallbackURL.problem(callbackURL) { reader.fail("callback_url", problem) }
        let clientReference = reader.string("client_reference")
        if let clientReference, clientReference.utf8.count > 256 { reader.fail("client_reference", "must be at most 256 bytes") }
        guard reader.errors.isEmpty else { return .invalid(reader.errors) }
        var scoped: [(field: String, value: String)] = []
        var itemClouds: [(field: String, cloud: String)] = []
        for (index, order) in orders.enumerated() {
            scoped.append(("items[\(index)].from_public_id", order.fromPublicID))
            scoped.append(("items[\(index)].to_public_id", order.toPublicID))
            itemClouds.append(("items[\(index)].cloud", order.cloud ?? configuration.defaultCloud))
        }
        let cloud = orders.first?.cloud
        return .valid(
            Order(
                cloud: cloud,
                itemClouds: itemClouds,
                scoped: scoped,
                callbackURL: callbackURL,
                make: { [configuration, orders] client, now in
                    var parent = RenameJob(
                        kind: .batch,
                        client: client,
                        cloud: cloud ?? configuration.defaultCloud,
                        from: "",
                        to: "",
                        callbackURL: callbackURL ?? configuration.clients[client]?.defaultCallbackURL,
                        clientReference: clientReference,
                        now: now
                    )
                    parent.invalidate = invalidate
                    parent.group = .init(folderMode: nil, resourceTypes: [], dryRun: dryRun, counts: .init(items: orders.count))
                    let items = orders.map { order in
                        var order = order
                        order.invalidate = invalidate
                        var item = RenameJob(accepting: order, client: client, configuration: configuration, now: now)
                        item.parent = parent.id
                        item.callback = .init(url: nil, status: .none, attempts: 0, lastStatus: nil)
                        return item
                    }
                    return [parent] + items
                }
            )
        )
    }
}
