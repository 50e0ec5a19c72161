import AsyncHTTPClient
import NIOCore
import NIOPosix

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
}
