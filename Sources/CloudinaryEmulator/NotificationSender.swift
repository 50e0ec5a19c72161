import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import RenamerCrypto

/// Posts signed notifications the way Cloudinary does: `X-Cld-Timestamp` and `X-Cld-Signature`
/// (hash of body + timestamp + API secret), redelivered while the answer is not 200.
struct NotificationSender: Sendable {
    let state: EmulatorState
    let http: HTTPClient
    let logger: Logger

    /// The client notifications go out on: like Cloudinary, which sends them from many workers at
    /// once, it keeps up to 64 connections to a receiver (`HTTPClient.shared` keeps 8, and
    /// beyond that opens a connection per request: at the end-to-end benchmark's rate, with a
    /// daemon that answers once the notification's change is committed, notifications queued in
    /// the emulator for seconds). One client for the process, as `HTTPClient.shared`.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    func send(to url: String, body: [String: String]) {
        let settings = state.settings
        guard let data = try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        let index = state.recordNotification(.init(url: url, body: String(decoding: data, as: UTF8.self), attempts: []))
        Task {
            let delays = [0] + settings.notificationRetrySeconds
            for delay in delays {
                if delay > 0 { try? await Task.sleep(for: .milliseconds(Int(delay * 1000))) }
                let status = await deliver(url: url, body: data, settings: settings)
                state.recordNotificationAttempt(index, status: status)
                if status == 200 { return }
            }
            logger.notice("notification undelivered", metadata: ["url": "\(url)"])
        }
    }

    private func deliver(url: String, body: Data, settings: EmulatorSettings) async -> Int {
        let timestamp = String(Int64(Date().timeIntervalSince1970))
        let verifier = NotificationVerifier(apiSecret: settings.apiSecret)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Cld-Timestamp", value: timestamp)
        request.headers.add(
            name: "X-Cld-Signature",
            value: verifier.signature(body: body, timestamp: timestamp, algorithm: settings.notificationAlgorithm)
        )
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await http.execute(request, timeout: .seconds(10))
            _ = try? await response.body.collect(upTo: 1 << 16)
            return Int(response.status.code)
        } catch {
            return 0
        }
    }
}
