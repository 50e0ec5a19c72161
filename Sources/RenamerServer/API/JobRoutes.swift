import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import RenamerConfig
import RenamerCore
import RenamerCrypto

/// The caller API of one kind of job (SPEC §2, §11) under its own path (`/v1/renames`,
/// `/v1/asset-updates`, `/v1/folder-renames`): translates HTTP into calls on ``JobLifecycle``.
/// Every kind has the same auth, problems, `Idempotency-Key`, `202` + `Location`, GET, DELETE and
/// list; only the body (``JobRequests``) differs.
///
/// Checks run in the order SPEC §10 fixes: 401 → 415 → 413 → 400 → 422 → 403 → 409/429.
struct JobRoutes: Sendable {
    let kind: JobKind
    let configuration: RenamerConfiguration
    let lifecycle: JobLifecycle
    let readiness: Readiness
    let metrics: RenamerMetrics
    /// Made once: the factory's lookup costs per request.
    let acceptedCounter: Metrics.Counter
    let kindAcceptedCounter: Metrics.Counter
    let authenticator: ClientAuthenticator
    let rateLimiter: RateLimiter
    let clock: any RenamerClock

    init(_ kind: JobKind, _ components: RenamerComponents) {
        self.kind = kind
        configuration = components.configuration
        lifecycle = components.lifecycle
        readiness = components.readiness
        metrics = components.metrics
        acceptedCounter = components.metrics.counter("renamer_renames_accepted_total")
        kindAcceptedCounter = components.metrics.counter("renamer_jobs_accepted_total", [("kind", kind.rawValue)])
        clock = components.clock
        authenticator = ClientAuthenticator(components.configuration)
        rateLimiter = RateLimiter(rates: components.configuration.clients.compactMapValues(\.maxRequestsPerSecond))
    }

    func register(on router: Router<RenamerRequestContext>) {
        let group = router.group(RouterPath(String(kind.path.dropFirst())))
        group.post { request, context in await respond { try await submit(request, context) } }
        group.get { request, _ in await respond { try await list(request) } }
        group.get(":id") { request, context in await respond { try await show(request, context) } }
        group.delete(":id") { request, context in await respond { try await cancel(request, context) } }
        if kind.hasItems {
            group.get(":id/items") { request, context in await respond { try await items(request, context) } }
        }
    }

    /// How many times `http.max_body_bytes` a batch's body may be.
    static let batchBodyFactor = 16

    /// Turns a thrown ``Problem`` into its response and counts rejections.
    private func respond(_ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch let problem as Problem {
            return problem.response
        } catch let error as StorageError {
            return Problem.unavailable("storage cannot be read: \(error.description)", retryAfter: 5).response
        } catch {
            return Problem(.internalServerError, "internal", "unexpected error").response
        }
    }

    private func reject(_ reason: String, _ problem: Problem) -> Problem {
        metrics.counter("renamer_renames_rejected_total", [("reason", reason)]).increment()
        return problem
    }

    private func authenticate(_ request: Request) throws -> RenamerConfiguration.Client {
        guard let client = authenticator.client(authorization: request.headers.value(.authorization)) else {
            throw reject("unauthorized", .unauthorized("missing or invalid bearer token"))
        }
        return client
    }

    // MARK: POST /v1/renames

