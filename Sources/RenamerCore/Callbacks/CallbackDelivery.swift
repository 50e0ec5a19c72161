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
/// Deliveries are scheduled per destination origin (scheme, host, port): at most
/// `callbacks.max_concurrent_per_origin` in flight to one origin and `callbacks.max_concurrent` in
/// all, the free slots going round-robin to the origins with callbacks due. A callback waiting for
/// its retry time holds no slot. So a dead or slow receiver delays only its own origin's callbacks:
/// it holds `max_concurrent_per_origin` slots however long its backlog, and every other origin's
/// callbacks keep going out.
public final class CallbackDelivery: @unchecked Sendable {
    let store: JobStore
    let configuration: RenamerConfiguration
    let transport: any CallbackTransport
    let clock: any RenamerClock
    let logger: Logger
    let metrics: any MetricsFactory
    let maxConcurrent: Int
    let maxConcurrentPerOrigin: Int
    /// Uniform random factor for jitter; injectable for tests.
    let random: @Sendable (ClosedRange<Double>) -> Double
    let queue = DispatchQueue(label: "asset-renamer.callbacks")

    /// The callbacks due for one origin, and how many of its deliveries are in flight.
    struct Lane {
        var due: Deque<String> = []
        var inFlight = 0
    }

    // Confined to `queue`.
    private var lanes: [CallbackOrigin: Lane] = [:]
    /// Origins with a callback due and a free slot of their own, in the order they get the next
    /// free global slot (each appears once: ``inReady``).
    private var ready: Deque<CallbackOrigin> = []
    private var inReady: Set<CallbackOrigin> = []
    // Written on `queue`, read anywhere (metrics).
    private let dueCount = Atomic<Int>(0)
    private let inFlightCount = Atomic<Int>(0)
    private let retryingCount = Atomic<Int>(0)

    public init(
        configuration: RenamerConfiguration,
        store: JobStore,
        transport: any CallbackTransport,
        clock: any RenamerClock,
        logger: Logger,
        metrics: any MetricsFactory = NOOPMetricsHandler.instance,
        random: @escaping @Sendable (ClosedRange<Double>) -> Double = { Double.random(in: $0) }
    ) {
        self.configuration = configuration
        self.store = store
        self.transport = transport
        self.clock = clock
        self.logger = logger
        self.metrics = metrics
        maxConcurrent = configuration.callbacks.maxConcurrent
        maxConcurrentPerOrigin = configuration.callbacks.maxConcurrentPerOrigin
        self.random = random
    }

    /// Creates the job's event and starts delivering it; for a job that just became final.
    public func jobFinal(_ job: RenameJob) {
        guard job.status == .completed || job.status == .failed else {
            // A cancelled job has nothing to report: the caller cancelled it.
            if job.status == .cancelled, job.callback.status == .pending {
                store.update(job.id, now: clock.now()) { $0.callback.status = .none }
            }
            return
        }
        guard job.callback.url != nil, job.callbackEvent == nil else { return }
        let now = clock.now()
        let body = JSONWriter.encode(
            EventBody(type: job.status == .completed ? "rename.completed" : "rename.failed", timestamp: now, data: job)
        )
        let event = RenameJob.CallbackEvent(id: "evt_" + SecureRandom.hexToken(byteCount: 16), body: body, nextAttemptAt: now)
        store.update(job.id, now: now) { $0.callbackEvent = event }
        queue.async { [self] in enqueue(job.id) }
    }

    /// Resumes delivery of an event whose next attempt is due at `job.callbackEvent.nextAttemptAt`.
    public func resume(_ job: RenameJob) {
        guard let due = job.callbackEvent?.nextAttemptAt else { return }
        let delay = due.timeIntervalSince(clock.now())
        queue.async { [self] in
            if delay > 0 {
                waitThenEnqueue(job.id, after: delay)
            } else {
                enqueue(job.id)
            }
        }
    }

    /// How many callbacks wait for a slot, are in flight, and wait for their retry time (metrics).
    public var backlog: (due: Int, inFlight: Int, retrying: Int) {
        (dueCount.load(ordering: .relaxed), inFlightCount.load(ordering: .relaxed), retryingCount.load(ordering: .relaxed))
    }

    /// The Standard Webhooks payload: `{"type", "timestamp", "data": job}`.
    struct EventBody: JSONWritable {
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

    // MARK: - On `queue`

    /// A callback is due: it joins its origin's lane.
    private func enqueue(_ id: String) {
        guard let job = store.job(id), let url = job.callback.url, job.callbackEvent?.nextAttemptAt != nil else { return }
        guard let origin = CallbackOrigin(url) else {
            logger.error("callback URL has no origin; not contacted", metadata: ["job_id": "\(id)"])
            end(id, status: .failed, lastStatus: nil, countAttempt: false)
            return
        }
        lanes[origin, default: Lane()].due.append(id)
        dueCount.add(1, ordering: .relaxed)
        markReady(origin)
        pump()
    }

    /// Puts `origin` in line for a slot if it has a callback due and a free slot of its own.
    private func markReady(_ origin: CallbackOrigin) {
        guard let lane = lanes[origin], !lane.due.isEmpty, lane.inFlight < maxConcurrentPerOrigin, !inReady.contains(origin) else { return }
        ready.append(origin)
        inReady.insert(origin)
    }

