import ArgumentParser
import CloudinaryEmulator
import Hummingbird
import Logging

@main
struct EmulatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloudinary-emulator",
        abstract:
            "Serve a Cloudinary stand-in: rename, Admin API (lookup, update, listing, folders), CDN delivery, notifications, /_emulator/ control."
    )

    @Option(help: "Port to listen on (0 picks a free one).") var port = 9090
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Cloud name of the emulated account.") var cloudName = "demo"
    @Option(help: "API key of the emulated account.") var apiKey = "123456789012345"
    @Option(help: "API secret of the emulated account.") var apiSecret = "emulator-secret"
    @Option(help: "Seconds the CDN keeps serving an old URL after a rename with invalidate.") var invalidationDelay = 3.0
    @Option(help: "Folder mode of the emulated account: dynamic or fixed.") var folderMode = "dynamic"
    @Option(help: "Admin API calls allowed per window before 420 (default: unlimited).") var adminApiBudget: Int?
    @Option(help: "Length of the Admin API rate-limit window, in seconds.") var adminApiWindowSeconds = 3600.0

    func validate() throws {
        guard EmulatorSettings.FolderMode(rawValue: folderMode) != nil else { throw ValidationError("--folder-mode: dynamic | fixed") }
        if let adminApiBudget, adminApiBudget < 0 { throw ValidationError("--admin-api-budget: a count ≥ 0") }
        guard adminApiWindowSeconds > 0 else { throw ValidationError("--admin-api-window-seconds: > 0") }
    }

    func run() async throws {
        var settings = EmulatorSettings()
        settings.cloudName = cloudName
        settings.apiKey = apiKey
        settings.apiSecret = apiSecret
        settings.invalidationDelaySeconds = invalidationDelay
        settings.folderMode = EmulatorSettings.FolderMode(rawValue: folderMode) ?? .dynamic
        settings.adminAPIBudget = adminApiBudget
        settings.adminAPIWindowSeconds = adminApiWindowSeconds
        var logger = Logger(label: "cloudinary-emulator")
        logger.logLevel = .info
        let emulator = CloudinaryEmulator(settings: settings, host: host, port: port, logger: logger)
        try await emulator.buildApplication { [logger, cloudName] port in
            logger.info("listening", metadata: ["port": .stringConvertible(port), "cloud_name": "\(cloudName)"])
        }.runService()
    }
}
