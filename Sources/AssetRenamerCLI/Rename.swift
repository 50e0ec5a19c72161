import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

struct Rename: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Submit a rename to a running daemon; with --wait, poll until it ends and print the final job.",
        discussion: "Exits 0 when the rename was accepted (or, with --wait, completed); 1 otherwise."
    )

    @Argument(help: "Public ID to rename.") var from: String
    @Argument(help: "New public ID.") var to: String
    @Option(help: "Base URL of the daemon.") var url = "http://127.0.0.1:8080"
    @Option(help: "Environment variable holding the bearer token.") var tokenEnv = "RENAMER_TOKEN"
    @Flag(help: "Poll until the job completes, fails or is cancelled.") var wait = false
    @Option(help: "Seconds to wait at most with --wait.") var timeout: Double = 1800
    @Option(help: "Cloud name as configured in the daemon (default: its default cloud).") var cloud: String?
    @Option(help: "image, video or raw.") var resourceType: String?
    @Option(help: "Delivery type of the source: upload, private or authenticated.") var type: String?
    @Option(help: "Delivery type of the target.") var toType: String?
    @Flag(help: "Replace an existing asset at the target.") var overwrite = false
    @Flag(inversion: .prefixedNo, help: "Invalidate CDN caches and confirm it before completing.") var invalidate = true
    @Option(help: "Callback URL (must be allowed for the client).") var callbackURL: String?
    @Option(help: "Free text echoed back in the job.") var clientReference: String?
    @Option(help: "Idempotency-Key header.") var idempotencyKey: String?

    func run() async throws {
        guard let token = ProcessInfo.processInfo.environment[tokenEnv], !token.isEmpty else {
            throw ValidationError("set the bearer token in $\(tokenEnv) (or name another variable with --token-env)")
        }
        var body: [String: Any] = ["from_public_id": from, "to_public_id": to, "invalidate": invalidate, "overwrite": overwrite]
        body["cloud"] = cloud
        body["resource_type"] = resourceType
        body["type"] = type
        body["to_type"] = toType
        body["callback_url"] = callbackURL
        body["client_reference"] = clientReference
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url

        var request = HTTPClientRequest(url: base + "/v1/renames")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        let (status, submitted) = try await Self.send(request)
        guard status == 202, let id = submitted["id"] as? String else {
            Self.printJSON(submitted)
            throw ExitCode(1)
        }
        guard wait else {
            Self.printJSON(submitted)
            return
        }
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        var job = submitted
        while ContinuousClock.now < deadline {
            if let status = job["status"] as? String, ["completed", "failed", "cancelled"].contains(status) { break }
            try await Task.sleep(for: .milliseconds(250))
            var poll = HTTPClientRequest(url: base + "/v1/renames/\(id)")
            poll.headers.add(name: "Authorization", value: "Bearer \(token)")
            let (pollStatus, polled) = try await Self.send(poll)
            guard pollStatus == 200 else {
                Self.printJSON(polled)
                throw ExitCode(1)
            }
            job = polled
        }
        Self.printJSON(job)
        guard job["status"] as? String == "completed" else { throw ExitCode(1) }
    }

    static func send(_ request: HTTPClientRequest) async throws -> (Int, [String: Any]) {
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]) ?? ["body": String(buffer: body)]
        return (Int(response.status.code), object)
    }

    static func printJSON(_ object: [String: Any]) {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
        print(String(decoding: data, as: UTF8.self))
    }
}
