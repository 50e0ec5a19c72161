import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import RenamerConfig
import RenamerCore
import RenamerCrypto

/// Calls Cloudinary's Upload API `rename` and Admin API resource lookup over AsyncHTTPClient (SPEC §3).
///
/// Every rename is signed afresh (timestamp now, the cloud's algorithm, signature version 2) from
/// exactly the fields sent. No secret reaches a log line: logs carry the cloud and public IDs only.
public struct CloudinaryClient: CloudinaryAPI {
    let http: HTTPClient
    let logger: Logger
    /// Every Admin API call spends from it, and every answer's rate-limit headers update it.
    public let adminBudget: AdminBudget?
    /// Seconds since 1970; injectable so signatures are reproducible in tests.
    let now: @Sendable () -> Double
    /// Largest response body read.
    static let maxResponseBytes = 1 << 20

    public init(
        http: HTTPClient = .outbound,
        logger: Logger,
        adminBudget: AdminBudget = AdminBudget(),
        now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) {
        self.http = http
        self.logger = logger
        self.adminBudget = adminBudget
        self.now = now
    }

    /// The signed form fields for `call`.
    public func signedFields(_ call: RenameCall, cloud: RenamerConfiguration.Cloud) -> [String: String] {
        var fields = call.parameters
        fields["timestamp"] = String(Int64(now()))
        let signer = CloudinaryRequestSigner(apiSecret: cloud.apiSecret.value, algorithm: cloud.signatureAlgorithm, version: .v2)
        fields["signature"] = signer.signature(for: fields)
        fields["api_key"] = cloud.apiKey
        return fields
    }

