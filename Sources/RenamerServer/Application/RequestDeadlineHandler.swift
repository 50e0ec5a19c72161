import NIOCore
import NIOHTTPTypes

/// Closes connections that hold the server without making progress (slow-loris clients):
/// a request head must arrive within ``headSeconds`` of connecting (``keepAliveSeconds`` after the
/// previous response), and its body within ``bodySeconds`` of the head. Byte-by-byte dribbling does
/// not extend either deadline, unlike an idle timeout. Requests being handled are not timed here.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    static let headSeconds: Int64 = 10
    static let bodySeconds: Int64 = 30
    static let keepAliveSeconds: Int64 = 60

    /// When the connection is closed unless it makes progress; nil while a request is handled.
    private var deadline: NIODeadline?
    /// At most one timer per connection, due no later than ``headSeconds`` after it was set, so it
    /// always fires before any deadline armed since (every deadline is at least that far away).
    /// Moving a deadline is an assignment: the timer is not rescheduled per request, only when it
    /// fires early (at most once per ``headSeconds`` per connection).
    private var timer: Scheduled<Void>?

    func handlerAdded(context: ChannelHandlerContext) {
        arm(context, seconds: Self.headSeconds)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: arm(context, seconds: Self.bodySeconds)
        case .body: break
        case .end: deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { arm(context, seconds: Self.keepAliveSeconds) }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, seconds: Int64) {
        deadline = .now() + .seconds(seconds)
        if timer == nil { schedule(context, at: deadline!) }
    }

    private func schedule(_ context: ChannelHandlerContext, at when: NIODeadline) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: min(when, .now() + .seconds(Self.headSeconds))) {
            let (handler, context) = loopBound.value
            handler.fired(context)
        }
    }

    private func fired(_ context: ChannelHandlerContext) {
        timer = nil
        guard let deadline else { return }  // a request is being handled; the next `arm` sets a timer
        if deadline <= .now() {
            context.close(promise: nil)
        } else {
            schedule(context, at: deadline)
        }
    }
}
