import Foundation
import RenamerConfig
import RenamerCore

/// What every ``JobStorage`` backend must do for the kinds of SPEC §11, checked the same way on
/// memory, SQLite and PostgreSQL: lists per collection, items per parent in acceptance order,
/// item counts, a parent's progress surviving a read, and items purged only with their parent.
public enum StorageContract {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func job(_ id: String, client: String, status: JobStatus = .queued, parent: String? = nil) -> RenameJob {
        var job = RenameJob(
            id: id,
            client: client,
            status: status,
            cloud: "main",
            fromPublicID: "products/old/\(id)",
            toPublicID: "products/new/\(id)",
            resourceType: .image,
            type: .upload,
            toType: nil,
            overwrite: false,
            invalidate: false,
            clientReference: nil,
            attempts: 0,
            createdAt: now,
            updatedAt: now,
            completedAt: status.isFinal ? now : nil,
            result: nil,
            invalidation: .init(status: .notRequested, method: nil, confirmedAt: nil),
            error: nil,
            callback: .init(url: nil, status: .none, attempts: 0, lastStatus: nil)
        )
        job.parent = parent
        return job
    }

    /// Records a folder rename with three items, a rename and an asset update for `client`, then
    /// checks the reads. Returns what went wrong (empty when all holds). `nextSequence` is the
    /// first sequence number to use.
    public static func check(_ storage: any JobStorage, client: String = "catalog", nextSequence: Int = 1) async throws -> [String] {
        var problems: [String] = []
        func expect(_ condition: Bool, _ what: String) { if !condition { problems.append(what) } }
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        var parent = job("fr_\(suffix)", client: client, status: .renaming)
        parent.fromPublicID = "products/old"
        parent.toPublicID = "products/new"
        parent.group = .init(folderMode: .fixed, resourceTypes: [.image, .raw], dryRun: false, counts: .init(items: 3, renamed: 1, skipped: 1))
        parent.group?.listing = .init(pair: 4, cursor: "abc")
        let items = [
            job("rn_\(suffix)a", client: client, status: .queued, parent: parent.id),
            job("rn_\(suffix)b", client: client, status: .completed, parent: parent.id),
            job("rn_\(suffix)c", client: client, status: .cancelled, parent: parent.id),
        ]
        let rename = job("rn_\(suffix)r", client: client, status: .completed)
        var update = job("au_\(suffix)", client: client, status: .queued)
        update.toPublicID = update.fromPublicID
        update.update = .init(assetFolder: "shop", displayName: nil)
        var sequence = nextSequence
        for job in [parent] + items + [rename, update] {
            storage.record(job, sequence: sequence)
            sequence += 1
        }
        try await storage.sync()

        let renames = try await storage.list(client: client, collection: "rename", status: nil, limit: 10, after: nil)?.jobs.map(\.id)
        expect(renames == [rename.id], "renames list \(renames ?? [])")
        let folders = try await storage.list(client: client, collection: "folder_rename", status: nil, limit: 10, after: nil)?.jobs
        expect(folders?.map(\.id) == [parent.id], "folder renames list \(folders?.map(\.id) ?? [])")
        let read = folders?.first
        expect(read?.group?.counts == parent.group?.counts, "counts read back \(String(describing: read?.group?.counts))")
        expect(read?.group?.listing == parent.group?.listing, "listing read back \(String(describing: read?.group?.listing))")
        expect(read?.group?.resourceTypes == [.image, .raw], "resource types read back")
        let updates = try await storage.list(client: client, collection: "asset_update", status: .queued, limit: 10, after: nil)?.jobs
        expect(updates?.map(\.id) == [update.id] && updates?.first?.update == update.update, "asset updates list")

        let first = try await storage.items(parent: parent.id, limit: 2, after: nil)
        expect(first?.jobs.map(\.id) == items.prefix(2).map(\.id), "first item page \(first?.jobs.map(\.id) ?? [])")
        expect(first?.next == items[1].id, "first item page's next \(first?.next ?? "nil")")
        let second = try await storage.items(parent: parent.id, limit: 2, after: first?.next)
        expect(second?.jobs.map(\.id) == [items[2].id] && second?.next == nil, "second item page \(second?.jobs.map(\.id) ?? [])")
        expect(second?.jobs.first?.parent == parent.id, "an item read back keeps its parent")
        expect(try await storage.items(parent: parent.id, limit: 2, after: rename.id) == nil, "a cursor that is not an item")
        let counts = try await storage.itemCounts(parent: parent.id)
        expect(counts == [.queued: 1, .completed: 1, .cancelled: 1], "item counts \(counts)")

        // Items go with their parent only: settled items of a running parent stay.
        _ = try await storage.purge(finishedBefore: now.addingTimeInterval(86400), now: now)
        expect(try await storage.items(parent: parent.id, limit: 10, after: nil)?.jobs.count == 3, "items purged before their parent")
        parent.status = .completed
        parent.completedAt = now
        storage.record(parent, sequence: nextSequence)
        for (index, item) in items.enumerated() {
            var item = item
            item.status = .completed
            item.completedAt = now
            storage.record(item, sequence: nextSequence + 1 + index)
        }
        try await storage.sync()
        _ = try await storage.purge(finishedBefore: now.addingTimeInterval(86400), now: now)
        expect(try await storage.job(parent.id) == nil, "the parent was purged")
        expect(try await storage.items(parent: parent.id, limit: 10, after: nil)?.jobs.isEmpty ?? true, "items purged with their parent")
        expect(try await storage.job(items[0].id) == nil, "an item purged with its parent")
        expect(try await storage.job(update.id) != nil, "an unfinished asset update stays")
        return problems
    }
}
