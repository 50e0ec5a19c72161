import PropertyBased
import Testing

@testable import RenamerCore

@Suite struct CompactListTests {
    /// Random appends, ordered inserts and removals of a few values: the dictionaries of lists (plain
    /// and sharded) always equal a model of plain arrays, and empty lists disappear.
    @Test func behavesLikeAnArrayPerKey() async {
        let operation = Gen<Int>.value(in: 0...89).array(of: 0...200)
        await propertyCheck(count: 500, input: operation) { operations in
            var lists: [Int: CompactList<Int>] = [:]
            var sharded = ShardedDictionary<Int, CompactList<Int>>()
            var model: [Int: [Int]] = [:]
            for code in operations {
                let (key, value) = (code % 3, (code / 3) % 10)
                switch code {
                case ..<30:
                    lists[key].append(value)
                    sharded.append(value, at: key)
                    model[key, default: []].append(value)
                case ..<60:
                    let first = lists[key].insert(value) { $0 > value }
                    let shardedFirst = sharded.insert(value, at: key) { $0 > value }
                    let index = model[key]?.firstIndex { $0 > value } ?? model[key]?.endIndex ?? 0
                    model[key, default: []].insert(value, at: index)
                    #expect(first == (index == 0))
                    #expect(shardedFirst == first)
                default:
                    lists[key].remove(value)
                    sharded.remove(value, at: key)
                    model[key]?.removeAll { $0 == value }
                    if model[key]?.isEmpty == true { model[key] = nil }
                }
                #expect(lists.mapValues(\.elements) == model)
                #expect(lists.mapValues(\.first) == model.mapValues(\.first))
                let shardedLists = Dictionary(uniqueKeysWithValues: sharded.elements.map { ($0.key, $0.value.elements) })
                #expect(shardedLists == model)
            }
        }
    }

    @Test func aShardedSetInsertsOnceAndRemoves() {
        var set = ShardedDictionary<String, Void>()
        let results = [set.insert("a"), set.insert("a"), set.insert("b"), set.remove("a"), set.remove("a")]
        #expect(results == [true, false, true, true, false])
        #expect(set.count == 1)
        #expect(set.elements.map(\.key) == ["b"])
    }

    @Test func aSingleElementNeedsNoBuffer() {
        var list = CompactList.one("a")
        list.append("b")
        let kept = list.remove("a")
        #expect(kept)
        guard case .one("b") = list else {
            Issue.record("expected .one(\"b\"), got \(list)")
            return
        }
        let keptAfterLast = list.remove("b")
        #expect(!keptAfterLast)
    }
}
