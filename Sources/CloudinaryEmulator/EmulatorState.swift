import Foundation
import Synchronization

/// An asset stored in the emulator.
public struct EmulatedAsset: Sendable, Equatable, Codable {
    public var publicID: String
    public var resourceType: String
    public var type: String
    public var format: String
    public var version: Int

    enum CodingKeys: String, CodingKey {
        case publicID = "public_id"
        case resourceType = "resource_type"
        case type, format, version
    }
}

/// A scripted fault: the next `times` requests of `operation` misbehave as described; with a
/// `probability`, each request does so with that chance until the fault was applied `times` times
/// (forever without `times`).
public struct EmulatorFault: Sendable, Equatable, Codable {
    /// `rename`, `lookup` or `delivery`.
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
    }

    struct State {
        var settings: EmulatorSettings
        var assets: [AssetKey: EmulatedAsset] = [:]
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

    @discardableResult
    public func seed(publicID: String, resourceType: String = "image", type: String = "upload", format: String = "jpg") -> EmulatedAsset {
        state.withLock { state in
            state.nextVersion += 1
            let asset = EmulatedAsset(publicID: publicID, resourceType: resourceType, type: type, format: format, version: state.nextVersion)
            let key = AssetKey(resourceType: resourceType, type: type, publicID: publicID)
            state.assets[key] = asset
            state.cached[key] = nil
            return asset
        }
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
            state.nextVersion += 1
            asset.publicID = to
            asset.type = toType
            asset.version = state.nextVersion
            state.assets[target] = asset
            state.cached[target] = nil
            let ttl = invalidate ? state.settings.invalidationDelaySeconds : state.settings.cacheTTLSeconds
            state.cached[source] = now.addingTimeInterval(ttl)
            return .renamed(asset)
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
