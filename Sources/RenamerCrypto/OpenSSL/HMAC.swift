import COpenSSL

/// Keyed message authentication (RFC 2104) through libcrypto's one-shot `HMAC()`.
public enum HMAC {
    /// The MAC of `data` under `key`.
    public static func authenticate(
        _ algorithm: DigestAlgorithm,
        key: some Collection<UInt8>,
        data: some Collection<UInt8>
    ) -> [UInt8] {
        // A trailing zero keeps base addresses non-null for empty keys and messages;
        // the lengths passed exclude it.
        let key = Array(key) + [0]
        let data = Array(data) + [0]
        var output = [UInt8](repeating: 0, count: algorithm.byteCount)
        var length: UInt32 = 0
        let result = key.withUnsafeBufferPointer { keyBuffer in
            data.withUnsafeBufferPointer { dataBuffer in
                output.withUnsafeMutableBufferPointer { outBuffer in
                    COpenSSL.HMAC(
                        algorithm.evpMD,
                        keyBuffer.baseAddress,
                        Int32(keyBuffer.count - 1),
                        dataBuffer.baseAddress,
                        dataBuffer.count - 1,
                        outBuffer.baseAddress,
                        &length
                    )
                }
            }
        }
        precondition(result != nil && Int(length) == algorithm.byteCount, "HMAC failed for \(algorithm)")
        return output
    }
}
