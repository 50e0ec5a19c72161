import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import RenamerCore
import Synchronization

/// Probes delivery URLs with `HEAD`, redirects not followed (SPEC §5).
public struct HTTPDeliveryProber: DeliveryProber {
    let http: HTTPClient

    public init(http: HTTPClient = .outbound) {
        self.http = http
    }

    /// From the event loop that has the answer to `done`: no task, so none of the two hand-offs
    /// between the event loop and the cooperative pool that an awaited request (head, then end)
    /// costs. The body, if any, is discarded as it arrives.
    public func probe(url: String, timeout: Double, tasks: TrackedTasks, then done: @escaping @Sendable (ProbeOutcome) -> Void) {
        let request: HTTPClient.Request
        do {
            request = try HTTPClient.Request(url: url, method: .HEAD, headers: ["User-Agent": "asset-renamer"])
        } catch {
            done(.failed(reason: "\(error)"))
            return
        }
        let delegate = StatusOnly()
        http.execute(request: request, delegate: delegate, deadline: .now() + .milliseconds(Int64(timeout * 1000))).futureResult
            .whenComplete { result in
                switch result {
                case .success(let status): done(.status(status))
                case .failure(let error): done(.failed(reason: "\(error)"))
                }
            }
    }

    public func probe(url: String, timeout: Double) async -> ProbeOutcome {
        await withCheckedContinuation { continuation in
            probe(url: url, timeout: timeout, tasks: TrackedTasks()) { continuation.resume(returning: $0) }
        }
    }
}

/// Keeps a response's status and discards its body.
private final class StatusOnly: HTTPClientResponseDelegate {
    private let status = Atomic<Int>(0)

    func didReceiveHead(task: HTTPClient.Task<Int>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        status.store(Int(head.status.code), ordering: .relaxed)
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didFinishRequest(task: HTTPClient.Task<Int>) throws -> Int {
        status.load(ordering: .relaxed)
    }
}
