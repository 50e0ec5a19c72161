import ArgumentParser
import RenamerConfig

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Load and validate the configuration as serve would; print a summary with secrets redacted.",
        discussion: "Exits 0 when valid; otherwise prints one line naming the bad key and exits 2."
    )

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        let configuration = try await options.load()
        print(configuration.summary)
        print("configuration OK")
    }
}
