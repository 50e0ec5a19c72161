/// Text from UTF-8 bytes that must be valid, without the standard library's generic path.
///
/// `String(validating:as:)` is not specialized for the caller: every call looked up the type
/// metadata of `Optional`, `UnsafeBufferPointer` and `Unicode.ParseResult` at run time, ~1,500
/// instructions per string, ~3 % of the daemon's instructions end to end (the JSON parser makes
/// ~125 strings per job). `String(decoding:as:)` on a buffer is specialized and validates as it
/// copies; it replaces each invalid sequence with U+FFFD, so the bytes were valid exactly when
/// the text's UTF-8 is the same bytes.
enum UTF8Text {
    /// `bytes` as a `String`, or nil when they are not valid UTF-8.
    static func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        var ascii: UInt8 = 0
        for byte in bytes { ascii |= byte }
        if ascii < 0x80 { return text }
        return text.utf8.elementsEqual(bytes) ? text : nil
    }

    static func string(_ bytes: [UInt8]) -> String? {
        bytes.withUnsafeBufferPointer { string($0) }
    }
}
