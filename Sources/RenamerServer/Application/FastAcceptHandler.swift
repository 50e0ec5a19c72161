import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOHTTPTypes
import RenamerConfig
import RenamerCore
import RenamerCrypto

/// Answers `POST /v1/renames` on the connection's event loop when the rename is accepted, and
/// Cloudinary's notifications (`POST /v1/notifications/cloudinary`) when they verify and memory has
/// their job; hands every other request (and every refusal) to Hummingbird unchanged (issue 17).
///
/// Through Hummingbird a request is a Swift task on the cooperative pool: the event loop that read
/// it wakes a pool thread, and the answer goes back to the event loop. That costs as much as the
/// rest of the HTTP stack (`Benchmarks/run.sh peers`: Hummingbird's floor ~21 µs per request, bare
/// SwiftNIO's ~10). Here the accept runs where the request was read: the same checks and the same
/// store as the route (``JobRoutes/storeWithoutWaiting(_:body:)``), then the answer once the
/// job is durable (at once in memory; from the journal's commit otherwise).
///
/// A notification is answered the same way: ``NotificationRoutes/receiveOnLoop(_:body:)`` runs the
/// route's checks and intake, and an accepted one is answered once its change is durable (SPEC §1).
///
/// What is taken: a `POST /v1/renames` with a `Content-Length` body and no `Idempotency-Key`, or a
/// `POST /v1/notifications/cloudinary` with a `Content-Length` body; neither with a
/// `Transfer-Encoding`, `Expect` or `Connection` header, and only when Hummingbird holds no request
/// of this connection. Anything else, and any request the checks would refuse, is passed on as it arrived
/// (buffered parts replayed), so Hummingbird answers it: one code path for every problem, for
/// pipelining and for connection handling. Requests that arrive while an accepted job waits for its
/// commit wait too (reading stops once one arrives), so answers leave in request order.
final class FastAcceptHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum State {
        /// Between requests.
        case idle
        /// Reading the body of a request this handler may answer.
        case reading(HTTPRequest, ByteBuffer, started: ContinuousClock.Instant)
        /// The rest of a request Hummingbird answers.
        case passing
        /// An accepted job waits for its commit; inbound parts wait in `held`.
        case committing
    }

    /// What arrived while a job waits for its commit, replayed in order once it is answered.
    private enum Held {
        case part(HTTPRequestPart)
        case event(Any)
        case error(any Error)
    }

    private let routes: JobRoutes
    private let notifications: NotificationRoutes
    private let logger: Logger
    private let mailboxes: EventLoopMailboxes
    private var loopMailbox: EventLoopMailbox?
    private var state = State.idle
    /// Requests passed to Hummingbird (counted at their head) whose answer has not ended yet.
    private var withHummingbird = 0
    /// A request passed to Hummingbird asked to close the connection: it reads nothing after it,
    /// so neither may this handler.
    private var closing = false
    private var held: [Held] = []
    private var readPending = false
    private var date = HTTPDate()

    init(routes: JobRoutes, notifications: NotificationRoutes, mailboxes: EventLoopMailboxes, logger: Logger) {
        self.routes = routes
        self.notifications = notifications
        self.mailboxes = mailboxes
        self.logger = logger
    }

    private func mailbox(_ context: ChannelHandlerContext) -> EventLoopMailbox {
        if let loopMailbox { return loopMailbox }
        let mailbox = mailboxes.mailbox(for: context.eventLoop)
        loopMailbox = mailbox
        return mailbox
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        arrive(.part(unwrapInboundIn(data)), context: context)
    }

    /// Events (the client closing its side, shutdown's quiescing) and errors must not overtake a
    /// request: one being read goes to Hummingbird first, one being committed is answered first.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        arrive(.event(event), context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        arrive(.error(error), context: context)
    }

    private func arrive(_ item: Held, context: ChannelHandlerContext) {
        switch (state, item) {
        case (.committing, _):
            held.append(item)
        case (.reading(let head, let body, _), .event), (.reading(let head, let body, _), .error):
            passBuffered(head, body, context: context)
            fire(item, context: context)
        case (_, .part(let part)):
            handle(part, context: context)
        case (.idle, _), (.passing, _):
            fire(item, context: context)
        }
    }

    private func fire(_ item: Held, context: ChannelHandlerContext) {
        switch item {
        case .part(let part): context.fireChannelRead(wrapInboundOut(part))
        case .event(let event): context.fireUserInboundEventTriggered(event)
        case .error(let error): context.fireErrorCaught(error)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        // While a job waits for its commit, reading stops once something has arrived behind it (a
        // pipelined request, the client closing its side), so `held` keeps at most one read's
        // worth. Stopping at once cost two `epoll_ctl` calls per request, for clients that send
        // nothing more until they are answered.
        if case .committing = state, !held.isEmpty {
            readPending = true
        } else {
            context.read()
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), withHummingbird > 0 { withHummingbird -= 1 }
        context.write(data, promise: promise)
    }

    private func handle(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch (state, part) {
        case (.idle, .head(let head)) where withHummingbird == 0 && mayTake(head):
            let length = head.headerFields[.contentLength].flatMap(Int.init) ?? 0
            state = .reading(head, context.channel.allocator.buffer(capacity: length), started: .now)
        case (.idle, .head(let head)):
            state = .passing
            withHummingbird += 1
            if let connection = head.headerFields[.connection], connection.lowercased().contains("close") { closing = true }
            context.fireChannelRead(wrapInboundOut(part))
        case (.reading(let head, var body, let started), .body(var chunk)):
            guard body.readableBytes + chunk.readableBytes <= routes.configuration.http.maxBodyBytes else {
                pass(head, body, then: part, context: context)
                return
            }
            state = .idle  // drops the state's reference, so the append does not copy the buffer
            body.writeBuffer(&chunk)
            state = .reading(head, body, started: started)
        case (.reading(let head, let body, let started), .end(nil)) where head.path != routes.kind.path:
            notify(head, body, started: started, context: context)
        case (.reading(let head, let body, let started), .end(nil)):
            guard let stored = routes.storeWithoutWaiting(head.headerFields, body: body) else {
                pass(head, body, then: part, context: context)
                return
            }
            whenCommitted(context: context) { handler, context, result in
                handler.committed(result, stored, head, body, started: started, context: context)
            }
        case (.reading(let head, let body, _), .end):
            pass(head, body, then: part, context: context)
        case (.passing, .end):
            state = .idle
            context.fireChannelRead(wrapInboundOut(part))
        default:
            context.fireChannelRead(wrapInboundOut(part))
        }
    }

    /// Hands a request to Hummingbird as it arrived: the head and body read so far, then `part`.
    private func pass(_ head: HTTPRequest, _ body: ByteBuffer, then part: HTTPRequestPart, context: ChannelHandlerContext) {
        passBuffered(head, body, context: context)
        handle(part, context: context)
    }

    /// Hands Hummingbird the head and body read so far; the rest of the request follows them.
    private func passBuffered(_ head: HTTPRequest, _ body: ByteBuffer, context: ChannelHandlerContext) {
        state = .passing
        withHummingbird += 1
        context.fireChannelRead(wrapInboundOut(.head(head)))
        if body.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(.body(body))) }
    }

    /// A notification read whole: answered here when the route's work needs no suspension, once
    /// an accepted one's change is durable; else Hummingbird answers it.
    private func notify(_ head: HTTPRequest, _ body: ByteBuffer, started: ContinuousClock.Instant, context: ChannelHandlerContext) {
        guard let result = notifications.receiveOnLoop(head, body: body) else {
            pass(head, body, then: .end(nil), context: context)
            return
        }
        guard result == .accepted else {
            state = .idle
            respond(notification: result, head, started: started, context: context)
            return
        }
        whenCommitted(context: context) { handler, context, outcome in
            handler.state = .idle
            switch outcome {
            case .success:
                handler.respond(notification: result, head, started: started, context: context)
            case .failure:
                handler.respond(problem: NotificationRoutes.notRecorded, head, started: started, context: context)
            }
            handler.resume(context: context)
        }
    }

    /// Waits (in state `committing`) until everything recorded so far is durable, then runs `then`
    /// on this connection's loop with the outcome, through the loop's mailbox.
    private func whenCommitted(
        context: ChannelHandlerContext,
        _ then: @escaping (FastAcceptHandler, ChannelHandlerContext, Result<Void, any Error>) -> Void
    ) {
        state = .committing
        let bound = NIOLoopBound((self, context, then), eventLoop: context.eventLoop)
        let mailbox = mailbox(context)
        routes.lifecycle.store.storage.whenDurable { result in
            mailbox.post {
                let (handler, context, then) = bound.value
                then(handler, context, result)
            }
        }
    }

    private func committed(
        _ result: Result<Void, any Error>,
        _ stored: JobRoutes.Stored,
        _ head: HTTPRequest,
        _ body: ByteBuffer,
        started: ContinuousClock.Instant,
        context: ChannelHandlerContext
    ) {
        state = .idle
        switch result {
        case .success:
            respond(stored, head, started: started, context: context)
        case .failure:
            // Not durable: forgotten, and the route answers (it finds the journal failing: 503).
            routes.abandon(stored)
            pass(head, body, then: .end(nil), context: context)
        }
        resume(context: context)
    }

    /// After an answer that waited for a commit: replays what arrived meanwhile and reads again.
    private func resume(context: ChannelHandlerContext) {
        // What arrived meanwhile, in order; it may be another job to commit.
        while !held.isEmpty {
            if case .committing = state { break }
            arrive(held.removeFirst(), context: context)
        }
        // Whatever was handed to Hummingbird is delivered now.
        context.fireChannelReadComplete()
        if case .committing = state { return }
        if readPending {
            readPending = false
            context.read()
        }
    }

    /// Writes the `202` as the route would, with the request's id, and logs the request as
    /// `RequestLogMiddleware` does.
    private func respond(_ stored: JobRoutes.Stored, _ head: HTTPRequest, started: ContinuousClock.Instant, context: ChannelHandlerContext) {
        let (id, logger) = requestLogger(head)
        let (response, body) = routes.accepted(stored, logger: logger)
        write(response, body, id: id, logger: logger, path: routes.kind.path, started: started, context: context)
    }

    /// The request's id (its `X-Request-Id` if acceptable, as `RequestLogMiddleware` takes it) and
    /// the handler's logger carrying it.
    private func requestLogger(_ head: HTTPRequest) -> (id: String, logger: Logger) {
        let id =
            head.headerFields[.requestID].flatMap(RequestLogMiddleware<RenamerRequestContext>.acceptable)
            ?? SecureRandom.identifierHex(byteCount: 8)
        var logger = logger
        logger[metadataKey: "request_id"] = .string(id)
        return (id, logger)
    }

    /// Writes a notification's `200`, as the route would.
    private func respond(
        notification result: NotificationIntake.Result,
        _ head: HTTPRequest,
        started: ContinuousClock.Instant,
        context: ChannelHandlerContext
    ) {
        let body = context.channel.allocator.buffer(string: NotificationRoutes.answerBody(result))
        let response = HTTPResponse(status: .ok, headerFields: [.contentType: "application/json", .contentLength: "\(body.readableBytes)"])
        let (id, logger) = requestLogger(head)
        write(response, body, id: id, logger: logger, path: NotificationRoutes.path, started: started, context: context)
    }

    /// Writes `problem` as the route would.
    private func respond(problem: Problem, _ head: HTTPRequest, started: ContinuousClock.Instant, context: ChannelHandlerContext) {
        let body = ByteBuffer(bytes: JSONWriter.encode(problem))
        var fields = problem.headers
        fields[.contentType] = "application/problem+json"
        fields[.contentLength] = "\(body.readableBytes)"
        let (id, logger) = requestLogger(head)
        let response = HTTPResponse(status: .init(code: problem.status), headerFields: fields)
        write(response, body, id: id, logger: logger, path: NotificationRoutes.path, started: started, context: context)
    }

    /// Writes a whole response with the request's id and the date, and logs the request as
    /// `RequestLogMiddleware` does.
    private func write(
        _ response: HTTPResponse,
        _ body: ByteBuffer,
        id: String,
        logger: Logger,
        path: String,
        started: ContinuousClock.Instant,
        context: ChannelHandlerContext
    ) {
        var response = response
        response.headerFields[.requestID] = id
        response.headerFields[.date] = date.now()
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        RequestLogMiddleware<RenamerRequestContext>.log(logger, method: "POST", path: path, status: response.status.code, since: started)
    }

    /// Whether the request is one this handler may answer; anything unusual goes to Hummingbird.
    private func mayTake(_ head: HTTPRequest) -> Bool {
        let fields = head.headerFields
        guard !closing, head.method == .post, let path = head.path, let length = fields[.contentLength].flatMap(Int.init),
            length <= routes.configuration.http.maxBodyBytes,
            fields[.transferEncoding] == nil && fields[.expect] == nil && fields[.connection] == nil
        else { return false }
        if path == routes.kind.path { return fields[.idempotencyKey] == nil }
        return NotificationRoutes.isPath(path)
    }
}

