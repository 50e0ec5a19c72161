import CloudinaryEmulator
import Foundation
import Logging
import RenamerCore
import RenamerJournal
import RenamerServer
import Testing

/// `POST /v1/renames` and Cloudinary's notifications answered on the event loop (FastAcceptHandler,
/// issue 17) next to the requests Hummingbird answers: one connection keeps request order, and both
/// give the same answer.
@Suite("Accept on the event loop")
struct FastAcceptTests {
    enum Storage: String, CaseIterable {
        case memory
        case journal
    }

    /// Runs `body` against a daemon with the journal in memory or in SQLite (a commit to wait for).
    static func run(
        _ storage: Storage,
        _ overrides: [String: String] = [:],
        emulatorSettings: EmulatorSettings = EmulatorSettings(),
        _ body: (Harness) async throws -> Void
    ) async throws {
        switch storage {
        case .memory:
            try await Harness.run(overrides, emulatorSettings: emulatorSettings, body)
        case .journal:
            let directory = FileManager.default.temporaryDirectory.appending(path: "fast-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let journal = try SQLiteJournal(path: directory.appending(path: "j.sqlite").path, logger: Logger(label: "t"))
            try await Harness.run(overrides, emulatorSettings: emulatorSettings, storage: journal, body)
        }
    }

    static func rename(_ from: String, headers: [String] = []) -> String {
        let body = #"{"from_public_id":"products/\#(from)","to_public_id":"products/\#(from)-new","invalidate":false}"#
        return HTTPFramingTests.post("/v1/renames", headers: headers + ["Content-Length: \(body.utf8.count)"], body: body)
    }

    /// The `from_public_id` of every job in `text`'s answers, in order.
    static func sources(_ text: String) -> [String] {
        text.matches(of: /"from_public_id":"products\/([a-z0-9]+)"/).map { String($0.output.1) }
    }

    /// Renames the handler answers, one Hummingbird answers (it has an `Idempotency-Key`), one it
    /// refuses (replayed to Hummingbird: 422), all in one write: the answers leave in request order.
    @Test(arguments: Storage.allCases)
    func pipelinedRequestsAreAnsweredInOrder(_ storage: Storage) async throws {
        try await Self.run(storage) { harness in
            let invalid = #"{"from_public_id":"products/x","to_public_id":"products/x"}"#
            let requests = [
                Self.rename("a"), Self.rename("b", headers: ["Idempotency-Key: pipelined-b"]), Self.rename("c"),
                HTTPFramingTests.post("/v1/renames", headers: ["Content-Length: \(invalid.utf8.count)"], body: invalid),
                Self.rename("d"), Self.rename("e"),
                "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            ]
            let answer = try await HTTPFramingTests.exchange(port: harness.daemonRun.port, requests.joined())
            #expect(HTTPFramingTests.statuses(answer) == [202, 202, 202, 422, 202, 202, 200], "\(answer)")
            #expect(Self.sources(answer) == ["a", "b", "c", "d", "e"], "\(answer)")
            #expect(Set(try await harness.allJobs().map(\.fromPublicID)) == Set(["a", "b", "c", "d", "e"].map { "products/\($0)" }))
        }
    }

    /// A request Hummingbird answers with `Connection: close` ends the connection: a rename
    /// pipelined behind it is not taken (its answer could not be sent).
    @Test(arguments: Storage.allCases)
    func nothingIsTakenAfterARequestThatCloses(_ storage: Storage) async throws {
        try await Self.run(storage) { harness in
            let requests = [Self.rename("a", headers: ["Connection: close"]), Self.rename("b")]
            let answer = try await HTTPFramingTests.exchange(port: harness.daemonRun.port, requests.joined())
            #expect(HTTPFramingTests.statuses(answer) == [202], "\(answer)")
            #expect(try await harness.allJobs().map(\.fromPublicID) == ["products/a"])
        }
    }

    /// A client that shuts its sending side after the request still gets its `202`, also while the
    /// job waits for its commit.
    @Test(arguments: Storage.allCases)
    func aHalfClosedClientGetsItsAnswer(_ storage: Storage) async throws {
        try await Self.run(storage) { harness in
            let answer = try await HTTPFramingTests.exchange(port: harness.daemonRun.port, Self.rename("a"), halfClose: true)
            #expect(HTTPFramingTests.statuses(answer) == [202], "\(answer)")
            #expect(Self.sources(answer) == ["a"])
        }
    }

    /// The event loop's `202` and the route's (an `Idempotency-Key` sends a request there) carry the
    /// same headers and the same fields, and both echo `X-Request-Id`.
    @Test(arguments: Storage.allCases)
    func theEventLoopAnswersAsTheRouteDoes(_ storage: Storage) async throws {
        try await Self.run(storage) { harness in
            let fast = try await harness.submit(
                ["from_public_id": "products/f", "to_public_id": "products/g", "invalidate": false],
                headers: [("X-Request-Id", "fast-1")]
            )
            let routed = try await harness.submit(
                ["from_public_id": "products/h", "to_public_id": "products/i", "invalidate": false],
                headers: [("X-Request-Id", "routed-1"), ("Idempotency-Key", "alike-1")]
            )
            #expect(fast.status == 202 && routed.status == 202)
            #expect(fast.header("X-Request-Id") == "fast-1" && routed.header("X-Request-Id") == "routed-1")
            for reply in [fast, routed] {
                let id = try #require(reply.json["id"] as? String)
                #expect(reply.header("Location") == "/v1/renames/\(id)")
                #expect(reply.header("Content-Type") == "application/json")
                #expect(reply.header("Date")?.hasSuffix(" GMT") == true)
            }
            #expect(Set(fast.json.keys) == Set(routed.json.keys))
            let formats = [fast, routed].map { $0.header("Date").map { $0.replacing(/\d/, with: "0") } }
            #expect(formats[0] == formats[1])
        }
    }

    /// A notification answered on the event loop and one the route answers (a `Connection` header
    /// sends it there) carry the same answer and headers; each accepted one's change is durable
    /// once it is answered (SPEC §1: Cloudinary hears 200 only then).
    @Test(arguments: Storage.allCases)
    func notificationsAreAnsweredAsTheRouteDoes(_ storage: Storage) async throws {
        try await Self.run(storage, NotificationTests.notificationCloud, emulatorSettings: NotificationTests.quietEmulator) { harness in
            let id = try await NotificationTests.pendingJob(harness)
            let body = Harness.renameNotification(from: "products/a", to: "products/b")
            let now = Int(Date().timeIntervalSince1970)
            let fast = try await harness.notify(body, timestamp: now, job: id, headers: [("X-Request-Id", "fast-n")])
            let stored = try await harness.components.store.storage.job(id)
            #expect(stored?.notifiedAt != nil, "answered before the notification's change was durable")
            let routed = try await harness.notify(
                body,
                timestamp: now - 1,
                job: id,
                headers: [("X-Request-Id", "routed-n"), ("Connection", "keep-alive")]
            )
            for reply in [fast, routed] {
                #expect(reply.status == 200)
                #expect(reply.json["status"] as? String == "accepted")
                #expect(reply.header("Content-Type") == "application/json")
                #expect(reply.header("Date")?.hasSuffix(" GMT") == true)
            }
            #expect(fast.header("X-Request-Id") == "fast-n" && routed.header("X-Request-Id") == "routed-n")
            #expect(fast.body == routed.body)
            let duplicate = try await harness.notify(body, timestamp: now, job: id)
            #expect(duplicate.json["status"] as? String == "duplicate")
        }
    }
}
