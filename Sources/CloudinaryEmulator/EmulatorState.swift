import Foundation
import Synchronization

/// An asset stored in the emulator.
public struct EmulatedAsset: Sendable, Equatable, Codable {
    public var publicID: String
    public var resourceType: String
    public var type: String
    public var format: String
    public var version: Int
    /// Where the Media Library shows the asset (`""`: the root). In fixed folder mode, the public ID's folder.
    public var assetFolder: String
    public var displayName: String

    enum CodingKeys: String, CodingKey {
        case publicID = "public_id"
        case resourceType = "resource_type"
        case type, format, version
        case assetFolder = "asset_folder"
        case displayName = "display_name"
    }
}

/// What to seed: an asset's identity and, optionally, its folder and display name.
public struct EmulatorAssetSeed: Sendable, Equatable {
    public var publicID: String
    public var resourceType: String
    public var type: String
    public var format: String
    /// Default: the public ID's folder in fixed folder mode, the root in dynamic mode.
    public var assetFolder: String?
    /// Default: the public ID's last segment.
    public var displayName: String?

    public init(
        publicID: String,
        resourceType: String = "image",
        type: String = "upload",
        format: String = "jpg",
        assetFolder: String? = nil,
        displayName: String? = nil
    ) {
        self.publicID = publicID
        self.resourceType = resourceType
        self.type = type
        self.format = format
        self.assetFolder = assetFolder
        self.displayName = displayName
    }
}

/// An Admin API update the emulator applied (`GET /_emulator/updates`).
public struct EmulatorAssetUpdate: Sendable, Equatable, Codable {
    public var publicID: String
    public var resourceType: String
    public var type: String
    /// The new folder, if the update set one.
    public var assetFolder: String?
    /// The new display name, if the update set one.
    public var displayName: String?
    /// Seconds since 1970.
    public var time: Double

    enum CodingKeys: String, CodingKey {
        case publicID = "public_id"
        case resourceType = "resource_type"
        case type, time
        case assetFolder = "asset_folder"
        case displayName = "display_name"
    }
}

/// A folder rename the emulator applied (`GET /_emulator/folder-renames`).
public struct EmulatorFolderRename: Sendable, Equatable, Codable {
    public var fromFolder: String
    public var toFolder: String
    /// Assets whose `asset_folder` changed.
    public var assets: Int
    /// Seconds since 1970.
    public var time: Double

    enum CodingKeys: String, CodingKey {
        case fromFolder = "from_folder"
        case toFolder = "to_folder"
        case assets, time
    }
}

/// A scripted fault: the next `times` requests of `operation` misbehave as described; with a
/// `probability`, each request does so with that chance until the fault was applied `times` times
/// (forever without `times`).
public struct EmulatorFault: Sendable, Equatable, Codable {
    /// `rename` (Upload API), `lookup`, `update`, `list`, `folders` (`GET …/folders/…`), `folder_rename`
    /// (Admin API) or `delivery`.
    public var operation: String
    /// Answer with this status (and a Cloudinary error body) instead of doing the work.
    public var status: Int?
    public var retryAfter: String?
    public var message: String?
    /// Wait this long before handling the request (past the client's timeout to simulate a hang).
    public var hangSeconds: Double?
    /// Do the work, then close the connection without answering.
    public var applyThenDrop: Bool?
    public var times: Int?
    public var probability: Double?

    public init(
        operation: String,
        status: Int? = nil,
        retryAfter: String? = nil,
        message: String? = nil,
        hangSeconds: Double? = nil,
        applyThenDrop: Bool? = nil,
        times: Int? = nil,
        probability: Double? = nil
    ) {
        self.operation = operation
        self.status = status
        self.retryAfter = retryAfter
        self.message = message
        self.hangSeconds = hangSeconds
        self.applyThenDrop = applyThenDrop
        self.times = times
        self.probability = probability
    }

    enum CodingKeys: String, CodingKey {
        case operation, status, message, times, probability
        case retryAfter = "retry_after"
        case hangSeconds = "hang_seconds"
        case applyThenDrop = "apply_then_drop"
    }
}

