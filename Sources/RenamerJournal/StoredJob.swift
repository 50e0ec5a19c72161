import Foundation
import RenamerCore

/// A job as the journal stores it: the API fields plus what the API does not show (owner,
/// notification time, the callback event).
struct StoredJob: Codable {
    var job: RenameJob
    var client: String
    var notifiedAt: Date?
    var eventID: String?
    var eventBody: Data?
    var nextAttemptAt: Date?

    init(_ job: RenameJob) {
        self.job = job
        client = job.client
        notifiedAt = job.notifiedAt
        eventID = job.callbackEvent?.id
        eventBody = job.callbackEvent.map { Data($0.body) }
        nextAttemptAt = job.callbackEvent?.nextAttemptAt
    }

    var restored: RenameJob {
        var restored = job
        restored.client = client
        restored.notifiedAt = notifiedAt
        if let eventID, let eventBody {
            restored.callbackEvent = .init(id: eventID, body: Array(eventBody), nextAttemptAt: nextAttemptAt)
        }
        return restored
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return decoder
    }()
}
