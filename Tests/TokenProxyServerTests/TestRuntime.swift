import Logging
import NIOPosix
import TokenProxyCA
import TokenProxyCore

@testable import TokenProxyServer

/// A runtime with an in-memory CA, no rules unless given, and no recorder: enough to drive handlers in tests.
enum TestRuntime {
    static func make(rules: [Rule] = [], values: [String: Secret] = [:]) throws -> ProxyRuntime {
        let authority = try CertificateAuthority.generate(paths: .init(directory: "/nonexistent"))
        return ProxyRuntime(
            credentials: CredentialVault(store: CredentialStore(values: values, rules: rules), httpClient: nil),
            interceptionContexts: InterceptionContextCache(
                issuer: LeafIssuer(authority: authority), threadPool: NIOThreadPool.singleton, capacity: 4
            ),
            upstreamTLS: try ProxyRuntime.makeUpstreamTLS(extraRootsFile: nil),
            upstreamTLSHTTP1Only: try ProxyRuntime.makeUpstreamTLS(extraRootsFile: nil, protocols: ["http/1.1"]),
            limits: ProxyLimits(),
            recorder: nil,
            logger: Logger(label: "test")
        )
    }
}
