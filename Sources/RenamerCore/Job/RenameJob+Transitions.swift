import Foundation
import Logging
import Metrics
import RenamerCrypto

/// A move the job's status does not allow, or a job that is not there: the caller decides whether
/// it lost an expected race (cancel against dispatch) or found a bug (``JobTransitionError/isExpected``).
public enum JobTransitionError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownJob(id: String)
    case illegal(id: String, from: JobStatus, move: String)

    public var description: String {
        switch self {
        case .unknownJob(let id): "job \(id) is not in the working set"
        case .illegal(let id, let from, let move): "job \(id): \(move) is not allowed from \(from.rawValue)"
        }
    }
}

extension JobTransitionError {
    /// The move that was refused (`unknown_job` when the job was not there), for the metric label.
    public var move: String {
        switch self {
        case .unknownJob: "unknown_job"
        case .illegal(_, _, let move): move.replacingOccurrences(of: " ", with: "_")
        }
    }

    /// A refused move nobody expected is a bug: one error line and `renamer_illegal_transitions_total`.
    public func report(logger: Logger, metrics: any MetricsFactory) {
        logger.error("illegal job transition", metadata: ["error": "\(self)"])
        Counter(label: "renamer_illegal_transitions_total", dimensions: [("move", move)], factory: metrics).increment()
    }
}

/// Every change of a job's status, with the fields that go with it. Only these methods change
/// ``RenameJob/status``; ``JobStatus/canMove(to:)`` is the table they check.
extension RenameJob {
    /// `queued → renaming` (`updating` for an asset update): the queue dispatches the job.
    public mutating func startRenaming() throws(JobTransitionError) {
        try move(to: kind == .assetUpdate ? .updating : .renaming, "start")
    }

    /// Whether the job has been dispatched and is making (or retrying) its calls.
    public var isStarted: Bool { status == .renaming || status == .updating || status == .listing }

    /// `queued → cancelled` (`DELETE`): the caller asked, so no callback is made.
    public mutating func cancel(at now: Date) throws(JobTransitionError) {
        guard status == .queued else { throw .illegal(id: id, from: status, move: "cancel") }
        try move(to: .cancelled, "cancel")
        finalize(at: now)
    }

    // MARK: Folder renames and batches (SPEC §11)

    /// `queued → listing`: a fixed-mode folder rename holds its prefixes and lists them (a dry run
    /// of a batch looks its targets up).
    public mutating func startListing() throws(JobTransitionError) {
        try move(to: .listing, "start listing")
    }

    /// `listing | queued → renaming`: every item is known and queued.
    public mutating func startItems() throws(JobTransitionError) {
        try move(to: .renaming, "start items")
    }

    /// An item ended: the counts of `result`.
    public mutating func count(item: RenameJob) {
        switch item.status {
        case .completed: group?.counts.renamed += 1
        case .failed: group?.counts.failed += 1
        case .cancelled: group?.counts.skipped += 1
        default: break
        }
    }

    /// Every item is final: `completed` (even if some failed: see the counts), `failed` when the
    /// listing failed, `cancelled` when the caller cancelled it (no callback then).
    public mutating func finishItems(failure: JobError?, cancelled: Bool, at now: Date) throws(JobTransitionError) {
        guard kind.hasItems, status == .renaming || status == .listing else { throw .illegal(id: id, from: status, move: "finish items") }
        status = cancelled ? .cancelled : failure == nil ? .completed : .failed
        error = cancelled ? nil : failure
        finalize(at: now)
    }

    /// A dry run ends with its plan: nothing was changed.
    public mutating func completeDryRun(_ plan: Group.Plan, at now: Date) throws(JobTransitionError) {
        // From `queued` too: a dry run in dynamic mode has nothing to list.
        guard kind.hasItems, group?.dryRun == true, status == .queued || status == .listing else {
            throw .illegal(id: id, from: status, move: "complete dry run")
        }
        status = .completed
        group?.plan = plan
        group?.counts.items = plan.items
        finalize(at: now)
    }

    /// Counts an Upload API call about to be made (`renaming` only).
    public mutating func countAttempt() throws(JobTransitionError) {
        guard isStarted else { throw .illegal(id: id, from: status, move: "count attempt") }
        attempts += 1
    }