/// One request the emulator answered (or dropped).
public struct EmulatorRequestRecord: Sendable, Equatable, Codable {
    public var operation: String
    public var method: String
    public var path: String
    public var status: Int
    /// Form fields of Upload API calls (the signature included; the emulator's own secret is never logged).
    public var fields: [String: String]?
    public var applied: Bool
    /// When the request arrived, seconds since 1970.
    public var time: Double
}

/// A notification the emulator sent, with every delivery attempt's status (0: no answer).
public struct EmulatorNotificationRecord: Sendable, Equatable, Codable {
    public var url: String
    public var body: String
    public var attempts: [Int]
}

/// Everything the emulator remembers, behind one lock.
public final class EmulatorState: Sendable {
    struct AssetKey: Hashable {
        var resourceType: String
        var type: String
        var publicID: String

        var bucket: BucketKey { BucketKey(resourceType: resourceType, type: type) }
    }

    /// The assets one Admin API listing covers.
    struct BucketKey: Hashable {
        var resourceType: String
        var type: String
    }

    struct State {
        var settings: EmulatorSettings
        var assets: [AssetKey: EmulatedAsset] = [:]
        /// The public IDs in `assets`, per resource type and delivery type, for listings.
        var indexes: [BucketKey: AssetIndex] = [:]
        var adminRateLimit = AdminAPIRateLimit()
        var appliedUpdates: [EmulatorAssetUpdate] = []
        var appliedFolderRenames: [EmulatorFolderRename] = []
        /// Delivery paths the CDN still serves after their asset moved, until the given time.
        var cached: [AssetKey: Date] = [:]
        var faults: [EmulatorFault] = []
        var paused = false
        var requests: [EmulatorRequestRecord] = []
        var callbacksReceived = 0
        /// Applied renames per source public ID, kept apart from the capped request log.
        var appliedRenames: [String: Int] = [:]
        var notifications: [EmulatorNotificationRecord] = []
        /// Notification records trimmed from the front of `notifications` (indices stay stable).
        var notificationsTrimmed = 0
        var nextVersion = 1_700_000_000
        /// Draws for `probability` faults: from a seed when a test set one, so that a run repeats.
        var faultDraws: FaultDraws?
        var callsInFlight = 0
    }

    private let state: Mutex<State>

    public init(settings: EmulatorSettings = EmulatorSettings()) {
        state = Mutex(State(settings: settings))
    }

    public var settings: EmulatorSettings { state.withLock { $0.settings } }

    public func updateSettings(_ change: (inout EmulatorSettings) -> Void) {
        state.withLock { change(&$0.settings) }
    }

    // MARK: Assets

    /// Stores an asset (replacing one with the same identity), as an upload would.
    @discardableResult
    public func seed(
        publicID: String,
        resourceType: String = "image",
        type: String = "upload",
        format: String = "jpg",
        assetFolder: String? = nil,
        displayName: String? = nil
    ) -> EmulatedAsset {
        let seed = EmulatorAssetSeed(
            publicID: publicID,
            resourceType: resourceType,
            type: type,
            format: format,
            assetFolder: assetFolder,
            displayName: displayName
        )
        return state.withLock { Self.store(seed, in: &$0) }
    }

    /// Stores many assets under one lock (benchmarks seed tens of thousands).
    public func seed(_ seeds: [EmulatorAssetSeed]) {
        state.withLock { state in
            for seed in seeds { Self.store(seed, in: &state) }
        }
    }

    @discardableResult
    private static func store(_ seed: EmulatorAssetSeed, in state: inout State) -> EmulatedAsset {
        state.nextVersion += 1
        let asset = EmulatedAsset(
            publicID: seed.publicID,
            resourceType: seed.resourceType,
            type: seed.type,
            format: seed.format,
            version: state.nextVersion,
            assetFolder: seed.assetFolder ?? (state.settings.folderMode == .fixed ? FolderPath.parent(of: seed.publicID) : ""),
            displayName: seed.displayName ?? FolderPath.lastSegment(of: seed.publicID)
        )
        let key = AssetKey(resourceType: seed.resourceType, type: seed.type, publicID: seed.publicID)
        if state.assets.updateValue(asset, forKey: key) == nil { state.indexes[key.bucket, default: AssetIndex()].insert(seed.publicID) }
        state.cached[key] = nil
        return asset
    }

