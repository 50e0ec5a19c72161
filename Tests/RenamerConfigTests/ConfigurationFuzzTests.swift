import Foundation
import PropertyBased
import Testing

@testable import RenamerConfig

/// Random values for every key, and random files: the loader accepts or names the bad key in one
/// line; it never crashes, hangs or lets a bad value through to a default.
@Suite("Configuration fuzzing")
struct ConfigurationFuzzTests {
    static let base = [
        "clouds.main.cloud_name": "demo", "clouds.main.api_key": "1", "clouds.main.api_secret": "s",
    ]
    static let keys = ConfigurationKeys.leafKeys.filter { !$0.hasSuffix("_file") && $0 != "clouds.*.url_env" }.sorted()
        .map { $0.replacingOccurrences(of: "clouds.*", with: "clouds.main").replacingOccurrences(of: "clients.*", with: "clients.c") }
    /// Values that stress parsing: numbers out of range, signs, exponents, lists, URLs, junk.
    static let value = Gen<Int>.value(in: 0...299).map { number -> Character in
        if number < 128 { return Character(UnicodeScalar(UInt8(number))) }
        let others = Array("0123456789-+.,eE:/_ ")
        return others[number % others.count]
    }.string(of: 0...24)

    @Test func randomOverridesAreAcceptedOrNamed() async {
        await propertyCheck(count: 300, input: Gen.element(of: Self.keys), Self.value) { key, value in
            guard let key else { return }
            var overrides = Self.base
            overrides[key] = value
            do {
                _ = try await ConfigurationLoader.load(.init(overrides: overrides))
            } catch let error as ConfigurationError {
                #expect(!error.description.isEmpty && !error.description.contains("\n"), "\(key)=\(value): \(error.description)")
                #expect(!error.key.isEmpty)
            } catch {
                Issue.record("not a ConfigurationError: \(error)")
            }
        }
    }

    @Test func randomFilesAreAcceptedOrNamed() async throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "config-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let yamlish = Gen<Int>.value(in: 0...199).map { number -> Character in
            if number < 128 { return Character(UnicodeScalar(UInt8(number))) }
            let others = Array("{}[]:,-#'\"\n  http port clouds main 9 &*!|>")
            return others[number % others.count]
        }.string(of: 0...200)
        await propertyCheck(count: 200, input: yamlish) { text in
            let file = directory.appending(path: "\(UUID().uuidString).yaml")
            try? Data(text.utf8).write(to: file)
            do {
                _ = try await ConfigurationLoader.load(.init(filePath: file.path, overrides: Self.base))
            } catch let error as ConfigurationError {
                #expect(!error.description.contains("\n"), "\(error.description)")
            } catch {
                Issue.record("not a ConfigurationError: \(error)")
            }
        }
    }
}
