import Foundation
import GRDB

extension SQLiteJournal {
    /// Writes a consistent copy of the journal at `path` to `destination` (a new file) with
    /// SQLite's `VACUUM INTO`, also while a daemon writes the journal: the copy is one read
    /// transaction, so it holds every commit before it and none after. It takes no part in the
    /// daemon's lock (`<journal>.lock`) and changes nothing in the journal.
    ///
    /// To restore, stop the daemon and put the copy in the journal's place (`storage.path`).
    public static func backup(journalAt path: String, to destination: String) throws(JournalError) {
        guard FileManager.default.fileExists(atPath: path) else { throw JournalError("there is no journal at \(path)") }
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw JournalError("\(destination) exists already; name a new file")
        }
        do {
            var configuration = Configuration()
            configuration.label = "asset-renamer backup"
            // Wait for a writer's checkpoint rather than fail at once.
            configuration.busyMode = .timeout(10)
            let database = try DatabaseQueue(path: path, configuration: configuration)
            try database.inDatabase { db in
                try db.execute(sql: "VACUUM INTO ?", arguments: [destination])
            }
            try database.close()
        } catch {
            try? FileManager.default.removeItem(atPath: destination)
            throw JournalError("cannot back up \(path) to \(destination): \(error)")
        }
    }
}
