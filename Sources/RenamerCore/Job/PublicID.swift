/// Cloudinary public-ID rules as the specification states them (SPEC §2).
public enum PublicID {
    static let forbidden: Set<Character> = ["?", "&", "#", "\\", "%", "<", ">", "+"]

    /// Why `value` is not a valid public ID, or nil when it is.
    public static func problem(_ value: String) -> String? {
        guard !value.isEmpty else { return "must not be empty" }
        guard value.count <= 255 else { return "must be at most 255 characters" }
        if let bad = value.first(where: forbidden.contains) { return "must not contain '\(bad)'" }
        if value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "must not contain control characters"
        }
        if value.hasPrefix("/") || value.hasSuffix("/") { return "must not start or end with '/'" }
        if let first = value.unicodeScalars.first, let last = value.unicodeScalars.last,
            first.properties.isWhitespace || last.properties.isWhitespace
        {
            return "must not start or end with whitespace"
        }
        return nil
    }
}