    /// Starts deliveries while global slots are free, one origin at a time, round-robin.
    private func pump() {
        while inFlightCount.load(ordering: .relaxed) < maxConcurrent, let origin = ready.popFirst() {
            inReady.remove(origin)
            guard var lane = lanes[origin], lane.inFlight < maxConcurrentPerOrigin, let id = lane.due.popFirst() else { continue }
            dueCount.subtract(1, ordering: .relaxed)
            if attempt(id, origin: origin) { lane.inFlight += 1 }
            lanes[origin] = lane
            markReady(origin)
            forgetIfIdle(origin)
        }
    }

    private func forgetIfIdle(_ origin: CallbackOrigin) {
        if let lane = lanes[origin], lane.due.isEmpty, lane.inFlight == 0 { lanes[origin] = nil }
    }

    /// Sends one attempt; false when the callback may not go out at all (it ends as failed).
    private func attempt(_ id: String, origin: CallbackOrigin) -> Bool {
        guard let job = store.job(id), let event = job.callbackEvent, event.nextAttemptAt != nil, let url = job.callback.url else { return false }
        guard let client = configuration.clients[job.client], CallbackURLPolicy.allowed(url, prefixes: client.callbackURLPrefixes),
            !client.callbackSecrets.isEmpty
        else {
            logger.error("callback URL not allowed for client; not contacted", metadata: ["job_id": "\(id)", "client": "\(job.client)"])
            end(id, status: .failed, lastStatus: nil, countAttempt: false)
            return false
        }
        inFlightCount.add(1, ordering: .relaxed)
        let timestamp = Int64(clock.now().timeIntervalSince1970)
        let signature = StandardWebhooks(secrets: client.callbackSecrets).signatureHeader(id: event.id, timestamp: timestamp, body: event.body)
        let headers = [
            ("Content-Type", "application/json"), ("User-Agent", "asset-renamer"), ("webhook-id", event.id),
            ("webhook-timestamp", String(timestamp)), ("webhook-signature", signature),
        ]
        let timeout = configuration.callbacks.timeoutSeconds
        let started = ContinuousClock.now
        Task { [self] in
            let response = await transport.post(url: url, headers: headers, body: event.body, timeout: timeout)
            let elapsed = ContinuousClock.now - started
            queue.async { [self] in
                inFlightCount.subtract(1, ordering: .relaxed)
                lanes[origin]?.inFlight -= 1
                Timer(label: "renamer_callback_duration_seconds", factory: metrics).recordNanoseconds(
                    elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
                )
                delivered(id, response)
                markReady(origin)
                forgetIfIdle(origin)
                pump()
            }
        }
        return true
    }

    private func delivered(_ id: String, _ response: CallbackResponse) {
        switch response {
        case .status(let status, _) where (200...299).contains(status):
            end(id, status: .delivered, lastStatus: status)
        case .status(410, _):
            end(id, status: .gone, lastStatus: 410)
        case .status(let status, let retryAfter):
            retryOrFail(id, lastStatus: status, retryAfter: retryAfter)
        case .failed(let reason):
            logger.info("callback attempt failed", metadata: ["job_id": "\(id)", "reason": "\(reason)"])
            retryOrFail(id, lastStatus: nil, retryAfter: nil)
        }
    }

    private func retryOrFail(_ id: String, lastStatus: Int?, retryAfter: Double?) {
        guard let job = store.job(id) else { return }
        let schedule = configuration.callbacks.retryScheduleSeconds
        let attemptsSoFar = job.callback.attempts + 1
        guard attemptsSoFar <= schedule.count else {
            end(id, status: .failed, lastStatus: lastStatus)
            return
        }
        let delay = max(schedule[attemptsSoFar - 1] * random(0.8...1.2), retryAfter ?? 0)
        let now = clock.now()
        store.update(id, now: now) { job in
            job.callback.attempts += 1
            job.callback.lastStatus = lastStatus
            job.callbackEvent?.nextAttemptAt = now.addingTimeInterval(delay)
        }
        Counter(label: "renamer_callbacks_total", dimensions: [("outcome", "retry")], factory: metrics).increment()
        waitThenEnqueue(id, after: delay)
    }

    /// A callback waiting for its next attempt: it holds no slot until it is due.
    private func waitThenEnqueue(_ id: String, after delay: Double) {
        retryingCount.add(1, ordering: .relaxed)
        clock.schedule(after: delay, on: queue) { [self] in
            retryingCount.subtract(1, ordering: .relaxed)
            enqueue(id)
        }
    }

    private func end(_ id: String, status: RenameJob.Callback.Status, lastStatus: Int?, countAttempt: Bool = true) {
        store.update(id, now: clock.now()) { job in
            if countAttempt { job.callback.attempts += 1 }
            job.callback.lastStatus = lastStatus
            job.callback.status = status
            job.callbackEvent?.nextAttemptAt = nil
        }
        Counter(label: "renamer_callbacks_total", dimensions: [("outcome", status.rawValue)], factory: metrics).increment()
        logger.info("callback \(status.rawValue)", metadata: ["job_id": "\(id)", "last_status": "\(lastStatus.map(String.init) ?? "none")"])
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
