import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import RenamerCrypto

/// Cloudinary's Upload API rename, Admin API (lookup, update, listing, folders), delivery URLs, and
/// `/_emulator/` control.
struct EmulatorRoutes: Sendable {
    let state: EmulatorState
    let notifications: NotificationSender
    let logger: Logger

    static let resourceTypes: Set<String> = ["image", "video", "raw"]
    static let deliveryTypes: Set<String> = ["upload", "private", "authenticated"]

    func register(on router: Router<EmulatorRequestContext>) {
        router.post("v1_1/:cloud/:resource_type/rename") { request, context in try await counted { try await rename(request, context) } }
        // The listing has no catch-all, so it and the routes of one asset below never shadow each
        // other: `**` matches one or more segments, and a path that ends at `:type` is the listing.
        router.get("v1_1/:cloud/resources/:resource_type/:type") { request, context in try await list(request, context) }
        router.get("v1_1/:cloud/resources/:resource_type/:type/**") { request, context in try await lookup(request, context) }
        router.post("v1_1/:cloud/resources/:resource_type/:type/**") { request, context in try await update(request, context) }
        router.get("v1_1/:cloud/folders") { request, context in try await folders(request, context) }
        router.get("v1_1/:cloud/folders/**") { request, context in try await folders(request, context) }
        router.put("v1_1/:cloud/folders/**") { request, context in try await renameFolder(request, context) }
        router.get(":cloud/:resource_type/:type/**") { request, context in try await deliver(request, context) }
        router.head(":cloud/:resource_type/:type/**") { request, context in try await deliver(request, context) }
        ControlRoutes(state: state).register(on: router.group("_emulator"))
    }

    // MARK: Upload API rename

    func rename(_ request: Request, _ context: EmulatorRequestContext) async throws -> Response {
        let fault = try await prelude("rename", context)
        let settings = state.settings
        let body = try await request.body.collect(upTo: 1 << 20)
        guard let fields = WireFormats.formFields(String(buffer: body)) else {
            return log("rename", request, error(400, "Invalid form body"), fields: nil)
        }
        func answer(_ response: Response, applied: Bool = false) -> Response {
            log("rename", request, response, fields: fields, applied: applied)
        }
        if let fault, let status = fault.status { return answer(faultResponse(fault, status)) }
        guard context.parameters.get("cloud") == settings.cloudName else { return answer(error(401, "Invalid cloud_name")) }
        guard let resourceType = context.parameters.get("resource_type"), Self.resourceTypes.contains(resourceType) else {
            return answer(error(404, "Invalid resource type"))
        }
        for name in ["from_public_id", "to_public_id", "timestamp", "api_key", "signature"] where (fields[name] ?? "").isEmpty {
            return answer(error(400, "Missing required parameter - \(name)"))
        }
        guard fields["api_key"] == settings.apiKey else { return answer(error(401, "Invalid api_key \(fields["api_key"] ?? "")")) }
        guard verifySignature(fields, secret: settings.apiSecret) else {
            return answer(
                error(
                    401,
                    "Invalid Signature \(fields["signature"] ?? ""). String to sign - '\(CloudinaryRequestSigner.stringToSign(fields.filter { !CloudinaryRequestSigner.unsignedParameters.contains($0.key) }, version: .v2))'."
                )
            )
        }
        guard let timestamp = Double(fields["timestamp"] ?? ""), Date().timeIntervalSince1970 - timestamp <= settings.maxRequestAgeSeconds else {
            return answer(error(400, "Stale request - reported time is \(fields["timestamp"] ?? "") which is more than 1 hour ago"))
        }
        let type = fields["type"].flatMap { $0.isEmpty ? nil : $0 } ?? "upload"
        let toType = fields["to_type"].flatMap { $0.isEmpty ? nil : $0 } ?? type
        guard Self.deliveryTypes.contains(type), Self.deliveryTypes.contains(toType) else { return answer(error(400, "Invalid type")) }
        let from = fields["from_public_id"] ?? ""
        let to = fields["to_public_id"] ?? ""
        let overwrite = Self.bool(fields["overwrite"])
        let invalidate = Self.bool(fields["invalidate"])
        switch state.rename(
            from: from,
            to: to,
            resourceType: resourceType,
            type: type,
            toType: toType,
            overwrite: overwrite,
            invalidate: invalidate,
            now: Date()
        ) {
        case .notFound:
            return answer(error(404, "Resource not found - \(from)"))
        case .targetExists:
            return answer(error(409, "to_public_id (\(to)) already exists"))
        case .renamed(let asset):
            if let url = fields["notification_url"], !url.isEmpty, settings.sendsNotifications {
                notifications.send(
                    to: url,
                    body: [
                        "notification_type": "rename", "from_public_id": from, "to_public_id": to,
                        "resource_type": resourceType, "type": toType, "timestamp": WireFormats.timestamp(Date()),
                    ]
                )
            }
            if fault?.applyThenDrop == true {
                log("rename", request, Response(status: .init(code: 0)), fields: fields, applied: true)
                context.channel.close(promise: nil)
                throw CancellationError()
            }
            return answer(json(resourceJSON(asset, settings: settings)), applied: true)
        }
    }

