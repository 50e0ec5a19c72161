/// The public IDs of one resource type and delivery type in UTF-8 byte order, for listing by prefix.
///
/// Seeding and renaming only note additions and removals; the next listing folds them in (one sort of
/// the additions, one merge), so bulk seeding stays linear and a listing with nothing changed since
/// the last one costs a binary search plus its page. Byte order keeps every ID that starts with a
/// prefix in one run that begins at the prefix itself.
struct AssetIndex {
    private var sorted: [String] = []
    /// Present, but not yet in `sorted`.
    private var added: Set<String> = []
    /// In `sorted`, but no longer present.
    private var removed: Set<String> = []

    /// Notes an ID that was absent and is now present.
    mutating func insert(_ publicID: String) {
        if removed.remove(publicID) == nil { added.insert(publicID) }
    }

    /// Notes an ID that was present and is now absent.
    mutating func remove(_ publicID: String) {
        if added.remove(publicID) == nil { removed.insert(publicID) }
    }

    /// Up to `limit` IDs that start with `prefix` and sort after `after`, in order, and whether more follow.
    mutating func page(prefix: String, after: String?, limit: Int) -> (publicIDs: [String], more: Bool) {
        compact()
        var index = Self.firstIndex(in: sorted) { !Self.precedes($0, prefix) }
        if let after { index = max(index, Self.firstIndex(in: sorted) { Self.precedes(after, $0) }) }
        var page: [String] = []
        while index < sorted.count, sorted[index].utf8.starts(with: prefix.utf8) {
            guard page.count < limit else { return (page, true) }
            page.append(sorted[index])
            index += 1
        }
        return (page, false)
    }

    static func precedes(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }

    private mutating func compact() {
        guard !added.isEmpty || !removed.isEmpty else { return }
        let kept = removed.isEmpty ? sorted : sorted.filter { !removed.contains($0) }
        let fresh = added.sorted(by: Self.precedes)
        var merged: [String] = []
        merged.reserveCapacity(kept.count + fresh.count)
        var left = 0
        var right = 0
        while left < kept.count && right < fresh.count {
            if Self.precedes(fresh[right], kept[left]) {
                merged.append(fresh[right])
                right += 1
            } else {
                merged.append(kept[left])
                left += 1
            }
        }
        merged += kept[left...]
        merged += fresh[right...]
        sorted = merged
        added.removeAll()
        removed.removeAll()
    }

    /// The first index whose element satisfies `isAtOrPast`, which is false then true along `elements`.
    private static func firstIndex(in elements: [String], where isAtOrPast: (String) -> Bool) -> Int {
        var low = 0
        var high = elements.count
        while low < high {
            let middle = (low + high) / 2
            if isAtOrPast(elements[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
