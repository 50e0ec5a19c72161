/// Cloudinary public-ID rules as the specification states them (SPEC §2).
public enum PublicID {
    static let forbiddenASCII: Set<UInt8> = Set("?&#\\%<>+".utf8)

    /// Why `value` is not a valid public ID, or nil when it is.
    public static func problem(_ value: String) -> String? {
        guard !value.isEmpty else { return "must not be empty" }
        switch asciiVerdict(value) {
        case .valid: return nil
        case .invalid(let problem): return problem
        case .undecided: return unicodeProblem(value)
        }
    }

    /// ``problem(_:)`` for any value, character by character (the one-pass ASCII check agrees).
    static func unicodeProblem(_ value: String) -> String? {
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

    private enum Verdict {
        case valid
        case invalid(String)
        /// Not ASCII (or not contiguous): the general path decides.
        case undecided
    }

    /// The same rules in one pass over the bytes of an ASCII value (nearly every public ID): the
    /// first rule `value` breaks, in the order ``problem(_:)`` checks them.
    private static func asciiVerdict(_ value: String) -> Verdict {
        value.utf8.withContiguousStorageIfAvailable { bytes -> Verdict in
            var forbidden: UInt8?
            var control = false
            var dotSegment = false
            var segmentStart = 0
            for (index, byte) in bytes.enumerated() {
                if byte >= 0x80 { return .undecided }
                if byte < 0x20 || byte == 0x7F { control = true }
                if forbidden == nil, forbiddenTable[Int(byte)] { forbidden = byte }
                if byte == UInt8(ascii: "/") {
                    dotSegment = dotSegment || isDots(bytes[segmentStart..<index])
                    segmentStart = index + 1
                }
            }
            dotSegment = dotSegment || isDots(bytes[segmentStart...])
            if bytes.count > 255 { return .invalid("must be at most 255 characters") }
            if let forbidden { return .invalid("must not contain '\(Character(Unicode.Scalar(forbidden)))'") }
            if control { return .invalid("must not contain control characters") }
            if bytes.first == UInt8(ascii: "/") || bytes.last == UInt8(ascii: "/") { return .invalid("must not start or end with '/'") }
            if dotSegment { return .invalid("must not contain '.' or '..' path segments") }
            // Control characters are refused above, so the only ASCII whitespace left is the space.
            if bytes.first == UInt8(ascii: " ") || bytes.last == UInt8(ascii: " ") {
                return .invalid("must not start or end with whitespace")
            }
            return .valid
        } ?? .undecided
    }

    /// `forbiddenASCII` as a table by byte, so the one-pass check hashes nothing.
    private static let forbiddenTable: [Bool] = (0..<128).map { forbiddenASCII.contains(UInt8($0)) }

    private static func isDots(_ segment: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        (segment.count == 1 || segment.count == 2) && segment.allSatisfy { $0 == UInt8(ascii: ".") }
    }
}
