import Foundation
import Testing

@testable import RenamerConfig

/// The operator's documents cover every key the loader understands (issue "ready to deploy").
@Suite("Configuration documentation")
struct DocumentationTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func read(_ path: String) throws -> String {
        try String(contentsOf: repository.appending(path: path), encoding: .utf8)
    }

    /// `clouds.*.invalidation.method` → `invalidation.method`: how the README table and the example
    /// file name a key below a cloud or client.
    static func documentedName(_ key: String) -> String {
        let components = key.split(separator: ".")
        return components.first == "clouds" || components.first == "clients" ? components.dropFirst(2).joined(separator: ".") : key
    }

    @Test(arguments: ConfigurationKeys.leafKeys.sorted())
    func everyKeyIsInTheReadmeAndTheExampleFile(_ key: String) throws {
        let readme = try Self.read("README.md")
        let configuration = try #require(readme.range(of: "## Configuration")).upperBound
        let section = String(readme[configuration...]).components(separatedBy: "\n## ").first ?? ""
        let example = try Self.read("config/asset-renamer.example.yaml")
        let name = Self.documentedName(key)
        let leaf = String(name.split(separator: ".").last!)
        if key.hasSuffix("_file") {
            // Documented as `<key>`(`_file`) in the README; shown with a path in the example file.
            let base = String(leaf.dropLast("_file".count))
            #expect(section.contains("\(base)`(`_file`)") || section.contains("`\(leaf)`"), "README does not mention \(key)")
            #expect(ConfigurationKeys.secretKeys.contains(String(key.dropLast("_file".count))))
        } else {
            #expect(section.contains(leaf), "README configuration section does not mention \(key)")
            #expect(example.contains("\(leaf):"), "config/asset-renamer.example.yaml does not show \(key)")
        }
    }

    @Test(arguments: ConfigurationKeys.secretKeys.sorted())
    func everySecretHasAFileForm(_ key: String) {
        #expect(ConfigurationKeys.leafKeys.contains(key + "_file"))
    }
}
