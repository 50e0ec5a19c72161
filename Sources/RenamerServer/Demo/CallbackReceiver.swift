import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import RenamerCore
import RenamerCrypto

/// A caller's webhook endpoint for the demo and the tests: records every callback, verifies its
/// Standard Webhooks signature, and answers with scripted statuses (200 once the script is empty).
public final class CallbackReceiver: Sendable {
    /// One received callback.
    public struct Delivery: Sendable {
        public var path: String
        public var webhookID: String?
        public var webhookTimestamp: String?
        public var webhookSignature: String?
        public var contentType: String?
        public var body: [UInt8]
        /// Whether the signature verified against the receiver's secrets.
        public var verified: Bool
        public var receivedAt: Date
    }

    /// A scripted answer.
    public struct Answer: Sendable {
        public var status: Int
        public var headers: [String: String]
        /// Wait this long before answering (a slow receiver).
        public var delaySeconds: Double

        public init(status: Int, headers: [String: String] = [:], delaySeconds: Double = 0) {
            self.status = status
            self.headers = headers
            self.delaySeconds = delaySeconds
        }
    }

    struct State {
        var deliveries: [Delivery] = []
        var script: [Answer] = []
    }

    private let state = Locked(State())
    private let verifier: StandardWebhooks

    public init(secrets: [WebhookSecret]) {
        verifier = StandardWebhooks(secrets: secrets)
    }

    public func script(_ answers: Answer...) {
        script(contentsOf: answers)
    }

    public func script(contentsOf answers: [Answer]) {
        state.withLock { $0.script.append(contentsOf: answers) }
    }

    public func clearScript() {
        state.withLock { $0.script.removeAll() }
    }

    public var deliveries: [Delivery] { state.withLock { $0.deliveries } }

    /// The receiver as a Hummingbird application listening on `host:port` (0 picks a free port).
    public func buildApplication(
        host: String = "127.0.0.1",
        port: Int = 0,
        onListening: @escaping @Sendable (Int) async -> Void
    )
        -> some ApplicationProtocol
    {
        let router = Router()
        router.post("**") { request, _ in try await self.receive(request) }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "callback-receiver"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: Logger(label: "callback-receiver") { _ in SwiftLogNoOpLogHandler() }
        )
    }

    private func receive(_ request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: 1 << 20)
        let bytes = Array(body.readableBytesView)
        let id = request.headers[HTTPField.Name("webhook-id")!]
        let timestamp = request.headers[HTTPField.Name("webhook-timestamp")!]
        let signature = request.headers[HTTPField.Name("webhook-signature")!]
        let verified =
            (try? verifier.verify(id: id, timestamp: timestamp, signatureHeader: signature, body: bytes, now: Date().timeIntervalSince1970)) != nil
        let answer = state.withLock { state in
            state.deliveries.append(
                Delivery(
                    path: request.uri.path,
                    webhookID: id,
                    webhookTimestamp: timestamp,
                    webhookSignature: signature,
                    contentType: request.headers[.contentType],
                    body: bytes,
                    verified: verified,
                    receivedAt: Date()
                )
            )
            return state.script.isEmpty ? Answer(status: 200) : state.script.removeFirst()
        }
        if answer.delaySeconds > 0 { try await Task.sleep(for: .milliseconds(Int(answer.delaySeconds * 1000))) }
        var headers = HTTPFields()
        for (name, value) in answer.headers {
            if let name = HTTPField.Name(name) { headers[name] = value }
        }
        return Response(status: .init(code: answer.status), headers: headers)
    }
}
