import AsyncHTTPClient
import NIOCore
import NIOPosix
import Synchronization

extension HTTPClient {
    /// The daemon's client for everything it calls: Cloudinary, CDN probes, callbacks.
    ///
    /// Redirects are never followed (a redirected callback counts as a failure, SPEC §6; probes
    /// judge the first answer), connecting is bounded at 5 s, and each request carries its own
    /// deadline. Like `HTTPClient.shared` it lives as long as the process.
    public static let outbound: HTTPClient = {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(5))
        )
        configuration.httpVersion = .http1Only
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        return HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
    }()

    /// The client for callbacks: `connectTimeout` seconds to connect (`callbacks.connect_timeout_seconds`),
    /// up to `connectionsPerOrigin` connections to one origin (the delivery scheduler never asks for
    /// more), redirects not followed. A refused connection fails at once rather than being retried
    /// until the connect timeout, so a dead receiver does not hold its slots for seconds per attempt.
    /// One client per setting, living as long as the process, as ``outbound`` does.
    public static func callbacks(connectTimeout: Double, connectionsPerOrigin: Int) -> HTTPClient {
        callbackClients.withLock { clients in
            let key = CallbackClientKey(connectTimeout: connectTimeout, connectionsPerOrigin: connectionsPerOrigin)
            if let client = clients[key] { return client }
            var configuration = HTTPClient.Configuration(
                redirectConfiguration: .disallow,
                timeout: .init(connect: .milliseconds(Int64((connectTimeout * 1000).rounded(.up))))
            )
            configuration.httpVersion = .http1Only
            configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: connectionsPerOrigin)
            configuration.connectionPool.retryConnectionEstablishment = false
            let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
            clients[key] = client
            return client
        }
    }

    private struct CallbackClientKey: Hashable {
        var connectTimeout: Double
        var connectionsPerOrigin: Int
    }

    private static let callbackClients = Mutex<[CallbackClientKey: HTTPClient]>([:])
}
