import Foundation
import RenamerTestSupport
import Testing

@testable import RenamerCore

@Suite("Job model")
struct JobModelTests {
    @Test func legalTransitions() {
        let legal: Set<String> = [
            "queued→renaming", "queued→cancelled", "queued→failed", "renaming→confirming_invalidation", "renaming→completed",
            "renaming→failed", "confirming_invalidation→completed",
            // Asset updates and folder renames (SPEC §11).
            "queued→updating", "updating→completed", "updating→failed",
            "queued→listing", "listing→renaming", "listing→completed", "listing→failed",
        ]
        for from in JobStatus.allCases {
            for to in JobStatus.allCases {
                #expect(from.canMove(to: to) == legal.contains("\(from.rawValue)→\(to.rawValue)"), "\(from) → \(to)")
            }
        }
        #expect(JobStatus.allCases.filter(\.isFinal) == [.completed, .failed, .cancelled])
    }

    /// An asset update runs `queued → updating → completed` without invalidation, and its callback
    /// event says what it is (SPEC §11).
    @Test func assetUpdatesMoveThroughUpdating() throws {
        var job = RenameJob.fixture(invalidate: false)
        job.id = "au_" + String(job.id.dropFirst(3))
        job.toPublicID = job.fromPublicID
        job.update = .init(assetFolder: "shop/new", displayName: nil)
        job.callback = .init(url: "https://example.test/hook", status: .pending, attempts: 0, lastStatus: nil)
        #expect(job.kind == .assetUpdate)
        try job.startRenaming()
        #expect(job.status == .updating)
        try job.countAttempt()
        try job.renamed(.init(publicID: job.fromPublicID, version: 2, secureURL: nil, assetFolder: "shop/new", displayName: "a"), at: Date())
        #expect(job.status == .completed)
        #expect(job.invalidation.status == .notRequested)
        let event = try #require(job.callbackEvent)
        let body = try JSONValue.parse(event.body)
        #expect(body["type"]?.stringValue == "asset_update.completed")
        #expect(body["data"]?["asset_folder"]?.stringValue == "shop/new")
        #expect(body["data"]?["result"]?["asset_folder"]?.stringValue == "shop/new")
        #expect(body["data"]?["from_public_id"] == nil)
        // It survives storage as it was.
        let stored = try StoredJob.read(StoredJob.encode(job))
        #expect(JSONWriter.encode(stored) == JSONWriter.encode(job))
        #expect(stored.update == job.update)
        #expect(stored.kind == .assetUpdate)
    }

