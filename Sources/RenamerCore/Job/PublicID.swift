/// Cloudinary public-ID rules as the specification states them (SPEC §2).
public enum PublicID {
    static let forbiddenASCII: Set<UInt8> = Set("?&#\\%<>+".utf8)

    /// Why `value` is not a valid public ID, or nil when it is.
    public static func problem(_ value: String) -> String? {
        guard !value.isEmpty else { return "must not be empty" }
        // Characters, as the specification counts them; the UTF-8 length bounds it from above.
        guard value.utf8.count <= 255 || value.count <= 255 else { return "must be at most 255 characters" }
        if let bad = value.unicodeScalars.first(where: { $0.isASCII && forbiddenASCII.contains(UInt8($0.value)) }) {
            return "must not contain '\(bad)'"
        }
        if value.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) {
            return "must not contain control characters"
        }
        if value.hasPrefix("/") || value.hasSuffix("/") { return "must not start or end with '/'" }
        // `.` and `..` would change the meaning of the delivery and Admin API URLs the ID goes into
        // (and `%2E` is the same character to a server), so they are refused rather than escaped.
        if value.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == "." || $0 == ".." }) {
            return "must not contain '.' or '..' path segments"
        }
        if let first = value.unicodeScalars.first, let last = value.unicodeScalars.last,
            first.properties.isWhitespace || last.properties.isWhitespace
        {
            return "must not start or end with whitespace"
        }
        return nil
    }
}
