import Foundation

/// The job's API form (SPEC §2), fields in the specification's order.
extension RenameJob: JSONWritable {
    public func write(to json: inout JSONWriter) {
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
