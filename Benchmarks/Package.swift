// swift-tools-version: 6.1
import PackageDescription

// tokenproxy's benchmarks, kept out of the root package so its build and `Scripts/test` are unaffected.
// `LoadGenerator` drives real TLS traffic (see `Benchmarks/run`); `TokenProxyBenchmarks` holds the micro-benchmarks
// run by `swift package benchmark` inside Benchmarks/, with malloc-count thresholds in `Thresholds/`.
let package = Package(
    name: "TokenProxyBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "tokenproxy", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        .executableTarget(
            name: "LoadGenerator",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "TokenProxyBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "TokenProxyCore", package: "tokenproxy"),
                .product(name: "TokenProxyCA", package: "tokenproxy"),
                .product(name: "TokenProxyServer", package: "tokenproxy"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            path: "Benchmarks/TokenProxyBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
