import Foundation

/// A job as storage keeps it (the SQLite journal and PostgreSQL): the API fields plus what the API does not show (owner,
/// notification time, the callback event).
public struct StoredJob: Sendable {
    var job: RenameJob
    var client: String
    var notifiedAt: Date?
    var eventID: String?
    var eventBody: [UInt8]?
    var nextAttemptAt: Date?

    /// - Parameter eventBody: false when the callback event's body is kept apart (the SQLite
    ///   journal's `callback_events`); its id and due time stay in the row either way.
    public init(_ job: RenameJob, eventBody: Bool = true) {
        self.job = job
        client = job.client
        notifiedAt = job.notifiedAt
        eventID = job.callbackEvent?.id
        self.eventBody = eventBody ? job.callbackEvent?.body : nil
        nextAttemptAt = job.callbackEvent?.nextAttemptAt
    }
}

/// Written with ``JSONWriter`` in the form ``read(_:)`` reads: absent optionals are left out, dates
/// are seconds since 1970, the event body is base64.
extension StoredJob: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("job", job)
            json.field("client", client)
            if let notifiedAt {
                json.key("notifiedAt")
                json.seconds(notifiedAt)
            }
            if let eventID { json.field("eventID", eventID) }
            if let eventBody {
                json.key("eventBody")
                json.base64(eventBody)
            }
            if let nextAttemptAt {
                json.key("nextAttemptAt")
                json.seconds(nextAttemptAt)
            }
            if let parent = job.parent { json.field("parent", parent) }
            if job.group?.cancelRequested == true { json.field("cancelRequested", true) }
            if let failure = job.group?.failure {
                json.field("failureCode", failure.code)
                json.field("failureMessage", failure.message)
                json.field("failureStatus", failure.cloudinaryStatus)
            }
            if job.kind.hasItems {
                // Not in those kinds' API form; a restart still counts the calls made.
                json.field("attempts", job.attempts)
            }
            if let listing = job.group?.listing {
                json.field("listingPair", listing.pair)
                if let cursor = listing.cursor { json.field("listingCursor", cursor) }
            }
            if let counts = job.group?.counts {
                json.key("counts")
                json.array([counts.items, counts.renamed, counts.failed, counts.skipped]) { value, json in json.int(value) }
            }
        }
    }
}

extension StoredJob {
    /// The stored form of `job`: the bytes ``read(_:)-(Data)`` reads back.
    public static func encode(_ job: RenameJob) -> [UInt8] {
        JSONWriter.encode(StoredJob(job))
    }
}
