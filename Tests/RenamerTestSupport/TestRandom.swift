import Foundation
import PropertyBased

/// Randomness for tests, from one printed seed.
///
/// A test that draws random inputs or moments takes them from ``generator(_:)``: the run's seed is
/// printed once (`test seed: N`), and `RENAMER_TEST_SEED=N swift test …` repeats the same draws.
/// Each test derives its own stream from the seed and its name, so the order in which tests run
/// does not change what each one draws.
public enum TestRandom {
    /// The run's seed: `RENAMER_TEST_SEED` when set, otherwise drawn and printed.
    public static let seed: UInt64 = {
        let given = ProcessInfo.processInfo.environment["RENAMER_TEST_SEED"].flatMap { UInt64($0) }
        let seed = given ?? UInt64.random(in: 1...UInt64.max)
        print("test seed: \(seed) (RENAMER_TEST_SEED=\(seed) repeats this run's random choices)")
        return seed
    }()

    /// A generator for the test named `name`, seeded from the run's seed (swift-property-based's
    /// xoshiro256**).
    public static func generator(_ name: String = #function) -> Xoshiro {
        // FNV-1a of the name, so that each test gets its own stream.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return Xoshiro(seed: (seed, hash, seed ^ hash, ~seed))
    }
}