    public func asset(publicID: String, resourceType: String, type: String) -> EmulatedAsset? {
        state.withLock { $0.assets[AssetKey(resourceType: resourceType, type: type, publicID: publicID)] }
    }

    public var assets: [EmulatedAsset] {
        state.withLock { Array($0.assets.values).sorted { ($0.publicID, $0.type) < ($1.publicID, $1.type) } }
    }

    enum RenameResult {
        case renamed(EmulatedAsset)
        case notFound
        case targetExists
    }

    /// Moves an asset, as Cloudinary's rename does, and leaves the old delivery URL cached.
    func rename(
        from: String,
        to: String,
        resourceType: String,
        type: String,
        toType: String,
        overwrite: Bool,
        invalidate: Bool,
        now: Date
    ) -> RenameResult {
        state.withLock { state in
            let source = AssetKey(resourceType: resourceType, type: type, publicID: from)
            let target = AssetKey(resourceType: resourceType, type: toType, publicID: to)
            guard var asset = state.assets[source] else { return .notFound }
            if state.assets[target] != nil && !overwrite && source != target { return .targetExists }
            state.assets[source] = nil
            state.indexes[source.bucket]?.remove(from)
            state.nextVersion += 1
            asset.publicID = to
            asset.type = toType
            asset.version = state.nextVersion
            if state.settings.folderMode == .fixed {
                // The folder is the public ID's prefix; a display name that was the default follows too.
                asset.assetFolder = FolderPath.parent(of: to)
                if asset.displayName == FolderPath.lastSegment(of: from) { asset.displayName = FolderPath.lastSegment(of: to) }
            }
            if state.assets.updateValue(asset, forKey: target) == nil { state.indexes[target.bucket, default: AssetIndex()].insert(to) }
            state.cached[target] = nil
            let ttl = invalidate ? state.settings.invalidationDelaySeconds : state.settings.cacheTTLSeconds
            state.cached[source] = now.addingTimeInterval(ttl)
            return .renamed(asset)
        }
    }

    // MARK: Admin API: update, listing, folders

    enum UpdateResult {
        case updated(EmulatedAsset)
        case notFound
        /// `asset_folder` on a fixed-folder cloud.
        case fixedFolderMode
    }

    /// Sets an asset's folder and/or display name (nil: unchanged); records the update if it set either.
    func update(publicID: String, resourceType: String, type: String, assetFolder: String?, displayName: String?, now: Date) -> UpdateResult {
        state.withLock { state in
            if assetFolder != nil && state.settings.folderMode == .fixed { return .fixedFolderMode }
            let key = AssetKey(resourceType: resourceType, type: type, publicID: publicID)
            guard var asset = state.assets[key] else { return .notFound }
            guard assetFolder != nil || displayName != nil else { return .updated(asset) }
            if let assetFolder { asset.assetFolder = assetFolder }
            if let displayName { asset.displayName = displayName }
            state.assets[key] = asset
            state.appliedUpdates.append(
                EmulatorAssetUpdate(
                    publicID: publicID,
                    resourceType: resourceType,
                    type: type,
                    assetFolder: assetFolder,
                    displayName: displayName,
                    time: now.timeIntervalSince1970
                )
            )
            Self.trim(&state.appliedUpdates)
            return .updated(asset)
        }
    }

    /// A page of assets whose public ID starts with `prefix` and sorts (by UTF-8 bytes) after `after`.
    func list(resourceType: String, type: String, prefix: String, after: String?, limit: Int) -> (assets: [EmulatedAsset], more: Bool) {
        state.withLock { state in
            let bucket = BucketKey(resourceType: resourceType, type: type)
            guard let page = state.indexes[bucket]?.page(prefix: prefix, after: after, limit: limit) else { return ([], false) }
            let assets = page.publicIDs.compactMap { state.assets[AssetKey(resourceType: resourceType, type: type, publicID: $0)] }
            return (assets, page.more)
        }
    }

