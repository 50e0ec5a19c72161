// The floors under issue 17's accept benchmark: what the HTTP stack alone costs, with nothing of
// the daemon. `POST /v1/renames` reads the body (as every accept must) and answers 202 with a
// `Location` and a fixed job-sized JSON document; no auth, parsing, storage or queue.
// `GET /healthz` answers 200. Benchmarks/run.sh peers measures both beside the Node peer and the
// daemon in one run.
//
//   http-floor hummingbird PORT   Hummingbird 2, as the daemon uses it (router, async handler)
//   http-floor nio PORT           SwiftNIO's HTTP/1 pipeline answering on the event loop: no
//                                 Swift task per request, no hop to the cooperative pool and back
//   http-floor nio-sqlite PORT PATH [GATHER_MICROSECONDS]
//                                 the durable floor: the SwiftNIO floor, but each POST's answer
//                                 waits for its row (a unique id and a job-sized JSON body, one
//                                 table with its primary key) to be committed to a SQLite database
//                                 at PATH as the journal commits (GRDB, WAL, synchronous = FULL, one
//                                 writer, group commit after a wait for company: the journal's 0.5 ms
//                                 unless given); the
//                                 answers of a commit reach each event loop in one task
//   http-floor hummingbird-sqlite PORT PATH [GATHER_MICROSECONDS]
//                                 the durable floor on the daemon's framework: the Hummingbird
//                                 floor, each POST's answer waiting for its row as nio-sqlite's does
//   http-floor client URL SECONDS CONCURRENCY
//                                 the outbound floor: AsyncHTTPClient configured as the daemon's
//                                 (HTTP/1, pooled, no redirects) POSTing a callback-sized JSON body
//                                 to URL, CONCURRENCY at a time; prints requests and this process's
//                                 CPU per request (the end-to-end run's three outbound calls per job)
import AsyncHTTPClient
import Foundation
import GRDB
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

