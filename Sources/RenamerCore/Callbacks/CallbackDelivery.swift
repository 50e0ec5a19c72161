import DequeModule
import Dispatch
import Foundation
import Logging
import Metrics
import RenamerConfig
import RenamerCrypto
import Synchronization

/// Delivers each final job to its caller as a Standard Webhooks event (SPEC §6).
///
/// The event (id and body) is fixed when the job becomes final, so every retry is byte-identical;
/// each attempt is signed afresh with every active secret of the client. Any 2xx within the timeout
/// is success, `410 Gone` stops, anything else (redirects included) retries on
/// `callbacks.retry_schedule_seconds` with ±20 % jitter, never sooner than `Retry-After`, then fails.
/// A URL outside the client's `callback_url_prefixes` is never contacted.
///
/// The outbox is storage: a callback waiting for its retry time is a row with a due time, not a
/// timer in memory. Memory holds only the callbacks loaded for delivery, at most ``perOriginLoad``
/// per origin and ``maxLoaded`` in all; one wake-up is armed for the earliest due time, and the
/// outbox is read again whenever room frees up (SPEC §8).
///
/// Deliveries are scheduled per destination origin (scheme, host, port): at most
/// `callbacks.max_concurrent_per_origin` in flight to one origin and `callbacks.max_concurrent` in
/// all, the free slots going round-robin to the origins with callbacks due. So a dead or slow
/// receiver delays only its own origin's callbacks: it holds `max_concurrent_per_origin` slots
/// however long its backlog, and every other origin's callbacks keep going out.
///
/// `@unchecked Sendable`: the `let`s are Sendable; every `var` is confined to ``queue`` (each is
/// touched only from methods marked "on `queue`" or from blocks submitted to it).
public final class CallbackDelivery: @unchecked Sendable {
    let context: JobContext
    let transport: any CallbackTransport
    let maxConcurrent: Int
    let maxConcurrentPerOrigin: Int
    /// Callbacks held in memory per origin (due or in flight), and in all.
    let perOriginLoad: Int
    let maxLoaded: Int
    /// Uniform random factor for jitter; injectable for tests.
    let random: @Sendable (ClosedRange<Double>) -> Double
    /// Serial; the daemon runs it on the same thread as the confirmer's (``JobLifecycle``).
    let queue: DispatchQueue
    /// The deliveries and outbox reads in flight; none outlives the daemon (``JobLifecycle/shutdown()``).
    public let tasks = TrackedTasks()

    /// A callback loaded for delivery: its job when the caller handed it over (a job that just
    /// became final), else read from storage when its attempt starts.
    struct Loaded {
        var id: String
        var job: RenameJob?
    }

    /// The callbacks loaded for one origin, and how many of its deliveries are in flight.
    struct Lane {
        var due: Deque<Loaded> = []
        var inFlight = 0

        var held: Int { due.count + inFlight }
    }

    // Confined to `queue`.
    private var lanes: [String: Lane] = [:]
    /// Origins with a callback due and a free slot of their own, in the order they get the next
    /// free global slot (each appears once: ``inReady``).
    private var ready: Deque<String> = []
    private var inReady: Set<String> = []
    /// Ids in a lane or in flight: never loaded twice.
    private var loaded: Set<String> = []
    /// Origins whose due callbacks did not all fit in their lane, and whether any did not fit in
    /// ``maxLoaded``: storage holds more for them, read again once half the room is free.
    private var overflowed: Set<String> = []
    private var overflowedGlobally = false
    private var refilling = false
    private var refillAgain = false
    /// Ids whose delivery ended while a refill read the outbox: that read may predate their write.
    private var endedDuringRefill: Set<String> = []
    /// The armed wake-up (one for all callbacks); a later arming with an earlier time replaces it.
    private var wakeAt: Date?
    private var stopped = false
    // Written on `queue`, read anywhere (metrics).
    private let dueCount = Atomic<Int>(0)
    private let inFlightCount = Atomic<Int>(0)
    private let duration: Timer
    /// `renamer_callbacks_total` by how an attempt ended (nil: a retry was scheduled).
    private let outcomes: MetricHandles<RenameJob.Callback.Status?, Counter>