    enum FolderRenameResult {
        case renamed(assets: Int)
        /// No asset is in the folder or below it.
        case notFound
        case fixedFolderMode
    }

    /// Moves every asset in `from` or below it to the same place under `to` (dynamic folders).
    func renameFolder(from: String, to: String, now: Date) -> FolderRenameResult {
        state.withLock { state in
            guard state.settings.folderMode == .dynamic else { return .fixedFolderMode }
            let keys = state.assets.compactMap { FolderPath.isInside($0.value.assetFolder, folder: from) ? $0.key : nil }
            guard !keys.isEmpty else { return .notFound }
            for key in keys {
                guard let folder = state.assets[key]?.assetFolder else { continue }
                state.assets[key]?.assetFolder = FolderPath.moved(folder, from: from, to: to)
            }
            let moved = keys.count
            state.appliedFolderRenames.append(EmulatorFolderRename(fromFolder: from, toFolder: to, assets: moved, time: now.timeIntervalSince1970))
            Self.trim(&state.appliedFolderRenames)
            return .renamed(assets: moved)
        }
    }

    /// The immediate subfolders of `folder` in byte order, or nil if no asset is in it or below it
    /// (the root always exists). Folders exist while an asset is in them, as the emulator keeps no others.
    func subfolders(of folder: String) -> [String]? {
        state.withLock { state in
            var exists = folder.isEmpty
            var children: Set<String> = []
            for asset in state.assets.values where FolderPath.isInside(asset.assetFolder, folder: folder) {
                exists = true
                if let child = FolderPath.child(of: folder, toward: asset.assetFolder) { children.insert(child) }
            }
            return exists ? children.sorted(by: AssetIndex.precedes) : nil
        }
    }

    public var appliedUpdates: [EmulatorAssetUpdate] { state.withLock { $0.appliedUpdates } }

    public var appliedFolderRenames: [EmulatorFolderRename] { state.withLock { $0.appliedFolderRenames } }

    /// Keeps the newest 100,000 records, trimmed in steps like the request log.
    private static func trim<Element>(_ records: inout [Element]) {
        if records.count > 110_000 { records.removeFirst(records.count - 100_000) }
    }

    // MARK: Admin API rate limit

    /// Counts an Admin API call against the budget of the current window.
    func admitAdminCall(now: Date) -> AdminAPIRateLimit.Admission {
        state.withLock { state in
            state.adminRateLimit.admit(now: now, budget: state.settings.adminAPIBudget, windowSeconds: state.settings.adminAPIWindowSeconds)
        }
    }

    public var adminUsage: EmulatorAdminUsage {
        state.withLock { state in
            EmulatorAdminUsage(
                calls: state.adminRateLimit.calls,
                rejected: state.adminRateLimit.rejected,
                limit: state.settings.adminAPIBudget,
                maxInWindow: state.adminRateLimit.maxInWindow,
                inWindow: state.adminRateLimit.inWindow,
                windowSeconds: state.settings.adminAPIWindowSeconds
            )
        }
    }

    /// Starts a fresh window with the next Admin API call; with `counters`, zeroes the usage too.
    public func restartAdminWindow(resettingCounters counters: Bool = false) {
        state.withLock { state in
            if counters { state.adminRateLimit = AdminAPIRateLimit() } else { state.adminRateLimit.restartWindow() }
        }
    }

    /// Whether the CDN answers 200 for the asset's delivery URL at `now`.
    func isDelivered(publicID: String, resourceType: String, type: String, now: Date) -> Bool {
        state.withLock { state in
            let key = AssetKey(resourceType: resourceType, type: type, publicID: publicID)
            if state.assets[key] != nil { return true }
            if let until = state.cached[key] {
                if until > now { return true }
                state.cached[key] = nil
            }
            return false
        }
    }