    @Test func jobKindsComeFromTheIDPrefix() {
        #expect(JobKind(id: "rn_0a") == .rename)
        #expect(JobKind(id: "au_0a") == .assetUpdate)
        #expect(JobKind(id: "fr_0a") == .folderRename)
        #expect(JobKind(id: "bt_0a") == .batch)
        #expect(JobKind(id: "xx") == .rename)
        for kind in JobKind.allCases { #expect(JobKind(id: kind.idPrefix + "1") == kind) }
    }

    @Test(arguments: [
        "products/123", "a", "été/photo 1", "folder/a b", String(repeating: "x", count: 255), "a..b/c.d", "...", "a/.b/c..",
    ])
    func validPublicIDs(_ id: String) {
        #expect(PublicID.problem(id) == nil)
    }

    @Test(arguments: [
        "", String(repeating: "x", count: 256), "a?b", "a&b", "a#b", "a\\b", "a%b", "a<b", "a>b", "a+b", "/a", "a/", " a", "a ",
        "a\u{0}b", "a\nb", "\ta", ".", "..", "./a", "a/..", "a/../b", "x/../../../hooks/escape1", "a/./b",
    ])
    func invalidPublicIDs(_ id: String) {
        #expect(PublicID.problem(id) != nil)
    }

    /// Ids are the prefix and 24 hex digits; one made later sorts later (the journal's id index
    /// grows at its right edge), and two made in the same millisecond differ.
    @Test func idsSortByCreationTime() throws {
        let start = Date(timeIntervalSince1970: 1_795_000_000.123)
        var previous = ""
        for step in 0..<100 {
            let id = JobKind.rename.newID(at: start.addingTimeInterval(Double(step) * 0.002))
            #expect(id.wholeMatch(of: /rn_[0-9a-f]{24}/) != nil)
            #expect(id > previous)
            previous = id
        }
        let sameMoment = Set((0..<1000).map { _ in JobKind.batch.newID(at: start) })
        #expect(sameMoment.count == 1000)
        #expect(sameMoment.allSatisfy { $0.hasPrefix("bt_01a1ee565e7b") })
    }

    /// The one-pass check of ASCII public IDs says what the character-by-character one says.
    @Test func asciiFastPathAgreesWithTheGeneralRules() {
        var random = TestRandom.generator("asciiFastPathAgreesWithTheGeneralRules")
        let alphabet = Array("ab./ .?&#\\%<>+\u{1}\u{7F}\té")
        var invalid = 0
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...8, using: &random)
            let id = String((0..<length).map { _ in alphabet.randomElement(using: &random)! })
            #expect(PublicID.problem(id) == PublicID.unicodeProblem(id), "\(id.debugDescription)")
            if PublicID.problem(id) != nil { invalid += 1 }
        }
        let long = String(repeating: "x", count: 256)
        #expect(PublicID.problem(long) == PublicID.unicodeProblem(long))
        #expect(invalid > 0 && invalid < 20_000)
    }

    @Test func jobJSONHasEveryFieldWithExplicitNulls() throws {
        let date = Date(timeIntervalSince1970: 1_795_000_000)
        let job = RenameJob(
            id: "rn_1",
            client: "catalog",
            status: .queued,
            cloud: "main",
            fromPublicID: "a",
            toPublicID: "b",
            resourceType: .image,
            type: .upload,
            toType: nil,
            overwrite: false,
            invalidate: true,
            clientReference: nil,
            attempts: 0,
            createdAt: date,
            updatedAt: date,
            completedAt: nil,
            result: nil,
            invalidation: .init(status: .pending, method: .probe, confirmedAt: nil),
            error: nil,
            callback: .init(url: nil, status: .none, attempts: 0, lastStatus: nil)
        )
        let data = try JSONEncoder().encode(job)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let expected: Set<String> = [
            "id", "status", "cloud", "from_public_id", "to_public_id", "resource_type", "type", "to_type", "overwrite", "invalidate",
            "client_reference", "attempts", "created_at", "updated_at", "completed_at", "result", "invalidation", "error", "callback",
        ]
        #expect(Set(object.keys) == expected)
        #expect(object["client"] == nil)
        #expect(object["to_type"] is NSNull)
        #expect(object["created_at"] as? String == "2026-11-18T11:06:40Z")
        #expect((object["invalidation"] as? [String: Any])?["confirmed_at"] is NSNull)
        #expect((object["callback"] as? [String: Any])?["last_status"] is NSNull)
        var decoded = try JSONDecoder().decode(RenameJob.self, from: data)
        decoded.client = "catalog"
        #expect(decoded == job)
    }

    /// The fast timestamp reader agrees with the formatter on what the writer writes, and leaves
    /// everything else to it.
    @Test func wholeSecondTimestampsReadBackExactly() {
        var random = TestRandom.generator()
        for _ in 0..<2000 {
            let date = Date(timeIntervalSince1970: Double(Int64.random(in: -2_000_000_000...7_000_000_000, using: &random)))
            let text = RFC3339.string(date)
            #expect(text == date.formatted(Date.ISO8601FormatStyle()))
            #expect(RFC3339.wholeSeconds(text) == date, "\(text)")
            var json = JSONWriter()
            json.object { $0.field("at", date as Date?) }
            #expect(String(decoding: json.bytes, as: UTF8.self) == #"{"at":"\#(text)"}"#)
            #expect(RFC3339.wholeSeconds(text) == (try? Date.ISO8601FormatStyle().parse(text)))
        }
        for text in [
            "2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01 00:00:00Z", "2026-01-01T00:00:00+00:00", "x",
        ] {
            #expect(RFC3339.wholeSeconds(text) == nil, "\(text)")
        }
        #expect(RFC3339.wholeSeconds("2024-02-29T23:59:59Z") == Date(timeIntervalSince1970: 1_709_251_199))
    }

    @Test func formEncodingRoundTrips() {
        let fields = ["from_public_id": "folder/a&b ünï+=%", "notification_url": "http://h/x?cloud=main&job=rn_1"]
        let encoded = FormURLEncoding.encode(fields)
        #expect(!encoded.contains(" "))
        #expect(FormURLEncoding.decode(encoded) == fields)
        // Sorted by name, `&` between fields, each name and value escaped byte by byte.
        #expect(FormURLEncoding.encode(["b": "x y", "a": "1&2", "a_": "é"]) == "a=1%262&a_=%C3%A9&b=x%20y")
        #expect(FormURLEncoding.encode([:]) == "")
        #expect(FormURLEncoding.decode("a=b+c&d=%41") == ["a": "b c", "d": "A"])
        #expect(FormURLEncoding.decode("a=%zz") == nil)
    }

    @Test func percentEncodingIsByteWiseAndASCIIOnly() {
        #expect(PercentEncoding.escape("a-b._~Z9") == "a-b._~Z9")
        // Non-ASCII letters are escaped too (Foundation's `.alphanumerics` would keep them).
        #expect(PercentEncoding.escape("café/x y&") == "caf%C3%A9%2Fx%20y%26")
        #expect(PercentEncoding.pathSegments("a/b:c@d é") == "a/b:c@d%20%C3%A9")
        #expect(PercentEncoding.pathSegments("été/a b/c") == "%C3%A9t%C3%A9/a%20b/c")
        #expect(PercentEncoding.escape("a/b", keeping: PercentEncoding.segmentCharacters) == "a%2Fb")
    }

    /// The pointer-based escaping against a plain reading of RFC 3986 on generated text (ASCII
    /// punctuation, controls, 2- to 4-byte characters), from a `String` and a `Substring`.
    @Test func percentEncodingMatchesTheDefinition() {
        func reference(_ text: String, keeping extra: [UInt8]) -> String {
            let unreserved = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~".utf8)
            return text.utf8.map { unreserved.contains($0) || extra.contains($0) ? String(UnicodeScalar($0)) : String(format: "%%%02X", $0) }
                .joined()
        }
        var random = TestRandom.generator()
        let scalars = Array(" !\"#$%&'()*+,/:;=?@[]\u{0}\u{1F}\u{7F}aZ09-._~é€😀".unicodeScalars)
        for _ in 0..<500 {
            let picked = (0..<Int.random(in: 0...40, using: &random)).map { _ in scalars.randomElement(using: &random)! }
            let text = String(String.UnicodeScalarView(picked))
            for extra in [[], PercentEncoding.segmentCharacters] {
                #expect(PercentEncoding.escape(text, keeping: extra) == reference(text, keeping: extra), "\(text.debugDescription)")
                #expect(PercentEncoding.escape(("x" + text).dropFirst(), keeping: extra) == reference(text, keeping: extra))
            }
        }
    }

    @Test func assetKeysCoverSourceAndTarget() {
        let job = RenameJob.fixture(from: "a", to: "b", resourceType: .video)
        #expect(
            Array(JobQueue.Entry(job).keys) == [
                .init(cloud: "main", resourceType: .video, publicID: "a"), .init(cloud: "main", resourceType: .video, publicID: "b"),
            ]
        )
        #expect(Array(JobQueue.Entry(RenameJob.fixture(from: "a", to: "a")).keys).count == 1)
    }
}
