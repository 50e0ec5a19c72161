import PropertyBased
import Testing

@testable import RenamerCore

/// ``UTF8Text`` against the standard library's `String(validating:as:)`: the same text for valid
/// UTF-8, nil for everything else.
@Suite("UTF-8 text")
struct UTF8TextTests {
    /// Bytes that make valid and invalid UTF-8 when strung together: ASCII, lead bytes of every
    /// length, continuation bytes, overlong and surrogate forms, and bytes that never occur.
    static let fragments: [[UInt8]] = [
        [0x61], [0x7F], [0x00], [0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0xEF, 0xBF, 0xBD],
        [0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0x80], [0xBF], [0xC0, 0x80], [0xE0, 0x80, 0x80],
        [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF8], [0xFF],
    ]
    static let bytes = Gen<Int>.value(in: 0...(fragments.count - 1)).map { fragments[$0] }.array(of: 0...12).map { $0.flatMap { $0 } }

    @Test func agreesWithTheStandardLibrary() async {
        await propertyCheck(count: 5000, input: Self.bytes) { bytes in
            #expect(UTF8Text.string(bytes) == String(validating: bytes, as: UTF8.self), "\(bytes)")
        }
    }

    @Test func examples() {
        #expect(UTF8Text.string(Array("plain".utf8)) == "plain")
        #expect(UTF8Text.string(Array("é😀€".utf8)) == "é😀€")
        #expect(UTF8Text.string([]) == "")
        // U+FFFD itself is valid text; a truncated sequence the decoder would replace by one U+FFFD
        // (same length as the input) is not.
        #expect(UTF8Text.string([0xEF, 0xBF, 0xBD]) == "\u{FFFD}")
        #expect(UTF8Text.string([0xF0, 0x9F, 0x98]) == nil)
        #expect(UTF8Text.string([0x61, 0xC3]) == nil)
        #expect(UTF8Text.string([0xC0, 0x80]) == nil)
        #expect(UTF8Text.string([0xED, 0xA0, 0x80]) == nil)
    }
}
