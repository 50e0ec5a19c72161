import Foundation
import RenamerCrypto
import Testing

@Suite("asset-renamer command line")
struct CommandLineTests {
    static let example = Products.packageRoot.appending(path: "config/asset-renamer.example.yaml").path

    @Test func checkConfigAcceptsTheExampleAndRedactsSecrets() async throws {
        let result = try await Subprocess.run("asset-renamer", ["check-config", "--config", Self.example])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("cloud main: cloud_name=demo"))
        #expect(result.stdout.contains("configuration OK"))
        #expect(!result.stdout.contains("emulator-secret"))
        #expect(!result.stdout.contains("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"))
        #expect(!result.stdout.contains("f01d2474fd375b4c5eb46064b550034167661b86322f1e1d3cb7645512a06607"))
    }

    @Test(arguments: [
        (["--set", "http.port=70000"], [String: String](), "http.port"),
        (["--set", "clouds.main.signature_algorithm=md5"], [:], "clouds.main.signature_algorithm"),
        (
            ["--set", "clouds.main.api_secret_file=/nonexistent/secret", "--set", "clouds.main.api_secret="], [:],
            "clouds.main.api_secret_file: cannot read file"
        ),
        ([], ["RENAMER_CLIENTS_CATALOG_TOKEN_SHA256": "not-hex"], "clients.catalog.token_sha256"),
        (["--set", "clients.other.clouds=main"], [:], "clients.other.token_sha256"),
        (["--set", "nonsense"], [:], "--set"),
    ])
    func badConfigurationExitsTwoWithOneLine(_ arguments: [String], _ environment: [String: String], _ key: String) async throws {
        let result = try await Subprocess.run(
            "asset-renamer",
            ["check-config", "--config", Self.example] + arguments,
            environment: environment
        )
        #expect(result.status == 2)
        let lines = result.stderr.split(whereSeparator: \.isNewline)
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(lines.first?.contains("configuration error: \(key)") == true, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func unreadableSecretFileIsNamed() async throws {
        let scratch = FileManager.default.temporaryDirectory.appending(path: "cli-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: scratch) }
        try Data("clouds: {main: {cloud_name: c, api_key: k, api_secret_file: /nonexistent/secret}}".utf8).write(to: scratch)
        let result = try await Subprocess.run("asset-renamer", ["check-config", "--config", scratch.path])
        #expect(result.status == 2)
        #expect(result.stderr.contains("clouds.main.api_secret_file: cannot read file /nonexistent/secret"))
    }

    @Test func missingConfigFileExitsTwo() async throws {
        let result = try await Subprocess.run("asset-renamer", ["check-config", "--config", "/nonexistent.yaml"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("config: cannot read file /nonexistent.yaml"))
    }

    @Test func hashTokenPrintsSHA256Hex() async throws {
        let result = try await Subprocess.run("asset-renamer", ["hash-token"], stdin: Data("secret".utf8))
        #expect(result.status == 0)
        #expect(result.stdout == Digest.sha256Hex(Array("secret".utf8)) + "\n")
        #expect(result.stdout == "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b\n")
        let withNewline = try await Subprocess.run("asset-renamer", ["hash-token"], stdin: Data("secret\n".utf8))
        #expect(withNewline.stdout == result.stdout)
        let empty = try await Subprocess.run("asset-renamer", ["hash-token"], stdin: Data())
        #expect(empty.status == 2)
    }
}
