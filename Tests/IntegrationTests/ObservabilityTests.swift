import CloudinaryEmulator
import Foundation
import NIOHTTP1
import RenamerServer
import Testing

/// Request ids and the metric families the README documents.
@Suite("Observability")
struct ObservabilityTests {
    @Test func requestIDIsEchoedOrGenerated() async throws {
        try await Harness.run { harness in
            let given = try await harness.request(.GET, harness.daemonURL + "/healthz", token: nil, headers: [("X-Request-Id", "req-42")])
            #expect(given.header("X-Request-Id") == "req-42")
            let generated = try await harness.request(.GET, harness.daemonURL + "/v1/renames/rn_nope")
            #expect(generated.header("X-Request-Id")?.count == 16)
            let invalid = try await harness.request(.GET, harness.daemonURL + "/healthz", token: nil, headers: [("X-Request-Id", "has space")])
            #expect(invalid.header("X-Request-Id") != "has space")
        }
    }

    @Test func everyDocumentedMetricFamilyIsExposed() async throws {
        try await Harness.run(emulatorSettings: ConfirmationAndCallbackTests.emulator(invalidationDelay: 0.2)) { harness in
            harness.emulator.state.seed(publicID: "products/a")
            let id = try #require(
                try await harness.submit(["from_public_id": "products/a", "to_public_id": "products/b", "callback_url": harness.callbackURL]).json[
                    "id"
                ]
                    as? String
            )
            _ = try await harness.submit(["from_public_id": "bad?"])
            _ = try await harness.waitForJob(id, status: "completed")
            #expect(await harness.eventually { harness.receiver.deliveries.count == 1 })
            _ = try await harness.notify(Harness.renameNotification(from: "products/x", to: "products/y"))
            let text = try await harness.request(.GET, harness.daemonURL + "/metrics", token: nil).text
            for family in [
                "renamer_renames_accepted_total 1", #"renamer_renames_rejected_total{reason="invalid"} 1"#, "renamer_queue_depth",
                "renamer_queue_oldest_job_age_seconds", #"renamer_cloudinary_requests_total{outcome="success"} 1"#,
                "renamer_cloudinary_request_duration_seconds", #"renamer_notifications_total{result="ignored"}"#,
                #"renamer_callbacks_total{outcome="delivered"} 1"#, "renamer_callback_duration_seconds",
                #"renamer_jobs_finished_total{status="completed"} 1"#, "renamer_invalidation_confirmation_seconds",
                #"renamer_invalidations_total{method="probe",outcome="confirmed"} 1"#, "renamer_probes_total",
            ] {
                #expect(text.contains(family), "\(family)")
            }
        }
    }
}
