import COpenSSL

/// Message digests computed by libcrypto's `EVP_Digest` family.
public enum Digest {
    /// Hashes `data` in one call.
    public static func hash(_ algorithm: DigestAlgorithm, _ data: some Collection<UInt8>) -> [UInt8] {
        var hasher = Hasher(algorithm)
        hasher.update(data)
        return hasher.finalize()
    }

    /// SHA-256 of `data`, as lowercase hex.
    public static func sha256Hex(_ data: some Collection<UInt8>) -> String {
        Hex.encode(hash(.sha256, data))
    }

    /// An incremental digest over several pieces, e.g. body + timestamp + secret without concatenating.
    ///
    /// A value type holding one `EVP_MD_CTX`; use it from one thread and call ``finalize()`` once.
    public struct Hasher: ~Copyable {
        private let context: OpaquePointer
        private let algorithm: DigestAlgorithm

        public init(_ algorithm: DigestAlgorithm) {
            guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed: out of memory") }
            guard EVP_DigestInit_ex2(context, algorithm.evpMD, nil) == 1 else {
                fatalError("EVP_DigestInit_ex2 failed for \(algorithm)")
            }
            self.context = context
            self.algorithm = algorithm
        }

        deinit { EVP_MD_CTX_free(context) }

        /// Feeds bytes into the digest.
        public mutating func update(_ data: some Collection<UInt8>) {
            let done = data.withContiguousStorageIfAvailable { buffer in
                _ = EVP_DigestUpdate(context, buffer.baseAddress, buffer.count)
            }
            if done == nil {
                let copy = Array(data)
                copy.withUnsafeBufferPointer { _ = EVP_DigestUpdate(context, $0.baseAddress, $0.count) }
            }
        }

        /// Feeds the UTF-8 bytes of a string into the digest.
        public mutating func update(_ string: String) {
            var string = string
            string.withUTF8 { update($0) }
        }

        /// Returns the digest and releases the context.
        public consuming func finalize() -> [UInt8] {
            var output = [UInt8](repeating: 0, count: algorithm.byteCount)
            var length: UInt32 = 0
            output.withUnsafeMutableBufferPointer { buffer in
                guard EVP_DigestFinal_ex(context, buffer.baseAddress, &length) == 1 else {
                    fatalError("EVP_DigestFinal_ex failed for \(algorithm)")
                }
            }
            precondition(Int(length) == algorithm.byteCount)
            return output
        }
    }
}