    private func submit(_ request: Request, _ context: RenamerRequestContext) async throws -> Response {
        let client = try authenticate(request)
        guard readiness.isReady else {
            throw reject("unavailable", .unavailable(readiness.current == .draining ? "draining" : "starting", retryAfter: 5))
        }
        guard let contentType = request.headers.value(.contentType), Self.isJSON(contentType) else {
            throw reject("unsupported_media_type", Problem(.unsupportedMediaType, "unsupported-media-type", "send application/json"))
        }
        // A batch holds up to 1,000 renames: sixteen times the limit of one (1 MiB by default).
        let limit = kind == .batch ? configuration.http.maxBodyBytes * Self.batchBodyFactor : configuration.http.maxBodyBytes
        if let length = request.headers.value(.contentLength).flatMap(Int.init), length > limit {
            throw reject("too_large", Problem(.contentTooLarge, "too-large", "body exceeds \(limit) bytes"))
        }
        let buffer: ByteBuffer
        do throws(BodyReadError) {
            buffer = try await request.collectBody(upTo: limit)
        } catch .tooLarge {
            throw reject("too_large", Problem(.contentTooLarge, "too-large", "body exceeds \(limit) bytes"))
        } catch {
            throw reject("malformed", Problem(.badRequest, "malformed-body", "the body's framing is broken (chunked encoding)"))
        }
        let idempotencyKey = try Self.idempotencyKey(request.headers)

        let body: JSONValue
        do {
            body = try JSONValue.parse(buffer.readableBytesView)
        } catch {
            throw reject("malformed", Problem(.badRequest, "malformed-json", "body is not valid JSON"))
        }
        guard case .object(let object) = body else {
            throw reject("malformed", Problem(.badRequest, "malformed-json", "body must be a JSON object"))
        }
        let order: JobRequests.Order
        switch JobRequests.parse(kind, object, configuration: configuration) {
        case .valid(let parsed): order = parsed
        case .invalid(let errors):
            throw reject("invalid", Problem(.unprocessableContent, "validation", "the \(kind.noun) has invalid fields", errors: errors))
        }
        let cloud = try authorize(order, client: client)
        let acceptance = await lifecycle.accept(
            client: client.name,
            idempotencyKey: idempotencyKey,
            body: body,
            admit: { rateLimiter.admit(client.name) },
            make: { now in order.make(client.name, now) }
        )
        switch acceptance {
        case .accepted(let job):
            announce(job, client: client.name, cloud: cloud, logger: context.logger)
            return jobResponse(job, status: .accepted, headers: [.location: "\(kind.path)/\(job.id)"])
        case .replayed(let job):
            return jobResponse(job, status: .accepted, headers: [.location: "\(kind.path)/\(job.id)", .idempotentReplayed: "true"])
        case .idempotencyMismatch:
            throw reject(
                "idempotency_mismatch",
                Problem(.unprocessableContent, "idempotency-mismatch", "Idempotency-Key was used with a different body")
            )
        case .idempotencyInFlight:
            throw reject(
                "idempotency_in_flight",
                Problem(.conflict, "idempotency-in-flight", "a request with this Idempotency-Key is still being accepted")
            )
        case .rateLimited(let wait):
            throw reject("rate_limited", .tooManyRequests("rate-limited", "client is over its request rate", retryAfter: Int(wait.rounded(.up))))
        case .queueFull:
            throw reject("queue_full", .tooManyRequests("queue-full", "the queue is full", retryAfter: 5))
        case .storageUnavailable(let reason):
            context.logger.error("journal unavailable; rename refused", metadata: ["error": "\(reason)"])
            throw reject("journal_unavailable", .unavailable("the journal cannot be written", retryAfter: 5))
        }
    }

    /// Counts and logs an accepted job.
    private func announce(_ job: RenameJob, client: String, cloud: String, logger: Logger) {
        acceptedCounter.increment()
        kindAcceptedCounter.increment()
        logger.info("\(kind.noun) accepted", metadata: ["job_id": "\(job.id)", "client": "\(client)", "cloud": "\(cloud)"])
    }

    /// Scope checks (403): cloud, public-ID prefixes, callback URL prefixes. Returns the cloud name.
    private func authorize(_ order: JobRequests.Order, client: RenamerConfiguration.Client) throws -> String {
        let (cloud, errors) = scope(order, client: client)
        guard errors.isEmpty else {
            throw reject("forbidden", Problem(.forbidden, "forbidden", "not allowed for this client", errors: errors))
        }
        return cloud
    }

    /// The cloud an order uses, and every field outside the client's scope.
    private func scope(_ order: JobRequests.Order, client: RenamerConfiguration.Client) -> (cloud: String, errors: [Problem.FieldError]) {
        var errors: [Problem.FieldError] = []
        let cloud = order.cloud ?? configuration.defaultCloud
        if configuration.clouds[cloud] == nil || !client.clouds.contains(cloud) {
            errors.append(.init(field: "cloud", message: "this client may not use cloud \(cloud)"))
        }
        for (field, itemCloud) in order.itemClouds where configuration.clouds[itemCloud] == nil || !client.clouds.contains(itemCloud) {
            errors.append(.init(field: field, message: "this client may not use cloud \(itemCloud)"))
        }
        if !client.publicIDPrefixes.isEmpty {
            for (field, id) in order.scoped where !client.publicIDPrefixes.contains(where: { id.hasPrefix($0) }) {
                errors.append(.init(field: field, message: "outside this client's public ID prefixes"))
            }
        }
        if let url = order.callbackURL, !CallbackURL.allowed(url, for: client) {
            errors.append(.init(field: "callback_url", message: "outside this client's callback URL prefixes"))
        }
        return (cloud, errors)
    }

