import AsyncHTTPClient
import NIOCore
import NIOPosix
import RenamerCore

extension HTTPClient {
    /// The daemon's client for Cloudinary and CDN probes: connecting is bounded at 5 s.
    ///
    /// Like every client here it never follows redirects (probes judge the first answer), speaks
    /// HTTP/1, and lets each request carry its own deadline; like `HTTPClient.shared` it lives as
    /// long as the process.
    public static let outbound = makeOutbound(connectTimeout: .seconds(5), connectionsPerHost: 64, retryConnecting: true)

    /// The client for callbacks: `connectTimeout` seconds to connect (`callbacks.connect_timeout_seconds`),
    /// up to `connectionsPerOrigin` connections to one origin (the delivery scheduler never asks for
    /// more); a redirect is an answer (a failure, SPEC §6). A refused connection fails at once rather
    /// than being retried until the connect timeout, so a dead receiver does not hold its slots for
    /// seconds per attempt. One client per setting, living as long as the process.
    public static func callbacks(connectTimeout: Double, connectionsPerOrigin: Int) -> HTTPClient {
        callbackClients.withLock { clients in
            let key = CallbackClientKey(connectTimeout: connectTimeout, connectionsPerOrigin: connectionsPerOrigin)
            if let client = clients[key] { return client }
            let client = makeOutbound(
                connectTimeout: .milliseconds(Int64((connectTimeout * 1000).rounded(.up))),
                connectionsPerHost: connectionsPerOrigin,
                retryConnecting: false
            )
            clients[key] = client
            return client
        }
    }

    private static func makeOutbound(connectTimeout: TimeAmount, connectionsPerHost: Int, retryConnecting: Bool) -> HTTPClient {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: connectTimeout))
        configuration.httpVersion = .http1Only
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: connectionsPerHost)
        configuration.connectionPool.retryConnectionEstablishment = retryConnecting
        // No distributed tracing here: by default the client takes the global tracer (a no-op one)
        // and still made a span per request, parsing its URL with Foundation for the span's
        // attributes (~2.5 % of end-to-end samples).
        configuration.tracing.tracer = nil
        return HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
    }

    private struct CallbackClientKey: Hashable {
        var connectTimeout: Double
        var connectionsPerOrigin: Int
    }

    private static let callbackClients = Locked<[CallbackClientKey: HTTPClient]>([:])
}
