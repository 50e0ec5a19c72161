import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The options and calls every client subcommand shares: where the daemon is, the token, and
/// waiting for a job to end.
struct DaemonClient: ParsableArguments {
    @Option(help: "Base URL of the daemon.") var url = "http://127.0.0.1:8080"
    @Option(help: "Environment variable holding the bearer token.") var tokenEnv = "RENAMER_TOKEN"
    @Flag(help: "Poll until the job completes, fails or is cancelled.") var wait = false
    @Option(help: "Seconds to wait at most with --wait.") var timeout: Double = 1800
    @Option(help: "Idempotency-Key header.") var idempotencyKey: String?

    var base: String { url.hasSuffix("/") ? String(url.dropLast()) : url }

    func token() throws -> String {
        guard let token = ProcessInfo.processInfo.environment[tokenEnv], !token.isEmpty else {
            throw ValidationError("set the bearer token in $\(tokenEnv) (or name another variable with --token-env)")
        }
        return token
    }

    /// Submits `body` to `path` and, with `--wait`, polls the job until it ends (printing
    /// progress for jobs with items); prints the final job. Exits 1 unless it was accepted (with
    /// `--wait`: completed).
    func submit(_ path: String, _ body: [String: Any]) async throws {
        let token = try token()
        var request = HTTPClientRequest(url: base + path)
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
        var lastProgress = ""
        while ContinuousClock.now < deadline {
            if let progress = Self.progress(job), progress != lastProgress {
                FileHandle.standardError.write(Data((progress + "\n").utf8))
                lastProgress = progress
            }
            if let status = job["status"] as? String, ["completed", "failed", "cancelled"].contains(status) { break }
            try await Task.sleep(for: .milliseconds(250))
            var poll = HTTPClientRequest(url: base + path + "/\(id)")
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

    /// `items 120/2500 done (renamed 118, failed 2, skipped 0) · renaming` for a folder rename or
    /// batch; nil for other jobs.
    static func progress(_ job: [String: Any]) -> String? {
        guard let id = job["id"] as? String, id.hasPrefix("fr_") || id.hasPrefix("bt_") else { return nil }
        let status = job["status"] as? String ?? "?"
        guard let result = job["result"] as? [String: Any], let items = result["items"] as? Int else { return "\(status)" }
        guard let renamed = result["renamed"] as? Int, let failed = result["failed"] as? Int, let skipped = result["skipped"] as? Int else {
            return "\(status): \(items) items planned"
        }
        return "items \(renamed + failed + skipped)/\(items) done (renamed \(renamed), failed \(failed), skipped \(skipped)) · \(status)"
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
