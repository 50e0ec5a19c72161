/// Writes waiting for the next group commit (a storage's own kinds of write).
public protocol PendingWrites {
    init()
    /// An empty batch with room for as much as `batch` held (the next batch is usually as big;
    /// growing a dictionary from nothing every commit rehashed its keys several times).
    init(sizedLike batch: Self)
    var isEmpty: Bool { get }
    /// Puts back a batch that failed to commit, under anything recorded since.
    mutating func restore(_ failed: Self)
}

extension PendingWrites {
    public init(sizedLike batch: Self) { self.init() }
}

/// The bookkeeping of a group commit, shared by the SQLite journal and PostgreSQL: writes are
/// recorded under the storage's lock and numbered (generations); one flush at a time takes all
/// that is pending and writes it in one transaction; ``JobStorage/sync()`` waiters are resumed once
/// their generation is committed, or with the flush's error. Kept under the storage's lock.
public struct GroupCommit<Pending: PendingWrites> {
    /// Called once its writes are committed, or with the flush's error.
    public typealias Waiter = @Sendable (Result<Void, any Error>) -> Void

    /// What the next flush writes; a write changes it, then calls ``countWrite()``.
    public var pending = Pending()
    /// Increases with every recorded write.
    public private(set) var recorded = 0
    /// Every write up to this number is durable.
    public private(set) var committed = 0
    private var flushing = false
    private var waiters: [(target: Int, waiter: Waiter)] = []

    public init() {}

    /// Counts a write just made to ``pending``; returns its generation, and whether the caller
    /// must start a flush.
    public mutating func countWrite() -> (generation: Int, startFlush: Bool) {
        recorded += 1
        guard !flushing else { return (recorded, false) }
        flushing = true
        return (recorded, true)
    }

    /// Calls `waiter` once everything recorded so far is committed; false when that is committed
    /// already (the caller calls it now).
    public mutating func wait(_ waiter: @escaping Waiter) -> Bool {
        guard committed < recorded else { return false }
        waiters.append((recorded, waiter))
        return true
    }

    /// The batch for a flush, and the generation it reaches once committed.
    public mutating func takeBatch() -> (batch: Pending, generation: Int) {
        defer { pending = Pending(sizedLike: pending) }
        return (pending, recorded)
    }

    /// After a flush: commits its generation, or puts its batch back on failure. Returns the
    /// waiters to resume (with the failure, if any) and whether to flush again (never when
    /// `mayContinue` is false).
    public mutating func finish(
        _ batch: Pending,
        generation: Int,
        failed: Bool,
        mayContinue: Bool = true
    ) -> (resume: [Waiter], again: Bool) {
        if failed {
            pending.restore(batch)
        } else {
            committed = max(committed, generation)
        }
        var resume: [Waiter] = []
        waiters.removeAll { waiting in
            guard failed || waiting.target <= committed else { return false }
            resume.append(waiting.waiter)
            return true
        }
        let again = mayContinue && (!pending.isEmpty || !waiters.isEmpty)
        flushing = again
        return (resume, again)
    }
}
