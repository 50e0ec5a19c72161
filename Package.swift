// swift-tools-version: 6.2

import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "asset-renamer",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "asset-renamer", targets: ["AssetRenamerCLI"]),
        .executable(name: "cloudinary-emulator", targets: ["CloudinaryEmulatorCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: ["JSON", "YAML"]),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // Tests only: property-based checks of the parsers and serializers with Swift Testing.
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    ],
    targets: [
        // C module over libcrypto (Debian: libssl-dev). Every digest, MAC and random byte goes through it.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // Digests, HMAC, constant-time compare, random bytes, and the three signature schemes.
        .target(
            name: "RenamerCrypto",
            dependencies: ["COpenSSL"],
            swiftSettings: swiftSettings
        ),
        // Configuration: defaults < file < RENAMER_* environment < flags, validated into typed settings.
        .target(
            name: "RenamerConfig",
            dependencies: [
                "RenamerCrypto",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // The domain: jobs and their state machine, the job store, the Dispatch-driven queue, retry policy,
        // and the Cloudinary seam. Knows nothing of HTTP servers.
        .target(
            name: "RenamerCore",
            dependencies: [
                "RenamerConfig",
                "RenamerCrypto",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // Outbound HTTP over AsyncHTTPClient: Cloudinary's Upload and Admin APIs, CDN probes, callbacks.
        .target(
            name: "RenamerOutbound",
            dependencies: [
                "RenamerConfig",
                "RenamerCore",
                "RenamerCrypto",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The SQLite journal (GRDB, WAL, group commit) behind the in-memory job store.
        .target(
            name: "RenamerJournal",
            dependencies: [
                "RenamerCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // PostgreSQL storage for several replicas (SPEC §12): leases, fenced writes, claims, takeover.
        .target(
            name: "RenamerPostgres",
            dependencies: [
                "RenamerConfig",
                "RenamerCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The HTTP daemon: Hummingbird application, operations endpoints, metrics, lifecycle.
        .target(
            name: "RenamerServer",
            dependencies: [
                "RenamerJournal",
                "RenamerPostgres",
                "RenamerOutbound",
                "RenamerConfig",
                "RenamerCore",
                "RenamerCrypto",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // A Cloudinary stand-in for tests, the demo, benchmarks and local development. Independent
        // of the daemon's modules but for the crypto it signs notifications with.
        .target(
            name: "CloudinaryEmulator",
            dependencies: [
                "RenamerCrypto",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "CloudinaryEmulatorCLI",
            dependencies: [
                "CloudinaryEmulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "AssetRenamerCLI",
            dependencies: [
                "CloudinaryEmulator",
                "RenamerCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                "RenamerConfig",
                "RenamerCrypto",
                "RenamerJournal",
                "RenamerServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Issue 17's floors: the HTTP stack alone (Hummingbird, bare SwiftNIO, AsyncHTTPClient) for
        // `Benchmarks/run.sh peers` and `e2e`.
        .executableTarget(
            name: "http-floor",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/HTTPFloor",
            swiftSettings: swiftSettings
        ),
        // Test support shared by the test targets: seeded randomness, blocking work off the
        // cooperative pool, the Python interop oracles, a manual clock. Ships in no product.
        .target(
            name: "RenamerTestSupport",
            dependencies: ["RenamerConfig", "RenamerCore", .product(name: "PropertyBased", package: "swift-property-based")],
            path: "Tests/RenamerTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RenamerCryptoTests",
            dependencies: ["RenamerCrypto"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RenamerCoreTests",
            dependencies: [
                "RenamerConfig", "RenamerCore", "RenamerCrypto", "RenamerTestSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RenamerJournalTests",
            dependencies: [
                "RenamerCore", "RenamerJournal", "RenamerTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RenamerPostgresTests",
            dependencies: [
                "RenamerConfig", "RenamerCore", "RenamerPostgres", "RenamerTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RenamerConfigTests",
            dependencies: ["RenamerConfig", "RenamerCrypto", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RenamerServerTests",
            dependencies: [
                "RenamerConfig", "RenamerCore", "RenamerCrypto", "RenamerServer",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        // Emulator and daemon on loopback ports, driven over HTTP.
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "CloudinaryEmulator",
                "RenamerJournal",
                .product(name: "GRDB", package: "GRDB.swift"),
                "RenamerConfig",
                "RenamerCore",
                "RenamerCrypto",
                "RenamerServer",
                "RenamerOutbound",
                "RenamerTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AssetRenamerCLITests",
            dependencies: [
                "RenamerCrypto",
                "RenamerServer",
                "RenamerTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
