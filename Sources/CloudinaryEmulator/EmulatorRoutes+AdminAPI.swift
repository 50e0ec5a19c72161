import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import RenamerCrypto

/// The Admin API: resource lookup, update and listing, subfolders and folder rename; Basic auth, and
/// `X-FeatureRateLimit-*` headers with `420` once the budget of the window is spent.
extension EmulatorRoutes {
    /// What an Admin API handler answers, before the rate-limit headers and the request log.
    struct AdminAnswer {
        var response: Response
        /// Logged with the request: body fields of updates and folder renames, the query of listings.
        var fields: [String: String]?
        var applied = false
    }

    static let rateLimitLimit = HTTPField.Name("X-FeatureRateLimit-Limit")!
    static let rateLimitRemaining = HTTPField.Name("X-FeatureRateLimit-Remaining")!
    static let rateLimitReset = HTTPField.Name("X-FeatureRateLimit-Reset")!

    // MARK: Resources

    /// `GET /v1_1/{cloud}/resources/{resource_type}/{type}/{public_id…}`.
    func lookup(_ request: Request, _ context: EmulatorRequestContext) async throws -> Response {
        try await adminCall("lookup", request, context) { settings in
            let publicID = Self.publicID(context)
            guard
                let asset = state.asset(
                    publicID: publicID,
                    resourceType: context.parameters.get("resource_type") ?? "",
                    type: context.parameters.get("type") ?? ""
                )
            else { return AdminAnswer(response: error(404, "Resource not found - \(publicID)")) }
            return AdminAnswer(response: json(resourceJSON(asset, settings: settings)))
        }
    }

    /// `POST /v1_1/{cloud}/resources/{resource_type}/{type}/{public_id…}` with `asset_folder` and/or
    /// `display_name` (form or JSON); other parameters are ignored.
    func update(_ request: Request, _ context: EmulatorRequestContext) async throws -> Response {
        try await adminCall("update", request, context) { settings in
            let body = try await request.body.collect(upTo: 1 << 20)
            guard let fields = WireFormats.bodyFields(String(buffer: body), contentType: request.headers[.contentType]) else {
                return AdminAnswer(response: error(400, "Invalid request body"))
            }
            let publicID = Self.publicID(context)
            switch state.update(
                publicID: publicID,
                resourceType: context.parameters.get("resource_type") ?? "",
                type: context.parameters.get("type") ?? "",
                assetFolder: fields["asset_folder"].map(FolderPath.normalized),
                displayName: fields["display_name"],
                now: Date()
            ) {
            case .fixedFolderMode:
                return AdminAnswer(response: error(400, "asset_folder is not supported in fixed folder mode"), fields: fields)
            case .notFound:
                return AdminAnswer(response: error(404, "Resource not found - \(publicID)"), fields: fields)
            case .updated(let asset):
                let applied = fields["asset_folder"] != nil || fields["display_name"] != nil
                return AdminAnswer(response: json(resourceJSON(asset, settings: settings)), fields: fields, applied: applied)
            }
        }
    }

    /// `GET /v1_1/{cloud}/resources/{resource_type}/{type}?prefix=&max_results=&next_cursor=`: public
    /// IDs in byte order; the cursor names the last ID of the page, so IDs renamed away meanwhile do not
    /// shift the pages after it.
    func list(_ request: Request, _ context: EmulatorRequestContext) async throws -> Response {
        try await adminCall("list", request, context) { settings in
            guard let query = WireFormats.formFields(request.uri.query ?? "") else {
                return AdminAnswer(response: error(400, "Invalid query string"))
            }
            func answer(_ response: Response) -> AdminAnswer { AdminAnswer(response: response, fields: query) }
            var limit = 10
            if let text = query["max_results"], !text.isEmpty {
                guard let value = Int(text), (1...500).contains(value) else {
                    return answer(error(400, "Value of max_results must be between 1 and 500"))
                }
                limit = value
            }
            var after: String?
            if let cursor = query["next_cursor"], !cursor.isEmpty {
                guard let publicID = WireFormats.publicID(fromCursor: cursor) else { return answer(error(400, "Invalid next_cursor")) }
                after = publicID
            }
            let page = state.list(
                resourceType: context.parameters.get("resource_type") ?? "",
                type: context.parameters.get("type") ?? "",
                prefix: query["prefix"] ?? "",
                after: after,
                limit: limit
            )
            var body: [String: Any] = ["resources": page.assets.map { resourceJSON($0, settings: settings) }]
            if page.more, let last = page.assets.last { body["next_cursor"] = WireFormats.cursor(after: last.publicID) }
            return answer(json(body))
        }
    }

    // MARK: Folders

