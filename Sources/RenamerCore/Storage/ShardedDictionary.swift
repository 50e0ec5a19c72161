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
    /// Every key with its value, in no order (for the rare whole-table walks).
    var elements: some Sequence<(key: Key, value: Value)> {
        shards.lazy.flatMap { shard in shard.lazy.map { (key: $0.key.key, value: $0.value) } }
    }

    /// Appends to the list under `key`, creating it.
    mutating func append<Element>(_ element: Element, at key: Key) where Value == CompactList<Element> {
        self[key].append(element)
    }

    /// Inserts into the list under `key` before the first element `isAfter` picks, creating it;
    /// returns whether the element heads the list now.
    mutating func insert<Element>(_ element: Element, at key: Key, beforeFirst isAfter: (Element) -> Bool) -> Bool
    where Value == CompactList<Element> {
        self[key].insert(element, beforeFirst: isAfter)
    }

    /// Removes from the list under `key`, dropping the key once the list is empty.
    mutating func remove<Element>(_ element: Element, at key: Key) where Value == CompactList<Element> {
        self[key].remove(element)
    }
}

extension ShardedDictionary where Value == Void {
    /// Adds `key` to the set; false when it was there already.
    mutating func insert(_ key: Key) -> Bool {
        let hashed = Hashed(key)
        return shards[Self.shard(hashed)].updateValue((), forKey: hashed) == nil
    }

    /// Removes `key` from the set; false when it was not there.
    @discardableResult
    mutating func remove(_ key: Key) -> Bool { removeValue(forKey: key) != nil }

}
