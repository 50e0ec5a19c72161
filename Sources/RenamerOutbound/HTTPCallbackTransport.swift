import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import RenamerCore

/// Posts callbacks over AsyncHTTPClient; redirects are answers, not followed (SPEC §6).
public struct HTTPCallbackTransport: CallbackTransport {
    let http: HTTPClient
    /// Largest response body read (and discarded).
    static let maxResponseBytes = 64 * 1024

    public init(http: HTTPClient = .outbound) {
        self.http = http
    }

    public func post(url: String, headers: [(String, String)], body: [UInt8], timeout: Double) async -> CallbackResponse {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await http.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
            // Drain a little of the body so the connection can be reused; never buffer more.
            var drained = 0
            for try await chunk in response.body {
                drained += chunk.readableBytes
                if drained > Self.maxResponseBytes { break }
            }
            let retryAfter = response.headers.first(name: "Retry-After").flatMap(CloudinaryClient.retryAfterSeconds)
            return .status(Int(response.status.code), retryAfter: retryAfter)
        } catch {
            return .failed(reason: "\(error)")
        }
    }
}
