import ArgumentParser
import CloudinaryEmulator
import Hummingbird
import Logging

@main
struct EmulatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloudinary-emulator",
        abstract: "Serve a Cloudinary stand-in: rename, resource lookup, CDN delivery, notifications, /_emulator/ control."
    )

    @Option(help: "Port to listen on (0 picks a free one).") var port = 9090
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Cloud name of the emulated account.") var cloudName = "demo"
    @Option(help: "API key of the emulated account.") var apiKey = "123456789012345"
    @Option(help: "API secret of the emulated account.") var apiSecret = "emulator-secret"
    @Option(help: "Seconds the CDN keeps serving an old URL after a rename with invalidate.") var invalidationDelay = 3.0

    func run() async throws {
        var settings = EmulatorSettings()
        settings.cloudName = cloudName
        settings.apiKey = apiKey
        settings.apiSecret = apiSecret
        settings.invalidationDelaySeconds = invalidationDelay
        var logger = Logger(label: "cloudinary-emulator")
        logger.logLevel = .info
        let emulator = CloudinaryEmulator(settings: settings, host: host, port: port, logger: logger)
        try await emulator.buildApplication { [logger, cloudName] port in
            logger.info("listening", metadata: ["port": "\(port)", "cloud_name": "\(cloudName)"])
        }.runService()
    }
}