    /// Cloudinary accepts SHA-1 (40 hex) or SHA-256 (64 hex), string to sign version 1 or 2.
    func verifySignature(_ fields: [String: String], secret: String) -> Bool {
        guard let signature = fields["signature"], let algorithm = DigestAlgorithm(hexCount: signature.utf8.count) else { return false }
        return CloudinaryRequestSigner.SignatureVersion.allCases.contains { version in
            CloudinaryRequestSigner(apiSecret: secret, algorithm: algorithm, version: version).isValid(signature: signature, for: fields)
        }
    }

    // MARK: Delivery behind the simulated CDN

    func deliver(_ request: Request, _ context: EmulatorRequestContext) async throws -> Response {
        let fault = state.takeFault(for: "delivery")
        if let fault, let status = fault.status { return log("delivery", request, faultResponse(fault, status)) }
        guard context.parameters.get("cloud") == state.settings.cloudName else { return Response(status: .notFound) }
        let resourceType = context.parameters.get("resource_type") ?? ""
        let type = context.parameters.get("type") ?? ""
        var publicID = Self.publicID(context)
        // Strip a version segment (v123/) as delivery URLs may carry one.
        if let first = publicID.split(separator: "/").first, first.hasPrefix("v"), first.dropFirst().allSatisfy(\.isNumber),
            first.count > 1
        {
            publicID = String(publicID.dropFirst(first.count + 1))
        }
        let delivered = state.isDelivered(publicID: publicID, resourceType: resourceType, type: type, now: Date())
        return log("delivery", request, Response(status: delivered ? .ok : .notFound, headers: [.contentType: "image/jpeg"]))
    }

    // MARK: Helpers

    /// Runs an Upload or Admin API call, counted in ``EmulatorState/callsInFlight`` until it ends
    /// (tests wait for a hung call to arrive, or for every call to have ended).
    func counted(_ call: () async throws -> Response) async throws -> Response {
        state.callStarted()
        defer { state.callEnded() }
        return try await call()
    }

    /// Waits while paused, then applies a hang; returns the fault scripted for this request.
    func prelude(_ operation: String, _ context: EmulatorRequestContext) async throws -> EmulatorFault? {
        try await waitWhilePaused()
        return try await takeFault(operation)
    }

    /// Holds the request while the emulator is paused (at most 600 s).
    func waitWhilePaused() async throws {
        let deadline = ContinuousClock.now + .seconds(600)
        while state.isPaused && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Takes the fault scripted for `operation` and applies its hang.
    func takeFault(_ operation: String) async throws -> EmulatorFault? {
        let fault = state.takeFault(for: operation)
        if let hang = fault?.hangSeconds, hang > 0 {
            try await Task.sleep(for: .milliseconds(Int(hang * 1000)))
        }
        return fault
    }

    static func publicID(_ context: EmulatorRequestContext) -> String {
        context.parameters.getCatchAll().map { String($0).removingPercentEncoding ?? String($0) }.joined(separator: "/")
    }

    static func bool(_ value: String?) -> Bool {
        value == "true" || value == "1"
    }

    func faultResponse(_ fault: EmulatorFault, _ status: Int) -> Response {
        var response = error(status, fault.message ?? "Injected fault \(status)")
        if let retryAfter = fault.retryAfter, let name = HTTPField.Name("Retry-After") { response.headers[name] = retryAfter }
        return response
    }

    func error(_ status: Int, _ message: String) -> Response {
        json(["error": ["message": message]], status: status)
    }

    func json(_ object: Any, status: Int = 200) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    func resourceJSON(_ asset: EmulatedAsset, settings: EmulatorSettings) -> [String: Any] {
        let path =
            "\(settings.cloudName)/\(asset.resourceType)/\(asset.type)/v\(asset.version)/\(WireFormats.path(asset.publicID)).\(asset.format)"
        var resource: [String: Any] = [
            "public_id": asset.publicID, "version": asset.version, "resource_type": asset.resourceType, "type": asset.type,
            "format": asset.format, "url": "http://res.cloudinary.com/\(path)", "secure_url": "https://res.cloudinary.com/\(path)",
            "asset_folder": asset.assetFolder, "display_name": asset.displayName,
        ]
        // Fixed-folder clouds also name the folder the public ID is in, as Cloudinary does.
        if settings.folderMode == .fixed { resource["folder"] = FolderPath.parent(of: asset.publicID) }
        return resource
    }

    @discardableResult
    func log(_ operation: String, _ request: Request, _ response: Response, fields: [String: String]? = nil, applied: Bool = false) -> Response {
        state.record(
            .init(
                operation: operation,
                method: request.method.rawValue,
                path: request.uri.path,
                status: response.status.code,
                fields: fields,
                applied: applied,
                time: Date().timeIntervalSince1970
            )
        )
        return response
    }
}