    public func rename(_ call: RenameCall, cloud: RenamerConfiguration.Cloud) async -> RenameOutcome {
        let url = "\(cloud.uploadPrefix)/v1_1/\(Self.pathEscape(cloud.cloudName))/\(call.resourceType.rawValue)/rename"
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(string: FormURLEncoding.encode(signedFields(call, cloud: cloud))))
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await http.execute(request, timeout: .milliseconds(Int64(cloud.timeoutSeconds * 1000)))
            body = try await response.body.collect(upTo: Self.maxResponseBytes)
        } catch {
            return Self.classify(error)
        }
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            return .rejected(
                status: status,
                message: Self.errorMessage(body, status: status),
                retryAfter: response.headers.first(name: "Retry-After").flatMap(Self.retryAfterSeconds)
            )
        }
        // Only the documented answer, the renamed resource, proves the rename (SPEC §10): any other
        // 2xx (a proxy's page, an error body) leaves the outcome to the Admin API lookup.
        guard let result = Self.resource(body), result.publicID == call.toPublicID else {
            return .outcomeUnknown(reason: "Cloudinary answered \(status) without the renamed resource")
        }
        return .renamed(result)
    }

    public func lookup(
        publicID: String,
        resourceType: ResourceType,
        type: DeliveryType,
        cloud: RenamerConfiguration.Cloud
    ) async
        -> LookupOutcome
    {
        let path = "resources/\(resourceType.rawValue)/\(type.rawValue)/" + PercentEncoding.pathSegments(publicID)
        switch await admin(.GET, path, cloud: cloud) {
        case .answered(200, let body, _):
            return Self.resource(body).map(LookupOutcome.found) ?? .unavailable(reason: "unreadable lookup response")
        case .answered(404, _, _):
            return .notFound
        case .answered(let status, let body, _):
            return .unavailable(reason: "lookup answered \(status): \(Self.errorMessage(body, status: status))")
        case .budgetSpent(let wait):
            return .unavailable(reason: "Admin API budget spent for \(Int(wait.rounded(.up))) s")
        case .failed(let outcome):
            return .unavailable(reason: "\(outcome)")
        }
    }

    public func updateAsset(
        publicID: String,
        resourceType: ResourceType,
        type: DeliveryType,
        update: RenameJob.AssetUpdate,
        cloud: RenamerConfiguration.Cloud
    ) async -> RenameOutcome {
        var fields: [String: String] = [:]
        if let folder = update.assetFolder { fields["asset_folder"] = folder }
        if let name = update.displayName { fields["display_name"] = name }
        let path = "resources/\(resourceType.rawValue)/\(type.rawValue)/" + PercentEncoding.pathSegments(publicID)
        let answer = await admin(.POST, path, form: fields, cloud: cloud)
        return Self.outcome(answer) { body in
            guard let result = Self.resource(body), result.publicID == publicID else { return nil }
            return result
        }
    }

    public func renameFolder(from: String, to: String, cloud: RenamerConfiguration.Cloud) async -> RenameOutcome {
        let answer = await admin(.PUT, "folders/" + PercentEncoding.pathSegments(from), form: ["to_folder": to], cloud: cloud)
        return Self.outcome(answer) { body in
            // `{"from": {"path"}, "to": {"path"}}`: the folder's new path proves the rename.
            guard let object = try? JSONValue.parse(body.readableBytesView), object["to"]?["path"]?.stringValue == to else { return nil }
            return RenameJob.RenameResult(publicID: to, version: nil, secureURL: nil)
        }
    }

    public func folderExists(_ path: String, cloud: RenamerConfiguration.Cloud) async -> LookupOutcome {
        switch await admin(.GET, "folders/" + PercentEncoding.pathSegments(path), cloud: cloud) {
        case .answered(200, _, _): return .found(.init(publicID: path, version: nil, secureURL: nil))
        case .answered(404, _, _): return .notFound
        case .answered(let status, let body, _):
            return .unavailable(reason: "folder lookup answered \(status): \(Self.errorMessage(body, status: status))")
        case .budgetSpent(let wait): return .unavailable(reason: "Admin API budget spent for \(Int(wait.rounded(.up))) s")
        case .failed(let outcome): return .unavailable(reason: "\(outcome)")
        }
    }

    public func listResources(
        prefix: String,
        resourceType: ResourceType,
        type: DeliveryType,
        cursor: String?,
        maxResults: Int,
        cloud: RenamerConfiguration.Cloud
    ) async -> ListOutcome {
        var query = ["prefix": prefix, "max_results": String(maxResults)]
        if let cursor { query["next_cursor"] = cursor }
        let path = "resources/\(resourceType.rawValue)/\(type.rawValue)?" + FormURLEncoding.encode(query)
        switch await admin(.GET, path, cloud: cloud) {
        case .answered(200, let body, _):
            guard let object = try? JSONValue.parse(body.readableBytesView), case .array(let resources)? = object["resources"] else {
                return .failed(reason: "unreadable listing response")
            }
            let ids = resources.compactMap { $0["public_id"]?.stringValue }
            guard ids.count == resources.count else { return .failed(reason: "a listed resource has no public_id") }
            return .page(publicIDs: ids, next: object["next_cursor"]?.stringValue)
        case .answered(let status, let body, let retryAfter):
            return .rejected(status: status, message: Self.errorMessage(body, status: status), retryAfter: retryAfter)
        case .budgetSpent(let wait):
            return .rejected(status: 420, message: "the Admin API budget of this cloud is spent", retryAfter: wait)
        case .failed(let outcome):
            return .failed(reason: "\(outcome)")
        }
    }

    // MARK: - Admin API

    /// How an Admin API call ended.
    enum AdminAnswer {
        case answered(status: Int, body: ByteBuffer, retryAfter: Double?)
        /// Not sent: the cloud's Admin API budget allows no call for this many seconds.
        case budgetSpent(wait: Double)
        /// Not answered: ``RenameOutcome/notSent(reason:)`` or ``RenameOutcome/outcomeUnknown(reason:)``.
        case failed(RenameOutcome)
    }

    /// One Admin API call (Basic auth), spending the cloud's budget and noting what the answer's
    /// `X-FeatureRateLimit-*` headers say about it.
    func admin(_ method: HTTPMethod, _ path: String, form: [String: String]? = nil, cloud: RenamerConfiguration.Cloud) async -> AdminAnswer {
        if let wait = adminBudget?.spend(cloud: cloud.name, limit: cloud.adminAPIMaxRequestsPerHour) { return .budgetSpent(wait: wait) }
        var request = HTTPClientRequest(url: "\(cloud.uploadPrefix)/v1_1/\(Self.pathEscape(cloud.cloudName))/\(path)")
        request.method = method
        request.headers.add(name: "Authorization", value: "Basic " + Data("\(cloud.apiKey):\(cloud.apiSecret.value)".utf8).base64EncodedString())
        request.headers.add(name: "Accept", value: "application/json")
        if let form {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: FormURLEncoding.encode(form)))
        }
        do {
            let response = try await http.execute(request, timeout: .milliseconds(Int64(cloud.timeoutSeconds * 1000)))
            let body = try await response.body.collect(upTo: Self.maxResponseBytes)
            let status = Int(response.status.code)
            adminBudget?.observe(
                cloud: cloud.name,
                remaining: response.headers.first(name: "X-FeatureRateLimit-Remaining").flatMap { Int($0) },
                reset: response.headers.first(name: "X-FeatureRateLimit-Reset").flatMap(Self.httpDate),
                rateLimited: status == 420
            )
            return .answered(status: status, body: body, retryAfter: response.headers.first(name: "Retry-After").flatMap(Self.retryAfterSeconds))
        } catch {
            return .failed(Self.classify(error))
        }
    }

    /// An Admin API call that changes something, as a ``RenameOutcome``: `proof` reads the
    /// documented answer; any other 2xx leaves the outcome unknown.
    static func outcome(_ answer: AdminAnswer, proof: (ByteBuffer) -> RenameJob.RenameResult?) -> RenameOutcome {
        switch answer {
        case .answered(let status, let body, let retryAfter) where !(200..<300).contains(status):
            return .rejected(status: status, message: errorMessage(body, status: status), retryAfter: retryAfter)
        case .answered(let status, let body, _):
            guard let result = proof(body) else { return .outcomeUnknown(reason: "Cloudinary answered \(status) without the documented body") }
            return .renamed(result)
        case .budgetSpent(let wait):
            return .rejected(status: 420, message: "the Admin API budget of this cloud is spent", retryAfter: wait)
        case .failed(let outcome):
            return outcome
        }
    }

    // MARK: - Helpers

    /// Connection failures before sending are safe to retry; anything after sending is unknown.
    static func classify(_ error: any Error) -> RenameOutcome {
        if let error = error as? HTTPClientError {
            let beforeSending: [HTTPClientError] = [
                .connectTimeout, .socksHandshakeTimeout, .httpProxyHandshakeTimeout, .tlsHandshakeTimeout, .invalidURL, .emptyHost,
                .emptyScheme,
            ]
            return beforeSending.contains(error) ? .notSent(reason: "\(error)") : .outcomeUnknown(reason: "\(error)")
        }
        if error is NIOConnectionError { return .notSent(reason: "\(error)") }
        if let error = error as? IOError, [ECONNREFUSED, ENETUNREACH, EHOSTUNREACH].contains(error.errnoCode) {
            return .notSent(reason: "\(error)")
        }
        return .outcomeUnknown(reason: "\(error)")
    }

    static func resource(_ body: ByteBuffer) -> RenameJob.RenameResult? {
        guard let object = try? JSONValue.parse(body.readableBytesView), let publicID = object["public_id"]?.stringValue else { return nil }
        return .init(
            publicID: publicID,
            version: object["version"]?.intValue,
            secureURL: object["secure_url"]?.stringValue,
            assetFolder: object["asset_folder"]?.stringValue,
            displayName: object["display_name"]?.stringValue
        )
    }

    /// `{"error":{"message":"…"}}`, or a generic text when the body is not that shape.
    static func errorMessage(_ body: ByteBuffer, status: Int) -> String {
        if let message = (try? JSONValue.parse(body.readableBytesView))?["error"]?["message"]?.stringValue {
            return String(message.prefix(1000))
        }
        return "Cloudinary answered HTTP \(status)"
    }

    /// `Retry-After` as delay-seconds or an HTTP date.
    static func retryAfterSeconds(_ value: String) -> Double? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(trimmed), seconds >= 0, seconds.isFinite { return min(seconds, 86400) }
        guard let date = httpDate(trimmed) else { return nil }
        return min(max(0, date.timeIntervalSinceNow), 86400)
    }

    /// An HTTP date (`Tue, 01 Dec 2026 16:00:00 GMT`), as `Retry-After` and `X-FeatureRateLimit-Reset` carry.
    static func httpDate(_ value: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: value.trimmingCharacters(in: .whitespaces))
    }

    static func pathEscape(_ segment: String) -> String {
        PercentEncoding.escape(segment, keeping: PercentEncoding.segmentCharacters)
    }
}
