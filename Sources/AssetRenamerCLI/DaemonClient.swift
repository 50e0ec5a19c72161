import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RenamerCrypto

/// The options and calls every client subcommand shares: where the daemon is, the token, and
/// waiting for a job to end.
///
/// Exit status: 0 the job was accepted (with `--wait`: completed), 1 it was refused, failed or was
/// cancelled, 3 `--wait` gave up at `--timeout` (the job goes on in the daemon).
struct DaemonClient: ParsableArguments {
    @Option(help: "Base URL of the daemon.") var url = "http://127.0.0.1:8080"
    @Option(help: "Environment variable holding the bearer token.") var tokenEnv = "RENAMER_TOKEN"
    @Flag(help: "Wait until the job completes, fails or is cancelled, printing its progress on standard error.") var wait = false
    @Option(help: "Seconds to wait at most with --wait (then exit 3).") var timeout: Double = 1800
    @Option(help: "Idempotency-Key header (default: a new one per run, so a retried submit is never accepted twice).")
    var idempotencyKey: String?

    static let timedOut = ExitCode(3)

    var base: String { url.hasSuffix("/") ? String(url.dropLast()) : url }

    func token() throws -> String {
        guard let token = ProcessInfo.processInfo.environment[tokenEnv], !token.isEmpty else {
            throw ValidationError("set the bearer token in $\(tokenEnv) (or name another variable with --token-env)")
        }
        return token
    }

