import CloudinaryEmulator
import Foundation
import GRDB
import Logging
import NIOHTTP1
import RenamerCore
import Testing

@testable import RenamerJournal
@testable import RenamerServer

/// The journal under the live daemon (SPEC §8).
@Suite("Journal under the daemon")
struct JournalTests {
    @Test func aFullDiskRefusesNewRenamesAndLosesNothingAccepted() async throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "full-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let journal = try SQLiteJournal(path: directory.appending(path: "j.sqlite").path, logger: Logger(label: "t"))
        try await Harness.run(storage: journal) { harness in
            harness.emulator.state.seed(publicID: "products/a")
            harness.emulator.state.setPaused(true)
            let accepted = try #require(
                try await harness.submit(["from_public_id": "products/a", "to_public_id": "products/b", "invalidate": false]).json["id"] as? String
            )
            // Its first attempt is durable and in flight (the emulator is paused) before the disk fills up.
            #expect(try await harness.eventually { try await harness.job(accepted).json["attempts"] as? Int == 1 })
            try await journal.sync()
            let pages = try await journal.database.read { db in try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 1 }
            try await journal.database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = \(pages)") }
            var refused = 0
            for index in 0..<20 {
                let reply = try await harness.submit(["from_public_id": "products/n\(index)", "to_public_id": "products/m\(index)"])
                if reply.status == 503 {
                    refused += 1
                    #expect(reply.header("Retry-After") != nil)
                }
            }
            #expect(refused > 0)
            // Nothing accepted is lost: the daemon still has the job, and once space returns the
            // journal holds it with its durable attempt.
            #expect(try await harness.job(accepted).status == 200)
            try await journal.database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = 1073741823") }
            try await journal.sync()
            let stored = try #require(try await journal.job(accepted))
            #expect(stored.attempts >= 1)
            harness.emulator.state.setPaused(false)
        }
    }

    @Test func finishedJobsArePurgedAfterRetention() async throws {
        try await Harness.run(["storage.retention_days": "0.00001"]) { harness in
            harness.emulator.state.seed(publicID: "products/a")
            let id = try #require(
                try await harness.submit(["from_public_id": "products/a", "to_public_id": "products/b", "invalidate": false]).json["id"] as? String
            )
            _ = try await harness.waitForJob(id, status: "completed")
            try await Task.sleep(for: .seconds(1))
            await HousekeepingService(components: harness.components).purge()
            #expect(try await harness.job(id).status == 404)
            #expect(try await harness.allJobs().isEmpty)
        }
    }
}

/// Nothing the daemon starts outlives it (issue 13): after a stop, its calls, probes and callbacks
/// have ended and later timers change nothing.
@Suite("Daemon lifetime")
struct DaemonLifetimeTests {
    @Test func stoppingEndsEveryTaskTheDaemonStarted() async throws {
        // A call that would hang a minute, and a drain shorter than that: the stop cuts the call.
        let harness = try await Harness.start([
            "clouds.main.invalidation.method": "probe", "clouds.main.timeout_seconds": "60", "shutdown.drain_seconds": "0.2",
        ])
        harness.emulator.state.seed(publicID: "products/a")
        harness.emulator.state.setPaused(true)  // the rename call hangs until the stop cuts it
        let id = try #require(
            try await harness.submit(["from_public_id": "products/a", "to_public_id": "products/b"]).json["id"] as? String
        )
        let lifecycle = harness.components.lifecycle
        #expect(await harness.eventually { lifecycle.queue.tasks.count == 1 })
        // The daemon alone, as SIGTERM would stop it: the emulator still holds the call.
        await harness.daemonRun.stop()
        #expect(lifecycle.queue.tasks.count == 0)
        #expect(lifecycle.confirmer.tasks.count == 0)
        #expect(lifecycle.callbacks.tasks.count == 0)
        // The job stays mid-rename: a restart reconciles it (its call's outcome is unknown).
        #expect(try await lifecycle.store.job(id)?.status == .renaming)
        harness.emulator.state.setPaused(false)
        await harness.stop()
    }
}
