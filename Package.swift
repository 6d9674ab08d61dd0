// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "tokenproxy",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tokenproxy", targets: ["tokenproxy"]),
        .library(name: "TokenProxyCore", targets: ["TokenProxyCore"]),
        .library(name: "TokenProxyCA", targets: ["TokenProxyCA"]),
        .library(name: "TokenProxyServer", targets: ["TokenProxyServer"]),
        .library(name: "TokenProxyUsage", targets: ["TokenProxyUsage"]),
        .library(name: "TokenProxyScan", targets: ["TokenProxyScan"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .target(name: "CTokenProxySystem"),
        .target(
            name: "TokenProxyCore",
            dependencies: [
                "CTokenProxySystem",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "TokenProxyCA",
            dependencies: [
                "TokenProxyCore",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .target(
            name: "TokenProxyUsage",
            dependencies: [
                "TokenProxyCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "TokenProxyServer",
            dependencies: [
                "TokenProxyCore",
                "TokenProxyCA",
                "TokenProxyUsage",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]
        ),
        .target(name: "TokenProxyScan", dependencies: ["TokenProxyCore"]),
        .executableTarget(
            name: "tokenproxy",
            dependencies: [
                "TokenProxyCore",
                "TokenProxyCA",
                "TokenProxyServer",
                "TokenProxyUsage",
                "TokenProxyScan",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // What several test targets share (a seeded random generator); not part of any product.
        .target(name: "TokenProxyTestSupport", path: "Tests/TokenProxyTestSupport"),
        .testTarget(name: "TokenProxyCoreTests", dependencies: ["TokenProxyCore", "TokenProxyTestSupport"]),
        .testTarget(name: "TokenProxyCATests", dependencies: ["TokenProxyCA"]),
        .testTarget(name: "TokenProxyUsageTests", dependencies: ["TokenProxyUsage", "TokenProxyTestSupport"]),
        .testTarget(name: "TokenProxyScanTests", dependencies: ["TokenProxyScan", "TokenProxyCore"]),
        .testTarget(
            name: "TokenProxyServerTests",
            dependencies: [
                "TokenProxyServer",
                "TokenProxyTestSupport",
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "TokenProxyEndToEndTests",
            dependencies: [
                "tokenproxy",
                "TokenProxyCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