    /// The CDN drops every stale URL now, whatever its invalidation delay or cache lifetime (tests
    /// that must see an old URL served first, then gone, without racing a clock).
    public func dropCachedURLs() {
        state.withLock { $0.cached.removeAll() }
    }

    // MARK: Faults, pause, logs

    public func addFault(_ fault: EmulatorFault) {
        state.withLock { $0.faults.append(fault) }
    }

    /// Upload and Admin API calls being handled now (hung ones included).
    public var callsInFlight: Int { state.withLock { $0.callsInFlight } }

    func callStarted() { state.withLock { $0.callsInFlight += 1 } }

    func callEnded() { state.withLock { $0.callsInFlight -= 1 } }

    /// Makes `probability` faults draw from `seed` from now on.
    public func seedFaults(_ seed: UInt64) {
        state.withLock { $0.faultDraws = FaultDraws(state: seed) }
    }

    public func clearFaults() {
        state.withLock { $0.faults.removeAll() }
    }

    /// Takes the first fault scripted for `operation`, if any.
    func takeFault(for operation: String) -> EmulatorFault? {
        state.withLock { state in
            for index in state.faults.indices where state.faults[index].operation == operation {
                var fault = state.faults[index]
                if let probability = fault.probability {
                    guard (state.faultDraws?.next() ?? Double.random(in: 0..<1)) < probability else { continue }
                    guard fault.times != nil else { return fault }
                }
                let remaining = (fault.times ?? 1) - 1
                if remaining > 0 {
                    fault.times = remaining
                    state.faults[index] = fault
                } else {
                    state.faults.remove(at: index)
                }
                return fault
            }
            return nil
        }
    }

    public var isPaused: Bool { state.withLock { $0.paused } }

    public func setPaused(_ paused: Bool) {
        state.withLock { $0.paused = paused }
    }

    func record(_ record: EmulatorRequestRecord) {
        state.withLock { state in
            if record.operation == "rename", record.applied, let from = record.fields?["from_public_id"] {
                state.appliedRenames[from, default: 0] += 1
            }
            state.requests.append(record)
            // Trimmed in steps, so a busy emulator does not shift the whole log on every request.
            if state.requests.count > 110_000 { state.requests.removeFirst(state.requests.count - 100_000) }
        }
    }

    public var requests: [EmulatorRequestRecord] { state.withLock { $0.requests } }

    /// How many times each public ID was renamed away (all of the emulator's life).
    public var appliedRenames: [String: Int] { state.withLock { $0.appliedRenames } }

    /// Callbacks posted to `/_emulator/callbacks/…` (a sink for benchmarks and demos).
    public var callbacksReceived: Int { state.withLock { $0.callbacksReceived } }

    func recordCallback() {
        state.withLock { $0.callbacksReceived += 1 }
    }

    public func clearRequests() {
        state.withLock { $0.requests.removeAll() }
    }

    /// Keeps the newest 100,000 records, like the request log, so a long benchmark cannot grow it
    /// without bound. Returns a stable index for ``recordNotificationAttempt(_:status:)``.
    func recordNotification(_ record: EmulatorNotificationRecord) -> Int {
        state.withLock { state in
            state.notifications.append(record)
            let index = state.notificationsTrimmed + state.notifications.count - 1
            if state.notifications.count > 110_000 {
                let excess = state.notifications.count - 100_000
                state.notifications.removeFirst(excess)
                state.notificationsTrimmed += excess
            }
            return index
        }
    }

    func recordNotificationAttempt(_ index: Int, status: Int) {
        state.withLock { state in
            let position = index - state.notificationsTrimmed
            guard state.notifications.indices.contains(position) else { return }
            state.notifications[position].attempts.append(status)
        }
    }

    public var notifications: [EmulatorNotificationRecord] { state.withLock { $0.notifications } }
}

/// Numbers in 0..<1 from a seed (SplitMix64), for repeatable `probability` faults.
struct FaultDraws {
    var state: UInt64

    mutating func next() -> Double {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
    }
}
