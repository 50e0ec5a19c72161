import Foundation

/// The few wire formats the emulator reads and writes, written independently of the daemon's own
/// encoders (with Foundation), so that a bug in the daemon's encoding is not mirrored here.
enum WireFormats {
    /// An `application/x-www-form-urlencoded` body (`+` is a space); nil for invalid percent-encoding.
    static func formFields(_ body: String) -> [String: String]? {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = parts[0].replacingOccurrences(of: "+", with: " ").removingPercentEncoding,
                let value = (parts.count > 1 ? String(parts[1]) : "").replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            else { return nil }
            fields[name] = value
        }
        return fields
    }

    /// The fields of an Admin API body: a JSON object if `contentType` says JSON (strings as they are,
    /// numbers and booleans as text, nulls left out), form-urlencoded otherwise; nil if unreadable.
    static func bodyFields(_ body: String, contentType: String?) -> [String: String]? {
        guard contentType?.lowercased().contains("json") == true else { return formFields(body) }
        if body.allSatisfy(\.isWhitespace) { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else { return nil }
        var fields: [String: String] = [:]
        for (name, value) in object {
            switch value {
            case let text as String: fields[name] = text
            case is NSNull: continue
            case let number as NSNumber: fields[name] = number.stringValue
            default: return nil
            }
        }
        return fields
    }

    /// An HTTP-date (`Wed, 03 Jul 2024 15:00:00 GMT`), rounded up to the second, as
    /// `X-FeatureRateLimit-Reset` carries it.
    static func httpDate(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "GMT") ?? calendar.timeZone
        let rounded = Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.up))
        let parts = calendar.dateComponents([.weekday, .day, .month, .year, .hour, .minute, .second], from: rounded)
        let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int?) -> String {
            let value = value ?? 0
            return value < 10 ? "0\(value)" : "\(value)"
        }
        return "\(weekdays[((parts.weekday ?? 1) - 1) % 7]), \(two(parts.day)) \(months[((parts.month ?? 1) - 1) % 12]) \(parts.year ?? 1970) "
            + "\(two(parts.hour)):\(two(parts.minute)):\(two(parts.second)) GMT"
    }

    /// A listing cursor: the last public ID of a page, base64url without padding (safe in a query
    /// even if the client does not encode it).
    static func cursor(after publicID: String) -> String {
        Data(publicID.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The public ID a ``cursor(after:)`` carries; nil if it is not one.
    static func publicID(fromCursor cursor: String) -> String? {
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        guard let data = Data(base64Encoded: base64) else { return nil }
        return String(data: data, encoding: .utf8)
    }

    /// `2026-11-30T10:00:00Z`, as Cloudinary's notifications carry it.
    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle())
    }

    /// A public ID as a URL path: each `/`-separated segment percent-encoded.
    static func path(_ publicID: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/;")
        return publicID.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.addingPercentEncoding(withAllowedCharacters: allowed) ?? String($0) }.joined(separator: "/")
    }
}
