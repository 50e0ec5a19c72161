import Hummingbird

/// The request context of every route: Hummingbird's core storage plus our body limit.
public struct RenamerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Largest body `collectBody` accepts; routes that read bodies enforce `http.max_body_bytes` themselves.
    public var maxUploadSize: Int

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        maxUploadSize = 65536
    }
}