    // MARK: POST without a task (FastAcceptHandler)

    /// A job ``storeWithoutWaiting(_:body:)`` stored, and who asked for it.
    struct Stored: Sendable {
        let jobs: [RenameJob]
        let client: String
        let cloud: String
    }

    /// ``submit`` for a request that passes every check, without waiting and without answering any
    /// refusal: runs the same checks and stores the job (not yet durable). Nil sends the request
    /// down the full route, which answers it as any other (so every problem has one code path);
    /// requests with an `Idempotency-Key` always go there (the key is looked up in storage).
    func storeWithoutWaiting(_ headers: HTTPFields, body: ByteBuffer) -> Stored? {
        guard headers[.idempotencyKey] == nil, readiness.isReady,
            let client = authenticator.client(authorization: headers.value(.authorization)),
            let contentType = headers.value(.contentType), Self.isJSON(contentType),
            body.readableBytes <= configuration.http.maxBodyBytes,
            case .object(let object)? = try? JSONValue.parse(body.readableBytesView),
            case .valid(let order) = JobRequests.parse(kind, object, configuration: configuration)
        else { return nil }
        let (cloud, errors) = scope(order, client: client)
        guard errors.isEmpty,
            let jobs = lifecycle.storeWithoutWaiting(
                client: client.name,
                admit: { rateLimiter.admit(client.name) },
                refund: { rateLimiter.refund(client.name) },
                make: { now in order.make(client.name, now) }
            )
        else { return nil }
        return Stored(jobs: jobs, client: client.name, cloud: cloud)
    }

    /// Forgets jobs ``storeWithoutWaiting(_:body:)`` stored that could not be made durable, and
    /// gives back their rate-limit token (the route takes the request again).
    func abandon(_ stored: Stored) {
        lifecycle.abandon(stored.jobs)
        rateLimiter.refund(stored.client)
    }

    /// The `202` for jobs ``storeWithoutWaiting(_:body:)`` stored, once they are durable: queues,
    /// counts and logs them as ``submit`` does, and renders the same answer.
    func accepted(_ stored: Stored, logger: Logger) -> (response: HTTPResponse, body: ByteBuffer) {
        let job = lifecycle.started(stored.jobs)
        announce(job, client: stored.client, cloud: stored.cloud, logger: logger)
        let body = ByteBuffer(bytes: JSONWriter.encode(job))
        let response = HTTPResponse(
            status: .accepted,
            headerFields: [
                .location: "\(kind.path)/\(job.id)", .contentType: "application/json", .contentLength: "\(body.readableBytes)",
            ]
        )
        return (response, body)
    }

    // MARK: GET, DELETE

    private func show(_ request: Request, _ context: RenamerRequestContext) async throws -> Response {
        let client = try authenticate(request)
        guard let id = context.parameters.get("id"), JobKind(id: id) == kind, let job = try await lifecycle.store.job(id, client: client.name)
        else {
            throw Problem.notFound("no such \(kind.noun) job")
        }
        return jobResponse(job, status: .ok)
    }

    private func cancel(_ request: Request, _ context: RenamerRequestContext) async throws -> Response {
        let client = try authenticate(request)
        guard let id = context.parameters.get("id"), JobKind(id: id) == kind, let job = try await lifecycle.cancel(id, client: client.name)
        else {
            throw Problem.notFound("no such \(kind.noun) job")
        }
        // A running folder rename or batch stops: items not started are cancelled, the job ends
        // once its started items have (SPEC §11).
        // SPEC §11: 200 for a running folder rename or batch (in dynamic mode its one call, once
        // started, finishes; there is nothing else to stop).
        let stopping = kind.hasItems && !job.status.isFinal
        guard job.status == .cancelled || stopping else {
            throw Problem(.conflict, "already-started", "the job already called Cloudinary (status \(job.status.rawValue))")
        }
        return jobResponse(job, status: .ok)
    }

