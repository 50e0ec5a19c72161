import ArgumentParser
import Foundation
import Logging
import RenamerConfig
import RenamerServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the daemon until SIGTERM or SIGINT.")

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        let configuration = try await options.load()
        let logger = Logger.renamer("asset-renamer", configuration.log)
        // The version and the configuration (secrets redacted), so a log alone says what ran.
        logger.info(
            "starting",
            metadata: [
                "version": "\(BuildInfo.version)",
                "config": .array(configuration.summary.split(separator: "\n").map { .string(String($0)) }),
                "clouds": .array(configuration.clouds.keys.sorted().map { .string($0) }),
                "clients": .array(configuration.clients.keys.sorted().map { .string($0) }),
                "host": "\(configuration.http.host)", "port": .stringConvertible(configuration.http.port),
            ]
        )
        do {
            try await Daemon(configuration: configuration, logger: logger).run()
        } catch let error as StartupError {
            FileHandle.standardError.write(Data("asset-renamer: cannot start: \(error)\n".utf8))
            throw ExitCode(2)
        }
        logger.info("stopped")
    }
}
