import DequeModule
import Foundation
import Synchronization

/// The (timestamp, signature) pairs of notifications already answered 200, each kept for
/// `notifications.max_age_seconds` (older ones fail the age check anyway), at most `capacity`.
public final class NotificationReplayCache: Sendable {
    struct State {
        var expiries: [String: Date] = [:]
        /// Insertion order, for pruning: (key, expiry).
        var order: Deque<(String, Date)> = []
    }

    private let state = Mutex(State())
    private let retention: Double
    private let capacity: Int
    private let journal: any JobJournal

    public init(retentionSeconds: Double, capacity: Int = 1_000_000, journal: any JobJournal = NoJournal()) {
        retention = retentionSeconds
        self.capacity = capacity
        self.journal = journal
    }

    /// Loads the entries a journal kept.
    public func restore(_ entries: [(key: String, expiresAt: Date)]) {
        state.withLock { state in
            for (key, expiry) in entries.sorted(by: { $0.expiresAt < $1.expiresAt }) {
                state.expiries[key] = expiry
                state.order.append((key, expiry))
            }
        }
    }

    static func key(timestamp: String, signature: String) -> String { timestamp + ":" + signature }

    public func contains(timestamp: String, signature: String, now: Date) -> Bool {
        state.withLock { state in
            guard let expiry = state.expiries[Self.key(timestamp: timestamp, signature: signature)] else { return false }
            return expiry > now
        }
    }

    public func remember(timestamp: String, signature: String, now: Date) {
        let key = Self.key(timestamp: timestamp, signature: signature)
        let expiry = now.addingTimeInterval(retention)
        state.withLock { state in
            while let (oldest, oldestExpiry) = state.order.first, oldestExpiry <= now || state.order.count >= capacity {
                state.order.removeFirst()
                if state.expiries[oldest] == oldestExpiry { state.expiries[oldest] = nil }
            }
            state.expiries[key] = expiry
            state.order.append((key, expiry))
        }
        journal.recordNotification(key: key, expiresAt: expiry)
    }

    public var count: Int { state.withLock { $0.expiries.count } }
}