    private func list(_ request: Request) async throws -> Response {
        let client = try authenticate(request)
        let query = request.uri.queryParameters
        var errors: [Problem.FieldError] = []
        var status: JobStatus?
        // `status=` with no value lists every status (SPEC §2 writes the query as `?status=&limit=…`).
        if let text = query["status"].map(String.init), !text.isEmpty {
            status = JobStatus(rawValue: text)
            if status == nil { errors.append(.init(field: "status", message: "unknown status")) }
        }
        let (limit, after) = Self.page(query, defaultLimit: 20, maxLimit: 100, cursorKind: kind, errors: &errors)
        guard errors.isEmpty else { throw Problem(.badRequest, "invalid-query", "invalid query parameters", errors: errors) }
        guard let page = try await lifecycle.store.list(client: client.name, kind: kind, status: status, limit: limit, after: after) else {
            throw Problem(.badRequest, "invalid-query", "invalid query parameters", errors: [Self.notACursor])
        }
        let body = JobPage(items: page.jobs, nextCursor: page.next.map(Self.encodeCursor))
        return Response(
            status: .ok,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.encode(body)))
        )
    }

    /// `GET …/{id}/items?cursor=`: the items of a folder rename or batch, in acceptance order, with
    /// their delivery URLs before and after (SPEC §11).
    private func items(_ request: Request, _ context: RenamerRequestContext) async throws -> Response {
        let client = try authenticate(request)
        guard let id = context.parameters.get("id"), JobKind(id: id) == kind, let parent = try await lifecycle.store.job(id, client: client.name)
        else {
            throw Problem.notFound("no such \(kind.noun) job")
        }
        let query = request.uri.queryParameters
        var errors: [Problem.FieldError] = []
        let (limit, after) = Self.page(query, defaultLimit: 100, maxLimit: 1000, cursorKind: .rename, errors: &errors)
        guard errors.isEmpty else { throw Problem(.badRequest, "invalid-query", "invalid query parameters", errors: errors) }
        try? await lifecycle.store.storage.sync()
        guard let page = try await lifecycle.store.storage.items(parent: parent.id, limit: limit, after: after) else {
            throw Problem(.badRequest, "invalid-query", "invalid query parameters", errors: [Self.notACursor])
        }
        // An item still in memory is newer than what storage last committed; a batch's items may
        // be on different clouds.
        let items = page.jobs.map { item in
            ItemEntry(job: lifecycle.store.workingJob(item.id) ?? item, deliveryBaseURL: configuration.clouds[item.cloud]?.deliveryBaseURL ?? "")
        }
        let body = ItemPage(items: items, nextCursor: page.next.map(Self.encodeCursor))
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.encode(body))))
    }

    /// `limit` (`defaultLimit` without one) and `cursor` (the id of a job of `cursorKind`) of a
    /// page request; a bad value adds its field to `errors`.
    static func page(
        _ query: Parameters,
        defaultLimit: Int,
        maxLimit: Int,
        cursorKind: JobKind,
        errors: inout [Problem.FieldError]
    ) -> (limit: Int, after: String?) {
        var limit = defaultLimit
        if let text = query["limit"].map(String.init) {
            if let value = Int(text), (1...maxLimit).contains(value) {
                limit = value
            } else {
                errors.append(.init(field: "limit", message: "must be an integer from 1 to \(maxLimit)"))
            }
        }
        var after: String?
        if let text = query["cursor"].map(String.init), !text.isEmpty {
            after = decodeCursor(text, kind: cursorKind)
            if after == nil { errors.append(notACursor) }
        }
        return (limit, after)
    }

    /// One item: what was renamed to what, how it ended, and its delivery URLs before and after:
    /// the map a caller needs to update stored references or set up redirects.
    struct ItemEntry: JSONWritable {
        var job: RenameJob
        var deliveryBaseURL: String

        func write(to json: inout JSONWriter) {
            json.object { json in
                json.field("id", job.id)
                json.field("from_public_id", job.fromPublicID)
                json.field("to_public_id", job.toPublicID)
                json.field("resource_type", job.resourceType)
                json.field("status", job.status)
                json.field("error", job.error)
                json.field("old_url", url(job.type, job.fromPublicID))
                json.field("new_url", url(job.toType ?? job.type, job.toPublicID))
            }
        }

        func url(_ type: DeliveryType, _ publicID: String) -> String {
            "\(deliveryBaseURL)/\(job.resourceType.rawValue)/\(type.rawValue)/\(PercentEncoding.pathSegments(publicID))"
        }
    }

    struct ItemPage: JSONWritable {
        var items: [ItemEntry]
        var nextCursor: String?

        func write(to json: inout JSONWriter) {
            json.object { json in
                json.key("items")
                json.array(items)
                json.field("next_cursor", nextCursor)
            }
        }
    }

    struct JobPage: JSONWritable {
        var items: [RenameJob]
        var nextCursor: String?

        func write(to json: inout JSONWriter) {
            json.object { json in
                json.key("items")
                json.array(items)
                json.field("next_cursor", nextCursor)
            }
        }
    }

    // MARK: Helpers

    private func jobResponse(_ job: RenameJob, status: HTTPResponse.Status, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.encode(job))))
    }

    /// Whether the media type (before any `;` parameters) is `application/json`, in any case.
    static func isJSON(_ contentType: String) -> Bool {
        var utf8 = Substring(contentType).utf8
        if let end = utf8.firstIndex(of: UInt8(ascii: ";")) { utf8 = utf8[..<end] }
        let trimmed = ASCII.trimmingBlanks(utf8)
        return trimmed.count == 16 && zip(trimmed, "application/json".utf8).allSatisfy { ASCII.lowercased($0) == $1 }
    }

    /// The request's `Idempotency-Key`: nil without one; a 400 problem when it is malformed or given
    /// on two header lines (which would otherwise read as one key joined with ", ").
    static func idempotencyKey(_ headers: HTTPFields) throws -> String? {
        var header: String?
        for field in headers where field.name == .idempotencyKey {
            guard header == nil else { throw invalidKey() }
            header = field.value
        }
        return try idempotencyKey(header)
    }

    /// 1–255 printable ASCII characters, or an RFC 8941 quoted string of them; `"k"` and `k` are the same key.
    static func idempotencyKey(_ header: String?) throws -> String? {
        guard var key = header else { return nil }
        if key.hasPrefix("\"") {
            guard key.utf8.count >= 2, key.hasSuffix("\"") else { throw invalidKey() }
            var unquoted = ""
            var escaping = false
            for character in key.dropFirst().dropLast() {
                if escaping {
                    guard character == "\"" || character == "\\" else { throw invalidKey() }
                    unquoted.append(character)
                    escaping = false
                } else if character == "\\" {
                    escaping = true
                } else if character == "\"" {
                    throw invalidKey()
                } else {
                    unquoted.append(character)
                }
            }
            if escaping { throw invalidKey() }
            key = unquoted
        }
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ $0 >= 0x20 && $0 <= 0x7e }) else { throw invalidKey() }
        return key
    }

    private static func invalidKey() -> Problem {
        Problem(
            .badRequest,
            "invalid-idempotency-key",
            "Idempotency-Key must be 1-255 printable ASCII characters",
            errors: [.init(field: "Idempotency-Key", message: "malformed")]
        )
    }

    static let notACursor = Problem.FieldError(field: "cursor", message: "is not a cursor of this client's list")

    /// The list cursor (SPEC §10: opaque, bound to the client): the id of the page's last job, one of
    /// the client's own, in base64url. Unlike a sequence number it tells nothing about how many jobs
    /// other clients submit, and another client's cursor names a job that is not theirs: 400.
    static func encodeCursor(_ jobID: String) -> String {
        Data(jobID.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The job id in a cursor, if it is one of ours in form (whose job it is, the store decides).
    static func decodeCursor(_ cursor: String, kind: JobKind = .rename) -> String? {
        guard cursor.utf8.count <= 64, cursor.utf8.allSatisfy({ $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: "/") }) else { return nil }
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        guard let data = Data(base64Encoded: base64), let id = String(data: data, encoding: .utf8), id.hasPrefix(kind.idPrefix),
            id.utf8.count == 27, Hex.isLowercaseHex(id.dropFirst(3))
        else { return nil }
        return id
    }
}

extension HTTPField.Name {
    static let idempotencyKey = Self("Idempotency-Key")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
}
