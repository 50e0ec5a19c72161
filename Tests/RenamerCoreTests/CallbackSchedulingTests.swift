import Foundation
import RenamerTestSupport
import Synchronization
import Testing

@testable import RenamerCore

/// A receiver per origin whose answers wait until the test releases that origin; it records how
/// many requests each origin had in flight at most.
final class GatedTransport: CallbackTransport {
    private struct State {
        var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]
        var inFlight: [String: Int] = [:]
        var most: [String: Int] = [:]
        var answered = 0
    }

    private let state = Mutex(State())
    /// What each attempt answers, per origin (200 when absent).
    let answers: [String: CallbackResponse]

    init(answers: [String: CallbackResponse] = [:]) {
        self.answers = answers
    }

    func post(url: String, headers: [(String, String)], body: [UInt8], timeout: Double) async -> CallbackResponse {
        let origin = CallbackOrigin(url)!.description
        await withCheckedContinuation { continuation in
            state.withLock { state in
                state.inFlight[origin, default: 0] += 1
                state.most[origin] = max(state.most[origin] ?? 0, state.inFlight[origin]!)
                state.waiting[origin, default: []].append(continuation)
            }
        }
        state.withLock { state in
            state.inFlight[origin]! -= 1
            state.answered += 1
        }
        return answers[origin] ?? .status(200, retryAfter: nil)
    }

    func inFlight(_ origin: String) -> Int { state.withLock { $0.waiting[origin]?.count ?? 0 } }
    var total: Int { state.withLock { $0.waiting.values.reduce(0) { $0 + $1.count } } }
    func most(_ origin: String) -> Int { state.withLock { $0.most[origin] ?? 0 } }
    var answered: Int { state.withLock { $0.answered } }

    /// Lets every request now waiting for `origin` (all origins when nil) be answered.
    func release(_ origin: String? = nil) {
        let released = state.withLock { state in
            var released: [CheckedContinuation<Void, Never>] = []
            for key in state.waiting.keys where origin == nil || key == origin {
                released += state.waiting[key] ?? []
                state.waiting[key] = []
            }
            return released
        }
        for continuation in released { continuation.resume() }
    }
}

/// Per-origin scheduling of callbacks (SPEC §6).
@Suite("Callback scheduling")
struct CallbackSchedulingTests {
    static let origins = ["https://a.example:443", "https://b.example:443", "https://c.example:443", "https://d.example:443"]

    struct Fixture {
        let store = JobStore()
        let clock = ManualClock()
        let transport: GatedTransport
        let delivery: CallbackDelivery

        init(maxConcurrent: Int, perOrigin: Int, transport: GatedTransport = GatedTransport()) async throws {
            self.transport = transport
            delivery = try await CallbackFixture.delivery(
                store: store,
                transport: transport,
                clock: clock,
                prefixes: CallbackSchedulingTests.origins.map { $0.replacingOccurrences(of: ":443", with: "") + "/hooks/" },
                settings: [
                    "callbacks.max_concurrent": String(maxConcurrent), "callbacks.max_concurrent_per_origin": String(perOrigin),
                    "callbacks.retry_schedule_seconds": "5",
                ]
            )
        }

        /// Answers every waiting request until `count` were answered (bounded: 10 s), checking
        /// `invariant` between rounds.
        func answerAll(_ count: Int, invariant: () -> Void = {}) async -> Bool {
            // A bound against a hang, not a speed limit: 192 answers one at a time once took more
            // than 10 s while the whole suite and a compile shared the two cores.
            let deadline = ContinuousClock.now + .seconds(60)
            while transport.answered < count && ContinuousClock.now < deadline {
                invariant()
                transport.release()
                try? await Task.sleep(for: .milliseconds(1))
            }
            return transport.answered >= count
        }