    public init(
        configuration: RenamerConfiguration,
        store: JobStore,
        transport: any CallbackTransport,
        clock: any RenamerClock,
        logger: Logger,
        metrics: any MetricsFactory = NOOPMetricsHandler.instance,
        random: @escaping @Sendable (ClosedRange<Double>) -> Double = { Double.random(in: $0) },
        target: DispatchQueue? = nil
    ) {
        queue = DispatchQueue(label: "asset-renamer.callbacks", target: target)
        self.transport = transport
        context = JobContext(configuration: configuration, store: store, clock: clock, logger: logger, metrics: metrics)
        duration = Timer(label: "renamer_callback_duration_seconds", factory: metrics)
        outcomes = MetricHandles { Counter(label: "renamer_callbacks_total", dimensions: [("outcome", $0?.rawValue ?? "retry")], factory: metrics) }
        maxConcurrent = configuration.callbacks.maxConcurrent
        maxConcurrentPerOrigin = configuration.callbacks.maxConcurrentPerOrigin
        perOriginLoad = max(64, 16 * configuration.callbacks.maxConcurrentPerOrigin)
        maxLoaded = max(1024, 32 * configuration.callbacks.maxConcurrent)
        self.random = random
    }

    /// Starts delivering what the outbox holds (at start-up, after recovery).
    public func start() {
        queue.async { [self] in refill() }
    }

    /// A job just became final: its event goes out once storage holds it, at once if there is room
    /// in memory, else it waits in the outbox for the next read.
    ///
    /// The event's id and body are made when the job becomes final, and every attempt repeats them
    /// (SPEC §6). Sent before that write is durable, a crash would make the job final again after
    /// restart, with a new event: the caller would get a second callback under another
    /// `webhook-id`. With a failing journal it goes out anyway (its write is retried and pending).
    public func deliver(_ job: RenameJob) {
        guard job.callbackEvent?.nextAttemptAt != nil, let origin = job.pendingCallbackOrigin else { return }
        context.store.storage.whenDurable { [self] _ in
            queue.async { [self] in
                if !load(job.id, origin: origin, job: job) {
                    markOverflow(origin)
                    armWake(at: context.clock.now().addingTimeInterval(1))
                }
                pump()
            }
        }
    }

    /// Stops starting deliveries (shutdown); those in flight finish, the rest stay in the outbox.
    public func stop() {
        queue.async { [self] in stopped = true }
    }

    /// How many callbacks wait for a slot, are in flight, and wait for their retry time (metrics).
    public func backlog() async -> (due: Int, inFlight: Int, retrying: Int) {
        let now = context.clock.now()
        let pending = (try? await context.store.storage.callbackBacklog(now: now)) ?? (due: 0, waiting: 0)
        let loadedDue = dueCount.load(ordering: .relaxed)
        let inFlight = inFlightCount.load(ordering: .relaxed)
        // The outbox's due rows include the ones loaded (due or in flight).
        return (max(loadedDue, pending.due - inFlight), inFlight, pending.waiting)
    }

    // MARK: - Scheduling (on `queue`)

    /// Puts a due callback in its origin's lane if memory has room; false when it does not.
    private func load(_ id: String, origin: String, job: RenameJob? = nil) -> Bool {
        if loaded.contains(id) { return true }
        guard lanes[origin, default: Lane()].held < perOriginLoad, loaded.count < maxLoaded else { return false }
        loaded.insert(id)
        lanes[origin, default: Lane()].due.append(Loaded(id: id, job: job))
        dueCount.add(1, ordering: .relaxed)
        markReady(origin)
        return true
    }

    private func markOverflow(_ origin: String) {
        if (lanes[origin]?.held ?? 0) >= perOriginLoad { overflowed.insert(origin) } else { overflowedGlobally = true }
    }

    /// Puts `origin` in line for a slot if it has a callback due and a free slot of its own.
    private func markReady(_ origin: String) {
        guard let lane = lanes[origin], !lane.due.isEmpty, lane.inFlight < maxConcurrentPerOrigin, !inReady.contains(origin) else { return }
        ready.append(origin)
        inReady.insert(origin)
    }

    /// A delivery about to start: a loaded callback and its origin.
    private struct Delivery {
        var loaded: Loaded
        var origin: String
    }

    /// Starts deliveries while global slots are free, one origin at a time, round-robin.
    private func pump() {
        while let delivery = takeNext() { start(delivery) }
    }

    /// Takes the next callback for a free global slot, round-robin over the ready origins, and
    /// counts it in flight; nil when none may start now.
    private func takeNext() -> Delivery? {
        while !stopped, inFlightCount.load(ordering: .relaxed) < maxConcurrent, let origin = ready.popFirst() {
            inReady.remove(origin)
            // In place: a copy of the lane (`var lane = lanes[origin]`) made its queue shared, and
            // the pop copied every callback loaded for the origin.
            guard let inFlight = lanes[origin]?.inFlight, inFlight < maxConcurrentPerOrigin, let next = lanes[origin]?.due.popFirst()
            else { continue }
            dueCount.subtract(1, ordering: .relaxed)
            lanes[origin]?.inFlight += 1
            inFlightCount.add(1, ordering: .relaxed)
            markReady(origin)
            return Delivery(loaded: next, origin: origin)
        }
        return nil
    }