    /// Submits `body` to `path`; with `--wait`, follows the job until it ends. Prints the job.
    func submit(_ path: String, _ body: [String: Any]) async throws {
        let token = try token()
        // A key of its own makes the POST safe to send again after a 503 or a lost connection.
        let key = idempotencyKey ?? "cli-" + SecureRandom.hexToken(byteCount: 12)
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        let payload = try JSONSerialization.data(withJSONObject: body)
        let (status, submitted) = try await retrying(until: deadline) {
            var request = HTTPClientRequest(url: base + path)
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "Idempotency-Key", value: key)
            request.body = .bytes(ByteBuffer(bytes: payload))
            return request
        }
        guard status == 202, let id = submitted["id"] as? String else {
            Self.printJSON(submitted)
            throw ExitCode(1)
        }
        guard wait else {
            Self.printJSON(submitted)
            return
        }
        try await follow(path + "/\(id)", first: submitted, token: token, deadline: deadline)
    }

    /// Polls `path` (a job) until it is final, printing each change on standard error; backs off
    /// while nothing changes and rides out a daemon restart (503, refused connections).
    func follow(_ path: String, first: [String: Any], token: String, deadline: ContinuousClock.Instant) async throws {
        var job = first
        var lastProgress = ""
        var pause = Self.firstPause
        while true {
            let progress = Self.progress(job)
            if progress != lastProgress {
                FileHandle.standardError.write(Data((progress + "\n").utf8))
                lastProgress = progress
                pause = Self.firstPause
            }
            if let status = job["status"] as? String, ["completed", "failed", "cancelled"].contains(status) {
                Self.printJSON(job)
                if status != "completed" { throw ExitCode(1) }
                return
            }
            guard ContinuousClock.now + pause < deadline else {
                Self.printJSON(job)
                FileHandle.standardError.write(Data("gave up waiting after \(Int(timeout)) s; the job goes on in the daemon\n".utf8))
                throw Self.timedOut
            }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, Self.longestPause)
            let (status, polled) = try await retrying(until: deadline) {
                var request = HTTPClientRequest(url: base + path)
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
                return request
            }
            guard status == 200 else {
                Self.printJSON(polled)
                throw ExitCode(1)
            }
            job = polled
        }
    }

    static let firstPause = Duration.milliseconds(250)
    static let longestPause = Duration.seconds(5)

    /// Sends the request `make` builds, again after a `503` or a connection error (a daemon
    /// restarting), with backoff, until `deadline` (then exit 3).
    func retrying(until deadline: ContinuousClock.Instant, _ make: () throws -> HTTPClientRequest) async throws -> (Int, [String: Any]) {
        var pause = Duration.milliseconds(500)
        while true {
            do {
                let (status, object) = try await Self.send(try make(), timeout: Self.requestTimeout)
                // A submit sent again while the first one is still being accepted: wait for it.
                let inFlight = status == 409 && (object["type"] as? String)?.hasSuffix("idempotency-in-flight") == true
                if status != 503 && !inFlight { return (status, object) }
                FileHandle.standardError.write(Data("daemon busy (\(status)); trying again\n".utf8))
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                // Refused or dropped connections, timeouts: the daemon may be restarting.
                FileHandle.standardError.write(Data("cannot reach the daemon (\(error)); trying again\n".utf8))
            }
            guard ContinuousClock.now + pause < deadline else { throw Self.timedOut }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, Self.longestPause)
        }
    }

    /// One line of progress: the status and, for a rename, its attempts and invalidation; for a
    /// folder rename or batch, its items (`items 120/2500 done (renamed 118, failed 2, skipped 0)`).
    static func progress(_ job: [String: Any]) -> String {
        let id = job["id"] as? String ?? "?"
        let status = job["status"] as? String ?? "?"
        if id.hasPrefix("fr_") || id.hasPrefix("bt_") {
            guard let result = job["result"] as? [String: Any], let items = result["items"] as? Int else { return "\(id) \(status)" }
            guard let renamed = result["renamed"] as? Int, let failed = result["failed"] as? Int, let skipped = result["skipped"] as? Int else {
                return "\(id) \(status): \(items) items planned"
            }
            return "\(id) items \(renamed + failed + skipped)/\(items) done (renamed \(renamed), failed \(failed), skipped \(skipped)) · \(status)"
        }
        var line = "\(id) \(status)"
        if let attempts = job["attempts"] as? Int, attempts > 0 { line += " · attempt \(attempts)" }
        if let invalidation = job["invalidation"] as? [String: Any], let state = invalidation["status"] as? String, state != "not_requested" {
            line += " · invalidation \(state)"
            if let method = invalidation["method"] as? String { line += " (\(method))" }
        }
        if let error = job["error"] as? [String: Any], let code = error["code"] as? String { line += " · \(code)" }
        return line
    }

    /// The collection a job id belongs to: `/v1/renames`, `/v1/folder-renames`, …
    static func path(of id: String) throws -> String {
        switch id.prefix(3) {
        case "rn_": "/v1/renames"
        case "au_": "/v1/asset-updates"
        case "fr_": "/v1/folder-renames"
        case "bt_": "/v1/batches"
        default: throw ValidationError("\(id) is not a job id (rn_…, au_…, fr_… or bt_…)")
        }
    }

    /// Each request's bound. AsyncHTTPClient keeps trying to connect to a daemon that is down
    /// until it, so it is also how soon a restart shows (and is tried again with backoff).
    static let requestTimeout = TimeAmount.seconds(5)

    static func send(_ request: HTTPClientRequest, timeout: TimeAmount = .seconds(30)) async throws -> (Int, [String: Any]) {
        let response = try await HTTPClient.shared.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 16 << 20)
        let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]) ?? ["body": String(buffer: body)]
        return (Int(response.status.code), object)
    }

    static func printJSON(_ object: Any) {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
        print(String(decoding: data, as: UTF8.self))
    }
}

