import Foundation
import Hummingbird
import Metrics
import RenamerCore

/// `/healthz`, `/readyz` and `/metrics` (SPEC §2, no authentication).
struct OperationsRoutes {
    let readiness: Readiness
    let metrics: RenamerMetrics
    let store: JobStore
    let callbacks: CallbackDelivery
    let clock: any RenamerClock

    func register(on router: Router<RenamerRequestContext>) {
        router.get("healthz") { _, _ in
            Self.text("ok\n", status: .ok)
        }
        router.get("readyz") { _, _ in
            switch readiness.current {
            case .ready:
                // With several replicas, not while the database cannot be reached (SPEC §12).
                if let replicas = store.replicas, !replicas.isReachable {
                    var response = Self.text("database unreachable\n", status: .serviceUnavailable)
                    response.headers[.retryAfter] = "1"
                    return response
                }
                return Self.text("ready\n", status: .ok)
            case .starting:
                var response = Self.text("starting\n", status: .serviceUnavailable)
                response.headers[.retryAfter] = "1"
                return response
            case .draining:
                var response = Self.text("draining\n", status: .serviceUnavailable)
                response.headers[.retryAfter] = "5"
                return response
            }
        }
        router.get("metrics") { _, _ async in
            // Computed at scrape time: the age of the oldest job still waiting for its rename.
            let oldest = store.oldestUnfinishedRenameCreatedAt.map { clock.now().timeIntervalSince($0) } ?? 0
            metrics.gauge("renamer_queue_oldest_job_age_seconds").record(oldest)
            metrics.gauge("renamer_queue_depth").record(store.unfinishedRenameCount)
            let backlog = await callbacks.backlog()
            for (state, count) in [("due", backlog.due), ("in_flight", backlog.inFlight), ("retrying", backlog.retrying)] {
                metrics.gauge("renamer_callbacks_backlog", [("state", state)]).record(count)
            }
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition()))
            )
        }
    }

    static func text(_ text: String, status: HTTPResponse.Status) -> Response {
        Response(
            status: status,
            headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }
}