/// Work sent to one event loop from other threads, run in one task per batch: a journal commit
/// makes many jobs durable at once, and an `execute` per job woke the loop once per job (issue 17).
final class EventLoopMailbox: Sendable {
    let loop: any EventLoop
    /// Bounded by the jobs awaiting a commit on this loop's connections (one per connection).
    private let work = Locked<[@Sendable () -> Void]>([])

    init(loop: any EventLoop) {
        self.loop = loop
    }

    /// Runs `item` on the loop, after whatever was posted before it.
    func post(_ item: @escaping @Sendable () -> Void) {
        let first = work.withLock { work in
            work.append(item)
            return work.count == 1
        }
        if first { loop.execute { self.run() } }
    }

    private func run() {
        var items: [@Sendable () -> Void] = []
        work.withLock { swap(&items, &$0) }
        for item in items { item() }
    }
}

/// One ``EventLoopMailbox`` per event loop, made when a connection on the loop first needs it.
final class EventLoopMailboxes: Sendable {
    private let mailboxes = Locked<[ObjectIdentifier: EventLoopMailbox]>([:])

    init() {}

    func mailbox(for loop: any EventLoop) -> EventLoopMailbox {
        mailboxes.withLock { mailboxes in
            let key = ObjectIdentifier(loop)
            if let mailbox = mailboxes[key] { return mailbox }
            let mailbox = EventLoopMailbox(loop: loop)
            mailboxes[key] = mailbox
            return mailbox
        }
    }
}

/// The `Date` header's value (RFC 9110 IMF-fixdate), formatted once per second per connection.
struct HTTPDate {
    private var second = -1
    private var value = ""

    mutating func now() -> String {
        let now = Date()
        let second = Int(now.timeIntervalSince1970)
        if second != self.second {
            self.second = second
            value = Self.format(now)
        }
        return value
    }

    static func format(_ date: Date) -> String {
        var time = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
