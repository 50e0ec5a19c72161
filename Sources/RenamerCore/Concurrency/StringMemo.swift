/// A pure function's results by input text, remembered for up to `capacity` distinct inputs and
/// forgotten all at once when full: for checks that parse a URL (`URLComponents`, ~10,000
/// instructions) on every request and job, where callers use a handful of URLs.
public final class StringMemo<Value: Sendable>: Sendable {
    private let values = Locked<[String: Value]>([:])
    private let capacity: Int

    public init(capacity: Int) {
        self.capacity = capacity
    }

    /// `compute(key)`, from memory when `key` was seen lately.
    public func value(_ key: String, _ compute: (String) -> Value) -> Value {
        if let known = values.withLock({ $0[key] }) { return known }
        let value = compute(key)
        values.withLock { values in
            if values.count >= capacity { values.removeAll(keepingCapacity: true) }
            values[key] = value
        }
        return value
    }
}