        /// `count` completed jobs calling back `host`; returns their ids.
        @discardableResult
        func finish(_ count: Int, host: String, from start: Int = 0) -> [String] {
            (start..<(start + count)).map { index in
                let id = "rn_\(host)_\(index)"
                let job = RenameJob.fixture(id: id, from: "a\(index)", to: "b\(index)", callbackURL: "https://\(host)/hooks/r", now: clock.now())
                delivery.deliver(store.insert(job, movingThrough: [.renaming, .completed], now: clock.now())!)
                return id
            }
        }
    }

    /// The remembered origin key is the parsed one, for URLs seen again, for more URLs than it
    /// remembers, and for URLs without an origin.
    @Test func originKeysAreTheParsedOrigins() {
        let urls = (0..<1500).map { "https://Host\($0 % 7).example\($0 % 3 == 0 ? ":8443" : "")/hooks/\($0)" } + ["not a url", "/relative", ""]
        for url in urls + urls.reversed() {
            #expect(CallbackOrigin.key(url) == CallbackOrigin(url)?.description, "\(url)")
        }
        #expect(CallbackOrigin.key("https://HOST1.example/x") == "https://host1.example:443")
        #expect(CallbackOrigin.key("/relative") == nil)
    }

    /// A memo computes each input once while it remembers it, forgets everything when full, and
    /// always answers what the function answers.
    @Test func aMemoComputesEachInputOnceUntilFull() {
        let memo = StringMemo<Int>(capacity: 3)
        var calls: [String] = []
        func length(_ text: String) -> Int {
            calls.append(text)
            return text.utf8.count
        }
        for text in ["a", "bb", "a", "ccc", "bb"] { #expect(memo.value(text, length) == text.utf8.count) }
        #expect(calls == ["a", "bb", "ccc"])
        #expect(memo.value("dddd", length) == 4)  // full: forgets a, bb and ccc
        #expect(memo.value("a", length) == 1)
        #expect(calls == ["a", "bb", "ccc", "dddd", "a"])
    }

    @Test func aBackloggedOriginHoldsOnlyItsOwnSlots() async throws {
        let fixture = try await Fixture(maxConcurrent: 6, perOrigin: 2)
        fixture.finish(50, host: "a.example")
        #expect(await eventually { fixture.transport.inFlight(Self.origins[0]) == 2 })
        #expect((await fixture.delivery.backlog()).due == 48)
        // Another origin's callback goes out at once, whatever origin a's backlog.
        fixture.finish(1, host: "b.example")
        #expect(await eventually { fixture.transport.inFlight(Self.origins[1]) == 1 })
        #expect(fixture.transport.inFlight(Self.origins[0]) == 2)
        #expect(await fixture.answerAll(51))
        #expect(fixture.transport.most(Self.origins[0]) == 2)
        #expect(await eventually { await fixture.delivery.backlog() == (0, 0, 0) })
    }

    @Test func slotsGoRoundRobinWithinTheGlobalLimit() async throws {
        let fixture = try await Fixture(maxConcurrent: 5, perOrigin: 2)
        for host in ["a.example", "b.example", "c.example", "d.example"] { fixture.finish(10, host: host) }
        #expect(await eventually { fixture.transport.total == 5 })
        #expect(Self.origins.allSatisfy { fixture.transport.inFlight($0) <= 2 })
        #expect(Self.origins.filter { fixture.transport.inFlight($0) > 0 }.count >= 3)
        var mostInFlight = 0
        #expect(await fixture.answerAll(40) { mostInFlight = max(mostInFlight, fixture.transport.total) })
        #expect(mostInFlight <= 5)
        #expect(Self.origins.allSatisfy { fixture.transport.most($0) <= 2 })
        #expect(
            await eventually {
                for index in 0..<10 where (try? await fixture.store.job("rn_d.example_\(index)"))?.callback.status != .delivered { return false }
                return true
            }
        )
    }

