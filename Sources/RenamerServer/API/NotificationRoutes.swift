import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import Metrics
import RenamerConfig
import RenamerCore
import RenamerCrypto

/// `POST /v1/notifications/cloudinary` (SPEC §4): verifies Cloudinary's signature over the raw body,
/// refuses stale, future and replayed notifications, and hands the rest to ``NotificationIntake``.
struct NotificationRoutes: Sendable {
    static let maxBodyBytes = 1 << 20
    static let path = "/v1/notifications/cloudinary"

    /// Whether a request target (path and query) is this route's.
    static func isPath(_ target: String) -> Bool {
        target.utf8.starts(with: path.utf8)
            && (target.utf8.count == path.utf8.count
                || target.utf8[target.utf8.index(target.utf8.startIndex, offsetBy: path.utf8.count)] == UInt8(ascii: "?"))
    }

    let configuration: RenamerConfiguration
    let verifiers: [String: NotificationVerifier]
    let intake: NotificationIntake
    let replayCache: NotificationReplayCache
    /// With several replicas, the replay window every replica shares (SPEC §12).
    let replicas: (any ReplicaCoordinator)?
    /// `renamer_notifications_total` per result, made once (the factory's lookup costs per request).
    let counters: [String: Metrics.Counter]
    let clock: any RenamerClock
    /// Where the notification's changes are recorded: answered once they are durable (SPEC §1).
    let storage: any JobStorage

    init(_ components: RenamerComponents) {
        configuration = components.configuration
        verifiers = components.configuration.clouds.mapValues { cloud in
            NotificationVerifier(
                apiSecret: cloud.apiSecret.value,
                policy: cloud.notificationSignature,
                maxAgeSeconds: components.configuration.notifications.maxAgeSeconds
            )
        }
        intake = components.notifications
        replayCache = components.replayCache
        replicas = components.store.replicas
        let results = ["rejected", "too_large", "invalid"] + NotificationIntake.Result.allCases.map(\.rawValue)
        counters = Dictionary(
            uniqueKeysWithValues: results.map { ($0, components.metrics.counter("renamer_notifications_total", [("result", $0)])) }
        )
        clock = components.clock
        storage = components.store.storage
    }

    func register(on router: Router<RenamerRequestContext>) {
        router.post(RouterPath(String(Self.path.dropFirst()))) { request, context in
            do {
                return try await receive(request, context)
            } catch let problem as Problem {
                return problem.response
            }
        }
    }

    private func count(_ result: String) {
        counters[result]?.increment()
    }

    private func receive(_ request: Request, _ context: RenamerRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let cloudName = query["cloud"].map(String.init) ?? configuration.defaultCloud
        guard let verifier = verifiers[cloudName] else {
            count("rejected")
            throw Problem.unauthorized("unknown cloud \(cloudName)")
        }
        if let length = request.headers.value(.contentLength).flatMap(Int.init), length > Self.maxBodyBytes {
            count("too_large")
            throw Problem(.contentTooLarge, "too-large", "notification body exceeds 1 MiB")
        }
        let body: ByteBuffer
        do throws(BodyReadError) {
            body = try await request.collectBody(upTo: Self.maxBodyBytes)
        } catch .tooLarge {
            count("too_large")
            throw Problem(.contentTooLarge, "too-large", "notification body exceeds 1 MiB")
        } catch {
            count("invalid")
            throw Problem(.badRequest, "malformed-body", "the body's framing is broken (chunked encoding)")
        }
        let now = clock.now()
        let fresh: Fresh
        switch check(verifier, fields: request.headers, body: body, now: now) {
        case .refused(let problem, let result, let reason):
            count(result)
            if let reason { context.logger.notice("notification refused", metadata: ["cloud": "\(cloudName)", "reason": "\(reason)"]) }
            throw problem
        case .duplicate:
            count("duplicate")
            return Self.answer(.duplicate)
        case .fresh(let checked):
            fresh = checked
        }
        if let replicas {
            let expiry = now.addingTimeInterval(configuration.notifications.maxAgeSeconds)
            let claimed: Bool
            do {
                claimed = try await replicas.claimNotification(key: "\(fresh.timestamp):\(fresh.signature)", expiresAt: expiry)
            } catch {
                context.logger.error("cannot check the shared replay window", metadata: ["error": "\(error)"])
                throw Problem.unavailable("the database cannot be reached", retryAfter: 5)
            }
            guard claimed else {
                answered(fresh, .duplicate, now: now)
                return Self.answer(.duplicate)
            }
        }
        let result = await intake.handle(cloud: cloudName, jobHint: query["job"].map(String.init), body: fresh.object)
        answered(fresh, result, now: now)
        if result == .accepted {
            // The change the notification made is durable before Cloudinary hears 200 (SPEC §1).
            do {
                try await storage.sync()
            } catch {
                throw Self.notRecorded
            }
        }
        return Self.answer(result)
    }