    /// `GET /v1_1/{cloud}/folders[/{path…}]`: the immediate subfolders; `404` if no asset is in the
    /// folder or below it.
    func folders(_ request: Request, _ context: EmulatorRequestContext) async throws -> Response {
        try await adminCall("folders", request, context) { _ in
            let path = FolderPath.normalized(Self.publicID(context))
            guard let children = state.subfolders(of: path) else {
                return AdminAnswer(response: error(404, "Can't find folder with path \(path)"))
            }
            let folders = children.map { child in
                ["name": FolderPath.lastSegment(of: child), "path": child, "external_id": String(Digest.sha256Hex(Array(child.utf8)).prefix(32))]
            }
            return AdminAnswer(response: json(["folders": folders, "next_cursor": NSNull(), "total_count": folders.count]))
        }
    }

    /// `PUT /v1_1/{cloud}/folders/{from_folder…}` with `to_folder` (form or JSON): moves every asset in
    /// the folder or below it (dynamic folders; public IDs do not change).
    func renameFolder(_ request: Request, _ context: EmulatorRequestContext) async throws -> Response {
        try await adminCall("folder_rename", request, context) { _ in
            let from = FolderPath.normalized(Self.publicID(context))
            let body = try await request.body.collect(upTo: 1 << 20)
            guard var fields = WireFormats.bodyFields(String(buffer: body), contentType: request.headers[.contentType]) else {
                return AdminAnswer(response: error(400, "Invalid request body"), fields: ["from_folder": from])
            }
            fields["from_folder"] = from
            let to = FolderPath.normalized(fields["to_folder"] ?? "")
            guard !to.isEmpty else { return AdminAnswer(response: error(400, "Missing required parameter - to_folder"), fields: fields) }
            guard !from.isEmpty else { return AdminAnswer(response: error(404, "Can't find folder with path \(from)"), fields: fields) }
            switch state.renameFolder(from: from, to: to, now: Date()) {
            case .fixedFolderMode:
                return AdminAnswer(response: error(400, "Folder rename is not supported in fixed folder mode"), fields: fields)
            case .notFound:
                return AdminAnswer(response: error(404, "Can't find folder with path \(from)"), fields: fields)
            case .renamed:
                let body: [String: Any] = [
                    "from": ["name": FolderPath.lastSegment(of: from), "path": from],
                    "to": ["name": FolderPath.lastSegment(of: to), "path": to],
                ]
                return AdminAnswer(response: json(body), fields: fields, applied: true)
            }
        }
    }

    // MARK: Common handling

    /// Runs an Admin API call: waits while paused, counts it against the rate limit (`420` once the
    /// window's budget is spent, before any fault or work), applies a scripted fault, checks the
    /// credentials and cloud, then `handle`; the answer carries the rate-limit headers and is logged.
    func adminCall(
        _ operation: String,
        _ request: Request,
        _ context: EmulatorRequestContext,
        _ handle: (EmulatorSettings) async throws -> AdminAnswer
    ) async throws -> Response {
        try await counted {
            try await waitWhilePaused()
            let admission = state.admitAdminCall(now: Date())
            guard admission.admitted else { return log(operation, request, withRateLimit(error(420, "Rate Limit Exceeded"), admission)) }
            let fault = try await takeFault(operation)
            let settings = state.settings
            let answer: AdminAnswer
            let expected = "Basic " + Data("\(settings.apiKey):\(settings.apiSecret)".utf8).base64EncodedString()
            if let fault, let status = fault.status {
                answer = AdminAnswer(response: faultResponse(fault, status))
            } else if !(request.headers[.authorization].map { ConstantTime.equals($0, expected) } ?? false) {
                answer = AdminAnswer(response: error(401, "Invalid credentials"))
            } else if context.parameters.get("cloud") != settings.cloudName {
                answer = AdminAnswer(response: error(401, "Invalid cloud_name"))
            } else {
                answer = try await handle(settings)
            }
            if let fault, fault.status == nil, fault.applyThenDrop == true {
                log(operation, request, Response(status: .init(code: 0)), fields: answer.fields, applied: answer.applied)
                context.channel.close(promise: nil)
                throw CancellationError()
            }
            return log(operation, request, withRateLimit(answer.response, admission), fields: answer.fields, applied: answer.applied)
        }
    }

    func withRateLimit(_ response: Response, _ admission: AdminAPIRateLimit.Admission) -> Response {
        var response = response
        response.headers[Self.rateLimitLimit] = String(admission.limit)
        response.headers[Self.rateLimitRemaining] = String(admission.remaining)
        response.headers[Self.rateLimitReset] = WireFormats.httpDate(admission.reset)
        return response
    }
}
