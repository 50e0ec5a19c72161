import COpenSSL

/// Cryptographically secure random bytes from libcrypto's `RAND_bytes`.
public enum SecureRandom {
    /// `count` random bytes.
    public static func bytes(count: Int) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return output }
        let ok = output.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32($0.count)) }
        precondition(ok == 1, "RAND_bytes failed: the random generator is not seeded")
        return output
    }

    /// A random identifier of `byteCount` bytes written in lowercase hex.
    public static func hexToken(byteCount: Int = 16) -> String {
        Hex.encode(bytes(count: byteCount))
    }
}
