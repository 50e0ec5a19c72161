/// Lowercase hexadecimal, the form every digest in the specification is written in.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Writes bytes as lowercase hex.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var utf8 = [UInt8]()
        utf8.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            utf8.append(digits[Int(byte >> 4)])
            utf8.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    /// Reads lowercase hex; returns nil for odd length or any other character (uppercase included).
    public static func decodeLowercase(_ string: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(string.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = value(utf8[index]), let low = value(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    /// True when every character is 0-9 or a-f.
    public static func isLowercaseHex(_ string: some StringProtocol) -> Bool {
        string.utf8.allSatisfy { value($0) != nil }
    }

    private static func value(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
