// The framework's floor for issue 17's accept benchmark: Hummingbird 2 with nothing of the daemon.
// `POST /v1/renames` reads the body (as every accept must) and answers 202 with a `Location` and a
// fixed job-sized JSON document; no auth, parsing, storage or queue. `GET /healthz` answers 200.
// Benchmarks/run.sh peers measures it beside the Node peer and the daemon in one run: no route on
// this stack can be cheaper than this one. Usage: hummingbird-floor PORT
import Hummingbird

let port = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 19561
let job = ByteBuffer(
    string: #"""
        {"id":"rn_0123456789abcdef01234567","status":"queued","from_public_id":"bench/t0-1","to_public_id":"bench/t0-1-new",\#
        "resource_type":"image","type":"upload","to_type":null,"overwrite":false,"invalidate":false,"cloud":"main",\#
        "callback_url":null,"client_reference":null,"attempts":0,"created_at":"2026-11-30T00:00:00.000Z",\#
        "updated_at":"2026-11-30T00:00:00.000Z","completed_at":null,"error":null,"result":null}
        """#
)
let router = Router()
router.get("healthz") { _, _ in
    Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
}
router.post("v1/renames") { request, _ -> Response in
    _ = try await request.body.collect(upTo: 65536)
    return Response(
        status: .accepted,
        headers: [.contentType: "application/json", .location: "/v1/renames/rn_0123456789abcdef01234567"],
        body: .init(byteBuffer: job)
    )
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil))
try await app.runService()
