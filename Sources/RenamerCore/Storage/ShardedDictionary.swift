/// A dictionary kept in 64 parts, chosen by the top bits of the key's hash.
///
/// A Swift dictionary grows by rehashing every entry at once. With a few hundred thousand queued
/// jobs that took tens of milliseconds inside the store's lock, and every request waited: the accept
/// benchmark's p99 of 64–70 ms (issue 17). Here each part grows on its own, 1/64 of the work at a
/// time. The key's hash is computed once per access and kept beside it (``Hashed``), so choosing the
/// part costs nothing and a growing part rehashes integers, not strings.
struct ShardedDictionary<Key: Hashable, Value> {
    /// A key with its hash: the parts hash the stored integer (and compare keys on a match).
    struct Hashed: Hashable {
        let key: Key
        let hash: Int

        init(_ key: Key) {
            self.key = key
            hash = key.hashValue
        }

        func hash(into hasher: inout Hasher) { hasher.combine(hash) }
        static func == (lhs: Hashed, rhs: Hashed) -> Bool { lhs.hash == rhs.hash && lhs.key == rhs.key }
    }

    private static var shardBits: Int { 6 }
    private var shards = [[Hashed: Value]](repeating: [:], count: 1 << Self.shardBits)

    init() {}

    private static func shard(_ key: Hashed) -> Int {
        Int(truncatingIfNeeded: UInt(bitPattern: key.hash) >> (UInt.bitWidth - shardBits))
    }

    subscript(key: Key) -> Value? {
        get {
            let hashed = Hashed(key)
            return shards[Self.shard(hashed)][hashed]
        }
        _modify {
            let hashed = Hashed(key)
            yield &shards[Self.shard(hashed)][hashed]
        }
    }

    @discardableResult
    mutating func removeValue(forKey key: Key) -> Value? {
        let hashed = Hashed(key)
        return shards[Self.shard(hashed)].removeValue(forKey: hashed)
    }

    var count: Int { shards.reduce(0) { $0 + $1.count } }
    /// Every value, in no order (for the rare whole-store reads: recovery, purge, lists).
    var values: [Value] { shards.flatMap(\.values) }
}

extension ShardedDictionary {
    /// Appends to the list under `key`, creating it.
    mutating func append<Element>(_ element: Element, at key: Key) where Value == CompactList<Element> {
        let hashed = Hashed(key)
        shards[Self.shard(hashed)].append(element, at: hashed)
    }

    /// Removes from the list under `key`, dropping the key once the list is empty.
    mutating func remove<Element>(_ element: Element, at key: Key) where Value == CompactList<Element> {
        let hashed = Hashed(key)
        shards[Self.shard(hashed)].remove(element, at: hashed)
    }
}
