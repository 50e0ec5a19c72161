// The floors under issue 17's accept benchmark: what the HTTP stack alone costs, with nothing of
// the daemon. `POST /v1/renames` reads the body (as every accept must) and answers 202 with a
// `Location` and a fixed job-sized JSON document; no auth, parsing, storage or queue.
// `GET /healthz` answers 200. Benchmarks/run.sh peers measures both beside the Node peer and the
// daemon in one run.
//
//   http-floor hummingbird PORT   Hummingbird 2, as the daemon uses it (router, async handler)
//   http-floor nio PORT           SwiftNIO's HTTP/1 pipeline answering on the event loop: no
//                                 Swift task per request, no hop to the cooperative pool and back
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOPosix

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
default:
    let router = Router()
    router.get("healthz") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
    }
    router.post("v1/renames") { request, _ -> Response in
        _ = try await request.body.collect(upTo: 65536)
        return Response(
            status: .accepted,
            headers: [.contentType: "application/json", .location: location],
            body: .init(byteBuffer: ByteBuffer(string: job))
        )
    }
    let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil))
    try await app.runService()
}

/// SwiftNIO's HTTP/1 server pipeline with a handler that answers on the event loop.
enum NIOFloor {
    final class Handler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private var head: HTTPRequestHead?

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): self.head = head
            case .body: break
            case .end:
                guard let head else { return }
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
                self.head = nil
            }
        }
    }

    static func run(port: Int) async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap { channel.pipeline.addHandler(Handler()) }
            }
            .bind(host: "127.0.0.1", port: port)
            .get()
        try await channel.closeFuture.get()
    }
}
