/// RFC 3986 percent-encoding of UTF-8 text, byte by byte.
///
/// ASCII letters, digits and `-._~` are kept; every other byte (including each byte of a non-ASCII
/// character) becomes `%XX`.
public enum PercentEncoding {
    /// Also kept in a path segment (RFC 3986 `pchar`).
    public static let segmentCharacters: [UInt8] = Array("!$'()*,;=:@".utf8)
    /// A public ID as URL path segments: each `/`-separated segment escaped on its own (SPEC §10).
    public static func pathSegments(_ publicID: some StringProtocol) -> String {
        publicID.split(separator: "/", omittingEmptySubsequences: false).map { escape($0, keeping: segmentCharacters) }
            .joined(separator: "/")
    }

    /// `text` escaped, keeping the unreserved characters and `extra` (ASCII bytes).
    public static func escape(_ text: some StringProtocol, keeping extra: [UInt8] = []) -> String {
        var output = [UInt8]()
        output.reserveCapacity(text.utf8.count)
        escape(text, keeping: extra, into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// `text` escaped onto the end of `output`.
    public static func escape(_ text: some StringProtocol, keeping extra: [UInt8] = [], into output: inout [UInt8]) {
        let escaped: Void? = text.utf8.withContiguousStorageIfAvailable { escape($0, keeping: extra, into: &output) }
        if escaped == nil {
            var copy = String(text)
            copy.withUTF8 { escape($0, keeping: extra, into: &output) }
        }
    }

    /// Byte by byte through a pointer, with room made once for the worst case (every byte
    /// escaped): appending one byte at a time to the array checked its uniqueness and capacity
    /// each time, ~70 instructions per byte of a rename call's form (~300 bytes).
    static func escape(_ utf8: UnsafeBufferPointer<UInt8>, keeping extra: [UInt8], into output: inout [UInt8]) {
        let hex: StaticString = "0123456789ABCDEF"
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: 3 * utf8.count))
        let end = output.withUnsafeMutableBufferPointer { buffer in
            var end = start
            for byte in utf8 {
                if isUnreserved(byte) || (!extra.isEmpty && extra.contains(byte)) {
                    buffer[end] = byte
                    end += 1
                } else {
                    buffer[end] = UInt8(ascii: "%")
                    buffer[end + 1] = hex.utf8Start[Int(byte >> 4)]
                    buffer[end + 2] = hex.utf8Start[Int(byte & 0x0f)]
                    end += 3
                }
            }
            return end
        }
        output.removeLast(output.count - end)
    }

    /// RFC 3986 unreserved: letters, digits, `-`, `.`, `_`, `~`.
    @inline(__always)
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default: false
        }
    }
}