/// `get ID`: one job of any kind; `--items` adds a folder rename's or batch's items.
struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a job (rename, asset update, folder rename or batch) by id; with --wait, follow it until it ends.",
        discussion: "Exits 0 when found (with --wait: completed), 1 when not found, failed or cancelled, 3 when --wait timed out."
    )

    @Argument(help: "The job id (rn_…, au_…, fr_…, bt_…).") var id: String
    @Flag(help: "Also print every item of a folder rename or batch (all pages), as {\"job\", \"items\"}.") var items = false
    @OptionGroup var daemon: DaemonClient

    func run() async throws {
        let token = try daemon.token()
        let path = try DaemonClient.path(of: id) + "/\(id)"
        let deadline = ContinuousClock.now + .milliseconds(Int(daemon.timeout * 1000))
        let (status, job) = try await daemon.retrying(until: deadline) {
            var request = HTTPClientRequest(url: daemon.base + path)
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            return request
        }
        guard status == 200 else {
            DaemonClient.printJSON(job)
            throw ExitCode(1)
        }
        if daemon.wait { try await daemon.follow(path, first: job, token: token, deadline: deadline) }
        guard items else {
            if !daemon.wait { DaemonClient.printJSON(job) }
            return
        }
        var all: [Any] = []
        var cursor: String?
        repeat {
            let query = "?limit=1000" + (cursor.map { "&cursor=\($0)" } ?? "")
            let (pageStatus, page) = try await daemon.retrying(until: deadline) {
                var request = HTTPClientRequest(url: daemon.base + path + "/items" + query)
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
                return request
            }
            guard pageStatus == 200 else {
                DaemonClient.printJSON(page)
                throw ExitCode(1)
            }
            all += page["items"] as? [Any] ?? []
            cursor = page["next_cursor"] as? String
        } while cursor != nil
        DaemonClient.printJSON(["job": job, "items": all])
    }
}

/// `list`: this client's jobs of one kind, newest first.
struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List this client's jobs of one kind, newest first: {\"items\": […], \"next_cursor\": …}.",
        discussion: "Exits 0 on success, 1 when the daemon refuses (bad status, cursor or token)."
    )

    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case renames
        case assetUpdates = "asset-updates"
        case folderRenames = "folder-renames"
        case batches
    }

    @Option(help: "renames, asset-updates, folder-renames or batches.") var kind: Kind = .renames
    @Option(help: "Only jobs in this status (queued, renaming, completed, …).") var status: String?
    @Option(help: "Jobs per page, 1–100.") var limit = 20
    @Option(help: "The next_cursor of the previous page.") var cursor: String?
    @OptionGroup var daemon: DaemonClient

    func run() async throws {
        let token = try daemon.token()
        var query = ["limit": String(limit)]
        query["status"] = status
        query["cursor"] = cursor
        let url =
            daemon.base + "/v1/\(kind.rawValue)?"
            + query.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.escape($0.value))" }.joined(separator: "&")
        let deadline = ContinuousClock.now + .milliseconds(Int(daemon.timeout * 1000))
        let (code, page) = try await daemon.retrying(until: deadline) {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            return request
        }
        DaemonClient.printJSON(page)
        guard code == 200 else { throw ExitCode(1) }
    }

    static func escape(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_."))) ?? value
    }
}

/// `cancel ID`: a job that has not called Cloudinary yet; a running folder rename or batch stops.
struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cancel a job that has not called Cloudinary yet (a running folder rename or batch stops starting items).",
        discussion: "Prints the job. Exits 0 when the daemon took the cancel (200), 1 otherwise (409: it already started; 404)."
    )

    @Argument(help: "The job id (rn_…, au_…, fr_…, bt_…).") var id: String
    @OptionGroup var daemon: DaemonClient

    func run() async throws {
        let token = try daemon.token()
        let url = daemon.base + (try DaemonClient.path(of: id)) + "/\(id)"
        let deadline = ContinuousClock.now + .milliseconds(Int(daemon.timeout * 1000))
        let (status, job) = try await daemon.retrying(until: deadline) {
            var request = HTTPClientRequest(url: url)
            request.method = .DELETE
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            return request
        }
        DaemonClient.printJSON(job)
        guard status == 200 else { throw ExitCode(1) }
    }
}
