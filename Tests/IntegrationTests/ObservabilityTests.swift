import CloudinaryEmulator
import Foundation
import NIOHTTP1
import RenamerServer
import RenamerTestSupport
import Testing

/// Request ids and the metric families the README documents.
@Suite("Observability")
struct ObservabilityTests {
    /// `name{a="x",b="y"}` as the exposition writes a series.
    static func series(_ name: String, _ labels: [(String, String)]) -> String {
        labels.isEmpty ? name : name + "{" + labels.map { #"\#($0.0)="\#($0.1)""# }.joined(separator: ",") + "}"
    }

    /// Before any event: every family with its help, its type and a zero sample per known label set.
    @Test func everyFamilyIsExportedFromStartUp() async throws {
        try await Harness.run { harness in
            let text = try await harness.request(.GET, harness.daemonURL + "/metrics", token: nil).text
            let lines = Set(text.split(separator: "\n").map(String.init))
            for family in MetricFamily.all {
                #expect(lines.contains("# HELP \(family.name) \(family.help)"), "\(family.name): no help")
                for labels in family.labelSets {
                    switch family.kind {
                    case .counter:
                        #expect(lines.contains("# TYPE \(family.name) counter"))
                        #expect(lines.contains(Self.series(family.name, labels) + " 0"), "\(Self.series(family.name, labels))")
                    case .gauge:
                        #expect(lines.contains("# TYPE \(family.name) gauge"))
                        #expect(lines.contains(Self.series(family.name, labels) + " 0.0"), "\(Self.series(family.name, labels))")
                    case .durationHistogram(let buckets):
                        #expect(lines.contains("# TYPE \(family.name) histogram"))
                        #expect(lines.contains(Self.series(family.name + "_count", labels) + " 0"), "\(Self.series(family.name, labels))")
                        let top = Self.series(family.name + "_bucket", labels + [("le", "\(buckets.last!)")])
                        #expect(lines.contains(top + " 0"), "\(top)")
                    }
                }
            }
        }
    }

    /// The README's metrics table names exactly the families the daemon exports.
    @Test func readmeListsEveryFamily() throws {
        let readme = try String(contentsOf: PythonOracle.packageRoot.appending(path: "README.md"), encoding: .utf8)
        let documented = Set(
            readme.split(separator: "\n").compactMap { line -> String? in
                guard line.hasPrefix("| `renamer_") else { return nil }
                return String(line.dropFirst(3).prefix { $0 != "`" && $0 != "{" })
            }
        )
        #expect(documented == Set(MetricFamily.all.map(\.name)))
    }

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
            _ = try await harness.notify(Harness.renameNotification(from: "products/x", to: "products/y"))
            // The receiver records a callback when it arrives, the daemon counts it once the answer is
            // back: wait for the daemon's count (stress run: a scrape in between saw 0).
            var text = ""
            #expect(
                try await harness.eventually {
                    text = try await harness.request(.GET, harness.daemonURL + "/metrics", token: nil).text
                    return text.contains(#"renamer_callbacks_total{outcome="delivered"} 1"#)
                }
            )
            // Every series that exists now is one of the catalogue's, with its help: nothing
            // recorded at run time made a family or label set of its own.
            let lines = text.split(separator: "\n").map(String.init)
            let families = Dictionary(uniqueKeysWithValues: MetricFamily.all.map { ($0.name, $0) })
            for line in lines where line.hasPrefix("# TYPE ") {
                let name = String(line.split(separator: " ")[2])
                #expect(families[name] != nil && lines.contains { $0.hasPrefix("# HELP \(name) ") }, "\(name) is not catalogued")
            }
            for family in MetricFamily.all where family.labelSets.first?.isEmpty == false {
                if case .durationHistogram = family.kind { continue }
                let known = Set(family.labelSets.map { Self.series(family.name, $0) })
                for line in lines where line.hasPrefix(family.name + "{") {
                    #expect(known.contains(String(line.prefix { $0 != " " })), "unknown series: \(line)")
                }
            }
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