let arguments = CommandLine.arguments.dropFirst()
let port = arguments.dropFirst().first.flatMap(Int.init) ?? 19561
let job = #"""
    {"id":"rn_0123456789abcdef01234567","status":"queued","from_public_id":"bench/t0-1","to_public_id":"bench/t0-1-new",\#
    "resource_type":"image","type":"upload","to_type":null,"overwrite":false,"invalidate":false,"cloud":"main",\#
    "callback_url":null,"client_reference":null,"attempts":0,"created_at":"2026-11-30T00:00:00.000Z",\#
    "updated_at":"2026-11-30T00:00:00.000Z","completed_at":null,"error":null,"result":null}
    """#
let location = "/v1/renames/rn_0123456789abcdef01234567"

switch arguments.first {
case "nio":
    try await NIOFloor.run(port: port)
case "nio-sqlite":
    try await NIOFloor.run(port: port, journal: try durableJournal())
case "hummingbird-sqlite":
    try await HummingbirdFloor.run(port: port, journal: try durableJournal())
case "client":
    let values = Array(arguments.dropFirst())
    guard values.count == 3, let seconds = Double(values[1]), let concurrency = Int(values[2]) else {
        print("usage: http-floor client URL SECONDS CONCURRENCY")
        exit(2)
    }
    try await ClientFloor.run(url: values[0], seconds: seconds, concurrency: concurrency)
default:
    try await HummingbirdFloor.run(port: port, journal: nil)
}

/// The journal of a durable floor: PATH and GATHER_MICROSECONDS (default the journal's 500) after
/// the mode and port.
func durableJournal() throws -> FloorJournal {
    guard let path = arguments.dropFirst(2).first else {
        print("usage: http-floor \(arguments.first ?? "nio-sqlite") PORT PATH [GATHER_MICROSECONDS]")
        exit(2)
    }
    return try FloorJournal(path: path, gatherMicroseconds: arguments.dropFirst(3).first.flatMap(UInt32.init) ?? 500)
}

/// Hummingbird 2 as the daemon uses it: router, async handler; with `journal`, each POST's answer
/// waits for its row's commit.
enum HummingbirdFloor {
    static func run(port: Int, journal: FloorJournal?) async throws {
        let router = Router()
        router.get("healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
        }
        router.post("v1/renames") { request, _ -> Response in
            _ = try await request.body.collect(upTo: 65536)
            if let journal {
                await withCheckedContinuation { (committed: CheckedContinuation<Void, Never>) in
                    journal.record(on: nil) { committed.resume() }
                }
            }
            return Response(
                status: .accepted,
                headers: [.contentType: "application/json", .location: location],
                body: .init(byteBuffer: ByteBuffer(string: job))
            )
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil))
        try await app.runService()
    }
}

/// SwiftNIO's HTTP/1 server pipeline with a handler that answers on the event loop.
enum NIOFloor {
    final class Handler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private var head: HTTPRequestHead?
        private let journal: FloorJournal?

        init(journal: FloorJournal?) {
            self.journal = journal
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): self.head = head
            case .body: break
            case .end:
                guard let head else { return }
                self.head = nil
                if let journal, head.method == .POST {
                    let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                    journal.record(on: context.eventLoop) { bound.value.0.respond(head, context: bound.value.1) }
                } else {
                    respond(head, context: context)
                }
            }
        }

        private func respond(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
            let renames = head.method == .POST && head.uri == "/v1/renames"
            let body = context.channel.allocator.buffer(string: renames ? job : #"{"status":"ok"}"#)
            var headers: HTTPHeaders = ["Content-Type": "application/json", "Content-Length": "\(body.readableBytes)"]
            if renames { headers.add(name: "Location", value: location) }
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: renames ? .accepted : .ok, headers: headers))),
                promise: nil
            )
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    static func run(port: Int, journal: FloorJournal? = nil) async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap { channel.pipeline.addHandler(Handler(journal: journal)) }
            }
            .bind(host: "127.0.0.1", port: port)
            .get()
        try await channel.closeFuture.get()
    }
}

/// AsyncHTTPClient as the daemon's outbound client is set up, sending requests back to back.
enum ClientFloor {
    static func run(url: String, seconds: Double, concurrency: Int) async throws {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5)))
        configuration.httpVersion = .http1Only
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency)
        configuration.tracing.tracer = nil
        let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
        let body = [UInt8](job.utf8)
        let cpuBefore = cpuSeconds()
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        let started = ContinuousClock.now
        let sent = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var count = 0
                    while ContinuousClock.now < deadline {
                        var request = HTTPClientRequest(url: url)
                        request.method = .POST
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.headers.add(name: "webhook-id", value: "msg_0123456789abcdef")
                        request.body = .bytes(body)
                        let response = try await client.execute(request, deadline: .now() + .seconds(10))
                        _ = try await response.body.collect(upTo: 65536)
                        count += 1
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = ContinuousClock.now - started
        let cpu = cpuSeconds() - cpuBefore
        let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(
            String(
                format: "%d requests in %.1f s: %.0f req/s, client CPU %.1f µs per request",
                sent,
                wall,
                Double(sent) / wall,
                cpu * 1e6 / Double(sent)
            )
        )
        try await client.shutdown()
    }

    /// This process's user and system CPU time so far.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}

/// The least a durable accept can do with the daemon's journal design: one row per request, group
/// committed by one writer, answered once committed.
final class FloorJournal: @unchecked Sendable {
    private struct State {
        var rows: [(id: String, done: @Sendable () -> Void, loop: (any EventLoop)?)] = []
        var flushing = false
        var sequence = 0
    }

    private let database: DatabasePool
    private let queue = DispatchQueue(label: "http-floor.journal")
    private let state = Mutex(State())
    private let gatherMicroseconds: UInt32

    init(path: String, gatherMicroseconds: UInt32) throws {
        self.gatherMicroseconds = gatherMicroseconds
        database = try DatabasePool(path: path)
        // After the pool's own WAL setup, which leaves the writer at `synchronous = NORMAL` (as
        // the journal does: SQLiteJournal.init).
        try database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try database.write { db in
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY NOT NULL, sequence INTEGER NOT NULL, body BLOB NOT NULL)")
        }
    }

    /// Records a row for this request; once it is committed, `done` runs on `loop` (the calling
    /// event loop), or on the writer's queue when there is none (a Swift task resumes from there).
    func record(on loop: (any EventLoop)?, _ done: @escaping @Sendable () -> Void) {
        let id = "rn_" + String(UInt64.random(in: 1 << 60...UInt64.max), radix: 16) + String(UInt32.random(in: 1 << 28...UInt32.max), radix: 16)
        let start = state.withLock { state in
            state.rows.append((id, done, loop))
            defer { state.flushing = true }
            return !state.flushing
        }
        if start {
            queue.async {
                if self.gatherMicroseconds > 0 { usleep(self.gatherMicroseconds) }
                self.flush()
            }
        }
    }

    private func flush() {
        let (rows, first) = state.withLock { state in
            defer {
                state.sequence += state.rows.count
                state.rows = []
            }
            return (state.rows, state.sequence)
        }
        let body = Data(job.utf8)
        try! database.write { db in
            let insert = try db.cachedStatement(sql: "INSERT INTO jobs (id, sequence, body) VALUES (?, ?, ?)")
            for (offset, row) in rows.enumerated() { try insert.execute(arguments: [row.id, first + offset, body]) }
        }
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, done: [@Sendable () -> Void])] = [:]
        for row in rows {
            guard let loop = row.loop else {
                row.done()
                continue
            }
            byLoop[ObjectIdentifier(loop), default: (loop, [])].done.append(row.done)
        }
        for (_, entry) in byLoop { entry.loop.execute { for done in entry.done { done() } } }
        let again = state.withLock { state in
            state.flushing = !state.rows.isEmpty
            return state.flushing
        }
        if again { queue.async { self.flush() } }
    }
}
