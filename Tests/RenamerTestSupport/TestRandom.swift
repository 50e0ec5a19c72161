import Foundation

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

    /// A generator for the test named `name`, seeded from the run's seed.
    public static func generator(_ name: String = #function) -> SeededGenerator {
        // FNV-1a of the name, so that each test gets its own stream.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return SeededGenerator(seed: seed ^ hash)
    }
}

/// SplitMix64: small, fast and good enough to choose test inputs; not for secrets.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
