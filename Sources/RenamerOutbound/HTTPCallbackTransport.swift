import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import RenamerConfig
import RenamerCore

/// Posts callbacks over AsyncHTTPClient; redirects are answers, not followed (SPEC §6).
public struct HTTPCallbackTransport: CallbackTransport {
    let http: HTTPClient
    /// Largest response body read (and discarded).
    static let maxResponseBytes = 64 * 1024

    public init(http: HTTPClient) {
        self.http = http
    }

    /// The transport `configuration.callbacks` asks for (connect timeout, connections per origin).
    public init(_ callbacks: RenamerConfiguration.Callbacks) {
        http = .callbacks(connectTimeout: callbacks.connectTimeoutSeconds, connectionsPerOrigin: callbacks.maxConcurrentPerOrigin)
    }

    public func post(url: String, headers: [(String, String)], body: [UInt8], timeout: Double) async -> CallbackResponse {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let deadline = NIODeadline.now() + .milliseconds(Int64(timeout * 1000))
        do {
            let response = try await http.execute(request, deadline: deadline)
            let body = response.body
            if Self.endsWithHead(response) {
                // Nothing can follow the head: reading its end needs no deadline (and no timer
                // and two tasks per callback, most receivers' case).
                do { for try await _ in body {} } catch {}
            } else {
                // Drain a little of the body so the connection can be reused; never buffer more,
                // and never past the deadline (AsyncHTTPClient's ends with the head: a receiver
                // that trickles its body would hold the delivery slot for good).
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        var drained = 0
                        do {
                            for try await chunk in body {
                                drained += chunk.readableBytes
                                if drained > Self.maxResponseBytes { break }
                            }
                        } catch {}
                    }
                    group.addTask { try? await Task.sleep(for: .nanoseconds(max(0, (deadline - .now()).nanoseconds))) }
                    await group.next()
                    group.cancelAll()
                }
            }
            let retryAfter = response.headers.first(name: "Retry-After").flatMap(CloudinaryClient.retryAfterSeconds)
            return .status(Int(response.status.code), retryAfter: retryAfter)
        } catch {
            return .failed(reason: "\(error)")
        }
    }

    /// Whether the response's framing says its head is all of it: `204`, `304`, or
    /// `Content-Length: 0` (HTTP/1.1 §6.3).
    static func endsWithHead(_ response: HTTPClientResponse) -> Bool {
        if response.status == .noContent || response.status == .notModified { return true }
        let lengths = response.headers[canonicalForm: "Content-Length"]
        return lengths.count == 1 && lengths[0] == "0" && !response.headers.contains(name: "Transfer-Encoding")
    }
}