    /// A backlog larger than an origin's room in memory stays in the outbox and is read back as
    /// room frees up: every callback goes out once, none twice (SPEC §8: memory does not grow with
    /// the backlog).
    @Test func aBacklogBeyondMemoryIsReadBackFromTheOutbox() async throws {
        let fixture = try await Fixture(maxConcurrent: 2, perOrigin: 1)
        let room = fixture.delivery.perOriginLoad
        let ids = fixture.finish(room * 3, host: "a.example")
        #expect(await eventually { fixture.transport.inFlight(Self.origins[0]) == 1 })
        #expect((await fixture.delivery.backlog()).due == room * 3 - 1)
        #expect(await fixture.answerAll(room * 3))
        #expect(
            await eventually {
                for id in ids where (try? await fixture.store.job(id))?.callback.status != .delivered { return false }
                return true
            }
        )
        try await Task.sleep(for: .milliseconds(50))
        #expect(fixture.transport.answered == room * 3)
        #expect(fixture.transport.most(Self.origins[0]) == 1)
        #expect(await fixture.delivery.backlog() == (0, 0, 0))
    }

    /// An origin's backlog goes out through the slot's one task: when a delivery ends, the task
    /// takes the next callback due instead of handing back to the scheduling queue for a new task
    /// (each hand-off a thread wake-up).
    @Test func aSlotGoesOnWithTheNextCallbackInItsOwnTask() async throws {
        let fixture = try await Fixture(maxConcurrent: 1, perOrigin: 1)
        let ids = fixture.finish(20, host: "a.example")
        #expect(await fixture.answerAll(20))
        #expect(
            await eventually {
                for id in ids where (try? await fixture.store.job(id))?.callback.status != .delivered { return false }
                return true
            }
        )
        #expect(fixture.delivery.tasks.started == 1)
        #expect(fixture.transport.most(Self.origins[0]) == 1)
    }

    /// Shutdown (``CallbackDelivery/stop()``, then the tasks cancelled; or only the cancel) lets
    /// the attempt in flight end and starts no other: the rest stay due in the outbox, unattempted.
    /// (A slot that went on would wait for an answer the test never gives: the time limit fails it.)
    @Test(.timeLimit(.minutes(1)), arguments: [true, false])
    func shutdownStartsNoFurtherAttempt(stopsFirst: Bool) async throws {
        let fixture = try await Fixture(maxConcurrent: 1, perOrigin: 1)
        let ids = fixture.finish(5, host: "a.example")
        #expect(await eventually { fixture.transport.inFlight(Self.origins[0]) == 1 })
        if stopsFirst { fixture.delivery.stop() }
        async let cancelled: Void = fixture.delivery.tasks.cancelAll()
        fixture.transport.release()
        await cancelled
        #expect(fixture.transport.answered == 1)
        var pending = 0
        for id in ids {
            let callback = try #require(try await fixture.store.job(id)).callback
            if callback.status == .pending && callback.attempts == 0 { pending += 1 }
        }
        #expect(pending == 4)
    }

    @Test func aCallbackWaitingForItsRetryHoldsNoSlot() async throws {
        let failing = GatedTransport(answers: [Self.origins[0]: .status(503, retryAfter: nil)])
        let fixture = try await Fixture(maxConcurrent: 1, perOrigin: 1, transport: failing)
        fixture.finish(1, host: "a.example")
        #expect(await eventually { failing.inFlight(Self.origins[0]) == 1 })
        failing.release()
        #expect(await eventually { (await fixture.delivery.backlog()).retrying == 1 })
        // The only slot is free while the first waits 6 s for its retry.
        fixture.finish(1, host: "b.example", from: 1)
        #expect(await eventually { failing.inFlight(Self.origins[1]) == 1 })
        failing.release()
        #expect(await eventually { (try? await fixture.store.job("rn_b.example_1"))?.callback.status == .delivered })
        #expect((try? await fixture.store.job("rn_a.example_0"))?.callback.status == .pending)
    }
}