    /// Runs deliveries in one task, starting with `first`: when one ends, its bookkeeping runs on
    /// `queue` (`sync`: a few table updates, no I/O) and the task goes on with the next callback
    /// due, round-robin. An origin's backlog at `max_concurrent_per_origin` otherwise paid a
    /// hand-off to `queue` and a new task per callback, each a thread wake-up.
    private func start(_ first: Delivery) {
        tasks.spawn { [self] in
            var delivery = first
            while true {
                let retryAt = await attempt(delivery.loaded.id, job: delivery.loaded.job)
                let finished = delivery
                // Shutdown cancels this task: what is still due stays in the outbox.
                let goesOn = !Task.isCancelled
                let next = queue.sync { () -> Delivery? in
                    ended(finished.loaded.id, origin: finished.origin, retryAt: retryAt)
                    let next = goesOn ? takeNext() : nil
                    pump()
                    return next
                }
                guard let next else { return }
                delivery = next
            }
        }
    }

    /// One delivery ended: its slot and memory free up (the caller starts what may start next).
    private func ended(_ id: String, origin: String, retryAt: Date?) {
        inFlightCount.subtract(1, ordering: .relaxed)
        lanes[origin]?.inFlight -= 1
        loaded.remove(id)
        if refilling { endedDuringRefill.insert(id) }
        if let lane = lanes[origin], lane.held == 0 { lanes[origin] = nil }
        markReady(origin)
        if let retryAt { armWake(at: retryAt) }
        // Read the outbox again once half the room is free, not after every delivery.
        if (overflowed.contains(origin) && (lanes[origin]?.held ?? 0) <= perOriginLoad / 2)
            || (overflowedGlobally && loaded.count <= maxLoaded / 2)
        {
            refill()
        }
    }

    /// Reads the outbox for due callbacks (one read at a time; a request meanwhile runs another).
    private func refill() {
        guard !stopped else { return }
        guard !refilling else {
            refillAgain = true
            return
        }
        refilling = true
        endedDuringRefill = []
        let now = context.clock.now()
        let (perOrigin, maxOrigins) = (perOriginLoad, maxLoaded)
        // Those loaded are not read again: about half of what an overflowed origin's read returns.
        let skipping = loaded
        tasks.spawn { [self] in
            // Everything recorded before this read (outcomes of ended deliveries) is visible to it.
            try? await context.store.storage.sync()
            // A job that just finished is usually still in memory (the working set or the recent
            // jobs): taken from there, its row is not decoded (~100,000 instructions each).
            let store = context.store
            let due = try? await store.storage.dueCallbacks(now: now, perOrigin: perOrigin, maxOrigins: maxOrigins, skipping: skipping) {
                store.pendingCallback($0, due: $1)
            }
            let next = try? await context.store.storage.nextCallbackDue(after: now)
            queue.async { [self] in refilled(due, next: next, readFailed: due == nil) }
        }
    }

    private func refilled(_ due: [DueCallbacks]?, next: Date?, readFailed: Bool) {
        refilling = false
        overflowed = []
        overflowedGlobally = readFailed
        for origin in due ?? [] {
            for job in origin.jobs where !endedDuringRefill.contains(job.id) {
                if !load(job.id, origin: origin.origin, job: job) { markOverflow(origin.origin) }
            }
            if origin.count == perOriginLoad { overflowed.insert(origin.origin) }
        }
        endedDuringRefill = []
        if let next { armWake(at: next) }
        if readFailed {
            context.logger.warning("cannot read the callback outbox; retrying in 1 s")
            armWake(at: context.clock.now().addingTimeInterval(1))
        }
        pump()
        if refillAgain {
            refillAgain = false
            refill()
        }
    }

    /// Makes sure the outbox is read again no later than `due`.
    private func armWake(at due: Date) {
        if let wakeAt, wakeAt <= due { return }
        wakeAt = due
        context.clock.schedule(after: due.timeIntervalSince(context.clock.now()), on: queue) { [self] in
            guard wakeAt == due else { return }  // an earlier wake-up replaced this one
            wakeAt = nil
            refill()
        }
    }

    // MARK: - One attempt (off `queue`)

