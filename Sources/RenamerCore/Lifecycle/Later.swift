/// A value set once after creation, for components that refer to each other (the queue's hooks
/// and the group runner that needs the queue).
final class Later<Value: AnyObject & Sendable>: Sendable {
    private let storage = Locked<Value?>(nil)

    var value: Value? {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
}
