import CloudinaryEmulator
import RenamerCore
import RenamerOutbound
import Synchronization
import Testing

/// The CDN probe over HTTP (SPEC §5): one `HEAD`, its status; no answer is a failure. Both ways of
/// asking (awaited, and handed to a closure from the event loop) see the same.
@Suite("Delivery prober")
struct DeliveryProberTests {
    /// The outcome handed to the closure, waited for (bounded by the probe's own timeout).
    static func probed(_ url: String, timeout: Double = 5) async -> ProbeOutcome {
        await withCheckedContinuation { continuation in
            HTTPDeliveryProber().probe(url: url, timeout: timeout, tasks: TrackedTasks()) { continuation.resume(returning: $0) }
        }
    }

    @Test func servedGoneAndUnanswered() async throws {
        try await Harness.run { harness in
            harness.emulator.state.seed(publicID: "products/served", type: "upload")
            let served = "\(harness.emulatorURL)/demo/image/upload/products/served"
            let gone = "\(harness.emulatorURL)/demo/image/upload/products/never-there"
            #expect(await Self.probed(served) == .status(200))
            #expect(await HTTPDeliveryProber().probe(url: served, timeout: 5) == .status(200))
            #expect(await Self.probed(gone) == .status(404))
            #expect(await Self.probed(gone).showsGone)
            #expect(await HTTPDeliveryProber().probe(url: gone, timeout: 5) == .status(404))
            // Every probe reached the CDN as a HEAD of that path.
            let probes = harness.emulator.state.requests.filter { $0.operation == "delivery" }
            #expect(probes.map(\.method) == ["HEAD", "HEAD", "HEAD", "HEAD", "HEAD"])
        }
        // Port 1 on loopback refuses (the outbound client retries connecting until the timeout); a
        // URL that is not one fails before any connection.
        for url in ["http://127.0.0.1:1/demo/image/upload/x", "not a url"] {
            let outcome = await Self.probed(url, timeout: 1)
            guard case .failed = outcome else {
                Issue.record("\(url): \(outcome)")
                continue
            }
            #expect(!outcome.showsGone)
        }
    }
}
