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
