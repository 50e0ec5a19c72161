import Foundation
import RenamerConfig

/// The job's API form (SPEC §2), fields in the specification's order.
extension RenameJob: JSONWritable {
    public func write(to json: inout JSONWriter) {
        switch kind {
        case .rename: writeRename(to: &json)
        case .assetUpdate: writeAssetUpdate(to: &json)
        case .folderRename, .batch: writeGroup(to: &json)
        }
    }

    private func writeRename(to json: inout JSONWriter) {
        json.object { json in
            json.field("id", id)
            json.field("status", status)
            json.field("cloud", cloud)
            json.field("from_public_id", fromPublicID)
            json.field("to_public_id", toPublicID)
            json.field("resource_type", resourceType)
            json.field("type", type)
            json.field("to_type", toType)
            json.field("overwrite", overwrite)
            json.field("invalidate", invalidate)
            json.field("client_reference", clientReference)
            json.field("attempts", attempts)
            json.field("created_at", createdAt as Date?)
            json.field("updated_at", updatedAt as Date?)
            json.field("completed_at", completedAt)
            json.field("result", result)
            json.field("invalidation", invalidation)
            json.field("error", error)
            json.field("callback", callback)
        }
    }

    /// SPEC §11: `POST /v1/asset-updates`.
    private func writeAssetUpdate(to json: inout JSONWriter) {
        json.object { json in
            json.field("id", id)
            json.field("status", status)
            json.field("cloud", cloud)
            json.field("public_id", fromPublicID)
            json.field("resource_type", resourceType)
            json.field("type", type)
            json.field("asset_folder", update?.assetFolder)
            json.field("display_name", update?.displayName)
            json.field("client_reference", clientReference)
            json.field("attempts", attempts)
            json.field("created_at", createdAt as Date?)
            json.field("updated_at", updatedAt as Date?)
            json.field("completed_at", completedAt)
            json.field("result", result.map(AssetUpdateResult.init))
            json.field("error", error)
            json.field("callback", callback)
        }
    }

    /// An asset update's `result`: where the Media Library shows the asset now.
    struct AssetUpdateResult: JSONWritable {
        var result: RenameResult

        func write(to json: inout JSONWriter) {
            json.object { json in
                json.field("public_id", result.publicID)
                json.field("version", result.version)
                json.field("asset_folder", result.assetFolder)
                json.field("display_name", result.displayName)
            }
        }
    }

    /// SPEC §11: `POST /v1/folder-renames` and `POST /v1/batches`.
    private func writeGroup(to json: inout JSONWriter) {
        let group = group ?? Group(folderMode: nil, resourceTypes: [], dryRun: false)
        json.object { json in
            json.field("id", id)
            json.field("status", status)
            json.field("cloud", cloud)
            if kind == .folderRename {
                json.field("from_folder", fromPublicID)
                json.field("to_folder", toPublicID)
                json.field("folder_mode", group.folderMode?.rawValue)
                json.key("resource_types")
                json.array(group.resourceTypes) { type, json in json.string(type.rawValue) }
                json.field("overwrite", overwrite)
            }
            json.field("invalidate", invalidate)
            json.field("dry_run", group.dryRun)
            json.field("client_reference", clientReference)
            json.field("created_at", createdAt as Date?)
            json.field("updated_at", updatedAt as Date?)
            json.field("completed_at", completedAt)
            if let plan = group.plan {
                json.field("result", plan)
            } else if status.isFinal || status == .renaming || (status == .listing && !group.dryRun) {
                // The counts so far while items run, final once every item is.
                json.field("result", group.counts)
            } else {
                json.field("result", nil as Group.Counts?)
            }
            json.field("error", error)
            json.field("callback", callback)
        }
    }
}

extension RenameJob.Group.Plan: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("items", items)
            json.key("existing_targets")
            json.array(existingTargets) { target, json in json.string(target) }
            json.key("sample")
            json.array(sample) { item, json in
                json.object { json in
                    json.field("from_public_id", item.from)
                    json.field("to_public_id", item.to)
                    json.field("resource_type", item.resourceType)
                    json.field("type", item.type)
                }
            }
        }
    }
}

extension RenameJob.Group.Counts: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("items", items)
            json.field("renamed", renamed)
            json.field("failed", failed)
            json.field("skipped", skipped)
        }
    }
}

extension RenameJob.RenameResult: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("public_id", publicID)
            json.field("version", version)
            json.field("secure_url", secureURL)
        }
    }
}

extension RenameJob.Invalidation: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("status", status)
            json.field("method", method)
            json.field("confirmed_at", confirmedAt)
        }
    }
}

extension RenameJob.JobError: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("code", code)
            json.field("message", message)
            json.field("cloudinary_status", cloudinaryStatus)
        }
    }
}

extension RenameJob.Callback: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("url", url)
            json.field("status", status)
            json.field("attempts", attempts)
            json.field("last_status", lastStatus)
        }
    }
}
