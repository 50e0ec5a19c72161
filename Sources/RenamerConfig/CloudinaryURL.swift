import Foundation
import RenamerCrypto

/// The account settings in a `cloudinary://API_KEY:API_SECRET@CLOUD_NAME?options` URL, the form
/// Cloudinary's SDKs read from `CLOUDINARY_URL`.
///
/// Recognised query options: `upload_prefix` and `signature_algorithm` (`sha1` | `sha256`); others
/// are ignored, as the SDKs ignore options they do not use.
public struct CloudinaryURL: Sendable, Equatable {
    public var cloudName: String
    public var apiKey: String
    public var apiSecret: Secret
    public var uploadPrefix: String?
    public var signatureAlgorithm: DigestAlgorithm?

    /// Parses the URL; `key` names where it came from in the error.
    public init(parsing text: String, key: String) throws(ConfigurationError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        // Never echo the URL back: it holds the API secret.
        guard trimmed.hasPrefix("cloudinary://"), let components = URLComponents(string: trimmed) else {
            throw ConfigurationError(key, "must be cloudinary://API_KEY:API_SECRET@CLOUD_NAME")
        }
        guard let apiKey = components.percentEncodedUser.flatMap({ $0.removingPercentEncoding }), !apiKey.isEmpty else {
            throw ConfigurationError(key, "has no API key (cloudinary://API_KEY:API_SECRET@CLOUD_NAME)")
        }
        guard let apiSecret = components.percentEncodedPassword.flatMap({ $0.removingPercentEncoding }), !apiSecret.isEmpty
        else {
            throw ConfigurationError(key, "has no API secret (cloudinary://API_KEY:API_SECRET@CLOUD_NAME)")
        }
        guard let cloudName = components.host, !cloudName.isEmpty else {
            throw ConfigurationError(key, "has no cloud name (cloudinary://API_KEY:API_SECRET@CLOUD_NAME)")
        }
        self.cloudName = cloudName
        self.apiKey = apiKey
        self.apiSecret = Secret(apiSecret)
        for item in components.queryItems ?? [] {
            switch item.name {
            case "upload_prefix":
                uploadPrefix = item.value
            case "signature_algorithm":
                guard let value = item.value, let algorithm = DigestAlgorithm(rawValue: value) else {
                    throw ConfigurationError(key, "signature_algorithm must be sha1 or sha256")
                }
                signatureAlgorithm = algorithm
            default:
                continue
            }
        }
    }
}
