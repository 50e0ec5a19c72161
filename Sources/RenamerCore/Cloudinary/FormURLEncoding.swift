/// `application/x-www-form-urlencoded` bodies as Cloudinary's API takes them.
public enum FormURLEncoding {
    /// Encodes fields sorted by name, each value UTF-8 percent-encoded (space as `%20`).
    public static func encode(_ fields: [String: String]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(fields.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count + 8 })
        for (index, field) in fields.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { output.append(UInt8(ascii: "&")) }
            PercentEncoding.escape(field.key, into: &output)
            output.append(UInt8(ascii: "="))
            PercentEncoding.escape(field.value, into: &output)
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes a form body; `+` is a space. Returns nil for invalid percent-encoding or UTF-8.
    public static func decode(_ body: String) -> [String: String]? {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = unescape(parts[0]) else { return nil }
            let value = parts.count > 1 ? unescape(parts[1]) : ""
            guard let value else { return nil }
            fields[name] = value
        }
        return fields
    }

    static func unescape(_ text: Substring) -> String? {
        var bytes = [UInt8]()
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            default:
                bytes.append(byte)
            }
        }
        return UTF8Text.string(bytes)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
