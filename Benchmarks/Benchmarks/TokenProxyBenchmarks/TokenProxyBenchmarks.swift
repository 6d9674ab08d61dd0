import Benchmark
import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import TokenProxyCA
import TokenProxyCore
import TokenProxyServer

// Micro-benchmarks of the proxy's per-request work. Malloc counts are deterministic, so their stored thresholds
// (Thresholds/, written by `benchmark thresholds update`) make an added allocation on the hot path fail
// `benchmark thresholds check`. Wall-clock and CPU numbers are printed for information only: they depend on the
// machine and on whatever else runs. Names have no spaces: the threshold files are looked up by name.
let benchmarks: @Sendable () -> Void = {
    let mallocTolerance = BenchmarkThresholds(relative: [.p50: 5.0, .p90: 5.0], absolute: [.p50: 2, .p90: 2])
    Benchmark.defaultConfiguration = .init(
        metrics: [.mallocCountTotal, .wallClock, .cpuTotal, .throughput],
        warmupIterations: 10,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 1_000,
        thresholds: [.mallocCountTotal: mallocTolerance]
    )
    let fixture = BenchmarkFixture.shared

    Benchmark("RuleMatchFirstOf12") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(fixture.store.rules.firstMatch(
                host: "api.example.com", port: 443, path: "/v1/items/42", method: "GET"
            ))
        }
    }

    Benchmark("RuleCoversUnmatchedHost") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(fixture.store.rules.covers(host: "unrelated.example.org", port: 443))
        }
    }

    Benchmark("InjectHeaderRule") { benchmark in
        for _ in benchmark.scaledIterations {
            var head = fixture.upstreamHead
            blackHole(HotPathProbe.inject(
                fixture.headerRule, secret: fixture.secret, placeholders: fixture.store.placeholders, head: &head
            ))
            blackHole(head)
        }
    }

    Benchmark("RequestHeadPrepare") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(HotPathProbe.prepareIntercepted(
                fixture.clientHead, authority: fixture.authority, store: fixture.store, limits: fixture.limits
            ))
        }
    }

    Benchmark(
        "RequestHeadParseAndPrepare",
        configuration: .init(scalingFactor: .kilo)
    ) { benchmark in
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(HTTPRequestDecoder()))
        defer { _ = try? channel.finish() }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try channel.writeInbound(fixture.clientBytes)
            guard case .head(let head) = try channel.readInbound(as: HTTPServerRequestPart.self) else {
                fatalError("the decoder produced no head")
            }
            _ = try channel.readInbound(as: HTTPServerRequestPart.self)  // .end
            blackHole(HotPathProbe.prepareIntercepted(
                head, authority: fixture.authority, store: fixture.store, limits: fixture.limits
            ))
        }
        benchmark.stopMeasurement()
    }

    Benchmark(
        "LeafMintP256",
        // Key and signature encodings vary in length, and so does the allocation count: a wider tolerance.
        configuration: .init(
            scalingFactor: .one, maxDuration: .seconds(3), maxIterations: 200,
            thresholds: [.mallocCountTotal: BenchmarkThresholds(relative: [.p50: 50.0, .p90: 50.0])]
        )
    ) { benchmark in
        for index in benchmark.scaledIterations {
            blackHole(try fixture.issuer.issue(for: "host\(index).example.com"))
        }
    }
}

/// The rules, credential and requests every benchmark shares, built once.
struct BenchmarkFixture: Sendable {
    static let shared = BenchmarkFixture()

    let store: CredentialStore
    let headerRule: Rule
    let secret = Secret("benchmark-canary-token-not-a-secret")
    let authority = HostPort(host: "api.example.com", port: 443)
    let limits = ProxyLimits()
    let issuer: LeafIssuer
    /// A typical SDK request as read from the client.
    let clientHead: HTTPRequestHead
    /// The same request after hop-by-hop removal, ready for injection.
    let upstreamHead: HTTPRequestHead
    let clientBytes: ByteBuffer

    init() {
        let location = SourceLocation(file: "benchmark.yaml")
        let template = try! InjectionTemplate("Bearer {{secret}}")
        var rules: [Rule] = []
        for index in 0..<11 {
            rules.append(Rule(
                index: index, host: try! HostPattern("api\(index).vendor\(index).com"), credential: "token",
                injection: .header(name: "Authorization", template: template), location: location
            ))
        }
        headerRule = Rule(
            index: 11, host: try! HostPattern("*.example.com"), path: try! PathPattern("/v1/**"),
            methods: ["GET", "POST"], credential: "token",
            injection: .header(name: "Authorization", template: template), location: location
        )
        rules.append(headerRule)
        store = CredentialStore(values: ["token": secret], rules: rules)
        let authority = try! CertificateAuthority.generate(paths: .init(directory: "/nonexistent-benchmark-ca"))
        issuer = LeafIssuer(authority: authority)
        let headers: HTTPHeaders = [
            "Host": "api.example.com", "User-Agent": "python-requests/2.32.3", "Accept-Encoding": "gzip, deflate",
            "Accept": "application/json", "Connection": "keep-alive", "Authorization": "Bearer placeholder",
            "X-Request-Id": "8f14e45f-ceea-467f-a0e6-0b1c2d3e4f50",
        ]
        clientHead = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/v1/items/42?limit=10", headers: headers)
        var upstream = clientHead
        upstream.headers.remove(name: "Connection")
        upstreamHead = upstream
        var text = "GET /v1/items/42?limit=10 HTTP/1.1\r\n"
        for header in headers { text += "\(header.name): \(header.value)\r\n" }
        clientBytes = ByteBuffer(string: text + "\r\n")
    }
}
