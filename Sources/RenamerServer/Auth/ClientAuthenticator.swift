import Foundation
import RenamerConfig
import RenamerCrypto

/// Finds the client behind `Authorization: Bearer <token>` (SPEC §2).
///
/// The token is hashed and its digest compared with every client's `token_sha256` in constant time,
/// without stopping at the first match, so timing reveals neither which client matched nor how much.
struct ClientAuthenticator: Sendable {
    let clients: [RenamerConfiguration.Client]

    init(_ configuration: RenamerConfiguration) {
        clients = configuration.clients.values.sorted { $0.name < $1.name }
    }

    /// The client for an `Authorization` header value, or nil.
    func client(authorization: String?) -> RenamerConfiguration.Client? {
        guard let authorization, authorization.utf8.count <= 4096 else { return nil }
        // `Bearer` in any case, spaces, the token (surrounding spaces and tabs are not part of it).
        let utf8 = Substring(authorization).utf8
        guard utf8.count > 7, zip(utf8, "bearer ".utf8).allSatisfy({ ASCII.lowercased($0) == $1 }) else { return nil }
        let token = Array(ASCII.trimmingBlanks(utf8.dropFirst(7)))
        guard !token.isEmpty else { return nil }
        let digest = Digest.hash(.sha256, token)
        var found: RenamerConfiguration.Client?
        for client in clients where ConstantTime.equals(client.tokenSHA256, digest) {
            found = client
        }
        return found
    }
}

/// Byte-level helpers for header values, which are ASCII by protocol.
enum ASCII {
    /// `A`–`Z` to `a`–`z`; every other byte unchanged.
    static func lowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }

    /// `bytes` without leading and trailing spaces and tabs.
    static func trimmingBlanks(_ bytes: Substring.UTF8View.SubSequence) -> Substring.UTF8View.SubSequence {
        let isBlank: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
        guard let start = bytes.firstIndex(where: { !isBlank($0) }), let end = bytes.lastIndex(where: { !isBlank($0) }) else {
            return bytes[bytes.endIndex...]
        }
        return bytes[start...end]
    }
}
