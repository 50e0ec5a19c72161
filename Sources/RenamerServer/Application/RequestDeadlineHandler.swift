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

    private var timer: Scheduled<Void>?

    func handlerAdded(context: ChannelHandlerContext) {
        arm(context, seconds: Self.headSeconds)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: arm(context, seconds: Self.bodySeconds)
        case .body: break
        case .end:
            timer?.cancel()
            timer = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { arm(context, seconds: Self.keepAliveSeconds) }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, seconds: Int64) {
        timer?.cancel()
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: .seconds(seconds)) { channel.close(promise: nil) }
    }
}
