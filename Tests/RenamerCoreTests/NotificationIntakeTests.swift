import Foundation
import Logging
import RenamerConfig
import RenamerTestSupport
import Testing

@testable import RenamerCore

@Suite("Notification intake")
struct NotificationIntakeTests {
    struct Fixture {
        let store = JobStore()
        let clock = ManualClock()
        let intake: NotificationIntake

        init() async throws {
            let configuration = try await ConfigurationLoader.load(
                .init(overrides: [
                    "clouds.main.cloud_name": "d", "clouds.main.api_key": "k", "clouds.main.api_secret": "s",
                    "clouds.main.invalidation.method": "notification",
                ])
            )
            let confirmer = InvalidationConfirmer(
                configuration: configuration,
                store: store,
                prober: ScriptedProber(),
                clock: clock,
                logger: Logger(label: "t"),
                onCompleted: { _ in }
            )
            intake = NotificationIntake(store: store, confirmer: confirmer, clock: clock, logger: Logger(label: "t"))
        }

        @discardableResult
        func job(
            _ id: String,
            from: String,
            to: String,
            status: JobStatus = .renaming,
            type: DeliveryType = .upload,
            method: RenameJob.Invalidation.Method = .notification
        ) -> RenameJob {
            let job = RenameJob.fixture(id: id, from: from, to: to, type: type, invalidate: true, method: method, attempts: 1)
            return store.insert(job, movingThrough: status == .queued ? [] : [.renaming], now: clock.now())!
        }

        func body(_ fields: [String: String]) -> [String: JSONValue] { fields.mapValues { .string($0) } }
    }

    @Test func renameNotificationMarksTheMatchingJob() async throws {
        let fixture = try await Fixture()
        fixture.job("rn_1", from: "a", to: "b")
        let result = await fixture.intake.handle(
            cloud: "main",
            jobHint: "rn_1",
            body: fixture.body([
                "notification_type": "rename", "from_public_id": "a", "to_public_id": "b", "resource_type": "image", "type": "upload",
            ])
        )
        #expect(result == .accepted)
        #expect(fixture.store.workingJob("rn_1")?.notifiedAt != nil)
    }

    /// A job confirmed by probing only notes the notification's time: storage gets it with the
    /// job's next change. For a job the notification confirms, storage gets it at once.
    @Test func aProbedJobStoresTheNotificationTimeWithItsNextChange() async throws {
        let fixture = try await Fixture()
        fixture.job("rn_n", from: "n", to: "m")
        fixture.job("rn_p", from: "p", to: "q", method: .probe)
        let accepted = try #require(fixture.store.workingJob("rn_p")).updatedAt
        fixture.clock.advance(by: 5)
        for (id, from, to) in [("rn_n", "n", "m"), ("rn_p", "p", "q")] {
            let body = fixture.body(["notification_type": "rename", "from_public_id": from, "to_public_id": to])
            #expect(await fixture.intake.handle(cloud: "main", jobHint: id, body: body) == .accepted)
            #expect(fixture.store.workingJob(id)?.notifiedAt != nil)
        }
        #expect(try await fixture.store.storage.job("rn_n")?.notifiedAt != nil)
        #expect(try await fixture.store.storage.job("rn_p")?.notifiedAt == nil)
        // The API shows no change for the probed job until its next one.
        #expect(fixture.store.workingJob("rn_n")?.updatedAt == fixture.clock.now())
        #expect(fixture.store.workingJob("rn_p")?.updatedAt == accepted)
        let now = fixture.clock.now()
        try fixture.store.transition("rn_p", now: now) { job throws(JobTransitionError) in try job.move(to: .confirmingInvalidation, now: now) }
        #expect(try await fixture.store.storage.job("rn_p")?.notifiedAt == fixture.store.workingJob("rn_p")?.notifiedAt)
        #expect(try await fixture.store.storage.job("rn_p")?.notifiedAt != nil)
    }

    @Test func hintNamingAnotherJobLeavesItUntouched() async throws {
        let fixture = try await Fixture()
        fixture.job("rn_x", from: "x", to: "y")
        fixture.job("rn_y", from: "a", to: "b")
        let result = await fixture.intake.handle(
            cloud: "main",
            jobHint: "rn_x",
            body: fixture.body(["notification_type": "rename", "from_public_id": "a", "to_public_id": "b"])
        )
        #expect(result == .accepted)
        #expect(fixture.store.workingJob("rn_x")?.notifiedAt == nil)
        #expect(fixture.store.workingJob("rn_y")?.notifiedAt != nil)
    }

