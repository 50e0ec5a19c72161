import DequeModule
import Foundation
import RenamerCrypto
import Synchronization

/// The (timestamp, signature) pairs of notifications already answered 200, each kept for
/// `notifications.max_age_seconds` (older ones fail the age check anyway), at most `capacity`.
///
/// An entry is 16 bytes of SHA-256 over the pair plus its expiry, no string: with the default
/// two-hour window a busy daemon holds hundreds of thousands of them (about 60–80 bytes each with
/// the index and the pruning order, against ~200 for the text).
public final class NotificationReplayCache: Sendable {
    /// The first 128 bits of SHA-256 of `timestamp:signature`: distinct pairs collide with
    /// probability ~2⁻¹²⁸, and only pairs that passed signature verification are remembered.
    struct Key: Hashable {
        var high: UInt64
        var low: UInt64

        init(_ text: String) {
            let digest = Digest.hash(.sha256, Array(text.utf8))
            high = digest[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
            low = digest[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
        }
    }

    struct State {
        var expiries: [Key: Date] = [:]
        /// Insertion order, for pruning: (key, expiry).
        var order: Deque<(Key, Date)> = []
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

    /// Loads the entries a journal kept (their text form, `timestamp:signature`).
    public func restore(_ entries: [(key: String, expiresAt: Date)]) {
        let keyed = entries.sorted { $0.expiresAt < $1.expiresAt }.map { (Key($0.key), $0.expiresAt) }
        state.withLock { state in
            for (key, expiry) in keyed {
                state.expiries[key] = expiry
                state.order.append((key, expiry))
            }
        }
    }

    /// The pair as the journal stores it.
    static func text(timestamp: String, signature: String) -> String { timestamp + ":" + signature }

    public func contains(timestamp: String, signature: String, now: Date) -> Bool {
        let key = Key(Self.text(timestamp: timestamp, signature: signature))
        return state.withLock { state in
            guard let expiry = state.expiries[key] else { return false }
            return expiry > now
        }
    }

    public func remember(timestamp: String, signature: String, now: Date) {
        let text = Self.text(timestamp: timestamp, signature: signature)
        let key = Key(text)
        let expiry = now.addingTimeInterval(retention)
        state.withLock { state in
            while let (oldest, oldestExpiry) = state.order.first, oldestExpiry <= now || state.order.count >= capacity {
                state.order.removeFirst()
                if state.expiries[oldest] == oldestExpiry { state.expiries[oldest] = nil }
            }
            state.expiries[key] = expiry
            state.order.append((key, expiry))
        }
        journal.recordNotification(key: text, expiresAt: expiry)
    }

    public var count: Int { state.withLock { $0.expiries.count } }
}
