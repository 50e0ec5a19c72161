import DequeModule
import Foundation
import RenamerCrypto

/// The (timestamp, signature) pairs of notifications already answered 200, each kept for
/// `notifications.max_age_seconds` (older ones fail the age check anyway), at most `capacity`.
///
/// An entry is the timestamp and the first 128 bits of the signature plus its expiry, no string:
/// with the default two-hour window a busy daemon holds hundreds of thousands of them (about 60–80
/// bytes each with the index and the pruning order, against ~200 for the text).
public final class NotificationReplayCache: Sendable {
    /// A remembered pair. Only verified pairs are remembered, and a signature is a digest under the
    /// cloud's secret, so 128 bits of it tell signatures apart (collisions ~2⁻¹²⁸).
    struct Key: Hashable {
        var timestamp: Int64
        var high: UInt64
        var low: UInt64

        init(timestamp: some StringProtocol, signature: some StringProtocol) {
            if let seconds = Int64(timestamp), let prefix = Self.hexPrefix(signature) {
                (self.timestamp, high, low) = (seconds, prefix.high, prefix.low)
                return
            }
            // Not the shape of a verified pair (tests, a hand-edited journal): hash the text instead.
            let digest = Digest.hash(.sha256, Array("\(timestamp):\(signature)".utf8))
            self.timestamp = -1
            high = digest[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
            low = digest[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
        }

        /// The journal's text form, `timestamp:signature`.
        init(_ text: String) {
            let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            self.init(timestamp: parts[0], signature: parts.count > 1 ? parts[1] : "")
        }

        /// The first 32 hex digits of `text` (either case) as two words; nil if there are fewer.
        static func hexPrefix(_ text: some StringProtocol) -> (high: UInt64, low: UInt64)? {
            var words: (UInt64, UInt64) = (0, 0)
            var count = 0
            for byte in text.utf8 {
                guard count < 32 else { break }
                let nibble: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                if count < 16 { words.0 = words.0 << 4 | UInt64(nibble) } else { words.1 = words.1 << 4 | UInt64(nibble) }
                count += 1
            }
            return count == 32 ? words : nil
        }
    }

    struct State {
        var expiries: [Key: Date] = [:]
        /// Insertion order, for pruning: (key, expiry).
        var order: Deque<(Key, Date)> = []
    }

    private let state = Locked(State())
    private let retention: Double
    private let capacity: Int
    private let storage: (any JobStorage)?

    public init(retentionSeconds: Double, capacity: Int = 1_000_000, storage: (any JobStorage)? = nil) {
        retention = retentionSeconds
        self.capacity = capacity
        self.storage = storage
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
        let key = Key(timestamp: timestamp, signature: signature)
        return state.withLock { state in
            guard let expiry = state.expiries[key] else { return false }
            return expiry > now
        }
    }

    public func remember(timestamp: String, signature: String, now: Date) {
        let key = Key(timestamp: timestamp, signature: signature)
        let expiry = now.addingTimeInterval(retention)
        state.withLock { state in
            while let (oldest, oldestExpiry) = state.order.first, oldestExpiry <= now || state.order.count >= capacity {
                state.order.removeFirst()
                if state.expiries[oldest] == oldestExpiry { state.expiries[oldest] = nil }
            }
            state.expiries[key] = expiry
            state.order.append((key, expiry))
        }
        storage?.recordNotification(key: Self.text(timestamp: timestamp, signature: signature), expiresAt: expiry)
    }

    public var count: Int { state.withLock { $0.expiries.count } }
}