    /// A notification for a job that finished (and left memory) changes nothing and is accepted,
    /// found by its hint or among the jobs that finished lately; one matching nothing is ignored.
    @Test func aNotificationForAFinishedJobIsAccepted() async throws {
        let fixture = try await Fixture()
        fixture.job("rn_f", from: "f", to: "g")
        let now = fixture.clock.now()
        try fixture.store.transition("rn_f", now: now) { job throws(JobTransitionError) in try job.move(to: .confirmingInvalidation, now: now) }
        try fixture.store.transition("rn_f", now: now) { job throws(JobTransitionError) in try job.move(to: .completed, now: now) }
        #expect(fixture.store.workingJob("rn_f") == nil)
        let rename = fixture.body(["notification_type": "rename", "from_public_id": "f", "to_public_id": "g"])
        #expect(await fixture.intake.handle(cloud: "main", jobHint: "rn_f", body: rename) == .accepted)
        #expect(await fixture.intake.handle(cloud: "main", jobHint: nil, body: rename) == .accepted)
        let other = fixture.body(["notification_type": "rename", "from_public_id": "f", "to_public_id": "h"])
        #expect(await fixture.intake.handle(cloud: "main", jobHint: "rn_f", body: other) == .ignored)
        #expect(await fixture.intake.handle(cloud: "main", jobHint: nil, body: other) == .ignored)
        #expect(try await fixture.store.job("rn_f")?.notifiedAt == nil)
    }

    @Test func nonMatchingOrForeignNotificationsAreIgnored() async throws {
        let fixture = try await Fixture()
        fixture.job("rn_1", from: "a", to: "b")
        let rename = ["notification_type": "rename", "from_public_id": "a", "to_public_id": "b"]
        #expect(await fixture.intake.handle(cloud: "other", jobHint: "rn_1", body: fixture.body(rename)) == .ignored)
        var wrongType = rename
        wrongType["resource_type"] = "video"
        #expect(await fixture.intake.handle(cloud: "main", jobHint: "rn_1", body: fixture.body(wrongType)) == .ignored)
        #expect(
            await fixture.intake.handle(cloud: "main", jobHint: "rn_1", body: fixture.body(["notification_type": "upload", "public_id": "a"]))
                == .ignored
        )
        #expect(
            await fixture.intake.handle(
                cloud: "main",
                jobHint: "rn_1",
                body: ["notification_type": .string("rename"), "from_public_id": .number(1), "to_public_id": .null]
            ) == .ignored
        )
        #expect(await fixture.intake.handle(cloud: "main", jobHint: nil, body: [:]) == .ignored)
        #expect(fixture.store.workingJob("rn_1")?.notifiedAt == nil)
    }

    @Test func replayCacheRemembersForItsRetention() {
        let cache = NotificationReplayCache(retentionSeconds: 60, capacity: 3)
        let now = Date()
        #expect(!cache.contains(timestamp: "1", signature: "a", now: now))
        cache.remember(timestamp: "1", signature: "a", now: now)
        #expect(cache.contains(timestamp: "1", signature: "a", now: now))
        #expect(!cache.contains(timestamp: "2", signature: "a", now: now))
        #expect(!cache.contains(timestamp: "1", signature: "a", now: now.addingTimeInterval(61)))
        for index in 0..<10 { cache.remember(timestamp: "t\(index)", signature: "s", now: now) }
        #expect(cache.count <= 3)
    }

    /// What `remember` journals (`timestamp:signature`) is what `restore` reads back after a restart.
    @Test func replayCacheRestoresWhatItJournaled() async throws {
        let storage = MemoryStorage()
        let now = Date()
        let sha1 = "0123456789abcdef0123456789abcdef01234567"
        let cache = NotificationReplayCache(retentionSeconds: 60, storage: storage)
        cache.remember(timestamp: "1700000000", signature: "ab12", now: now)  // not hex of digest length: hashed
        cache.remember(timestamp: "1700000000", signature: sha1, now: now)  // a real signature: kept compact
        let kept = try await storage.startupState(now: now).notifications
        #expect(Set(kept.map(\.key)) == ["1700000000:ab12", "1700000000:\(sha1)"])
        let restarted = NotificationReplayCache(retentionSeconds: 60)
        restarted.restore(kept)
        for signature in ["ab12", sha1, sha1.uppercased()] {
            #expect(restarted.contains(timestamp: "1700000000", signature: signature, now: now))
            #expect(!restarted.contains(timestamp: "1700000001", signature: signature, now: now))
            #expect(!restarted.contains(timestamp: "1700000000", signature: signature, now: now.addingTimeInterval(61)))
        }
        #expect(!restarted.contains(timestamp: "1700000000", signature: "ab13", now: now))
        #expect(!restarted.contains(timestamp: "1700000000", signature: "1" + sha1.dropFirst(), now: now))
    }
}
