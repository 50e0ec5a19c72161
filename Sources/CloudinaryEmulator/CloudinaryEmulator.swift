import AsyncHTTPClient
import Hummingbird
import Logging
import NIOCore

/// A stand-in for the parts of Cloudinary asset-renamer uses (SPEC §1, §9): Upload API rename,
/// Admin API lookup, delivery URLs behind a simulated CDN cache, signed rename notifications, and
/// `/_emulator/` control endpoints for tests.
public struct CloudinaryEmulator: Sendable {
    public let state: EmulatorState
    let host: String
    let port: Int
    let logger: Logger

    public init(settings: EmulatorSettings = EmulatorSettings(), host: String = "127.0.0.1", port: Int = 0, logger: Logger) {
        state = EmulatorState(settings: settings)
        self.host = host
        self.port = port
        self.logger = logger
    }

    /// The Hummingbird application serving the emulator.
    public func buildApplication(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router(context: EmulatorRequestContext.self)
        EmulatorRoutes(state: state, notifications: NotificationSender(state: state, http: NotificationSender.client, logger: logger), logger: logger)
            .register(on: router)
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "cloudinary-emulator"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

}
