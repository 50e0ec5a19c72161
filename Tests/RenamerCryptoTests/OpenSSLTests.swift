import Testing

@testable import RenamerCrypto

@Suite("libcrypto primitives")
struct OpenSSLTests {
    @Test func sha1AndSHA256OfABC() throws {
        let vectors = try SignatureVectors.load().primitives
        #expect(Hex.encode(Digest.hash(.sha1, Array("abc".utf8))) == vectors.sha1_abc)
        #expect(Hex.encode(Digest.hash(.sha256, Array("abc".utf8))) == vectors.sha256_abc)
    }

    @Test func incrementalDigestEqualsOneShot() {
        var hasher = Digest.Hasher(.sha256)
        hasher.update(Array("a".utf8))
        hasher.update("bc")
        #expect(hasher.finalize() == Digest.hash(.sha256, Array("abc".utf8)))
    }

    @Test func hmacRFCVectors() throws {
        let vectors = try SignatureVectors.load().primitives
        let sha256 = vectors.hmac_sha256_rfc4231_case2
        #expect(Hex.encode(HMAC.authenticate(.sha256, key: Array(sha256.key.utf8), data: Array(sha256.data.utf8))) == sha256.hex)
        let sha1 = vectors.hmac_sha1_rfc2202_case2
        #expect(Hex.encode(HMAC.authenticate(.sha1, key: Array(sha1.key.utf8), data: Array(sha1.data.utf8))) == sha1.hex)
    }

    @Test func hmacWithEmptyKeyAndData() {
        // Expected value from Python's hmac module: hmac.new(b'', b'', hashlib.sha256).
        #expect(
            Hex.encode(HMAC.authenticate(.sha256, key: [UInt8](), data: [UInt8]()))
                == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"
        )
    }

    @Test func constantTimeEquals() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(ConstantTime.equals([UInt8](), [UInt8]()))
        #expect(ConstantTime.equals("token", "token"))
        #expect(!ConstantTime.equals("token", "tokeN"))
    }

    @Test func randomBytesDiffer() {
        let a = SecureRandom.bytes(count: 32)
        let b = SecureRandom.bytes(count: 32)
        #expect(a.count == 32)
        #expect(a != b)
        #expect(SecureRandom.hexToken(byteCount: 8).utf8.count == 16)
    }

    /// Identifiers come from a pool refilled 4 KiB at a time: every slice is handed out once, so
    /// ids drawn from several tasks across many refills never repeat; sizes are exact, and one too
    /// large for the pool is drawn directly.
    @Test func identifierBytesAreHandedOutOnce() async {
        let drawn = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<4 { group.addTask { (0..<2_000).map { _ in SecureRandom.identifierHex(byteCount: 6) } } }
            return await group.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(drawn.count == 8_000)
        #expect(Set(drawn).count == drawn.count)
        #expect(drawn.allSatisfy { $0.utf8.count == 12 })
        #expect(SecureRandom.identifierBytes(count: 0).isEmpty)
        #expect(SecureRandom.identifierBytes(count: 5_000).count == 5_000)
        #expect(Set((0..<100).map { _ in SecureRandom.identifierBytes(count: 16) }).count == 100)
    }

    @Test func hexRoundTripAndStrictness() {
        let bytes: [UInt8] = [0x00, 0x0f, 0xa0, 0xff]
        #expect(Hex.encode(bytes) == "000fa0ff")
        #expect(Hex.decodeLowercase("000fa0ff") == bytes)
        #expect(Hex.decodeLowercase("000FA0FF") == nil)
        #expect(Hex.decodeLowercase("abc") == nil)
        #expect(Hex.decodeLowercase("zz") == nil)
    }
}
