import Logging
import RenamerConfig

extension Logger {
    /// A logger honouring `log.level` and `log.format`, not touching the global `LoggingSystem`.
    public static func renamer(_ label: String, _ settings: RenamerConfiguration.Log) -> Logger {
        var logger = Logger(label: label) { label in
            switch settings.format {
            case .json: JSONLogHandler(label: label)
            case .text: StreamLogHandler.standardError(label: label)
            }
        }
        logger.logLevel = Logger.Level(rawValue: settings.level.rawValue) ?? .info
        return logger
    }
}
