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
    /// Seconds since 1970; injectable so signatures are reproducible in tests.
    let now: @Sendable () -> Double
    /// Largest response body read.
    static let maxResponseBytes = 1 << 20

    public init(http: HTTPClient = .outbound, logger: Logger, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.http = http
        self.logger = logger
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
        let url =
            "\(cloud.uploadPrefix)/v1_1/\(Self.pathEscape(cloud.cloudName))/resources/\(resourceType.rawValue)/\(type.rawValue)/"
            + PercentEncoding.pathSegments(publicID)
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: "Basic " + Data("\(cloud.apiKey):\(cloud.apiSecret.value)".utf8).base64EncodedString())
        request.headers.add(name: "Accept", value: "application/json")
        do {
            let response = try await http.execute(request, timeout: .milliseconds(Int64(cloud.timeoutSeconds * 1000)))
            let body = try await response.body.collect(upTo: Self.maxResponseBytes)
            switch response.status.code {
            case 200:
                return Self.resource(body).map(LookupOutcome.found) ?? .unavailable(reason: "unreadable lookup response")
            case 404:
                return .notFound
            default:
                return .unavailable(reason: "lookup answered \(response.status.code): \(Self.errorMessage(body, status: Int(response.status.code)))")
            }
        } catch {
            return .unavailable(reason: "\(error)")
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
        return .init(publicID: publicID, version: object["version"]?.intValue, secureURL: object["secure_url"]?.stringValue)
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
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        return min(max(0, date.timeIntervalSinceNow), 86400)
    }

    static func pathEscape(_ segment: String) -> String {
        PercentEncoding.escape(segment, keeping: PercentEncoding.segmentCharacters)
    }
}