    /// Takes back an attempt that was never sent (the journal could not record it).
    public mutating func withdrawAttempt() {
        attempts = max(0, attempts - 1)
    }

    /// `renaming → confirming_invalidation`, or `→ completed` when no invalidation was asked for
    /// (or the job changes no URL: asset updates, folder renames in dynamic mode).
    public mutating func renamed(_ renamed: RenameResult, at now: Date) throws(JobTransitionError) {
        let confirms = invalidate && kind == .rename
        try move(to: confirms ? .confirmingInvalidation : .completed, "renamed")
        result = renamed
        error = nil
        invalidation.status = confirms ? .pending : .notRequested
        if status == .completed { finalize(at: now) }
    }

    /// `queued | renaming → failed`.
    public mutating func fail(_ failure: JobError, at now: Date) throws(JobTransitionError) {
        try move(to: .failed, "fail")
        error = failure
        finalize(at: now)
    }

    /// `confirming_invalidation → completed`, confirmed or not.
    public mutating func finishInvalidation(_ outcome: Invalidation.Status, at now: Date) throws(JobTransitionError) {
        try move(to: .completed, "finish invalidation")
        invalidation.status = outcome
        if outcome == .confirmed { invalidation.confirmedAt = now }
        finalize(at: now)
    }

    /// A verified `rename` notification for the job arrived (the first one counts).
    public mutating func noteNotification(at now: Date) {
        if notifiedAt == nil { notifiedAt = now }
    }

    /// A callback attempt did not succeed; the next one is due at `due`.
    public mutating func scheduleCallbackRetry(lastStatus: Int?, due: Date) throws(JobTransitionError) {
        guard callbackEvent?.nextAttemptAt != nil else { throw .illegal(id: id, from: status, move: "retry callback") }
        callback.attempts += 1
        callback.lastStatus = lastStatus
        callbackEvent?.nextAttemptAt = due
    }

    /// Callback delivery ended (delivered, gone, failed or not allowed). The event goes: nothing
    /// sends it again, and the job's row in storage, rewritten now and read by every list of
    /// history, shrinks by the body's base64 (~1.3 of ~2 KB for a rename).
    public mutating func endCallback(_ outcome: Callback.Status, lastStatus: Int?, countAttempt: Bool) throws(JobTransitionError) {
        guard callbackEvent?.nextAttemptAt != nil else { throw .illegal(id: id, from: status, move: "end callback") }
        if countAttempt { callback.attempts += 1 }
        callback.lastStatus = lastStatus
        callback.status = outcome
        callbackEvent = nil
    }

    /// Gives a final job made before events were fixed at finalization (an older journal) its event.
    public mutating func prepareCallbackIfMissing(at now: Date) {
        if status.isFinal && callbackEvent == nil && callback.status == .pending { finalize(at: now) }
    }

    private mutating func move(to next: JobStatus, _ name: String) throws(JobTransitionError) {
        guard status.canMove(to: next) else { throw .illegal(id: id, from: status, move: name) }
        status = next
    }

    /// The job just became final: its completion time and, for a completed or failed job with a
    /// callback URL, the callback event, fixed now so every attempt sends the same bytes (SPEC §6).
    private mutating func finalize(at now: Date) {
        completedAt = completedAt ?? now
        updatedAt = now
        guard status != .cancelled else {
            if callback.status == .pending { callback.status = .none }
            return
        }
        guard callback.url != nil, callback.status == .pending, callbackEvent == nil else { return }
        let body = JSONWriter.encode(
            CallbackEventBody(type: kind.eventPrefix + (status == .completed ? ".completed" : ".failed"), timestamp: now, data: self)
        )
        callbackEvent = CallbackEvent(id: "evt_" + SecureRandom.identifierHex(byteCount: 16), body: body, nextAttemptAt: now)
    }
}

/// The Standard Webhooks payload: `{"type", "timestamp", "data": job}`.
struct CallbackEventBody: JSONWritable {
    var type: String
    var timestamp: Date
    var data: RenameJob

    func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("type", type)
            json.field("timestamp", timestamp as Date?)
            json.field("data", data)
        }
    }
}
