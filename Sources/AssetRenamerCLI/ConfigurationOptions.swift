import ArgumentParser
import Foundation
import RenamerConfig

/// `--config` and `--set`, shared by every command that loads the daemon's configuration.
struct ConfigurationOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Configuration file, YAML or JSON (default: $RENAMER_CONFIG).", valueName: "path"))
    var config: String?

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp("Override one key, highest precedence; repeatable. Lists are comma-separated.", valueName: "key=value")
    )
    var overrides: [String] = []

    /// Loads the configuration exactly as `serve` does, or prints one line naming the bad key and exits 2.
    func load() async throws -> RenamerConfiguration {
        do {
            var values: [String: String] = [:]
            for item in overrides {
                guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                    throw ConfigurationError("--set", "expects key=value (got \"\(item)\")")
                }
                values[String(item[..<equals])] = String(item[item.index(after: equals)...])
            }
            return try await ConfigurationLoader.load(.process(filePath: config, overrides: values))
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("asset-renamer: configuration error: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}
