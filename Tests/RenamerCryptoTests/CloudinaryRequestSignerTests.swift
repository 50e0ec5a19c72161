import Foundation
import Testing

@testable import RenamerCrypto

@Suite("Cloudinary API request signing")
struct CloudinaryRequestSignerTests {
    @Test(arguments: try SignatureVectors.load().cloudinary_request_signatures)
    func vector(_ vector: SignatureVectors.CloudinaryRequest) throws {
        let version = try #require(CloudinaryRequestSigner.SignatureVersion(rawValue: vector.signature_version))
        let algorithm = try #require(DigestAlgorithm(rawValue: vector.algorithm))
        #expect(CloudinaryRequestSigner.stringToSign(vector.params, version: version) == vector.string_to_sign)
        let signer = CloudinaryRequestSigner(apiSecret: vector.api_secret, algorithm: algorithm, version: version)
        #expect(signer.signature(for: vector.params) == vector.signature)
    }

    /// The byte-built string to sign against the string-built one it replaced (each field as
    /// `key=value`, `&` escaped in v2, the fields sorted as strings and joined) on generated
    /// parameters: keys that prefix one another (`a`, `a-b`, `a_b`), values with `&`, `=`, non-ASCII
    /// and empty ones.
    @Test func bytesToSignMatchTheStringForm() {
        func reference(_ parameters: [String: String], _ version: CloudinaryRequestSigner.SignatureVersion) -> String {
            parameters.filter { !$0.value.isEmpty }
                .map { "\($0.key)=\(version == .v2 ? $0.value.replacingOccurrences(of: "&", with: "%26") : $0.value)" }
                .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
                .joined(separator: "&")
        }
        let keys = ["a", "a-b", "a_b", "ab", "b", "timestamp", "notification_url"]
        let values = ["", "1", "x&y", "&", "a=b", "é&ü", "https://h/x?cloud=c&job=rn_1"]
        // Every subset of the keys, each with a value that shifts with the subset.
        for subset in 0..<(1 << keys.count) {
            var parameters: [String: String] = [:]
            for (index, key) in keys.enumerated() where subset & (1 << index) != 0 {
                parameters[key] = values[(subset + index) % values.count]
            }
            for version in CloudinaryRequestSigner.SignatureVersion.allCases {
                #expect(CloudinaryRequestSigner.stringToSign(parameters, version: version) == reference(parameters, version), "\(parameters)")
            }
        }
        #expect(CloudinaryRequestSigner.stringToSign(["a": "1", "a-b": "2"], version: .v2) == "a-b=2&a=1")
    }

    @Test func emptyValuesAreDropped() {
        let params = ["from_public_id": "a", "to_type": "", "timestamp": "1"]
        #expect(CloudinaryRequestSigner.stringToSign(params, version: .v2) == "from_public_id=a&timestamp=1")
    }

    @Test func validationIgnoresUnsignedParameters() {
        let signer = CloudinaryRequestSigner(apiSecret: "s3cret", algorithm: .sha256)
        let signed = ["from_public_id": "a", "to_public_id": "b", "timestamp": "1735689600"]
        let signature = signer.signature(for: signed)
        var sent = signed
        sent["api_key"] = "123"
        sent["signature"] = signature
        sent["resource_type"] = "image"
        sent["cloud_name"] = "demo"
        #expect(signer.isValid(signature: signature, for: sent))
        sent["to_public_id"] = "c"
        #expect(!signer.isValid(signature: signature, for: sent))
    }

    @Test func wrongSecretOrAlgorithmFails() {
        let params = ["from_public_id": "a", "to_public_id": "b", "timestamp": "1"]
        let good = CloudinaryRequestSigner(apiSecret: "s3cret", algorithm: .sha256).signature(for: params)
        #expect(!CloudinaryRequestSigner(apiSecret: "other", algorithm: .sha256).isValid(signature: good, for: params))
        #expect(!CloudinaryRequestSigner(apiSecret: "s3cret", algorithm: .sha1).isValid(signature: good, for: params))
        #expect(!CloudinaryRequestSigner(apiSecret: "s3cret", algorithm: .sha256).isValid(signature: good.uppercased(), for: params))
    }
}