    /// The answer when the journal cannot record what the notification changed: Cloudinary sends it
    /// again, and the change, still pending in the journal, lands once the journal recovers.
    static var notRecorded: Problem { Problem.unavailable("the journal cannot record the notification", retryAfter: 5) }

    /// A verified notification, not a replay, with a JSON object for a body: what the intake gets.
    private struct Fresh {
        var object: [String: JSONValue]
        var timestamp: String
        var signature: String
    }

    /// What the checks after the body is read found (nothing counted or logged yet).
    private enum Checked {
        case fresh(Fresh)
        case duplicate
        /// The problem to answer, the `result` to count and the reason to log, if any.
        case refused(Problem, result: String, reason: String?)
    }

    /// The signature, the replay window and the body's JSON, in that order: shared by the route and
    /// the event loop.
    private func check(_ verifier: NotificationVerifier, fields: HTTPFields, body: ByteBuffer, now: Date) -> Checked {
        let timestamp = fields.value(.cldTimestamp)
        let signature = fields.value(.cldSignature)
        do throws(NotificationVerificationError) {
            try verifier.verify(body: body.readableBytesView, timestamp: timestamp, signature: signature, now: now.timeIntervalSince1970)
        } catch {
            return .refused(Problem.unauthorized(error.description), result: "rejected", reason: error.description)
        }
        // Verified, so both headers are present.
        let (stamp, signed) = (timestamp ?? "", signature ?? "")
        if replayCache.contains(timestamp: stamp, signature: signed, now: now) { return .duplicate }
        guard let json = try? JSONValue.parse(body.readableBytesView), case .object(let object) = json else {
            return .refused(Problem(.badRequest, "malformed-json", "notification body is not a JSON object"), result: "invalid", reason: nil)
        }
        return .fresh(Fresh(object: object, timestamp: stamp, signature: signed))
    }

    /// Remembers an answered notification in the replay window and counts its result.
    private func answered(_ fresh: Fresh, _ result: NotificationIntake.Result, now: Date) {
        replayCache.remember(timestamp: fresh.timestamp, signature: fresh.signature, now: now)
        count(result.rawValue)
    }

    /// The route's work for a notification read on the event loop (``FastAcceptHandler``), when it
    /// needs no suspension: the same checks, counts and intake. Nil when Hummingbird must answer it
    /// instead: anything refused (its problem, log line and count come from there), several
    /// replicas (the shared replay window is a database call), or a job only storage knows.
    func receiveOnLoop(_ head: HTTPRequest, body: ByteBuffer) -> NotificationIntake.Result? {
        guard replicas == nil else { return nil }
        let query = URI(head.path ?? "").queryParameters
        let cloudName = query["cloud"].map(String.init) ?? configuration.defaultCloud
        guard let verifier = verifiers[cloudName] else { return nil }
        let now = clock.now()
        switch check(verifier, fields: head.headerFields, body: body, now: now) {
        case .refused:
            return nil
        case .duplicate:
            count("duplicate")
            return .duplicate
        case .fresh(let fresh):
            guard let result = intake.handleInMemory(cloud: cloudName, jobHint: query["job"].map(String.init), body: fresh.object) else {
                return nil
            }
            answered(fresh, result, now: now)
            return result
        }
    }

    /// The `200` body for `result`.
    static func answerBody(_ result: NotificationIntake.Result) -> String {
        #"{"status":"\#(result.rawValue)"}"#
    }

    static func answer(_ result: NotificationIntake.Result) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: answerBody(result)))
        )
    }
}

extension HTTPField.Name {
    static let cldTimestamp = Self("X-Cld-Timestamp")!
    static let cldSignature = Self("X-Cld-Signature")!
}
