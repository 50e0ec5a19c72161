import Foundation
import PropertyBased
import RenamerTestSupport
import Synchronization
import Testing

@testable import RenamerCore

/// ``JSONValue/parse(_:)`` against Foundation's `JSONDecoder` on generated input: the same values
/// for what both accept, and a rejection for everything `JSONDecoder` rejects.
@Suite("JSON parser")
struct JSONValueParseTests {
    /// Fragments that make valid and subtly invalid JSON when strung together.
    static let tokens: [[UInt8]] =
        [
            "{", "}", "[", "]", ",", ":", "\"a\"", "\"b\"", "\"\\u00e9\"", "\"\\ud83d\\ude00\"", "\"\\ud800\"", "\"\\udc00x\"",
            "\"\\/\\b\\f\\n\\r\\t\"", "\"\\x\"", "1", "-0.5e3", "0", "-", "01", "1.", "1e999", "2E-2", "true", "false", "null", "nul",
            " ", "\n", "\"x\\\"y\"", "\"\u{1}\"", "\"é😀\"", "\\", "\"", "{\"a\":1}", "[1,2]", "{\"a\":", "\"k\":", "1,",
        ].map { Array($0.utf8) } + [[0xFF], [0xC3], [0xE2, 0x82]]
    static let text = Gen<Int>.value(in: 0...(tokens.count - 1)).map { tokens[$0] }.array(of: 0...16).map { $0.flatMap { $0 } }

    @Test func agreesWithJSONDecoder() async {
        let accepted = Mutex(0)
        await propertyCheck(count: 3000, input: Self.text) { bytes in
            if (try? JSONValue.parse(bytes)) != nil { accepted.withLock { $0 += 1 } }
            #expect(Self.agree(bytes), "\(Self.describe(bytes))")
        }
        // The generator reaches both sides (about 3 % valid); `validTextsAndTheirMutations` covers
        // the valid side in depth.
        #expect(accepted.withLock { $0 } > 30)
    }

    /// Whether both parsers give the same answer, up to the documented differences (each found by
    /// these tests): `JSONDecoder` accepts a trailing comma (`[1,]`), ignores NUL bytes, keeps the
    /// first of duplicate member names and rejects numbers that underflow (`1e-400`); `JSONValue.parse`
    /// refuses the first three and reads the last as 0.
    static func agree(_ bytes: [UInt8]) -> Bool {
        let foundation = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        do {
            let ours = try JSONValue.parse(bytes)
            return ours == foundation || (foundation == nil && hasTinyExponent(bytes))
        } catch {
            return foundation == nil || error.reason == "duplicate member name" || hasTrailingComma(bytes) || bytes.contains(0)
        }
    }

    static func describe(_ bytes: [UInt8]) -> String {
        let ours = Result { () throws(JSONValue.ParseError) in try JSONValue.parse(bytes) }
        let foundation = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        return "\(String(decoding: bytes, as: UTF8.self).debugDescription): ours \(ours), Foundation \(String(describing: foundation))"
    }

    /// A comma followed (after whitespace) by `]` or `}`.
    static func hasTrailingComma(_ bytes: [UInt8]) -> Bool {
        let significant = bytes.filter { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }
        return zip(significant, significant.dropFirst()).contains { $0 == UInt8(ascii: ",") && ($1 == UInt8(ascii: "]") || $1 == UInt8(ascii: "}")) }
    }

    /// An exponent of -100 or below (`2E-2011`).
    static func hasTinyExponent(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        return text.range(of: "[eE]-0*[1-9][0-9]{2,}", options: .regularExpression) != nil
    }

    /// Whole numbers, read without `strtod` up to 15 digits, are exactly what `Double(text)` reads
    /// at every length and either sign, `-0` included.
    @Test func wholeNumbersReadAsDoubleReadsThem() throws {
        var random = TestRandom.generator()
        var texts = ["0", "-0", "7", "999999999999999", "-999999999999999", "1000000000000000", "9007199254740993", "12345678901234567890"]
        for _ in 0..<2000 {
            var text = Bool.random(using: &random) ? "-" : ""
            text += String(Int.random(in: 1...9, using: &random))
            for _ in 1..<Int.random(in: 1...20, using: &random) { text += String(Int.random(in: 0...9, using: &random)) }
            texts.append(text)
        }
        for text in texts {
            let parsed = try JSONValue.parse(Array("[\(text)]".utf8))
            let expected = try #require(Double(text))
            #expect(parsed == .array([.number(expected)]), "\(text)")
            guard case .array(let values) = parsed, case .number(let value)? = values.first else { continue }
            #expect(value.bitPattern == expected.bitPattern, "\(text)")
        }
    }

    @Test func duplicateMemberNamesAreRefused() {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array(#"{"k":1,"k":2}"#.utf8)) }
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array(#"[{"a":{"k":1,"k":1}}]"#.utf8)) }
        #expect((try? JSONValue.parse(Array(#"{"k":1,"K":2,"a":{"k":3}}"#.utf8))) != nil)
    }

    /// A random valid JSON text of bounded depth, from a seed.
    static func validJSON(_ seed: UInt64) -> String {
        var state = seed
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        func value(_ depth: Int) -> String {
            switch next(depth > 3 ? 6 : 8) {
            case 0: return "null"
            case 1: return next(2) == 0 ? "true" : "false"
            case 2: return ["0", "-1", "3.25", "1e10", "-2.5E-3", "12345678901234567890"][next(6)]
            case 3, 4, 5:
                return ["\"\"", "\"a b\"", "\"\\u00e9\\n\"", "\"\\ud83d\\ude00\"", "\"é/😀\"", "\"\\\"q\\\"\""][next(6)]
            case 6: return "[" + (0..<next(4)).map { _ in value(depth + 1) }.joined(separator: ",") + "]"
            default:
                return "{" + (0..<next(4)).map { index in " \"k\(index)\" : " + value(depth + 1) }.joined(separator: ",") + "}"
            }
        }
        return value(0)
    }

    @Test func validTextsAndTheirMutations() async {
        await propertyCheck(count: 1000, input: Gen<UInt64>.value(in: 0...UInt64.max), Gen<Int>.value(in: 0...1000), Gen<UInt8>.value(in: 0...255)) {
            seed,
            position,
            byte in
            let valid = Array(Self.validJSON(seed).utf8)
            let value = try? JSONValue.parse(valid)
            #expect(value != nil, "\(String(decoding: valid, as: UTF8.self))")
            #expect(value == (try? JSONDecoder().decode(JSONValue.self, from: Data(valid))))
            // One byte replaced: both parsers still agree.
            var mutated = valid
            mutated[position % mutated.count] = byte
            #expect(Self.agree(mutated), "\(Self.describe(mutated))")
        }
    }

    @Test func readsEveryKindOfValue() throws {
        let text = #" {"s":"a\"\\\/\u00e9\ud83d\ude00","n":-12.5e-1,"t":true,"f":false,"z":null,"a":[1,[],{}]} "#
        let value = try JSONValue.parse(Array(text.utf8))
        #expect(
            value
                == .object([
                    "s": .string("a\"\\/é😀"), "n": .number(-1.25), "t": .bool(true), "f": .bool(false), "z": .null,
                    "a": .array([.number(1), .array([]), .object([:])]),
                ])
        )
    }

    @Test func nestingIsBounded() {
        let deep = Array(String(repeating: "[", count: 10_000).utf8)
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(deep) }
        let fine = Array((String(repeating: "[", count: 60) + String(repeating: "]", count: 60)).utf8)
        #expect((try? JSONValue.parse(fine)) != nil)
    }
}
