/// A dictionary kept in 64 parts, chosen by the top bits of the key's hash.
///
/// A Swift dictionary grows by rehashing every entry at once. With a few hundred thousand queued
/// jobs that took tens of milliseconds inside the store's lock, and every request waited: the accept
/// benchmark's p99 of 64–70 ms (issue 17). Here each part grows on its own, 1/64 of the work at a
/// time. The dictionaries pick buckets with the low bits of their own (per-instance seeded) hash,
/// so the shard's top bits do not crowd them.
struct ShardedDictionary<Key: Hashable, Value> {
    private static var shardBits: Int { 6 }
    private var shards = [[Key: Value]](repeating: [:], count: 1 << Self.shardBits)

    init() {}

    private func shard(_ key: Key) -> Int {
        Int(truncatingIfNeeded: UInt(bitPattern: key.hashValue) >> (UInt.bitWidth - Self.shardBits))
    }

    subscript(key: Key) -> Value? {
        get { shards[shard(key)][key] }
        _modify {
            let index = shard(key)
            yield &shards[index][key]
        }
    }

    @discardableResult
    mutating func removeValue(forKey key: Key) -> Value? {
        shards[shard(key)].removeValue(forKey: key)
    }

    var count: Int { shards.reduce(0) { $0 + $1.count } }
    var isEmpty: Bool { shards.allSatisfy(\.isEmpty) }
    /// Every value, in no order (for the rare whole-store reads: recovery, purge, lists).
    var values: [Value] { shards.flatMap(\.values) }

    /// Runs `body` on the part that holds `key`.
    mutating func withShard<Result>(of key: Key, _ body: (inout [Key: Value]) -> Result) -> Result {
        body(&shards[shard(key)])
    }
}

extension ShardedDictionary {
    /// Appends to the list under `key`, creating it.
    mutating func append<Element>(_ element: Element, at key: Key) where Value == CompactList<Element> {
        withShard(of: key) { $0.append(element, at: key) }
    }

    /// Removes from the list under `key`, dropping the key once the list is empty.
    mutating func remove<Element>(_ element: Element, at key: Key) where Value == CompactList<Element> {
        withShard(of: key) { $0.remove(element, at: key) }
    }
}
