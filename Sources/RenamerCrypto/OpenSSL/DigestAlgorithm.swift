import COpenSSL

/// A hash function offered by libcrypto.
public enum DigestAlgorithm: String, Sendable, CaseIterable {
    case sha1
    case sha256

    /// Length of the digest in bytes.
    public var byteCount: Int {
        switch self {
        case .sha1: 20
        case .sha256: 32
        }
    }

    /// Length of the digest written as hex.
    public var hexCount: Int { byteCount * 2 }

    /// The algorithm whose hex digest has `hexCount` characters, if any.
    public init?(hexCount: Int) {
        guard let algorithm = Self.allCases.first(where: { $0.hexCount == hexCount }) else { return nil }
        self = algorithm
    }

    /// The libcrypto message digest, fetched once per process.
    var evpMD: OpaquePointer {
        switch self {
        case .sha1: fetchedSHA1
        case .sha256: fetchedSHA256
        }
    }
}

// Explicit fetches avoid libcrypto's per-call implicit fetch. EVP_MD objects are immutable and
// safe to share between threads once fetched.
nonisolated(unsafe) private let fetchedSHA1: OpaquePointer = fetchDigest("SHA1")
nonisolated(unsafe) private let fetchedSHA256: OpaquePointer = fetchDigest("SHA256")

private func fetchDigest(_ name: String) -> OpaquePointer {
    guard let md = EVP_MD_fetch(nil, name, nil) else {
        fatalError("libcrypto has no \(name) digest; the OpenSSL installation is broken")
    }
    return md
}
