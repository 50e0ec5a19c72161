import Foundation
import PropertyBased
import Testing

@testable import RenamerCore

/// ``JSONWriter`` against Foundation: what it writes decodes to the same job, for any strings.
@Suite("JSON writer")
struct JSONWriterTests {
    /// Characters JSON treats specially (quotes, backslash, every control character, DEL) mixed
    /// with ordinary and non-ASCII ones, including a multi-scalar emoji and U+2028.
    static let character = Gen<Int>.value(in: 0...299).map { number -> Character in
        if number < 128 { return Character(UnicodeScalar(UInt8(number))) }
        let others: [Character] = ["a", "Z", "/", "é", "€", "中", "😀", "👨‍👩‍👧", "\u{2028}", "\u{FEFF}"]
        return others[number % others.count]
    }
    static let text = character.string(of: 0...24)
    static let moment = Gen<Double>.value(in: 0...4_102_444_800).map { Date(timeIntervalSince1970: $0) }

    static func job(_ from: String, _ reference: String?, _ message: String, _ url: String?, _ now: Date) -> RenameJob {
        var job = RenameJob.fixture(from: from, to: from + "→", callbackURL: url, clientReference: reference, attempts: 3, now: now)
        job.status = .failed
        job.completedAt = now.addingTimeInterval(61.5)
        job.error = .init(code: "cloudinary_error", message: message, cloudinaryStatus: 400)
        job.result = .init(publicID: from, version: nil, secureURL: url)
        job.invalidation = .init(status: .confirmed, method: .probe, confirmedAt: now)
        job.callback.lastStatus = 500
        return job
    }

    @Test func jobsDecodeToWhatJSONEncoderWrote() async {
        await propertyCheck(input: Self.text, Self.text.optional, Self.text, Self.text.optional, Self.moment) { from, reference, message, url, now in
            let job = Self.job(from, reference, message, url, now)
            let written = JSONWriter.encode(job)
            let decoder = JSONDecoder()
            let ours = try? decoder.decode(RenameJob.self, from: Data(written))
            let foundation = try? decoder.decode(RenameJob.self, from: JSONEncoder().encode(job))
            #expect(ours != nil, "not valid JSON: \(String(decoding: written, as: UTF8.self))")
            #expect(ours == foundation)
            #expect(ours?.fromPublicID == from && ours?.clientReference == reference && ours?.error?.message == message)
            // Strict JSON as any parser sees it: no raw control characters, no stray escapes.
            #expect((try? JSONSerialization.jsonObject(with: Data(written))) != nil)
        }
    }

    /// Base64 as a JSON string that decodes to the bytes: every length modulo 3, every byte.
    @Test func base64MatchesFoundation() async {
        await propertyCheck(count: 500, input: Gen<UInt8>.value(in: 0...255).array(of: 0...70)) { bytes in
            var json = JSONWriter()
            json.base64(bytes)
            #expect(json.bytes == Array("\"\(Data(bytes).base64EncodedString())\"".utf8), "\(bytes)")
            let decoded = (try? JSONValue.parse(json.bytes))?.stringValue.flatMap { Data(base64Encoded: $0) }
            #expect(decoded.map(Array.init) == bytes, "\(bytes)")
        }
    }

    @Test func escapesAsRFC8259Requires() {
        var json = JSONWriter()
        json.string("a\"b\\c/d\u{0}\u{1F}\n\t\u{7F}é")
        #expect(String(decoding: json.bytes, as: UTF8.self) == #""a\"b\\c/d\u0000\u001f\n\t"# + "\u{7F}é\"")
    }

    @Test func pagesAndNullsHaveTheAPIShape() throws {
        struct Page: JSONWritable {
            var items: [RenameJob]
            func write(to json: inout JSONWriter) {
                json.object { json in
                    json.key("items")
                    json.array(items)
                    json.field("next", nil as String?)
                    json.field("count", items.count)
                    json.field("empty", items.isEmpty)
                }
            }
        }
        let page = Page(items: [.fixture(id: "rn_1"), .fixture(id: "rn_2")])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(JSONWriter.encode(page))) as? [String: Any])
        #expect((object["items"] as? [[String: Any]])?.map { $0["id"] as? String } == ["rn_1", "rn_2"])
        #expect(object["next"] is NSNull)
        #expect(object["count"] as? Int == 2)
        #expect(object["empty"] as? Bool == false)
    }

    /// Integers as Swift prints them, the extremes included.
    @Test func integersMatchTheirDescription() async {
        await propertyCheck(count: 500, input: Gen<Int>.value(in: Int.min...Int.max)) { value in
            var json = JSONWriter()
            json.int(value)
            #expect(json.bytes == Array(String(value).utf8))
        }
        for value in [0, -1, 9, 10, Int.max, Int.min] {
            var json = JSONWriter()
            json.int(value)
            #expect(json.bytes == Array(String(value).utf8))
        }
    }

    /// The buffer grows past its first capacity without losing or reordering bytes, and a single
    /// write larger than the whole buffer fits too.
    @Test func growsPastItsCapacity() throws {
        var json = JSONWriter(capacity: 1)
        let long = String(repeating: "x", count: 5000)
        json.array(0..<300) { index, json in
            json.object { json in
                json.field("index", index)
                json.field("text", index == 150 ? long : "t\(index)")
            }
        }
        let items = try #require(try JSONSerialization.jsonObject(with: Data(json.bytes)) as? [[String: Any]])
        #expect(items.count == 300)
        #expect(items.enumerated().allSatisfy { $0.element["index"] as? Int == $0.offset })
        #expect(items[150]["text"] as? String == long)
        #expect(items[299]["text"] as? String == "t299")
    }

    @Test func rfc3339MatchesFoundationToTheSecond() async {
        await propertyCheck(count: 500, input: Self.moment) { date in
            let whole = Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
            #expect(RFC3339.string(date) == whole.formatted(Date.ISO8601FormatStyle()))
            #expect(RFC3339.date(RFC3339.string(date)) == whole)
        }
    }
}
