import PropertyBased
import Testing

@testable import RenamerCore

@Suite struct CompactListTests {
    /// Random appends and removals of a few values: the dictionary of lists always equals a model of
    /// plain arrays, and empty lists disappear.
    @Test func behavesLikeAnArrayPerKey() async {
        let operation = Gen<Int>.value(in: 0...59).array(of: 0...200)
        await propertyCheck(count: 500, input: operation) { operations in
            var lists: [Int: CompactList<Int>] = [:]
            var model: [Int: [Int]] = [:]
            for code in operations {
                let (key, value, append) = (code % 3, (code / 3) % 10, code < 30)
                if append {
                    lists.append(value, at: key)
                    model[key, default: []].append(value)
                } else {
                    lists.remove(value, at: key)
                    model[key]?.removeAll { $0 == value }
                    if model[key]?.isEmpty == true { model[key] = nil }
                }
                #expect(lists.mapValues(\.elements) == model)
                #expect(lists.mapValues(\.first) == model.mapValues(\.first))
            }
        }
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
