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
