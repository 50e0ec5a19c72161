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
        let hex: StaticString = "0123456789ABCDEF"
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                output.append(byte)
            case _ where extra.contains(byte):
                output.append(byte)
            default:
                output.append(UInt8(ascii: "%"))
                output.append(hex.utf8Start[Int(byte >> 4)])
                output.append(hex.utf8Start[Int(byte & 0x0f)])
            }
        }
    }
}
