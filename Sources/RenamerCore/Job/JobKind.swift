import Foundation
import RenamerCrypto

/// What a job does (SPEC §2, §11). The kind is fixed by the job id's prefix, so storage, cursors
/// and logs need no extra field to tell kinds apart.
///
/// Every kind is a ``RenameJob``: one state machine, one storage row, one callback outbox.
/// `fromPublicID`/`toPublicID` hold the job's source and target (the public ID twice for an asset
/// update, the folders for a folder rename); kind-specific fields live in ``RenameJob/update`` and
/// ``RenameJob/group``.
public enum JobKind: String, Sendable, CaseIterable {
    case rename
    case assetUpdate = "asset_update"
    case folderRename = "folder_rename"
    case batch

    /// The kind of job `id`; ids without a known prefix are renames (older journals).
    public init(id: String) {
        // Bytes, not characters: this runs several times per request.
        var bytes = id.utf8.makeIterator()
        guard id.utf8.count > 3, let first = bytes.next(), let second = bytes.next(), bytes.next() == UInt8(ascii: "_") else {
            self = .rename
            return
        }
        switch (first, second) {
        case (UInt8(ascii: "a"), UInt8(ascii: "u")): self = .assetUpdate
        case (UInt8(ascii: "f"), UInt8(ascii: "r")): self = .folderRename
        case (UInt8(ascii: "b"), UInt8(ascii: "t")): self = .batch
        default: self = .rename
        }
    }

    public var idPrefix: String {
        switch self {
        case .rename: "rn_"
        case .assetUpdate: "au_"
        case .folderRename: "fr_"
        case .batch: "bt_"
        }
    }

    /// The collection the job is read from: `/v1/renames`, `/v1/asset-updates`, …
    public var path: String {
        switch self {
        case .rename: "/v1/renames"
        case .assetUpdate: "/v1/asset-updates"
        case .folderRename: "/v1/folder-renames"
        case .batch: "/v1/batches"
        }
    }

    /// The callback event type's prefix: `rename.completed`, `asset_update.failed`, …
    public var eventPrefix: String { rawValue }

    /// Whether the job's own calls go to the Admin API (rate-limited per account, SPEC §11).
    public var usesAdminAPI: Bool { self == .assetUpdate || self == .folderRename }

    /// Whether the job runs items (child renames) and reports their counts.
    public var hasItems: Bool { self == .folderRename || self == .batch }
}

extension RenameJob {
    /// The names the job holds while it calls Cloudinary, so that jobs sharing one run one at a
    /// time in acceptance order (SPEC §3): its public IDs (one when they are equal). A folder
    /// rename holds its folders, under names no public ID can have (`?` is not allowed in one).
    public var heldNames: (from: String, to: String?) {
        switch kind {
        case .rename, .assetUpdate:
            (fromPublicID, toPublicID == fromPublicID ? nil : toPublicID)
        case .folderRename, .batch:
            ("?folder/" + fromPublicID, "?folder/" + toPublicID)
        }
    }
}

extension JobKind {
    /// How logs and problems name the kind: "rename", "asset update", …
    public var noun: String {
        switch self {
        case .rename: "rename"
        case .assetUpdate: "asset update"
        case .folderRename: "folder rename"
        case .batch: "batch"
        }
    }
}

extension JobKind {
    /// A new job's id: the kind's prefix and 24 hex digits, the creation time in milliseconds
    /// (48 bits) then 48 random bits. Ids made later sort later, so the journal's index of ids grows
    /// at its right edge: with random ids every job of a group commit dirtied its own index page,
    /// and the WAL wrote ~4 KB per accepted job (issue 17).
    public func newID(at now: Date) -> String {
        let milliseconds = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        var bytes = (0..<6).map { UInt8(truncatingIfNeeded: milliseconds >> (8 * (5 - $0))) }
        bytes += SecureRandom.identifierBytes(count: 6)
        return idPrefix + Hex.encode(bytes)
    }
}
