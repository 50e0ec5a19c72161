import ArgumentParser
import Foundation
import RenamerConfig
import RenamerJournal

/// `backup --to FILE`: a consistent copy of the SQLite journal, also while the daemon runs.
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the SQLite journal consistently (VACUUM INTO), also while the daemon runs.",
        discussion: """
            Reads storage.path from the configuration (as serve does) and writes a new file that holds \
            every committed change up to the moment of the copy. In the container the root file system \
            is read-only: write under the data volume, e.g. \
            `kubectl exec deploy/asset-renamer -- asset-renamer backup --config /etc/asset-renamer/asset-renamer.yaml \
            --to /var/lib/asset-renamer/backup.sqlite`, then `kubectl cp` it out. To restore: stop the daemon, \
            put the copy at storage.path, start it. PostgreSQL storage is backed up with the database's own \
            tools (pg_dump). Exits 0 on success, 1 when the copy fails, 2 on a configuration error.
            """
    )

    @Option(help: "The new file to write (must not exist).") var to: String
    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        let configuration = try await options.load()
        guard configuration.storage.kind == .sqlite else {
            throw Failure("storage.kind is postgres: back the database up with pg_dump")
        }
        guard configuration.storage.path != ":memory:" else { throw Failure("storage.path is :memory:, there is no journal to copy") }
        do {
            try SQLiteJournal.backup(journalAt: configuration.storage.path, to: to)
        } catch {
            throw Failure(error.description)
        }
        print("backed up \(configuration.storage.path) to \(to)")
    }

    /// One line on standard error, exit 1.
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
