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
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        guard !token.isEmpty else { return nil }
        let digest = Digest.hash(.sha256, Array(token.utf8))
        var found: RenamerConfiguration.Client?
        for client in clients where ConstantTime.equals(client.tokenSHA256, digest) {
            found = client
        }
        return found
    }
}