    /// Sends the job's event once and records the outcome; returns when the next attempt is due.
    private func attempt(_ id: String, job known: RenameJob?) async -> Date? {
        let found: RenameJob?
        do {
            found = if let known { known } else { try await context.store.job(id) }
        } catch {
            context.logger.warning("cannot read a callback's job; retrying in 1 s", metadata: ["job_id": "\(id)", "error": "\(error)"])
            return context.clock.now().addingTimeInterval(1)
        }
        guard let job = found, let event = job.callbackEvent, event.nextAttemptAt != nil, let url = job.callback.url else { return nil }
        // With several replicas, only while this replica's lease is safely held (SPEC §12).
        if let replicas = context.store.replicas, !replicas.holdsLease {
            return context.clock.now().addingTimeInterval(1)
        }
        guard let client = context.configuration.clients[job.client], CallbackURLPolicy.allowed(url, prefixes: client.callbackURLPrefixes),
            !client.callbackSecrets.isEmpty, CallbackOrigin.key(url) != nil
        else {
            context.logger.error("callback URL not allowed for client; not contacted", metadata: ["job_id": "\(id)", "client": "\(job.client)"])
            end(job, status: .failed, lastStatus: nil, countAttempt: false)
            return nil
        }
        let timestamp = Int64(context.clock.now().timeIntervalSince1970)
        let signature = StandardWebhooks(secrets: client.callbackSecrets).signatureHeader(id: event.id, timestamp: timestamp, body: event.body)
        let headers = [
            ("Content-Type", "application/json"), ("User-Agent", "asset-renamer"), ("webhook-id", event.id),
            ("webhook-timestamp", String(timestamp)), ("webhook-signature", signature),
        ]
        let started = ContinuousClock.now
        let response = await transport.post(url: url, headers: headers, body: event.body, timeout: context.configuration.callbacks.timeoutSeconds)
        duration.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        switch response {
        case .status(let status, _) where (200...299).contains(status):
            end(job, status: .delivered, lastStatus: status)
        case .status(410, _):
            end(job, status: .gone, lastStatus: 410)
        case .status(let status, let retryAfter):
            return retryOrFail(job, lastStatus: status, retryAfter: retryAfter)
        case .failed(let reason):
            context.logger.info("callback attempt failed", metadata: ["job_id": "\(id)", "reason": "\(reason)"])
            return retryOrFail(job, lastStatus: nil, retryAfter: nil)
        }
        return nil
    }

    private func retryOrFail(_ job: RenameJob, lastStatus: Int?, retryAfter: Double?) -> Date? {
        let schedule = context.configuration.callbacks.retryScheduleSeconds
        let attemptsSoFar = job.callback.attempts + 1
        guard attemptsSoFar <= schedule.count else {
            end(job, status: .failed, lastStatus: lastStatus)
            return nil
        }
        let delay = max(schedule[attemptsSoFar - 1] * random(0.8...1.2), retryAfter ?? 0)
        let now = context.clock.now()
        let due = now.addingTimeInterval(delay)
        do {
            try context.store.transitionSettled(job, now: now) { job throws(JobTransitionError) in
                try job.scheduleCallbackRetry(lastStatus: lastStatus, due: due)
            }
        } catch {
            context.logger.error("cannot record a callback retry", metadata: ["job_id": "\(job.id)", "error": "\(error)"])
            return context.clock.now().addingTimeInterval(1)
        }
        outcomes[nil].increment()
        return due
    }

    private func end(_ job: RenameJob, status: RenameJob.Callback.Status, lastStatus: Int?, countAttempt: Bool = true) {
        let id = job.id
        do {
            try context.store.transitionSettled(job, now: context.clock.now()) { job throws(JobTransitionError) in
                try job.endCallback(status, lastStatus: lastStatus, countAttempt: countAttempt)
            }
        } catch {
            context.logger.error("cannot record a callback's end", metadata: ["job_id": "\(id)", "error": "\(error)"])
            return
        }
        outcomes[status].increment()
        context.logger.info(
            "callback \(status.rawValue)",
            metadata: ["job_id": "\(id)", "last_status": lastStatus.map { .stringConvertible($0) } ?? "none"]
        )
    }
}

/// Callback URL prefix matching at a boundary: `https://a.example/hooks` allows `…/hooks/x` and
/// `…/hooks?x`, never `https://a.example/hooksevil` or `https://a.example.evil`.
public enum CallbackURLPolicy {
    public static func matches(_ url: String, prefix: String) -> Bool {
        guard url.hasPrefix(prefix) else { return false }
        if prefix.hasSuffix("/") || url.utf8.count == prefix.utf8.count { return true }
        let next = url.utf8[url.utf8.index(url.utf8.startIndex, offsetBy: prefix.utf8.count)]
        return next == UInt8(ascii: "/") || next == UInt8(ascii: "?") || next == UInt8(ascii: "#")
    }

    public static func allowed(_ url: String, prefixes: [String]) -> Bool {
        prefixes.contains { matches(url, prefix: $0) }
    }
}
